"""Data sets the chapters train on, all generated in code or shipped in a wheel.

The 2D toys carry their exact density, so a chapter can compare a model with
the truth: ``ring`` and ``grid`` are the mode-coverage benchmarks of VEEGAN
(Srivastava et al. 2017) and PacGAN (Lin et al. 2018); ``two_moons`` samples
scikit-learn's moons i.i.d. along the arcs. ``load_digits`` wraps the 8x8
digits that ship inside scikit-learn (Alpaydin & Kaynak 1998, UCI, CC BY 4.0).
See the introduction ("Data") and the GAN chapter (mode coverage).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from helpers import validate

__all__ = [
    "Checkerboard",
    "Digits",
    "GaussianMixture",
    "TwoMoons",
    "eight_gaussians",
    "grid",
    "load_digits",
    "ring",
    "toy",
]

SampleShape = int | Sequence[int] | torch.Size


def _as_shape(sample_shape: SampleShape) -> torch.Size:
    if isinstance(sample_shape, bool):
        raise TypeError(f"sample_shape must be an int or a tuple of ints, got {sample_shape!r}")
    if isinstance(sample_shape, (int, np.integer)):
        sample_shape = (int(sample_shape),)
    try:
        shape = torch.Size(int(s) for s in sample_shape)
    except (TypeError, ValueError):
        raise TypeError(f"sample_shape must be an int or a tuple of ints, got {sample_shape!r}") from None
    if any(s < 0 for s in shape):
        raise ValueError(f"sample_shape must be non-negative, got {tuple(shape)}")
    return shape


class GaussianMixture:
    """Isotropic Gaussian mixture  p(x) = sum_k w_k N(x; mu_k, std^2 I).

    Args:
        means: (n_modes, dim) mode centres.
        std: the common standard deviation of every mode (> 0).
        weights: (n_modes,) non-negative mixture weights (normalised here);
            equal weights when omitted.
    """

    def __init__(self, means: Tensor, std: float, weights: Tensor | None = None) -> None:
        means = torch.as_tensor(means, dtype=torch.float32)
        if means.ndim != 2 or means.shape[0] < 1:
            raise ValueError(f"means must have shape (n_modes, dim), got {tuple(means.shape)}")
        self.means = means
        self.std = validate.positive_float(std, "std")
        k = means.shape[0]
        if weights is None:
            weights = torch.full((k,), 1.0 / k)
        weights = torch.as_tensor(weights, dtype=torch.float32)
        if weights.shape != (k,) or bool((weights < 0).any()) or float(weights.sum()) <= 0:
            raise ValueError(
                f"weights must be {k} non-negative numbers with a positive sum, got {weights.tolist()}"
            )
        self.weights = weights / weights.sum()

    @property
    def dim(self) -> int:
        return int(self.means.shape[1])

    @property
    def n_modes(self) -> int:
        return int(self.means.shape[0])

    def sample(self, sample_shape: SampleShape, generator: torch.Generator | None = None) -> Tensor:
        """Draw samples of shape (*sample_shape, dim)."""
        shape = _as_shape(sample_shape)
        n = int(np.prod(shape)) if len(shape) else 1
        idx = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        eps = torch.randn(n, self.dim, generator=generator)
        return (self.means[idx] + self.std * eps).reshape(*shape, self.dim)

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact log-density of x: (..., dim) -> (...)."""
        validate.tensor(x, "x", shape=(..., self.dim), floating=True)
        means = self.means.to(x)
        sq = ((x.unsqueeze(-2) - means) ** 2).sum(-1)  # (..., n_modes)
        log_norm = -0.5 * self.dim * math.log(2 * math.pi * self.std**2)
        log_comp = log_norm - 0.5 * sq / self.std**2 + self.weights.to(x).log()
        return torch.logsumexp(log_comp, dim=-1)

    def __repr__(self) -> str:
        return f"GaussianMixture(n_modes={self.n_modes}, dim={self.dim}, std={self.std})"


def ring(n_modes: int = 8, radius: float = 1.0, std: float = 0.01) -> GaussianMixture:
    """Equal-weight modes at radius*(cos 2pi i/n, sin 2pi i/n), i = 0..n-1.

    The defaults are the 8-mode ring of VEEGAN and PacGAN (std 0.01).
    """
    n_modes = validate.positive_int(n_modes, "n_modes")
    radius = validate.positive_float(radius, "radius")
    angles = 2 * math.pi * torch.arange(n_modes, dtype=torch.float64) / n_modes
    means = radius * torch.stack([angles.cos(), angles.sin()], dim=1)
    return GaussianMixture(means.float(), std)


def grid(n_per_side: int = 5, spacing: float = 2.0, std: float = 0.05) -> GaussianMixture:
    """Equal-weight modes on an n x n grid centred at the origin.

    The defaults are the 25 modes at {-4,-2,0,2,4}^2 of VEEGAN and PacGAN (std 0.05).
    """
    n = validate.positive_int(n_per_side, "n_per_side")
    spacing = validate.positive_float(spacing, "spacing")
    ticks = spacing * (torch.arange(n, dtype=torch.float32) - (n - 1) / 2)
    gx, gy = torch.meshgrid(ticks, ticks, indexing="ij")
    return GaussianMixture(torch.stack([gx.flatten(), gy.flatten()], dim=1), std)


def eight_gaussians(radius: float = 4.0, std: float = 0.5, divisor: float = 1.414) -> GaussianMixture:
    """The 8-Gaussian ring of the FFJORD toy set (Grathwohl et al. 2019), with its exact density.

    Centres at ``radius`` times the 8 unit vectors at multiples of 45 degrees, std ``std``,
    every point then divided by ``divisor``: with the defaults, means at radius 4/1.414 and std
    0.5/1.414, for which H(p) = 2.832 nats by quadrature. See the normalizing-flows chapter.
    """
    radius, std = validate.positive_float(radius, "radius"), validate.positive_float(std, "std")
    divisor = validate.positive_float(divisor, "divisor")
    return ring(8, radius / divisor, std / divisor)


class Checkerboard:
    """The checkerboard of the FFJORD toy set: uniform on 8 of the 16 unit-2 squares of [-4, 4]^2.

    The square with corner (-4 + 2i, -4 + 2j), i, j = 0..3, is filled when i + j is even, as
    in FFJORD's sampler. The density is 1/32 on the filled squares and 0 elsewhere, so
    H(p) = ln 32 = 3.466 nats exactly. See the normalizing-flows chapter.
    """

    dim = 2

    def sample(self, sample_shape: SampleShape, generator: torch.Generator | None = None) -> Tensor:
        """Draw i.i.d. samples of shape (*sample_shape, 2)."""
        shape = _as_shape(sample_shape)
        n = int(np.prod(shape)) if len(shape) else 1
        i = torch.randint(0, 4, (n,), generator=generator)
        j = 2 * torch.randint(0, 2, (n,), generator=generator) + i % 2
        corner = torch.stack([i, j], dim=1).float() * 2 - 4
        x = corner + 2 * torch.rand(n, 2, generator=generator)
        return x.reshape(*shape, 2)

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact log-density: -ln 32 on the filled squares, -inf elsewhere; (..., 2) -> (...)."""
        validate.tensor(x, "x", shape=(..., 2), floating=True)
        cell = torch.floor((x + 4) / 2)
        inside = ((x >= -4) & (x < 4)).all(-1) & (cell.sum(-1) % 2 == 0)
        return torch.where(inside, torch.full_like(x[..., 0], -math.log(32.0)),
                           torch.full_like(x[..., 0], -math.inf))

    def __repr__(self) -> str:
        return "Checkerboard()"


class TwoMoons:
    """scikit-learn's two moons, sampled i.i.d., with their exact density.

    A point is ``scale * (arc(theta) + noise * eps)`` with the arc chosen with
    probability 1/2, ``theta ~ U(0, pi)`` and ``eps ~ N(0, I)``; the arcs are
    sklearn's ``(cos t, sin t)`` and ``(1 - cos t, 0.5 - sin t)``. Unlike
    ``sklearn.datasets.make_moons``, which spaces points evenly along the arcs,
    these samples are independent, as a two-sample test needs.

    ``log_prob`` integrates the Gaussian over theta by the midpoint rule with
    ``n_quad`` nodes per arc. The arcs do not wrap around, so the rule's error falls as
    ``n_quad**-2``: with the default 2,000 nodes it is below 1e-4 nats everywhere (largest near
    the arcs' ends) and far smaller on average.
    """

    def __init__(self, noise: float = 0.1, scale: float = 1.0, n_quad: int = 2000) -> None:
        self.noise = validate.positive_float(noise, "noise")
        self.scale = validate.positive_float(scale, "scale")
        self.n_quad = validate.positive_int(n_quad, "n_quad", minimum=10)

    dim = 2

    @staticmethod
    def _arcs(theta: Tensor, upper: Tensor) -> Tensor:
        a = torch.stack([theta.cos(), theta.sin()], dim=-1)
        b = torch.stack([1 - theta.cos(), 0.5 - theta.sin()], dim=-1)
        return torch.where(upper.unsqueeze(-1), a, b)

    def sample(self, sample_shape: SampleShape, generator: torch.Generator | None = None) -> Tensor:
        """Draw i.i.d. samples of shape (*sample_shape, 2)."""
        shape = _as_shape(sample_shape)
        n = int(np.prod(shape)) if len(shape) else 1
        theta = math.pi * torch.rand(n, generator=generator)
        upper = torch.rand(n, generator=generator) < 0.5
        eps = torch.randn(n, 2, generator=generator)
        x = self.scale * (self._arcs(theta, upper) + self.noise * eps)
        return x.reshape(*shape, 2)

    def log_prob(self, x: Tensor, chunk: int = 4096) -> Tensor:
        """Log-density of x: (..., 2) -> (...), by quadrature along the arcs."""
        validate.tensor(x, "x", shape=(..., 2), floating=True)
        theta = (torch.arange(self.n_quad, dtype=torch.float64) + 0.5) * math.pi / self.n_quad
        nodes = torch.cat(
            [
                self._arcs(theta, torch.ones_like(theta, dtype=torch.bool)),
                self._arcs(theta, torch.zeros_like(theta, dtype=torch.bool)),
            ]
        )  # (2 n_quad, 2): both arcs, each node weight 1 / (2 n_quad)
        flat = x.reshape(-1, 2).to(torch.float64) / self.scale
        s2 = self.noise**2
        log_const = -math.log(2 * math.pi * s2) - math.log(2 * self.n_quad) - 2 * math.log(self.scale)
        out = []
        for start in range(0, flat.shape[0], chunk):
            sq = torch.cdist(flat[start : start + chunk], nodes) ** 2
            out.append(torch.logsumexp(-0.5 * sq / s2, dim=1) + log_const)
        res = torch.cat(out) if out else flat.new_zeros(0)
        return res.to(x.dtype).reshape(x.shape[:-1])

    def __repr__(self) -> str:
        return f"TwoMoons(noise={self.noise}, scale={self.scale})"


_TOYS = {"ring": ring, "grid": grid, "moons": TwoMoons, "8gaussians": eight_gaussians,
         "checkerboard": Checkerboard}


def toy(name: str, **kwargs: float) -> GaussianMixture | TwoMoons | Checkerboard:
    """Look a 2D toy distribution up by name: ``"ring"``, ``"grid"``, ``"moons"``,
    ``"8gaussians"`` or ``"checkerboard"``."""
    if name not in _TOYS:
        raise ValueError(f"unknown toy distribution {name!r}; expected one of {sorted(_TOYS)}")
    return _TOYS[name](**kwargs)


class Digits(NamedTuple):
    """The 8x8 digits: ``images`` (n, 64) float32 in [0, 1] (pixel / 16), ``labels`` (n,) int64."""

    images: Tensor
    labels: Tensor


N_DIGITS_TEST = 360


def load_digits(split: str = "train") -> Digits:
    """scikit-learn's 1,797 handwritten digits, 8x8 pixels, from inside the wheel.

    Pixels (integers 0..16 in the original) are divided by 16, so densities
    reported on them are densities of continuous values in [0, 1]^64.

    Args:
        split: ``"train"`` (1,437 images), ``"test"`` (360) or ``"all"`` (1,797).
            The split is a fixed permutation (seed 0), the same on every machine.
    """
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
    from sklearn.datasets import load_digits as _sk_load_digits

    bunch = _sk_load_digits()
    images = torch.tensor(bunch.data / 16.0, dtype=torch.float32)
    labels = torch.tensor(bunch.target, dtype=torch.int64)
    if split == "all":
        return Digits(images, labels)
    perm = torch.from_numpy(np.random.RandomState(0).permutation(len(labels)))
    idx = perm[N_DIGITS_TEST:] if split == "train" else perm[:N_DIGITS_TEST]
    return Digits(images[idx], labels[idx])
