"""Checks for the coding exercises of the chapters on calorimeter showers and cosmological fields."""

from __future__ import annotations

import torch
from torch import Tensor

from helpers.checks import Case, check_function, randn_code

# --------------------------------------------------------------------------- separation power


def _separation_power(h1: Tensor, h2: Tensor) -> Tensor:
    p, q = h1 / h1.sum(), h2 / h2.sum()
    den = p + q
    keep = den > 0
    return 0.5 * ((p[keep] - q[keep]) ** 2 / den[keep]).sum()


def _sp_no_half(h1: Tensor, h2: Tensor) -> Tensor:
    return 2 * _separation_power(h1, h2)


def _sp_unnormalised(h1: Tensor, h2: Tensor) -> Tensor:
    den = h1 + h2
    keep = den > 0
    return 0.5 * ((h1[keep] - h2[keep]) ** 2 / den[keep]).sum()


def _sp_squared_denominator(h1: Tensor, h2: Tensor) -> Tensor:
    p, q = h1 / h1.sum(), h2 / h2.sum()
    den = p + q
    keep = den > 0
    return 0.5 * ((p[keep] - q[keep]) ** 2 / den[keep] ** 2).sum()


def _sp_cases() -> list[Case]:
    return [
        Case((torch.tensor([10.0, 30.0, 60.0]), torch.tensor([20.0, 20.0, 20.0])),
             description="3 bins, different totals"),
        Case((torch.tensor([5.0, 0.0, 5.0, 0.0]), torch.tensor([0.0, 0.0, 4.0, 4.0])),
             description="an empty bin in both"),
        Case((torch.tensor([1.0, 0.0]), torch.tensor([0.0, 7.0])), description="disjoint histograms (S = 1)"),
        Case.of("torch.randint(0, 50, (20,), generator=torch.Generator().manual_seed(1)).double(), "
                "torch.randint(0, 50, (20,), generator=torch.Generator().manual_seed(2)).double()",
                "20 random bins, float64"),
    ]


def check_separation_power(separation_power) -> None:
    """Check a student's ``separation_power(h1: (B,), h2: (B,)) -> scalar tensor``."""
    check_function(
        separation_power, _separation_power, _sp_cases(), name="separation_power",
        known_mistakes={
            "the factor 1/2 is missing (S must be 1 for disjoint histograms)": _sp_no_half,
            "normalise each histogram to unit sum before comparing them": _sp_unnormalised,
            "the denominator is (h1 + h2), not (h1 + h2)^2": _sp_squared_denominator,
        },
    )


# --------------------------------------------------------------------------- power spectrum


def _shells(n: int) -> Tensor:
    k = torch.fft.fftfreq(n) * n  # integer wave numbers in units of k_f
    kx, ky = torch.meshgrid(k, k, indexing="xy")
    return torch.round(torch.sqrt(kx**2 + ky**2)).long()


def _shell_mean(values: Tensor, n: int) -> Tensor:
    """Mean of values (N, N) over the modes of each shell j = 1..N/2."""
    j = _shells(n).flatten()
    v = values.flatten()
    keep = (j >= 1) & (j <= n // 2)
    sums = torch.zeros(n // 2 + 1, dtype=v.dtype).index_add_(0, j[keep], v[keep])
    counts = torch.zeros(n // 2 + 1, dtype=v.dtype).index_add_(0, j[keep], torch.ones_like(v[keep]))
    return sums[1:] / counts[1:]


def _binned_power(field: Tensor) -> Tensor:
    n = field.shape[-1]
    return _shell_mean(torch.fft.fft2(field).abs() ** 2 / n**2, n)


def _bp_no_norm(field: Tensor) -> Tensor:
    return _binned_power(field) * field.shape[-1] ** 2


def _bp_amplitude(field: Tensor) -> Tensor:
    n = field.shape[-1]
    return _shell_mean(torch.fft.fft2(field).abs() / n, n)


def _bp_by_n(field: Tensor) -> Tensor:
    return _binned_power(field) * field.shape[-1]


def _bp_cases() -> list[Case]:
    return [
        Case.of("torch.cos(2 * math.pi * 2 * torch.arange(8, dtype=torch.float64) / 8)[None, :].repeat(8, 1)",
                "a single cosine wave with k = 2 k_f along x (8 x 8, float64)"),
        Case.of(randn_code(16, 16, seed=3), "white noise 16 x 16 (P = 1 on average)"),
        Case.of(f"{randn_code(32, 32, seed=4, dtype='float64')}.cumsum(0)", "a red field 32 x 32"),
    ]


def check_binned_power(binned_power) -> None:
    """Check a student's ``binned_power(field: (N, N)) -> (N // 2,)`` power spectrum estimator."""
    check_function(
        binned_power, _binned_power, _bp_cases(), name="binned_power",
        known_mistakes={
            "divide |FFT|^2 by N^2 (the number of pixels): <|d_k|^2> = N^2 P(k)": _bp_no_norm,
            "the power spectrum averages |d_k|^2, the squared amplitude, not |d_k|": _bp_amplitude,
            "the normalisation is N^2 (pixels), not N (pixels per side)": _bp_by_n,
        },
    )
