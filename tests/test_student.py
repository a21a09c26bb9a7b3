"""make student: student notebooks come from the one source, without solutions, with working checks."""

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from helpers.checks import ExerciseError

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "make_student.py"
sys.path.insert(0, str(ROOT / "tools"))
from make_student import BEGIN, END, strip_solution_blocks  # noqa: E402

NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("s") / "student"
    subprocess.run([sys.executable, str(TOOL), "--out", str(out)], check=True, capture_output=True)
    return out


def _tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def _solution_lines(source):
    lines = source.split("\n")
    b = [i for i, x in enumerate(lines) if x.strip() == BEGIN]
    e = [i for i, x in enumerate(lines) if x.strip() == END]
    return [x.strip() for i, j in zip(b, e, strict=True) for x in lines[i + 1 : j] if x.strip()]


FENCE = r"(?:`{3,}|:{3,})"  # MyST directives: colon fences (the book's style) or backticks


def _solution_blocks(markdown):
    blocks = re.findall(r"^(`{3,}|:{3,})\{solution\}[^\n]*\n(.*?)\n\1[ \t]*$", markdown, re.S | re.M)
    return [body for _, body in blocks]


def _run(source, namespace):
    code = "\n".join(x for x in source.split("\n") if not x.lstrip().startswith(("%", "!")))
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(code, "<cell>", "exec"), namespace)
    return buf.getvalue()


def _exercises(nb):
    """(solution cell, check cell) pairs, in order."""
    cells = nb.cells
    pairs = []
    for i, c in enumerate(cells):
        if "exercise-solution" in _tags(c):
            check = next(x for x in cells[i + 1 :] if "exercise-check" in _tags(x))
            pairs.append((c, check))
    return pairs


def test_every_chapter_has_exercises_and_a_checked_coding_task():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        md = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        n_ex = len(re.findall(FENCE + r"\{exercise\}", md))
        assert n_ex >= 3, f"{path.name}: {n_ex} exercises, the book asks for at least 3"
        assert len(_solution_blocks(md)) + len(_exercises(nb)) >= n_ex, f"{path.name}: an exercise lacks a solution"
        assert _exercises(nb), f"{path.name}: no auto-checked coding exercise"
        assert all(":class: dropdown" in b for b in re.findall(FENCE + r"\{solution\}[^\n]*\n[^\n]*", md)), \
            f"{path.name}: every solution must be a hidden dropdown"


def test_no_solution_survives(student_dir):
    for path in NOTEBOOKS:
        src = nbformat.read(path, as_version=4)
        stu = nbformat.read(student_dir / path.name, as_version=4)
        text = (student_dir / path.name).read_text()
        assert "{solution}" not in text
        for block in _solution_blocks("\n".join(c.source for c in src.cells if c.cell_type == "markdown")):
            for line in block.split("\n"):
                if len(line.strip()) > 30:
                    assert line.strip() not in text, f"{path.name}: solution text survived: {line.strip()!r}"
        stubs = [c for c in stu.cells if "exercise-solution" in _tags(c)]
        for n, ((sol, _), stub) in enumerate(zip(_exercises(src), stubs, strict=True), 1):
            for line in _solution_lines(sol.source):
                assert line not in stub.source.split("\n") and line not in [x.strip() for x in stub.source.split("\n")]
            assert f'raise NotImplementedError("Exercise {n}: ' in stub.source
            assert "hide-input" not in _tags(stub)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_checks_fail_helpfully_on_stubs_and_pass_on_the_reference(path, student_dir):
    src = nbformat.read(path, as_version=4)
    stu = nbformat.read(student_dir / path.name, as_version=4)
    for n, ((sol, check), (stub, stu_check)) in enumerate(zip(_exercises(src), _exercises(stu), strict=True), 1):
        assert stu_check.source == check.source
        ns = {}
        _run(stub.source, ns)
        with pytest.raises(ExerciseError, match=f"not written yet \\(Exercise {n}: "):
            _run(stu_check.source, ns)
        ns = {}
        _run(sol.source, ns)
        assert "✓" in _run(check.source, ns)


def test_tool_refuses_to_overwrite_or_write_into_chapters(student_dir):
    again = subprocess.run([sys.executable, str(TOOL), "--out", str(student_dir)], capture_output=True, text=True)
    assert again.returncode != 0 and "--force" in again.stderr
    forced = subprocess.run([sys.executable, str(TOOL), "--out", str(student_dir), "--force"], capture_output=True)
    assert forced.returncode == 0
    inside = subprocess.run([sys.executable, str(TOOL), "--out", str(ROOT / "chapters" / "student")],
                            capture_output=True, text=True)
    assert inside.returncode != 0 and "outside the chapters folder" in inside.stderr


def test_strip_solution_blocks_handles_nested_fences():
    text = ("a\n\n````{solution} ex-1\n:class: dropdown\n```python\nsecret()\n```\n````\n\n"
            "b\n:::{solution} ex-2\nx\n:::\nc")
    out = strip_solution_blocks(text)
    assert "secret" not in out and "x\n" not in out and out.split() == ["a", "b", "c"]


def test_instructor_guide_lists_every_exercise():
    guide = (ROOT / "chapters" / "instructor_guide.md").read_text()
    labels = set()
    texts = [p.read_text() for p in sorted((ROOT / "chapters").glob("*.md"))]
    texts += ["\n".join(c.source for c in nbformat.read(p, as_version=4).cells) for p in NOTEBOOKS]
    for text in texts:
        labels |= set(re.findall(FENCE + r"\{exercise\}[^\n]*\n:label: (\S+)", text))
    assert labels, "no exercises found"
    missing = sorted(x for x in labels if f"{{ref}}`{x}`" not in guide)
    assert not missing, f"add these exercises to chapters/instructor_guide.md: {missing}"
