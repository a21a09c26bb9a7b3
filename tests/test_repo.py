"""The repository's own contracts: pins, notebook hygiene, table of contents, bibliography."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pins(lines):
    pins = {}
    for line in lines:
        line = line.split("#")[0].strip().lstrip("- ").strip()
        if line and "==" in line:
            name, version = line.split("==")
            pins[name.strip().lower()] = version.strip()
    return pins


def test_environment_yml_and_requirements_pin_the_same_packages():
    req = _pins((ROOT / "requirements.txt").read_text().splitlines())
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert _pins(pip_section) == req
    assert req["torch"] == "2.13.0"
    assert req["jupyter-book"].startswith("1.")
    assert not any(n in req for n in ("sphinx", "myst-parser", "sphinx-book-theme")), "let jupyter-book pick these"


def test_helpers_declares_no_torch_pin():
    text = (ROOT / "pyproject.toml").read_text()
    deps = re.search(r"dependencies = \[(.*?)\]", text, re.S).group(1)
    assert '"torch>=' in deps and "torch==" not in deps


def _notebooks():
    return sorted((ROOT / "chapters").glob("**/*.ipynb"))


def test_notebooks_are_stored_clean_with_the_python3_kernel():
    assert _notebooks(), "no notebooks found"
    for path in _notebooks():
        nb = json.loads(path.read_text())
        assert nb["metadata"]["kernelspec"]["name"] == "python3", path
        if (nb["nbformat"], nb["nbformat_minor"]) >= (4, 5):
            ids = [cell.get("id") for cell in nb["cells"]]
            assert all(ids) and len(set(ids)) == len(ids), f"{path.name}: cells need unique ids (nbformat 4.5)"
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert cell.get("outputs") == [], f"{path.name}: stored outputs"
                assert cell.get("execution_count") is None, f"{path.name}: stored execution count"


def test_notebooks_seed_through_helpers():
    for path in _notebooks():
        assert "helpers.set_seed(" in path.read_text(), f"{path.name} is not seeded through helpers.set_seed"


def _toc_files(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("file", "root"):
                yield value
            else:
                yield from _toc_files(value)
    elif isinstance(node, list):
        for v in node:
            yield from _toc_files(v)


def test_every_chapter_is_in_the_toc_and_every_toc_entry_exists():
    toc = set(_toc_files(yaml.safe_load((ROOT / "_toc.yml").read_text())))
    chapters = {str(p.relative_to(ROOT).with_suffix("")) for p in (ROOT / "chapters").glob("**/*")
                if p.suffix in (".ipynb", ".md") and ".ipynb_checkpoints" not in p.parts}
    assert toc == chapters


def test_bibliography_has_the_papers_the_book_cites():
    bib = (ROOT / "references.bib").read_text()
    keys = set(re.findall(r"@\w+\{([^,]+),", bib))
    required = {"kingma2014vae", "goodfellow2014gan", "arjovsky2017wgan", "gulrajani2017wgangp",
                "dinh2017realnvp", "kingma2018glow", "ho2020ddpm", "song2019ncsn", "noe2019boltzmann",
                "paganini2018calogan", "gomezbombarelli2018automatic", "burda2016iwae",
                "srivastava2017veegan", "lin2018pacgan"}
    assert required <= keys
    cited = set()
    for path in list((ROOT / "chapters").glob("**/*.md")) + _notebooks():
        for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", path.read_text()):
            cited |= {k.strip() for k in group.split(",")}
    assert cited <= keys, f"cited but missing from references.bib: {sorted(cited - keys)}"


def test_repository_url_lives_in_config_only():
    """The URL's home is _config.yml; the Colab cell is generated from it by tools/colab_cell.py."""
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    url = cfg["repository"]["url"]
    for path in [ROOT / "README.md", *(ROOT / "helpers").glob("**/*.py"), *(ROOT / "chapters").glob("**/*.md")]:
        assert url not in path.read_text(), f"{path.name} repeats the repository URL"
    for path in _notebooks():
        cells = json.loads(path.read_text())["cells"]
        for cell in cells[1:]:
            assert url not in "".join(cell["source"]), f"{path.name} repeats the repository URL"


def test_every_notebook_starts_with_the_current_colab_cell():
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "colab_cell.py"), "--check"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr + " (run: python tools/colab_cell.py)"
    # Colab installs the release the book was built with, not the moving main branch
    version = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    for path in _notebooks():
        first = "".join(json.loads(path.read_text())["cells"][0]["source"])
        assert f'.git@v{version}"' in first or f'@v{version}"' in first, f"{path.name} does not pin v{version}"


def test_licences_citation_and_one_version():
    """Text under CC BY 4.0, code under MIT, and one version for the book and helpers."""
    assert "CC BY 4.0" in (ROOT / "LICENSE").read_text()
    assert (ROOT / "LICENSE-CODE").read_text().startswith("MIT License")
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    version = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    assert cff["version"] == version and cff["license"] == "CC-BY-4.0"
    assert f"## {version}" in (ROOT / "CHANGELOG.md").read_text()


def test_notebooks_render_outside_the_book():
    """Plain nbconvert (no MyST, as JupyterLab without extensions and Colab) leaves no theorem, exercise,
    solution or math inside a code block: the directives use colon fences, whose body stays Markdown."""
    import html

    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="classic")
    for path in _notebooks():
        nb = nbformat.read(path, as_version=4)
        nb.cells = [c for c in nb.cells if c.cell_type == "markdown"]
        body, _ = exporter.from_notebook_node(nb)
        for block in re.findall(r"<pre[^>]*>(.*?)</pre>", body, re.S):
            text = html.unescape(re.sub(r"<[^>]+>", "", block))
            assert not any(s in text for s in ("$", "{prf:", "{exercise}", "{solution}")), (path.name, text[:200])


def test_every_chapter_states_objectives_and_prerequisites_in_order():
    """The opening admonition of every notebook, and the course plans of the instructor guide, respect the
    prerequisite graph: each prerequisite comes earlier in the table of contents and earlier in each plan."""
    sys.path.insert(0, str(ROOT / "tools"))
    import dependency_graph as dg

    prereq = dg.prerequisites()
    assert set(prereq) == {p.stem for p in _notebooks()}
    for stem, opening in dg._openings(ROOT / "chapters").items():
        assert ":::{admonition} Objectives and prerequisites" in opening, stem
    order = [c for _, chs in dg.parts() for c in chs if c in prereq]
    dg.check_order(prereq, order)
    with pytest.raises(ValueError, match="comes after it"):
        dg.check_order({"a": ["b"], "b": []}, ["a", "b"])
    guide = (ROOT / "chapters" / "instructor_guide.md").read_text()
    rows = re.findall(r"^\| (\d+) \| (.*?) \| (.*?) \|$", guide, re.M)
    assert len(rows) == 13
    for plan in (1, 2):
        week = {doc: int(r[0]) for r in rows for doc in re.findall(r"\{doc\}`([^`]+)`", r[plan])}
        for chapter, before in prereq.items():
            for b in before:
                if chapter in week:
                    assert b in week and week[b] <= week[chapter], (plan, chapter, b)
                    if week[b] == week[chapter]:  # the same week: listed in reading order
                        assert order.index(b) < order.index(chapter)


def test_make_lab_renders_the_directives_with_jupyterlab_myst():
    """JupyterLab without an extension shows MyST directives as text; the pinned environment has the extension."""
    proc = subprocess.run([str(Path(sys.executable).with_name("jupyter")), "labextension", "list"],
                          capture_output=True, text=True, timeout=120)
    listing = proc.stdout + proc.stderr
    assert re.search(r"jupyterlab-myst v[\d.]+ .*enabled.*OK", listing), listing
