"""helpers.gan: the optimal discriminator, the GAN losses and penalties, the training loop."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import helpers
from helpers import data, gan


def _normal_logpdf(x, mu, s):
    return -0.5 * ((x - mu) / s) ** 2 - math.log(s * math.sqrt(2 * math.pi))


def test_optimal_discriminator_is_the_density_ratio():
    x = torch.linspace(-3, 3, 101, dtype=torch.float64)
    lp, lq = _normal_logpdf(x, 0.0, 1.0), _normal_logpdf(x, 1.0, 0.7)
    d = gan.optimal_discriminator(lp, lq)
    expected = lp.exp() / (lp.exp() + lq.exp())
    torch.testing.assert_close(d, expected)


def test_optimal_discriminator_maximises_the_value_pointwise():
    # a log y + b log(1 - y) is maximised at y = a / (a + b): every perturbation lowers it.
    torch.manual_seed(0)
    a, b = torch.rand(50, dtype=torch.float64) + 0.01, torch.rand(50, dtype=torch.float64) + 0.01
    y = gan.optimal_discriminator(a.log(), b.log())
    value = a * y.log() + b * (1 - y).log()
    for eps in (-1e-3, 1e-3, -0.1, 0.1):
        z = (y + eps).clamp(1e-6, 1 - 1e-6)
        assert bool((a * z.log() + b * (1 - z).log() <= value + 1e-12).all())


def test_optimal_discriminator_is_stable_where_densities_underflow():
    lp = torch.tensor([-1000.0, -1000.0, 0.0, -float("inf")])
    lq = torch.tensor([-1001.0, -2000.0, -float("inf"), -float("inf")])
    d = gan.optimal_discriminator(lp, lq)
    assert bool(torch.isfinite(d).all())
    torch.testing.assert_close(d, torch.tensor([torch.sigmoid(torch.tensor(1.0)).item(), 1.0, 1.0, 0.5]))


def test_optimal_discriminator_rejects_bad_input():
    with pytest.raises(ValueError, match="same shape"):
        gan.optimal_discriminator(torch.zeros(3), torch.zeros(4))
    with pytest.raises(TypeError, match="log_p_data must be a torch.Tensor"):
        gan.optimal_discriminator([0.0], torch.zeros(1))
    with pytest.raises(TypeError, match="floating-point"):
        gan.optimal_discriminator(torch.zeros(2, dtype=torch.long), torch.zeros(2))


def test_losses_match_their_definitions_and_gradients():
    logits = torch.linspace(-8, 8, 33, dtype=torch.float64, requires_grad=True)
    d = torch.sigmoid(logits)
    real = torch.linspace(-2, 3, 7, dtype=torch.float64)
    torch.testing.assert_close(
        gan.discriminator_loss(real, logits.detach()),
        F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
        + F.binary_cross_entropy_with_logits(logits.detach(), torch.zeros_like(logits)))
    torch.testing.assert_close(gan.generator_loss_saturating(logits), (1 - d).log().mean())
    torch.testing.assert_close(gan.generator_loss_non_saturating(logits), -d.log().mean())
    # d/dl log(1 - sigmoid l) = -D (vanishes as D -> 0); d/dl -log sigmoid l = -(1 - D)
    (g_sat,) = torch.autograd.grad(gan.generator_loss_saturating(logits), logits)
    (g_ns,) = torch.autograd.grad(gan.generator_loss_non_saturating(logits), logits)
    n = logits.numel()
    torch.testing.assert_close(g_sat * n, -d.detach())
    torch.testing.assert_close(g_ns * n, -(1 - d.detach()))
    torch.testing.assert_close(gan.wasserstein_critic_loss(real, logits.detach()), logits.mean() - real.mean())
    with pytest.raises(ValueError, match="shape"):
        gan.generator_loss_non_saturating(torch.zeros(3, 1))


def test_r1_and_gradient_penalty_on_linear_critics():
    lin = nn.Sequential(nn.Linear(3, 1), nn.Flatten(0))
    with torch.no_grad():
        lin[0].weight.copy_(torch.tensor([[1.0, -2.0, 2.0]]))  # |w| = 3
    x, y = torch.randn(64, 3), torch.randn(64, 3)
    torch.testing.assert_close(gan.r1_penalty(lin, x), torch.tensor(9.0))
    torch.testing.assert_close(gan.gradient_penalty(lin, x, y), torch.tensor(4.0))  # (3 - 1)^2
    with torch.no_grad():
        lin[0].weight.div_(3.0)
    torch.testing.assert_close(gan.gradient_penalty(lin, x, y), torch.tensor(0.0), atol=1e-6, rtol=0)
    assert gan.r1_penalty(lin, x).requires_grad  # keeps its graph for D's update
    with pytest.raises(ValueError, match="same shape"):
        gan.gradient_penalty(lin, x, y[:3])


def test_generator_latents():
    g = gan.Generator(latent_dim=3, n_categories=5)
    z = g.sample_latent(1000, generator=torch.Generator().manual_seed(0))
    assert z.shape == (1000, 8)
    onehot = z[:, 3:]
    assert bool((onehot.sum(1) == 1).all()) and set(onehot.unique().tolist()) == {0.0, 1.0}
    counts = onehot.sum(0)
    assert bool(((counts - 200).abs() < 5 * math.sqrt(200 * 0.8)).all())  # uniform categories
    assert g.sample(7).shape == (7, 2)
    with pytest.raises(ValueError, match="shape"):
        g(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="n_categories"):
        gan.Generator(n_categories=-1)
    with pytest.raises(ValueError, match="latent_dim"):
        gan.Generator(latent_dim=0)
    with pytest.raises(TypeError, match="latent_dim must be an integer"):
        gan.Generator(latent_dim=2.0)
    assert gan.discriminator(in_dim=2)(torch.zeros(5, 2)).shape == (5,)


def _fit_one_mode(seed: int, loss: str) -> gan.GANRun:
    helpers.set_seed(seed)
    target = data.GaussianMixture(torch.tensor([[1.5, -1.0]]), std=0.1)
    g, d = gan.Generator(hidden=32, n_hidden=2), gan.discriminator(hidden=32, n_hidden=2)
    kw = {"n_critic": 2} if loss == "wgan-gp" else {"r1_gamma": 0.1}
    return gan.train_gan(g, d, target.sample, 300, loss=loss, batch_size=64, lr=2e-3, decay_start=0.5,
                         snapshot_every=100, n_snapshot=500, progress=False, **kw), g


def test_train_gan_moves_samples_onto_a_single_mode():
    run, g = _fit_one_mode(0, "non-saturating")
    final = run.snapshots[300]
    assert sorted(run.snapshots) == [0, 100, 200, 300]
    start_err = (run.snapshots[0].mean(0) - torch.tensor([1.5, -1.0])).norm()
    err = (final.mean(0) - torch.tensor([1.5, -1.0])).norm()
    assert err < 0.15 < start_err
    assert set(run.history) >= {"loss", "d_loss", "d_fake", "g_grad"}
    assert len(run.history["g_grad"]) == 300 and all(v > 0 for v in run.history["g_grad"])


def test_wgan_gp_critic_scores_data_above_fakes():
    helpers.set_seed(0)
    target = data.GaussianMixture(torch.tensor([[1.5, -1.0]]), std=0.1)
    g, critic = gan.Generator(hidden=32, n_hidden=2), gan.discriminator(hidden=32, n_hidden=2)
    run = gan.train_gan(g, critic, target.sample, 30, loss="wgan-gp", n_critic=5, batch_size=64, lr=1e-3,
                        progress=False)
    with torch.no_grad():
        gap = critic(target.sample(500)).mean() - critic(g.sample(500)).mean()
    # the critic's score gap estimates W1 > 0 between a moving generator and the data
    assert float(gap) > 0.1 and all(math.isfinite(v) for v in run.history["d_fake"])


def test_rejection_sampling_with_the_optimal_discriminator_recovers_the_data():
    # p_G = N(0, 1), p_data = N(1, 0.5^2): with the exact log-ratio as logit, DRS samples p_data.
    torch.manual_seed(0)

    class Shift(gan.Generator):
        def forward(self, z):
            return z[:, :1]

    g = Shift(latent_dim=1, out_dim=1)
    p, q = torch.distributions.Normal(1.0, 0.5), torch.distributions.Normal(0.0, 1.0)

    def exact_logit(x):
        return (p.log_prob(x) - q.log_prob(x))[:, 0]

    x, acc = gan.rejection_sample(g, exact_logit, 20_000, quantile=1.0, batch_size=200_000)
    assert abs(float(x.mean()) - 1.0) < 4 * 0.5 / math.sqrt(20_000)
    assert abs(float(x.std()) - 0.5) < 0.02
    assert 0 < acc < 1
    with pytest.raises(ValueError, match="quantile"):
        gan.rejection_sample(g, exact_logit, 10, quantile=0.0)


def test_train_gan_repeats_exactly_under_a_seed():
    a, _ = _fit_one_mode(3, "non-saturating")
    b, _ = _fit_one_mode(3, "non-saturating")
    torch.testing.assert_close(a.snapshots[300], b.snapshots[300], rtol=0, atol=0)


def test_train_gan_rejects_bad_settings():
    g, d = gan.Generator(), gan.discriminator()
    sample = data.ring().sample
    with pytest.raises(ValueError, match="unknown loss"):
        gan.train_gan(g, d, sample, 1, loss="hinge")
    with pytest.raises(ValueError, match="n_steps"):
        gan.train_gan(g, d, sample, 0)
    with pytest.raises(ValueError, match="decay_start"):
        gan.train_gan(g, d, sample, 1, decay_start=0.0)
    with pytest.raises(ValueError, match="scale"):
        gan.train_gan(g, d, sample, 1, scale=-1.0)
    with pytest.raises(ValueError, match="r1_gamma must be a non-negative number"):
        gan.train_gan(g, d, sample, 1, r1_gamma=-0.1)
    with pytest.raises(TypeError, match="batch_size must be an integer"):
        gan.train_gan(g, d, sample, 1, batch_size=True)


def test_seed_table_meets_the_targets():
    import json
    from dataclasses import asdict

    from helpers import results

    table = results.load("gan_mode_coverage_seeds")
    for name, recipe in (("plain", gan.PLAIN), ("best", gan.BEST)):  # measured with today's recipes
        assert table["recipes"][name] == json.loads(json.dumps(asdict(recipe))), "run `make gan-seeds`"
    best = [r for r in table["rows"] if r["model"] == "best"]
    assert {r["seed"] for r in best} == {0, 1, 2}
    for r in best:  # the book's targets: grid 25/25 with HQ >= 95%, ring 8/8 with HQ >= 97%
        assert r["modes"] == (25 if r["dataset"] == "grid" else 8)
        assert r["hq"] >= (0.95 if r["dataset"] == "grid" else 0.97)
