"""Regenerate the 3-seed table of the GAN mode-coverage chapter.

Trains the plain GAN and the book's best model (``helpers.gan.PLAIN``, ``helpers.gan.BEST``) on
the ring and the grid for seeds 0, 1, 2 and writes modes, HQ and reverse KL with the published
protocol to ``chapters/data/gan_mode_coverage_seeds.json``.

    .venv/bin/python tools/gan_seeds.py            # all 12 runs
    .venv/bin/python tools/gan_seeds.py --jobs 4   # in parallel processes
"""

from __future__ import annotations

import argparse
import json
import platform
import pprint
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

import torch

from helpers._runtime import machine_fingerprint, seed_offset

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "chapters" / "data" / "gan_mode_coverage_seeds.json"
GAN_PY = ROOT / "helpers" / "gan.py"


def write_seed_table(result: dict, path: Path = GAN_PY) -> None:
    """Replace the SEED_TABLE block of helpers/gan.py with ``result`` (so Colab finds it too)."""
    text = path.read_text()
    block = "SEED_TABLE: dict = " + pprint.pformat(result, width=95, sort_dicts=False) + "\n"
    start, end = text.find("SEED_TABLE: dict = "), text.find("# END SEED TABLE")
    if start < 0 or end < start:
        raise RuntimeError(f"no SEED TABLE block in {path}")
    path.write_text(text[:start] + block + text[end:])


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
           "cpu_seconds": round(time.process_time() - t0, 1)}
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
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {"protocol": "2,500 samples; HQ within 3 std of the nearest mode; a mode is captured by at least "
                          "one HQ sample (VEEGAN, PacGAN); reverse_kl = KL(mode histogram || uniform)",
              "recipes": {"plain": asdict(gan.PLAIN), "best": asdict(gan.BEST)},
              "torch": torch.__version__, "machine": platform.machine(),
              "fingerprint": machine_fingerprint(), "rows": rows}
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    write_seed_table(json.loads(json.dumps(result)))
    print(f"wrote {args.out} and the SEED_TABLE of {GAN_PY}")


if __name__ == "__main__":
    main()
