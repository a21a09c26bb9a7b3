"""helpers.science.collider: the simulated dijet events and the figures of merit."""

import math

import pytest
import torch

from helpers.science import collider


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("make", [collider.qcd_background, collider.wprime_signal, collider.simple_anomaly])
def test_events_have_the_documented_shape_and_ranges(make):
    x = make(5000, _g())
    assert x.shape == (5000, len(collider.FEATURES))
    assert torch.isfinite(x).all()
    assert (x[:, 1] >= x[:, 2]).all() and (x[:, 1:3] > 0).all()  # jet 1 is the heavier, masses positive
    assert ((x[:, 3:] > 0) & (x[:, 3:] < 1)).all()  # tau21 is a ratio in (0, 1)
    assert torch.equal(x, make(5000, _g()))  # the generator makes it reproducible


def test_signal_peaks_where_the_benchmark_puts_it():
    x = collider.wprime_signal(40_000, _g(1), lost_prong=0.0)
    for j, target in ((0, 3.5), (1, 0.5)):
        se = x[:, j].std() / math.sqrt(len(x))
        assert abs(float(x[:, j].median()) - target) < 0.01 * target + 5 * float(se)
    # two-prong jets: tau21 lower than QCD's
    qcd = collider.qcd_background(40_000, _g(2))
    assert x[:, 3].mean() < qcd[:, 3].mean() - 0.1
    # QCD m_jj falls: more events near threshold than above 4 TeV
    assert (qcd[:, 0] < 3.2).float().mean() > (qcd[:, 0] > 4.0).float().mean()


def test_qcd_mjj_is_the_truncated_power_law_without_a_spike_at_the_cut():
    """p(m) ~ m^-7 on [2.8, 6] TeV: P(m > c) = ((2.8/c)^6 - (2.8/6)^6) / (1 - (2.8/6)^6), and no
    pile-up at 6 TeV (clamping the untruncated law put 1% of all events exactly there)."""
    n = 200_000
    mjj = collider.qcd_background(n, _g(3))[:, 0]
    lo, hi = collider.M_JJ_MIN, collider.M_JJ_MAX
    assert float(mjj.min()) >= lo and float(mjj.max()) < hi
    tail = (lo / hi) ** 6
    for c in (3.0, 3.5, 4.5, 5.9):
        p = ((lo / c) ** 6 - tail) / (1 - tail)
        se = math.sqrt(p * (1 - p) / n)
        assert abs(float((mjj > c).float().mean()) - p) < 5 * se, c


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        collider.qcd_background(0)
    with pytest.raises(TypeError, match="n must be an integer >= 1"):
        collider.qcd_background(10.0)
    with pytest.raises(ValueError, match="lost_prong"):
        collider.wprime_signal(10, lost_prong=1.5)
    with pytest.raises(ValueError, match="m_x"):
        collider.wprime_signal(10, m_x=-1.0)
    with pytest.raises(ValueError, match=r"score_sig must have shape \(n_s >= 1,\)"):
        collider.auc(torch.zeros(3, 2), torch.zeros(3))
    with pytest.raises(ValueError, match="eff"):
        collider.rejection_at(torch.zeros(3), torch.zeros(3), eff=1.0)


def test_auc_is_the_area_under_the_roc_curve_and_the_pair_probability():
    g = _g(3)
    s, b = torch.randn(300, generator=g) + 1.0, torch.randn(400, generator=g)
    eps_s, eps_b = collider.roc_curve(s, b)
    assert eps_s[0] == 0 and eps_b[0] == 0 and eps_s[-1] == 1 and eps_b[-1] == 1
    assert (eps_s.diff() >= 0).all() and (eps_b.diff() >= 0).all()
    brute = (s[:, None] > b[None, :]).double().mean()
    assert collider.auc(s, b) == pytest.approx(float(brute), abs=1e-12)
    assert float(torch.trapezoid(eps_s, eps_b)) == pytest.approx(float(brute), abs=1e-12)
    # equal-variance Gaussians one sigma apart: AUC = Phi(1 / sqrt 2) = 0.7602
    s, b = torch.randn(20_000, generator=g) + 1.0, torch.randn(20_000, generator=g)
    assert collider.auc(s, b) == pytest.approx(0.5 * (1 + math.erf(0.5)), abs=0.01)


def test_auc_counts_ties_as_half():
    assert collider.auc(torch.ones(5), torch.ones(7)) == pytest.approx(0.5)
    assert collider.auc(torch.tensor([2.0, 1.0]), torch.tensor([1.0, 0.0])) == pytest.approx(0.875)
    assert collider.auc(torch.tensor([3.0, 4.0]), torch.tensor([1.0, 2.0])) == 1.0


def test_efficiencies_sic_and_rejection_on_uniform_scores():
    s = torch.arange(1, 101, dtype=torch.float64) / 100  # signal uniform on (0, 1]
    b = torch.arange(0, 1000, dtype=torch.float64) / 1000  # background uniform on [0, 1)
    eps_s, eps_b = collider.efficiencies(s, b, torch.tensor([0.5, 0.9], dtype=torch.float64))
    assert torch.allclose(eps_s, torch.tensor([0.5, 0.1], dtype=torch.float64))
    assert torch.allclose(eps_b, torch.tensor([0.499, 0.099], dtype=torch.float64))
    assert torch.allclose(collider.sic(eps_s, eps_b), eps_s / eps_b.sqrt())
    assert collider.sic(torch.tensor([0.3]), torch.tensor([0.0])).item() == 0.0
    # keep half the signal: cut at the signal median 0.505, background above it 0.494 of 1000 events
    assert collider.rejection_at(s, b, 0.5) == pytest.approx(1000 / 494)
    # the best SIC of a uniform-vs-uniform pair is near 1 (no separation), at most slightly above
    assert 0.9 < collider.max_sic(s, b) < 1.2


def test_max_sic_refuses_cuts_without_background():
    with pytest.raises(ValueError, match="background"):
        collider.max_sic(torch.ones(10), torch.zeros(10), min_bkg_events=50)


def test_roc_area_counts_ties_like_auc():
    s, b = torch.tensor([1.0, 2.0, 2.0, 3.0]), torch.tensor([0.0, 2.0, 2.0, 1.0, 5.0])
    eps_s, eps_b = collider.roc_curve(s, b)
    assert len(eps_s) == len(torch.unique(torch.cat([s, b]))) + 1
    brute = ((s[:, None] > b[None, :]).double() + 0.5 * (s[:, None] == b[None, :]).double()).mean()
    assert float(torch.trapezoid(eps_s, eps_b)) == pytest.approx(float(brute), abs=1e-12)
    assert collider.auc(s, b) == pytest.approx(float(brute), abs=1e-12)


def test_a_zero_uniform_draw_gives_no_nan():
    # The seed that the anomaly chapter draws its training set with under GM4S_SEED=3: one of its
    # uniform draws is exactly 0, which once made a tau21 NaN and the chapter's VAE diverge.
    g = torch.Generator().manual_seed(3000)
    x = torch.cat([collider.qcd_background(60_000, g), collider.wprime_signal(600, g)])
    assert torch.isfinite(x).all()
    assert ((x[:, 3:] > 0) & (x[:, 3:] < 1)).all()
