"""helpers.checks.science: each check passes the reference and names the typical mistakes."""

import pytest
import torch
from exercise_solutions import solution

from helpers.checks import ExerciseError
from helpers.checks import science as checks
from helpers.science import collider


def test_internal_diversity_check_passes_the_reference(capsys):
    checks.check_internal_diversity(solution("internal_diversity"))
    assert "✓ internal_diversity" in capsys.readouterr().out


def test_internal_diversity_reference_matches_molecules_module():
    molecules = pytest.importorskip("helpers.science.molecules")
    fps = (torch.rand(7, 128, generator=torch.Generator().manual_seed(0)) < 0.2).float()
    assert torch.allclose(checks.internal_diversity_reference(fps), molecules.internal_diversity(fps))


def _tan(f):
    inter = f @ f.T
    return inter / (f.sum(1, keepdim=True) + f.sum(1)[None, :] - inter)


@pytest.mark.parametrize("wrong,hint", [
    (lambda f: _tan(f).mean(), "1 - mean similarity"),
    (lambda f: 1 - ((f @ f.T) / (f.sum(1, keepdim=True) + f.sum(1)[None, :])).mean(), "twice"),
    (lambda f: 1 - (_tan(f).sum() - _tan(f).diagonal().sum()) / (f.shape[0] * (f.shape[0] - 1)), "self-pairs"),
    (lambda f: 1 - ((f @ f.T) / f.shape[1]).mean(), "fingerprint length"),
])
def test_internal_diversity_check_names_the_mistake(wrong, hint):
    with pytest.raises(ExerciseError, match=hint):
        checks.check_internal_diversity(wrong)


def test_internal_diversity_check_names_shape_and_stub():
    with pytest.raises(ExerciseError, match="shape mistake"):
        checks.check_internal_diversity(lambda f: 1 - _tan(f).mean(1))

    def stub(f):
        raise NotImplementedError("Exercise 1: write internal_diversity")

    with pytest.raises(ExerciseError, match="not written yet"):
        checks.check_internal_diversity(stub)


def test_sic_check_passes_the_reference(capsys):
    checks.check_sic_at_thresholds(solution("sic_at_thresholds"))
    assert "✓ sic_at_thresholds" in capsys.readouterr().out


def _eff(x, t):
    return (x[None, :] > t[:, None]).to(x.dtype).mean(1)


@pytest.mark.parametrize("wrong,hint", [
    (lambda s, b, t: _eff(s, t) / _eff(b, t), "instead of by its square root"),
    (lambda s, b, t: _eff(b, t) / _eff(s, t).sqrt(), "swapped"),
    (lambda s, b, t: (1 - _eff(s, t)) / (1 - _eff(b, t)).sqrt(), "below the threshold"),
    (lambda s, b, t: (s[None] > t[:, None]).sum(1).to(s.dtype) / (b[None] > t[:, None]).sum(1).to(s.dtype).sqrt(),
     "event counts"),
])
def test_sic_check_names_the_mistake(wrong, hint):
    with pytest.raises(ExerciseError, match=hint):
        checks.check_sic_at_thresholds(wrong)


def test_sic_check_names_dtype_mistake():
    def float32_always(s, b, t):
        return solution("sic_at_thresholds")(s, b, t).float()

    with pytest.raises(ExerciseError, match="dtype mistake"):
        checks.check_sic_at_thresholds(float32_always)


def test_sic_reference_agrees_with_collider_sic():
    s, b = torch.tensor([0.9, 0.8, 0.3]), torch.tensor([0.1, 0.2, 0.6, 0.95])
    t = torch.tensor([0.5])
    eps_s, eps_b = collider.efficiencies(s, b, t)
    assert torch.allclose(checks.sic_at_thresholds_reference(s, b, t), collider.sic(eps_s, eps_b))
    assert torch.allclose(eps_s, torch.tensor([2 / 3])) and torch.allclose(eps_b, torch.tensor([0.5]))
