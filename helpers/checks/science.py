"""Checks of the coding exercises in the science chapters (molecular design, anomaly detection).

* ``check_internal_diversity``: the MOSES internal diversity of Morgan fingerprints, reference
  ``helpers.science.molecules.internal_diversity`` (chapter "Molecular design").
* ``check_sic_at_thresholds``: the significance improvement eps_S / sqrt(eps_B) of score cuts,
  reference ``helpers.science.collider`` (chapter "Anomaly detection").

Neither reference needs RDKit, so these checks run without the ``[science]`` extra.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from helpers.checks import Case, check_function, randn_code
from helpers.science import collider

__all__ = ["check_internal_diversity", "check_sic_at_thresholds"]


def _g(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------- internal diversity
def _tanimoto(a: Tensor, b: Tensor) -> Tensor:
    inter = a @ b.T
    union = a.sum(1, keepdim=True) + b.sum(1)[None, :] - inter
    return torch.where(union > 0, inter / union.clamp_min(1e-12), torch.ones_like(inter))


def internal_diversity_reference(fps: Tensor) -> Tensor:
    """1 - mean Tanimoto similarity over all ordered pairs, self-pairs included (MOSES IntDiv_1).

    The same formula as ``helpers.science.molecules.internal_diversity``, without importing RDKit.
    """
    return 1 - _tanimoto(fps, fps).mean()


def _bits_code(n: int, bits: int, p: float, seed: int, dtype: str = "float32") -> str:
    return f"({randn_code(n, bits, seed=seed, rand=True)} < {p}).to(torch.{dtype})"


def _diversity_cases() -> list[Case]:
    return [
        Case.of(_bits_code(6, 64, 0.2, 1), "6 random fingerprints of 64 bits"),
        Case.of(f"{_bits_code(1, 64, 0.3, 3)}.expand(4, 64).clone()", "4 copies of one molecule: diversity 0"),
        Case.of("torch.eye(5)", "5 fingerprints with no bit in common"),
        Case.of(_bits_code(10, 256, 0.05, 2, "float64"), "10 sparse fingerprints, float64"),
        Case((torch.tensor([[1.0, 1.0, 0.0, 0.0], [1.0, 0.0, 1.0, 0.0]]),),
             description="two molecules sharing one of three bits"),
    ]


def _offdiag_mean(s: Tensor) -> Tensor:
    n = s.shape[0]
    return (s.sum() - s.diagonal().sum()) / (n * (n - 1))


_DIVERSITY_MISTAKES: dict[str, Callable] = {
    "you returned the mean similarity; the diversity is 1 - mean similarity":
        lambda f: _tanimoto(f, f).mean(),
    "the union must not count the shared bits twice: |A | B| = |A| + |B| - |A & B|":
        lambda f: 1 - ((f @ f.T) / (f.sum(1, keepdim=True) + f.sum(1)[None, :])).mean(),
    "you divided the shared bits by the fingerprint length instead of by the union (that is not Tanimoto)":
        lambda f: 1 - ((f @ f.T) / f.shape[1]).mean(),
    "you left out the self-pairs; MOSES averages over all |G|^2 pairs, each molecule with itself included":
        lambda f: 1 - _offdiag_mean(_tanimoto(f, f)),
    "Dice similarity 2|A & B| / (|A| + |B|) is not Tanimoto":
        lambda f: 1 - (2 * (f @ f.T) / (f.sum(1, keepdim=True) + f.sum(1)[None, :])).mean(),
}


def check_internal_diversity(student_fn: Callable) -> None:
    """Check ``internal_diversity(fps) -> scalar tensor`` for 0/1 fingerprints ``fps`` (n, bits)."""
    check_function(student_fn, internal_diversity_reference, _diversity_cases(), name="internal_diversity",
                   known_mistakes=_DIVERSITY_MISTAKES)


# --------------------------------------------------------------------------- SIC
def sic_at_thresholds_reference(score_sig: Tensor, score_bkg: Tensor, thresholds: Tensor) -> Tensor:
    """eps_S / sqrt(eps_B) of the cut score > t, for each threshold: (n_s,), (n_b,), (T,) -> (T,)."""
    eps_s, eps_b = collider.efficiencies(score_sig, score_bkg, thresholds)
    return eps_s / eps_b.sqrt()


def _sic_cases() -> list[Case]:
    return [
        Case((torch.tensor([0.9, 0.8, 0.3, 0.7]), torch.tensor([0.1, 0.2, 0.6, 0.4, 0.95]),
              torch.tensor([0.0, 0.5, 0.75])), description="4 signal, 5 background events"),
        Case.of(f"{randn_code(500, seed=1)} + 1.0, {randn_code(1000, seed=2)}, torch.linspace(-1.0, 2.0, 7)",
                "Gaussian scores, 7 thresholds"),
        Case.of(f"{randn_code(300, seed=3, dtype='float64')} + 1.5, {randn_code(2000, seed=4, dtype='float64')}, "
                "torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)", "float64 scores"),
        Case((torch.tensor([2.0, 3.0]), torch.tensor([1.0, 1.0, 1.0, 4.0]), torch.tensor([1.5])),
             description="one threshold"),
    ]


def _eff_le(score: Tensor, t: Tensor) -> Tensor:
    return (score[None, :] <= t[:, None]).to(score.dtype).mean(1)


def _eff_gt(score: Tensor, t: Tensor) -> Tensor:
    return (score[None, :] > t[:, None]).to(score.dtype).mean(1)


def _counts_gt(score: Tensor, t: Tensor) -> Tensor:
    return (score[None, :] > t[:, None]).to(score.dtype).sum(1)


_SIC_MISTAKES: dict[str, Callable] = {
    "you divided by eps_B instead of by its square root":
        lambda s, b, t: _eff_gt(s, t) / _eff_gt(b, t),
    "signal and background are swapped (eps_B / sqrt(eps_S))":
        lambda s, b, t: _eff_gt(b, t) / _eff_gt(s, t).sqrt(),
    "you counted the events below the threshold; the cut keeps score > t":
        lambda s, b, t: _eff_le(s, t) / _eff_le(b, t).sqrt(),
    "you used event counts; efficiencies are fractions (divide by the number of events)":
        lambda s, b, t: _counts_gt(s, t) / _counts_gt(b, t).sqrt(),
    "the square root belongs to eps_B alone, not to the ratio":
        lambda s, b, t: (_eff_gt(s, t) / _eff_gt(b, t)).sqrt(),
}


def check_sic_at_thresholds(student_fn: Callable) -> None:
    """Check ``sic_at_thresholds(score_sig, score_bkg, thresholds) -> (T,)``."""
    check_function(student_fn, sic_at_thresholds_reference, _sic_cases(), name="sic_at_thresholds",
                   known_mistakes=_SIC_MISTAKES)
