"""helpers.data: the toy densities are what they claim to be."""

import math

import pytest
import torch

from helpers import data


def _grid_integral(log_prob, lim, n=600):
    xs = torch.linspace(lim[0], lim[1], n, dtype=torch.float64)
    gx, gy = torch.meshgrid(xs, xs, indexing="ij")
    pts = torch.stack([gx.flatten(), gy.flatten()], 1)
    h = float(xs[1] - xs[0])
    return float(log_prob(pts).exp().sum()) * h * h


def test_ring_modes_radius_and_std():
    dist = data.ring()
    assert dist.means.shape == (8, 2)
    assert torch.allclose(dist.means.norm(dim=1), torch.ones(8), atol=1e-6)
    # no duplicated endpoint: the angles are 0, 45, ..., 315 degrees
    angles = torch.atan2(dist.means[:, 1], dist.means[:, 0]).remainder(2 * math.pi)
    assert torch.allclose(angles.sort().values, torch.arange(8) * math.pi / 4, atol=1e-5)
    x = dist.sample(80_000, generator=torch.Generator().manual_seed(0))
    d = torch.cdist(x, dist.means)
    nearest = d.argmin(1)
    resid = x - dist.means[nearest]
    # per-mode std 0.01 in each coordinate (estimate from 160k numbers, se ~ 0.2%)
    assert resid.std().item() == pytest.approx(0.01, rel=0.01)
    assert x.norm(dim=1).mean().item() == pytest.approx(1.0, abs=1e-3)
    # equal weights: each mode gets 1/8 of the samples within 4 standard errors
    counts = torch.bincount(nearest, minlength=8).double() / len(x)
    se = math.sqrt(1 / 8 * 7 / 8 / len(x))
    assert (counts - 1 / 8).abs().max() < 4 * se


def test_grid_means_are_the_pacgan_grid():
    dist = data.grid()
    ticks = {-4.0, -2.0, 0.0, 2.0, 4.0}
    assert dist.n_modes == 25
    assert {float(v) for v in dist.means[:, 0]} == ticks
    assert {(float(a), float(b)) for a, b in dist.means} == {(a, b) for a in ticks for b in ticks}
    assert dist.std == 0.05


@pytest.mark.parametrize("dist,lim", [(data.ring(std=0.1), (-1.6, 1.6)), (data.grid(std=0.2), (-5.5, 5.5))])
def test_mixture_log_prob_integrates_to_one(dist, lim):
    assert _grid_integral(dist.log_prob, lim) == pytest.approx(1.0, abs=2e-3)


def test_mixture_log_prob_matches_torch_distributions():
    dist = data.ring(n_modes=3, std=0.3)
    ref = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(torch.ones(3)),
        torch.distributions.Independent(torch.distributions.Normal(dist.means, 0.3), 1),
    )
    x = torch.randn(100, 2)
    assert torch.allclose(dist.log_prob(x), ref.log_prob(x), atol=1e-5)


def test_moons_log_prob_integrates_to_one_and_entropy_matches_reference():
    moons = data.TwoMoons(noise=0.1, scale=2.0)
    assert _grid_integral(moons.log_prob, (-3.5, 5.5), n=500) == pytest.approx(1.0, abs=2e-3)
    x = moons.sample(20_000, generator=torch.Generator().manual_seed(1))
    nlp = -moons.log_prob(x)
    h, se = nlp.mean().item(), nlp.std().item() / math.sqrt(len(x))
    # REFERENCES.md: H = 2.394 nats for noise 0.1 scaled x2 (= 1.006 + 2 ln 2)
    assert abs(h - 2.394) < 3 * se + 0.005


def test_moons_samples_lie_on_sklearn_arcs():
    from sklearn.datasets import make_moons

    ref, _ = make_moons(4000, noise=0.0)
    x = data.TwoMoons(noise=0.1).sample(4000, generator=torch.Generator().manual_seed(0))
    d = torch.cdist(x.double(), torch.tensor(ref)).min(1).values
    # distance to the arc ~ |N(0, 0.1^2 I)| projected: mean ~ 0.1 * sqrt(pi/2) ~ 0.08
    assert 0.06 < d.mean().item() < 0.1


def test_samples_are_reproducible_with_a_generator():
    a = data.grid().sample((3, 4), generator=torch.Generator().manual_seed(5))
    b = data.grid().sample((3, 4), generator=torch.Generator().manual_seed(5))
    assert a.shape == (3, 4, 2)
    assert torch.equal(a, b)


def test_toy_by_name():
    assert isinstance(data.toy("moons"), data.TwoMoons)
    assert data.toy("ring", n_modes=4).n_modes == 4
    with pytest.raises(ValueError, match="unknown toy distribution 'spiral'"):
        data.toy("spiral")


@pytest.mark.parametrize(
    "call,error,match",
    [
        (lambda: data.ring(std=-0.1), ValueError, "std must be a positive number"),
        (lambda: data.ring(n_modes=0), ValueError, "n_modes must be an integer >= 1"),
        (lambda: data.grid(n_per_side=2.5), TypeError, "n_per_side must be an integer >= 1"),
        (lambda: data.TwoMoons(noise=0), ValueError, "noise must be a positive number"),
        (lambda: data.ring().sample(-3), ValueError, "sample_shape must be non-negative"),
        (lambda: data.ring().sample("many"), TypeError, "sample_shape must be an int or a tuple"),
        (lambda: data.ring().log_prob(torch.zeros(5, 3)), ValueError, r"x must have shape \(\.\.\., 2\)"),
        (lambda: data.ring().log_prob(torch.zeros(5, 2, dtype=torch.long)), TypeError, "floating-point"),
        (lambda: data.TwoMoons().log_prob([[0.0, 0.0]]), TypeError, "x must be a torch.Tensor"),
        (lambda: data.load_digits("validation"), ValueError, "split must be 'train', 'test' or 'all'"),
    ],
)
def test_bad_input_raises_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_load_digits_split_and_scaling():
    train, test, full = data.load_digits("train"), data.load_digits("test"), data.load_digits("all")
    assert train.images.shape == (1437, 64) and test.images.shape == (360, 64)
    assert full.images.shape == (1797, 64)
    assert train.images.dtype == torch.float32 and train.labels.dtype == torch.int64
    assert float(full.images.min()) == 0.0 and float(full.images.max()) == 1.0
    # the split is a partition of the full set, the same on every call
    both = torch.cat([train.images, test.images])
    assert torch.equal(both.sum(0), full.images.sum(0))
    assert torch.equal(data.load_digits("test").images, test.images)
    assert set(test.labels.tolist()) == set(range(10))


def test_eight_gaussians_is_the_ffjord_toy_and_its_entropy_matches_quadrature():
    dist = data.eight_gaussians()
    assert torch.allclose(dist.means.norm(dim=1), torch.full((8,), 4 / 1.414), atol=1e-5)
    assert dist.std == pytest.approx(0.5 / 1.414)
    assert _grid_integral(dist.log_prob, (-5.5, 5.5), n=800) == pytest.approx(1.0, abs=1e-3)
    # H(p) by Monte Carlo beside the quadrature value 2.832 of REFERENCES.md
    x = dist.sample(20_000, generator=torch.Generator().manual_seed(0))
    nlp = -dist.log_prob(x)
    assert abs(nlp.mean().item() - 2.832) < 3 * nlp.std().item() / math.sqrt(len(x)) + 5e-4


def test_checkerboard_integrates_to_one_and_has_entropy_ln32():
    cb = data.Checkerboard()
    # midpoint rule on cells that never straddle a square's edge: exact
    assert _grid_integral(cb.log_prob, (-4.995, 4.995), n=1000) == pytest.approx(1.0, abs=1e-9)
    x = cb.sample(20_000, generator=torch.Generator().manual_seed(0))
    lp = cb.log_prob(x)
    assert bool(torch.isfinite(lp).all())
    assert (-lp).mean().item() == pytest.approx(math.log(32), abs=1e-6)
    # every filled square gets 1/8 of the samples
    cells = ((x + 4) // 2).long()
    counts = torch.bincount(cells[:, 0] * 4 + cells[:, 1], minlength=16).double() / len(x)
    filled = torch.tensor([(i + j) % 2 == 0 for i in range(4) for j in range(4)])
    assert bool((counts[~filled] == 0).all())
    assert (counts[filled] - 1 / 8).abs().max() < 4 * math.sqrt(1 / 8 * 7 / 8 / len(x))
    assert cb.log_prob(torch.tensor([[-3.0, -1.0], [5.0, 0.0]])).isinf().all()
