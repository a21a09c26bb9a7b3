"""helpers.checks.diffusion: each check passes the reference and names the typical mistakes."""

import pytest
import torch
from exercise_solutions import solution

from helpers import diffusion
from helpers.checks import ExerciseError
from helpers.checks.diffusion import check_ancestral_sample, check_eps_to_score, check_predict_x0, check_q_sample


def _bcast(a, like):
    return a.reshape(-1, *([1] * (like.ndim - 1)))


def test_q_sample_check_passes_reference(capsys):
    check_q_sample(solution("q_sample"))
    assert "✓ q_sample" in capsys.readouterr().out


def test_q_sample_check_names_missing_square_roots():
    def wrong(x0, t, noise, abar):
        a = _bcast(abar[t], x0)
        return a * x0 + (1 - a) * noise

    with pytest.raises(ExerciseError, match="without the square roots"):
        check_q_sample(wrong)


def test_q_sample_check_names_shape_mistake_and_stub():
    def flat(x0, t, noise, abar):
        return solution("q_sample")(x0, t, noise, abar).sum(-1)

    with pytest.raises(ExerciseError, match="shape mistake"):
        check_q_sample(flat)

    def stub(x0, t, noise, abar):
        raise NotImplementedError("Exercise 1: write q_sample")

    with pytest.raises(ExerciseError, match="not written yet"):
        check_q_sample(stub)


def test_eps_to_score_check():
    check_eps_to_score(solution("eps_to_score"))

    def no_sqrt(eps, t, abar):
        return -eps / (1 - _bcast(abar[t], eps))

    with pytest.raises(ExerciseError, match="standard deviation"):
        check_eps_to_score(no_sqrt)

    def sign(eps, t, abar):
        return eps / (1 - _bcast(abar[t], eps)).sqrt()

    with pytest.raises(ExerciseError, match="minus sign"):
        check_eps_to_score(sign)


def test_predict_x0_check():
    check_predict_x0(solution("predict_x0"))

    def forgot(xt, t, eps, abar):
        return xt - (1 - _bcast(abar[t], xt)).sqrt() * eps

    with pytest.raises(ExerciseError, match="divide by √ᾱ_t"):
        check_predict_x0(forgot)

    def float64(xt, t, eps, abar):
        return solution("predict_x0")(xt, t, eps, abar).double()

    with pytest.raises(ExerciseError, match="dtype mistake"):
        check_predict_x0(float64)
    assert torch.is_tensor(diffusion.predict_x0(torch.zeros(1, 2), 0, torch.zeros(1, 2), torch.tensor([0.5])))


def test_ancestral_sample_check_passes_the_chapters_answer(capsys):
    check_ancestral_sample(solution("ancestral_sample"))
    assert "✓ ancestral_sample" in capsys.readouterr().out


def _sampler(noise=True, divide_by_abar=False, ascending=False):
    def ancestral_sample(eps_model, betas, shape, generator=None):
        alphas = 1 - betas
        abar = torch.cumprod(alphas, 0)
        x = torch.randn(shape, generator=generator, dtype=betas.dtype)
        steps = range(len(betas)) if ascending else reversed(range(len(betas)))
        for t in steps:
            eps = eps_model(x, torch.full((shape[0],), t, dtype=torch.long))
            x = (x - betas[t] / torch.sqrt(1 - abar[t]) * eps) / torch.sqrt(abar[t] if divide_by_abar else alphas[t])
            if t > 0 and noise:
                x = x + torch.sqrt(betas[t]) * torch.randn(shape, generator=generator, dtype=betas.dtype)
        return x
    return ancestral_sample


@pytest.mark.parametrize("wrong,words", [
    (_sampler(noise=False), "no noise is added"),
    (_sampler(divide_by_abar=True), "divides by sqrt\\(abar_t\\)"),
    (_sampler(ascending=True), "down to 0"),
])
def test_ancestral_sample_check_names_the_mistake(wrong, words):
    with pytest.raises(ExerciseError, match=words):
        check_ancestral_sample(wrong)
