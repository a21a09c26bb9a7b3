"""Numbers that compare a model with the truth: distances and error bars.

Chapters add their family's metrics here (mode coverage in the GAN chapter,
effective sample size in the Boltzmann chapter, ...).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from helpers import validate


class Estimate(NamedTuple):
    """A Monte Carlo estimate: ``mean`` and its standard error ``se``."""

    mean: float
    se: float

    def __str__(self) -> str:
        return f"{self.mean:.4f} ± {self.se:.4f}"


def mean_and_se(values: Tensor | np.ndarray) -> Estimate:
    """Mean of i.i.d. values (n,) and its standard error s / sqrt(n) (n >= 2)."""
    v = torch.as_tensor(values, dtype=torch.float64).flatten()
    if v.numel() < 2:
        raise ValueError(f"mean_and_se needs at least 2 values, got {v.numel()}")
    if not bool(torch.isfinite(v).all()):
        raise ValueError("mean_and_se got NaN or infinite values")
    return Estimate(float(v.mean()), float(v.std(unbiased=True)) / math.sqrt(v.numel()))


def _pairwise_mean(a: Tensor, b: Tensor, same: bool) -> Tensor:
    d = torch.cdist(a, b)
    if same:
        n = a.shape[0]
        return d.sum() / (n * (n - 1))
    return d.mean()


def energy_distance(x: Tensor, y: Tensor) -> float:
    """Energy distance 2E|X-Y| - E|X-X'| - E|Y-Y'| (unbiased U-statistics).

    Zero in expectation when the two samples come from the same distribution.
    Args:
        x: (n, dim) and y: (m, dim) samples, n, m >= 2.
    """
    validate.tensor(x, "x", shape=("n", "dim"), min_len=2)
    validate.tensor(y, "y", shape=("n", "dim"), min_len=2)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dim, got {x.shape[1]} and {y.shape[1]}")
    x, y = x.detach().double(), y.detach().double()
    return float(2 * _pairwise_mean(x, y, False) - _pairwise_mean(x, x, True) - _pairwise_mean(y, y, True))


class ModeCoverage(NamedTuple):
    """Result of ``mode_coverage``: modes captured, fraction of high-quality samples, two reverse KLs.

    ``reverse_kl`` histograms every sample at its nearest mode; ``hq_reverse_kl`` histograms the
    HQ samples only, as PacGAN's released evaluation code does. ``hq_width`` is the RMS distance
    of the HQ samples to their mode over its value for the data: 1 for the data, 0 for point
    masses at the centres. Both are nan when no sample is HQ.
    """

    modes_captured: int
    hq_fraction: float
    reverse_kl: float
    hq_reverse_kl: float = math.nan
    hq_width: float = math.nan


def hq_radius2(dim: int, threshold: float = 3.0) -> tuple[float, float]:
    """E[r^2] and E[r^4] of r = |x - mu| / std for x ~ N(mu, std^2 I_dim), given r <= threshold.

    r^2 is chi^2 with dim degrees of freedom, and E[(r^2)^j 1(r <= t)] = dim (dim + 2) ... (dim + 2j - 2)
    P(chi^2_{dim + 2j} <= t^2), so both follow from the regularised incomplete gamma function.
    """
    validate.positive_int(dim, "dim")
    validate.positive_float(threshold, "threshold")
    half_t2 = torch.tensor(threshold**2 / 2, dtype=torch.float64)

    def cdf(k: int) -> float:  # P(chi^2_k <= t^2)
        return float(torch.special.gammainc(torch.tensor(k / 2, dtype=torch.float64), half_t2))

    inside = cdf(dim)
    return dim * cdf(dim + 2) / inside, dim * (dim + 2) * cdf(dim + 4) / inside


def mode_coverage(samples: Tensor, means: Tensor, std: float, threshold: float = 3.0) -> ModeCoverage:
    """The mode-coverage protocol of VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018).

    A sample is high quality (HQ) when it lies within ``threshold`` standard deviations of its
    nearest mode; a mode is captured when it is the nearest mode of at least one HQ sample.
    ``reverse_kl`` is KL(generated mode histogram || uniform), the histogram counting every
    sample at its nearest mode; ``hq_reverse_kl`` is the same KL with the histogram of the HQ
    samples only (PacGAN's released code, whose Table 1 KL is this one). Neither sees the width
    of a mode: point masses at the centres score HQ 100% and both KLs 0. ``hq_width`` does:
    sqrt(mean over HQ samples of |x - mu|^2 / std^2, divided by its value for the data given HQ,
    ``hq_radius2(dim, threshold)[0]``). A perfect sampler scores all modes, HQ = P(chi2_2 <= 9)
    ~ 98.9%, KLs near 0 and width near 1. See the GAN chapter.

    Args:
        samples: (n, dim) generated points (the protocol uses n = 2,500).
        means: (n_modes, dim) mode centres.
        std: the modes' common standard deviation (> 0).
    """
    validate.tensor(samples, "samples", shape=("n", "dim"), min_len=1)
    means = torch.as_tensor(means, dtype=torch.float64)
    if means.ndim != 2 or means.shape[1] != samples.shape[1]:
        raise ValueError(f"means must have shape (n_modes, {samples.shape[1]}), got {tuple(means.shape)}")
    validate.positive_float(std, "std")
    d = torch.cdist(samples.detach().double().cpu(), means)
    dist, nearest = d.min(dim=1)
    hq = dist < threshold * std
    k = means.shape[0]
    captured = int(torch.unique(nearest[hq]).numel())
    if not bool(hq.any()):
        return ModeCoverage(captured, 0.0, _kl_to_uniform(nearest, k))
    width = math.sqrt(float((dist[hq] / std).pow(2).mean()) / hq_radius2(samples.shape[1], threshold)[0])
    return ModeCoverage(captured, float(hq.double().mean()), _kl_to_uniform(nearest, k),
                        _kl_to_uniform(nearest[hq], k), width)


def _kl_to_uniform(labels: Tensor, k: int) -> float:
    """KL(histogram of labels over k classes || uniform); labels non-empty."""
    p = torch.bincount(labels, minlength=k).double() / len(labels)
    nz = p > 0
    return float((p[nz] * (p[nz] * k).log()).sum())


def effective_sample_size(log_weights: Tensor | np.ndarray) -> float:
    """Kish's effective sample size as a fraction, (sum w)^2 / (n sum w^2), from log-weights.

    Computed in log space, ``exp(2 logsumexp(lw) - log n - logsumexp(2 lw))``, so weights such
    as exp(-u/kT) / q(x) with |log w| in the thousands neither overflow nor underflow. The
    result lies in [1/n, 1]: 1 when all weights are equal, 1/n when one weight dominates.
    See the Boltzmann-generators chapter.

    Args:
        log_weights: (n,) log importance weights, n >= 1; -inf (zero weight) is allowed as
            long as at least one weight is finite.
    """
    lw = torch.as_tensor(log_weights, dtype=torch.float64).flatten()
    if lw.numel() < 1:
        raise ValueError("effective_sample_size needs at least one log-weight")
    if bool(torch.isnan(lw).any()) or bool((lw == math.inf).any()):
        raise ValueError("effective_sample_size got NaN or +inf log-weights")
    if not bool(torch.isfinite(lw).any()):
        raise ValueError("effective_sample_size needs at least one finite log-weight (all weights are zero)")
    log_ess = 2 * torch.logsumexp(lw, 0) - math.log(lw.numel()) - torch.logsumexp(2 * lw, 0)
    return float(log_ess.exp())
