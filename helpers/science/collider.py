"""A simulated LHC Olympics dijet data set and the figures of merit of anomaly detection.

The LHC Olympics 2020 R&D set (Kasieczka et al. 2021) holds QCD dijet events and a resonant
signal W' -> X Y, X -> qq, Y -> qq with m_W' = 3.5 TeV, m_X = 500 GeV, m_Y = 100 GeV. Its
usual high-level features are the dijet mass m_jj, the two jet masses and the N-subjettiness
ratios tau21 = tau2 / tau1 of both jets (small for two-prong jets). This module does **not**
ship those events: it *simulates their structure* with simple, documented distributions, so a
chapter can run offline in seconds. See the chapter "Anomaly detection".

Features, in this order (``FEATURES``): m_jj [TeV], m_j1 [TeV] (the heavier jet), m_j2 [TeV],
tau21 of jet 1, tau21 of jet 2.

Figures of merit (signal = the positive class, larger score = more anomalous):
``efficiencies`` (eps_S, eps_B above each threshold), ``roc_curve``, ``auc``, ``sic``
(eps_S / sqrt(eps_B)), ``max_sic`` and ``rejection_at`` (1 / eps_B at a given eps_S).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from helpers import validate

__all__ = [
    "FEATURES",
    "auc",
    "efficiencies",
    "max_sic",
    "qcd_background",
    "rejection_at",
    "roc_curve",
    "sic",
    "simple_anomaly",
    "wprime_signal",
]

FEATURES = ("m_jj [TeV]", "m_j1 [TeV]", "m_j2 [TeV]", "tau21 j1", "tau21 j2")


def _beta(a: float, b: float, n: int, g: torch.Generator | None) -> Tensor:
    # Beta(a, b) from two Gammas; torch's Gamma sampler takes no generator, so use the
    # Marsaglia-Tsang-free route: Beta quantiles via sorting is overkill; instead sample Gamma
    # with integer shapes as sums of exponentials (a, b are integers here).
    # torch.rand can return exactly 0 (about once in 2**24 draws), whose -log is inf and whose
    # Beta is then inf / inf = NaN; the smallest positive float keeps every other draw as it was.
    tiny = torch.finfo(torch.float32).tiny
    ga = -torch.log(torch.rand(n, int(a), generator=g).clamp_min(tiny)).sum(1)
    gb = -torch.log(torch.rand(n, int(b), generator=g).clamp_min(tiny)).sum(1)
    return ga / (ga + gb)


def _order(mj_a: Tensor, mj_b: Tensor, t_a: Tensor, t_b: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    swap = mj_b > mj_a
    m1, m2 = torch.where(swap, mj_b, mj_a), torch.where(swap, mj_a, mj_b)
    t1, t2 = torch.where(swap, t_b, t_a), torch.where(swap, t_a, t_b)
    return m1, m2, t1, t2


#: the QCD m_jj spectrum's range in TeV: a power law m^-7 between these two values
M_JJ_MIN, M_JJ_MAX = 2.8, 6.0


def qcd_background(n: int, generator: torch.Generator | None = None) -> Tensor:
    """n simulated QCD dijet events: (n, 5) features in the order of ``FEATURES``.

    m_jj falls as a power law above 2.8 TeV (p(m) ~ m^-7, truncated at 6 TeV and sampled by its
    inverse CDF, so that no events pile up at the cut); each jet's mass is
    m_jj/2 times a log-normal fraction (median 0.04, log-std 0.55), so jet masses peak near
    60-80 GeV with a long tail; tau21 is one-prong-like, Beta(7, 4) (mean 0.64), a little lower
    for heavier jets.
    """
    validate.positive_int(n, "n")
    g = generator
    tail = (M_JJ_MIN / M_JJ_MAX) ** 6  # P(m > M_JJ_MAX) of the untruncated power law
    mjj = M_JJ_MIN * (1 - torch.rand(n, generator=g) * (1 - tail)).pow(-1 / 6)
    frac = torch.exp(math.log(0.04) + 0.55 * torch.randn(n, 2, generator=g))
    mj = 0.5 * mjj[:, None] * frac
    tau = _beta(7, 4, 2 * n, g).view(n, 2)
    tau = (tau - 0.05 * (torch.log(frac / 0.04))).clamp(0.02, 0.98)
    m1, m2, t1, t2 = _order(mj[:, 0], mj[:, 1], tau[:, 0], tau[:, 1])
    return torch.stack([mjj, m1, m2, t1, t2], 1)


def wprime_signal(
    n: int,
    generator: torch.Generator | None = None,
    m_wprime: float = 3.5,
    m_x: float = 0.5,
    m_y: float = 0.1,
    lost_prong: float = 0.3,
) -> Tensor:
    """n simulated W' -> X(qq) Y(qq) events: (n, 5) features in the order of ``FEATURES``.

    m_jj ~ N(m_W', (7% m_W')^2) (detector resolution and radiation); the jet masses are
    N(m_X, (12% m_X)^2) and N(m_Y, (15% m_Y)^2) and tau21 is two-prong-like, Beta(4, 5)
    (mean 0.44). With probability ``lost_prong`` per jet, a prong falls outside the jet: its
    mass is then QCD-like and its tau21 one-prong-like. This is what makes the two classes overlap.
    Masses in TeV (defaults: the LHC Olympics R&D values 3.5, 0.5, 0.1).
    """
    validate.positive_int(n, "n")
    for name, v in (("m_wprime", m_wprime), ("m_x", m_x), ("m_y", m_y)):
        validate.positive_float(v, name)
    validate.probability(lost_prong, "lost_prong")
    g = generator
    mjj = m_wprime * (1 + 0.07 * torch.randn(n, generator=g))
    mx = m_x * (1 + 0.12 * torch.randn(n, generator=g))
    my = m_y * (1 + 0.15 * torch.randn(n, generator=g))
    tau = _beta(4, 5, 2 * n, g).view(n, 2)
    lost = torch.rand(n, 2, generator=g) < lost_prong
    qcd_mass = 0.5 * mjj[:, None] * torch.exp(math.log(0.04) + 0.55 * torch.randn(n, 2, generator=g))
    mj = torch.where(lost, qcd_mass, torch.stack([mx, my], 1)).abs()
    tau = torch.where(lost, _beta(7, 4, 2 * n, g).view(n, 2), tau)
    m1, m2, t1, t2 = _order(mj[:, 0], mj[:, 1], tau[:, 0], tau[:, 1])
    return torch.stack([mjj, m1, m2, t1, t2], 1)


def simple_anomaly(n: int, generator: torch.Generator | None = None, m_res: float = 5.0) -> Tensor:
    """n events of a "simpler than background" anomaly: (n, 5) features, ``FEATURES`` order.

    A heavy, narrow resonance Z' -> q qbar at ``m_res`` TeV (default 5, in the far tail of QCD)
    whose two jets are *ordinary* light-quark jets with no fluctuations to speak of: jet masses at
    the typical QCD values for that m_jj (fractions 0.055 and 0.028 of m_jj / 2, 5% spread) and
    tau21 at the QCD typical values (0.62 and 0.65, spread 0.01). Less structure than QCD, not
    more; only m_jj is rare. The chapter uses it to show a reconstruction-error score fail.
    """
    validate.positive_int(n, "n")
    validate.positive_float(m_res, "m_res")
    g = generator
    mjj = m_res * (1 + 0.02 * torch.randn(n, generator=g))
    m1 = 0.5 * mjj * 0.055 * (1 + 0.05 * torch.randn(n, generator=g))
    m2 = 0.5 * mjj * 0.028 * (1 + 0.05 * torch.randn(n, generator=g))
    t1 = 0.62 + 0.01 * torch.randn(n, generator=g)
    t2 = 0.65 + 0.01 * torch.randn(n, generator=g)
    return torch.stack([mjj, m1, m2, t1, t2], 1)


# --------------------------------------------------------------------------- figures of merit
def _check_scores(score_sig: Tensor, score_bkg: Tensor) -> None:
    validate.tensor(score_sig, "score_sig", shape=("n_s",), min_len=1)
    validate.tensor(score_bkg, "score_bkg", shape=("n_b",), min_len=1)


def efficiencies(score_sig: Tensor, score_bkg: Tensor, thresholds: Tensor) -> tuple[Tensor, Tensor]:
    """Signal and background efficiencies of the cut ``score > t`` for each threshold t.

    Args:
        score_sig: (n_s,) scores of signal events. score_bkg: (n_b,) of background events.
        thresholds: (T,).
    Returns:
        eps_S, eps_B: (T,) each, the fractions of events with a score strictly above t.
    """
    _check_scores(score_sig, score_bkg)
    t = thresholds.to(score_sig.dtype)
    eps_s = (score_sig[None, :] > t[:, None]).to(score_sig.dtype).mean(1)
    eps_b = (score_bkg[None, :] > t[:, None].to(score_bkg.dtype)).to(score_bkg.dtype).mean(1)
    return eps_s, eps_b


def roc_curve(score_sig: Tensor, score_bkg: Tensor) -> tuple[Tensor, Tensor]:
    """The ROC curve (eps_S, eps_B) from (0, 0) to (1, 1), float64, one point per distinct score.

    Thresholds run over every distinct score, from the largest to below the smallest; tied scores
    enter together, so the trapezoid area under the curve equals ``auc`` (ties counted 1/2).
    Both outputs have shape (number of distinct scores + 1,).
    """
    _check_scores(score_sig, score_bkg)
    s, b = score_sig.detach().double().cpu(), score_bkg.detach().double().cpu()
    scores = torch.cat([s, b])
    is_sig = torch.cat([torch.ones_like(s), torch.zeros_like(b)])
    sorted_scores, order = torch.sort(scores, descending=True, stable=True)
    # one point per distinct threshold: tied scores enter together (a diagonal segment)
    last = torch.ones_like(sorted_scores, dtype=torch.bool)
    last[:-1] = sorted_scores[1:] != sorted_scores[:-1]
    eps_s = torch.cat([torch.zeros(1, dtype=torch.float64), (is_sig[order].cumsum(0) / len(s))[last]])
    eps_b = torch.cat([torch.zeros(1, dtype=torch.float64), ((1 - is_sig[order]).cumsum(0) / len(b))[last]])
    return eps_s, eps_b


def auc(score_sig: Tensor, score_bkg: Tensor) -> float:
    """Area under the ROC curve = P(score of a signal event > score of a background event).

    Computed with ranks (the Mann-Whitney statistic), ties counted as 1/2. 0.5 = no
    separation, 1 = perfect.
    """
    _check_scores(score_sig, score_bkg)
    s, b = score_sig.detach().double().cpu(), score_bkg.detach().double().cpu()
    scores = torch.cat([s, b])
    sorted_scores, order = torch.sort(scores)
    ranks = torch.empty_like(scores)
    ranks[order] = torch.arange(1, len(scores) + 1, dtype=torch.float64)
    # average ranks over ties
    uniq, inverse, counts = torch.unique_consecutive(sorted_scores, return_inverse=True, return_counts=True)
    ends = counts.cumsum(0).double()
    avg = ends - (counts.double() - 1) / 2
    ranks[order] = avg[inverse]
    u = ranks[: len(s)].sum() - len(s) * (len(s) + 1) / 2
    return float(u / (len(s) * len(b)))


def sic(eps_s: Tensor, eps_b: Tensor) -> Tensor:
    """Significance improvement eps_S / sqrt(eps_B) (elementwise; 0 where eps_B = 0)."""
    if eps_s.shape != eps_b.shape:
        raise ValueError(f"eps_s and eps_b must have the same shape, got {tuple(eps_s.shape)} and {tuple(eps_b.shape)}")
    out = eps_s / eps_b.clamp_min(1e-300).sqrt()
    return torch.where(eps_b > 0, out, torch.zeros_like(out))


def max_sic(score_sig: Tensor, score_bkg: Tensor, min_bkg_events: int = 50) -> float:
    """The largest SIC along the ROC curve, using only cuts that keep >= ``min_bkg_events``
    background events (below that, eps_B is too noisy for sqrt(eps_B) to mean anything)."""
    eps_s, eps_b = roc_curve(score_sig, score_bkg)
    keep = eps_b * len(score_bkg) >= min_bkg_events
    if not bool(keep.any()):
        raise ValueError(f"no cut keeps {min_bkg_events} background events; lower min_bkg_events")
    return float(sic(eps_s[keep], eps_b[keep]).max())


def rejection_at(score_sig: Tensor, score_bkg: Tensor, eff: float = 0.5) -> float:
    """Background rejection 1/eps_B of the cut that keeps a fraction ``eff`` of the signal.

    The cut is the (1 - eff) quantile of the signal scores; eps_B counts background scores above
    it (at least one event, so the rejection stays finite).
    """
    _check_scores(score_sig, score_bkg)
    validate.probability(eff, "eff", allow_zero=False, allow_one=False)
    cut = torch.quantile(score_sig.detach().double().cpu(), 1.0 - eff)
    n_pass = int((score_bkg.detach().double().cpu() > cut).sum())
    return len(score_bkg) / max(n_pass, 1)
