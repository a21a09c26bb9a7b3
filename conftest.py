"""pytest set-up shared by the helpers unit tests, nbval and the book build.

Each notebook is executed once per ``make test``, and that one execution serves three checks:

1. **nbval** runs it cell by cell (``--nbval-lax``: a cell fails only by raising, e.g. a
   hidden ``assert``).
2. **Colab simulation**: the kernel nbval starts is not the book's environment. It runs in
   ``.colab-sim/``, a separate virtual environment holding only the ``helpers`` wheel built
   from this tree and its declared runtime dependencies (plus ipykernel, as in Colab), with
   the notebook copied alone into an empty temporary folder outside the repository. A
   notebook that needs a repository file, a local path or an undeclared package fails here
   as it would in Colab. Set ``GM4S_NOTEBOOK_ENV=current`` to run notebooks in the current
   environment instead (quicker while writing a chapter).
3. **The book**: this plugin keeps the outputs nbval collected (and the ipywidgets state, so
   progress bars render) and stores the executed notebook in the Jupyter Book execution
   cache. The book build that runs last finds every notebook already executed.
"""

from __future__ import annotations

import copy
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
CACHE_DIR = ROOT / ".jupyter_cache"
COLAB_VENV = ROOT / ".colab-sim"
COLAB_KERNEL = "gm4s-colab-sim"
OUTPUT_TIMEOUT = 300  # seconds nbval may wait for a kernel's output messages
# The notebooks' own runtime needs beyond helpers' dependencies: what Colab ships anyway.
COLAB_PREINSTALLED = ["ipykernel", "torch==2.13.0"]  # torch: the CPU wheel on this machine's disk

# Notebook path -> True if every cell passed so far.
_NB_OK: dict[str, bool] = {}
# Notebooks this session executed and cached (the book test reads this).
CACHED_NOTEBOOKS: list[str] = []


def _is_nbval_cell(item: pytest.Item) -> bool:
    return type(item).__name__ == "IPyNbCell"


def _rank(item: pytest.Item) -> int:
    """Unit tests first, then the notebooks, then the book build (it reuses their executions)."""
    if _is_nbval_cell(item):
        return 1
    if item.get_closest_marker("book") is not None:
        return 2
    return 0


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "book: builds the HTML book (runs after the notebooks)")
    os.environ["GM4S_BOOK_BUILD"] = "1"  # notebooks executed here render the book (helpers.plot.building_book)
    _patch_nbval_widget_capture()


def pytest_collection_modifyitems(session, config, items):  # noqa: ARG001
    items.sort(key=_rank)  # stable: keeps each notebook's cells in order


def _colab_env() -> str:
    """Create (once, under a lock) the Colab-like environment; return its kernel name."""
    deps_key = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + repr(COLAB_PREINSTALLED).encode()).hexdigest()
    with open(ROOT / ".colab-sim.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        py = COLAB_VENV / "bin" / "python"
        marker = COLAB_VENV / ".deps"
        if not marker.exists() or marker.read_text() != deps_key:
            shutil.rmtree(COLAB_VENV, ignore_errors=True)
            base = getattr(sys, "_base_executable", sys.executable)
            subprocess.run([base, "-m", "venv", str(COLAB_VENV)], check=True)
            subprocess.run([str(py), "-m", "pip", "install", "-q", *COLAB_PREINSTALLED], check=True)
        # the helpers wheel, rebuilt from this tree whenever its sources changed
        tree = hashlib.sha256()
        for f in sorted((ROOT / "helpers").rglob("*")):
            if f.is_file() and "__pycache__" not in f.parts:
                tree.update(str(f.relative_to(ROOT)).encode() + f.read_bytes())
        tree.update((ROOT / "pyproject.toml").read_bytes())
        installed = COLAB_VENV / ".helpers-tree"
        if not installed.exists() or installed.read_text() != tree.hexdigest():
            with tempfile.TemporaryDirectory() as wheels:
                subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                                "-w", wheels, str(ROOT)], check=True, capture_output=True)
                wheel = next(Path(wheels).glob("*.whl"))
                subprocess.run([str(py), "-m", "pip", "install", "-q", f"{wheel}[science]"], check=True)
                subprocess.run([str(py), "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", str(wheel)],
                               check=True)
            installed.write_text(tree.hexdigest())
        subprocess.run([str(py), "-m", "ipykernel", "install", "--prefix", str(COLAB_VENV), "--name", COLAB_KERNEL],
                       check=True, capture_output=True)
        marker.write_text(deps_key)
    kernels = str(COLAB_VENV / "share" / "jupyter")
    if kernels not in os.environ.get("JUPYTER_PATH", ""):
        os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [kernels, os.environ.get("JUPYTER_PATH")]))
    os.environ.pop("PYTHONPATH", None)
    return COLAB_KERNEL


_COLAB_KERNEL: list[str] = []


def _patch_nbval_colab_kernel() -> None:
    """Start each notebook's kernel in the Colab-like environment, from an empty temporary folder."""
    from nbval.kernel import RunningKernel
    from nbval.plugin import IPyNbFile

    def setup(self):
        if not _COLAB_KERNEL:
            _COLAB_KERNEL.append(_colab_env())
        workdir = Path(tempfile.mkdtemp(prefix="colab-sim-"))
        shutil.copy(str(self.fspath), workdir / Path(str(self.fspath)).name)
        self.kernel = RunningKernel(_COLAB_KERNEL[0], cwd=str(workdir),
                                    startup_timeout=self.config.option.nbval_kernel_startup_timeout)
        self.setup_sanitize_files()

    IPyNbFile.setup = setup


def _patch_nbval_widget_capture() -> None:
    """Record ipywidgets comm state as nbval reads kernel messages (nbval itself ignores it)."""
    try:
        from nbval.plugin import IPyNbFile
    except ImportError:  # nbval not installed: nothing to capture
        return
    if getattr(IPyNbFile, "_gm4s_patched", False):
        return
    if os.environ.get("GM4S_NOTEBOOK_ENV", "colab") != "current":
        _patch_nbval_colab_kernel()
    original = IPyNbFile.get_kernel_message

    def get_kernel_message(self, timeout=None, stream="iopub"):
        # nbval waits only 5 s for each output message after a cell's reply; on a busy
        # 2-core machine a kernel can take longer to flush, so wait up to the cell timeout.
        if timeout is not None:
            timeout = max(timeout, OUTPUT_TIMEOUT)
        msg = original(self, timeout=timeout, stream=stream)
        if stream == "iopub" and msg["msg_type"] in ("comm_open", "comm_msg"):
            content = msg["content"]
            state = content.get("data", {}).get("state")
            if state is not None:
                widgets = self.__dict__.setdefault("_gm4s_widgets", {})
                widgets.setdefault(content["comm_id"], {}).update(state)
        return msg

    IPyNbFile.get_kernel_message = get_kernel_message
    IPyNbFile._gm4s_patched = True


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if not _is_nbval_cell(item) or call.when != "call":
        return
    report = outcome.get_result()
    key = str(item.parent.fspath)
    _NB_OK[key] = _NB_OK.get(key, True) and report.passed
    outputs = getattr(item, "test_outputs", None)
    if outputs is not None:
        item.cell.outputs = copy.deepcopy(outputs)
        item.cell.execution_count = item.cell_num + 1


def pytest_runtest_teardown(item, nextitem):
    if not _is_nbval_cell(item):
        return
    if nextitem is not None and _is_nbval_cell(nextitem) and nextitem.parent is item.parent:
        return
    key = str(item.parent.fspath)
    if _NB_OK.pop(key, False) and not item.session.config.option.collectonly:
        _cache_executed_notebook(item.parent)


def _cache_executed_notebook(nb_file) -> None:
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    nb = copy.deepcopy(nb_file.nb)
    nb.metadata.setdefault("language_info", {"name": "python"})
    widgets = getattr(nb_file, "_gm4s_widgets", {})
    state = {
        model_id: {
            "model_name": s.get("_model_name"),
            "model_module": s.get("_model_module"),
            "model_module_version": s.get("_model_module_version"),
            "state": s,
        }
        for model_id, s in widgets.items()
        if "_model_name" in s
    }
    if state:
        nb.metadata["widgets"] = {
            "application/vnd.jupyter.widget-state+json": {
                "state": state,
                "version_major": 2,
                "version_minor": 0,
            }
        }
    cache = get_cache(str(CACHE_DIR))
    cache.cache_notebook_bundle(
        CacheBundleIn(nb, str(nb_file.fspath)), check_validity=False, overwrite=True
    )
    CACHED_NOTEBOOKS.append(str(Path(str(nb_file.fspath)).resolve().relative_to(ROOT)))
