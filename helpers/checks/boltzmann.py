"""Checks for the coding exercises of the Boltzmann-generators chapter."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from helpers.checks import Case, ExerciseError, check_function
from helpers.metrics import effective_sample_size


def _absolute(lw: Tensor) -> float:
    return effective_sample_size(lw) * lw.numel()


def _inverted(lw: Tensor) -> float:
    return 1.0 / effective_sample_size(lw)


def _cases() -> list[Case]:
    g = torch.Generator().manual_seed(3)
    return [
        Case((torch.zeros(10),), description="10 equal weights"),
        Case((torch.tensor([0.0, -50.0, -50.0, -50.0]),), description="one weight dominates"),
        Case((torch.randn(1000, generator=g, dtype=torch.float64),), description="1000 log-normal weights, float64"),
        Case((2.0 * torch.randn(200, generator=g),), description="200 wider log-normal weights"),
    ]


def check_effective_sample_size(effective_sample_size_fn) -> None:
    """Check ``ess(log_weights: (n,)) -> float``, Kish's ESS fraction computed in log space."""
    check_function(
        effective_sample_size_fn,
        lambda lw: effective_sample_size(lw),
        _cases(),
        name="effective_sample_size",
        atol=1e-6,
        rtol=1e-4,
        known_mistakes={
            "return the fraction (sum w)^2 / (n sum w^2), not the absolute ESS (sum w)^2 / sum w^2": _absolute,
            "the ratio is upside down: ESS = (sum w)^2 / (n sum w^2) lies in [1/n, 1]": _inverted,
        },
    )
    # Boltzmann log-weights -u/kT - log q are typically hundreds or thousands of nats.
    g = torch.Generator().manual_seed(4)
    lw = torch.randn(500, generator=g, dtype=torch.float64) - 1000.0
    expected = effective_sample_size(lw)
    try:
        got = float(effective_sample_size_fn(lw.clone()))
    except Exception as exc:  # noqa: BLE001 - report any failure to the student
        raise ExerciseError(f"effective_sample_size raised {type(exc).__name__}: {exc} on log-weights "
                            f"around -1000") from None
    if not math.isfinite(got) or abs(got - expected) > 1e-6 + 1e-4 * expected:
        raise ExerciseError(
            f"effective_sample_size failed on 500 log-weights around -1000 (as -u/kT - log q often are).\n"
            f"  expected {expected:.6g}, got {got}\n"
            f"  hint: exp(-1000) underflows to 0, so 0/0 = nan. Work in log space: "
            f"2 * logsumexp(lw) - log(n) - logsumexp(2 * lw), then exponentiate."
        )
    print("✓ effective_sample_size: also stable for log-weights around -1000")
