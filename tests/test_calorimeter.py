"""helpers.science.calorimeter: the GFLASH simulator follows its own formulas; metrics behave."""

import numpy as np
import pytest
import torch

from helpers.science import calorimeter as cal


def test_profile_parameters_match_the_paper():
    T, alpha = cal.average_profile_params(10.0)
    ln_y = np.log(10.0 / 0.00743)
    assert T[0] == pytest.approx(ln_y - 0.858)
    assert alpha[0] == pytest.approx(0.21 + (0.492 + 2.38 / 82) * ln_y)
    p = cal.fluctuation_params(10.0)
    assert p["rho"][0] == pytest.approx(0.705 - 0.023 * ln_y)


def test_fluctuated_parameters_have_the_stated_moments():
    rng = np.random.default_rng(0)
    e = np.full(40_000, 20.0)
    T, alpha = cal.sample_profile_params(e, rng)
    p = cal.fluctuation_params(20.0)
    n = len(e)
    assert abs(np.log(T).mean() - p["mu_lnT"][0]) < 4 * p["sigma_lnT"][0] / np.sqrt(n)
    assert np.log(T).std() == pytest.approx(p["sigma_lnT"][0], rel=0.02)
    assert np.corrcoef(np.log(T), np.log(alpha))[0, 1] == pytest.approx(p["rho"][0], abs=0.02)


def test_gamma_profile_integrates_to_one_and_peaks_at_T():
    t = np.linspace(0, 80, 160_001)
    f = cal.gamma_profile(t, 6.0, 4.0)
    assert np.trapezoid(f, t) == pytest.approx(1.0, abs=1e-6)
    assert t[f.argmax()] == pytest.approx(6.0, abs=1e-3)


def test_radius_sampler_is_exact():
    rng = np.random.default_rng(1)
    tau = np.full(200_000, 0.8)
    r = cal.sample_radius(tau, 10.0, rng)
    for radius in (0.2, 1.0, 2.5):
        exact = cal.radial_containment(radius, 0.8, 10.0)
        se = np.sqrt(exact * (1 - exact) / len(r))
        assert abs((r < radius).mean() - exact) < 4 * se


def test_simulation_conserves_energy_and_is_seeded():
    geo = cal.Geometry(layer_edges=(0.0, 1000.0), n_cells=1, cell_size=1000.0, threshold=0.0)
    s = cal.simulate(np.array([5.0, 20.0]), 0, geo)
    np.testing.assert_allclose(s.sum((1, 2, 3)), [5.0, 20.0], rtol=1e-5)
    a, b = cal.simulate(np.array([3.0, 7.0]), 4), cal.simulate(np.array([3.0, 7.0]), 4)
    assert a.shape == (2, 3, 12, 12) and np.array_equal(a, b)


def test_observables_and_separation_power():
    s = cal.simulate(np.full(50, 10.0), 0)
    obs = cal.observables(s, np.full(50, 10.0))
    fr = obs["f_0"] + obs["f_1"] + obs["f_2"]
    np.testing.assert_allclose(fr, 1.0, rtol=1e-6)
    assert np.all((obs["E_dep/E_inc"] > 0.5) & (obs["E_dep/E_inc"] <= 1.0))
    assert cal.separation_power([1, 0], [0, 3]) == pytest.approx(1.0)
    assert cal.separation_power([2, 3, 5], [4, 6, 10]) == pytest.approx(0.0)
    x = np.random.default_rng(0).normal(size=5000)
    assert cal.separation_power_samples(x, x + 10) > 0.95


def test_classifier_auc_detects_a_shift_and_not_noise():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(800, 5)), rng.normal(size=(800, 5))
    assert abs(cal.classifier_auc(a, b) - 0.5) < 0.08
    assert cal.classifier_auc(a, b + 1.0) > 0.85


def test_transform_roundtrip_and_gan_shapes():
    e = np.array([4.0, 30.0])
    s = cal.simulate(e, 3)
    t = cal.CaloTransform()
    back = t.decode(t.encode(s, e), e)
    np.testing.assert_allclose(back, s, rtol=1e-4, atol=1e-6)
    run = cal.train_calogan(s, e, n_steps=2, batch_size=2, progress=False)
    g = cal.generate(run, np.array([10.0, 12.0, 14.0]))
    assert g.shape == (3, 3, 12, 12) and np.all(g >= 0)
    assert isinstance(run.generator(torch.zeros(1, 32), torch.zeros(1, 1)), torch.Tensor)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="positive"):
        cal.simulate(np.array([-1.0]))
    with pytest.raises(ValueError, match="layer_edges"):
        cal.Geometry(layer_edges=(1.0, 2.0))
    with pytest.raises(ValueError, match="same length"):
        cal.separation_power([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="shape"):
        cal.observables(np.zeros((2, 3, 4, 4)), np.ones(2))
