"""Checks of the capstone chapters' coding exercises (see ``helpers.checks`` for the machinery).

- ``check_elbo_estimate``: a one-sample reparameterized ELBO from given noise (the VAE & GAN
  simulation chapter).
- ``check_energy_distance``: the unbiased two-sample energy distance (the comparison chapter).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from helpers import metrics, vae
from helpers.checks import Case, check_function, randn_code

__all__ = ["check_elbo_estimate", "check_energy_distance"]

Decoder = Callable[[Tensor], Tensor]


# ----------------------------------------------------------------- the reparameterized ELBO

def _reference_elbo(x: Tensor, mu: Tensor, logvar: Tensor, eps: Tensor, decoder: Decoder,
                  obs_logvar: Tensor) -> Tensor:
    """Reference: one-sample ELBO per example, (batch,), with z = mu + exp(logvar / 2) * eps.

    x: (batch, D); mu, logvar, eps: (batch, d); decoder maps (batch, d) -> (batch, D) means;
    obs_logvar: scalar or (D,) log-variance of the Gaussian likelihood.
    """
    z = mu + torch.exp(0.5 * logvar) * eps
    return vae.gaussian_log_likelihood(x, decoder(z), obs_logvar) - vae.gaussian_kl(mu, logvar)


def _elbo_var_not_std(x, mu, logvar, eps, decoder, obs_logvar):
    z = mu + torch.exp(logvar) * eps
    return vae.gaussian_log_likelihood(x, decoder(z), obs_logvar) - vae.gaussian_kl(mu, logvar)


def _elbo_plus_kl(x, mu, logvar, eps, decoder, obs_logvar):
    z = mu + torch.exp(0.5 * logvar) * eps
    return vae.gaussian_log_likelihood(x, decoder(z), obs_logvar) + vae.gaussian_kl(mu, logvar)


def _elbo_no_constant(x, mu, logvar, eps, decoder, obs_logvar):
    z = mu + torch.exp(0.5 * logvar) * eps
    rec = -0.5 * ((x - decoder(z)) ** 2 / obs_logvar.exp()).sum(-1)
    return rec - vae.gaussian_kl(mu, logvar)


def _elbo_logvar_as_var(x, mu, logvar, eps, decoder, obs_logvar):
    z = mu + logvar.sqrt() * eps
    kl = 0.5 * (logvar + mu**2 - 1 - logvar.log()).sum(-1)
    return vae.gaussian_log_likelihood(x, decoder(z), obs_logvar) - kl


def _elbo_mean_z(x, mu, logvar, eps, decoder, obs_logvar):
    return vae.gaussian_log_likelihood(x, decoder(mu), obs_logvar) - vae.gaussian_kl(mu, logvar)


_DECODERS = {
    "linear": "w = torch.randn(2, 2, generator=torch.Generator().manual_seed(7))\n"
              "def decoder(z):\n    return z @ w.T + 0.5",
    "mlp": "w = torch.randn(2, 2, generator=torch.Generator().manual_seed(7))\n"
           "def decoder(z):\n    return torch.tanh(z @ w) * 3 - z",
}


def _elbo_cases() -> list[Case]:
    def case(n: int, seed: int, logvar_scale: float, obs: str, dec: str, what: str) -> Case:
        x, mu, lv, eps = (randn_code(n, 2, seed=seed + i) for i in range(4))
        return Case.of(f"{x} * 2, {mu}, {lv} * {logvar_scale} - 1.0, {eps}, decoder, {obs}", what, _DECODERS[dec])

    return [
        case(4, 10, 0.5, "torch.tensor(0.0)", "linear", "a linear decoder, unit observation variance"),
        case(16, 20, 1.0, "torch.tensor(math.log(0.1))", "mlp", "a nonlinear decoder, sigma^2 = 0.1"),
        case(8, 30, 0.3, "torch.tensor([-2.0, 0.5])", "linear", "a per-dimension observation variance"),
    ]


def check_elbo_estimate(student_fn) -> None:
    """Check ``elbo_estimate(x, mu, logvar, eps, decoder, obs_logvar) -> (batch,)``."""
    check_function(
        student_fn, _reference_elbo, _elbo_cases(), name="elbo_estimate",
        known_mistakes={
            "z = mu + exp(logvar) * eps uses the VARIANCE as the scale; the standard deviation is "
            "exp(logvar / 2)": _elbo_var_not_std,
            "sign mistake: the ELBO SUBTRACTS the KL divergence from the reconstruction term": _elbo_plus_kl,
            "the Gaussian log-likelihood lost its constant -1/2 (log 2 pi + obs_logvar) per dimension; "
            "it matters as soon as sigma is learned or models are compared in nats": _elbo_no_constant,
            "you decoded the mean mu instead of the reparameterized sample z = mu + sigma * eps": _elbo_mean_z,
            "logvar was treated as the variance: sigma^2 = exp(logvar), so z = mu + exp(logvar / 2) * eps and "
            "the KL uses exp(logvar) and logvar itself": _elbo_logvar_as_var,
        },
        nan_hint="logvar is log sigma^2 and is often negative: sigma = exp(logvar / 2) and sigma^2 = exp(logvar). "
                 "A square root or a log of logvar itself gives NaN",
    )


# ----------------------------------------------------------------- the energy distance

def _pair_mean(a: Tensor, b: Tensor) -> Tensor:
    return torch.cdist(a.double(), b.double()).mean()


def _ed_biased(x: Tensor, y: Tensor) -> float:
    return float(2 * _pair_mean(x, y) - _pair_mean(x, x) - _pair_mean(y, y))


def _ed_no_two(x: Tensor, y: Tensor) -> float:
    return metrics.energy_distance(x, y) - float(_pair_mean(x, y))


def _ed_squared(x: Tensor, y: Tensor) -> float:
    def within(a: Tensor) -> Tensor:
        n = a.shape[0]
        return torch.cdist(a.double(), a.double()).pow(2).sum() / (n * (n - 1))

    return float(2 * torch.cdist(x.double(), y.double()).pow(2).mean() - within(x) - within(y))


def _ed_cases() -> list[Case]:
    return [
        Case((torch.tensor([[0.0, 0.0], [1.0, 0.0]]), torch.tensor([[0.0, 1.0], [2.0, 2.0], [1.0, 1.0]])),
             description="2 and 3 points"),
        Case.of(f"{randn_code(50, 2, seed=1)}, {randn_code(40, 2, seed=2)} + 1.0", "shifted"),
        Case.of(f"{randn_code(30, 3, seed=3)}, {randn_code(30, 3, seed=4)}", "same law, 3D"),
    ]


def check_energy_distance(student_fn) -> None:
    """Check ``energy_distance(x, y) -> float``: 2 E|X-Y| - E|X-X'| - E|Y-Y'| with U-statistics."""
    check_function(
        student_fn, metrics.energy_distance, _ed_cases(), name="energy_distance", atol=1e-4, rtol=1e-3,
        known_mistakes={
            "you averaged |X - X'| over all n^2 pairs, including the n zero distances of a point to itself; "
            "divide the within-sample sums by n (n - 1) so the estimate is unbiased": _ed_biased,
            "the cross term is 2 E|X - Y|, not E|X - Y|": _ed_no_two,
            "you used SQUARED distances; for squared distances the statistic only compares means": _ed_squared,
        },
    )
