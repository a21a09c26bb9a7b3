"""`make student-book`: the HTML book without solutions, for an instructor to publish.

It takes each chapter as ``make book`` executed it (from the Jupyter Book execution cache, so
the pages show the same figures and numbers and nothing is run again), applies the student
transformation of ``make student`` (coding solutions become ``NotImplementedError`` stubs,
``{solution}`` blocks go, the exercise cells lose their outputs), and builds the book from that
with warnings as errors into its own folder (default ``_build/student-html``). The launch and
repository buttons are left out: they would open the public notebooks, solutions included.

Usage: python tools/student_book.py [--out _build/student-html] [--cache .jupyter_cache]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from make_student import strip_solution_blocks, student_notebook  # noqa: E402

JB = Path(sys.executable).with_name("jupyter-book")


class StudentBookError(RuntimeError):
    """A chapter has no executed copy to build from."""


def executed(path: Path, cache_dir: Path) -> nbformat.NotebookNode:
    """The chapter with the outputs of its cached execution (which must match its current code)."""
    from jupyter_cache import get_cache

    nb = nbformat.read(path, as_version=4)
    if not any(c.cell_type == "code" for c in nb.cells):
        return nb
    try:
        _, merged = get_cache(str(cache_dir)).merge_match_into_notebook(nb)
    except KeyError:
        raise StudentBookError(f"{path.name} has no executed copy in {cache_dir} that matches its code: "
                               "run `make book` (or `make test`) first") from None
    return merged


def student_config(text: str) -> str:
    """The book's _config.yml for the student edition: no execution, no buttons that lead to answers."""
    text = re.sub(r"^title: (.+)$", r"title: \1 (student edition)", text, count=1, flags=re.M)
    text = text.replace("execute_notebooks: cache", 'execute_notebooks: "off"')
    text = re.sub(r"^launch_buttons:\n(?:  .*\n)+", "", text, flags=re.M)
    text = text.replace("use_repository_button: true", "use_repository_button: false")
    return text.replace("use_issues_button: true", "use_issues_button: false")


def build(out: Path, cache_dir: Path) -> Path:
    """Write the student edition's HTML into ``out``; return the path of its index page."""
    with tempfile.TemporaryDirectory(prefix="student-book-") as tmp:
        src = Path(tmp) / "book"
        (src / "chapters").mkdir(parents=True)
        for name in ("_toc.yml", "references.bib"):
            shutil.copy(ROOT / name, src / name)
        (src / "_config.yml").write_text(student_config((ROOT / "_config.yml").read_text()))
        shutil.copytree(ROOT / "_ext", src / "_ext")
        os.symlink(ROOT / "node_modules", src / "node_modules")  # the JavaScript the book serves offline
        for path in sorted((ROOT / "chapters").iterdir()):
            target = src / "chapters" / path.name
            if path.suffix == ".ipynb":
                nbformat.write(student_notebook(path, executed(path, cache_dir), keep_outputs=True), target)
            elif path.suffix == ".md":
                target.write_text(strip_solution_blocks(path.read_text()))
            elif path.is_dir() and not path.name.startswith("."):
                shutil.copytree(path, target)
        env = {**os.environ, "GM4S_BOOK_BUILD": "1"}
        proc = subprocess.run([str(JB), "build", str(src), "-W", "-n", "--keep-going"], capture_output=True,
                              text=True, cwd=src, env=env)
        if proc.returncode != 0:
            raise StudentBookError("the student edition did not build:\n" + (proc.stdout + proc.stderr)[-6000:])
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(src / "_build" / "html", out)
    return out / "index.html"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "student-html")
    parser.add_argument("--cache", type=Path, default=ROOT / ".jupyter_cache")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    if out == ROOT / "_build" / "html" or (ROOT / "chapters") in [out, *out.parents]:
        parser.error(f"{out} would overwrite the public book or the chapters")
    try:
        index = build(out, args.cache.resolve())
    except StudentBookError as exc:
        print(f"student-book: {exc}", file=sys.stderr)
        return 1
    print(f"The student edition is at {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
