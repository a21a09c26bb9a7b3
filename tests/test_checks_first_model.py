"""helpers.checks (machinery) and helpers.checks.first_model."""

import pytest
import torch

from helpers.checks import Case, ExerciseError, check_function, compare
from helpers.checks.first_model import check_gaussian_mle


def reference(x):
    mu = x.mean(0)
    return mu, (x - mu).T @ (x - mu) / len(x)


def test_reference_solution_passes(capsys):
    check_gaussian_mle(reference)
    assert "✓ gaussian_mle: all 3 checks passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong,hint",
    [
        (lambda x: (x.mean(0), torch.cov(x.T).reshape(x.shape[1], x.shape[1])), "unbiased covariance"),
        (lambda x: (x.mean(0), x.T @ x / len(x)), "computed from x - mu"),
    ],
)
def test_typical_mistakes_are_named(wrong, hint):
    with pytest.raises(ExerciseError, match=hint):
        check_gaussian_mle(wrong)


def test_shape_dtype_and_stub_messages():
    shape_msg = "shape mistake: .* should have shape \\(2,\\), but it has shape \\(1, 2\\)"
    with pytest.raises(ExerciseError, match=shape_msg):
        check_gaussian_mle(lambda x: (x.mean(0, keepdim=True), reference(x)[1]))
    with pytest.raises(ExerciseError, match="dtype mistake"):
        check_gaussian_mle(lambda x: tuple(t.float() for t in reference(x)))
    def stub(x):
        raise NotImplementedError("Exercise 1: complete gaussian_mle")
    with pytest.raises(ExerciseError, match="not written yet \\(Exercise 1: complete gaussian_mle\\)"):
        check_gaussian_mle(stub)
    with pytest.raises(ExerciseError, match="raised ZeroDivisionError"):
        check_gaussian_mle(lambda x: 1 / 0)
    with pytest.raises(ExerciseError, match="should be a function"):
        check_gaussian_mle(42)


def test_compare_and_cases_do_not_leak_in_place_edits():
    assert compare(torch.ones(2), torch.ones(2)) is None
    assert "tuple of 2 items" in compare(torch.ones(2), (torch.ones(2), torch.ones(2)))
    x = torch.ones(3)

    def inplace(t):
        t.mul_(2)
        return t

    with pytest.raises(ExerciseError, match="value mistake"):
        check_function(inplace, lambda t: t, [Case((x,))], name="f")
    assert torch.equal(x, torch.ones(3))
