"""helpers.checks.calo_cosmo: the checks pass the references and name typical mistakes."""

import numpy as np
import pytest
import torch

from helpers.checks import ExerciseError
from helpers.checks.calo_cosmo import check_binned_power, check_separation_power
from helpers.science import calorimeter, cosmology


def sp_reference(h1, h2):
    p, q = h1 / h1.sum(), h2 / h2.sum()
    keep = (p + q) > 0
    return 0.5 * ((p - q)[keep] ** 2 / (p + q)[keep]).sum()


def bp_reference(field):
    n = field.shape[-1]
    k = torch.fft.fftfreq(n) * n
    kx, ky = torch.meshgrid(k, k, indexing="xy")
    j = torch.round(torch.sqrt(kx**2 + ky**2)).long()
    p = torch.fft.fft2(field).abs() ** 2 / n**2
    return torch.stack([p[j == s].mean() for s in range(1, n // 2 + 1)])


def test_references_pass(capsys):
    check_separation_power(sp_reference)
    check_binned_power(bp_reference)
    out = capsys.readouterr().out
    assert "✓ separation_power: all 4 checks passed" in out
    assert "✓ binned_power: all 3 checks passed" in out


def test_references_agree_with_helpers():
    h1, h2 = np.array([3.0, 0, 5, 2]), np.array([1.0, 0, 1, 6])
    assert float(sp_reference(torch.tensor(h1), torch.tensor(h2))) == pytest.approx(
        calorimeter.separation_power(h1, h2))
    field = np.random.default_rng(0).standard_normal((16, 16))
    np.testing.assert_allclose(bp_reference(torch.tensor(field)).numpy(), cosmology.power_spectrum(field)[1][0])


@pytest.mark.parametrize("wrong,hint", [
    (lambda a, b: 2 * sp_reference(a, b), "factor 1/2"),
    (lambda a, b: 0.5 * ((a - b) ** 2 / (a + b).clamp(min=1e-12)).sum(), "normalise each histogram"),
])
def test_separation_power_mistakes(wrong, hint):
    with pytest.raises(ExerciseError, match=hint):
        check_separation_power(wrong)


@pytest.mark.parametrize("wrong,hint", [
    (lambda f: bp_reference(f) * f.shape[-1] ** 2, "divide \\|FFT\\|\\^2 by N\\^2"),
    (lambda f: bp_reference(f) * f.shape[-1], "not N \\(pixels per side\\)"),
])
def test_binned_power_mistakes(wrong, hint):
    with pytest.raises(ExerciseError, match=hint):
        check_binned_power(wrong)


def test_shape_mistake_and_stub():
    with pytest.raises(ExerciseError, match="shape mistake"):
        check_binned_power(lambda f: bp_reference(f)[:-1])

    def stub(a, b):
        raise NotImplementedError("Exercise 1: separation power")

    with pytest.raises(ExerciseError, match="not written yet"):
        check_separation_power(stub)
