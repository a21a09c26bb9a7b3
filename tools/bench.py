"""`make bench`: execute every chapter notebook in a fresh kernel and tabulate it.

For each notebook it measures the wall time of a top-to-bottom run, the peak
resident memory of the kernel (with its child processes), and collects every
number the notebook recorded with ``helpers.record.record``. It writes
``bench/results.json`` and ``bench/results.md``. It is a benchmark, not a test:
a failing notebook is reported in the table, and the exit status is 1.

Usage: python tools/bench.py [NOTEBOOK ...] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from helpers.record import RECORD_ENV, _fmt, read_records  # noqa: E402


class PeakMemory:
    """Poll a process tree's resident memory in a background thread."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval, self.peak, self.pid = interval, 0, None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self, pid: int) -> None:
        self.pid = pid
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                proc = psutil.Process(self.pid)
                rss = proc.memory_info().rss + sum(
                    c.memory_info().rss for c in proc.children(recursive=True)
                )
                self.peak = max(self.peak, rss)
            except psutil.Error:
                pass
            self._stop.wait(self.interval)

    def stop(self) -> float:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        return self.peak / 2**20


def run_notebook(path: Path, timeout: int = 900, *, allow_errors: bool = False) -> dict:
    """Execute one notebook in a fresh kernel: its row of the table.

    With ``allow_errors`` every cell runs even after one fails (``make robust`` wants to know
    which assert cells pass), and the row lists the cells that hold an ``assert``.
    """
    nb = nbformat.read(path, as_version=4)
    memory = PeakMemory()
    with tempfile.TemporaryDirectory() as tmp:
        record_file = os.path.join(tmp, "records.jsonl")
        os.environ[RECORD_ENV] = record_file
        client = NotebookClient(
            nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
            resources={"metadata": {"path": str(path.parent)}},
        )
        client.on_notebook_start = lambda **_: memory.start(client.km.provisioner.process.pid)
        start = time.perf_counter()
        error = None
        try:
            client.execute()
        except Exception as exc:  # a failing notebook is a row of the table, not a crash
            error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"
        wall = time.perf_counter() - start
        peak = memory.stop()
        metrics = [m.__dict__ for m in read_records(record_file)]
        del os.environ[RECORD_ENV]
    cells = assert_cells(nb)
    if error is None:  # with allow_errors: the first cell that failed, the cause of what follows
        error = first_error(nb)
    return {
        "notebook": str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path),
        "status": "ok" if error is None else "error",
        "error": error,
        "wall_s": round(wall, 2),
        "peak_rss_mib": round(peak, 1),
        "metrics": metrics,
        "asserts": cells,
    }


def _errors(cell: nbformat.NotebookNode) -> list[dict]:
    """The error outputs of a code cell (none for Markdown)."""
    if cell.cell_type != "code":
        return []
    return [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]


def _name_and_message(error: dict) -> str:
    """"Name: message" of one error output."""
    return f"{error.get('ename', '')}: {error.get('evalue', '')}".strip()


def first_error(nb: nbformat.NotebookNode) -> str | None:
    """"cell N: Name: message" of the first executed cell that raised, or None."""
    for i, cell in enumerate(nb.cells):
        for o in _errors(cell):
            return f"cell {i}: {_name_and_message(o)}"[:300]
    return None


def _plain(text: str) -> str:
    """A traceback line without its terminal colour codes."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def assert_cells(nb: nbformat.NotebookNode) -> list[dict]:
    """The executed code cells that hold an ``assert``: index, id, passed, first error line."""
    rows = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or "assert " not in cell.source:
            continue
        errors = _errors(cell)
        ran = cell.get("execution_count") is not None or errors
        error = None
        if errors:
            error = _name_and_message(errors[0])
            lines = _plain("\n".join(errors[0].get("traceback", []))).splitlines()
            # the failing line, e.g. "----> 2 assert ratio_grid <= 1.5" or "---> 17 assert ..." (the
            # arrow shortens as the line number grows)
            where = [ln for ln in lines if re.match(r"\s*-+> \d", ln)]
            if where:
                error += " at " + " ".join(where[-1].split()[1:])
            error = error[:300]
        elif not ran:
            error = "not executed"
        rows.append({"cell": i, "id": cell.get("id", ""), "passed": error is None, "error": error})
    return rows


def to_markdown(results: dict) -> str:
    m = results["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"{m['date']} on {m['cpus']} CPU cores, Python {m['python']}, torch {m['torch']}.",
        "",
        "| notebook | status | wall time (s) | peak memory (MiB) |",
        "| --- | --- | ---: | ---: |",
    ]
    for r in results["notebooks"]:
        status = r["status"] if r["status"] == "ok" else f"error: {r['error']}"
        lines.append(f"| {r['notebook']} | {status} | {r['wall_s']:.1f} | {r['peak_rss_mib']:.0f} |")
    lines += ["", "## Recorded metrics", "", "| notebook | metric | value | reference |", "| --- | --- | ---: | --- |"]
    for r in results["notebooks"]:
        for x in r["metrics"]:
            unit = f" {x['unit']}" if x["unit"] else ""
            ref = "" if x["reference"] is None else _fmt(x["reference"])
            lines.append(f"| {r['notebook']} | {x['name']} | {_fmt(x['value'])}{unit} | {ref} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every chapters/*.ipynb")
    parser.add_argument("--out", type=Path, default=ROOT / "bench")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted((ROOT / "chapters").glob("*.ipynb"))
    if not notebooks:
        parser.error("no notebooks found")
    import torch

    results = {
        "machine": {
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "platform": platform.platform(),
        },
        "notebooks": [],
    }
    for path in notebooks:
        print(f"bench: {path} ...", flush=True)
        row = run_notebook(path.resolve())
        print(f"  {row['status']} in {row['wall_s']:.1f} s, peak {row['peak_rss_mib']:.0f} MiB, "
              f"{len(row['metrics'])} metrics", flush=True)
        results["notebooks"].append(row)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "results.md").write_text(to_markdown(results))
    print(f"bench: wrote {args.out / 'results.json'} and {args.out / 'results.md'}")
    return 0 if all(r["status"] == "ok" for r in results["notebooks"]) else 1


if __name__ == "__main__":
    sys.exit(main())
