"""Checks for the coding exercises of the chapter "A first generative model"."""

from __future__ import annotations

import torch
from torch import Tensor

from helpers.checks import Case, check_function


def _gaussian_mle(x: Tensor) -> tuple[Tensor, Tensor]:
    mu = x.mean(0)
    centred = x - mu
    return mu, centred.T @ centred / x.shape[0]


def _unbiased(x: Tensor) -> tuple[Tensor, Tensor]:
    mu = x.mean(0)
    return mu, (x - mu).T @ (x - mu) / (x.shape[0] - 1)


def _uncentred(x: Tensor) -> tuple[Tensor, Tensor]:
    return x.mean(0), x.T @ x / x.shape[0]


def _cases() -> list[Case]:
    g = torch.Generator().manual_seed(2024)
    return [
        Case((torch.randn(5, 2, generator=g) + 3.0,), description="5 points in 2D, mean far from 0"),
        Case((torch.randn(200, 3, generator=g) @ torch.tensor([[2.0, 0, 0], [1, 1, 0], [0, 0.5, 0.1]]),),
             description="200 correlated points in 3D"),
        Case((torch.randn(4, 1, generator=g, dtype=torch.float64),), description="4 points in 1D, float64"),
    ]


def check_gaussian_mle(gaussian_mle) -> None:
    """Check a student's ``gaussian_mle(x: (N, D)) -> (mu: (D,), sigma: (D, D))``."""
    check_function(
        gaussian_mle,
        _gaussian_mle,
        _cases(),
        name="gaussian_mle",
        known_mistakes={
            "dividing by N - 1 gives the unbiased covariance, not the maximum-likelihood one": _unbiased,
            "the covariance must be computed from x - mu, not from x": _uncentred,
        },
    )
