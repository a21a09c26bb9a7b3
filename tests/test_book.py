"""The book builds with warnings as errors, from the executions nbval just cached."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
JB = Path(sys.executable).with_name("jupyter-book")


@pytest.fixture(scope="module")
def build():
    env = {**os.environ, "GM4S_BOOK_BUILD": "1"}
    proc = subprocess.run([str(JB), "build", str(ROOT), "-W", "-n", "--keep-going"],
                          capture_output=True, text=True, cwd=ROOT, env=env)
    return proc


@pytest.mark.book
def test_book_builds_without_warnings(build):
    log = build.stdout + build.stderr
    assert build.returncode == 0, log[-6000:]
    assert (ROOT / "_build/html/index.html").exists()


@pytest.mark.book
def test_book_reused_the_notebooks_nbval_executed(build):
    import conftest

    log = build.stdout + build.stderr
    for nb in conftest.CACHED_NOTEBOOKS:
        docname = re.escape(str(Path(nb).with_suffix("")))
        assert not re.search(docname + r".*Executing notebook", log), f"{nb} was executed twice"


@pytest.mark.book
def test_chapter_pages_show_outputs_and_hide_assert_cells(build):
    assert build.returncode == 0
    html = (ROOT / "_build/html/chapters/00_first_model.html").read_text()
    assert "excess nats KL(p || q)" in html  # an executed output is on the page
    assert "assert abs(entropy.mean" not in html  # remove-cell cells are hidden
    assert 'class="proof' in html or "proof" in html  # sphinx-proof rendered the theorem
    assert html.count("<img") >= 2  # the figures


@pytest.mark.book
def test_no_page_shows_a_warning(build):
    """Readers should not meet library warnings (stderr outputs) in the rendered chapters."""
    assert build.returncode == 0
    found = []
    for page in sorted((ROOT / "_build/html/chapters").glob("*.html")):
        for block in re.findall(r'<div class="output stderr.*?</pre>', page.read_text(), re.S):
            if "Warning" in block:
                found.append(f"{page.name}: {re.sub('<[^>]+>', '', block)[:300]}")
    assert not found, "\n".join(found)
