"""Electromagnetic calorimeter showers: a GFLASH simulator, shower observables, CaloChallenge metrics
and a small conditional GAN (see the chapter "Simulation acceleration: calorimeter showers").

The simulator is a numpy stand-in for Geant4 built from the GFLASH parametrisation of
Grindhammer & Peters (hep-ex/0001020) for homogeneous media:

* longitudinal profile: a Gamma density in depth t (radiation lengths X0),
  ``dE/dt = E * (beta t)^(alpha-1) beta exp(-beta t) / Gamma(alpha)``, maximum at
  ``T = (alpha - 1) / beta``; per shower, ``(ln T, ln alpha)`` is a correlated normal;
* radial profile (r in Moliere radii) ``f(r) = p 2 r R_C^2/(r^2+R_C^2)^2 + (1-p) 2 r R_T^2/(r^2+R_T^2)^2``
  with ``R_C, R_T, p`` functions of ``tau = t / T``, E and Z;
* the energy is deposited by ``N_spot = 93 ln(Z) E^0.876`` discrete spots of equal energy, each
  placed at a depth drawn from the shower's own Gamma profile and at a radius drawn exactly from
  the two-component radial profile; the spots are binned into a layered voxel image.

Energies are in GeV, depths in X0, lateral distances in Moliere radii.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from helpers import validate
from helpers._runtime import generator, numpy_rng, seed_for
from helpers.gan import discriminator_loss, generator_loss_non_saturating

__all__ = [
    "Geometry", "LEAD", "average_profile_params", "fluctuation_params", "sample_profile_params",
    "radial_params", "radial_containment", "sample_radius", "n_spots", "gamma_profile", "simulate",
    "observables", "separation_power", "separation_power_samples", "classifier_auc",
    "CaloTransform", "CaloGenerator", "CaloDiscriminator", "train_calogan", "generate",
    "throughput",
]


@dataclass(frozen=True)
class Geometry:
    """A lead-like homogeneous calorimeter read out in layers of square cells.

    Attributes:
        Z: atomic number (82 for lead).
        critical_energy: E_c in GeV (7.43 MeV for lead).
        layer_edges: layer boundaries in X0, increasing, starting at 0.
        n_cells: cells per side in every layer (an n_cells x n_cells grid centred on the shower axis).
        cell_size: cell width in Moliere radii.
        threshold: read-out threshold in GeV; cells below it read zero.
    """

    Z: float = 82.0
    critical_energy: float = 0.00743
    layer_edges: tuple[float, ...] = (0.0, 3.0, 12.0, 25.0)
    n_cells: int = 12
    cell_size: float = 0.4
    threshold: float = 1e-3

    def __post_init__(self) -> None:
        edges = np.asarray(self.layer_edges, dtype=float)
        if edges.ndim != 1 or len(edges) < 2 or edges[0] != 0 or np.any(np.diff(edges) <= 0):
            raise ValueError(f"layer_edges must increase from 0 with at least two entries, got {self.layer_edges}")
        validate.positive_int(self.n_cells, "n_cells")
        validate.positive_float(self.cell_size, "cell_size")
        validate.positive_float(self.critical_energy, "critical_energy")
        validate.positive_float(self.Z, "Z")

    @property
    def n_layers(self) -> int:
        return len(self.layer_edges) - 1

    @property
    def shape(self) -> tuple[int, int, int]:
        """Shape of one shower image: (layers, cells, cells)."""
        return (self.n_layers, self.n_cells, self.n_cells)

    @property
    def layer_centres(self) -> np.ndarray:
        e = np.asarray(self.layer_edges)
        return 0.5 * (e[1:] + e[:-1])

    @property
    def cell_centres(self) -> np.ndarray:
        """Centres of the cells along one axis, in Moliere radii: (n_cells,)."""
        return (np.arange(self.n_cells) - (self.n_cells - 1) / 2) * self.cell_size


LEAD = Geometry()


def _energies(energies: np.ndarray | float, who: str) -> np.ndarray:
    e = np.atleast_1d(np.asarray(energies, dtype=float))
    if e.ndim != 1 or not np.all(np.isfinite(e)) or np.any(e <= 0):
        raise ValueError(f"{who}: incident energies must be a positive finite 1-D array (GeV), got {energies!r}")
    return e


def average_profile_params(energy: np.ndarray | float, geometry: Geometry = LEAD) -> tuple[np.ndarray, np.ndarray]:
    """GFLASH average longitudinal profile: T = ln y - 0.858, alpha = 0.21 + (0.492 + 2.38/Z) ln y, y = E/E_c.

    Returns (T, alpha), each of shape (n,), T in X0.
    """
    ln_y = np.log(_energies(energy, "average_profile_params") / geometry.critical_energy)
    return ln_y - 0.858, 0.21 + (0.492 + 2.38 / geometry.Z) * ln_y


def fluctuation_params(energy: np.ndarray | float, geometry: Geometry = LEAD) -> dict[str, np.ndarray]:
    """Means, standard deviations and correlation of (ln T, ln alpha) for single showers (GFLASH).

    Returns a dict of arrays of shape (n,): ``mu_lnT, mu_lnalpha, sigma_lnT, sigma_lnalpha, rho``.
    """
    ln_y = np.log(_energies(energy, "fluctuation_params") / geometry.critical_energy)
    if np.any(ln_y < 1.5):
        raise ValueError("GFLASH fluctuations need E well above the critical energy (ln y > 1.5)")
    return {
        "mu_lnT": np.log(ln_y - 0.812),
        "mu_lnalpha": np.log(0.81 + (0.458 + 2.26 / geometry.Z) * ln_y),
        "sigma_lnT": 1.0 / (-1.4 + 1.26 * ln_y),
        "sigma_lnalpha": 1.0 / (-0.58 + 0.86 * ln_y),
        "rho": 0.705 - 0.023 * ln_y,
    }


def sample_profile_params(energy: np.ndarray, rng: np.random.Generator,
                          geometry: Geometry = LEAD) -> tuple[np.ndarray, np.ndarray]:
    """Draw per-shower (T, alpha) from the correlated normal of (ln T, ln alpha). Shapes (n,), (n,)."""
    p = fluctuation_params(energy, geometry)
    z1, z2 = rng.standard_normal((2, len(p["rho"])))
    ln_t = p["mu_lnT"] + p["sigma_lnT"] * z1
    ln_a = p["mu_lnalpha"] + p["sigma_lnalpha"] * (p["rho"] * z1 + np.sqrt(1 - p["rho"] ** 2) * z2)
    return np.exp(ln_t), np.maximum(np.exp(ln_a), 1.0 + 1e-3)


def gamma_profile(t: np.ndarray, T: float, alpha: float) -> np.ndarray:
    """Normalised longitudinal profile (1/E) dE/dt of a shower with maximum T and shape alpha; t in X0."""
    validate.positive_float(T, "T")
    if alpha <= 1:
        raise ValueError(f"alpha must be > 1 (a profile with a maximum), got {alpha!r}")
    beta = (alpha - 1) / T
    t = np.asarray(t, dtype=float)
    return np.exp((alpha - 1) * np.log(np.maximum(beta * t, 1e-300)) + math.log(beta) - beta * t - math.lgamma(alpha))


def radial_params(tau: np.ndarray, energy: np.ndarray, geometry: Geometry = LEAD) -> tuple[np.ndarray, ...]:
    """GFLASH homogeneous-medium radial parameters (R_C, R_T, p) at relative depth tau = t/T.

    ``tau`` and ``energy`` broadcast together; radii in Moliere radii. From Grindhammer & Peters:
    R_C = z1 + z2 tau, R_T = k1 (exp(k3 (tau - k2)) + exp(k4 (tau - k2))),
    p = p1 exp((p2 - tau)/p3 - exp((p2 - tau)/p3)).
    """
    tau = np.asarray(tau, dtype=float)
    ln_e = np.log(np.asarray(energy, dtype=float))
    Z = geometry.Z
    r_c = (0.0251 + 0.00319 * ln_e) + (0.1162 - 0.000381 * Z) * tau
    k1, k2, k3, k4 = 0.659 - 0.00309 * Z, 0.645, -2.59, 0.3585 + 0.0421 * ln_e
    r_t = k1 * (np.exp(k3 * (tau - k2)) + np.exp(k4 * (tau - k2)))
    p1, p2, p3 = 2.632 - 0.00094 * Z, 0.401 + 0.00187 * Z, 1.313 - 0.0686 * ln_e
    s = (p2 - tau) / p3
    p = np.clip(p1 * np.exp(s - np.exp(s)), 0.0, 1.0)
    return r_c, r_t, p


def radial_containment(radius: float, tau: np.ndarray, energy: np.ndarray, geometry: Geometry = LEAD) -> np.ndarray:
    """Exact fraction of the radial profile inside ``radius``: p R²/(R²+R_C²) + (1-p) R²/(R²+R_T²)."""
    r_c, r_t, p = radial_params(tau, energy, geometry)
    r2 = radius**2
    return p * r2 / (r2 + r_c**2) + (1 - p) * r2 / (r2 + r_t**2)


def sample_radius(tau: np.ndarray, energy: np.ndarray, rng: np.random.Generator,
                  geometry: Geometry = LEAD) -> np.ndarray:
    """Exact draws from the two-component radial profile (inverse CDF r = R sqrt(u / (1 - u)))."""
    r_c, r_t, p = radial_params(tau, energy, geometry)
    shape = np.broadcast(r_c, r_t).shape
    u = rng.random(shape)
    scale = np.where(rng.random(shape) < p, r_c, r_t)
    return scale * np.sqrt(u / (1.0 - u))


def n_spots(energy: np.ndarray | float, geometry: Geometry = LEAD) -> np.ndarray:
    """GFLASH number of energy spots in a homogeneous medium, 93 ln(Z) E^0.876 (E in GeV), rounded."""
    e = _energies(energy, "n_spots")
    return np.maximum(np.rint(93.0 * math.log(geometry.Z) * e**0.876), 1).astype(np.int64)


def simulate(energies: np.ndarray | float, rng: np.random.Generator | int = 0, geometry: Geometry = LEAD,
             return_spots: bool = False) -> np.ndarray | tuple[np.ndarray, dict[str, np.ndarray]]:
    """Simulate one shower per incident energy and voxelise it.

    Args:
        energies: incident electron energies in GeV, shape (n,).
        rng: a numpy Generator or a seed.
        geometry: the calorimeter.
        return_spots: also return the spots (``shower``, ``t``, ``r``, ``T``, ``alpha``) for checks.
    Returns:
        showers: float32 array (n, layers, cells, cells) of deposited energies in GeV
        (energy beyond the last layer or outside the grid is lost, as leakage).
    """
    e = _energies(energies, "simulate")
    rng = numpy_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    T, alpha = sample_profile_params(e, rng, geometry)
    counts = n_spots(e, geometry)
    owner = np.repeat(np.arange(len(e)), counts)
    a_s, T_s, e_s = alpha[owner], T[owner], e[owner]
    t = rng.gamma(a_s, T_s / (a_s - 1))  # Gamma(shape alpha, scale 1/beta), beta = (alpha - 1)/T
    r = sample_radius(t / T_s, e_s, rng, geometry)
    phi = rng.random(len(r)) * 2 * np.pi
    g = geometry
    half = g.n_cells * g.cell_size / 2
    ix = np.floor((r * np.cos(phi) + half) / g.cell_size).astype(np.int64)
    iy = np.floor((r * np.sin(phi) + half) / g.cell_size).astype(np.int64)
    layer = np.searchsorted(np.asarray(g.layer_edges), t, side="right") - 1
    inside = (ix >= 0) & (ix < g.n_cells) & (iy >= 0) & (iy < g.n_cells) & (layer < g.n_layers)
    flat = ((owner * g.n_layers + layer) * g.n_cells + iy) * g.n_cells + ix
    spot_energy = (e / counts)[owner]
    showers = np.bincount(flat[inside], weights=spot_energy[inside], minlength=len(e) * int(np.prod(g.shape)))
    showers = showers.reshape(len(e), *g.shape).astype(np.float32)
    showers[showers < g.threshold] = 0.0
    if return_spots:
        return showers, {"shower": owner, "t": t, "r": r, "T": T, "alpha": alpha}
    return showers


# --------------------------------------------------------------------------- observables and metrics

def observables(showers: np.ndarray, energies: np.ndarray, geometry: Geometry = LEAD) -> dict[str, np.ndarray]:
    """CaloGAN/CaloChallenge high-level observables, each of shape (n,).

    ``E_dep/E_inc`` (total deposited over incident), ``f_k`` (fraction of the deposit in layer k),
    ``depth`` (energy-weighted mean layer centre, X0), ``width_k`` (energy-weighted lateral
    standard deviation in layer k, Moliere radii) and ``sparsity_k`` (fraction of non-zero cells
    in layer k).
    """
    s = np.asarray(showers, dtype=np.float64)
    if s.ndim != 4 or s.shape[1:] != geometry.shape:
        raise ValueError(f"showers must have shape (n, {', '.join(map(str, geometry.shape))}), got {s.shape}")
    e = _energies(energies, "observables")
    if len(e) != len(s):
        raise ValueError(f"need one energy per shower, got {len(e)} energies for {len(s)} showers")
    layer_e = s.sum((2, 3))
    total = layer_e.sum(1)
    safe_total = np.maximum(total, 1e-12)
    out = {"E_dep/E_inc": total / e}
    for k in range(geometry.n_layers):
        out[f"f_{k}"] = layer_e[:, k] / safe_total
    out["depth"] = layer_e @ geometry.layer_centres / safe_total
    x = geometry.cell_centres
    for k in range(geometry.n_layers):
        w = s[:, k]
        norm = np.maximum(w.sum((1, 2)), 1e-12)
        mx = (w.sum(1) @ x) / norm
        my = (w.sum(2) @ x) / norm
        vx = (w.sum(1) @ x**2) / norm - mx**2
        vy = (w.sum(2) @ x**2) / norm - my**2
        out[f"width_{k}"] = np.sqrt(np.maximum(0.5 * (vx + vy), 0))
    for k in range(geometry.n_layers):
        out[f"sparsity_{k}"] = (s[:, k] > 0).mean((1, 2))
    return out


def separation_power(h1: np.ndarray, h2: np.ndarray) -> float:
    """CaloChallenge separation power S = ½ Σ (h1 - h2)² / (h1 + h2) of two histograms.

    Each histogram is normalised to sum 1 first; bins empty in both are skipped. S is 0 for
    identical and 1 for disjoint histograms.
    """
    h1, h2 = np.asarray(h1, dtype=float), np.asarray(h2, dtype=float)
    if h1.shape != h2.shape or h1.ndim != 1:
        raise ValueError(f"need two 1-D histograms of the same length, got shapes {h1.shape} and {h2.shape}")
    if np.any(h1 < 0) or np.any(h2 < 0) or h1.sum() <= 0 or h2.sum() <= 0:
        raise ValueError("histograms must be non-negative with a positive sum")
    h1, h2 = h1 / h1.sum(), h2 / h2.sum()
    denom = h1 + h2
    keep = denom > 0
    return float(0.5 * np.sum((h1[keep] - h2[keep]) ** 2 / denom[keep]))


def separation_power_samples(a: np.ndarray, b: np.ndarray, bins: int = 30) -> float:
    """Separation power of two samples of one observable, histogrammed on common bins.

    The bins span the 0.5-99.5 % quantiles of the reference sample ``a`` (values outside go to the
    outer bins), so a few outliers cannot stretch the binning.
    """
    a, b = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    lo, hi = np.quantile(a, [0.005, 0.995])
    if hi <= lo:
        hi = lo + 1e-9
    edges = np.linspace(lo, hi, bins + 1)
    ha = np.histogram(np.clip(a, lo, hi), edges)[0]
    hb = np.histogram(np.clip(b, lo, hi), edges)[0]
    return separation_power(ha, hb)


def classifier_auc(a: np.ndarray, b: np.ndarray, seed: int = 0, max_iter: int = 200) -> float:
    """Test AUC of a classifier trained to separate sample ``a`` from ``b`` (0.5 = indistinguishable).

    Features are the rows of ``a`` and ``b`` (n, d); half of each set trains a gradient-boosted tree
    classifier (scikit-learn's HistGradientBoostingClassifier), the other half measures the AUC.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"need two (n, d) feature arrays with the same d, got {a.shape} and {b.shape}")
    rng = numpy_rng(seed)
    x = np.concatenate([a, b])
    y = np.concatenate([np.zeros(len(a)), np.ones(len(b))])
    order = rng.permutation(len(x))
    x, y = x[order], y[order]
    half = len(x) // 2
    clf = HistGradientBoostingClassifier(max_iter=max_iter, learning_rate=0.1, early_stopping=True,
                                         validation_fraction=0.2, random_state=seed_for(seed))
    clf.fit(x[:half], y[:half])
    return float(roc_auc_score(y[half:], clf.predict_proba(x[half:])[:, 1]))


# --------------------------------------------------------------------------- the conditional GAN

@dataclass(frozen=True)
class CaloTransform:
    """Maps showers (GeV) to the network's scale and back.

    Cells are divided by the incident energy and compressed, ``u = log1p(v / (E s)) / k``; the
    condition is ``c = ln(E / E_ref) / ln(E_span)``. Zeros map to zeros, so a ReLU output can
    produce exactly empty cells.
    """

    s: float = 1e-4
    k: float = 8.0
    e_ref: float = 10.0
    e_span: float = 5.0

    def encode(self, showers: np.ndarray, energies: np.ndarray) -> Tensor:
        e = _energies(energies, "encode").reshape(-1, *([1] * (np.ndim(showers) - 1)))
        return torch.as_tensor(np.log1p(showers / (e * self.s)) / self.k, dtype=torch.float32).flatten(1)

    def decode(self, u: Tensor, energies: np.ndarray, geometry: Geometry = LEAD) -> np.ndarray:
        e = _energies(energies, "decode").reshape(-1, 1, 1, 1)
        v = np.expm1(u.detach().cpu().double().numpy().reshape(-1, *geometry.shape) * self.k) * e * self.s
        v[v < geometry.threshold] = 0.0
        return v.astype(np.float32)

    def condition(self, energies: np.ndarray) -> Tensor:
        e = _energies(energies, "condition")
        return torch.as_tensor(np.log(e / self.e_ref) / math.log(self.e_span), dtype=torch.float32)[:, None]


class CaloGenerator(nn.Module):
    """G(z, c): latent (n, latent_dim) and condition (n, 1) -> compressed cells (n, n_voxels), ReLU output."""

    def __init__(self, n_voxels: int, latent_dim: int = 32, hidden: int = 256):
        super().__init__()
        self.latent_dim = latent_dim
        self.net = nn.Sequential(
            nn.Linear(latent_dim + 1, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, n_voxels), nn.ReLU(),
        )

    def forward(self, z: Tensor, c: Tensor) -> Tensor:
        return self.net(torch.cat([z, c], 1))


class CaloDiscriminator(nn.Module):
    """D(u, c) -> logit (n,). Sees the cells, the condition and, as in CaloGAN, per-layer energy sums."""

    def __init__(self, geometry: Geometry = LEAD, hidden: int = 256, transform: CaloTransform | None = None):
        super().__init__()
        self.geometry = geometry
        self.transform = transform or CaloTransform()
        n_vox = int(np.prod(geometry.shape))
        self.net = nn.Sequential(
            nn.Linear(n_vox + 1 + geometry.n_layers + 1, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, 1),
        )

    def features(self, u: Tensor) -> Tensor:
        """Per-layer fraction of the incident energy, computed differentiably from u: (n, layers + 1)."""
        t = self.transform
        v = torch.expm1(u * t.k) * t.s  # cells / E
        layers = v.view(len(u), self.geometry.n_layers, -1).sum(-1)
        return torch.cat([layers, layers.sum(1, keepdim=True)], 1)

    def forward(self, u: Tensor, c: Tensor) -> Tensor:
        return self.net(torch.cat([u, c, self.features(u)], 1)).squeeze(1)


@dataclass
class CaloGANRun:
    """What ``train_calogan`` returns: the two networks, the transform and per-step losses."""

    generator: CaloGenerator
    discriminator: CaloDiscriminator
    transform: CaloTransform
    history: dict[str, list[float]] = field(default_factory=dict)


def train_calogan(showers: np.ndarray, energies: np.ndarray, *, n_steps: int = 2000, batch_size: int = 256,
                  lr: float = 5e-4, r1_gamma: float = 1.0, latent_dim: int = 32, hidden: int = 256,
                  geometry: Geometry = LEAD, transform: CaloTransform | None = None, seed: int = 0,
                  device: torch.device | str = "cpu", progress: bool = True) -> CaloGANRun:
    """Train a conditional non-saturating GAN with an R1 penalty on (showers, energies).

    Args:
        showers: (n, layers, cells, cells) in GeV; energies: (n,) GeV.
        n_steps: generator steps (one discriminator step each).
        r1_gamma: weight of the R1 penalty on real showers (Mescheder et al. 2018).
    The learning rate decays exponentially by 10x over the second half of training.
    """
    from tqdm.auto import tqdm

    validate.positive_int(n_steps, "n_steps")
    validate.positive_int(batch_size, "batch_size")
    transform = transform or CaloTransform()
    gen_t = generator(seed)
    torch.manual_seed(seed_for(seed))
    u_all = transform.encode(showers, energies).to(device)
    c_all = transform.condition(energies).to(device)
    G = CaloGenerator(u_all.shape[1], latent_dim, hidden).to(device)
    D = CaloDiscriminator(geometry, hidden, transform).to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.9))
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.9))
    half = n_steps // 2

    def lr_lambda(step: int) -> float:
        return 1.0 if step < half else 0.1 ** ((step - half) / max(n_steps - half, 1))

    scheds = [torch.optim.lr_scheduler.LambdaLR(o, lr_lambda) for o in (opt_g, opt_d)]
    hist: dict[str, list[float]] = {"d_loss": [], "g_loss": []}
    for _ in tqdm(range(n_steps), desc="conditional GAN", disable=not progress):
        idx = torch.randint(len(u_all), (batch_size,), generator=gen_t).to(device)
        real, c = u_all[idx], c_all[idx]
        z = torch.randn(batch_size, latent_dim, generator=gen_t).to(device)
        fake = G(z, c)
        real_req = real.detach().requires_grad_(True)
        real_logits = D(real_req, c)
        (grad,) = torch.autograd.grad(real_logits.sum(), real_req, create_graph=True)
        d_loss = discriminator_loss(real_logits, D(fake.detach(), c)) + 0.5 * r1_gamma * grad.pow(2).sum(1).mean()
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        g_loss = generator_loss_non_saturating(D(fake, c))
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        for s in scheds:
            s.step()
        hist["d_loss"].append(d_loss.item())
        hist["g_loss"].append(g_loss.item())
    return CaloGANRun(G.eval(), D.eval(), transform, hist)


@torch.no_grad()
def generate(run: CaloGANRun, energies: np.ndarray, seed: int = 0, geometry: Geometry = LEAD) -> np.ndarray:
    """Generate one shower per incident energy (GeV) with a trained GAN: (n, layers, cells, cells) GeV."""
    e = _energies(energies, "generate")
    device = next(run.generator.parameters()).device
    g = generator(seed)
    z = torch.randn(len(e), run.generator.latent_dim, generator=g).to(device)
    u = run.generator(z, run.transform.condition(e).to(device))
    return run.transform.decode(u, e, geometry)


def throughput(fn, n: int, repeats: int = 3) -> float:
    """Showers per second of ``fn(n)`` (best of ``repeats`` calls, wall clock)."""
    validate.positive_int(n, "n")
    validate.positive_int(repeats, "repeats")
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn(n)
        best = min(best, time.perf_counter() - start)
    return n / best
