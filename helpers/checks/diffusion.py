"""Checks for the coding exercises of the diffusion chapters (DDPM, score-based view, digits)."""

from __future__ import annotations

import torch
from torch import Tensor

from helpers import diffusion
from helpers.checks import Case, check_function, randn_code

_SCHEDULE = ("from helpers import diffusion\n"
             "abar = diffusion.make_schedule(diffusion.linear_beta_schedule({T})).alphas_cumprod.float()")
# (x0, t, noise, number of steps T, description), as source
_INPUTS = [
    (randn_code(4, 2, seed=1), "torch.tensor([0, 10, 500, 999])", randn_code(4, 2, seed=2), 1000,
     "4 points in 2D, one per timestep 0, 10, 500, 999"),
    (randn_code(3, 64, seed=3), "torch.tensor([250, 250, 750])", randn_code(3, 64, seed=4), 1000,
     "3 flattened 8x8 images"),
    (f"3.0 + {randn_code(5, 1, seed=5)}", "torch.tensor([1, 2, 3, 4, 5])", randn_code(5, 1, seed=6), 6,
     "1D points far from 0, a 6-step schedule"),
]


def _cases() -> list[Case]:
    """Arguments (x0, t, noise, alphas_cumprod) of q_sample; predict_x0 takes (x_t, t, eps, alphas_cumprod)."""
    return [Case.of(f"{x0}, {t}, {noise}, abar", what, _SCHEDULE.format(T=T)) for x0, t, noise, T, what in _INPUTS]


def _ref_q_sample(x0: Tensor, t: Tensor, noise: Tensor, alphas_cumprod: Tensor) -> Tensor:
    return diffusion.q_sample(x0, t, noise, alphas_cumprod)


def _q_sample_no_sqrt(x0: Tensor, t: Tensor, noise: Tensor, alphas_cumprod: Tensor) -> Tensor:
    a = alphas_cumprod[t].reshape(-1, *([1] * (x0.ndim - 1)))
    return a * x0 + (1 - a) * noise


def _q_sample_mean_sqrt_only(x0: Tensor, t: Tensor, noise: Tensor, alphas_cumprod: Tensor) -> Tensor:
    a = alphas_cumprod[t].reshape(-1, *([1] * (x0.ndim - 1)))
    return a.sqrt() * x0 + (1 - a) * noise


def _q_sample_alpha_not_cumprod(x0: Tensor, t: Tensor, noise: Tensor, alphas_cumprod: Tensor) -> Tensor:
    alphas = alphas_cumprod / torch.cat([alphas_cumprod.new_ones(1), alphas_cumprod[:-1]])
    a = alphas[t].reshape(-1, *([1] * (x0.ndim - 1)))
    return a.sqrt() * x0 + (1 - a).sqrt() * noise


def check_q_sample(q_sample) -> None:
    """Check a student's ``q_sample(x0: (B, ...), t: (B,), noise: (B, ...), alphas_cumprod: (T,))``."""
    check_function(
        q_sample,
        _ref_q_sample,
        _cases(),
        name="q_sample",
        known_mistakes={
            "the mean is √ᾱ_t x0 and the noise scale √(1 − ᾱ_t): you used ᾱ_t and 1 − ᾱ_t without the square roots":
                _q_sample_no_sqrt,
            "1 − ᾱ_t is the variance; the noise is scaled by its square root √(1 − ᾱ_t)": _q_sample_mean_sqrt_only,
            "use the cumulative product ᾱ_t = α_1···α_t, not the single-step α_t": _q_sample_alpha_not_cumprod,
        },
    )


def _ref_eps_to_score(eps: Tensor, t: Tensor, alphas_cumprod: Tensor) -> Tensor:
    return diffusion.eps_to_score(eps, t, alphas_cumprod)


def _score_no_sqrt(eps: Tensor, t: Tensor, alphas_cumprod: Tensor) -> Tensor:
    a = alphas_cumprod[t].reshape(-1, *([1] * (eps.ndim - 1)))
    return -eps / (1 - a)


def _score_wrong_sign(eps: Tensor, t: Tensor, alphas_cumprod: Tensor) -> Tensor:
    return -_ref_eps_to_score(eps, t, alphas_cumprod)


def _score_cases() -> list[Case]:
    """Arguments (eps, t, alphas_cumprod) of eps_to_score."""
    return [Case.of(f"{noise}, {t}, abar", what, _SCHEDULE.format(T=T)) for _, t, noise, T, what in _INPUTS]


def check_eps_to_score(eps_to_score) -> None:
    """Check a student's ``eps_to_score(eps: (B, ...), t: (B,), alphas_cumprod: (T,)) -> (B, ...)``."""
    check_function(
        eps_to_score,
        _ref_eps_to_score,
        _score_cases(),
        name="eps_to_score",
        known_mistakes={
            "divide by the standard deviation √(1 − ᾱ_t), not by the variance 1 − ᾱ_t": _score_no_sqrt,
            "the score points against the noise: ∇ log q = −ε / √(1 − ᾱ_t), with a minus sign": _score_wrong_sign,
        },
    )


def _ref_predict_x0(xt: Tensor, t: Tensor, eps: Tensor, alphas_cumprod: Tensor) -> Tensor:
    return diffusion.predict_x0(xt, t, eps, alphas_cumprod)


def _x0_forgot_scale(xt: Tensor, t: Tensor, eps: Tensor, alphas_cumprod: Tensor) -> Tensor:
    a = alphas_cumprod[t].reshape(-1, *([1] * (xt.ndim - 1)))
    return xt - (1 - a).sqrt() * eps


def _x0_no_sqrt(xt: Tensor, t: Tensor, eps: Tensor, alphas_cumprod: Tensor) -> Tensor:
    a = alphas_cumprod[t].reshape(-1, *([1] * (xt.ndim - 1)))
    return (xt - (1 - a) * eps) / a


def check_predict_x0(predict_x0) -> None:
    """Check a student's ``predict_x0(xt: (B, ...), t: (B,), eps: (B, ...), alphas_cumprod: (T,))``."""
    check_function(
        predict_x0,
        _ref_predict_x0,
        _cases(),
        name="predict_x0",
        atol=1e-4,
        known_mistakes={
            "after removing the noise, divide by √ᾱ_t to undo the shrinking of x0": _x0_forgot_scale,
            "use the square roots √ᾱ_t and √(1 − ᾱ_t), not ᾱ_t and 1 − ᾱ_t": _x0_no_sqrt,
        },
    )
