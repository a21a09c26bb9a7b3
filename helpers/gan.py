"""Generative adversarial networks: the optimal discriminator, the losses, a training loop.

See the two GAN chapters: ``04_gan_theory`` (the minimax game, D*, Jensen-Shannon,
vanishing gradients, WGAN-GP) and ``05_gan_mode_coverage`` (the mode-coverage benchmark).

Conventions: a discriminator returns *logits* l(x), so D(x) = sigmoid(l(x)); a WGAN critic
returns an unbounded score. Generators map a latent z to a point x and know how to draw
their own latent (``Generator.sample_latent``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from helpers import validate
from helpers.nets import mlp
from helpers.train import train

__all__ = [
    "BENCHMARK_SCALE",
    "BEST",
    "BenchmarkResult",
    "FourierFeatures",
    "PLAIN",
    "Recipe",
    "fit_benchmark",
    "GANRun",
    "Generator",
    "discriminator",
    "discriminator_loss",
    "generator_loss_non_saturating",
    "generator_loss_saturating",
    "gradient_penalty",
    "optimal_discriminator",
    "refine_discriminator",
    "rejection_sample",
    "r1_penalty",
    "train_gan",
    "wasserstein_critic_loss",
]


def _floating(x: object, name: str) -> Tensor:
    return validate.tensor(x, name, floating=True)


def optimal_discriminator(log_p_data: Tensor, log_p_g: Tensor) -> Tensor:
    """The optimal discriminator D*(x) = p_data(x) / (p_data(x) + p_G(x)).

    Computed stably from log-densities as sigmoid(log p_data - log p_G), so it works where
    both densities underflow. Where both are zero (log = -inf) D* is undefined; we return 1/2.

    Args:
        log_p_data: (...) log p_data(x) at some points x.
        log_p_g: (...) log p_G(x) at the same points (same shape).

    Returns:
        (...) D*(x) in [0, 1]. See the GAN theory chapter, "The optimal discriminator".
    """
    log_p_data = _floating(log_p_data, "log_p_data")
    log_p_g = _floating(log_p_g, "log_p_g")
    if log_p_data.shape != log_p_g.shape:
        raise ValueError(f"log_p_data and log_p_g must have the same shape, got "
                         f"{tuple(log_p_data.shape)} and {tuple(log_p_g.shape)}")
    diff = log_p_data - log_p_g
    both_zero = torch.isneginf(log_p_data) & torch.isneginf(log_p_g)
    diff = torch.where(both_zero, torch.zeros_like(diff), diff)
    return torch.sigmoid(diff)


# --------------------------------------------------------------------------- networks

class Generator(nn.Module):
    """x = G(z): an MLP from a latent z to data space, with its own latent distribution.

    The latent is ``latent_dim`` standard normals, optionally concatenated with a one-hot code
    drawn uniformly from ``n_categories`` categories (a *mixture latent*). A continuous generator
    maps a connected latent space onto a connected set, so with ``n_categories = 0`` it must put
    samples on "bridges" between separated modes; with a discrete part each category can own a
    mode. See the mode-coverage chapter.

    Args:
        latent_dim: number of Gaussian latent coordinates (>= 1).
        out_dim: data dimension.
        hidden, n_hidden, activation: the MLP (``helpers.nets.mlp``).
        n_categories: size of the discrete part of the latent (0: none).
    """

    def __init__(self, latent_dim: int = 2, out_dim: int = 2, hidden: int = 128, n_hidden: int = 3,
                 activation: str = "relu", n_categories: int = 0) -> None:
        super().__init__()
        self.n_categories = validate.positive_int(n_categories, "n_categories", minimum=0)
        self.latent_dim = validate.positive_int(latent_dim, "latent_dim")
        self.net = mlp(latent_dim + n_categories, out_dim, hidden, n_hidden, activation)

    @property
    def input_dim(self) -> int:
        return self.latent_dim + self.n_categories

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Draw n latents: (n, latent_dim + n_categories) on the module's device."""
        device = next(self.parameters()).device
        z = torch.randn(n, self.latent_dim, generator=generator).to(device)
        if self.n_categories:
            c = torch.randint(self.n_categories, (n,), generator=generator)
            z = torch.cat([z, F.one_hot(c, self.n_categories).float().to(device)], 1)
        return z

    def forward(self, z: Tensor) -> Tensor:
        """z: (batch, latent_dim + n_categories) -> x: (batch, out_dim)."""
        if z.ndim != 2 or z.shape[1] != self.input_dim:
            raise ValueError(f"Generator expects z of shape (batch, {self.input_dim}), got {tuple(z.shape)}")
        return self.net(z)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n samples (n, out_dim), without gradients."""
        return self(self.sample_latent(n, generator))


class FourierFeatures(nn.Module):
    """x (batch, d) -> [x, sin(xB), cos(xB)] (batch, d + 2 n_features), B ~ N(0, scale^2) fixed.

    Random Fourier features (Tancik et al. 2020) let an MLP represent details much narrower than
    its input's range, which a plain ReLU MLP learns only slowly ("spectral bias"). ``B`` is a
    buffer: drawn once from the global torch seed, saved with the model, never trained.
    """

    def __init__(self, in_dim: int, n_features: int, scale: float) -> None:
        super().__init__()
        validate.positive_int(n_features, "n_features")
        validate.positive_float(scale, "scale")
        self.register_buffer("B", torch.randn(in_dim, n_features) * scale)

    def forward(self, x: Tensor) -> Tensor:
        proj = x @ self.B
        return torch.cat([x, proj.sin(), proj.cos()], dim=-1)


def discriminator(in_dim: int = 2, hidden: int = 128, n_hidden: int = 3, activation: str = "relu",
                  fourier_features: int = 0, fourier_scale: float = 10.0) -> nn.Module:
    """A discriminator (or WGAN critic) MLP: x (batch, in_dim) -> logits (batch,).

    With ``fourier_features > 0`` the input first goes through ``FourierFeatures`` with that many
    random frequencies of standard deviation ``fourier_scale`` (in the network's units).
    """
    layers: list[nn.Module] = []
    width = in_dim
    if fourier_features:
        layers.append(FourierFeatures(in_dim, fourier_features, fourier_scale))
        width = in_dim + 2 * fourier_features
    layers += [mlp(width, 1, hidden, n_hidden, activation), nn.Flatten(0)]
    return nn.Sequential(*layers)


# --------------------------------------------------------------------------- losses

def _check_logits(*tensors: Tensor) -> None:
    for t in tensors:
        _floating(t, "logits")
        if t.ndim != 1:
            raise ValueError(f"logits must have shape (batch,), got {tuple(t.shape)}")


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """-V(D, G) estimated on a batch: -mean log D(x) - mean log(1 - D(G(z))).

    With D = sigmoid(l): -log D = softplus(-l) and -log(1 - D) = softplus(l).
    Args: real_logits (n,), fake_logits (m,). Returns a scalar.
    """
    _check_logits(real_logits, fake_logits)
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss_saturating(fake_logits: Tensor) -> Tensor:
    """The minimax generator loss mean log(1 - D(G(z))) = -mean softplus(l); flat where D(G(z)) ~ 0."""
    _check_logits(fake_logits)
    return -F.softplus(fake_logits).mean()


def generator_loss_non_saturating(fake_logits: Tensor) -> Tensor:
    """The non-saturating generator loss -mean log D(G(z)) = mean softplus(-l) (Goodfellow et al. 2014)."""
    _check_logits(fake_logits)
    return F.softplus(-fake_logits).mean()


def wasserstein_critic_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """The WGAN critic loss mean f(G(z)) - mean f(x) (the negative Kantorovich-Rubinstein estimate)."""
    _check_logits(real_scores, fake_scores)
    return fake_scores.mean() - real_scores.mean()


def r1_penalty(disc: nn.Module, real: Tensor) -> Tensor:
    """R1 = mean ||grad_x l(x)||^2 over real points (Mescheder et al. 2018); add gamma/2 * R1 to D's loss.

    Args: disc maps (n, d) -> (n,); real (n, d). Returns a scalar that keeps its graph.
    """
    real = _floating(real, "real").detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(disc(real).sum(), real, create_graph=True)
    return grad.pow(2).sum(1).mean()


def gradient_penalty(critic: nn.Module, real: Tensor, fake: Tensor,
                     generator: torch.Generator | None = None) -> Tensor:
    """WGAN-GP penalty mean (||grad f(x_hat)|| - 1)^2 at x_hat = t x + (1 - t) G(z), t ~ U(0, 1).

    Gulrajani et al. 2017. Args: critic (n, d) -> (n,); real and fake (n, d).
    """
    real, fake = _floating(real, "real"), _floating(fake, "fake")
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
    t = torch.rand(real.shape[0], 1, generator=generator).to(real)
    x_hat = (t * real.detach() + (1 - t) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return (grad.norm(dim=1) - 1).pow(2).mean()


# --------------------------------------------------------------------------- training

@dataclass
class GANRun:
    """What ``train_gan`` returns: the loss history and samples saved during training.

    ``history`` has per generator step ``loss`` (generator loss), ``d_loss``, ``d_fake``
    (mean D(G(z)), or the critic's mean score for WGAN) and ``g_grad`` (norm of the gradient of
    the generator loss with respect to the generated points, per sample, averaged).
    ``snapshots`` maps a step number to (n_snapshot, d) samples from a fixed latent batch,
    in data units.
    """

    history: dict[str, list[float]]
    snapshots: dict[int, Tensor] = field(default_factory=dict)


def _adam(params, lr: float, betas: tuple[float, float]) -> torch.optim.Adam:
    try:  # the fused kernel is several times faster for small networks
        return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(params, lr=lr, betas=betas)


_LOSSES = ("non-saturating", "saturating", "wgan-gp")


def train_gan(
    gen: Generator,
    disc: nn.Module,
    sample_data: Callable[[int], Tensor],
    n_steps: int,
    *,
    loss: str = "non-saturating",
    batch_size: int = 256,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.5, 0.9),
    n_critic: int = 1,
    r1_gamma: float = 0.0,
    gp_weight: float = 10.0,
    r1_every: int = 1,
    scale: float = 1.0,
    decay_start: float = 1.0,
    final_lr_factor: float = 0.01,
    snapshot_every: int = 0,
    n_snapshot: int = 1000,
    progress: bool = True,
    desc: str = "GAN",
) -> GANRun:
    """Train a GAN for ``n_steps`` generator steps through ``helpers.train.train``.

    Each generator step first takes ``n_critic`` discriminator steps on fresh batches.
    The networks see the data divided by ``scale`` (so a grid at +-4 becomes +-1);
    snapshots are returned in data units. Both learning rates stay at ``lr`` until the
    fraction ``decay_start`` of training, then decay exponentially to ``lr * final_lr_factor``.

    Args:
        gen: a ``Generator``; disc: (batch, d) -> (batch,) logits (critic scores for WGAN-GP).
        sample_data: n -> (n, d) real samples in data units (on any device).
        n_steps: generator steps (a count, never a time).
        loss: ``"non-saturating"``, ``"saturating"`` (the minimax loss) or ``"wgan-gp"``.
        batch_size: real and fake points per step.
        lr, betas: Adam for both networks.
        n_critic: discriminator steps per generator step (5 for WGAN-GP in the paper).
        r1_gamma: weight of the R1 penalty, gamma/2 * R1 added to D's loss (0: none).
        r1_every: apply R1 only every this many D steps, weighted this many times ("lazy" R1).
        gp_weight: WGAN-GP penalty weight lambda.
        scale: data units per network unit.
        decay_start: fraction of training after which the learning rates decay, in (0, 1].
        final_lr_factor: learning-rate multiplier reached at the last step, in (0, 1].
        snapshot_every: save samples every this many steps (0: only at the end).
        n_snapshot: samples per snapshot (from one fixed latent batch).
        progress: show the progress bar.

    Returns:
        a ``GANRun``. See the GAN chapters.
    """
    if loss not in _LOSSES:
        raise ValueError(f"unknown loss {loss!r}; expected one of {_LOSSES}")
    for name, v in (("n_steps", n_steps), ("batch_size", batch_size), ("n_critic", n_critic),
                    ("r1_every", r1_every)):
        validate.positive_int(v, name)
    validate.probability(decay_start, "decay_start", allow_zero=False)
    validate.probability(final_lr_factor, "final_lr_factor", allow_zero=False)
    validate.positive_float(scale, "scale")
    validate.positive_float(lr, "lr")
    validate.non_negative_float(r1_gamma, "r1_gamma")
    validate.non_negative_float(gp_weight, "gp_weight")
    device = next(gen.parameters()).device
    opt_g = _adam(gen.parameters(), lr, betas)
    opt_d = _adam(disc.parameters(), lr, betas)
    start = int(decay_start * n_steps)
    rate = math.log(final_lr_factor) / max(n_steps - start, 1)

    def factor(step: int) -> float:
        return 1.0 if step < start else math.exp(rate * (step - start + 1))

    sched_g = torch.optim.lr_scheduler.LambdaLR(opt_g, factor)
    sched_d = torch.optim.lr_scheduler.LambdaLR(opt_d, factor)
    z_fixed = gen.sample_latent(n_snapshot)
    snapshots: dict[int, Tensor] = {}
    extras: dict[str, float] = {}

    def snap(step: int) -> None:
        with torch.no_grad():
            snapshots[step] = (gen(z_fixed) * scale).cpu()

    def loss_fn(step: int):
        if snapshot_every and step % snapshot_every == 0:
            snap(step)
        for k in range(n_critic):
            real = sample_data(batch_size).to(device) / scale
            with torch.no_grad():
                fake = gen(gen.sample_latent(batch_size))
            if loss == "wgan-gp":
                scores = disc(torch.cat([real, fake]))
                d_loss = wasserstein_critic_loss(scores[:batch_size], scores[batch_size:])
                d_loss = d_loss + gp_weight * gradient_penalty(disc, real, fake)
            else:
                use_r1 = r1_gamma > 0 and (step * n_critic + k) % r1_every == 0
                real.requires_grad_(use_r1)
                logits = disc(torch.cat([real, fake]))
                d_loss = discriminator_loss(logits[:batch_size], logits[batch_size:])
                if use_r1:  # lazy R1 (Karras et al. 2020): every r1_every steps, weighted r1_every times
                    (grad,) = torch.autograd.grad(logits[:batch_size].sum(), real, create_graph=True)
                    d_loss = d_loss + 0.5 * r1_gamma * r1_every * grad.pow(2).sum(1).mean()
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
        sched_d.step()
        fake = gen(gen.sample_latent(batch_size))
        fake.retain_grad()
        logits = disc(fake)
        if loss == "wgan-gp":
            g_loss = -logits.mean()
            extras["d_fake"] = float(logits.detach().mean())
        else:
            g_loss = (generator_loss_saturating if loss == "saturating" else generator_loss_non_saturating)(logits)
            extras["d_fake"] = float(torch.sigmoid(logits.detach()).mean())
        extras["d_loss"] = float(d_loss.detach())
        holder["fake"] = fake
        return g_loss, dict(extras)

    holder: dict[str, Tensor] = {}

    class _Opt:  # wraps opt_g so that train() also logs the gradient reaching the samples
        param_groups = opt_g.param_groups

        def zero_grad(self, set_to_none: bool = True) -> None:
            opt_g.zero_grad(set_to_none=set_to_none)

        def step(self) -> None:
            g = holder["fake"].grad
            grad_norms.append(float(g.norm(dim=1).mean() * g.shape[0]) if g is not None else float("nan"))
            opt_g.step()

    grad_norms: list[float] = []
    history = train(loss_fn, _Opt(), n_steps, scheduler=sched_g, progress=progress, desc=desc)  # type: ignore[arg-type]
    history["g_grad"] = grad_norms
    snap(n_steps)
    return GANRun(history, snapshots)


# --------------------------------------------------------------------------- discriminator rejection sampling

def refine_discriminator(
    gen: Generator,
    disc: nn.Module,
    sample_data: Callable[[int], Tensor],
    n_steps: int,
    *,
    batch_size: int = 512,
    lr: float = 1e-3,
    scale: float = 1.0,
    progress: bool = True,
) -> dict[str, list[float]]:
    """Train ``disc`` alone against the frozen ``gen`` so that it approaches D* for this p_G.

    At the optimum its logit is log p_data(x) - log p_G(x) (the optimal-discriminator theorem),
    which is what ``rejection_sample`` needs. The learning rate decays exponentially to 1%.
    Args as in ``train_gan``; returns the loss history. See the mode-coverage chapter.
    """
    validate.positive_int(n_steps, "n_steps")
    device = next(gen.parameters()).device
    opt = _adam(disc.parameters(), lr, (0.5, 0.9))
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, 0.01 ** (1 / n_steps))

    def loss_fn(step: int) -> Tensor:
        real = sample_data(batch_size).to(device) / scale
        fake = gen.sample(batch_size)
        logits = disc(torch.cat([real, fake]))
        return discriminator_loss(logits[:batch_size], logits[batch_size:])

    return train(loss_fn, opt, n_steps, scheduler=sched, progress=progress, desc="refining D")


@torch.no_grad()
def rejection_sample(gen: Generator, disc: nn.Module, n: int, *, scale: float = 1.0,
                     quantile: float = 0.99, batch_size: int = 10_000,
                     max_batches: int = 100) -> tuple[Tensor, float]:
    """Discriminator rejection sampling (Azadi et al. 2019): n samples (n, d) and the acceptance rate.

    A candidate x ~ p_G is kept with probability min(1, exp(l(x) - M)), where l is the
    discriminator's logit, ideally log p_data(x) - log p_G(x), and M its ``quantile`` over a
    first batch of candidates. With the optimal discriminator and M = max l, the kept points
    follow p_data exactly; points between modes, where p_data ~ 0, are almost never kept.
    Samples are returned in data units.
    """
    validate.positive_int(n, "n")
    validate.probability(quantile, "quantile", allow_zero=False)
    kept: list[Tensor] = []
    n_kept = n_seen = 0
    m = None
    for _ in range(max_batches):
        x = gen.sample(batch_size)
        logit = disc(x)
        if m is None:
            m = torch.quantile(logit.float().cpu(), quantile).item()
        accept = torch.rand(batch_size, device=x.device).log() < logit - m
        kept.append(x[accept])
        n_kept += int(accept.sum())
        n_seen += batch_size
        if n_kept >= n:
            break
    if n_kept < n:
        raise ValueError(f"only {n_kept} of {n} samples accepted from {n_seen} candidates")
    return torch.cat(kept)[:n] * scale, n_kept / n_seen


# --------------------------------------------------------------------------- the mode-coverage benchmark

@dataclass(frozen=True)
class Recipe:
    """A GAN configuration for the mode-coverage benchmark (see the mode-coverage chapter).

    The networks are ``Generator(latent_dim, hidden=hidden)`` and ``discriminator(hidden=hidden)``
    (3 hidden ReLU layers each), trained by ``train_gan`` with the non-saturating loss. With
    ``drs_steps > 0`` the samples then go through discriminator rejection sampling: a fresh
    classifier with ``drs_fourier_features`` random Fourier features is trained for
    ``drs_steps`` steps against the frozen generator and used by ``rejection_sample``.
    """

    name: str
    n_steps: int = 8000
    latent_dim: int = 2
    hidden: int = 128
    lr: float = 1e-3
    betas: tuple[float, float] = (0.5, 0.9)
    r1_gamma: float = 0.0
    r1_every: int = 4
    decay_start: float = 1.0
    batch_size: int = 256
    drs_steps: int = 0
    drs_fourier_features: int = 64
    drs_fourier_scale: float = 10.0
    drs_quantile: float = 1.0


PLAIN = Recipe("plain GAN", lr=1e-4, betas=(0.5, 0.999))
BEST = Recipe("R1 GAN + Fourier-feature DRS", r1_gamma=0.1, decay_start=0.5, drs_steps=1500, drs_quantile=0.99)
BENCHMARK_SCALE = {"ring": 1.0, "grid": 4.0}  # data units per network unit


@dataclass
class BenchmarkResult:
    """What ``fit_benchmark`` returns; ``coverage`` scores ``samples`` (after DRS when used)."""

    recipe: Recipe
    dataset: str
    samples: Tensor
    raw_samples: Tensor
    coverage: object
    raw_coverage: object
    acceptance: float
    run: GANRun
    gen: Generator
    classifier: nn.Module | None


def fit_benchmark(recipe: Recipe, dataset: str, seed: int, *, n_samples: int = 2500,
                  snapshot_every: int = 0, progress: bool = True,
                  device: torch.device | None = None) -> BenchmarkResult:
    """Train ``recipe`` on ``"ring"`` or ``"grid"`` under ``seed`` and score 2,500 samples.

    The score is ``helpers.metrics.mode_coverage`` with the published protocol (VEEGAN, PacGAN).
    Seeds through ``helpers.set_seed``; see the mode-coverage chapter.
    """
    from helpers import data as _data
    from helpers._runtime import set_seed
    from helpers.metrics import mode_coverage

    if dataset not in BENCHMARK_SCALE:
        raise ValueError(f"dataset must be one of {sorted(BENCHMARK_SCALE)}, got {dataset!r}")
    device = device or torch.device("cpu")
    ds = _data.ring() if dataset == "ring" else _data.grid()
    scale = BENCHMARK_SCALE[dataset]
    set_seed(seed)
    gen = Generator(recipe.latent_dim, hidden=recipe.hidden).to(device)
    disc = discriminator(hidden=recipe.hidden).to(device)
    run = train_gan(gen, disc, ds.sample, recipe.n_steps, lr=recipe.lr, betas=recipe.betas,
                    r1_gamma=recipe.r1_gamma, r1_every=recipe.r1_every, decay_start=recipe.decay_start,
                    batch_size=recipe.batch_size, scale=scale, snapshot_every=snapshot_every,
                    progress=progress, desc=f"{recipe.name}, {dataset}")
    raw = (gen.sample(n_samples) * scale).cpu()
    samples, acceptance, classifier = raw, 1.0, None
    if recipe.drs_steps:
        classifier = discriminator(hidden=recipe.hidden, fourier_features=recipe.drs_fourier_features,
                                   fourier_scale=recipe.drs_fourier_scale).to(device)
        refine_discriminator(gen, classifier, ds.sample, recipe.drs_steps, scale=scale, progress=progress)
        samples, acceptance = rejection_sample(gen, classifier, n_samples, scale=scale,
                                               quantile=recipe.drs_quantile, max_batches=1000)
        samples = samples.cpu()
    return BenchmarkResult(recipe, dataset, samples, raw, mode_coverage(samples, ds.means, ds.std),
                           mode_coverage(raw, ds.means, ds.std), acceptance, run, gen, classifier)
