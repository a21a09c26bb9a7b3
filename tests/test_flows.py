"""helpers.flows: every layer inverts, and its log-det equals the autograd Jacobian's."""

import math

import pytest
import torch
from torch import nn
from torch.autograd.functional import jacobian

from helpers import flows


def _randomise(module: nn.Module, std: float = 0.5) -> nn.Module:
    """Give zero-initialised output layers random weights, so the layer is not the identity."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(std * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return module


def _layers(dim=3):
    mask = torch.tensor([1.0, 0.0, 1.0][:dim])
    actnorm = flows.ActNorm(dim)
    actnorm.initialize(2 * torch.randn(50, dim) + 1)
    return {
        "affine": _randomise(flows.AffineCoupling(mask, 16)),
        "actnorm": actnorm,
        "lu": _randomise(flows.LULinear(dim)),
        "spline": _randomise(flows.SplineCoupling(mask, 16, n_bins=6, bound=2.5), std=1.0),
        "realnvp": _randomise(flows.RealNVP(dim, 4, 16, glow=True)),
        "nsf": _randomise(flows.NeuralSplineFlow(dim, 3, 16, n_bins=5), std=0.3),
    }


@pytest.fixture(autouse=True)
def _float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(0)
    yield
    torch.set_default_dtype(old)


@pytest.mark.parametrize("name", ["affine", "actnorm", "lu", "spline", "realnvp", "nsf"])
def test_inverse_inverts_and_log_dets_match_autograd(name):
    layer = _layers()[name]
    x = 1.5 * torch.randn(8, 3)
    x[0] = torch.tensor([3.5, -4.0, 0.1])  # outside the spline's bound: identity tails
    y, ld = layer.forward(x)
    x_back, ld_inv = layer.inverse(y)
    assert torch.allclose(x_back, x, atol=1e-9)
    assert torch.allclose(ld_inv, -ld, atol=1e-9)
    jac = torch.stack([jacobian(lambda v: layer.forward(v[None])[0][0], xi) for xi in x])
    assert torch.allclose(ld, torch.linalg.slogdet(jac).logabsdet, atol=1e-9)


def test_spline_is_monotone_continuous_and_identity_outside():
    g = torch.Generator().manual_seed(1)
    w, h, d = (torch.randn(1, k, generator=g) for k in (6, 6, 5))
    x = torch.linspace(-4, 4, 4001)
    y, ld = flows.rational_quadratic_spline(x, w.expand(4001, 6), h.expand(4001, 6), d.expand(4001, 5), bound=3.0)
    assert bool((y.diff() > 0).all())
    assert float(y.diff().abs().max()) < 0.05  # continuous: no jumps at the knots
    outside = x.abs() > 3
    assert torch.equal(y[outside], x[outside]) and bool((ld[outside] == 0).all())
    # the log-derivative matches central finite differences (step 1e-6, float64)
    eps = 1e-6
    yp, _ = flows.rational_quadratic_spline(x + eps, w.expand(4001, 6), h.expand(4001, 6), d.expand(4001, 5))
    ym, _ = flows.rational_quadratic_spline(x - eps, w.expand(4001, 6), h.expand(4001, 6), d.expand(4001, 5))
    assert torch.allclose(ld.exp(), (yp - ym) / (2 * eps), rtol=1e-5, atol=1e-6)


def test_flow_density_integrates_to_one_and_matches_samples():
    torch.manual_seed(3)
    flow = _randomise(flows.NeuralSplineFlow(2, 2, 16, n_bins=6, actnorm=False), std=0.1)
    with torch.no_grad():
        xs = torch.linspace(-8, 8, 801)
        gx, gy = torch.meshgrid(xs, xs, indexing="ij")
        dens = flow.log_prob(torch.stack([gx.flatten(), gy.flatten()], 1)).exp()
        mass = float(dens.sum()) * float(xs[1] - xs[0]) ** 2
        # the box's mass by quadrature equals the fraction of samples that land in it
        inside = (flow.sample(200_000).abs() < 8).all(1).double()
        frac, se = float(inside.mean()), float(inside.std()) / math.sqrt(len(inside))
        assert frac > 0.98
        assert abs(mass - frac) < 4 * se + 1e-3
        # sample_with_log_prob agrees with log_prob on its own samples
        x, lq = flow.sample_with_log_prob(500)
        assert torch.allclose(lq, flow.log_prob(x), atol=1e-8)


def test_actnorm_data_dependent_init_standardises():
    an = flows.ActNorm(2)
    x = torch.randn(1000, 2) * torch.tensor([3.0, 0.2]) + torch.tensor([5.0, -1.0])
    z, _ = an.inverse(x)
    assert torch.allclose(z.mean(0), torch.zeros(2), atol=1e-9)
    assert torch.allclose(z.std(0), torch.ones(2), atol=1e-9)
    z2, _ = an.inverse(x + 1)  # initialised once only
    assert torch.allclose(z2, z + 1 / x.std(0), atol=1e-9)


def test_lu_weight_log_det():
    lu = _randomise(flows.LULinear(4))
    assert float(torch.linalg.slogdet(lu.weight()).logabsdet) == pytest.approx(float(lu.log_s.sum()), abs=1e-10)


def test_maximum_likelihood_training_fits_a_gaussian():
    torch.set_default_dtype(torch.float32)
    torch.manual_seed(0)
    target = torch.distributions.MultivariateNormal(torch.tensor([1.0, -2.0]),
                                                    torch.tensor([[2.0, 0.9], [0.9, 1.0]]))
    flow = flows.RealNVP(2, 4, 32, glow=True)
    opt = torch.optim.Adam(flow.parameters(), lr=1e-2)
    data = target.sample((4096,))
    for _ in range(300):
        loss = -flow.log_prob(data).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    x = target.sample((20_000,))
    with torch.no_grad():
        kl = (target.log_prob(x) - flow.log_prob(x)).mean()
    assert float(kl) < 0.02


def test_sample_shapes_and_trajectory():
    flow = flows.RealNVP(2, 3, 8)
    assert flow.sample(7).shape == (7, 2)
    traj = flow.trajectory(torch.zeros(5, 2))
    assert len(traj) == 4 and all(t.shape == (5, 2) for t in traj)


@pytest.mark.parametrize(
    "call,error,match",
    [
        (lambda: flows.RealNVP(1, 4, 8), ValueError, "dim must be an integer >= 2"),
        (lambda: flows.RealNVP(2, 0, 8), ValueError, "n_layers must be an integer >= 1"),
        (lambda: flows.RealNVP(2.0, 4, 8), TypeError, "dim must be an integer >= 2"),
        (lambda: flows.NeuralSplineFlow(2, 2, 8, n_bins=1), ValueError, "n_bins must be an integer >= 2"),
        (lambda: flows.AffineCoupling(torch.tensor([1.0, 1.0])), ValueError, "both values present"),
        (lambda: flows.RealNVP(2, 2, 8).log_prob(torch.zeros(4, 3)), ValueError, r"x must have shape \(batch, 2\)"),
        (lambda: flows.RealNVP(2, 2, 8).log_prob([[0.0, 0.0]]), TypeError, "x must be a torch.Tensor"),
        (lambda: flows.RealNVP(2, 2, 8).sample(-1), ValueError, "n must be an integer >= 0"),
        (lambda: flows.rational_quadratic_spline(torch.zeros(3), torch.zeros(3, 4), torch.zeros(3, 4),
                                                 torch.zeros(3, 4)), ValueError, "K - 1 derivatives"),
    ],
)
def test_bad_input_raises_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_base_density_is_standard_normal():
    flow = flows.RealNVP(2, 2, 8)  # identity at initialisation
    x = torch.randn(10, 2)
    ref = -0.5 * (x**2).sum(1) - math.log(2 * math.pi)
    assert torch.allclose(flow.log_prob(x), ref, atol=1e-12)


def test_flows_move_between_dtypes_and_devices():
    flow = flows.NeuralSplineFlow(2, 2, 8).to("cpu").float()
    x = torch.randn(4, 2, dtype=torch.float32)
    assert flow.log_prob(x).dtype == torch.float32
    assert flows.RealNVP(2, 2, 8, glow=True).double().log_prob(x.double()).dtype == torch.float64


def test_fit_to_samples_learns_a_gaussian_and_checks_its_input():
    from helpers.data import GaussianMixture

    target = GaussianMixture(torch.tensor([[1.0, -2.0]]), std=0.5)
    flow, excess = flows.fit_to_samples(flows.RealNVP(2, n_layers=2, hidden=16), target, 300, 1e-2, seed=0,
                                        batch=256, n_train=5000, n_eval=5000)
    assert -4 * excess.se <= excess.mean < 0.05  # KL(p || q) >= 0 up to Monte Carlo error, and small
    with pytest.raises(TypeError, match="Flow"):
        flows.fit_to_samples(torch.nn.Linear(2, 2), target, 10, 1e-3, seed=0)
    with pytest.raises(TypeError, match="log_prob"):
        flows.fit_to_samples(flows.RealNVP(2), [1.0], 10, 1e-3, seed=0)
    with pytest.raises(ValueError, match="n_steps"):
        flows.fit_to_samples(flows.RealNVP(2), target, 0, 1e-3, seed=0)
