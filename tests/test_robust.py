"""tools/robust.py: make robust runs notebooks over seeds and reports which asserts hold."""

import json
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def _notebook(path: Path, *cells: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, path)


def test_robust_reports_asserts_and_metric_ranges_per_seed(tmp_path):
    chapters = tmp_path / "chapters"
    chapters.mkdir()
    # a claim that holds on seed 0 only, then a cell that still runs after the failure
    _notebook(chapters / "01_lucky.ipynb",
              "import helpers\nfrom helpers.record import record\nseed = helpers.seed_for(0)",
              "assert seed < 1000, 'only seed 0'",
              "record('shifted seed', seed, reference=0)\nassert seed >= 0")
    _notebook(chapters / "02_parallel.ipynb",  # calls map_fits, so it also gets a sequential run
              "import os\nfrom helpers import parallel  # map_fits(\nsequential = os.environ.get('GM4S_SEQUENTIAL')",
              "assert sequential in (None, '1')",
              "from helpers.record import record\nrecord('same on both paths', 1.0)\n"
              "record('path', float(sequential == '1'))\nrecord('time', float(sequential == '1'), unit='s')")
    out = tmp_path / "bench"
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "robust.py"), "--seeds", "0", "1", "--chapters",
                           str(chapters), "--out", str(out)], capture_output=True, text=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # seed 1 fails an assert
    assert "robust [5/5" in proc.stdout  # two seeds of each notebook, plus the sequential run
    result = json.loads((out / "robust.json").read_text())
    lucky = result["summary"][str(chapters / "01_lucky.ipynb")]
    assert lucky["asserts"]["1"]["seed 0"] == "pass"
    assert lucky["asserts"]["1"]["seed 1"].startswith("AssertionError: only seed 0 at")
    assert lucky["asserts"]["2"] == {"seed 0": "pass", "seed 1": "pass"}  # ran despite the failure above
    metric = lucky["metrics"]["shifted seed"]
    assert (metric["min"], metric["median"], metric["max"], metric["n"]) == (0, 500, 1000, 2)
    par = result["summary"][str(chapters / "02_parallel.ipynb")]
    assert sorted(r["run"] for r in par["runs"]) == ["seed 0", "seed 0, sequential", "seed 1"]
    md = (out / "robust.md").read_text()
    assert "| 01_lucky | shifted seed | 0 | 500 | 1000 | 2 | 0 |" in md
    assert "cell 1: seed 1" in md and "02_parallel.ipynb | 3 | yes" in md
    assert par["paths_agree"] == {"seed 0": ["path"]}  # a timing may differ, a recorded number may not
    assert "| 02_parallel | seed 0 | **no**: path |" in md


def test_robust_rejects_an_unknown_notebook(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "robust.py"), "--nb", "99_none", "--chapters",
                           str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode != 0 and "no notebook" in proc.stderr


def test_assert_cells_name_the_failing_line_for_any_line_number():
    sys.path.insert(0, str(ROOT / "tools"))
    import bench

    nb = nbformat.v4.new_notebook()
    for arrow in ("----> 2 assert a", "---> 17 assert b"):  # IPython shortens the arrow for longer numbers
        cell = nbformat.v4.new_code_cell("assert a\nassert b")
        cell.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="",
                                               traceback=["Cell In[1], line 2", arrow])]
        nb.cells.append(cell)
    assert [c["error"] for c in bench.assert_cells(nb)] == ["AssertionError: at 2 assert a",
                                                             "AssertionError: at 17 assert b"]
    cause = nbformat.v4.new_code_cell("x = 1 / 0")
    cause.outputs = [nbformat.v4.new_output("error", ename="ZeroDivisionError", evalue="division by zero",
                                            traceback=[])]
    nb.cells.insert(1, cause)
    assert bench.first_error(nb) == "cell 0: AssertionError:"
    del nb.cells[0]
    assert bench.first_error(nb) == "cell 0: ZeroDivisionError: division by zero"  # the cause, not what follows


def test_robust_restarts_a_stalled_run_once_and_reports_it(tmp_path):
    chapters = tmp_path / "chapters"
    chapters.mkdir()
    mark = tmp_path / "first-attempt"
    # the first attempt hangs (as a kernel stalled under load does); the restart finds the mark and passes
    _notebook(chapters / "01_stalls_once.ipynb",
              f"import pathlib, time\nmark = pathlib.Path({str(mark)!r})\n"
              "if not mark.exists():\n    mark.touch()\n    time.sleep(600)",
              "assert mark.exists()")
    _notebook(chapters / "02_always_stalls.ipynb", "import time\ntime.sleep(600)")
    out = tmp_path / "bench"
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "robust.py"), "--seeds", "0", "--jobs", "2",
                           "--run-limit", "20", "--chapters", str(chapters), "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the notebook that always stalls
    result = json.loads((out / "robust.json").read_text())
    once = {r["notebook"]: r for r in result["runs"]}
    first, always = once[str(chapters / "01_stalls_once.ipynb")], once[str(chapters / "02_always_stalls.ipynb")]
    assert first["status"] == "ok" and len(first["stalled_s"]) == 1 and first["stalled_s"][0] >= 20
    assert always["status"] == "error" and always["error"] == "stalled: over 20 s, 2 times"
    assert len(always["stalled_s"]) == 2
    md = (out / "robust.md").read_text()
    assert "## Runs restarted after a stall" in md and "01_stalls_once, seed 0: killed after" in md
