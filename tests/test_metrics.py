"""helpers.metrics."""

import math

import pytest
import torch

from helpers.metrics import energy_distance, hq_radius2, mean_and_se


def test_mean_and_se():
    est = mean_and_se(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    assert est.mean == pytest.approx(2.5)
    assert est.se == pytest.approx(math.sqrt(5 / 3) / 2)
    with pytest.raises(ValueError, match="at least 2 values"):
        mean_and_se(torch.tensor([1.0]))
    with pytest.raises(ValueError, match="NaN or infinite"):
        mean_and_se(torch.tensor([1.0, float("nan")]))


def test_energy_distance_is_unbiased_zero_for_equal_distributions():
    g = torch.Generator().manual_seed(0)
    vals = torch.tensor([energy_distance(torch.randn(200, 2, generator=g), torch.randn(200, 2, generator=g))
                         for _ in range(40)])
    est = mean_and_se(vals)
    assert abs(est.mean) < 3 * est.se


def test_energy_distance_of_shifted_gaussians_matches_closed_form():
    # 1D: X - Y ~ N(-d, 2) has folded-normal mean E|X - Y|; E|X - X'| = 2 / sqrt(pi)
    g = torch.Generator().manual_seed(1)
    d, s = 1.0, math.sqrt(2)
    folded = s * math.sqrt(2 / math.pi) * math.exp(-(d**2) / (2 * s**2)) + d * math.erf(d / (s * math.sqrt(2)))
    exact = 2 * folded - 4 / math.sqrt(math.pi)
    vals = [energy_distance(torch.randn(1000, 1, generator=g), torch.randn(1000, 1, generator=g) + d)
            for _ in range(20)]
    est = mean_and_se(torch.tensor(vals))
    assert abs(est.mean - exact) < 4 * est.se


def test_energy_distance_bad_input():
    with pytest.raises(ValueError, match="same dim"):
        energy_distance(torch.zeros(3, 2), torch.zeros(3, 1))
    with pytest.raises(ValueError, match=r"shape \(n >= 2, dim\)"):
        energy_distance(torch.zeros(3), torch.zeros(3, 1))


def test_mode_coverage_of_a_perfect_sampler():
    from helpers import data
    from helpers.metrics import mode_coverage

    grid = data.grid()
    x = grid.sample(25_000, generator=torch.Generator().manual_seed(0))
    res = mode_coverage(x, grid.means, grid.std)
    assert res.modes_captured == 25
    # HQ of a perfect sampler = P(chi2_2 <= 9) = 1 - exp(-4.5)
    p = 1 - math.exp(-4.5)
    assert abs(res.hq_fraction - p) < 4 * math.sqrt(p * (1 - p) / len(x))
    assert 0 <= res.reverse_kl < 0.01
    assert 0 <= res.hq_reverse_kl < 0.01
    # the width ratio is 1 for the data; its SE by the delta method from the truncated chi^2_2 moments
    m2, m4 = hq_radius2(2)
    se = math.sqrt((m4 - m2**2) / (res.hq_fraction * len(x))) / (2 * m2)
    assert abs(res.hq_width - 1) < 4 * se
    # halve every offset from the nearest centre: HQ now means r <= 6 in the data's units, so the
    # width is 0.5 sqrt(E[r^2 | r <= 6] / E[r^2 | r <= 3]); SE by the delta method as above
    centre = grid.means[torch.cdist(x, grid.means).argmin(1)]
    shrunk = mode_coverage(centre + 0.5 * (x - centre), grid.means, grid.std)
    s2, s4 = hq_radius2(2, 6.0)
    expected = 0.5 * math.sqrt(s2 / m2)
    se = 0.25 * math.sqrt((s4 - s2**2) / len(x)) / (2 * math.sqrt(0.25 * s2 * m2))
    assert abs(shrunk.hq_width - expected) < 4 * se


def test_hq_radius2_matches_the_truncated_chi2():
    # d = 2: r^2 ~ Exp(mean 2); E[r^2 | r^2 <= 9] = 2 - 9 e^{-4.5} / (1 - e^{-4.5})
    m2, m4 = hq_radius2(2)
    assert m2 == pytest.approx(2 - 9 * math.exp(-4.5) / (1 - math.exp(-4.5)), rel=1e-12)
    # without truncation (huge threshold): E r^2 = d, E r^4 = d (d + 2)
    assert hq_radius2(5, 100.0) == pytest.approx((5, 35))
    with pytest.raises(ValueError, match="dim"):
        hq_radius2(0)


def test_mode_coverage_hq_histogram_is_pacgans():
    """Off-mode samples enter reverse_kl at their nearest mode but not hq_reverse_kl (PacGAN's)."""
    from helpers import data
    from helpers.metrics import mode_coverage

    ring = data.ring()
    on = ring.means.repeat(100, 1)  # 100 exact samples at each of the 8 modes: HQ histogram uniform
    off = (ring.means[:1] * 1.5).repeat(800, 1)  # 800 far outside mode 0 (50 std away), nearest to it
    res = mode_coverage(torch.cat([on, off]), ring.means, ring.std)
    assert res.hq_fraction == 0.5 and res.modes_captured == 8
    assert res.hq_reverse_kl == pytest.approx(0.0, abs=1e-12)
    p0 = 900 / 1600  # all-sample histogram: mode 0 holds 900 of 1600, the others 100 each
    expected = p0 * math.log(8 * p0) + 7 * (100 / 1600) * math.log(8 * 100 / 1600)
    assert res.reverse_kl == pytest.approx(expected)
    assert res.hq_width == pytest.approx(0.0, abs=1e-6)  # point masses (cdist's rounding aside)
    none_hq = mode_coverage(off, ring.means, ring.std)
    assert none_hq.hq_fraction == 0.0 and math.isnan(none_hq.hq_reverse_kl) and math.isnan(none_hq.hq_width)


def test_mode_coverage_of_a_collapsed_sampler():
    from helpers import data
    from helpers.metrics import mode_coverage

    ring = data.ring()
    x = ring.means[:2].repeat(500, 1)  # all mass on 2 of the 8 modes, exactly at the centres
    res = mode_coverage(x, ring.means, ring.std)
    assert res == (2, 1.0, pytest.approx(math.log(4)), pytest.approx(math.log(4)), pytest.approx(0.0, abs=1e-6))
    far = torch.zeros(10, 2)  # the centre of the ring: nearest to some mode but not HQ
    assert mode_coverage(far, ring.means, ring.std).modes_captured == 0
    with pytest.raises(ValueError, match=r"means must have shape \(n_modes, 2\)"):
        mode_coverage(x, torch.zeros(8, 3), 0.01)


def test_effective_sample_size_kish_formula_and_stability():
    from helpers.metrics import effective_sample_size

    w = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
    assert effective_sample_size(w.log()) == pytest.approx(float(w.sum() ** 2 / (4 * (w**2).sum())))
    assert effective_sample_size(torch.zeros(7)) == pytest.approx(1.0)
    assert effective_sample_size(torch.tensor([0.0, -math.inf, -math.inf])) == pytest.approx(1 / 3)
    # shifting every log-weight changes nothing, even far beyond float range
    lw = torch.randn(1000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert effective_sample_size(lw - 5000) == pytest.approx(effective_sample_size(lw), rel=1e-12)
    # log-normal weights: ESS fraction -> exp(-sigma^2) for large n
    lw = 0.5 * torch.randn(400_000, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert effective_sample_size(lw) == pytest.approx(math.exp(-0.25), abs=0.005)
    with pytest.raises(ValueError, match="at least one finite"):
        effective_sample_size(torch.full((3,), -math.inf))
    with pytest.raises(ValueError, match="NaN"):
        effective_sample_size(torch.tensor([0.0, float("nan")]))
