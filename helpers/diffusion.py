"""Diffusion models: the DDPM forward process, its posterior, samplers and the variational bound.

See the chapters "Diffusion models" (forward process, posterior, simplified loss, ancestral and
DDIM sampling, the bound in nats), "Score-based models" (scores, Langevin dynamics) and
"A diffusion model of digits" (the small U-Net, x0 clipping, the cosine schedule, min-SNR
weights).

Index convention: a timestep index ``t`` in code runs over ``0, ..., T-1`` and stands for the
paper's step ``t + 1`` (Ho et al. 2020 count 1..T). So ``alphas_cumprod[t]`` is
``prod_{s <= t} (1 - betas[s])`` and ``q_sample(x0, 0, ...)`` adds one step of noise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from helpers import validate

__all__ = [
    "EpsMLP",
    "Schedule",
    "SinusoidalEmbedding",
    "UNet8",
    "VLB",
    "annealed_langevin",
    "cosine_beta_schedule",
    "ddim_sample",
    "eps_to_score",
    "gaussian_kl",
    "gaussian_mixture_score",
    "langevin",
    "linear_beta_schedule",
    "make_schedule",
    "min_snr_weights",
    "p_sample_loop",
    "predict_x0",
    "q_posterior",
    "q_sample",
    "strided_timesteps",
    "vlb_terms",
]


# --------------------------------------------------------------------------- schedules


def linear_beta_schedule(T: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> Tensor:
    """The DDPM schedule (Ho et al. 2020): T betas linear from ``beta_start`` to ``beta_end``.

    Returns a float64 tensor of shape (T,). With the defaults and T = 1000 it is the paper's.
    """
    validate.positive_int(T, "T")
    if not (0 < beta_start <= beta_end < 1):
        raise ValueError(f"need 0 < beta_start <= beta_end < 1, got {beta_start!r}, {beta_end!r}")
    return torch.linspace(beta_start, beta_end, T, dtype=torch.float64)


def cosine_beta_schedule(T: int, s: float = 0.008, max_beta: float = 0.999) -> Tensor:
    """The cosine schedule of Nichol & Dhariwal (2021): alpha_bar(t) = cos²((t/T + s)/(1 + s) π/2).

    Returns float64 betas of shape (T,), clipped at ``max_beta``. See the digits chapter.
    """
    validate.positive_int(T, "T")
    validate.non_negative_float(s, "s")
    validate.probability(max_beta, "max_beta", allow_zero=False, allow_one=False)
    steps = torch.arange(T + 1, dtype=torch.float64) / T
    f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
    abar = f / f[0]
    return (1 - abar[1:] / abar[:-1]).clamp(max=max_beta)


class Schedule(NamedTuple):
    """Every quantity of a noise schedule, each a float64 tensor of shape (T,).

    ``betas`` β_t, ``alphas`` α_t = 1 − β_t, ``alphas_cumprod`` ᾱ_t = ∏_{s≤t} α_s,
    ``alphas_cumprod_prev`` ᾱ_{t−1} (1 at the first step) and ``posterior_variance``
    β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t).
    """

    betas: Tensor
    alphas: Tensor
    alphas_cumprod: Tensor
    alphas_cumprod_prev: Tensor
    posterior_variance: Tensor


def _check_betas(betas: Tensor) -> Tensor:
    validate.tensor(betas, "betas", shape=("T",), min_len=1)
    if not bool(((betas > 0) & (betas < 1)).all()):
        raise ValueError("every beta must lie in (0, 1)")
    return betas.double()


def make_schedule(betas: Tensor) -> Schedule:
    """All schedule quantities from betas: (T,) in (0, 1). See the diffusion chapter."""
    betas = _check_betas(betas)
    alphas = 1 - betas
    abar = torch.cumprod(alphas, 0)
    abar_prev = torch.cat([abar.new_ones(1), abar[:-1]])
    post_var = betas * (1 - abar_prev) / (1 - abar)
    return Schedule(betas, alphas, abar, abar_prev, post_var)


def _gather(values: Tensor, t: Tensor | int, like: Tensor) -> Tensor:
    """values[t] reshaped to broadcast against ``like`` (batch, ...), in like's dtype/device."""
    if isinstance(t, int):
        t = torch.full((like.shape[0],), t, dtype=torch.long)
    if not isinstance(t, Tensor) or t.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"t must be an int or an integer tensor of shape (batch,), got {t!r}")
    if t.ndim == 0:
        t = t.expand(like.shape[0])
    if t.shape != (like.shape[0],):
        raise ValueError(f"t must have shape ({like.shape[0]},) to match x of shape {tuple(like.shape)}, "
                         f"got {tuple(t.shape)}")
    if bool((t < 0).any()) or bool((t >= values.shape[0]).any()):
        raise ValueError(f"timestep indices must lie in [0, {values.shape[0] - 1}], got {t.min()}..{t.max()}")
    out = values.to(like.device)[t.to(like.device)].to(like.dtype)
    return out.reshape(-1, *([1] * (like.ndim - 1)))


# --------------------------------------------------------------------------- forward process


def q_sample(x0: Tensor, t: Tensor | int, noise: Tensor, alphas_cumprod: Tensor) -> Tensor:
    """Closed-form forward sample x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε, i.e. a draw of q(x_t | x_0).

    Args:
        x0: (batch, ...) clean data.
        t: (batch,) integer timestep indices in [0, T) (or one int for the whole batch).
        noise: ε, same shape as x0, standard normal.
        alphas_cumprod: (T,) ᾱ.
    Returns:
        x_t, same shape and dtype as x0. See the diffusion chapter.
    """
    if noise.shape != x0.shape:
        raise ValueError(f"noise must have the shape of x0 {tuple(x0.shape)}, got {tuple(noise.shape)}")
    abar = _gather(alphas_cumprod, t, x0)
    return abar.sqrt() * x0 + (1 - abar).sqrt() * noise


def q_posterior(x0: Tensor, xt: Tensor, t: Tensor | int, betas: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and variance of the posterior q(x_{t−1} | x_t, x_0) (a Gaussian).

    mean = √ᾱ_{t−1} β_t / (1 − ᾱ_t) x0 + √α_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t) x_t,
    variance β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t) (zero at the first step).

    Args:
        x0, xt: (batch, ...); t: (batch,) indices in [0, T); betas: (T,).
    Returns:
        ``(mean, variance)``: mean like x0, variance of shape (batch, 1, ...) broadcastable to it.
    """
    if x0.shape != xt.shape:
        raise ValueError(f"x0 and xt must have the same shape, got {tuple(x0.shape)} and {tuple(xt.shape)}")
    s = make_schedule(betas)
    abar, abar_prev = _gather(s.alphas_cumprod, t, x0), _gather(s.alphas_cumprod_prev, t, x0)
    beta, alpha = _gather(s.betas, t, x0), _gather(s.alphas, t, x0)
    mean = abar_prev.sqrt() * beta / (1 - abar) * x0 + alpha.sqrt() * (1 - abar_prev) / (1 - abar) * xt
    return mean, _gather(s.posterior_variance, t, x0)


def predict_x0(xt: Tensor, t: Tensor | int, eps: Tensor, alphas_cumprod: Tensor) -> Tensor:
    """Invert q_sample for x0 given a noise (prediction): x0 = (x_t − √(1 − ᾱ_t) ε) / √ᾱ_t."""
    abar = _gather(alphas_cumprod, t, xt)
    return (xt - (1 - abar).sqrt() * eps) / abar.sqrt()


def eps_to_score(eps: Tensor, t: Tensor | int, alphas_cumprod: Tensor) -> Tensor:
    """The score ∇ log q(x_t | x_0) = −ε / √(1 − ᾱ_t) that a noise prediction ε implies.

    See the score-based chapter.
    """
    abar = _gather(alphas_cumprod, t, eps)
    return -eps / (1 - abar).sqrt()


def min_snr_weights(alphas_cumprod: Tensor, gamma: float = 5.0) -> Tensor:
    """Min-SNR-γ loss weights for the noise-prediction loss (Hang et al. 2023): (T,) -> (T,).

    With SNR_t = ᾱ_t / (1 − ᾱ_t), the noise error is a scaled clean-image error,
    ‖ε − ε̂‖² = SNR_t ‖x0 − x̂0‖², so the simplified loss weights the x0 error of step t by
    SNR_t, which is huge for the nearly clean steps. Multiplying the noise loss of step t by
    w_t = min(SNR_t, γ) / SNR_t caps that weight at γ and leaves the noisy steps (SNR_t ≤ γ)
    as they were. See the digits chapter.
    """
    validate.tensor(alphas_cumprod, "alphas_cumprod", shape=("T",), min_len=1)
    if bool(((alphas_cumprod <= 0) | (alphas_cumprod >= 1)).any()):
        raise ValueError("alphas_cumprod must lie strictly between 0 and 1")
    validate.positive_float(gamma, "gamma")
    snr = alphas_cumprod / (1 - alphas_cumprod)
    return snr.clamp(max=gamma) / snr


def gaussian_kl(mean1: Tensor, var1: Tensor, mean2: Tensor, var2: Tensor) -> Tensor:
    """KL(N(mean1, var1 I) || N(mean2, var2 I)) in nats, summed over all but the first dimension.

    Means: (batch, ...); variances broadcast against them (per sample or per coordinate).
    Returns (batch,).
    """
    var1, var2 = torch.as_tensor(var1).to(mean1), torch.as_tensor(var2).to(mean1)
    kl = 0.5 * (torch.log(var2 / var1) + (var1 + (mean1 - mean2) ** 2) / var2 - 1)
    kl = kl.expand_as(mean1) if kl.shape != mean1.shape else kl
    return kl.reshape(mean1.shape[0], -1).sum(1)


# --------------------------------------------------------------------------- networks


class SinusoidalEmbedding(nn.Module):
    """Transformer-style embedding of a (possibly fractional) time: (batch,) -> (batch, dim).

    Frequencies are geometric from 1 to 1/max_period, so both neighbouring steps and the
    whole range 0..T are distinguishable.
    """

    def __init__(self, dim: int, max_period: float = 10_000.0) -> None:
        super().__init__()
        if validate.positive_int(dim, "dim", minimum=2) % 2:
            raise ValueError(f"dim must be an even integer >= 2, got {dim!r}")
        half = dim // 2
        self.register_buffer("freqs", torch.exp(-math.log(max_period) * torch.arange(half) / half))

    def forward(self, t: Tensor) -> Tensor:
        arg = t.float().reshape(-1, 1) * self.freqs
        return torch.cat([arg.sin(), arg.cos()], dim=1)


def _embed_time(embed: nn.Module, t: Tensor, batch: int) -> Tensor:
    """embed(t) for t: (batch,) or one time for all; (batch, e), or (1, e) when the batch shares t.

    A shared time (as in sampling) is embedded once and broadcast by the blocks that add it.
    """
    t = t.float().reshape(-1).expand(batch)
    if batch > 1 and bool((t == t[0]).all()):
        t = t[:1]
    return embed(t)


class _ResBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.fc1, self.fc2, self.emb = nn.Linear(width, width), nn.Linear(width, width), nn.Linear(width, width)

    def forward(self, h: Tensor, e: Tensor) -> Tensor:
        return h + self.fc2(F.silu(self.fc1(F.silu(h)) + self.emb(e)))


class EpsMLP(nn.Module):
    """Noise predictor ε_θ(x_t, t) for vectors: (batch, dim), (batch,) -> (batch, dim).

    A width-``width`` MLP with ``n_blocks`` residual blocks, each told the time through a
    sinusoidal embedding. ``t`` may be fractional (the score chapter feeds log σ).
    See the diffusion chapter.
    """

    def __init__(self, dim: int = 2, width: int = 128, n_blocks: int = 3, time_scale: float = 1.0) -> None:
        super().__init__()
        validate.positive_int(dim, "dim")
        validate.positive_int(width, "width", minimum=2)
        validate.positive_int(n_blocks, "n_blocks", minimum=0)
        self.time_scale = time_scale
        self.embed = nn.Sequential(SinusoidalEmbedding(width), nn.Linear(width, width), nn.SiLU())
        self.inp = nn.Linear(dim, width)
        self.blocks = nn.ModuleList(_ResBlock(width) for _ in range(n_blocks))
        self.out = nn.Linear(width, dim)

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        e = _embed_time(self.embed, t * self.time_scale, x.shape[0])
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, e)
        return self.out(F.silu(h))


def fit_ddpm(
    dist,
    n_steps: int,
    batch: int,
    *,
    seed: int,
    alphas_cumprod: Tensor,
    lr: float = 2e-3,
    width: int = 128,
    n_blocks: int = 3,
    ema_decay: float = 0.999,
    warmup: int = 200,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> EpsMLP:
    """Train an ``EpsMLP`` on samples of ``dist`` with the simplified loss; return its EMA copy.

    Each step draws ``batch`` points x0 ~ ``dist.sample``, a uniform step t and a noise ε, and
    regresses ε_θ(√ᾱ_t x0 + √(1 − ᾱ_t) ε, t) on ε (Ho et al. 2020, Algorithm 1). Adam with a
    linear warm-up over ``warmup`` steps and cosine decay; an exponential moving average of the
    weights (``ema_decay``) is what is returned, in eval mode. Seeds through
    ``helpers.set_seed(seed)``, so it can run in a worker (``helpers.parallel.map_fits``).

    Args:
        dist: anything with ``sample(n) -> (n, d)`` (a ``helpers.data`` distribution).
        alphas_cumprod: (T,) the schedule's ᾱ_t, float32 on ``device``.
    """
    from helpers._runtime import set_seed
    from helpers.train import train

    if not hasattr(dist, "sample"):
        raise TypeError(f"dist must have a sample(n) method, got {type(dist).__name__}")
    validate.positive_int(n_steps, "n_steps")
    validate.positive_int(batch, "batch")
    set_seed(seed)
    device = torch.device(device)
    abar = alphas_cumprod.float().to(device)
    T = abar.numel()
    x_probe = dist.sample(2)
    net = EpsMLP(dim=x_probe.shape[1], width=width, n_blocks=n_blocks).to(device)
    ema = torch.optim.swa_utils.AveragedModel(net, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(ema_decay))
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda k: min(1, (k + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * k / n_steps))
    )

    def loss_fn(step: int) -> Tensor:
        if step:
            ema.update_parameters(net)
        x0 = dist.sample(batch).to(device)
        t = torch.randint(0, T, (batch,), device=device)
        eps = torch.randn_like(x0)
        return ((net(q_sample(x0, t, eps, abar), t) - eps) ** 2).mean()

    train(loss_fn, opt, n_steps, scheduler=sched, progress=progress, desc="DDPM")
    ema.update_parameters(net)
    return ema.module.eval()


def fit_and_sample(
    dist,
    n_steps: int,
    batch: int,
    n_samples: int,
    *,
    seed: int,
    betas: Tensor,
    trajectory: Sequence[int] = (),
    device: torch.device | str = "cpu",
    **fit_kwargs,
) -> tuple[EpsMLP, Tensor, dict[int, Tensor], float]:
    """``fit_ddpm`` and then ancestral sampling (``p_sample_loop`` over all T steps), as one job.

    One job per data set keeps a CPU core busy from training to samples, which is how the
    diffusion chapter runs two of them side by side (``helpers.parallel.map_fits``).

    Args:
        n_samples: number of samples to draw after training.
        betas: (T,) the schedule (float64); ``fit_ddpm`` gets its ᾱ_t.
        trajectory: timestep indices whose states the sampler also returns.
        fit_kwargs: passed on to ``fit_ddpm`` (``lr``, ``width``, ``progress``, ...).

    Returns:
        ``(model, samples (n_samples, d) on the CPU, {index: states (n_samples, d)}, seconds)``,
        where seconds is the wall time of the sampling alone.
    """
    import time

    validate.positive_int(n_samples, "n_samples")
    abar = make_schedule(betas).alphas_cumprod.float()
    model = fit_ddpm(dist, n_steps, batch, seed=seed, alphas_cumprod=abar, device=device, **fit_kwargs)
    t0 = time.perf_counter()
    out = p_sample_loop(model, (n_samples, model.inp.in_features), betas, device=device,
                        return_trajectory=tuple(trajectory))
    samples, traj = out if trajectory else (out, {})
    seconds = time.perf_counter() - t0
    return model, samples.cpu(), {k: v.cpu() for k, v in traj.items()}, seconds


class _ConvBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, emb: int) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.GroupNorm(8, c_in), nn.GroupNorm(8, c_out)
        self.conv1, self.conv2 = nn.Conv2d(c_in, c_out, 3, padding=1), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.emb = nn.Linear(emb, c_out)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, h: Tensor, e: Tensor) -> Tensor:
        z = self.conv1(F.silu(self.norm1(h))) + self.emb(e)[:, :, None, None]
        return self.skip(h) + self.conv2(F.silu(self.norm2(z)))


class UNet8(nn.Module):
    """A small convolutional U-Net ε_θ(x_t, t) for 8x8 one-channel images.

    Input (batch, 64) or (batch, 1, 8, 8); output of the same shape. Two resolutions
    (8x8 with ``ch`` channels, 4x4 with ``2 ch``), a residual block per level on the way down
    and up, skip connections between them, the time told to every block.
    See the digits chapter.
    """

    def __init__(self, ch: int = 32, emb: int = 128) -> None:
        super().__init__()
        if validate.positive_int(ch, "ch", minimum=8) % 8:
            raise ValueError(f"ch must be a positive multiple of 8, got {ch!r}")
        self.embed = nn.Sequential(SinusoidalEmbedding(emb), nn.Linear(emb, emb), nn.SiLU())
        self.inp = nn.Conv2d(1, ch, 3, padding=1)
        self.down1 = _ConvBlock(ch, ch, emb)
        self.pool = nn.Conv2d(ch, ch, 3, stride=2, padding=1)
        self.down2 = _ConvBlock(ch, 2 * ch, emb)
        self.mid = _ConvBlock(2 * ch, 2 * ch, emb)
        self.up2 = _ConvBlock(4 * ch, 2 * ch, emb)
        self.upsample = nn.ConvTranspose2d(2 * ch, ch, 2, stride=2)
        self.up1 = _ConvBlock(2 * ch, ch, emb)
        self.out = nn.Sequential(nn.GroupNorm(8, ch), nn.SiLU(), nn.Conv2d(ch, 1, 3, padding=1))

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        flat = x.ndim == 2
        h = x.reshape(-1, 1, 8, 8)
        e = _embed_time(self.embed, t, h.shape[0])
        h1 = self.down1(self.inp(h), e)
        h2 = self.down2(self.pool(h1), e)
        h = self.up2(torch.cat([self.mid(h2, e), h2], 1), e)
        h = self.up1(torch.cat([self.upsample(h), h1], 1), e)
        out = self.out(h)
        return out.reshape(-1, 64) if flat else out


# --------------------------------------------------------------------------- samplers

EpsModel = Callable[[Tensor, Tensor], Tensor]


def strided_timesteps(T: int, n_steps: int) -> Tensor:
    """n_steps timestep indices spread evenly over [0, T), ascending, always ending at T − 1."""
    validate.positive_int(n_steps, "n_steps", maximum=validate.positive_int(T, "T"))
    return torch.linspace(T - 1, 0, n_steps).round().long().flip(0).unique()


@torch.no_grad()
def p_sample_loop(
    model: EpsModel,
    shape: Sequence[int],
    betas: Tensor,
    *,
    timesteps: Tensor | None = None,
    clip_x0: float | None = None,
    variance: str = "posterior",
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    return_trajectory: Sequence[int] = (),
) -> Tensor | tuple[Tensor, dict[int, Tensor]]:
    """Ancestral sampling of the reverse chain p_θ(x_{t−1} | x_t), from x_T ~ N(0, I) to x_0.

    Each step predicts ε = model(x_t, t), forms x̂0 = predict_x0(...) (optionally clipped to
    [−clip_x0, clip_x0]) and draws from N(μ̃(x̂0, x_t), σ_t²) with σ_t² the posterior variance β̃_t
    (``variance="posterior"``) or β_t (``"beta"``); the last step returns the mean.

    ``timesteps``: an ascending subsequence of indices (``strided_timesteps``) samples a
    respaced chain whose betas are 1 − ᾱ_{τ_i}/ᾱ_{τ_{i−1}}; the default is all T steps.
    ``return_trajectory``: indices at which to keep x_t (key −1 holds the final x_0).

    Returns (batch, ...) samples, plus the trajectory dict when ``return_trajectory`` is given.
    See the diffusion chapter.
    """
    if variance not in ("posterior", "beta"):
        raise ValueError(f"variance must be 'posterior' or 'beta', got {variance!r}")
    abar_full = make_schedule(betas).alphas_cumprod
    T = abar_full.numel()
    taus = torch.arange(T) if timesteps is None else torch.as_tensor(timesteps).long()
    if taus.ndim != 1 or bool((taus[1:] <= taus[:-1]).any()) or int(taus[0]) < 0 or int(taus[-1]) >= T:
        raise ValueError(f"timesteps must be ascending indices in [0, {T}), got {timesteps!r}")
    abar = abar_full[taus]
    s = make_schedule(1 - abar / torch.cat([abar.new_ones(1), abar[:-1]]))
    x = torch.randn(*shape, generator=generator).to(device)
    keep = {}
    for i in range(len(taus) - 1, -1, -1):
        t_model = taus[i].to(device).expand(x.shape[0])
        t_idx = torch.full((x.shape[0],), i, dtype=torch.long)
        if int(taus[i]) in return_trajectory:
            keep[int(taus[i])] = x.cpu()
        eps = model(x, t_model)
        x0 = predict_x0(x, t_idx, eps, s.alphas_cumprod)
        if clip_x0 is not None:
            x0 = x0.clamp(-clip_x0, clip_x0)
        mean, var = q_posterior(x0, x, t_idx, s.betas)
        if i == 0:
            x = mean
        else:
            if variance == "beta":
                var = _gather(s.betas, t_idx, x)
            x = mean + var.sqrt() * torch.randn(x.shape, generator=generator).to(x)
    if return_trajectory:
        keep[-1] = x.cpu()
        return x, keep
    return x


@torch.no_grad()
def ddim_sample(
    model: EpsModel,
    shape: Sequence[int],
    alphas_cumprod: Tensor,
    n_steps: int,
    *,
    eta: float = 0.0,
    clip_x0: float | None = None,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> Tensor:
    """DDIM sampling (Song, Meng & Ermon 2021) over ``n_steps`` strided timesteps.

    x_{τ_{i−1}} = √ᾱ_{τ_{i−1}} x̂0 + √(1 − ᾱ_{τ_{i−1}} − σ²) ε̂ + σ z, with
    σ = η √((1 − ᾱ_{τ_{i−1}})/(1 − ᾱ_{τ_i})) √(1 − ᾱ_{τ_i}/ᾱ_{τ_{i−1}}); η = 0 is deterministic.
    The final step returns x̂0. See the diffusion chapter.
    """
    validate.non_negative_float(eta, "eta")
    abar = alphas_cumprod.double()
    taus = strided_timesteps(abar.numel(), n_steps)
    x = torch.randn(*shape, generator=generator).to(device)
    for i in range(len(taus) - 1, -1, -1):
        t = taus[i]
        eps = model(x, t.to(device).expand(x.shape[0]))
        a_t = float(abar[t])
        x0 = (x - math.sqrt(1 - a_t) * eps) / math.sqrt(a_t)
        if clip_x0 is not None:
            x0 = x0.clamp(-clip_x0, clip_x0)
            eps = (x - math.sqrt(a_t) * x0) / math.sqrt(1 - a_t)
        if i == 0:
            return x0
        a_prev = float(abar[taus[i - 1]])
        sigma = eta * math.sqrt((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev))
        x = math.sqrt(a_prev) * x0 + math.sqrt(1 - a_prev - sigma**2) * eps
        if sigma > 0:
            x = x + sigma * torch.randn(x.shape, generator=generator).to(x)
    return x


# --------------------------------------------------------------------------- the bound


class VLB(NamedTuple):
    """The variational bound −log p_θ(x0) ≤ prior + Σ kl + decoder, per sample (nats).

    ``prior`` KL(q(x_T|x0) || N(0, I)): (batch,); ``kl`` the terms KL(q(x_{t−1}|x_t,x0) || p_θ(x_{t−1}|x_t))
    for the paper's t = 2..T: (batch, T − 1); ``decoder`` −log p_θ(x0 | x_1): (batch,);
    ``total``: (batch,).
    """

    prior: Tensor
    kl: Tensor
    decoder: Tensor
    total: Tensor


@torch.no_grad()
def vlb_terms(
    model: EpsModel,
    x0: Tensor,
    betas: Tensor,
    generator: torch.Generator | None = None,
    variance: str = "beta",
) -> VLB:
    """Every term of the DDPM variational bound for each x0 (one draw of x_t per term).

    The reverse model is p_θ(x_{t−1}|x_t) = N(μ̃(x̂0(x_t, ε_θ), x_t), σ_t² I) for t ≥ 2, with σ_t² = β_t
    (``variance="beta"``, right when the data are spread out on the scale of √β_1) or the posterior
    variance β̃_t (``"posterior"``, right for point-like data), and the decoder
    p_θ(x0|x_1) = N(μ_θ(x_1, 1), β_1 I). Each KL term is exact given its x_t, so the sum is an
    unbiased estimate of the bound. x0: (batch, dim) float. See the diffusion chapter.
    """
    if variance not in ("posterior", "beta"):
        raise ValueError(f"variance must be 'posterior' or 'beta', got {variance!r}")
    validate.tensor(x0, "x0", shape=("batch", "dim"))
    s = make_schedule(betas)
    T, n = s.betas.numel(), x0.shape[0]
    abar_T = float(s.alphas_cumprod[-1])
    prior = gaussian_kl(math.sqrt(abar_T) * x0, 1 - abar_T, torch.zeros_like(x0), 1.0)
    kls = []
    for t in range(1, T):
        tt = torch.full((n,), t, dtype=torch.long)
        noise = torch.randn(x0.shape, generator=generator).to(x0)
        xt = q_sample(x0, tt, noise, s.alphas_cumprod)
        mean_q, var_q = q_posterior(x0, xt, tt, s.betas)
        x0_hat = predict_x0(xt, tt, model(xt, tt.to(x0.device)), s.alphas_cumprod)
        mean_p, _ = q_posterior(x0_hat, xt, tt, s.betas)
        var_p = var_q if variance == "posterior" else float(s.betas[t])
        kls.append(gaussian_kl(mean_q, var_q, mean_p, var_p))
    t0 = torch.zeros(n, dtype=torch.long)
    x1 = q_sample(x0, t0, torch.randn(x0.shape, generator=generator).to(x0), s.alphas_cumprod)
    mean_p, _ = q_posterior(predict_x0(x1, t0, model(x1, t0.to(x0.device)), s.alphas_cumprod), x1, t0, s.betas)
    var0 = float(s.betas[0])
    decoder = 0.5 * (((x0 - mean_p) ** 2) / var0 + math.log(2 * math.pi * var0)).sum(1)
    kl = torch.stack(kls, 1) if kls else x0.new_zeros(n, 0)
    return VLB(prior, kl, decoder, prior + kl.sum(1) + decoder)


# --------------------------------------------------------------------------- scores and Langevin


def gaussian_mixture_score(x: Tensor, means: Tensor, weights: Tensor, std: float) -> Tensor:
    """Exact score ∇_x log Σ_k w_k N(x; μ_k, std² I): x (batch, dim) -> (batch, dim).

    A mixture blurred by N(0, σ²I) is the same mixture with std √(std² + σ²), so this also gives
    the noisy scores annealed Langevin needs. See the score-based chapter.
    """
    validate.positive_float(std, "std")
    means, weights = means.to(x), weights.to(x)
    diff = means.unsqueeze(0) - x.unsqueeze(1)  # (batch, K, dim)
    logits = weights.log() - 0.5 * (diff**2).sum(-1) / std**2
    resp = torch.softmax(logits, dim=1)
    return (resp.unsqueeze(-1) * diff).sum(1) / std**2


ScoreFn = Callable[[Tensor, float], Tensor]


@torch.no_grad()
def langevin(
    score: Callable[[Tensor], Tensor],
    x: Tensor,
    step_size: float,
    n_steps: int,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Unadjusted Langevin dynamics x ← x + (α/2) ∇log p(x) + √α z for ``n_steps`` steps.

    x: (batch, dim) starting points. See the score-based chapter.
    """
    validate.positive_float(step_size, "step_size")
    validate.positive_int(n_steps, "n_steps", minimum=0)
    for _ in range(n_steps):
        z = torch.randn(x.shape, generator=generator).to(x)
        x = x + 0.5 * step_size * score(x) + math.sqrt(step_size) * z
    return x


@torch.no_grad()
def annealed_langevin(
    score: ScoreFn,
    x: Tensor,
    sigmas: Sequence[float],
    n_steps_per_level: int,
    eps: float,
    generator: torch.Generator | None = None,
    history: list[Tensor] | None = None,
) -> Tensor:
    """Annealed Langevin dynamics (Song & Ermon 2019, Algorithm 1).

    For each σ_i in ``sigmas`` (decreasing), run ``n_steps_per_level`` Langevin steps on the
    σ_i-blurred density with step α_i = eps · σ_i² / σ_L², calling ``score(x, σ_i)``.
    If ``history`` is a list, x after each level is appended to it. See the score-based chapter.
    """
    sigmas = [float(s) for s in sigmas]
    if not sigmas or any(b >= a for a, b in zip(sigmas, sigmas[1:], strict=False)) or sigmas[-1] <= 0:
        raise ValueError(f"sigmas must be positive and strictly decreasing, got {sigmas}")
    validate.positive_int(n_steps_per_level, "n_steps_per_level", minimum=0)
    validate.positive_float(eps, "eps")
    for sigma in sigmas:
        alpha = eps * sigma**2 / sigmas[-1] ** 2
        x = langevin(lambda y, s=sigma: score(y, s), x, alpha, n_steps_per_level, generator)
        if history is not None:
            history.append(x.clone())
    return x
