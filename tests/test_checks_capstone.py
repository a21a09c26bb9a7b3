"""The capstone exercise checks pass the reference solutions and name the typical mistakes."""

import math

import pytest
import torch
from exercise_solutions import solution

from helpers.checks import ExerciseError
from helpers.checks.capstone import check_elbo_estimate, check_energy_distance


def _elbo(x, mu, logvar, eps, decoder, obs_logvar, std_power=0.5, kl_sign=-1, const=True):
    z = mu + torch.exp(std_power * logvar) * eps
    c = (math.log(2 * math.pi) + obs_logvar) if const else 0.0
    rec = -0.5 * (c + (x - decoder(z)) ** 2 / obs_logvar.exp()).sum(-1)
    return rec + kl_sign * 0.5 * (logvar.exp() + mu**2 - 1 - logvar).sum(-1)


def test_elbo_check_passes_a_written_out_solution(capsys):
    check_elbo_estimate(_elbo)
    assert "✓ elbo_estimate" in capsys.readouterr().out


def test_reference_elbo_is_unbiased_for_the_vae_elbo():
    """Averaged over eps, the one-sample estimate equals the VAE's ELBO with many samples."""
    from helpers.vae import VAE

    torch.manual_seed(0)
    model = VAE(2, 2, hidden=16, obs_std=0.5)
    x = torch.randn(3, 2)
    mu, logvar = model.encode(x)
    eps = torch.randn(20_000, 3, 2)
    with torch.no_grad():
        elbo = solution("elbo_estimate")
        vals = elbo(x.expand(20_000, 3, 2), mu.expand(20_000, 3, 2), logvar.expand(20_000, 3, 2), eps,
                    model.decoder, model.obs_logvar)
        exact_kl_part = model.elbo(x, n_samples=20_000)
    se = vals.std(0) / math.sqrt(20_000)
    assert bool(((vals.mean(0) - exact_kl_part).abs() < 5 * se + 1e-4).all())


def test_elbo_check_names_the_mistakes():
    with pytest.raises(ExerciseError, match="VARIANCE"):
        check_elbo_estimate(lambda *a: _elbo(*a, std_power=1.0))
    with pytest.raises(ExerciseError, match="SUBTRACTS"):
        check_elbo_estimate(lambda *a: _elbo(*a, kl_sign=1))
    with pytest.raises(ExerciseError, match="constant"):
        check_elbo_estimate(lambda *a: _elbo(*a, const=False))
    with pytest.raises(ExerciseError, match="decoded the mean"):
        check_elbo_estimate(lambda x, mu, lv, eps, dec, ol: _elbo(x, mu, lv, torch.zeros_like(eps), dec, ol))
    with pytest.raises(ExerciseError, match="shape mistake"):
        check_elbo_estimate(lambda *a: _elbo(*a).sum())
    with pytest.raises(ExerciseError, match="not written yet"):
        check_elbo_estimate(lambda *a: (_ for _ in ()).throw(NotImplementedError("Exercise 1")))


def _ed(x, y):
    def within(a):
        n = a.shape[0]
        return torch.cdist(a, a).sum() / (n * (n - 1))

    return float(2 * torch.cdist(x, y).mean() - within(x) - within(y))


def test_energy_check_passes_and_names_the_mistakes(capsys):
    check_energy_distance(_ed)
    check_energy_distance(solution("energy_distance"))
    assert "✓ energy_distance" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="n \\(n - 1\\)"):
        check_energy_distance(lambda x, y: float(2 * torch.cdist(x, y).mean() - torch.cdist(x, x).mean()
                                                 - torch.cdist(y, y).mean()))
    with pytest.raises(ExerciseError, match="2 E"):
        check_energy_distance(lambda x, y: _ed(x, y) - float(torch.cdist(x, y).mean()))
    with pytest.raises(ExerciseError, match="SQUARED"):
        check_energy_distance(lambda x, y: _ed_sq(x, y))
    with pytest.raises(ExerciseError, match="should be a function"):
        check_energy_distance(None)


def _ed_sq(x, y):
    def within(a):
        n = a.shape[0]
        return torch.cdist(a, a).pow(2).sum() / (n * (n - 1))

    return float(2 * torch.cdist(x, y).pow(2).mean() - within(x) - within(y))
