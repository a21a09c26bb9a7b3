"""tools/bench.py: make bench times a notebook and collects what it records."""

import json
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def test_bench_runs_a_notebook_and_writes_its_metrics(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("from helpers.record import record\nrecord('answer', 42, reference=42)")]
    good = tmp_path / "good.ipynb"
    nbformat.write(nb, good)
    nb.cells.append(nbformat.v4.new_code_cell("assert False, 'broken chapter'"))
    bad = tmp_path / "bad.ipynb"
    nbformat.write(nb, bad)
    out = tmp_path / "bench"
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "bench.py"), str(good), str(bad), "--out", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the failing notebook is reported
    results = json.loads((out / "results.json").read_text())
    rows = {Path(r["notebook"]).name: r for r in results["notebooks"]}
    assert rows["good.ipynb"]["status"] == "ok"
    assert rows["good.ipynb"]["metrics"] == [{"name": "answer", "value": 42.0, "reference": 42.0, "unit": ""}]
    assert rows["good.ipynb"]["wall_s"] > 0 and rows["good.ipynb"]["peak_rss_mib"] > 10
    assert rows["bad.ipynb"]["status"] == "error" and "broken chapter" in rows["bad.ipynb"]["error"]
    md = (out / "results.md").read_text()
    assert "| good.ipynb | answer | 42 | 42 |" in md.replace(str(tmp_path) + "/", "")
