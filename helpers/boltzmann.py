"""Boltzmann distributions p(x) ∝ exp(-u(x)/kT): the double well, its exact references, MCMC.

See the Boltzmann-generators chapter (``chapters/07_boltzmann_generators.ipynb``). The double
well is the toy system of Noé et al. (2019, supplement),

    u(x) = a/4 x1^4 - b/2 x1^2 + c x1 + d/2 x2^2,   a = c = d = 1, b = 6,

whose two wells in x1 hold very different mass at kT = 1 (P(left) ≈ 0.9917). The density
factorises into a one-dimensional part in x1 and a Gaussian in x2, so every reference
number (log Z, free-energy difference, well probabilities, the free-energy profile) is a
one-dimensional integral computed here by quadrature.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from helpers import validate

__all__ = [
    "DoubleWellReference",
    "autocorrelation",
    "double_well",
    "double_well_reference",
    "integrated_autocorrelation_time",
    "metropolis",
]

# Noé et al. (2019) parameters of the double well.
A, B, C, D = 1.0, 6.0, 1.0, 1.0


def double_well(x: Tensor) -> Tensor:
    """Energy u(x) = x1^4/4 - 3 x1^2 + x1 + x2^2/2 of the double well: x (..., 2) -> (...)."""
    validate.tensor(x, "x", shape=(..., 2), floating=True)
    x1, x2 = x[..., 0], x[..., 1]
    return 0.25 * A * x1**4 - 0.5 * B * x1**2 + C * x1 + 0.5 * D * x2**2


def _u1(x1: np.ndarray) -> np.ndarray:
    return 0.25 * A * x1**4 - 0.5 * B * x1**2 + C * x1


class DoubleWellReference(NamedTuple):
    """Exact numbers for the double well at temperature kT (from ``double_well_reference``).

    ``barrier``: x1 of the barrier top (the wells are x1 < barrier and x1 > barrier);
    ``minima``: (left, right) x1 of the two minima; ``log_z``: log of
    Z = ∫ exp(-u(x)/kT) dx over R^2; ``p_left``, ``p_right``: well probabilities;
    ``delta_f``: F_right - F_left = -kT ln(p_right / p_left), in units of kT divided out
    (i.e. reported in kT); ``x1``, ``free_energy``: the profile F(x1)/kT = -ln p(x1) on a
    grid, shifted to a minimum of 0.
    """

    barrier: float
    minima: tuple[float, float]
    log_z: float
    p_left: float
    p_right: float
    delta_f: float
    x1: np.ndarray
    free_energy: np.ndarray


def double_well_reference(kT: float = 1.0, lim: float = 7.0, n: int = 200_001) -> DoubleWellReference:
    """Exact references by quadrature (composite Simpson rule in x1, the x2 Gaussian in closed form).

    Args:
        kT: temperature (> 0).
        lim: integrate x1 over [-lim, lim] (the density is below e^-100 outside for kT <= 5).
        n: number of quadrature nodes (odd).
    """
    kT = validate.positive_float(kT, "kT")
    if validate.positive_int(n, "n", minimum=3) % 2 == 0:
        raise ValueError(f"n must be an odd integer >= 3, got {n!r}")
    roots = np.sort(np.roots([A, 0.0, -B, C]).real)  # u1'(x1) = x1^3 - 6 x1 + 1 = 0
    left, barrier, right = (float(r) for r in roots)
    x1 = np.linspace(-lim, lim, n)
    e = -_u1(x1) / kT
    shift = e.max()
    f = np.exp(e - shift)
    h = x1[1] - x1[0]
    w = np.ones(n)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    w *= h / 3
    z1 = float((w * f).sum())
    z_left = float((w * f * (x1 < barrier)).sum())
    p_left = z_left / z1
    log_z = math.log(z1) + shift + 0.5 * math.log(2 * math.pi * kT / D)
    free = -(e - shift) - math.log(z1)
    return DoubleWellReference(
        barrier=barrier,
        minima=(left, right),
        log_z=log_z,
        p_left=p_left,
        p_right=1 - p_left,
        delta_f=-math.log((1 - p_left) / p_left),
        x1=x1,
        free_energy=free - free.min(),
    )


def metropolis(
    energy,
    x0: Tensor,
    n_steps: int,
    step_size: float,
    kT: float = 1.0,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, float]:
    """Random-walk Metropolis for p(x) ∝ exp(-energy(x)/kT), many chains at once.

    Args:
        energy: callable (..., d) -> (...).
        x0: (n_chains, d) starting points.
        n_steps: number of proposals per chain.
        step_size: standard deviation of the Gaussian proposal.
        kT: temperature.

    Returns:
        ``(trajectory, acceptance)``: trajectory (n_steps + 1, n_chains, d) including x0, and
        the fraction of accepted proposals.
    """
    validate.tensor(x0, "x0", shape=("n_chains", "d"))
    validate.positive_int(n_steps, "n_steps")
    step_size, kT = validate.positive_float(step_size, "step_size"), validate.positive_float(kT, "kT")
    x = x0.clone()
    u = energy(x)
    traj = x0.new_empty((n_steps + 1,) + tuple(x0.shape))
    traj[0] = x
    noise = torch.randn((n_steps,) + tuple(x0.shape), generator=generator, dtype=x0.dtype) * step_size
    log_unif = torch.rand((n_steps, x0.shape[0]), generator=generator, dtype=x0.dtype).log()
    accepted = 0
    for t in range(n_steps):
        prop = x + noise[t].to(x0.device)
        u_prop = energy(prop)
        acc = log_unif[t].to(x0.device) < (u - u_prop) / kT
        x = torch.where(acc.unsqueeze(-1), prop, x)
        u = torch.where(acc, u_prop, u)
        traj[t + 1] = x
        accepted += int(acc.sum())
    return traj, accepted / (n_steps * x0.shape[0])


def autocorrelation(series: Tensor | np.ndarray, max_lag: int) -> np.ndarray:
    """Normalised autocorrelation rho(0..max_lag) of a chain (n,), by FFT; averaged if (n, chains)."""
    s = np.asarray(series, dtype=np.float64)
    if s.ndim == 1:
        s = s[:, None]
    if s.ndim != 2 or s.shape[0] < 2:
        raise ValueError(f"series must have shape (n >= 2,) or (n, chains), got {s.shape}")
    n = s.shape[0]
    validate.positive_int(max_lag, "max_lag", minimum=0, maximum=n - 1)
    c = s - s.mean(0)
    f = np.fft.rfft(c, n=2 * n, axis=0)
    acov = np.fft.irfft(f * np.conj(f), axis=0)[: max_lag + 1] / n
    var = acov[0].sum()
    if var == 0:
        return np.ones(max_lag + 1)
    return acov.sum(1) / var


def integrated_autocorrelation_time(series: Tensor | np.ndarray, c: float = 5.0) -> float:
    """tau = 1 + 2 sum_t rho(t), with Sokal's automatic window (the smallest M >= c * tau(M))."""
    s = np.asarray(series, dtype=np.float64)
    rho = autocorrelation(s, s.shape[0] - 1)
    taus = 2 * np.cumsum(rho) - 1
    window = np.arange(len(taus)) >= c * taus
    m = int(np.argmax(window)) if window.any() else len(taus) - 1
    return float(taus[m])
