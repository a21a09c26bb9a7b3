"""helpers.results: the measured tables are package data, one JSON file each, read by name."""

import json
from pathlib import Path

import pytest

from helpers import results

ROOT = Path(__file__).resolve().parents[1]


def test_every_table_is_a_json_file_with_rows_and_a_fingerprint():
    on_disk = {p.stem for p in (ROOT / "helpers" / "results").glob("*.json")}
    assert on_disk == set(results.TABLES), "a table without a name in TABLES, or a name without its file"
    for name in results.TABLES:
        table = results.load(name)
        assert table["rows"] and all(isinstance(r, dict) for r in table["rows"])
        assert table["fingerprint"], name


def test_no_generated_python_and_the_files_ship_in_the_wheel():
    assert [p.name for p in (ROOT / "helpers" / "results").glob("*.py")] == ["__init__.py"]
    # pyproject.toml declares the JSON files package data (read as text: tomllib needs Python 3.11)
    assert '"helpers.results" = ["*.json"]' in (ROOT / "pyproject.toml").read_text()


def test_write_then_load_round_trips(tmp_path):
    table = {"config": {"n_steps": 3}, "rows": [{"seed": 0, "modes": 25}]}
    path = results.write("comparison_seeds", table, tmp_path / "t.json")
    assert json.loads(path.read_text()) == table


def test_bad_names_and_tables_are_refused():
    with pytest.raises(ValueError, match="name must be one of"):
        results.load("gan_seeds")
    with pytest.raises(ValueError, match="rows"):
        results.write("comparison_seeds", {"rows": None}, Path("/nonexistent/never-written.json"))


def test_the_instructor_guide_shows_the_stored_chapter_times():
    import sys

    sys.path.insert(0, str(ROOT / "tools"))
    import chapter_times

    data = results.load("chapter_times")
    assert {r["chapter"] for r in data["rows"]} == {p.stem for p in (ROOT / "chapters").glob("*.ipynb")}
    assert chapter_times.table(data) in (ROOT / "chapters" / "instructor_guide.md").read_text()
    for r in data["rows"]:  # the reading time follows from the counts by the stated rule
        minutes = r["words"] / data["words_per_minute"] + r["displays"] + 3 * r["proofs"]
        assert r["read_min"] % 5 == 0 and r["read_min"] - 5 < minutes <= r["read_min"]
