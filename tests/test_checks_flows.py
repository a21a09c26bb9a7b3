"""helpers.checks.flows and helpers.checks.boltzmann pass the reference and catch typical mistakes."""

import math

import pytest
import torch
from exercise_solutions import solution

from helpers.checks import ExerciseError
from helpers.checks.boltzmann import check_effective_sample_size
from helpers.checks.flows import check_affine_coupling, check_coupling_inverse


def test_affine_coupling_reference_passes(capsys):
    check_affine_coupling(solution("affine_coupling"))
    assert "all 4 checks passed" in capsys.readouterr().out


def _wrong_sign(x, mask, conditioner):
    shift, log_scale = conditioner(x * mask)
    y = x * mask + (1 - mask) * (x * torch.exp(log_scale) + shift)
    return y, -((1 - mask) * log_scale).sum(-1)


def _all_dims(x, mask, conditioner):
    shift, log_scale = conditioner(x * mask)
    return x * mask + (1 - mask) * (x * torch.exp(log_scale) + shift), log_scale.sum(-1)


def _batch_sum(x, mask, conditioner):
    y, ld = solution("affine_coupling")(x, mask, conditioner)
    return y, ld.sum()


def _stub(x, mask, conditioner):
    raise NotImplementedError("Exercise 1: write the affine coupling")


@pytest.mark.parametrize(
    "wrong,hint",
    [
        (_wrong_sign, "wrong sign"),
        (_all_dims, "transformed dimensions only"),
        (_batch_sum, "shape mistake"),
        (_stub, "not written yet"),
    ],
)
def test_affine_coupling_mistakes_are_named(wrong, hint):
    with pytest.raises(ExerciseError, match=hint):
        check_affine_coupling(wrong)


def _ess_log_space(lw):
    return float(torch.exp(2 * torch.logsumexp(lw, 0) - math.log(len(lw)) - torch.logsumexp(2 * lw, 0)))


def _ess_naive(lw):
    w = lw.exp()
    return float(w.sum() ** 2 / (len(w) * (w**2).sum()))


def _ess_absolute(lw):
    return _ess_log_space(lw) * len(lw)


def test_ess_reference_passes(capsys):
    check_effective_sample_size(_ess_log_space)
    out = capsys.readouterr().out
    assert "all 6 checks passed" in out


def test_ess_naive_version_fails_with_the_log_space_hint():
    with pytest.raises(ExerciseError, match="work in log space"):
        check_effective_sample_size(_ess_naive)


def test_ess_absolute_fails_with_the_fraction_hint():
    with pytest.raises(ExerciseError, match="return the fraction"):
        check_effective_sample_size(_ess_absolute)


def test_ess_constant_answer_is_named_as_such():
    with pytest.raises(ExerciseError, match="returns the same value") as err:
        check_effective_sample_size(lambda lw: 1.0)
    assert "return the fraction" not in str(err.value)


def test_coupling_inverse_check_passes_the_chapters_answer(capsys):
    check_coupling_inverse(solution("coupling_inverse"))
    assert "✓ coupling_inverse" in capsys.readouterr().out


def _inverse(on_y_only=True, sign=-1.0):
    def coupling_inverse(y, mask, conditioner):
        mask = mask.to(y)
        shift, log_scale = conditioner(y * mask if on_y_only else y)
        x = y * mask + (1 - mask) * (y - shift) * torch.exp(-log_scale)
        return x, sign * ((1 - mask) * log_scale).sum(-1)
    return coupling_inverse


@pytest.mark.parametrize("wrong,words", [
    (_inverse(on_y_only=False), "not the inverse of the coupling layer"),
    (_inverse(sign=1.0), "it has the sign of the forward one"),
])
def test_coupling_inverse_check_names_the_mistake(wrong, words):
    with pytest.raises(ExerciseError, match=words):
        check_coupling_inverse(wrong)
