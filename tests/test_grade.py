"""tools/grade.py: make grade scores a folder of submissions, each answer alone and sandboxed.

Graded here: the chapter's own answers (full marks), the student stubs (zero), a wrong answer
(partial marks, with the check's hint), answers that loop, allocate without bound, read another
student's file, open a socket, write outside their folder, start a subprocess or hand in the
book's implementation: each of those scores zero on its exercise and nothing else changes.
"""

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from exercise_solutions import _solution_cells

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import grade  # noqa: E402
import make_student  # noqa: E402

CH02 = ROOT / "chapters" / "02_elbo_and_reparameterization.ipynb"
RIGHT_REPARAM = _solution_cells()["reparameterize"]


def _submission(path: Path, kl_cell: str, reparam_cell: str = RIGHT_REPARAM) -> None:
    """Chapter 02's student notebook with the two answer cells replaced."""
    nb = make_student.student_notebook(CH02)
    answers = [c for c in nb.cells if "exercise-solution" in c.metadata.get("tags", [])]
    answers[0].source, answers[1].source = kl_cell, reparam_cell
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


KL = "import torch\n\n\ndef gaussian_kl(mu, logvar):\n"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("grading")
    subs, outside = tmp / "submissions", tmp / "outside.txt"
    (subs / "reference").mkdir(parents=True)
    (subs / "reference" / CH02.name).write_bytes(CH02.read_bytes())
    nbformat.write(make_student.student_notebook(CH02), subs / f"stub_{CH02.name}")  # flat layout
    _submission(subs / "wrong" / CH02.name, KL + "    return (logvar.exp() + mu**2 - 1 - logvar).sum(-1)\n")
    _submission(subs / "loops" / CH02.name, "while True:\n    pass\n")
    _submission(subs / "hoards" / CH02.name, "blocks = [bytearray(2**30) for _ in range(64)]\n")
    _submission(subs / "snoops" / CH02.name,
                f"text = open({str(subs / 'reference' / CH02.name)!r}).read()\n",
                "import socket\nsocket.create_connection(('127.0.0.1', 9), timeout=1)\n")
    _submission(subs / "escapes" / CH02.name, f"open({str(outside)!r}, 'w').write('out')\n",
                "import subprocess\nsubprocess.run(['true'])\n")
    _submission(subs / "copies" / CH02.name, "from helpers.vae import gaussian_kl\n",
                "import builtins\n\nvae = getattr(builtins, '__imp' + 'ort__')('helpers.vae', fromlist=['x'])\n\n\n"
                "def reparameterize(mu, logvar, generator=None):\n"
                "    return vae.reparameterize(mu, logvar, generator)\n")
    out = tmp / "grades"
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "grade.py"), str(subs), "--out", str(out),
                           "--cpu", "5", "--wall", "30", "--memory", "1536"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = {(r["student"], r["exercise"]): r for r in csv.DictReader((out / "grades.csv").open())}
    return rows, json.loads((out / "grades.json").read_text()), outside


def test_the_chapters_answers_get_full_marks_and_the_stubs_none(graded):
    rows, doc, _ = graded
    assert doc["totals"]["reference"] == {"points": 4, "max_points": 4}  # points from the cells' metadata
    assert doc["totals"]["stub"] == {"points": 0, "max_points": 4}
    assert "not written yet" in rows[("stub", "gaussian_kl")]["message"]


def test_a_wrong_answer_gets_partial_marks_with_the_checks_message(graded):
    rows, doc, _ = graded
    assert doc["totals"]["wrong"] == {"points": 2, "max_points": 4}
    kl = rows[("wrong", "gaussian_kl")]
    assert kl["status"] == "failed" and "1/2 is missing" in kl["message"] and "to reproduce, run:" in kl["message"]


@pytest.mark.parametrize("student,exercise,status,words", [
    ("loops", "gaussian_kl", "limit", "CPU time"),
    ("hoards", "gaussian_kl", "limit", "memory"),
    ("snoops", "gaussian_kl", "refused", "may not read the submissions"),
    ("snoops", "reparameterize", "refused", "socket"),
    ("escapes", "gaussian_kl", "refused", "scratch folder"),
    ("escapes", "reparameterize", "refused", "subprocess"),
    ("copies", "gaussian_kl", "refused", "imports helpers"),
    ("copies", "reparameterize", "failed", "book's own implementation"),
])
def test_an_answer_that_breaks_the_rules_scores_zero(graded, student, exercise, status, words):
    rows, _, _ = graded
    row = rows[(student, exercise)]
    assert (row["status"], row["points"]) == (status, "0") and words in row["message"], row


def test_the_other_exercise_of_a_rule_breaker_is_graded_as_usual(graded):
    rows, _, outside = graded
    for student in ("loops", "hoards"):
        assert rows[(student, "reparameterize")]["status"] == "passed"
    assert not outside.exists()  # the write outside the scratch folder never happened


def test_every_chapter_declares_points_and_its_answers_stand_alone():
    # the grader runs an answer cell alone: each solution cell must pass its check in a fresh namespace
    chapters = sorted((ROOT / "chapters").glob("*.ipynb"))
    found = [ex for c in chapters for ex in grade.exercises(c)]
    assert len(found) == len(_solution_cells()) >= 19
    for ex in found:
        scope: dict = {}
        exec(_solution_cells()[ex.name], scope)
        exec(ex.check, scope)


def test_the_grader_rejects_a_bad_folder_and_limits(tmp_path):
    with pytest.raises(grade.GradingError, match="does not exist"):
        grade.grade(tmp_path / "none", tmp_path / "out")
    with pytest.raises(grade.GradingError, match="outside the submissions"):
        grade.grade(tmp_path, tmp_path / "out")
    with pytest.raises(grade.GradingError, match="cpu must be a positive integer"):
        grade.grade(tmp_path, tmp_path.parent / "g", cpu_s=0)


def test_the_instructor_guide_shows_the_points_the_grader_gives():
    guide = (ROOT / "chapters" / "instructor_guide.md").read_text()
    shown = [int(n) for n in re.findall(r"\| coding, auto-checked, (\d+) points? \|", guide)]
    given = [ex.points for c in sorted((ROOT / "chapters").glob("*.ipynb")) for ex in grade.exercises(c)]
    assert shown == given


def test_no_chapter_imports_an_exercises_function_before_the_exercise():
    # `from helpers.vae import gaussian_kl` above the exercise would hand the student the answer
    for chapter in sorted((ROOT / "chapters").glob("*.ipynb")):
        cells = json.loads(chapter.read_text())["cells"]
        for i, cell in enumerate(cells):
            if "exercise-solution" not in cell.get("metadata", {}).get("tags", []):
                continue
            name = re.search(r"^def (\w+)", "".join(cell["source"]), re.M).group(1)
            for before in cells[:i]:
                src = "".join(before["source"]) if before["cell_type"] == "code" else ""
                assert not re.search(rf"^from helpers[.\w]* import [^\n]*\b{name}\b", src, re.M), \
                    f"{chapter.name} imports {name} before its exercise"
