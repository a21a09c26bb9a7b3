"""Regenerate the extra seeds of the comparison chapter (``chapters/16_comparison.ipynb``).

Trains the VAE, the GAN, the flow and the diffusion model of ``helpers.compare`` on the 25-mode
grid and the two moons, with the chapter's budget, for the given seeds (default 1 and 2; the
chapter trains seed 0 live), scores every run with ``helpers.compare.evaluate`` and writes the
rows to ``helpers/results/comparison_seeds.json`` (package data, so that the numbers ship inside
the ``helpers`` wheel and load anywhere, Colab included: ``helpers.results.load("comparison_seeds")``).

    .venv/bin/python tools/comparison_seeds.py              # seeds 1 and 2, 16 runs, one process
    .venv/bin/python tools/comparison_seeds.py --jobs 4     # four processes (one thread each)
    .venv/bin/python tools/comparison_seeds.py --seeds 0 1 2 3 4
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

from helpers import results
from helpers._runtime import machine_fingerprint, seed_offset

OUT = results.source_path("comparison_seeds")
DATASETS = ("grid", "moons")


def _one(job: tuple[str, str, int]) -> dict:
    import torch

    from helpers import compare

    torch.set_num_threads(1)
    family, dataset, seed = job
    t0 = time.process_time()
    _, scores = compare.run(family, dataset, compare.CHAPTER_BUDGET, seed=seed, progress=False)
    row = scores.as_dict()
    row["cpu_seconds"] = round(time.process_time() - t0, 1)
    row = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    if seed_offset():
        parser.error("unset GM4S_SEED: the stored seeds are the ones the rows name")
    import torch

    from helpers import compare

    jobs = [(f, d, s) for d in DATASETS for f in compare.FAMILIES for s in args.seeds]
    t0 = time.perf_counter()
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            rows = list(pool.map(_one, jobs))
    else:
        rows = [_one(j) for j in jobs]
    result = {"budget": asdict(compare.CHAPTER_BUDGET), "seeds": args.seeds, "torch": torch.__version__,
              "machine": platform.machine(), "processor": platform.processor(),
              "fingerprint": machine_fingerprint(),
              "wall_seconds": round(time.perf_counter() - t0, 1), "rows": rows}
    results.write("comparison_seeds", result, args.out)
    print(f"wrote {args.out} ({len(rows)} runs)")


if __name__ == "__main__":
    main()
