"""The Colab simulation that runs every notebook (see conftest.py) is what it claims to be."""

import os
import subprocess
from pathlib import Path

import pytest

import conftest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(os.environ.get("GM4S_NOTEBOOK_ENV") == "current",
                                reason="notebooks run in the current environment")


def test_colab_environment_has_the_wheel_and_runtime_dependencies_only(tmp_path):
    conftest._colab_env()
    py = conftest.COLAB_VENV / "bin" / "python"
    code = ("import helpers, helpers.checks, torch, numpy, matplotlib, sklearn, tqdm, ipywidgets, importlib.util;"
            "print(helpers.__file__);"
            "print(all(importlib.util.find_spec(m) is None for m in ('jupyter_book', 'sphinx', 'nbval', 'pytest')))")
    out = subprocess.run([str(py), "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True,
                         env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"}).stdout.split()
    helpers_file = Path(out[0]).resolve()
    assert conftest.COLAB_VENV.resolve() in helpers_file.parents, f"helpers imported from {helpers_file}"
    assert ROOT / "helpers" not in helpers_file.parents
    assert out[1] == "True", "the Colab environment holds book-building or test packages"
