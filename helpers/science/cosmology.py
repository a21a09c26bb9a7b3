"""Cosmological fields: Gaussian and log-normal random fields, their summary statistics, and a
Gaussianization flow that learns them (see the chapter "Cosmological fields").

Conventions: a map is an N x N array on a periodic grid of unit pixels (box side L = N). The
discrete Fourier transform is numpy's, ``d_k = sum_x d(x) exp(-i k.x)``, with wave numbers
``k = 2 pi * fftfreq(N)`` (radians per pixel; the fundamental mode is k_f = 2 pi / N). The power
spectrum is defined by ``<|d_k|^2> = N^2 P(k)`` (pixel area 1), so that the variance of the field is
``sigma^2 = (1/N^2) sum_k P(k)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.special import erfc
from torch import Tensor, nn

from helpers import validate
from helpers._runtime import generator, numpy_rng, seed_for

__all__ = [
    "PowerLaw", "wavenumbers", "gaussian_field", "lognormal_field", "field_variance", "shell_index",
    "power_spectrum", "binned_model_power", "skewness", "peak_counts", "minkowski_functionals",
    "gaussian_minkowski", "spectral_lambda", "GaussianizationFlow", "fit_flow",
]


@dataclass(frozen=True)
class PowerLaw:
    """P(k) = amplitude * (k / k0)^index * exp(-(k R)^2): a power law smoothed on R pixels; P(0) = 0."""

    amplitude: float = 1.0
    index: float = -2.0
    smoothing: float = 1.0
    k0: float = 2 * math.pi / 32

    def __post_init__(self) -> None:
        validate.positive_float(self.amplitude, "amplitude")
        validate.non_negative_float(self.smoothing, "smoothing")
        validate.positive_float(self.k0, "k0")

    def __call__(self, k: np.ndarray) -> np.ndarray:
        k = np.asarray(k, dtype=float)
        out = np.zeros_like(k)
        pos = k > 0
        out[pos] = self.amplitude * (k[pos] / self.k0) ** self.index * np.exp(-((k[pos] * self.smoothing) ** 2))
        return out


def _check_n(n: int) -> int:
    """The grid size: an even integer >= 4 (the FFT grid has a Nyquist row and column)."""
    if validate.positive_int(n, "the grid size", minimum=4) % 2:
        raise ValueError(f"the grid size must be an even integer >= 4, got {n!r}")
    return int(n)


def wavenumbers(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(kx, ky, |k|) on the full n x n FFT grid, in radians per pixel; each (n, n)."""
    k1 = 2 * np.pi * np.fft.fftfreq(_check_n(n))
    kx, ky = np.meshgrid(k1, k1, indexing="xy")
    return kx, ky, np.hypot(kx, ky)


def field_variance(power: Callable[[np.ndarray], np.ndarray], n: int) -> float:
    """Exact variance (1/N^2) sum_k P(k) of the Gaussian field on the n x n grid."""
    return float(power(wavenumbers(n)[2]).sum() / n**2)


def gaussian_field(n_maps: int, n: int, power: Callable[[np.ndarray], np.ndarray],
                   rng: np.random.Generator | int = 0) -> np.ndarray:
    """Gaussian random fields with power spectrum P(k): IFFT(FFT(white noise) * sqrt(P(k))).

    White noise of unit variance has <|w_k|^2> = N^2, so the result has <|d_k|^2> = N^2 P(k).
    Returns float64 (n_maps, n, n).
    """
    validate.positive_int(n_maps, "n_maps")
    rng = numpy_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    amp = np.sqrt(power(wavenumbers(n)[2]))
    if not np.all(np.isfinite(amp)):
        raise ValueError("the power spectrum must be finite and non-negative on the grid")
    white = rng.standard_normal((n_maps, n, n))
    return np.fft.ifft2(np.fft.fft2(white) * amp).real


def lognormal_field(gaussian: np.ndarray, variance: float) -> np.ndarray:
    """Log-normal density contrast delta = exp(G - sigma^2/2) - 1 (Coles & Jones 1991); mean 0, delta > -1."""
    validate.positive_float(variance, "variance")
    return np.expm1(np.asarray(gaussian) - variance / 2)


def shell_index(n: int) -> np.ndarray:
    """Integer shell j = round(|k| / k_f) of every mode of the n x n grid: (n, n) ints (0 is the mean)."""
    return np.rint(wavenumbers(n)[2] / (2 * np.pi / n)).astype(np.int64)


def power_spectrum(maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Binned power spectrum of each map: mean of |d_k|^2 / N^2 over the modes of shells j = 1..N/2.

    Args: maps (n_maps, N, N) or (N, N).
    Returns: k (N/2,) the mean |k| of each shell (radians per pixel), and P (n_maps, N/2).
    """
    m = np.asarray(maps, dtype=float)
    if m.ndim == 2:
        m = m[None]
    if m.ndim != 3 or m.shape[1] != m.shape[2]:
        raise ValueError(f"maps must have shape (n_maps, N, N), got {np.shape(maps)}")
    n = _check_n(m.shape[1])
    p2 = np.abs(np.fft.fft2(m)) ** 2 / n**2
    j = shell_index(n).ravel()
    kk = wavenumbers(n)[2].ravel()
    shells = np.arange(1, n // 2 + 1)
    counts = np.bincount(j, minlength=shells[-1] + 1)[shells]
    flat = p2.reshape(len(m), -1)
    out = np.stack([np.bincount(j, weights=row, minlength=shells[-1] + 1)[shells] for row in flat]) / counts
    k_mean = np.bincount(j, weights=kk, minlength=shells[-1] + 1)[shells] / counts
    return k_mean, out


def binned_model_power(power: Callable[[np.ndarray], np.ndarray], n: int) -> np.ndarray:
    """The input spectrum averaged over the same shells as ``power_spectrum``: (n/2,)."""
    j = shell_index(n).ravel()
    p = power(wavenumbers(n)[2]).ravel()
    shells = np.arange(1, n // 2 + 1)
    counts = np.bincount(j, minlength=shells[-1] + 1)[shells]
    return np.bincount(j, weights=p, minlength=shells[-1] + 1)[shells] / counts


def skewness(x: np.ndarray) -> float:
    """Sample skewness E[(x - mean)^3] / std^3 of all values."""
    x = np.asarray(x, dtype=float).ravel()
    c = x - x.mean()
    return float((c**3).mean() / (c**2).mean() ** 1.5)


def peak_counts(maps: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Histogram of local maxima (higher than their 8 periodic neighbours) by height, per map.

    Args: maps (n_maps, N, N); edges (n_bins + 1,) in the maps' own units.
    Returns: counts (n_maps, n_bins).
    """
    m = np.asarray(maps, dtype=float)
    if m.ndim != 3:
        raise ValueError(f"maps must have shape (n_maps, N, N), got {m.shape}")
    is_peak = np.ones(m.shape, dtype=bool)
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            if dx or dy:
                is_peak &= m > np.roll(m, (dx, dy), axis=(1, 2))
    return np.stack([np.histogram(mi[pi], edges)[0] for mi, pi in zip(m, is_peak, strict=True)])


def _derivatives(maps: np.ndarray) -> tuple[np.ndarray, ...]:
    """Spectral first and second derivatives (periodic): u_x, u_y, u_xx, u_yy, u_xy."""
    n = maps.shape[-1]
    kx, ky, _ = wavenumbers(n)
    # the Nyquist row/column has no well-defined odd derivative on an even grid
    nyq = np.isclose(np.abs(kx), np.pi) | np.isclose(np.abs(ky), np.pi)
    f = np.fft.fft2(maps) * ~nyq
    d = lambda mult: np.fft.ifft2(f * mult).real  # noqa: E731
    return d(1j * kx), d(1j * ky), d(-kx * kx), d(-ky * ky), d(-kx * ky)


def minkowski_functionals(maps: np.ndarray, thresholds: np.ndarray, width: float | None = None) -> np.ndarray:
    """The three Minkowski functionals of the excursion sets {u > nu} per unit area, averaged over maps.

    ``u`` is each map divided by the standard deviation of all maps (means are not subtracted).
    V0 = area fraction; V1 = boundary length / (4 area); V2 = Euler characteristic / area, with
    V1 = (1/4A) ∫ delta(u - nu) |grad u| dA and V2 = (1/2 pi A) ∫ delta(u - nu) kappa |grad u| dA,
    kappa the curvature of the level line, and delta replaced by a box of ``width`` (default: the
    threshold spacing). Derivatives are spectral. Returns (3, n_thresholds).
    """
    m = np.asarray(maps, dtype=float)
    if m.ndim == 2:
        m = m[None]
    nu = np.asarray(thresholds, dtype=float)
    if width is None:
        width = float(np.median(np.diff(nu))) if len(nu) > 1 else 0.1
    u = m / m.std()
    ux, uy, uxx, uyy, uxy = _derivatives(u)
    grad2 = ux**2 + uy**2
    grad = np.sqrt(grad2)
    curv = (2 * ux * uy * uxy - ux**2 * uyy - uy**2 * uxx) / np.maximum(grad2, 1e-12)
    out = np.empty((3, len(nu)))
    for i, v in enumerate(nu):
        box = (np.abs(u - v) < width / 2) / width
        out[0, i] = (u > v).mean()
        out[1, i] = (box * grad).mean() / 4
        out[2, i] = (box * curv).mean() / (2 * np.pi)
    return out


def spectral_lambda(power: Callable[[np.ndarray], np.ndarray], n: int) -> float:
    """lambda = <(du/dx)^2> / <u^2> of the Gaussian field with spectrum P on the grid (Nyquist modes dropped)."""
    kx, ky, k = wavenumbers(n)
    p = power(k) * ~(np.isclose(np.abs(kx), np.pi) | np.isclose(np.abs(ky), np.pi))
    return float((kx**2 * p).sum() / power(k).sum())


def gaussian_minkowski(thresholds: np.ndarray, lam: float) -> np.ndarray:
    """Tomita (1986) predictions for a 2D Gaussian field, in the units of ``minkowski_functionals``.

    V0 = erfc(nu / sqrt 2) / 2, V1 = sqrt(lam) / 8 exp(-nu^2 / 2), V2 = lam nu exp(-nu^2 / 2) / (2 pi)^(3/2),
    where lam = <(du/dx)^2> / <u^2>. Returns (3, n_thresholds).
    """
    validate.positive_float(lam, "lam")
    nu = np.asarray(thresholds, dtype=float)
    g = np.exp(-(nu**2) / 2)
    return np.stack([0.5 * erfc(nu / np.sqrt(2)), np.sqrt(lam) / 8 * g, lam * nu * g / (2 * np.pi) ** 1.5])


# --------------------------------------------------------------------------- the generative model

class GaussianizationFlow(nn.Module):
    """A two-layer normalizing flow for stationary, isotropic maps: x = h(IFFT(A(|k|) FFT(z))).

    ``z`` is white Gaussian noise (n, N, N); ``A(|k|) > 0`` is an isotropic Fourier filter
    (log A linear in |k| between knots at multiples of k_f); ``h`` is a learned pointwise
    monotone map whose inverse ``h^-1`` is piecewise linear between fixed knots ``s_j`` of the
    data values (with positive slopes, extended linearly beyond the end knots), so both
    directions are exact and cheap. The density is exact:
    ``log p(x) = log N(z) - sum_k log A(k) + sum_pixels log h^-1'(x)``.
    With ``pointwise=False`` h is the identity and the model is a stationary Gaussian field.
    """

    def __init__(self, n: int, knots: Tensor | np.ndarray | None = None, pointwise: bool = True):
        super().__init__()
        self.n = _check_n(n)
        kf = 2 * np.pi / n
        kk = wavenumbers(n)[2] / kf
        idx = np.floor(kk).astype(np.int64)
        self.register_buffer("idx", torch.as_tensor(idx))
        self.register_buffer("frac", torch.as_tensor(kk - idx, dtype=torch.float32))
        self.log_a = nn.Parameter(torch.zeros(int(idx.max()) + 2))
        self.pointwise = pointwise
        if knots is None:
            knots = torch.linspace(-5, 5, 33)
        knots = torch.as_tensor(knots, dtype=torch.float32)
        if knots.ndim != 1 or len(knots) < 2 or bool((knots.diff() <= 0).any()):
            raise ValueError("knots must be a strictly increasing 1-D array with at least 2 entries")
        self.register_buffer("knots", knots)
        self.log_slope = nn.Parameter(torch.zeros(len(knots) - 1), requires_grad=pointwise)
        self.bias = nn.Parameter(knots[0].clone(), requires_grad=pointwise)

    def log_filter(self) -> Tensor:
        """log A on the full FFT grid: (N, N)."""
        la = self.log_a
        return (1 - self.frac) * la[self.idx] + self.frac * la[(self.idx + 1).clamp(max=len(la) - 1)]

    def knot_values(self) -> Tensor:
        """u_j = h^-1(s_j) at the knots: (K,)."""
        slopes = self.log_slope.exp()
        return torch.cat([self.bias[None], self.bias + torch.cumsum(slopes * self.knots.diff(), 0)])

    def h_inverse(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """u = h^-1(x) and log h^-1'(x), elementwise."""
        i = (torch.bucketize(x.contiguous(), self.knots) - 1).clamp(0, len(self.knots) - 2)
        u = self.knot_values()[i] + self.log_slope.exp()[i] * (x - self.knots[i])
        return u, self.log_slope[i]

    def h(self, u: Tensor) -> Tensor:
        """x = h(u), the exact inverse of ``h_inverse``."""
        uk = self.knot_values()
        i = (torch.bucketize(u.contiguous(), uk) - 1).clamp(0, len(uk) - 2)
        return self.knots[i] + (u - uk[i]) / self.log_slope.exp()[i]

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact log-density of maps x (batch, N, N) -> (batch,), in nats."""
        if x.ndim != 3 or x.shape[1:] != (self.n, self.n):
            raise ValueError(f"x must have shape (batch, {self.n}, {self.n}), got {tuple(x.shape)}")
        u, log_d = self.h_inverse(x)
        la = self.log_filter()
        z = torch.fft.ifft2(torch.fft.fft2(u) * torch.exp(-la)).real
        log_n = -0.5 * (z**2).sum((1, 2)) - 0.5 * self.n**2 * math.log(2 * math.pi)
        return log_n - la.sum() + log_d.sum((1, 2))

    @torch.no_grad()
    def sample(self, n_maps: int, generator: torch.Generator | None = None) -> Tensor:
        """Draw (n_maps, N, N) maps: filter white noise, then apply h pointwise."""
        z = torch.randn(n_maps, self.n, self.n, generator=generator).to(self.log_a.device)
        u = torch.fft.ifft2(torch.fft.fft2(z) * torch.exp(self.log_filter())).real
        return self.h(u)


@dataclass
class FlowFit:
    """What ``fit_flow`` returns: the model and the training negative log-likelihood per pixel."""

    model: GaussianizationFlow
    history: dict[str, list[float]] = field(default_factory=dict)


def _match_shell_power(model: GaussianizationFlow, target: Tensor, j: Tensor, cnt: Tensor,
                       n_iter: int = 100) -> None:
    """Set ``model.log_a`` so that the filter's power A^2, averaged over the modes of each shell
    j = round(|k| / k_f) as ``power_spectrum`` averages, equals ``target[j]``.

    log A is interpolated linearly between integer |k| / k_f, so a mode of shell j also reads the
    knots j - 1 or j + 1; setting knot j to the shell's average alone would give the shell too
    little power where the spectrum falls steeply (a quarter too little in shell 1 for the
    chapter's maps). Each knot weighs at least 1/2 in its own shell's modes, so the fixed-point
    iteration log A_j += 0.5 log(target_j / model_j) converges.
    """
    filled = cnt > 0
    la = 0.5 * torch.log(target.clamp(min=1e-12))
    la[~filled] = la[filled][-1]
    for _ in range(n_iter):
        model.log_a.copy_(la)
        filter_power = torch.exp(2 * model.log_filter()).flatten()  # A^2 per mode
        power = torch.zeros_like(target).index_add_(0, j, filter_power) / cnt.clamp(min=1)
        step = 0.5 * torch.log(target.clamp(min=1e-12) / power.clamp(min=1e-12))
        la = la + torch.where(filled, step, torch.zeros_like(step))
        la[~filled] = la[filled][-1]
    model.log_a.copy_(la)


def fit_flow(maps: np.ndarray, *, n_steps: int = 300, batch_size: int = 256, lr: float = 0.01,
             pointwise: bool = True, n_knots: int = 48, seed: int = 0, progress: bool = True) -> FlowFit:
    """Fit a ``GaussianizationFlow`` to maps (n_maps, N, N) by maximum likelihood (Adam, cosine decay).

    Initialisation is one step of Gaussianization (Chen & Gopinath 2000): the pointwise map starts
    at the empirical marginal transform s -> Phi^-1(F(s)) on knots at Gaussian quantiles of the
    data, and the filter so that its power, averaged over each shell of ``power_spectrum``, equals
    the measured power of the Gaussianized maps (``_match_shell_power``).
    Maximum likelihood then adjusts both jointly.
    """
    from scipy.stats import norm
    from tqdm.auto import tqdm

    x = torch.as_tensor(np.asarray(maps), dtype=torch.float32)
    if x.ndim != 3 or x.shape[1] != x.shape[2]:
        raise ValueError(f"maps must have shape (n_maps, N, N), got {tuple(x.shape)}")
    validate.positive_int(n_steps, "n_steps", minimum=0)
    validate.positive_int(batch_size, "batch_size")
    validate.positive_int(n_knots, "n_knots", minimum=2)
    torch.manual_seed(seed_for(seed))
    gen = generator(seed)
    flat = x.flatten().numpy()
    if pointwise:
        q = norm.cdf(np.linspace(-1, 1, n_knots) * norm.ppf(1 - 2.0 / flat.size))
        knots = np.unique(np.quantile(flat, q).astype(np.float32))
        model = GaussianizationFlow(x.shape[1], knots=knots, pointwise=True)
        target = norm.ppf(np.clip(q[: len(knots)], 1e-12, 1 - 1e-12)) if len(knots) == n_knots else None
        with torch.no_grad():
            if target is not None:
                model.bias.fill_(float(target[0]))
                model.log_slope.copy_(torch.log(torch.as_tensor(np.diff(target) / np.diff(knots), dtype=torch.float32)))
    else:
        model = GaussianizationFlow(x.shape[1], pointwise=False)
        with torch.no_grad():
            model.log_slope.zero_()
            model.bias.fill_(float(model.knots[0]))
    with torch.no_grad():  # filter: the shell-averaged power of h^-1(x), matched shell by shell
        u = model.h_inverse(x)[0]
        p = (torch.fft.fft2(u).abs() ** 2).mean(0) / model.n**2
        j = torch.as_tensor(shell_index(model.n)).flatten()
        cnt = torch.zeros(len(model.log_a)).index_add_(0, j, torch.ones(j.numel()))
        target = torch.zeros(len(model.log_a)).index_add_(0, j, p.flatten().float()) / cnt.clamp(min=1)
        _match_shell_power(model, target, j, cnt)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(n_steps, 1))
    hist: dict[str, list[float]] = {"nll_per_pixel": []}
    for _ in tqdm(range(n_steps), desc="Gaussianization flow", disable=not progress):
        idx = torch.randint(len(x), (min(batch_size, len(x)),), generator=gen)
        loss = -model.log_prob(x[idx]).mean() / model.n**2
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        hist["nll_per_pixel"].append(loss.item())
    return FlowFit(model.eval(), hist)
