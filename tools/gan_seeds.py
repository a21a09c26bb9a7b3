"""Regenerate the 3-seed table of the GAN mode-coverage chapter.

Trains the plain GAN and the book's best model (``helpers.gan.PLAIN``, ``helpers.gan.BEST``) on
the ring and the grid for seeds 0, 1, 2 and writes modes, HQ and reverse KL with the published
protocol to ``helpers/results/gan_mode_coverage_seeds.json`` (package data:
``helpers.results.load("gan_mode_coverage_seeds")``).

    .venv/bin/python tools/gan_seeds.py            # all 12 runs
    .venv/bin/python tools/gan_seeds.py --jobs 4   # in parallel processes
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

import torch

from helpers import results
from helpers._runtime import machine_fingerprint, seed_offset

OUT = results.source_path("gan_mode_coverage_seeds")


def _one(job: tuple[str, str, int]) -> dict:
    from helpers import gan

    torch.set_num_threads(1)
    recipe_name, dataset, seed = job
    recipe = {"plain": gan.PLAIN, "best": gan.BEST}[recipe_name]
    t0 = time.process_time()
    res = gan.fit_benchmark(recipe, dataset, seed, progress=False)
    row = {"model": recipe_name, "recipe": recipe.name, "dataset": dataset, "seed": seed,
           "modes": res.coverage.modes_captured, "hq": res.coverage.hq_fraction, "reverse_kl": res.coverage.reverse_kl,
           "raw_modes": res.raw_coverage.modes_captured, "raw_hq": res.raw_coverage.hq_fraction,
           "raw_reverse_kl": res.raw_coverage.reverse_kl, "acceptance": res.acceptance,
           "hq_reverse_kl": res.coverage.hq_reverse_kl, "hq_width": res.coverage.hq_width,
           "raw_hq_reverse_kl": res.raw_coverage.hq_reverse_kl, "raw_hq_width": res.raw_coverage.hq_width,
           "cpu_seconds": round(time.process_time() - t0, 1)}
    row = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}  # JSON has no NaN
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    if seed_offset():
        parser.error("unset GM4S_SEED: the table's seeds are the ones it names")
    from helpers import gan

    jobs = [(m, d, s) for m in ("plain", "best") for d in ("ring", "grid") for s in args.seeds]
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            rows = list(pool.map(_one, jobs))
    else:
        rows = [_one(j) for j in jobs]
    result = {"protocol": "2,500 samples; HQ within 3 std of the nearest mode; a mode is captured by at least "
                          "one HQ sample (VEEGAN, PacGAN); reverse_kl = KL(histogram of all samples at their "
                          "nearest modes || uniform), hq_reverse_kl = the same over HQ samples only "
                          "(PacGAN's code); hq_width = RMS distance of HQ samples to their mode / the data's",
              "recipes": {"plain": asdict(gan.PLAIN), "best": asdict(gan.BEST)},
              "torch": torch.__version__, "machine": platform.machine(),
              "fingerprint": machine_fingerprint(), "rows": rows}
    print(f"wrote {results.write('gan_mode_coverage_seeds', result, args.out)}")


if __name__ == "__main__":
    main()
