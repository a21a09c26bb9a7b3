"""helpers.science.cosmology: the field generator has the input spectrum; estimators are right."""

import numpy as np
import pytest
import torch

from helpers.science import cosmology as co

P = co.PowerLaw(amplitude=1.0, index=-2.0, smoothing=1.0)


def test_measured_power_matches_input_within_standard_error():
    n, n_maps = 32, 400
    g = co.gaussian_field(n_maps, n, P, 0)
    _, pk = co.power_spectrum(g)
    model = co.binned_model_power(P, n)
    se = pk.std(0) / np.sqrt(n_maps)
    assert np.all(np.abs(pk.mean(0) - model) < 4 * se)
    assert g.var() == pytest.approx(co.field_variance(P, n), rel=0.05)


def test_power_spectrum_of_a_single_wave():
    n = 16
    x = np.arange(n)
    wave = np.cos(2 * np.pi * 3 * x / n)[None, :].repeat(n, 0)
    _, pk = co.power_spectrum(wave)
    # two modes (+-3 k_f) each with |d_k|^2 = (N^2 / 2)^2, divided by N^2 and averaged over the shell
    counts = np.bincount(co.shell_index(n).ravel())
    assert pk[0, 2] == pytest.approx(2 * (n**2 / 2) ** 2 / n**2 / counts[3])
    assert np.allclose(np.delete(pk[0], 2), 0, atol=1e-20)


def test_lognormal_has_zero_mean_and_known_variance():
    g = co.gaussian_field(300, 32, P, 1)
    var = co.field_variance(P, 32)
    d = co.lognormal_field(g, var)
    assert abs(d.mean()) < 4 * d.std() / np.sqrt(d.size / 50)
    assert d.var() == pytest.approx(np.expm1(var), rel=0.1)
    assert d.min() > -1


def test_minkowski_estimator_matches_tomita_for_a_gaussian_field():
    g = co.gaussian_field(200, 32, P, 2)
    nu = np.linspace(-2, 2, 9)
    mf = co.minkowski_functionals(g, nu, width=0.1)
    th = co.gaussian_minkowski(nu, co.spectral_lambda(P, 32))
    np.testing.assert_allclose(mf[0], th[0], atol=0.01)
    np.testing.assert_allclose(mf[1], th[1], rtol=0.05, atol=5e-4)
    np.testing.assert_allclose(mf[2], th[2], atol=0.08 * np.abs(th[2]).max())


def test_peak_counts_find_a_single_peak():
    m = np.zeros((1, 8, 8))
    m[0, 3, 4] = 2.0
    assert co.peak_counts(m, np.array([1.0, 3.0])).tolist() == [[1]]


def test_flow_log_prob_matches_gaussian_density_and_inverse_inverts():
    n = 8
    flow = co.GaussianizationFlow(n, pointwise=True)
    with torch.no_grad():
        flow.log_a.normal_(0, 0.3)
        flow.log_slope.normal_(0, 0.3)
    x = torch.randn(3, n, n)
    u, _ = flow.h_inverse(x)
    assert torch.allclose(flow.h(u), x, atol=1e-5)
    # with h the identity, the model is the Gaussian N(0, C) with C circulant: compare with torch
    gauss = co.GaussianizationFlow(n, pointwise=False)
    with torch.no_grad():
        gauss.log_a.normal_(0, 0.3)
        gauss.bias.fill_(float(gauss.knots[0]))
        gauss.log_slope.zero_()
    a2 = torch.exp(2 * gauss.log_filter()).double()
    eye = torch.eye(n * n, dtype=torch.float64).reshape(n * n, n, n)
    cov = torch.fft.ifft2(torch.fft.fft2(eye) * a2).real.reshape(n * n, n * n)
    ref = torch.distributions.MultivariateNormal(torch.zeros(n * n, dtype=torch.float64), cov)
    xs = torch.randn(4, n, n)
    lhs = gauss.log_prob(xs).double()
    rhs = ref.log_prob(xs.double().reshape(4, -1))
    assert torch.allclose(lhs, rhs, atol=1e-3)


def test_fit_flow_runs_and_bad_inputs_raise():
    g = co.gaussian_field(64, 8, P, 3)
    fit = co.fit_flow(g, n_steps=5, progress=False)
    assert fit.model.sample(2).shape == (2, 8, 8)
    with pytest.raises(ValueError, match="even integer"):
        co.gaussian_field(2, 7, P)
    with pytest.raises(ValueError, match="amplitude"):
        co.PowerLaw(amplitude=-1)
    with pytest.raises(ValueError, match="shape"):
        co.power_spectrum(np.zeros((2, 4, 6)))


def test_gaussian_only_flow_has_the_measured_power_spectrum():
    """With h the identity and no training, the filter's shell-averaged power is the maps' measured one."""
    maps = co.gaussian_field(200, 32, P, 4)
    model = co.fit_flow(maps, n_steps=0, pointwise=False, progress=False).model
    with torch.no_grad():
        power = torch.exp(2 * model.log_filter()).numpy()  # E|FFT(u)|^2 / N^2 of the model, per mode
    j = co.shell_index(32).ravel()
    shells = np.arange(1, 17)
    model_binned = np.bincount(j, weights=power.ravel())[shells] / np.bincount(j)[shells]
    _, measured = co.power_spectrum(maps)
    assert np.allclose(model_binned, measured.mean(0), rtol=1e-4)
    # and its samples reproduce it within their standard error (4 SE per shell)
    _, sampled = co.power_spectrum(model.sample(400, torch.Generator().manual_seed(0)).numpy())
    se = sampled.std(0) / np.sqrt(len(sampled))
    assert np.all(np.abs(sampled.mean(0) - model_binned) < 4 * se)
