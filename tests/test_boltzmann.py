"""helpers.boltzmann: the double well, its exact references, the MCMC sampler."""

import math

import numpy as np
import pytest
import torch
from scipy.integrate import quad

from helpers import boltzmann as bz


def test_energy_is_the_noe_double_well():
    x = torch.tensor([[0.0, 0.0], [1.0, 2.0], [-2.0, -1.0]])
    expected = torch.tensor([0.0, 0.25 - 3 + 1 + 2, 4 - 12 - 2 + 0.5])
    assert torch.allclose(bz.double_well(x), expected)
    # minima and barrier are the stationary points: u1'(x1) = x1^3 - 6 x1 + 1 = 0
    ref = bz.double_well_reference()
    for r in (*ref.minima, ref.barrier):
        assert r**3 - 6 * r + 1 == pytest.approx(0, abs=1e-10)


def test_references_match_adaptive_quadrature_and_exact_values():
    ref = bz.double_well_reference(kT=1.0)
    f = lambda x: math.exp(-(x**4 / 4 - 3 * x**2 + x))  # noqa: E731
    (z_left, err_left), (z_right, err_right) = quad(f, -np.inf, ref.barrier), quad(f, ref.barrier, np.inf)
    z = z_left + z_right
    # Simpson's rule errs most in the one panel (width 2h) that the well's indicator cuts: at most 2h max f there
    h = ref.x1[1] - ref.x1[0]
    tol_simpson = 2 * h * max(f(ref.barrier - 2 * h), f(ref.barrier + 2 * h)) / z
    tol_quad = (z_right * err_left + z_left * err_right) / z**2  # quad's error estimates, propagated
    assert abs(ref.p_left - z_left / z) <= tol_simpson + tol_quad
    assert abs(ref.log_z - math.log(z * math.sqrt(2 * math.pi))) <= (err_left + err_right) / z
    # 12 digits of the exact values at kT = 1, by 30-digit quadrature (mpmath.quad split at the minima and
    # the barrier); the last digit's rounding is below 5e-13
    p_left_exact, delta_f_exact = 0.991653656352, 4.777550353079
    assert abs(ref.p_left - p_left_exact) <= tol_simpson + 5e-13
    # dΔF/dP_L = 1 / (P_L P_R) at kT = 1
    assert abs(ref.delta_f - delta_f_exact) <= (tol_simpson + 5e-13) / (p_left_exact * (1 - p_left_exact)) + 5e-13
    assert ref.free_energy.min() == 0.0


def test_metropolis_samples_the_boltzmann_distribution_of_a_gaussian():
    # u = x^2 / 2 at kT = 2: N(0, 2) in each coordinate
    g = torch.Generator().manual_seed(0)
    traj, acc = bz.metropolis(lambda x: 0.5 * (x**2).sum(-1), torch.zeros(200, 2, dtype=torch.float64),
                              2000, 1.5, kT=2.0, generator=g)
    x = traj[500:].reshape(-1, 2)
    assert 0.3 < acc < 0.9
    var = x.var(0)
    # 200 independent chains: the standard error of the variance from chain means
    chain_var = traj[500:].var(0)
    se = chain_var.std(0) / math.sqrt(200)
    assert bool(((var - 2.0).abs() < 4 * se).all())


def test_autocorrelation_of_an_ar1_chain():
    rng = np.random.default_rng(0)
    phi, n = 0.8, 200_000
    x = np.empty(n)
    x[0] = 0
    eps = rng.standard_normal(n)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + eps[t]
    rho = bz.autocorrelation(x, 5)
    assert np.allclose(rho, phi ** np.arange(6), atol=0.01)
    # tau = (1 + phi) / (1 - phi) = 9
    assert bz.integrated_autocorrelation_time(x) == pytest.approx(9.0, rel=0.1)


@pytest.mark.parametrize(
    "call,error,match",
    [
        (lambda: bz.double_well(torch.zeros(3, 3)), ValueError, r"x must have shape \(\.\.\., 2\)"),
        (lambda: bz.double_well(torch.zeros(3, 2, dtype=torch.long)), TypeError, "floating-point"),
        (lambda: bz.double_well_reference(kT=-1.0), ValueError, "kT must be a positive number"),
        (lambda: bz.double_well_reference(n=100), ValueError, "n must be an odd integer"),
        (lambda: bz.metropolis(bz.double_well, torch.zeros(2), 10, 0.5), ValueError, r"shape \(n_chains, d\)"),
        (lambda: bz.metropolis(bz.double_well, [[0.0, 0.0]], 10, 0.5), TypeError, "x0 must be a torch.Tensor"),
        (lambda: bz.metropolis(bz.double_well, torch.zeros(2, 2), 0, 0.5), ValueError, "n_steps must be an integer"),
        (lambda: bz.metropolis(bz.double_well, torch.zeros(2, 2), 5, 0.0), ValueError, "step_size must be a positive"),
        (lambda: bz.autocorrelation(np.zeros(10), 20), ValueError, r"max_lag must be an integer in \[0, 9\]"),
    ],
)
def test_bad_input_raises_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()
