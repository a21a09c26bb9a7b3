"""helpers.compare: the common budget, the change of units, the references and the scores."""

import math

import pytest
import torch
from torch import nn

from helpers import compare, data
from helpers.metrics import energy_distance


def test_budget_and_names_are_validated():
    with pytest.raises(ValueError, match="n_steps"):
        compare.Budget(n_steps=0)
    with pytest.raises(ValueError, match="final_lr_factor"):
        compare.Budget(final_lr_factor=2.0)
    with pytest.raises(TypeError, match="batch_size must be an integer"):
        compare.Budget(batch_size=256.0)
    with pytest.raises(ValueError, match="unknown family"):
        compare.fit_family("VQ-VAE", "grid")
    with pytest.raises(ValueError, match="unknown dataset"):
        compare.fit_family("VAE", "swiss roll")


def test_nll_in_data_units_is_the_change_of_variables():
    """A model of u = x / s with density N(0, I) is, in data units, exactly N(0, s^2 I)."""
    std_normal = torch.distributions.MultivariateNormal(torch.zeros(2), torch.eye(2))
    fitted = compare.Fitted("flow", nn.Identity(), 4.0, 0.0, {}, lambda n: torch.randn(n, 2),
                            lambda u: -std_normal.log_prob(u), "exact")
    x = torch.randn(100, 2) * 3
    wide = torch.distributions.MultivariateNormal(torch.zeros(2), 16 * torch.eye(2))
    assert torch.allclose(fitted.nll(x), -wide.log_prob(x), atol=1e-5)
    assert fitted.sample(7).shape == (7, 2)


def test_entropy_matches_the_closed_form_of_a_gaussian():
    one = data.GaussianMixture(torch.zeros(1, 2), std=0.5)
    h, se = compare.entropy(one)
    exact = math.log(2 * math.pi * math.e * 0.25)
    assert abs(h - exact) < 4 * se


def test_entropy_of_well_separated_grid_is_log_25_plus_gaussian():
    h, se = compare.entropy(data.grid())
    exact = math.log(25) + math.log(2 * math.pi * math.e * 0.05**2)
    assert abs(h - exact) < 4 * se + 1e-6


def test_energy_floor_is_the_size_of_real_vs_real_noise():
    moons = data.TwoMoons()
    floor = compare.energy_floor(moons, n=500, n_draws=6)
    assert floor > 0
    g = torch.Generator().manual_seed(0)
    shifted = moons.sample(500, generator=g) + torch.tensor([0.3, 0.0])
    assert energy_distance(shifted, moons.sample(500, generator=g)) > 5 * floor


@pytest.mark.parametrize("family", compare.FAMILIES)
def test_every_family_fits_samples_and_scores(family):
    fitted = compare.fit_family(family, "grid", compare.Budget(n_steps=3, batch_size=32), progress=False)
    x = fitted.sample(50)
    assert x.shape == (50, 2) and bool(torch.isfinite(x).all())
    assert fitted.train_seconds > 0
    nll = fitted.nll(data.grid().sample(8))
    if family == "GAN":
        assert nll is None and fitted.nll_kind == "n/a"
    else:
        assert nll.shape == (8,) and bool(torch.isfinite(nll).all())
        assert fitted.nll_kind == ("exact" if family == "flow" else "bound")


def test_evaluate_scores_a_perfect_sampler_at_the_floor():
    """The true distribution itself, wrapped as a model: at the floor on every score."""
    grid = data.grid()
    perfect = compare.Fitted("truth", nn.Identity(), 4.0, 1.0, {}, lambda n: grid.sample(n) / 4.0,
                             lambda u: -grid.log_prob(u * 4.0) - 2 * math.log(4.0), "exact")
    s = compare.evaluate(perfect, "grid", n_test=1000, n_samples=2500, n_nll=1000)
    assert s.modes == 25 and 0.98 < s.hq < 0.995  # P(chi2_2 <= 9) = 98.9%
    assert abs(s.excess_nats) < 1e-5 and s.excess_se < 1e-5  # paired: -log q = -log p point by point
    assert abs(s.nll - s.entropy) < 0.15  # the unpaired difference scatters (standard error ~0.04 nats)
    assert s.energy_ratio < 4
    assert s.sample_seconds_per_1000 >= 0 and s.train_seconds == 1.0


def test_evaluate_excess_is_the_kl_of_a_too_wide_model():
    """Modes twice as wide as the data's: KL = d/2 (1/4 - 1 + log 4) = 0.636 nats per point (d = 2)."""
    wide = data.grid(std=0.1)
    model = compare.Fitted("wide", nn.Identity(), 1.0, 1.0, {}, wide.sample, lambda x: -wide.log_prob(x), "exact")
    s = compare.evaluate(model, "grid", n_test=1000, n_samples=1000, n_nll=1000)
    kl = 0.25 - 1 + math.log(4)
    assert 0 < s.excess_se < 0.05
    assert abs(s.excess_nats - kl) < 4 * s.excess_se, (s.excess_nats, s.excess_se, kl)


def test_stored_seeds_repeat_on_the_machine_that_wrote_them():
    """The stored table comparison_seeds is what tools/comparison_seeds.py computes, bit for bit,
    on the machine it names; elsewhere the last bits differ as a new seed would."""
    from helpers import machine_fingerprint, results
    from helpers.parallel import one_thread

    DATA = results.load("comparison_seeds")

    if DATA.get("fingerprint") != machine_fingerprint():
        pytest.skip(f"table written on {DATA.get('fingerprint', 'an unrecorded machine')}")
    stored = next(r for r in DATA["rows"] if (r["family"], r["dataset"], r["seed"]) == ("VAE", "moons", 1))
    with one_thread():  # as the script ran
        _, scores = compare.run("VAE", "moons", compare.CHAPTER_BUDGET, seed=1, progress=False)
    again = scores.as_dict()
    for key in ("nll", "excess", "excess_se", "energy", "energy_floor", "entropy"):
        assert again[key] == stored[key], (key, again[key], stored[key])
