"""helpers.set_seed and helpers.get_device."""

import random
import subprocess
import sys

import numpy as np
import pytest
import torch

import helpers
import helpers.nets
import helpers.train


def _draw():
    return random.random(), float(np.random.rand()), float(torch.rand(()))


def test_set_seed_repeats_python_numpy_and_torch():
    helpers.set_seed(123)
    a = _draw()
    helpers.set_seed(123)
    assert _draw() == a
    helpers.set_seed(124)
    assert _draw() != a


def test_seeded_training_repeats_exactly():
    def run():
        helpers.set_seed(0)
        net = helpers.nets.mlp(2, 1, hidden=16)
        opt = torch.optim.Adam(net.parameters(), lr=1e-2)
        x = torch.randn(64, 2)
        helpers.train.train(lambda s: net(x).pow(2).mean(), opt, 20, progress=False)
        return torch.cat([p.detach().flatten() for p in net.parameters()])

    assert torch.equal(run(), run())


@pytest.mark.parametrize("bad", [-1, 1.5, "0", None, True])
def test_set_seed_rejects_bad_seeds(bad):
    with pytest.raises(ValueError, match="non-negative integer seed"):
        helpers.set_seed(bad)


def test_get_device_is_cpu_without_cuda():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert helpers.get_device().type == expected


def test_import_has_no_side_effects():
    code = (
        "import matplotlib as mpl, torch, random; before = dict(mpl.rcParams);"
        "s = torch.random.get_rng_state();"
        "import helpers, helpers.data, helpers.plot, helpers.train, helpers.metrics, helpers.record,"
        " helpers.nets;"
        "assert torch.equal(s, torch.random.get_rng_state()), 'torch RNG touched';"
        "assert dict(mpl.rcParams) == before, 'matplotlib style changed';"
        "assert not torch.are_deterministic_algorithms_enabled(), 'determinism switched on'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
