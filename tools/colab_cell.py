"""Write (or refresh) the Colab set-up cell at the top of every chapter notebook.

The cell installs ``helpers`` from the book's repository when the notebook runs in
Google Colab and does nothing anywhere else. It installs the release the book was built
with, the tag ``v<version>`` of ``pyproject.toml``'s version, not the moving main branch,
so a class's checks cannot change under it mid-term. The repository URL is read from
``_config.yml`` (its single home), so changing it there, or the version, and re-running
this script updates every notebook. The cell is tagged ``remove-cell`` (hidden in the
book) and ``colab-setup`` (so this script can find it again).

Usage: python tools/colab_cell.py [--check]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
TAG = "colab-setup"


def repository_url() -> str:
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    return cfg["repository"]["url"].rstrip("/")


def version() -> str:
    """The version the book and ``helpers`` share (pyproject.toml)."""
    return re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)


def cell_source(url: str, tag: str) -> str:
    return (
        "# Colab set-up: install the book's `helpers` package when running in Google Colab.\n"
        "# Anywhere else (JupyterLab, the book build, the tests) this cell does nothing.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        "    import subprocess\n"
        "\n"
        f'    source = "gm4science-helpers[science] @ git+{url}@{tag}"\n'
        '    subprocess.run([sys.executable, "-m", "pip", "install", "-q", source], check=True)'
    )


def is_setup_cell(cell) -> bool:
    return cell.cell_type == "code" and TAG in cell.get("metadata", {}).get("tags", [])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report notebooks whose cell is missing or stale")
    args = parser.parse_args(argv)
    source = cell_source(repository_url(), f"v{version()}")
    stale = []
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        first = nb.cells[0] if nb.cells else None
        if first is not None and is_setup_cell(first) and first.source == source:
            continue
        stale.append(path.name)
        if args.check:
            continue
        nb.cells = [c for c in nb.cells if not is_setup_cell(c)]
        cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["remove-cell", TAG]})
        cell["id"] = TAG
        nb.cells.insert(0, cell)
        nbformat.write(nb, path)
        print(f"colab cell written: {path.name}")
    if args.check and stale:
        print("notebooks without an up-to-date Colab cell: " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
