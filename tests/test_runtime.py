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


@pytest.mark.parametrize("bad,error", [(-1, ValueError), (1.5, TypeError), ("0", TypeError), (None, TypeError),
                                       (True, TypeError)])
def test_set_seed_rejects_bad_seeds(bad, error):
    with pytest.raises(error, match="seed must be an integer >= 0"):
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


def test_gm4s_seed_shifts_every_seed_together(monkeypatch):
    monkeypatch.delenv("GM4S_SEED", raising=False)
    assert helpers.seed_for(3) == 3
    helpers.set_seed(3)
    base = _draw()
    g0 = torch.rand(3, generator=helpers.generator(3))
    n0 = helpers.numpy_rng(3).random()
    monkeypatch.setenv("GM4S_SEED", "2")
    assert helpers.seed_for(3) == 2003
    helpers.set_seed(3)
    assert _draw() != base
    helpers.set_seed(2003 - 2000)  # the shift is applied once, inside set_seed
    shifted = _draw()
    monkeypatch.setenv("GM4S_SEED", "0")
    helpers.set_seed(2003)
    assert _draw() == shifted
    monkeypatch.setenv("GM4S_SEED", "2")
    assert not torch.equal(torch.rand(3, generator=helpers.generator(3)), g0)
    assert helpers.numpy_rng(3).random() != n0
    monkeypatch.setenv("GM4S_SEED", "")
    assert torch.equal(torch.rand(3, generator=helpers.generator(3)), g0)


@pytest.mark.parametrize("bad", ["-1", "1.5", "one"])
def test_bad_gm4s_seed_is_named(monkeypatch, bad):
    monkeypatch.setenv("GM4S_SEED", bad)
    with pytest.raises(ValueError, match="GM4S_SEED must be a non-negative integer"):
        helpers.seed_for(0)


def test_seed_for_rejects_bad_seeds():
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        helpers.seed_for(-3)
    assert helpers.seed_for(np.int64(3)) == helpers.seed_for(3) and type(helpers.seed_for(np.int64(3))) is int


def test_machine_fingerprint_names_the_torch_build():
    fp = helpers.machine_fingerprint()
    assert torch.__version__ in fp and torch.backends.cpu.get_cpu_capability() in fp
    assert fp == helpers.machine_fingerprint()
