"""Checks for the coding exercises of the chapter "A first generative model"."""

from __future__ import annotations

from torch import Tensor

from helpers.checks import Case, check_function, randn_code


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
    return [
        Case.of(f"{randn_code(5, 2, seed=1)} + 3.0", "5 points in 2D, mean far from 0"),
        Case.of(f"{randn_code(200, 3, seed=2)} @ torch.tensor([[2.0, 0, 0], [1, 1, 0], [0, 0.5, 0.1]])",
                "200 correlated points in 3D"),
        Case.of(randn_code(4, 1, seed=3, dtype="float64"), "4 points in 1D, float64"),
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
