"""Reading and running time of every chapter, for the instructor guide (a table of package data).

Reading time: the words of a chapter's prose (Markdown cells, written solutions left out) at 150
words a minute, plus a minute for each displayed equation and three for each proof, rounded up to
5 minutes. Running
time: the median and range of the chapter's wall time over the runs of ``make robust`` that ran
on one core (every run but each parallel notebook's first seed), read from its ``robust.json``.
Writes ``helpers/results/chapter_times.json`` and the table between the markers of
``chapters/instructor_guide.md``; a test keeps the two equal.

Usage: python tools/chapter_times.py bench/robust.json
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))
from make_student import strip_solution_blocks  # noqa: E402

from helpers import results  # noqa: E402
from helpers._runtime import machine_fingerprint  # noqa: E402

GUIDE = ROOT / "chapters" / "instructor_guide.md"
START, END = "<!-- chapter-times:start -->", "<!-- chapter-times:end -->"
WORDS_PER_MINUTE = 150


def prose_words(path: Path) -> int:
    """Words of the chapter's Markdown cells, without the written solutions, directives or math."""
    cells = json.loads(path.read_text())["cells"]
    text = "\n".join(strip_solution_blocks("".join(c["source"])) for c in cells if c["cell_type"] == "markdown")
    text = re.sub(r"\$\$.*?\$\$|\$[^$\n]*\$", " ", text, flags=re.S)  # math is read, not counted as words
    return len(re.findall(r"[A-Za-z][A-Za-z'-]*", text))


def displays_and_proofs(path: Path) -> tuple[int, int]:
    """Displayed equations ($$...$$ blocks and math directives) and proofs of the chapter's prose."""
    cells = json.loads(path.read_text())["cells"]
    text = "\n".join(strip_solution_blocks("".join(c["source"])) for c in cells if c["cell_type"] == "markdown")
    displays = len(re.findall(r"\$\$.*?\$\$", text, flags=re.S)) + len(re.findall(r"\{math\}", text))
    return displays, len(re.findall(r"\{prf:proof\}", text))


def measure(robust_json: Path) -> dict:
    doc = json.loads(robust_json.read_text())
    rows = []
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        walls = [r["wall_s"] for r in doc["runs"] if Path(r["notebook"]).name == path.name
                 and r.get("pinned") and r["status"] == "ok" and not r.get("stalled_s")]
        words = prose_words(path)
        displays, proofs = displays_and_proofs(path)
        minutes = words / WORDS_PER_MINUTE + displays + 3 * proofs
        rows.append({"chapter": path.stem, "words": words, "displays": displays, "proofs": proofs,
                     "read_min": 5 * math.ceil(minutes / 5),
                     "run_s_median": round(statistics.median(walls)) if walls else None,
                     "run_s_min": round(min(walls)) if walls else None,
                     "run_s_max": round(max(walls)) if walls else None, "runs": len(walls)})
    return {"source": f"make robust of {doc['meta']['date']}, runs on one core", "fingerprint": machine_fingerprint(),
            "words_per_minute": WORDS_PER_MINUTE, "rows": rows}


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f}"


def table(data: dict) -> str:
    """The guide's Markdown table of ``data`` (the stored chapter_times table)."""
    lines = [START, "",
             "| chapter | reading (min) | running on one core (min): median [range] | runs |",
             "| --- | ---: | ---: | ---: |"]
    for r in data["rows"]:
        run = ("not measured" if r["run_s_median"] is None else
               f"{_minutes(r['run_s_median'])} [{_minutes(r['run_s_min'])}, {_minutes(r['run_s_max'])}]")
        lines.append(f"| {{doc}}`{r['chapter']}` | {r['read_min']} | {run} | {r['runs']} |")
    lines += ["", f"Measured: {data['source']}, on {data['fingerprint']}.", "", END]
    return "\n".join(lines)


def update_guide(data: dict, guide: Path = GUIDE) -> None:
    text = guide.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{guide} has no {START} ... {END} markers")
    head, rest = text.split(START, 1)
    guide.write_text(head + table(data) + rest.split(END, 1)[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("robust_json", type=Path, help="the robust.json of a full make robust")
    args = parser.parse_args(argv)
    data = measure(args.robust_json)
    results.write("chapter_times", data)
    update_guide(data)
    print(f"chapter times of {len(data['rows'])} chapters written to {results.source_path('chapter_times')} "
          f"and {GUIDE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
