"""`make student`: write the student versions of the chapters from the one source.

For every chapter it writes a copy into the output folder (never into chapters/) in which
- each code cell tagged ``exercise-solution`` keeps its signature and docstring but has the
  lines between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` replaced by
  ``raise NotImplementedError("Exercise N: ...")`` (N counts the notebook's coding exercises),
  and loses its ``hide-input`` tag so the student sees the stub;
- every ``{solution}`` block of sphinx-exercise is removed from markdown cells and MyST pages;
- outputs are cleared. Check cells (tag ``exercise-check``) are kept unchanged.

It refuses to overwrite an existing output folder unless given ``--force``.

Usage: python tools/make_student.py [--out student] [--force]
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"
BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|:{3,})\s*\{solution\}")


class StudentVersionError(ValueError):
    """A chapter breaks the exercise convention (see CONTRIBUTING.md)."""


def strip_solution_blocks(text: str) -> str:
    """Remove every ```{solution} ... ``` (or :::{solution}) block from MyST text."""
    lines, out, i = text.split("\n"), [], 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        fence = m.group("fence")
        closing = re.compile(r"^\s*" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}\s*$")
        j = i + 1
        while j < len(lines) and not closing.match(lines[j]):
            j += 1
        if j == len(lines):
            raise StudentVersionError(f"unclosed {{solution}} block starting: {lines[i]!r}")
        i = j + 1
        while i < len(lines) and not lines[i].strip() and out and not out[-1].strip():
            i += 1  # do not leave a run of blank lines behind
    return "\n".join(out)


def stub_solution(source: str, number: int, where: str) -> str:
    """Replace the marked solution lines of a code cell by a NotImplementedError stub."""
    lines = source.split("\n")
    begins = [i for i, line in enumerate(lines) if line.strip() == BEGIN]
    ends = [i for i, line in enumerate(lines) if line.strip() == END]
    if not begins or len(begins) != len(ends) or any(e <= b for b, e in zip(begins, ends, strict=True)):
        raise StudentVersionError(f"{where}: an exercise-solution cell needs matching '{BEGIN}' / '{END}' lines")
    name = re.search(r"^\s*(?:def|class)\s+(\w+)", source, re.M)
    what = f"complete {name.group(1)}" if name else "complete this cell"
    out, prev = [], 0
    for b, e in zip(begins, ends, strict=True):
        indent = lines[b][: len(lines[b]) - len(lines[b].lstrip())]
        out += lines[prev:b]
        out.append(f'{indent}raise NotImplementedError("Exercise {number}: {what} (see the exercise above)")')
        prev = e + 1
    out += lines[prev:]
    return "\n".join(out)


def student_notebook(path: Path, nb: nbformat.NotebookNode | None = None, *,
                     keep_outputs: bool = False) -> nbformat.NotebookNode:
    """The student version of the chapter at ``path`` (or of its executed copy ``nb``).

    ``keep_outputs`` keeps the outputs of every cell but the exercises' solution and check cells
    (the student edition of the HTML book shows the chapter's results, not its answers).
    """
    nb = nbformat.read(path, as_version=4) if nb is None else nb
    number = 0
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type == "markdown":
            cell.source = strip_solution_blocks(cell.source)
        elif cell.cell_type == "code":
            if not keep_outputs or {"exercise-solution", "exercise-check"} & set(tags):
                cell.outputs, cell.execution_count = [], None
            if "exercise-solution" in tags:
                number += 1
                cell.source = stub_solution(cell.source, number, f"{path.name}, coding exercise {number}")
                cell.metadata["tags"] = [t for t in tags if t != "hide-input"]
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "student")
    parser.add_argument("--force", action="store_true", help="replace an existing output folder")
    parser.add_argument("--chapters", type=Path, default=CHAPTERS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    out, src = args.out.resolve(), args.chapters.resolve()
    if out == src or src in out.parents or out in src.parents:
        parser.error(f"the output folder {out} must lie outside the chapters folder {src}")
    if out.exists() and any(out.iterdir()):
        if not args.force:
            parser.error(f"{out} exists; pass --force to replace it")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    n_nb = n_ex = 0
    for path in sorted(src.iterdir()):
        target = out / path.name
        if path.suffix == ".ipynb":
            nb = student_notebook(path)
            n_ex += sum("exercise-solution" in c.get("metadata", {}).get("tags", []) for c in
                        nbformat.read(path, as_version=4).cells)
            nbformat.write(nb, target)
            n_nb += 1
        elif path.suffix == ".md":
            target.write_text(strip_solution_blocks(path.read_text()))
        elif path.is_dir() and not path.name.startswith("."):
            shutil.copytree(path, target)
    print(f"student versions of {n_nb} notebooks ({n_ex} coding exercises) written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
