"""make student-book: the HTML book without its solutions, built from the executions of make test."""

import html
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import make_student  # noqa: E402
import student_book  # noqa: E402


def _text(path: Path) -> str:
    """What a reader (or a search) finds in a file: tags stripped, entities decoded, spaces collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", path.read_text(errors="ignore"))))


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("student-book") / "html"
    student_book.build(out, ROOT / ".jupyter_cache")  # the notebooks ran earlier in this session
    return out


def _solutions() -> tuple[list[str], list[str]]:
    """Sentences of the written solutions, and lines of the coding solutions, of every chapter."""
    sentences, lines = [], []
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "markdown":
                for _, body in re.findall(r"^(:{3,}|`{3,})\{solution\}[^\n]*\n(.*?)\n\1[ \t]*$", cell.source,
                                          re.S | re.M):
                    sentences += [s for s in re.split(r"(?<=[.;:])\s+", re.sub(r"\s+", " ", body))
                                  if len(s.split()) >= 6 and not re.search(r"[$`{}\\*_]", s)]
            elif "exercise-solution" in cell.metadata.get("tags", []):
                src = cell.source.split("\n")
                b = next(i for i, x in enumerate(src) if x.strip() == make_student.BEGIN)
                e = next(i for i, x in enumerate(src) if x.strip() == make_student.END)
                lines += [re.sub(r"\s+", " ", x.strip()) for x in src[b + 1:e] if len(x.strip()) > 20]
    return sentences, lines


@pytest.mark.book
def test_the_student_edition_has_every_page_and_no_solution(edition):
    pages = sorted((edition / "chapters").glob("*.html"))
    assert {p.stem for p in pages} >= {p.stem for p in (ROOT / "chapters").glob("*.ipynb")}
    sentences, lines = _solutions()
    assert len(sentences) > 50 and len(lines) >= 19  # the extraction found the solutions to look for
    found = " ".join(_text(f) for f in edition.rglob("*") if f.is_file() and f.suffix in {".html", ".js", ".ipynb"}
                     and "vendor" not in f.parts)
    # a solution line may occur elsewhere in a chapter (as ordinary code): only the student notebooks' text is allowed
    allowed = " ".join(re.sub(r"\s+", " ", c.source) for p in sorted((ROOT / "chapters").glob("*.ipynb"))
                       for c in make_student.student_notebook(p).cells)
    leaked = [s for s in sentences + lines if s in found and s not in allowed]
    assert not leaked, leaked[:5]
    assert not any('class="solution' in p.read_text() for p in pages)
    assert found.count('raise NotImplementedError("Exercise') >= 19  # the stubs are shown


@pytest.mark.book
def test_the_student_edition_keeps_the_results_and_drops_the_checks_verdicts(edition):
    page = (edition / "chapters" / "00_first_model.html").read_text()
    assert "excess nats KL(p || q)" in page and page.count("<img") >= 2  # outputs and figures, as in the book
    assert "checks passed" not in _text(edition / "chapters" / "02_elbo_and_reparameterization.html")
    assert "(student edition)" in page
    assert "colab.research.google.com" not in page  # no button that opens the notebook with its answers


def test_the_student_config_drops_execution_and_the_buttons():
    cfg = student_book.student_config((ROOT / "_config.yml").read_text())
    assert 'execute_notebooks: "off"' in cfg and "launch_buttons" not in cfg and "colab_url" not in cfg
    assert "use_repository_button: false" in cfg


def test_a_chapter_without_an_executed_copy_is_reported(tmp_path):
    with pytest.raises(student_book.StudentBookError, match="run `make book`"):
        student_book.executed(ROOT / "chapters" / "00_first_model.ipynb", tmp_path / "empty-cache")
