"""helpers.checks.vae: each check passes the reference and names the typical mistakes."""

import math

import pytest
import torch
from exercise_solutions import solution

from helpers.checks import ExerciseError
from helpers.checks import vae as checks


def test_gaussian_kl_check_passes_the_reference(capsys):
    checks.check_gaussian_kl(solution("gaussian_kl"))
    assert "✓ gaussian_kl" in capsys.readouterr().out


@pytest.mark.parametrize("wrong,hint", [
    (lambda mu, lv: (lv.exp() + mu**2 - 1 - lv).sum(-1), "1/2 is missing"),
    (lambda mu, lv: 0.5 * (lv**2 + mu**2 - 1 - torch.log(lv**2)).sum(-1), "logvar was used as the standard deviation"),
    (lambda mu, lv: 0.5 * (lv.exp() + mu**2 - 1 - lv).mean(-1), "averaged over the latent dimensions"),
])
def test_gaussian_kl_check_names_the_mistake(wrong, hint):
    with pytest.raises(ExerciseError, match=hint):
        checks.check_gaussian_kl(wrong)


def test_gaussian_kl_check_names_shape_and_missing_work():
    with pytest.raises(ExerciseError, match="shape mistake"):
        checks.check_gaussian_kl(lambda mu, lv: 0.5 * (lv.exp() + mu**2 - 1 - lv))

    def stub(mu, lv):
        raise NotImplementedError("Exercise 1: write gaussian_kl")

    with pytest.raises(ExerciseError, match="not written yet"):
        checks.check_gaussian_kl(stub)


def test_reparameterize_check(capsys):
    checks.check_reparameterize(solution("reparameterize"))
    assert "✓ reparameterize" in capsys.readouterr().out

    def variance_as_std(mu, logvar, generator=None):
        return mu + logvar.exp() * torch.randn(mu.shape, generator=generator)

    with pytest.raises(ExerciseError, match="the variance"):
        checks.check_reparameterize(variance_as_std)

    def detached(mu, logvar, generator=None):
        return solution("reparameterize")(mu, logvar, generator).detach()

    with pytest.raises(ExerciseError, match="autograd"):
        checks.check_reparameterize(detached)


def test_iwae_check():
    checks.check_iwae_from_log_weights(lambda lw: torch.logsumexp(lw, 0) - math.log(lw.shape[0]))
    with pytest.raises(ExerciseError, match="mean of the log-weights"):
        checks.check_iwae_from_log_weights(lambda lw: lw.mean(0))
    with pytest.raises(ExerciseError, match="log k term is missing"):
        checks.check_iwae_from_log_weights(lambda lw: torch.logsumexp(lw, 0))
    with pytest.raises(ExerciseError, match="NaN or infinite"):  # the naive formula overflows
        checks.check_iwae_from_log_weights(lambda lw: lw.exp().mean(0).log())


def test_ppca_check():
    def reference(x, w, m, s2):
        cov = w @ w.T + s2 * torch.eye(w.shape[0], dtype=w.dtype)
        return torch.distributions.MultivariateNormal(m, covariance_matrix=cov).log_prob(x)

    checks.check_ppca_log_prob(reference)

    def sigma_not_squared(x, w, m, s2):
        return reference(x, w, m, math.sqrt(s2))

    with pytest.raises(ExerciseError, match="sigma instead of sigma"):
        checks.check_ppca_log_prob(sigma_not_squared)


def _iwae_variant(mean_of_logs=False, with_q=True, naive=False):
    def iwae_bound(x, encoder, log_joint, k, generator=None):
        mu, logvar = encoder(x)
        eps = torch.randn((k, *mu.shape), generator=generator, dtype=mu.dtype)
        z = mu + torch.exp(0.5 * logvar) * eps
        log_q = (-0.5 * (eps**2 + logvar + math.log(2 * math.pi))).sum(-1)
        log_w = log_joint(x, z) - (log_q if with_q else 0)
        if mean_of_logs:
            return log_w.mean(0)
        if naive:
            return log_w.exp().mean(0).log()
        return torch.logsumexp(log_w, 0) - math.log(k)
    return iwae_bound


def test_iwae_bound_check_passes_the_chapters_answer(capsys):
    checks.check_iwae_bound(solution("iwae_bound"))
    assert "✓ iwae_bound" in capsys.readouterr().out


@pytest.mark.parametrize("wrong,words", [
    (_iwae_variant(mean_of_logs=True), "does not tighten as k grows"),
    (_iwae_variant(with_q=False), "with the exact posterior as the encoder"),
    (_iwae_variant(naive=True), "far from the data"),
])
def test_iwae_bound_check_tests_what_a_bound_must_do(wrong, words):
    with pytest.raises(ExerciseError, match=words):
        checks.check_iwae_bound(wrong)
