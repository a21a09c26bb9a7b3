"""The chapters' own answers to their coding exercises, for the tests of the checks and the grader.

A check must pass the answer a student would write, not the book's implementation in ``helpers``
(which it refuses), so the tests take the answer from the exercise-solution cell of the chapter.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from pathlib import Path

CHAPTERS = Path(__file__).resolve().parents[1] / "chapters"


@functools.cache
def _solution_cells() -> dict[str, str]:
    cells = {}
    for path in sorted(CHAPTERS.glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if "exercise-solution" in cell.get("metadata", {}).get("tags", []):
                src = "".join(cell["source"])
                cells[re.search(r"^def (\w+)", src, re.M).group(1)] = src
    return cells


def solution(name: str) -> Callable:
    """The function ``name`` as the chapter's solution cell defines it (run in a fresh namespace)."""
    scope: dict = {}
    exec(compile(_solution_cells()[name], f"<solution {name}>", "exec"), scope)  # noqa: S102 - the book's cells
    return scope[name]
