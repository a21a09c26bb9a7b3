"""The four families side by side: one budget, one protocol, one table (the comparison chapter).

``fit_family`` trains a VAE, a GAN, a normalizing flow or a diffusion model on a 2D toy
distribution with a common ``Budget`` (the same number of optimiser steps on the same number of
fresh data points per step), using the models of the earlier chapters (``helpers.vae``,
``helpers.gan``, ``helpers.flows``, ``helpers.diffusion``). ``evaluate`` then scores it with the
book's protocol:

* held-out negative log-likelihood in nats: exact for the flow, an upper bound for the VAE
  (-IWAE_k) and the diffusion model (the DDPM variational bound), ``nan`` for the GAN, which
  has no density; ``entropy`` gives the floor H(p) every model sits above;
* sample quality: the energy distance between model samples and held-out data, as a multiple of
  the noise floor (the same distance between two independent real sets of the same size);
* for mixtures, the VEEGAN/PacGAN mode coverage (modes captured, high-quality fraction);
* training time and the time to draw 1,000 samples (CPU time of one thread).

This module sits above the model families (like ``helpers.science``): it imports all four, and
none of them imports it. Everything runs on the CPU, so that times compare across families.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from helpers import data as _data
from helpers import validate
from helpers._runtime import generator, seed_for, set_seed
from helpers.metrics import energy_distance, mean_and_se, mode_coverage
from helpers.parallel import one_thread

__all__ = [
    "DATASETS",
    "FAMILIES",
    "Budget",
    "CHAPTER_BUDGET",
    "Fitted",
    "Scores",
    "energy_floor",
    "entropy",
    "evaluate",
    "fit_family",
    "load_dataset",
    "one_thread",
    "run",
]

FAMILIES = ("VAE", "GAN", "flow", "diffusion")
#: name -> (constructor, data units per network unit)
DATASETS: dict[str, tuple[Callable[[], object], float]] = {
    "grid": (lambda: _data.grid(), 4.0),
    "moons": (lambda: _data.TwoMoons(noise=0.1), 1.0),
    "ring": (lambda: _data.ring(), 1.0),
}


@dataclass(frozen=True)
class Budget:
    """The budget every family gets: ``n_steps`` optimiser steps on ``batch_size`` fresh points.

    ``lr`` is Adam's initial learning rate; it decays exponentially to ``lr * final_lr_factor``
    over the second half of training (the GAN chapter's schedule, applied to every family).
    """

    n_steps: int = 2000
    batch_size: int = 256
    lr: float = 1e-3
    final_lr_factor: float = 0.05

    def __post_init__(self) -> None:
        for name in ("n_steps", "batch_size"):
            validate.positive_int(getattr(self, name), name)
        validate.positive_float(self.lr, "lr")
        validate.probability(self.final_lr_factor, "final_lr_factor", allow_zero=False)


#: the budget of the comparison chapter (and of ``tools/comparison_seeds.py``)
CHAPTER_BUDGET = Budget(n_steps=1500, batch_size=256, lr=1e-3)


def load_dataset(name: str):
    """The toy ``name`` (``"grid"``, ``"moons"``, ``"ring"``) and its scale (data units per network unit)."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {sorted(DATASETS)}")
    make, scale = DATASETS[name]
    return make(), scale


# --------------------------------------------------------------------------- the four fitted models
class Fitted:
    """A trained model behind a common interface, in data units.

    ``sample(n) -> (n, 2)``; ``nll(x) -> (n,)`` negative log-likelihood (or its upper bound) in
    nats, ``None`` for a GAN; ``nll_kind`` says which ("exact", "bound" or "n/a").
    """

    def __init__(self, family: str, model: nn.Module, scale: float, train_seconds: float,
                 history: dict[str, list[float]], sample_fn: Callable[[int], Tensor],
                 nll_fn: Callable[[Tensor], Tensor] | None, nll_kind: str) -> None:
        self.family, self.model, self.scale = family, model, scale
        self.train_seconds, self.history = train_seconds, history
        self._sample, self._nll, self.nll_kind = sample_fn, nll_fn, nll_kind

    @torch.no_grad()
    def sample(self, n: int) -> Tensor:
        """n samples (n, 2) in data units."""
        return self._sample(n) * self.scale

    def nll(self, x: Tensor) -> Tensor | None:
        """-log p(x) in nats (exact or an upper bound) for x: (n, 2) in data units; None for a GAN."""
        if self._nll is None:
            return None
        d = x.shape[1]
        return self._nll(x / self.scale) + d * math.log(self.scale)  # change of units: p_x = p_u / s^d

    def __repr__(self) -> str:
        return f"Fitted({self.family}, trained in {self.train_seconds:.1f} s)"


def _decaying_adam(params, budget: Budget) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    opt = torch.optim.Adam(params, lr=budget.lr)
    start = budget.n_steps // 2
    rate = math.log(budget.final_lr_factor) / max(budget.n_steps - start, 1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 if s < start else math.exp(rate * (s - start + 1)))
    return opt, sched


def _fit_vae(ds, scale: float, budget: Budget, progress: bool) -> Fitted:
    from helpers.train import train
    from helpers.vae import VAE

    model = VAE(2, 2, hidden=128, n_hidden=3, obs_std="learned_per_dim", init_obs_std=0.3)
    opt, sched = _decaying_adam(model.parameters(), budget)
    t0 = time.process_time()
    hist = train(lambda step: -model.elbo(ds.sample(budget.batch_size) / scale).mean(), opt, budget.n_steps,
                 scheduler=sched, progress=progress, desc="VAE")
    seconds = time.process_time() - t0
    model.eval()

    @torch.no_grad()
    def nll(u: Tensor) -> Tensor:
        return -torch.cat([model.iwae_bound(c, k=128) for c in u.split(1000)])

    return Fitted("VAE", model, scale, seconds, hist, lambda n: model.sample(n, mean=False), nll, "bound")


def _fit_gan(ds, scale: float, budget: Budget, progress: bool) -> Fitted:
    from helpers.gan import Generator, discriminator, train_gan

    gen, disc = Generator(2, hidden=128), discriminator(hidden=128)
    t0 = time.process_time()
    run_ = train_gan(gen, disc, ds.sample, budget.n_steps, batch_size=budget.batch_size, lr=budget.lr,
                     r1_gamma=0.1, r1_every=4, decay_start=0.5, final_lr_factor=budget.final_lr_factor,
                     scale=scale, progress=progress, desc="GAN")
    seconds = time.process_time() - t0
    return Fitted("GAN", gen, scale, seconds, run_.history, gen.sample, None, "n/a")


def _fit_flow(ds, scale: float, budget: Budget, progress: bool) -> Fitted:
    from helpers.flows import NeuralSplineFlow
    from helpers.train import train

    flow = NeuralSplineFlow(2, n_layers=4, hidden=64, n_bins=12, bound=4.0)
    with torch.no_grad():
        flow.log_prob(ds.sample(2048) / scale)  # data-dependent ActNorm initialisation
    opt, sched = _decaying_adam(flow.parameters(), budget)
    t0 = time.process_time()
    hist = train(lambda step: -flow.log_prob(ds.sample(budget.batch_size) / scale).mean(), opt, budget.n_steps,
                 scheduler=sched, progress=progress, desc="flow", clip_grad=10.0)
    seconds = time.process_time() - t0

    @torch.no_grad()
    def nll(u: Tensor) -> Tensor:
        return -flow.log_prob(u)

    return Fitted("flow", flow, scale, seconds, hist, flow.sample, nll, "exact")


def _fit_diffusion(ds, scale: float, budget: Budget, progress: bool, T: int = 1000) -> Fitted:
    from helpers.diffusion import EpsMLP, linear_beta_schedule, make_schedule, p_sample_loop, q_sample, vlb_terms
    from helpers.train import train

    betas = linear_beta_schedule(T)
    abar = make_schedule(betas).alphas_cumprod.float()
    model = EpsMLP(2, width=64, n_blocks=3)
    opt, sched = _decaying_adam(model.parameters(), budget)

    def loss_fn(step: int) -> Tensor:
        x0 = ds.sample(budget.batch_size) / scale
        t = torch.randint(0, T, (x0.shape[0],))
        eps = torch.randn_like(x0)
        return (eps - model(q_sample(x0, t, eps, abar), t)).pow(2).sum(1).mean()

    t0 = time.process_time()
    hist = train(loss_fn, opt, budget.n_steps, scheduler=sched, progress=progress, desc="diffusion")
    seconds = time.process_time() - t0
    model.eval()

    @torch.no_grad()
    def nll(u: Tensor) -> Tensor:
        return vlb_terms(model, u, betas).total

    return Fitted("diffusion", model, scale, seconds, hist, lambda n: p_sample_loop(model, (n, 2), betas), nll,
                  "bound")


_FITTERS = {"VAE": _fit_vae, "GAN": _fit_gan, "flow": _fit_flow, "diffusion": _fit_diffusion}


def fit_family(family: str, dataset: str, budget: Budget = CHAPTER_BUDGET, *, seed: int = 0,
               progress: bool = True) -> Fitted:
    """Train one family on one dataset under ``budget`` and ``seed`` (CPU).

    Args:
        family: ``"VAE"``, ``"GAN"``, ``"flow"`` or ``"diffusion"``.
        dataset: ``"grid"``, ``"moons"`` or ``"ring"`` (see ``DATASETS``).
        budget: steps, batch size and learning rate, the same for every family.
        seed: passed to ``helpers.set_seed`` before the networks are built.
    Returns:
        a ``Fitted`` model; ``train_seconds`` is the training's CPU time (one thread, so on an
        idle machine the wall-clock time; unlike the wall-clock time, it does not grow when
        other programs share the CPU).
    """
    if family not in _FITTERS:
        raise ValueError(f"unknown family {family!r}; expected one of {FAMILIES}")
    ds, scale = load_dataset(dataset)
    set_seed(seed)
    with one_thread():
        return _FITTERS[family](ds, scale, budget, progress)


# --------------------------------------------------------------------------- references and scores
def entropy(ds, n: int = 20_000, seed: int = 1234) -> tuple[float, float]:
    """H(p) = E_p[-log p(x)] in nats by Monte Carlo with the exact density: (mean, standard error)."""
    g = generator(seed)
    x = ds.sample(n, generator=g)
    v = -ds.log_prob(x).double()
    return float(v.mean()), float(v.std() / math.sqrt(n))


def energy_floor(ds, n: int = 2000, n_draws: int = 10, seed: int = 4321) -> float:
    """The noise floor of the energy distance between sets of n points: its root-mean-square between
    two independent real sets, over ``n_draws`` draws.

    ``helpers.metrics.energy_distance`` is unbiased, so between two real sets it scatters around 0;
    its typical size, not its mean, is the floor a model's distance is compared with.
    """
    g = generator(seed)
    sq = [energy_distance(ds.sample(n, generator=g), ds.sample(n, generator=g)) ** 2 for _ in range(n_draws)]
    return math.sqrt(sum(sq) / n_draws)


@dataclass
class Scores:
    """One model's row of the comparison table (see ``evaluate``)."""

    family: str
    dataset: str
    seed: int
    nll: float  # held-out -log q in nats (exact or an upper bound); nan for the GAN
    nll_kind: str
    entropy: float  # H(p), the floor of nll
    excess: float  # held-out mean of -log q(x) + log p(x): KL(p || q) (bound families: an upper bound)
    excess_se: float  # its standard error
    energy: float  # energy distance to held-out data
    energy_floor: float
    modes: int  # -1 when the data are not a mixture
    hq: float  # nan when the data are not a mixture
    train_seconds: float
    sample_seconds_per_1000: float

    @property
    def excess_nats(self) -> float:
        """Nats above the floor H(p): the paired estimate ``excess`` (not ``nll - entropy``)."""
        return self.excess

    @property
    def energy_ratio(self) -> float:
        return self.energy / self.energy_floor

    def as_dict(self) -> dict:
        return asdict(self)


def evaluate(fitted: Fitted, dataset: str, *, seed: int = 0, n_test: int = 2000, n_samples: int = 2500,
             n_nll: int = 1000) -> Scores:
    """Score ``fitted`` on fresh held-out data of ``dataset`` with the book's protocol.

    The excess nats are paired: the mean over the first ``n_nll`` held-out points of
    −log q(x) − (−log p(x)) with the exact log p of the data, an estimate of KL(p‖q) whose
    standard error does not include the scatter of −log p(x) itself (``nll − entropy`` would).
    The held-out set (``n_test`` points, the first ``n_nll`` of them for the likelihood) depends
    only on the dataset, not on ``seed``; the model's samples (``n_samples``, 2,500 as in the
    mode-coverage protocol) use ``seed``. The sampling time is the CPU time (one thread) of
    drawing the ``n_samples`` samples in one batch, per 1,000 samples.
    """
    ds, _ = load_dataset(dataset)
    g = generator(2024)
    x_test = ds.sample(n_test, generator=g)
    set_seed(10_000 + seed)
    with one_thread():
        t0 = time.process_time()
        samples = fitted.sample(n_samples)
        sample_seconds = (time.process_time() - t0) * 1000 / n_samples
        nll = fitted.nll(x_test[:n_nll])
    if nll is None:
        nll_mean = excess = excess_se = float("nan")
    else:
        nll_mean = float(nll.mean())
        excess, excess_se = mean_and_se(nll.double() + ds.log_prob(x_test[:n_nll]).double())  # -log q + log p
    if hasattr(ds, "means"):
        cov = mode_coverage(samples, ds.means, ds.std)
        modes, hq = cov.modes_captured, cov.hq_fraction
    else:
        modes, hq = -1, float("nan")
    return Scores(fitted.family, dataset, seed, nll_mean, fitted.nll_kind, entropy(ds)[0], excess, excess_se,
                  energy_distance(samples[:n_test], x_test), energy_floor(ds, n_test), modes, hq,
                  fitted.train_seconds, sample_seconds)


def run(family: str, dataset: str, budget: Budget = CHAPTER_BUDGET, *, seed: int = 0,
        progress: bool = True) -> tuple[Fitted, Scores]:
    """``fit_family`` then ``evaluate``: the trained model and its row of the table."""
    fitted = fit_family(family, dataset, budget, seed=seed, progress=progress)
    return fitted, evaluate(fitted, dataset, seed=seed)


def run_for_table(family: str, dataset: str, budget: Budget = CHAPTER_BUDGET, *, seed: int = 0,
                  n_show: int = 1000, show_seed: int = 1) -> tuple[Scores, Tensor]:
    """``run`` without the model, for ``helpers.parallel.map_fits`` (whose results are pickled).

    Returns the row of the table and ``n_show`` samples (n_show, 2) drawn under ``show_seed``
    for the chapter's figure.
    """
    fitted, scores = run(family, dataset, budget, seed=seed, progress=False)
    torch.manual_seed(seed_for(show_seed))
    return scores, fitted.sample(n_show)
