"""Latent variable models and variational autoencoders (Part I of the book).

What the three VAE chapters derive and verify, in code a reader can call by name:

* ``gaussian_kl`` / ``gaussian_kl_diag`` / ``gaussian_kl_full``: closed-form KL divergences
  between Gaussians (chapter "The ELBO and the reparameterization trick").
* ``reparameterize``: z = mu + sigma * eps, the reparameterization trick (same chapter).
* ``gaussian_log_likelihood``, ``log_mean_exp``: the building blocks of the ELBO and IWAE bounds.
* ``PPCA`` / ``fit_ppca`` / ``linear_gaussian_log_prob``: probabilistic PCA, the latent variable
  model whose marginal and posterior are exact (chapter "Latent variable models").
* ``VAE``: an MLP (or user-supplied) encoder/decoder with a Gaussian (fixed, learned shared or
  learned per-dimension variance) or Bernoulli likelihood, with ``elbo(x)`` and
  ``iwae_bound(x, k)`` (chapter "Training VAEs"). Later chapters (molecular design, anomaly
  detection) reuse it.
* ``active_units``: the number of latent dimensions the encoder actually uses (Burda et al. 2016).

All functions work on any device and dtype; nothing here seeds, downloads or plots.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from helpers import validate
from helpers.nets import mlp

__all__ = [
    "PPCA",
    "VAE",
    "active_units",
    "fit_ppca",
    "gaussian_kl",
    "gaussian_kl_diag",
    "gaussian_kl_full",
    "gaussian_log_likelihood",
    "linear_gaussian_log_prob",
    "log_mean_exp",
    "reparameterize",
]

LOG_2PI = math.log(2 * math.pi)


def _check_pair(mu: Tensor, logvar: Tensor, who: str, names: tuple[str, str] = ("mu", "logvar")) -> None:
    """The invariant of a diagonal Gaussian's parameters: two tensors of one shape (..., latent_dim)."""
    validate.tensor(mu, names[0], shape=(..., "latent_dim"))
    validate.tensor(logvar, names[1])
    if mu.shape != logvar.shape:
        raise ValueError(f"{who}: {names[0]} and {names[1]} must have the same shape, got {tuple(mu.shape)} and "
                         f"{tuple(logvar.shape)}")


# --------------------------------------------------------------------------- KL divergences
def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL( N(mu, diag exp(logvar)) || N(0, I) ), summed over the last (latent) dimension.

    Equals 1/2 * sum_j (sigma_j^2 + mu_j^2 - 1 - log sigma_j^2); see the chapter
    "The ELBO and the reparameterization trick" for the derivation.

    Args:
        mu: (..., d) posterior means.
        logvar: (..., d) posterior log-variances log sigma^2.
    Returns:
        (...,) one KL per row, e.g. shape (batch,) for (batch, d) inputs.
    """
    _check_pair(mu, logvar, "gaussian_kl")
    return 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar).sum(-1)


def gaussian_kl_diag(mu_q: Tensor, logvar_q: Tensor, mu_p: Tensor, logvar_p: Tensor) -> Tensor:
    """KL( N(mu_q, diag e^logvar_q) || N(mu_p, diag e^logvar_p) ), summed over the last dimension.

    All arguments broadcast against each other; shapes (..., d) -> (...,).
    """
    _check_pair(mu_q, logvar_q, "gaussian_kl_diag", ("mu_q", "logvar_q"))
    _check_pair(mu_p, logvar_p, "gaussian_kl_diag", ("mu_p", "logvar_p"))
    return 0.5 * (logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p).pow(2)) / logvar_p.exp() - 1.0).sum(-1)


def gaussian_kl_full(mu0: Tensor, cov0: Tensor, mu1: Tensor, cov1: Tensor) -> Tensor:
    """KL( N(mu0, cov0) || N(mu1, cov1) ) for full covariances (the general formula).

    KL = 1/2 [ tr(cov1^-1 cov0) + (mu1-mu0)^T cov1^-1 (mu1-mu0) - d + log det cov1 - log det cov0 ].

    Args:
        mu0, mu1: (..., d); cov0, cov1: (..., d, d) symmetric positive definite.
    Returns:
        (...,) the divergence.
    """
    if mu0.ndim < 1 or cov0.shape[-2:] != (mu0.shape[-1], mu0.shape[-1]) or cov1.shape[-2:] != cov0.shape[-2:]:
        raise ValueError(f"gaussian_kl_full expects means (..., d) and covariances (..., d, d), got "
                         f"{tuple(mu0.shape)}, {tuple(cov0.shape)}, {tuple(mu1.shape)}, {tuple(cov1.shape)}")
    d = mu0.shape[-1]
    l1 = torch.linalg.cholesky(cov1)
    l0 = torch.linalg.cholesky(cov0)
    diff = (mu1 - mu0).unsqueeze(-1)
    sol = torch.cholesky_solve(diff, l1)
    trace = torch.cholesky_solve(cov0, l1).diagonal(dim1=-2, dim2=-1).sum(-1)
    maha = (diff * sol).sum((-2, -1))
    logdet1 = 2 * l1.diagonal(dim1=-2, dim2=-1).log().sum(-1)
    logdet0 = 2 * l0.diagonal(dim1=-2, dim2=-1).log().sum(-1)
    return 0.5 * (trace + maha - d + logdet1 - logdet0)


# --------------------------------------------------------------------------- sampling and densities
def reparameterize(mu: Tensor, logvar: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Draw z = mu + exp(logvar / 2) * eps with eps ~ N(0, I): a sample of N(mu, diag e^logvar).

    Gradients flow to ``mu`` and ``logvar`` through the sample (the reparameterization trick).

    Args:
        mu, logvar: (..., d) tensors of the same shape.
        generator: optional ``torch.Generator`` on the tensors' device, for reproducible noise.
    Returns:
        (..., d) a sample, differentiable in mu and logvar.
    """
    _check_pair(mu, logvar, "reparameterize")
    eps = torch.randn(mu.shape, dtype=mu.dtype, device=mu.device, generator=generator)
    return mu + torch.exp(0.5 * logvar) * eps


def gaussian_log_likelihood(x: Tensor, mean: Tensor, logvar: Tensor | float) -> Tensor:
    """log N(x; mean, diag e^logvar) summed over the last dimension, constant included.

    Equals -||x - mean||^2 / (2 sigma^2) - D/2 log(2 pi sigma^2) for a shared variance; the
    constant matters whenever sigma is learned or likelihoods of different models are compared.

    Args:
        x, mean: (..., D), broadcastable. logvar: a float or a tensor broadcastable to (..., D).
    Returns:
        (...,) log-densities in nats.
    """
    logvar = torch.as_tensor(logvar, dtype=mean.dtype, device=mean.device)
    return -0.5 * (LOG_2PI + logvar + (x - mean).pow(2) / logvar.exp()).sum(-1)


def log_mean_exp(values: Tensor, dim: int = 0) -> Tensor:
    """log( mean(exp(values)) ) along ``dim``, computed stably (the IWAE average)."""
    n = values.shape[dim]
    return torch.logsumexp(values, dim=dim) - math.log(n)


# --------------------------------------------------------------------------- probabilistic PCA
def linear_gaussian_log_prob(x: Tensor, weight: Tensor, bias: Tensor, noise_var: Tensor | float) -> Tensor:
    """Exact log p(x) of the linear-Gaussian model x = W z + b + noise, z ~ N(0, I_d).

    The marginal is N(b, W W^T + diag(noise_var)); this is how the chapter "Training VAEs"
    scores a linear VAE's decoder exactly.

    Args:
        x: (n, D) data. weight: (D, d). bias: (D,). noise_var: a positive float, or (D,) per-pixel variances.
    Returns:
        (n,) log-densities in nats.
    """
    if x.ndim != 2 or weight.ndim != 2 or weight.shape[0] != x.shape[1] or bias.shape != (x.shape[1],):
        raise ValueError(f"expected x (n, D), weight (D, d), bias (D,), got {tuple(x.shape)}, "
                         f"{tuple(weight.shape)}, {tuple(bias.shape)}")
    noise_var = torch.as_tensor(noise_var, dtype=weight.dtype, device=weight.device)
    if bool((noise_var <= 0).any()):
        raise ValueError("noise_var must be positive")
    cov = weight @ weight.T + torch.diag(noise_var.expand(x.shape[1]))
    dist = torch.distributions.MultivariateNormal(bias, covariance_matrix=cov)
    return dist.log_prob(x.to(weight.dtype))


@dataclass
class PPCA:
    """Probabilistic PCA (Tipping & Bishop 1999): z ~ N(0, I_d), x | z ~ N(W z + mu, sigma2 I_D).

    Everything is in closed form: the marginal, the posterior, the maximum-likelihood fit
    (``fit_ppca``). See the chapter "Latent variable models".

    Attributes:
        weight: (D, d) loading matrix W.
        mean: (D,) data mean mu.
        sigma2: the isotropic noise variance (a positive float).
    """

    weight: Tensor
    mean: Tensor
    sigma2: float

    def __post_init__(self) -> None:
        if self.weight.ndim != 2 or self.mean.shape != (self.weight.shape[0],):
            raise ValueError(f"PPCA needs weight (D, d) and mean (D,), got {tuple(self.weight.shape)} and "
                             f"{tuple(self.mean.shape)}")
        validate.positive_float(self.sigma2, "sigma2")

    @property
    def data_dim(self) -> int:
        return self.weight.shape[0]

    @property
    def latent_dim(self) -> int:
        return self.weight.shape[1]

    def marginal_cov(self) -> Tensor:
        """C = W W^T + sigma2 I, the covariance of p(x): (D, D)."""
        return self.weight @ self.weight.T + self.sigma2 * torch.eye(self.data_dim, dtype=self.weight.dtype,
                                                                     device=self.weight.device)

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact log p(x) = log N(x; mu, C): (n, D) -> (n,)."""
        return linear_gaussian_log_prob(x, self.weight, self.mean, float(self.sigma2))

    def log_likelihood(self, x: Tensor, z: Tensor) -> Tensor:
        """log p(x | z) = log N(x; W z + mu, sigma2 I): x (..., D), z (..., d) -> (...,)."""
        return gaussian_log_likelihood(x, z @ self.weight.T + self.mean, math.log(self.sigma2))

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Exact p(z | x) = N(M^-1 W^T (x - mu), sigma2 M^-1) with M = W^T W + sigma2 I.

        Args:
            x: (n, D).
        Returns:
            means (n, d) and the covariance (d, d), the same for every x.
        """
        w = self.weight
        m = w.T @ w + self.sigma2 * torch.eye(self.latent_dim, dtype=w.dtype, device=w.device)
        m_inv = torch.linalg.inv(m)
        means = (x.to(w.dtype) - self.mean) @ w @ m_inv.T
        return means, self.sigma2 * m_inv

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n samples of x: (n, D)."""
        w = self.weight
        z = torch.randn(n, self.latent_dim, dtype=w.dtype, device=w.device, generator=generator)
        eps = torch.randn(n, self.data_dim, dtype=w.dtype, device=w.device, generator=generator)
        return z @ w.T + self.mean + math.sqrt(self.sigma2) * eps


def fit_ppca(x: Tensor, latent_dim: int) -> PPCA:
    """The maximum-likelihood pPCA of data x (Tipping & Bishop 1999), in closed form.

    With S the sample covariance (divisor n) and eigenpairs (lambda_i, u_i) in decreasing order:
    sigma2 = mean of the discarded eigenvalues lambda_{d+1..D}, W = U_d (Lambda_d - sigma2 I)^{1/2},
    mu = sample mean. Computed in float64.

    Args:
        x: (n, D) data with n >= 2 and 1 <= latent_dim < D.
    """
    validate.tensor(x, "x", shape=("n", "D"), min_len=2)
    validate.positive_int(latent_dim, "latent_dim", maximum=x.shape[1] - 1)
    xd = x.double()
    mean = xd.mean(0)
    cov = (xd - mean).T @ (xd - mean) / xd.shape[0]
    evals, evecs = torch.linalg.eigh(cov)
    evals, evecs = evals.flip(0).clamp_min(0.0), evecs.flip(1)
    sigma2 = float(evals[latent_dim:].mean())
    if not sigma2 > 0:
        raise ValueError("the data lie in a subspace of dimension <= latent_dim; pPCA's sigma2 would be 0")
    weight = evecs[:, :latent_dim] * (evals[:latent_dim] - sigma2).clamp_min(0.0).sqrt()
    return PPCA(weight, mean, sigma2)


# --------------------------------------------------------------------------- the VAE
_OBS_STD_MODES = ("learned", "learned_per_dim")


class VAE(nn.Module):
    """A variational autoencoder with a diagonal-Gaussian encoder q(z|x) and prior N(0, I).

    Encoder: x (batch, x_dim) -> (mu, logvar), each (batch, z_dim). Decoder: z -> the parameters
    of p(x|z). Both are ``helpers.nets.mlp`` networks unless you pass your own modules
    (``encoder`` must output 2 * z_dim numbers per input, ``decoder`` x_dim numbers per latent).
    ``n_hidden=0`` gives linear maps (the linear VAE that recovers pPCA).

    Likelihoods (``likelihood=``):

    * ``"gaussian"``: p(x|z) = N(x; decoder(z), sigma^2 I); ``obs_std`` is a positive float
      (fixed sigma), ``"learned"`` (one learned sigma shared by all dimensions) or
      ``"learned_per_dim"`` (one learned sigma per dimension), starting at ``init_obs_std``.
      Start a learned sigma near the data's noise scale (e.g. 0.1 for pixels in [0, 1]): a
      sigma of 1 weakens the reconstruction term against the KL term, which invites posterior
      collapse early in training.
    * ``"bernoulli"``: p(x|z) = Bernoulli(sigmoid(decoder(z))) for x in {0, 1}.

    ``elbo(x)`` and ``iwae_bound(x, k)`` return one number per example, in nats, constants
    included, so they are lower bounds on log p(x). See the chapter "Training VAEs".
    """

    def __init__(
        self,
        x_dim: int,
        z_dim: int,
        hidden: int = 128,
        n_hidden: int = 2,
        *,
        likelihood: str = "gaussian",
        obs_std: float | str = "learned",
        init_obs_std: float = 1.0,
        activation: str = "relu",
        encoder: nn.Module | None = None,
        decoder: nn.Module | None = None,
    ) -> None:
        super().__init__()
        validate.positive_int(x_dim, "x_dim")
        validate.positive_int(z_dim, "z_dim")
        if likelihood not in ("gaussian", "bernoulli"):
            raise ValueError(f"likelihood must be 'gaussian' or 'bernoulli', got {likelihood!r}")
        self.x_dim, self.z_dim, self.likelihood = x_dim, z_dim, likelihood
        self.encoder = encoder if encoder is not None else mlp(x_dim, 2 * z_dim, hidden, n_hidden, activation)
        self.decoder = decoder if decoder is not None else mlp(z_dim, x_dim, hidden, n_hidden, activation)
        self.obs_std_mode = "fixed"
        if likelihood == "gaussian":
            if isinstance(obs_std, str):
                if obs_std not in _OBS_STD_MODES:
                    raise ValueError(f"obs_std must be a positive float or one of {_OBS_STD_MODES}, got {obs_std!r}")
                self.obs_std_mode = obs_std
                shape = (x_dim,) if obs_std == "learned_per_dim" else ()
                validate.positive_float(init_obs_std, "init_obs_std")
                self.obs_logvar = nn.Parameter(torch.full(shape, 2 * math.log(float(init_obs_std))))
            else:
                validate.positive_float(obs_std, "obs_std")
                self.register_buffer("obs_logvar", torch.tensor(2 * math.log(float(obs_std))))

    # -- the two networks
    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """q(z|x) = N(mu, diag e^logvar): x (batch, x_dim) -> mu, logvar (batch, z_dim)."""
        validate.tensor(x, "x", shape=(..., "batch", self.x_dim))
        h = self.encoder(x)
        return h[..., : self.z_dim], h[..., self.z_dim:]

    def decode(self, z: Tensor) -> Tensor:
        """The mean of p(x|z): z (..., z_dim) -> (..., x_dim) (Bernoulli: the probabilities)."""
        out = self.decoder(z)
        return torch.sigmoid(out) if self.likelihood == "bernoulli" else out

    @property
    def obs_var(self) -> Tensor:
        """The Gaussian likelihood's variance sigma^2 (a scalar or (x_dim,))."""
        if self.likelihood != "gaussian":
            raise ValueError("obs_var exists only for the Gaussian likelihood")
        return self.obs_logvar.exp()

    def log_likelihood(self, x: Tensor, z: Tensor) -> Tensor:
        """log p(x|z) summed over pixels, constants included.

        Args:
            x: (batch, x_dim). z: (batch, z_dim) or (k, batch, z_dim).
        Returns:
            (batch,) or (k, batch).
        """
        out = self.decoder(z)
        if self.likelihood == "bernoulli":
            return -nn.functional.binary_cross_entropy_with_logits(out, x.expand_as(out), reduction="none").sum(-1)
        return gaussian_log_likelihood(x, out, self.obs_logvar)

    # -- bounds
    def elbo_terms(
        self, x: Tensor, n_samples: int = 1, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """The two ELBO terms per example: (E_q[log p(x|z)] estimated with n_samples, KL(q || prior) exact)."""
        mu, logvar = self.encode(x)
        if n_samples == 1:
            z = reparameterize(mu, logvar, generator)
        else:
            z = reparameterize(mu.expand(n_samples, *mu.shape), logvar.expand(n_samples, *logvar.shape), generator)
        rec = self.log_likelihood(x, z)
        if n_samples > 1:
            rec = rec.mean(0)
        return rec, gaussian_kl(mu, logvar)

    def elbo(
        self, x: Tensor, n_samples: int = 1, beta: float = 1.0, generator: torch.Generator | None = None
    ) -> Tensor:
        """ELBO(x) = E_q[log p(x|z)] - beta * KL(q(z|x) || N(0, I)), one value per example (batch,).

        The reconstruction term is a reparameterized Monte Carlo estimate with ``n_samples``
        samples; the KL is analytic. ``beta`` != 1 gives the beta-VAE objective, which is
        ELBO - (beta - 1) * KL: for beta > 1 still a lower bound on log p(x) (a looser one, since
        KL >= 0), for beta < 1 not a bound (it can exceed log p(x)). See the chapter "Training VAEs".
        """
        validate.positive_int(n_samples, "n_samples")
        rec, kl = self.elbo_terms(x, n_samples, generator)
        return rec - beta * kl

    def iwae_bound(self, x: Tensor, k: int, generator: torch.Generator | None = None) -> Tensor:
        """The importance-weighted bound of Burda et al. (2016), one value per example (batch,).

        IWAE_k(x) = log (1/k) sum_i p(x, z_i) / q(z_i|x), z_i ~ q(z|x). IWAE_1 is an unbiased
        one-sample estimate of the ELBO; E[IWAE_k] increases with k towards log p(x).
        """
        validate.positive_int(k, "k")
        mu, logvar = self.encode(x)
        z = reparameterize(mu.expand(k, *mu.shape), logvar.expand(k, *logvar.shape), generator)
        log_prior = gaussian_log_likelihood(z, torch.zeros_like(z), 0.0)
        log_q = gaussian_log_likelihood(z, mu, logvar)
        log_w = self.log_likelihood(x, z) + log_prior - log_q
        return log_mean_exp(log_w, dim=0)

    # -- using the model
    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, mean: bool = True) -> Tensor:
        """n samples (n, x_dim): the decoder means at z ~ N(0, I), or draws from p(x|z) if mean=False."""
        p = next(self.parameters())
        z = torch.randn(n, self.z_dim, dtype=p.dtype, device=p.device, generator=generator)
        m = self.decode(z)
        if mean:
            return m
        if self.likelihood == "bernoulli":
            return torch.bernoulli(m, generator=generator)
        noise = torch.randn(m.shape, dtype=m.dtype, device=m.device, generator=generator)
        return m + self.obs_var.sqrt() * noise

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        """Decoder mean at the encoder mean: (batch, x_dim) -> (batch, x_dim)."""
        return self.decode(self.encode(x)[0])


@torch.no_grad()
def active_units(model: VAE, x: Tensor, threshold: float = 0.01) -> tuple[int, Tensor]:
    """Active latent units (Burda et al. 2016): dimensions u with Cov_x(E_q[z_u]) > threshold.

    Args:
        model: a trained VAE. x: (n, x_dim) data, n >= 2.
    Returns:
        (number of active units, the (z_dim,) variances of the encoder means across x).
    """
    validate.tensor(x, "x", shape=("n", "x_dim"), min_len=2)
    mu, _ = model.encode(x)
    var = mu.var(0, unbiased=True)
    return int((var > threshold).sum()), var
