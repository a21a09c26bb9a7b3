"""`make robust`: do the chapters' claims hold on every seed? Execute each notebook for seeds 0-4.

Every notebook runs once per seed with ``GM4S_SEED`` set (``helpers.seed_for`` shifts every seed
of the book by 1000 per step), and the notebooks that fit models side by side
(``helpers.parallel.map_fits``) run once more with ``GM4S_SEQUENTIAL=1``. A run does not stop at a
failing cell: every assert cell is executed and reported. The script writes
``bench/robust.json`` and ``bench/robust.md``: which assert cells passed on which run, for every
recorded metric its minimum, median and maximum over the runs beside its reference, and whether
the sequential run recorded exactly the numbers of the parallel run of the same seed.

A floating-point difference between two CPUs changes a chaotic training run as a new seed does,
so five seeds stand for five readers' machines. To use both cores of a small machine, most runs go
two at a time, each pinned to one core with one thread (a thread count is one more such
difference; on one core ``map_fits`` takes its sequential path). Only the first seed of a
parallel notebook runs alone, on every core, with worker processes; its ``GM4S_SEQUENTIAL=1`` run
goes on one core like the rest, and since every run computes on one thread, the two can be
compared number for number. Wall times here are therefore not the budget times of ``make bench``.

Usage: python tools/robust.py [--seeds 0 1 2 3 4] [--nb 07 15] [--jobs 2] [--out bench]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from helpers.record import _fmt  # noqa: E402

PARALLEL_MARK = "map_fits("  # a notebook that calls it fits in worker processes


def notebooks(selectors: list[str], folder: Path = ROOT / "chapters") -> list[Path]:
    """Every notebook of ``folder``, or those whose name starts with one of ``selectors`` ("07", "15_vae")."""
    every = sorted(folder.glob("*.ipynb"))
    if not selectors:
        return every
    chosen = [p for p in every if any(p.name.startswith(s) for s in selectors)]
    unknown = [s for s in selectors if not any(p.name.startswith(s) for p in every)]
    if unknown:
        raise SystemExit(f"robust: no notebook in {folder} starts with {', '.join(unknown)}")
    return chosen


def is_parallel(path: Path) -> bool:
    return PARALLEL_MARK in path.read_text()


def run_one(path: Path, seed: int, sequential: bool, core: int | None, timeout: int,
            run_limit: int = 2700, retries: int = 1) -> dict:
    """One notebook, one seed, in a child process (so its environment and pinning are its own).

    A run that takes longer than ``run_limit`` seconds in all is killed and started again, up to
    ``retries`` times: under load a kernel can stall (nbclient waiting on a reply that never comes),
    which is no property of the chapter. The seconds lost are kept in the row's ``stalled_s``.
    """
    env = dict(os.environ, GM4S_SEED=str(seed))
    env.pop("GM4S_SEQUENTIAL", None)
    if sequential:
        env["GM4S_SEQUENTIAL"] = "1"
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")  # every run on one thread (map_fits: per worker)
    code = (
        "import json, os, sys; from pathlib import Path; sys.path.insert(0, sys.argv[1] + '/tools');"
        + (f"os.sched_setaffinity(0, {{{core}}});" if core is not None else "")
        + "import bench; row = bench.run_notebook(Path(sys.argv[2]), int(sys.argv[3]), allow_errors=True);"
        "print('ROBUST-ROW ' + json.dumps(row))"
    )
    name = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
    stalls = []
    for _ in range(1 + retries):
        start = time.perf_counter()
        # its own process group, so that a stalled run's kernel dies with it
        proc = subprocess.Popen([sys.executable, "-c", code, str(ROOT), str(path), str(timeout)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                start_new_session=True)
        try:
            out, err = proc.communicate(timeout=run_limit)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            stalls.append(round(time.perf_counter() - start))
            continue
        lines = [ln for ln in out.splitlines() if ln.startswith("ROBUST-ROW ")]
        if lines:
            row = json.loads(lines[-1][len("ROBUST-ROW "):])
        else:
            tail = (err or out).strip().splitlines()[-1:] or ["no output"]
            row = {"notebook": name, "status": "error", "error": tail[0],
                   "wall_s": round(time.perf_counter() - start, 2), "peak_rss_mib": 0.0, "metrics": [],
                   "asserts": []}
        break
    else:
        row = {"notebook": name, "status": "error", "error": f"stalled: over {run_limit} s, {1 + retries} times",
               "wall_s": float(sum(stalls)), "peak_rss_mib": 0.0, "metrics": [], "asserts": []}
    row.update(seed=seed, sequential=sequential, pinned=core is not None, stalled_s=stalls)
    return row


def run_label(row: dict) -> str:
    return f"seed {row['seed']}" + (", sequential" if row["sequential"] else "")


def summarise(rows: list[dict]) -> dict:
    """Per notebook: assert cells x runs, and min / median / max of each recorded metric."""
    out: dict[str, dict] = {}
    for row in rows:
        nb = out.setdefault(row["notebook"], {"runs": [], "asserts": {}, "metrics": {}})
        label = run_label(row)
        nb["runs"].append({"run": label, "status": row["status"], "error": row["error"], "wall_s": row["wall_s"],
                           "stalled_s": row.get("stalled_s", [])})
        for c in row["asserts"]:
            nb["asserts"].setdefault(str(c["cell"]), {})[label] = c["error"] or "pass"
        for m in row["metrics"]:
            slot = nb["metrics"].setdefault(m["name"], {"reference": m["reference"], "unit": m["unit"], "values": {}})
            slot["values"][label] = m["value"]
    for nb in out.values():
        for slot in nb["metrics"].values():
            v = list(slot["values"].values())
            slot.update(min=min(v), median=statistics.median(v), max=max(v), n=len(v))
        nb["paths_agree"] = paths_agree(nb)
    return out


def paths_agree(nb: dict) -> dict[str, list[str]]:
    """Per seed with a sequential run: the metrics it recorded differently from the parallel run.

    Timings (unit "s") are left out: they differ by nature. An empty list: the same numbers.
    """
    out = {}
    for seq in [r["run"] for r in nb["runs"] if r["run"].endswith(", sequential")]:
        par = seq.removesuffix(", sequential")
        out[par] = [name for name, slot in nb["metrics"].items() if slot["unit"] != "s"
                    and slot["values"].get(par) != slot["values"].get(seq)]
    return out


def to_markdown(summary: dict, meta: dict) -> str:
    lines = ["# Robustness over seeds (make robust)", "",
             f"{meta['date']}, {meta['cpus']} cores, seeds {meta['seeds']}, wall time {meta['wall_min']:.1f} min.", "",
             "| notebook | runs | every assert passed | failing (cell: runs) |", "| --- | ---: | --- | --- |"]
    for name, nb in summary.items():
        failing = []
        for cell, by_run in nb["asserts"].items():
            bad = [r for r, v in by_run.items() if v != "pass"]
            if bad:
                failing.append(f"cell {cell}: {', '.join(bad)}")
        errors = [r["run"] for r in nb["runs"] if r["status"] != "ok"]
        ok = not failing and not errors
        lines.append(f"| {name} | {len(nb['runs'])} | {'yes' if ok else '**no**'} | "
                     f"{'; '.join(failing) or ('errors: ' + ', '.join(errors) if errors else '')} |")
    lines += ["", "## Failures", ""]
    any_fail = False
    for name, nb in summary.items():
        for cell, by_run in nb["asserts"].items():
            for run, v in by_run.items():
                if v != "pass":
                    any_fail = True
                    lines.append(f"- {name}, cell {cell}, {run}: `{v}`")
        for r in nb["runs"]:
            if r["status"] != "ok" and not any(r["run"] in by for by in nb["asserts"].values()):
                any_fail = True
                lines.append(f"- {name}, {r['run']}: `{r['error']}`")
    if not any_fail:
        lines.append("None: every assert cell passed on every run.")
    restarted = [(name, r) for name, nb in summary.items() for r in nb["runs"] if r.get("stalled_s")]
    if restarted:
        lines += ["", "## Runs restarted after a stall", ""]
        lines += [f"- {Path(name).stem}, {r['run']}: killed after {', '.join(f'{t} s' for t in r['stalled_s'])}"
                  for name, r in restarted]
    agree = [(name, seed, diff) for name, nb in summary.items() for seed, diff in nb["paths_agree"].items()]
    if agree:
        lines += ["", "## Parallel and sequential runs of the same seed", "",
                  "| notebook | seed | same recorded numbers (timings aside) |", "| --- | --- | --- |"]
        lines += [f"| {Path(name).stem} | {seed} | {'yes' if not diff else '**no**: ' + ', '.join(diff)} |"
                  for name, seed, diff in agree]
    lines += ["", "## Recorded metrics over the runs", "",
              "| notebook | metric | min | median | max | runs | reference |",
              "| --- | --- | ---: | ---: | ---: | ---: | --- |"]
    for name, nb in summary.items():
        for metric, s in nb["metrics"].items():
            unit = f" {s['unit']}" if s["unit"] else ""
            ref = "" if s["reference"] is None else _fmt(s["reference"])
            lines.append(f"| {Path(name).stem} | {metric} | {_fmt(s['min'])}{unit} | {_fmt(s['median'])}{unit} | "
                         f"{_fmt(s['max'])}{unit} | {s['n']} | {ref} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--nb", nargs="*", default=[], help="notebook name prefixes, e.g. 07 15 (default: all)")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks run side by side, one core each")
    parser.add_argument("--no-sequential", action="store_true", help="skip the GM4S_SEQUENTIAL=1 runs")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds one cell may take")
    parser.add_argument("--run-limit", type=int, default=2700, help="seconds one notebook run may take in all")
    parser.add_argument("--retries", type=int, default=1, help="restarts of a run that passed --run-limit")
    parser.add_argument("--out", type=Path, default=ROOT / "bench")
    parser.add_argument("--chapters", type=Path, default=ROOT / "chapters", help="where the notebooks are")
    args = parser.parse_args(argv)
    if any(s < 0 for s in args.seeds) or args.jobs < 1:
        parser.error("seeds must be non-negative and --jobs positive")
    paths = notebooks(args.nb, args.chapters)
    first = args.seeds[0]
    heavy = [(p, first, False) for p in paths if is_parallel(p)]  # alone: map_fits runs its workers
    light = [(p, first, True) for p in paths if is_parallel(p) and not args.no_sequential]
    light += [(p, s, False) for s in args.seeds for p in paths if not (s == first and is_parallel(p))]
    total, done, rows = len(heavy) + len(light), 0, []
    start = time.perf_counter()

    def report(row: dict) -> None:
        nonlocal done
        done += 1
        bad = [f"{c['cell']}: {c['error']}" for c in row["asserts"] if not c["passed"]]
        status = "ok" if row["status"] == "ok" else f"FAILED ({'; '.join(bad) or row['error']})"
        print(f"robust [{done}/{total}, {(time.perf_counter() - start) / 60:.1f} min] "
              f"{Path(row['notebook']).stem} {run_label(row)}: {status} in {row['wall_s']:.0f} s", flush=True)
        rows.append(row)
        write(rows, partial=True)

    cores = sorted(os.sched_getaffinity(0))

    def write(rows: list[dict], partial: bool) -> dict:
        """Both files, after every run (``partial``: marked so in the Markdown) and at the end."""
        ordered = sorted(rows, key=lambda r: (r["notebook"], r["sequential"], r["seed"]))
        meta = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpus": len(cores), "seeds": args.seeds,
                "wall_min": (time.perf_counter() - start) / 60, "runs_done": len(rows), "runs_planned": total}
        summary = summarise(ordered)
        args.out.mkdir(parents=True, exist_ok=True)
        doc = {"meta": meta, "runs": ordered, "summary": summary}
        (args.out / "robust.json").write_text(json.dumps(doc, indent=1) + "\n")
        md = to_markdown(summary, meta)
        if partial:
            md = md.replace("\n", f"\n\n**Partial: {len(rows)} of {total} runs so far.**\n", 1)
        (args.out / "robust.md").write_text(md)
        return meta
    for p, s, seq in heavy:  # all cores
        report(run_one(p, s, seq, None, args.timeout, args.run_limit, args.retries))
    jobs = max(1, min(args.jobs, len(cores)))
    free = list(cores[:jobs])

    def pinned(job: tuple[Path, int, bool]) -> dict:
        core = free.pop()
        try:
            return run_one(*job, core if jobs > 1 else None, args.timeout, args.run_limit, args.retries)
        finally:
            free.append(core)

    with ThreadPoolExecutor(jobs) as pool:
        for future in as_completed([pool.submit(pinned, job) for job in light]):
            report(future.result())
    meta = write(rows, partial=False)
    print(f"robust: wrote {args.out / 'robust.json'} and {args.out / 'robust.md'} in {meta['wall_min']:.1f} min")
    failed = [r for r in rows if r["status"] != "ok"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
