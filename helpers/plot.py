"""Plotting helpers: the book's style (applied only when asked) and 2D density views."""

from __future__ import annotations

import os
from collections.abc import Callable

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import Tensor

from helpers import validate

# Colour cycle that stays distinguishable in grey scale (dark/light alternation).
BOOK_COLORS = ["#1b4f72", "#e67e22", "#117a65", "#c0392b", "#7d3c98", "#7f8c8d"]


BOOK_BUILD_ENV = "GM4S_BOOK_BUILD"


def building_book() -> bool:
    """True while the notebook is executed to build the HTML book (or by the test suite).

    A cell that draws a static stand-in for an interactive widget runs only then: the HTML
    shows the static figure, while a reader running the notebook live gets the widget alone.
    ``make book`` and the test suite set the environment variable ``GM4S_BOOK_BUILD=1``.
    """
    return os.environ.get(BOOK_BUILD_ENV, "") == "1"


def use_book_style() -> None:
    """Apply the book's matplotlib style (call once at the top of a chapter)."""
    mpl.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": 100,
            "figure.figsize": (6.0, 4.0),
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.prop_cycle": mpl.cycler(color=BOOK_COLORS),
            "image.cmap": "viridis",
            "font.size": 10,
            "axes.titlesize": 11,
            "legend.frameon": False,
        }
    )


def scatter2d(ax: plt.Axes, x: Tensor | np.ndarray, title: str = "", **kwargs) -> plt.Axes:
    """Scatter 2D points x: (n, 2) on ``ax`` with equal aspect and labelled axes."""
    pts = np.asarray(x.detach().cpu() if isinstance(x, Tensor) else x)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"scatter2d expects points of shape (n, 2), got {pts.shape}")
    kwargs = {"s": 2, "alpha": 0.5, **kwargs}
    ax.scatter(pts[:, 0], pts[:, 1], **kwargs)
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title)
    return ax


def density_grid(
    log_prob: Callable[[Tensor], Tensor],
    lim: tuple[float, float] = (-2.0, 2.0),
    n: int = 200,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Evaluate exp(log_prob) on an n x n grid over lim^2.

    Returns ``(xs, ys, density)`` with density of shape (n, n), rows indexed by y.
    """
    lo, hi = float(lim[0]), float(lim[1])
    if not hi > lo:
        raise ValueError(f"density_grid needs lim=(lo, hi) with hi > lo, got {lim}")
    validate.positive_int(n, "n", minimum=2)
    xs = np.linspace(lo, hi, n)
    gx, gy = np.meshgrid(xs, xs)
    pts = torch.tensor(np.stack([gx.ravel(), gy.ravel()], 1), dtype=torch.float32)
    with torch.no_grad():
        dens = log_prob(pts).exp().reshape(n, n).cpu().numpy()
    return xs, xs, dens


def plot_density(
    ax: plt.Axes,
    log_prob: Callable[[Tensor], Tensor],
    lim: tuple[float, float] = (-2.0, 2.0),
    n: int = 200,
    title: str = "",
) -> plt.Axes:
    """Show the density exp(log_prob) over lim^2 as an image with labelled axes."""
    xs, ys, dens = density_grid(log_prob, lim, n)
    ax.imshow(dens, origin="lower", extent=(xs[0], xs[-1], ys[0], ys[-1]), cmap="viridis")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.grid(False)
    if title:
        ax.set_title(title)
    return ax
