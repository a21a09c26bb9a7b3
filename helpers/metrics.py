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
    for name, t in (("x", x), ("y", y)):
        if not isinstance(t, Tensor) or t.ndim != 2 or t.shape[0] < 2:
            raise ValueError(f"{name} must be a tensor of shape (n >= 2, dim), got "
                             f"{tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__}")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dim, got {x.shape[1]} and {y.shape[1]}")
    x, y = x.detach().double(), y.detach().double()
    return float(2 * _pairwise_mean(x, y, False) - _pairwise_mean(x, x, True) - _pairwise_mean(y, y, True))
