"""Checks for the coding exercises of the Boltzmann-generators chapter."""

from __future__ import annotations

import torch
from torch import Tensor

from helpers.checks import Case, check_function, randn_code
from helpers.metrics import effective_sample_size


def _absolute(lw: Tensor) -> float:
    return effective_sample_size(lw) * lw.numel()


def _inverted(lw: Tensor) -> float:
    return 1.0 / effective_sample_size(lw)


def _reference(lw: Tensor) -> float:
    return effective_sample_size(lw)


def _cases() -> list[Case]:
    return [
        Case((torch.zeros(10),), description="10 equal weights"),
        Case((torch.tensor([0.0, -50.0, -50.0, -50.0]),), description="one weight dominates"),
        Case.of(randn_code(1000, seed=1, dtype="float64"), "1000 log-normal weights, float64"),
        Case.of(f"2.0 * {randn_code(200, seed=2)}", "200 wider log-normal weights"),
        # Boltzmann log-weights -u/kT - log q are typically hundreds or thousands of nats
        Case.of(f"{randn_code(500, seed=3, dtype='float64')} - 1000.0", "500 log-weights around -1000"),
        Case.of(f"{randn_code(300, seed=4, dtype='float64')} * 3 + 800.0", "300 log-weights around +800"),
    ]


def _naive(lw: Tensor) -> float:
    w = lw.exp()
    return float(w.sum() ** 2 / (lw.numel() * (w**2).sum()))


def check_effective_sample_size(effective_sample_size_fn) -> None:
    """Check ``ess(log_weights: (n,)) -> float``, Kish's ESS fraction computed in log space."""
    check_function(
        effective_sample_size_fn,
        _reference,
        _cases(),
        name="effective_sample_size",
        atol=1e-6,
        rtol=1e-4,
        invariants={"the ESS fraction lies between 1/n and 1": lambda got: 0.0 < float(got) <= 1.0 + 1e-6},
        known_mistakes={
            "return the fraction (sum w)^2 / (n sum w^2), not the absolute ESS (sum w)^2 / sum w^2": _absolute,
            "the ratio is upside down: ESS = (sum w)^2 / (n sum w^2) lies in [1/n, 1]": _inverted,
            "exp() of log-weights around -1000 underflows to 0 (0/0 = nan) and around +800 overflows: work in "
            "log space, 2 * logsumexp(lw) - log(n) - logsumexp(2 * lw), then exponentiate": _naive,
        },
    )
