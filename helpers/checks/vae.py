"""Checks of the coding exercises in the VAE chapters (latent variable models, ELBO, training).

Each check runs the student's function on hidden cases against the reference in
``helpers.vae`` and names the typical mistakes: a KL that forgot the 1/2, a
reparameterization that uses the variance as the standard deviation, an IWAE
average that overflows, a pPCA covariance with sigma instead of sigma^2.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from helpers import vae
from helpers.checks import Case, ExerciseError, call_student, check_function, randn_code

__all__ = ["check_gaussian_kl", "check_iwae_from_log_weights", "check_ppca_log_prob", "check_reparameterize"]


def _g(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------- gaussian_kl
def _kl_cases() -> list[Case]:
    return [
        Case.of(f"{randn_code(5, 4, seed=1)}, {randn_code(5, 4, seed=2)}", "a batch of 5, d = 4"),
        Case((torch.zeros(2, 3), torch.zeros(2, 3)), description="q equals the prior: KL must be 0"),
        Case((torch.tensor([[1.0, -2.0]]), torch.zeros(1, 2)), description="unit variances, shifted means"),
        Case.of("torch.zeros(1, 2), torch.tensor([[math.log(4.0), math.log(0.25)]])",
                "zero means, variances 4 and 1/4"),
        Case.of(f"{randn_code(3, 1, seed=3, dtype='float64')}, {randn_code(3, 1, seed=4, dtype='float64')}",
                "d = 1, float64"),
    ]


_LOGVAR_NAN = ("logvar is log sigma^2 and is often negative: sigma = exp(logvar / 2) and sigma^2 = exp(logvar). "
               "A square root or a log of logvar itself gives NaN")

_KL_MISTAKES: dict[str, Callable] = {
    "mu^2 enters with a plus sign: KL = 1/2 sum(sigma^2 + mu^2 - 1 - log sigma^2)":
        lambda mu, lv: 0.5 * (lv.exp() - mu**2 - 1 - lv).sum(-1),
    "the factor 1/2 is missing": lambda mu, lv: (lv.exp() + mu**2 - 1 - lv).sum(-1),
    "logvar was used as the standard deviation (use sigma^2 = exp(logvar))":
        lambda mu, lv: 0.5 * (lv**2 + mu**2 - 1 - torch.log(lv**2)).sum(-1),
    "the '- 1' term is missing": lambda mu, lv: 0.5 * (lv.exp() + mu**2 - lv).sum(-1),
    "the sign of log sigma^2 is flipped": lambda mu, lv: 0.5 * (lv.exp() + mu**2 - 1 + lv).sum(-1),
    "you averaged over the latent dimensions instead of summing":
        lambda mu, lv: 0.5 * (lv.exp() + mu**2 - 1 - lv).mean(-1),
    "exp(logvar / 2) (sigma) was used where sigma^2 belongs":
        lambda mu, lv: 0.5 * ((0.5 * lv).exp() + mu**2 - 1 - lv).sum(-1),
}


def check_gaussian_kl(student_fn: Callable) -> None:
    """Check ``gaussian_kl(mu, logvar) -> (batch,)``: KL(N(mu, diag e^logvar) || N(0, I)) summed over dims."""
    check_function(student_fn, vae.gaussian_kl, _kl_cases(), name="gaussian_kl", known_mistakes=_KL_MISTAKES,
                   invariants={"a KL divergence is never negative": lambda got: bool((got >= -1e-6).all())},
                   nan_hint=_LOGVAR_NAN)


# --------------------------------------------------------------------------- reparameterize
def _reparam_cases() -> list[Case]:
    """Arguments (mu, logvar, seed); the student's function gets generator=torch.Generator().manual_seed(seed)."""
    def case(mu: str, logvar: str, seed: int, what: str) -> Case:
        scope = {"torch": torch, "math": math}
        return Case((eval(mu, scope), eval(logvar, scope), seed), description=what,  # noqa: S307 - our own source
                    code=f"{mu}, {logvar}, generator=torch.Generator().manual_seed({seed})")

    return [
        case("torch.zeros(4, 2)", "torch.zeros(4, 2)", 0, "standard normal"),
        case("torch.tensor([[3.0, -1.0]])", "torch.tensor([[math.log(9.0), math.log(0.01)]])", 1,
             "means 3, -1 with variances 9, 0.01"),
        case(randn_code(6, 3, seed=5), randn_code(6, 3, seed=6), 2, "a batch of 6, d = 3"),
    ]


def _with_seed(fn: Callable) -> Callable:
    return lambda mu, logvar, seed: fn(mu, logvar, generator=_g(seed))


def _reference_reparameterize(mu: Tensor, logvar: Tensor, seed: int) -> Tensor:
    return vae.reparameterize(mu, logvar, generator=_g(seed))


def _eps(mu: Tensor, seed: int) -> Tensor:
    return torch.randn(mu.shape, dtype=mu.dtype, generator=_g(seed))


_REPARAM_MISTAKES: dict[str, Callable] = {
    "exp(logvar) (the variance) was used as the standard deviation; use exp(logvar / 2)":
        lambda mu, lv, s: mu + lv.exp() * _eps(mu, s),
    "logvar was used as the standard deviation; use exp(logvar / 2)": lambda mu, lv, s: mu + lv * _eps(mu, s),
    "the mean mu is missing": lambda mu, lv, s: (0.5 * lv).exp() * _eps(mu, s),
}


def check_reparameterize(student_fn: Callable) -> None:
    """Check ``reparameterize(mu, logvar, generator=None)``: z = mu + exp(logvar/2) * eps, differentiable.

    The student's function must draw eps with ``torch.randn(mu.shape, generator=generator)``
    (or ``torch.randn_like``-free code that uses the generator) so its noise matches the reference.
    """
    if not callable(student_fn):
        raise ExerciseError(f"reparameterize should be a function, but it is {type(student_fn).__name__}")
    check_function(_with_seed(student_fn), _reference_reparameterize, _reparam_cases(), name="reparameterize",
                   known_mistakes=_REPARAM_MISTAKES, quiet=True)
    mu = torch.zeros(3, 2, requires_grad=True)
    logvar = torch.zeros(3, 2, requires_grad=True)
    z = student_fn(mu, logvar, generator=_g(0))
    if not z.requires_grad:
        raise ExerciseError("reparameterize returned a sample that does not depend on mu and logvar through autograd "
                            "(did you use .detach(), torch.no_grad() or Normal(...).sample()? the trick needs "
                            "z = mu + sigma * eps built from mu and logvar)")
    z.sum().backward()
    if mu.grad is None or logvar.grad is None or not torch.allclose(mu.grad, torch.ones_like(mu)):
        raise ExerciseError("the gradient of sum(z) with respect to mu should be 1 for every entry; "
                            f"got {None if mu.grad is None else mu.grad.tolist()}")
    print(f"✓ reparameterize: all {len(_reparam_cases())} checks passed, and z is differentiable in mu and logvar")


# --------------------------------------------------------------------------- IWAE from log-weights
def _reference_iwae(log_w: Tensor) -> Tensor:
    return vae.log_mean_exp(log_w, dim=0)


def _iwae_cases() -> list[Case]:
    return [
        Case((torch.zeros(5, 2),), description="all weights 1: the bound is 0"),
        Case.of("torch.log(torch.tensor([[1.0], [3.0]]))", "weights 1 and 3: log 2"),
        Case.of(randn_code(50, 4, seed=7), "k = 50, batch of 4"),
        Case((torch.tensor([[-1000.0, 800.0], [-1001.0, 805.0], [-999.0, 790.0]]),),
             description="log-weights near -1000 and +800, as for 64-pixel images"),
        Case.of(randn_code(1, 3, seed=8, dtype="float64"), "k = 1 equals the log-weight"),
    ]


_IWAE_MISTAKES: dict[str, Callable] = {
    "this is the mean of the log-weights (the ELBO estimate), not the log of the mean weight":
        lambda lw: lw.mean(0),
    "the - log k term is missing (logsumexp is the log of a sum, not of a mean)":
        lambda lw: torch.logsumexp(lw, 0),
    "you averaged over the batch dimension (dim 1) instead of the k samples (dim 0)":
        lambda lw: torch.logsumexp(lw, 1) - math.log(lw.shape[1]),
}


def check_iwae_from_log_weights(student_fn: Callable) -> None:
    """Check ``iwae_from_log_weights(log_w) -> (batch,)`` for log_w of shape (k, batch): log mean_k exp(log_w)."""
    check_function(student_fn, _reference_iwae, _iwae_cases(), name="iwae_from_log_weights",
                   known_mistakes=_IWAE_MISTAKES, rtol=1e-5)


# --------------------------------------------------------------------------- pPCA marginal
def _ppca_reference(x: Tensor, weight: Tensor, mean: Tensor, sigma2: float) -> Tensor:
    return vae.linear_gaussian_log_prob(x, weight, mean, sigma2)


def _ppca_cases() -> list[Case]:
    d64 = "float64"
    return [
        Case.of("torch.zeros(1, 2, dtype=torch.float64), torch.zeros(2, 1, dtype=torch.float64), "
                "torch.zeros(2, dtype=torch.float64), 1.0", "W = 0, sigma2 = 1: a standard normal in 2D"),
        Case.of(f"{randn_code(4, 3, seed=9, dtype=d64)}, {randn_code(3, 1, seed=10, dtype=d64)}, "
                f"{randn_code(3, seed=11, dtype=d64)}, 0.5", "D = 3, d = 1"),
        Case.of(f"{randn_code(6, 5, seed=12, dtype=d64)}, {randn_code(5, 2, seed=13, dtype=d64)}, "
                f"{randn_code(5, seed=14, dtype=d64)}, 0.04", "D = 5, d = 2, small noise"),
    ]


def _cov_mistake(cov_fn: Callable) -> Callable:
    def wrong(x: Tensor, w: Tensor, m: Tensor, s2: float) -> Tensor:
        cov = cov_fn(w, s2) * torch.ones(1, dtype=w.dtype)
        return torch.distributions.MultivariateNormal(m, covariance_matrix=cov).log_prob(x)
    return wrong


_PPCA_MISTAKES: dict[str, Callable] = {
    "the covariance used sigma instead of sigma^2: C = W W^T + sigma2 I":
        _cov_mistake(lambda w, s2: w @ w.T + math.sqrt(s2) * torch.eye(w.shape[0], dtype=w.dtype)),
    "the normalising constant -D/2 log(2 pi) is missing":
        lambda x, w, m, s2: _ppca_reference(x, w, m, s2) + 0.5 * x.shape[-1] * math.log(2 * math.pi),
    "the mean was left out: p(x) = N(x; mu, C)": lambda x, w, m, s2: _ppca_reference(x, w, torch.zeros_like(m), s2),
}


def check_ppca_log_prob(student_fn: Callable) -> None:
    """Check ``ppca_log_prob(x, W, mu, sigma2) -> (n,)``: log N(x; mu, W W^T + sigma2 I)."""
    check_function(student_fn, _ppca_reference, _ppca_cases(), name="ppca_log_prob",
                   known_mistakes=_PPCA_MISTAKES, atol=1e-6, rtol=1e-6)


# --------------------------------------------------------------------------- the IWAE bound of a model
def _ppca_problem() -> tuple[vae.PPCA, Tensor]:
    """A pPCA model with one latent dimension (so its exact posterior is a diagonal Gaussian) and 4 points."""
    g = _g(31)
    model = vae.PPCA(torch.randn(3, 1, generator=g, dtype=torch.float64), torch.randn(3, generator=g,
                     dtype=torch.float64), 0.5)
    return model, model.sample(4, generator=g)


def _log_joint(model: vae.PPCA) -> Callable[[Tensor, Tensor], Tensor]:
    def log_joint(x: Tensor, z: Tensor) -> Tensor:
        """log p(x, z) = log N(z; 0, I) + log N(x; W z + mu, sigma2 I): x (batch, D), z (k, batch, d) -> (k, batch)."""
        return vae.gaussian_log_likelihood(z, torch.zeros_like(z), 0.0) + model.log_likelihood(x, z)
    return log_joint


def _exact_encoder(model: vae.PPCA) -> Callable[[Tensor], tuple[Tensor, Tensor]]:
    def encoder(x: Tensor) -> tuple[Tensor, Tensor]:
        """The exact posterior p(z | x) as (mu, logvar), each (batch, 1)."""
        mean, cov = model.posterior(x)
        return mean, cov.diagonal().log().expand_as(mean)
    return encoder


def _prior_encoder(x: Tensor) -> tuple[Tensor, Tensor]:
    """q(z | x) = p(z) = N(0, 1) for every x: a poor proposal."""
    zeros = torch.zeros(x.shape[0], 1, dtype=x.dtype)
    return zeros, zeros.clone()


def check_iwae_bound(iwae_bound: Callable) -> None:
    """Check ``iwae_bound(x, encoder, log_joint, k, generator=None) -> (batch,)`` by what the bound must do.

    On a pPCA model with one latent dimension, whose posterior and marginal are exact:
    1. with the exact posterior as the encoder every importance weight is p(x), so the estimate
       equals log p(x) for any k and any noise;
    2. with the prior as the encoder, over 100 noise seeds the mean estimate stays below log p(x)
       (within 4 standard errors) and grows from k = 1 to k = 64 by more than 4 standard errors;
    3. for a point far from the data (log-weights near -10^5) it stays finite.
    """
    name = "iwae_bound"
    model, x = _ppca_problem()
    log_px = model.log_prob(x)
    log_joint = _log_joint(model)
    for k in (1, 5):
        out = call_student(iwae_bound, x.clone(), _exact_encoder(model), log_joint, k,
                           generator=_g(k), name=name, what=f"with the exact posterior, k = {k}")
        if not isinstance(out, Tensor) or out.shape != (x.shape[0],):
            raise ExerciseError(f"{name} should return a ({x.shape[0]},) tensor, one bound per point; got "
                                f"{tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__}")
        off = float((out - log_px).abs().max())
        if off > 1e-8:
            raise ExerciseError(
                f"with the exact posterior as the encoder (k = {k}) every weight p(x, z) / q(z | x) equals p(x), so "
                f"the bound must be log p(x) = {log_px.tolist()}; yours is {out.tolist()}. Check the log-weights: "
                "log p(x, z) minus the log-density of z under the encoder's Gaussian, summed over the latent "
                "dimensions.")
    runs = {k: torch.stack([call_student(iwae_bound, x, _prior_encoder, log_joint, k, generator=_g(1000 + s),
                                         name=name, guard=s == 0).detach() for s in range(100)]) for k in (1, 64)}
    m1, m64 = runs[1].mean(0), runs[64].mean(0)
    se64 = runs[64].std(0) / math.sqrt(100)
    if bool((m64 > log_px + 4 * se64).any()):
        raise ExerciseError(f"with the prior as the encoder, the mean of your k = 64 estimate over 100 seeds, "
                            f"{m64.tolist()}, lies above log p(x) = {log_px.tolist()}: a bound cannot")
    # summed over the 4 points, the gain from k = 1 to k = 64 against its standard error over the seeds
    gain = runs[64].sum(1) - runs[1].sum(1)
    if not float(gain.mean()) > 4 * float(gain.std()) / math.sqrt(100):
        raise ExerciseError(
            f"with the prior as the encoder, your estimate does not tighten as k grows: mean {m1.tolist()} for "
            f"k = 1 and {m64.tolist()} for k = 64 (log p(x) = {log_px.tolist()}). The IWAE bound is the log of "
            "the MEAN of the k weights; the mean of the log-weights is only the ELBO, for every k.")
    far = torch.full((1, 3), 300.0, dtype=torch.float64)
    out = call_student(iwae_bound, far, _prior_encoder, log_joint, 16, generator=_g(7), name=name,
                       what="for a point far from the data")
    if not bool(torch.isfinite(out).all()):
        raise ExerciseError(f"{name} returned {out.tolist()} for a point far from the data, where the log-weights "
                            "are near -10^5 and exp() underflows to 0: average the weights in log space")
    print(f"✓ {name}: exact with the exact posterior, below log p(x) and tightening with k otherwise, and stable")
