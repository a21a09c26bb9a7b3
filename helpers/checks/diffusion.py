"""Checks for the coding exercises of the diffusion chapters (DDPM, score-based view, digits)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from helpers import diffusion
from helpers.checks import Case, ExerciseError, call_student, check_function, randn_code

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


# --------------------------------------------------------------------------- the ancestral sampler
_MEAN, _STD = (2.0, -1.0), 0.5  # the data of the sampler's check: N(m, s^2 I) in 2D


def _exact_eps(betas: Tensor, calls: list[Tensor] | None = None) -> Callable[[Tensor, Tensor], Tensor]:
    """The optimal noise prediction E[eps | x_t] for data N(m, s^2 I); records the t of each call."""
    abar = torch.cumprod(1 - betas, 0)
    mean = torch.tensor(_MEAN, dtype=betas.dtype)

    def eps_model(x: Tensor, t: Tensor) -> Tensor:
        if calls is not None:
            calls.append(t.detach().clone() if isinstance(t, Tensor) else t)
        a = abar[t].reshape(-1, 1).to(x.dtype)
        return (1 - a).sqrt() * (x - a.sqrt() * mean) / (a * _STD**2 + 1 - a)

    return eps_model


def _reference_sampler(eps_model, betas: Tensor, shape, generator=None, *, noise: bool = True,
                       scale: str = "alpha") -> Tensor:
    alphas = 1 - betas
    abar = torch.cumprod(alphas, 0)
    x = torch.randn(shape, generator=generator, dtype=betas.dtype)
    for t in range(len(betas) - 1, -1, -1):
        eps = eps_model(x, torch.full((shape[0],), t, dtype=torch.long))
        div = alphas[t] if scale == "alpha" else abar[t]
        x = (x - betas[t] / (1 - abar[t]).sqrt() * eps) / div.sqrt()
        if t > 0 and noise:
            x = x + betas[t].sqrt() * torch.randn(shape, generator=generator, dtype=betas.dtype)
    return x


_SAMPLER_MISTAKES = {
    "no noise is added between the steps: x_{t-1} = mean + sigma_t z with sigma_t^2 = beta_t and z ~ N(0, I)":
        lambda m, b, s, g: _reference_sampler(m, b, s, g, noise=False),
    "the mean divides by sqrt(abar_t); the one-step reverse mean divides by sqrt(alpha_t) = sqrt(1 - beta_t)":
        lambda m, b, s, g: _reference_sampler(m, b, s, g, scale="abar"),
}


def _moments(x: Tensor) -> tuple[Tensor, Tensor]:
    return x.mean(0), x.var(0)


def _agree(x: Tensor, y: Tensor, n_se: float = 5.0) -> bool:
    """Do two large samples have the same mean and variance per dimension, within n_se standard errors?"""
    (mx, vx), (my, vy) = _moments(x), _moments(y)
    se_mean = (vx / x.shape[0] + vy / y.shape[0]).sqrt()
    se_var = (2 * vx**2 / x.shape[0] + 2 * vy**2 / y.shape[0]).sqrt()
    return bool(((mx - my).abs() <= n_se * se_mean).all() and ((vx - vy).abs() <= n_se * se_var).all())


def check_ancestral_sample(ancestral_sample) -> None:
    """Check ``ancestral_sample(eps_model, betas, shape, generator=None) -> (n, d)`` by the samples it draws.

    The noise model is the exact one for data N(m, s^2 I) (the optimal eps of the text), so a
    right sampler draws what the reference DDPM sampler (sigma_t^2 = beta_t, no noise after the
    last step) draws: its mean and variance per dimension must agree with the reference's within
    5 standard errors of 10,000 samples each, and it must query the model once per step, at
    t = T - 1 down to 0, with a (n,) tensor of integer timesteps.
    """
    name = "ancestral_sample"
    betas = torch.linspace(1e-4, 0.1, 100, dtype=torch.float64)
    shape = (10_000, 2)
    calls: list[Tensor] = []
    x = call_student(ancestral_sample, _exact_eps(betas, calls), betas.clone(), shape,
                     generator=torch.Generator().manual_seed(0), name=name,
                     what="with the exact noise model of N(m, s^2 I) data")
    if not isinstance(x, Tensor) or tuple(x.shape) != shape:
        raise ExerciseError(f"{name} should return a tensor of shape {shape}, got "
                            f"{tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__}")
    steps = list(calls)
    if len(steps) != len(betas):
        raise ExerciseError(f"{name} called the noise model {len(steps)} times; the sampler takes one step per "
                            f"timestep, {len(betas)} in all")
    for k, t in enumerate(steps):
        want = len(betas) - 1 - k
        if not (isinstance(t, Tensor) and t.shape == (shape[0],) and not t.is_floating_point()
                and bool((t == want).all())):
            raise ExerciseError(f"call {k + 1} of the noise model should pass t as a ({shape[0]},) integer tensor "
                                f"filled with {want} (the steps run from T - 1 = {len(betas) - 1} down to 0), "
                                f"got {t if not isinstance(t, Tensor) else (t.dtype, tuple(t.shape), t[:3].tolist())}")
    if not bool(torch.isfinite(x).all()):
        raise ExerciseError(f"{name} returned NaN or infinite values")
    ref = _reference_sampler(_exact_eps(betas), betas, shape, torch.Generator().manual_seed(1))
    if not _agree(x.detach().to(ref.dtype), ref):
        (m, v), (mr, vr) = _moments(x.detach().double()), _moments(ref)
        msg = (f"{name}'s samples do not have the distribution the reverse chain draws: mean {m.tolist()} and "
               f"variance {v.tolist()} per dimension, where the right sampler gives about {mr.tolist()} and "
               f"{vr.tolist()} (the data are N({list(_MEAN)}, {_STD}^2 I))")
        for mistake, wrong in _SAMPLER_MISTAKES.items():
            if _agree(x.detach().double(), wrong(_exact_eps(betas), betas, shape, torch.Generator().manual_seed(2))):
                msg += f"\n  hint: your samples match a common mistake: {mistake}"
                break
        raise ExerciseError(msg)
    print(f"✓ {name}: {len(betas)} steps, t = {len(betas) - 1} down to 0, and its 10,000 samples have the "
          "reverse chain's mean and variance")
