"""Tables that scripts under ``tools/`` measured, shipped as package data (no side effects on import).

Each table is one JSON file in this folder, written only by its script and read with :func:`load`
(so it is found in a wheel, in Colab, as well as in the repository):

- ``gan_mode_coverage_seeds``: the GAN chapter's three seeds (``tools/gan_seeds.py``, ``make gan-seeds``);
- ``comparison_seeds``: the comparison chapter's extra seeds (``tools/comparison_seeds.py``,
  ``make comparison-seeds``);
- ``chapter_times``: each chapter's reading and running time for the instructor guide
  (``tools/chapter_times.py``, from a ``make robust`` run).

A table holds the configuration it was measured with, the machine's fingerprint and its ``rows``.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

#: the stored tables, by name
TABLES: tuple[str, ...] = ("gan_mode_coverage_seeds", "comparison_seeds", "chapter_times")


def _check_name(name: str) -> str:
    if name not in TABLES:
        raise ValueError(f"name must be one of {', '.join(TABLES)}, got {name!r}")
    return name


def load(name: str) -> dict:
    """The stored table ``name`` (one of :data:`TABLES`) as the dict its script wrote."""
    text = resources.files(__name__).joinpath(f"{_check_name(name)}.json").read_text(encoding="utf-8")
    return json.loads(text)


def source_path(name: str) -> Path:
    """Where the script that measures table ``name`` writes it: the file in this source folder."""
    return Path(__file__).resolve().parent / f"{_check_name(name)}.json"


def write(name: str, table: dict, path: Path | None = None) -> Path:
    """Write ``table`` (JSON-serialisable, with its ``rows``) as table ``name``, to ``path`` or to
    :func:`source_path`; for the scripts in ``tools/``. Returns the path written."""
    if not isinstance(table, dict) or not isinstance(table.get("rows"), list):
        raise ValueError(f"table must be a dict with a list of 'rows', got {type(table).__name__}")
    path = source_path(name) if path is None else Path(path)
    path.write_text(json.dumps(table, indent=1) + "\n", encoding="utf-8")
    return path
