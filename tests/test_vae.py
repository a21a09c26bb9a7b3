"""helpers.vae: the closed forms are what they claim, and the bounds are bounds."""

import math

import pytest
import torch
from torch.distributions import MultivariateNormal, Normal, kl_divergence

from helpers import vae


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_gaussian_kl_matches_torch_distributions_and_monte_carlo():
    g = _gen()
    mu = torch.randn(5, 3, generator=g, dtype=torch.float64)
    logvar = torch.randn(5, 3, generator=g, dtype=torch.float64)
    kl = vae.gaussian_kl(mu, logvar)
    assert kl.shape == (5,)
    ref = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(-1)
    assert torch.allclose(kl, ref, atol=1e-12)
    # Monte Carlo: E_q[log q - log p] with its standard error
    z = vae.reparameterize(mu.expand(200_000, 5, 3), logvar.expand(200_000, 5, 3), generator=g)
    log_ratio = (vae.gaussian_log_likelihood(z, mu, logvar)
                 - vae.gaussian_log_likelihood(z, torch.zeros_like(z), 0.0))
    se = log_ratio.std(0) / math.sqrt(200_000)
    assert ((log_ratio.mean(0) - kl).abs() < 4 * se).all()


def test_gaussian_kl_is_zero_only_at_the_prior():
    assert vae.gaussian_kl(torch.zeros(2, 4), torch.zeros(2, 4)).abs().max() == 0
    assert (vae.gaussian_kl(torch.full((1, 4), 0.1), torch.zeros(1, 4)) > 0).all()
    assert (vae.gaussian_kl(torch.zeros(1, 4), torch.full((1, 4), -0.1)) > 0).all()


def test_diag_and_full_kl_agree_with_torch():
    g = _gen(1)
    mu_q, lv_q, mu_p, lv_p = (torch.randn(4, 3, generator=g, dtype=torch.float64) for _ in range(4))
    diag = vae.gaussian_kl_diag(mu_q, lv_q, mu_p, lv_p)
    ref = kl_divergence(Normal(mu_q, (0.5 * lv_q).exp()), Normal(mu_p, (0.5 * lv_p).exp())).sum(-1)
    assert torch.allclose(diag, ref, atol=1e-12)
    a = torch.randn(3, 3, generator=g, dtype=torch.float64)
    b = torch.randn(3, 3, generator=g, dtype=torch.float64)
    c0, c1 = a @ a.T + 0.5 * torch.eye(3, dtype=torch.float64), b @ b.T + 0.5 * torch.eye(3, dtype=torch.float64)
    full = vae.gaussian_kl_full(mu_q[0], c0, mu_p[0], c1)
    assert float(full) == pytest.approx(float(kl_divergence(MultivariateNormal(mu_q[0], c0),
                                                            MultivariateNormal(mu_p[0], c1))), rel=1e-10)
    # the full formula reduces to the standard-normal one
    d0 = torch.diag(lv_q[0].exp())
    to_prior = vae.gaussian_kl_full(mu_q[0], d0, torch.zeros(3, dtype=torch.float64), torch.eye(3, dtype=torch.float64))
    assert float(to_prior) == pytest.approx(float(vae.gaussian_kl(mu_q[:1], lv_q[:1])), rel=1e-10)


def test_reparameterize_moments_gradients_and_generator():
    mu = torch.tensor([1.0, -2.0], requires_grad=True)
    logvar = torch.tensor([0.0, math.log(4.0)], requires_grad=True)
    z = vae.reparameterize(mu.expand(100_000, 2), logvar.expand(100_000, 2), generator=_gen())
    assert torch.allclose(z.mean(0), mu.detach(), atol=4 * 2 / math.sqrt(100_000))
    assert torch.allclose(z.std(0), torch.tensor([1.0, 2.0]), rtol=0.02)
    z.sum().backward()  # d/dmu sum z = n per coordinate
    assert torch.allclose(mu.grad, torch.full((2,), 100_000.0))
    assert logvar.grad is not None
    a = vae.reparameterize(torch.zeros(3, 2), torch.zeros(3, 2), generator=_gen(5))
    b = vae.reparameterize(torch.zeros(3, 2), torch.zeros(3, 2), generator=_gen(5))
    assert torch.equal(a, b)


def test_gaussian_log_likelihood_matches_torch():
    x, m, lv = torch.randn(6, 5), torch.randn(6, 5), torch.randn(6, 5)
    ref = Normal(m, (0.5 * lv).exp()).log_prob(x).sum(-1)
    assert torch.allclose(vae.gaussian_log_likelihood(x, m, lv), ref, atol=1e-5)
    assert torch.allclose(vae.gaussian_log_likelihood(x, m, 0.3), Normal(m, math.exp(0.15)).log_prob(x).sum(-1),
                          atol=1e-5)


def test_log_mean_exp_is_stable():
    v = torch.tensor([[1000.0, 1000.0], [1000.0, 1000.0 + math.log(3.0)]])
    assert torch.allclose(vae.log_mean_exp(v, dim=0), torch.tensor([1000.0, 1000.0 + math.log(2.0)]))


def _toy_data(n=4000, seed=0):
    g = _gen(seed)
    w = torch.randn(6, 2, generator=g, dtype=torch.float64)
    z = torch.randn(n, 2, generator=g, dtype=torch.float64)
    return z @ w.T + 0.3 * torch.randn(n, 6, generator=g, dtype=torch.float64) + 1.0


def test_fit_ppca_is_the_maximum_likelihood_solution():
    x = _toy_data()
    model = vae.fit_ppca(x, 2)
    ll = model.log_prob(x).mean()
    # the closed form beats random perturbations of itself
    for seed in range(5):
        g = _gen(seed)
        other = vae.PPCA(model.weight + 0.05 * torch.randn(6, 2, generator=g, dtype=torch.float64),
                         model.mean + 0.02 * torch.randn(6, generator=g, dtype=torch.float64),
                         model.sigma2 * 1.05)
        assert other.log_prob(x).mean() < ll
    # and is invariant to a rotation of the latent space
    rot = torch.tensor([[0.6, -0.8], [0.8, 0.6]], dtype=torch.float64)
    assert torch.allclose(vae.PPCA(model.weight @ rot, model.mean, model.sigma2).log_prob(x), model.log_prob(x))
    assert model.sigma2 == pytest.approx(0.09, rel=0.1)


def test_ppca_marginal_matches_monte_carlo_and_posterior_matches_bayes():
    model = vae.fit_ppca(_toy_data(), 2)
    x = _toy_data(3, seed=9)
    z = torch.randn(400_000, 1, 2, generator=_gen(3), dtype=torch.float64)
    lik = model.log_likelihood(x, z)  # (S, 3)
    p_mc = lik.exp().mean(0)
    se = lik.exp().std(0) / math.sqrt(400_000)
    assert ((p_mc - model.log_prob(x).exp()).abs() < 4 * se).all()
    # posterior: log p(z|x) = log p(x|z) + log p(z) - log p(x) at arbitrary z
    means, cov = model.posterior(x)
    zz = torch.randn(7, 3, 2, generator=_gen(4), dtype=torch.float64)
    bayes = model.log_likelihood(x, zz) + Normal(0.0, 1.0).log_prob(zz).sum(-1) - model.log_prob(x)
    post = MultivariateNormal(means, cov).log_prob(zz)
    assert torch.allclose(bayes, post, atol=1e-9)


def test_elbo_plus_kl_to_posterior_is_log_evidence():
    model = vae.fit_ppca(_toy_data(), 2)
    x = _toy_data(1, seed=2)
    means, cov = model.posterior(x)
    mu_q, var_q = means[0] + 0.3, torch.tensor([0.5, 0.2], dtype=torch.float64)
    z = vae.reparameterize(mu_q.expand(200_000, 2), var_q.log().expand(200_000, 2), generator=_gen(1))
    elbo_terms = (model.log_likelihood(x, z) + Normal(0.0, 1.0).log_prob(z).sum(-1)
                  - vae.gaussian_log_likelihood(z, mu_q, var_q.log()))
    kl = vae.gaussian_kl_full(mu_q, torch.diag(var_q), means[0], cov)
    se = elbo_terms.std() / math.sqrt(len(elbo_terms))
    assert abs(float(elbo_terms.mean() + kl - model.log_prob(x)[0])) < 4 * se


@pytest.mark.parametrize("obs_std", [0.5, "learned", "learned_per_dim"])
def test_vae_bounds_are_ordered_and_below_the_exact_linear_marginal(obs_std):
    torch.manual_seed(0)
    x = _toy_data(64).float()
    model = vae.VAE(6, 2, n_hidden=0, obs_std=obs_std, init_obs_std=0.5)
    with torch.no_grad():
        elbo = model.elbo(x, n_samples=2000, generator=_gen(1)).mean()
        iw1 = torch.stack([model.iwae_bound(x, 1, generator=_gen(s)) for s in range(200)]).mean()
        iw50 = torch.stack([model.iwae_bound(x, 50, generator=_gen(s)) for s in range(20)]).mean()
        dec = model.decoder[0]
        exact = vae.linear_gaussian_log_prob(x.double(), dec.weight.double(), dec.bias.double(),
                                             model.obs_var.double().expand(6)).mean()
    assert abs(float(iw1 - elbo)) < 0.05 * abs(float(elbo))  # IWAE_1 estimates the ELBO
    assert elbo < iw50 < exact



def test_beta_objective_is_a_lower_bound_for_beta_above_one_only():
    """ELBO - (beta - 1) KL: below log p(x) for beta >= 1; above it for beta < 1 when the ELBO is tight."""
    x = _toy_data(64, seed=3)
    ppca = vae.fit_ppca(_toy_data(), 2)  # its W has orthogonal columns, so the exact posterior is diagonal
    M = ppca.weight.T @ ppca.weight + ppca.sigma2 * torch.eye(2, dtype=torch.float64)
    model = vae.VAE(6, 2, n_hidden=0, obs_std=math.sqrt(ppca.sigma2)).double()
    with torch.no_grad():  # encoder = the exact pPCA posterior, decoder = the pPCA decoder
        gain = torch.linalg.solve(M, ppca.weight.T)
        model.encoder[0].weight.copy_(torch.cat([gain, torch.zeros(2, 6, dtype=torch.float64)]))
        model.encoder[0].bias.copy_(torch.cat([-gain @ ppca.mean, (ppca.sigma2 / torch.diagonal(M)).log()]))
        model.decoder[0].weight.copy_(ppca.weight)
        model.decoder[0].bias.copy_(ppca.mean)
        obj = {b: model.elbo(x, n_samples=20_000, beta=b, generator=_gen(4)) for b in (0.25, 1.0, 4.0)}
        kl = vae.gaussian_kl(*model.encode(x))
    log_p = ppca.log_prob(x)
    assert torch.allclose(obj[4.0], obj[1.0] - 3 * kl) and torch.allclose(obj[0.25], obj[1.0] + 0.75 * kl)
    # the reconstruction term is a Monte Carlo mean over 20,000 samples: 4 of its standard errors
    z = vae.reparameterize(*(t.expand(20_000, *t.shape) for t in model.encode(x)), generator=_gen(4))
    se = model.log_likelihood(x, z).std(0) / math.sqrt(20_000)
    assert ((obj[1.0] - log_p).abs() < 4 * se).all()  # q is the posterior: the ELBO is tight
    assert (obj[4.0] < log_p - 4 * se).all()           # beta > 1: still below log p(x)
    assert (obj[0.25] > log_p + 4 * se).all()          # beta < 1: above it, no longer a bound

def test_vae_bernoulli_likelihood_and_shapes():
    torch.manual_seed(0)
    model = vae.VAE(5, 3, hidden=16, likelihood="bernoulli")
    x = torch.bernoulli(torch.full((8, 5), 0.3))
    assert model.elbo(x).shape == (8,)
    assert model.iwae_bound(x, 4).shape == (8,)
    z = torch.randn(8, 3)
    ref = torch.distributions.Bernoulli(logits=model.decoder(z)).log_prob(x).sum(-1)
    assert torch.allclose(model.log_likelihood(x, z), ref, atol=1e-5)
    s = model.sample(10, mean=False)
    assert s.shape == (10, 5) and set(s.unique().tolist()) <= {0.0, 1.0}
    assert model.reconstruct(x).shape == (8, 5)


def test_vae_training_step_improves_the_elbo_and_active_units():
    torch.manual_seed(0)
    x = _toy_data(512).float()
    model = vae.VAE(6, 4, hidden=32, init_obs_std=0.3)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    with torch.no_grad():
        start = float(model.elbo(x, n_samples=10).mean())
    for _ in range(300):
        loss = -model.elbo(x).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        assert float(model.elbo(x, n_samples=10).mean()) > start + 1.0
    n_active, var = vae.active_units(model, x)
    assert var.shape == (4,) and 1 <= n_active <= 4  # the data has two latent directions


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="same shape"):
        vae.gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(TypeError, match="mu must be a torch.Tensor"):
        vae.gaussian_kl([0.0, 0.0], torch.zeros(2))
    with pytest.raises(ValueError, match="likelihood"):
        vae.VAE(4, 2, likelihood="poisson")
    with pytest.raises(ValueError, match="obs_std"):
        vae.VAE(4, 2, obs_std="sometimes")
    with pytest.raises(ValueError, match="positive"):
        vae.VAE(4, 2, obs_std=-1.0)
    with pytest.raises(ValueError, match="shape"):
        vae.VAE(4, 2).encode(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="k must"):
        vae.VAE(4, 2).iwae_bound(torch.zeros(3, 4), 0)
    with pytest.raises(ValueError, match="latent_dim"):
        vae.fit_ppca(torch.randn(10, 3), 3)
    with pytest.raises(ValueError, match="sigma2"):
        vae.PPCA(torch.zeros(3, 1), torch.zeros(3), 0.0)
    with pytest.raises(ValueError, match=r"x must have shape \(n >= 2, x_dim\)"):
        vae.active_units(vae.VAE(4, 2), torch.zeros(1, 4))
