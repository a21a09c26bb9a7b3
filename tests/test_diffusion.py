"""helpers.diffusion: the forward process, posterior, samplers, bound and scores are what they claim."""

import math

import pytest
import torch

from helpers import diffusion as D
from helpers.metrics import mean_and_se


def test_linear_schedule_is_the_ddpm_one():
    b = D.linear_beta_schedule(1000)
    assert b.shape == (1000,) and b.dtype == torch.float64
    assert float(b[0]) == pytest.approx(1e-4) and float(b[-1]) == pytest.approx(0.02)
    assert bool((b[1:] > b[:-1]).all())
    abar_T = float(D.make_schedule(b).alphas_cumprod[-1])
    assert abar_T == pytest.approx(math.exp(torch.log1p(-b).sum().item()))
    assert abar_T < 1e-4  # x_T is nearly standard normal

def test_cosine_schedule_matches_its_alpha_bar():
    T, s = 100, 0.008
    abar = D.make_schedule(D.cosine_beta_schedule(T, s)).alphas_cumprod
    t = torch.arange(1, T + 1, dtype=torch.float64)
    f = torch.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2 / math.cos(s / (1 + s) * math.pi / 2) ** 2
    assert torch.allclose(abar[:-1], f[:-1], rtol=1e-9)  # the last beta is clipped at 0.999

@pytest.mark.parametrize("bad,error", [(0, ValueError), (-3, ValueError), (2.5, TypeError), (True, TypeError)])
def test_schedules_reject_bad_T(bad, error):
    with pytest.raises(error, match="T must be an integer >= 1"):
        D.linear_beta_schedule(bad)
    with pytest.raises(error, match="T must be an integer >= 1"):
        D.cosine_beta_schedule(bad)

def test_schedule_rejects_bad_betas():
    with pytest.raises(ValueError, match="beta_start <= beta_end"):
        D.linear_beta_schedule(10, 0.1, 0.01)
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        D.make_schedule(torch.tensor([0.1, 1.5]))

def test_q_sample_equals_iterated_chain_in_distribution():
    g = torch.Generator().manual_seed(0)
    betas = D.linear_beta_schedule(50, 1e-3, 0.2)
    abar = D.make_schedule(betas).alphas_cumprod
    x0 = torch.tensor([2.0, -1.0], dtype=torch.float64)
    n, t = 40_000, 20
    x = x0.expand(n, 2).clone()
    for s in range(t + 1):
        x = (1 - betas[s]).sqrt() * x + betas[s].sqrt() * torch.randn(n, 2, generator=g, dtype=torch.float64)
    closed = D.q_sample(x0.expand(n, 2), t, torch.randn(n, 2, generator=g, dtype=torch.float64), abar)
    for samples in (x, closed):
        mean = mean_and_se(samples[:, 0])
        assert abs(mean.mean - math.sqrt(abar[t]) * 2.0) < 4 * mean.se
        var = mean_and_se((samples[:, 1] - math.sqrt(abar[t]) * -1.0) ** 2)
        assert abs(var.mean - (1 - abar[t])) < 4 * var.se

def test_q_sample_validates_input():
    abar = D.make_schedule(D.linear_beta_schedule(10)).alphas_cumprod
    with pytest.raises(ValueError, match="noise must have the shape"):
        D.q_sample(torch.zeros(3, 2), torch.zeros(3, dtype=torch.long), torch.zeros(3, 1), abar)
    with pytest.raises(ValueError, match=r"must lie in \[0, 9\]"):
        D.q_sample(torch.zeros(3, 2), torch.tensor([0, 1, 10]), torch.zeros(3, 2), abar)
    with pytest.raises(ValueError, match="t must have shape"):
        D.q_sample(torch.zeros(3, 2), torch.tensor([0, 1]), torch.zeros(3, 2), abar)

def test_posterior_is_bayes_rule():
    # q(x_{t-1}|x_t,x0) ∝ q(x_t|x_{t-1}) q(x_{t-1}|x0): compare with the Gaussian product formula.
    betas = D.linear_beta_schedule(30, 1e-3, 0.3)
    s = D.make_schedule(betas)
    x0, xt = torch.tensor([[1.5]], dtype=torch.float64), torch.tensor([[-0.3]], dtype=torch.float64)
    for t in (1, 7, 29):
        mean, var = D.q_posterior(x0, xt, torch.tensor([t]), betas)
        prec = s.alphas[t] / s.betas[t] + 1 / (1 - s.alphas_cumprod[t - 1])
        m = (s.alphas[t].sqrt() * xt / s.betas[t] + s.alphas_cumprod[t - 1].sqrt() * x0 / (1 - s.alphas_cumprod[t - 1]))
        assert float(var) == pytest.approx(float(1 / prec), rel=1e-10)
        assert float(mean) == pytest.approx(float(m / prec), rel=1e-10)
    mean, var = D.q_posterior(x0, xt, torch.tensor([0]), betas)
    assert float(var) == 0.0 and float(mean) == pytest.approx(1.5)  # first step: x_{t-1} is x0

def test_predict_x0_inverts_q_sample_and_score_is_scaled_noise():
    abar = D.make_schedule(D.linear_beta_schedule(100)).alphas_cumprod
    x0, eps = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    t = torch.arange(0, 100, 20)
    xt = D.q_sample(x0, t, eps, abar)
    assert torch.allclose(D.predict_x0(xt, t, eps, abar), x0)
    # score of q(x_t|x0) = N(√ᾱ x0, (1-ᾱ)I) by autograd
    xt = xt.requires_grad_()
    a = abar[t].unsqueeze(1)
    logq = (-0.5 * (xt - a.sqrt() * x0) ** 2 / (1 - a)).sum()
    (grad,) = torch.autograd.grad(logq, xt)
    assert torch.allclose(D.eps_to_score(eps, t, abar), grad)

def test_min_snr_weights_cap_the_x0_weight_at_gamma():
    abar = D.make_schedule(D.cosine_beta_schedule(1000)).alphas_cumprod
    w = D.min_snr_weights(abar, gamma=5.0)
    snr = abar / (1 - abar)
    assert w.shape == abar.shape and bool((w > 0).all()) and bool((w <= 1).all())
    assert torch.equal(w[snr <= 5], torch.ones(int((snr <= 5).sum()), dtype=w.dtype))  # noisy steps untouched
    assert torch.allclose((w * snr)[snr > 5], torch.full_like(snr[snr > 5], 5.0))  # x0 weight capped at gamma
    # the identity behind it: ||eps - eps_hat||^2 = SNR_t ||x0 - x0_hat||^2
    x0, eps, eps_hat = (torch.randn(4, 6, dtype=torch.float64) for _ in range(3))
    t = torch.tensor([0, 100, 500, 900])
    xt = D.q_sample(x0, t, eps, abar)
    lhs = ((eps - eps_hat) ** 2).sum(1)
    rhs = snr[t] * ((x0 - D.predict_x0(xt, t, eps_hat, abar)) ** 2).sum(1)
    assert torch.allclose(lhs, rhs)


@pytest.mark.parametrize("bad,error", [(0, ValueError), (-1.0, ValueError), (True, TypeError), ("5", TypeError)])
def test_min_snr_weights_reject_bad_gamma(bad, error):
    with pytest.raises(error, match="gamma must be a positive number"):
        D.min_snr_weights(torch.tensor([0.9, 0.5]), gamma=bad)


def test_min_snr_weights_reject_bad_alphas_cumprod():
    for bad, error in ((torch.tensor([0.9, 1.0]), ValueError), (torch.tensor([[0.5]]), ValueError),
                       ([0.5], TypeError)):
        with pytest.raises(error, match="alphas_cumprod"):
            D.min_snr_weights(bad)


def test_gaussian_kl_matches_monte_carlo_and_is_zero_for_equal():
    g = torch.Generator().manual_seed(1)
    m1, m2 = torch.tensor([[0.3, -1.0]]), torch.tensor([[1.0, 0.5]])
    v1, v2 = 0.5, 2.0
    kl = float(D.gaussian_kl(m1, v1, m2, v2))
    x = m1 + math.sqrt(v1) * torch.randn(200_000, 2, generator=g)
    logr = (-0.5 * (x - m1) ** 2 / v1 - 0.5 * math.log(v1) + 0.5 * (x - m2) ** 2 / v2 + 0.5 * math.log(v2)).sum(1)
    est = mean_and_se(logr)
    assert abs(kl - est.mean) < 4 * est.se
    assert float(D.gaussian_kl(m1, v1, m1, v1)) == pytest.approx(0.0, abs=1e-7)

def _exact_eps(mu: float, var: float, abar: torch.Tensor):
    """ε-predictor that is exact for data N(mu, var I): E[ε | x_t]."""

    def model(x, t):
        a = abar[t].to(x).unsqueeze(1)
        total = a * var + 1 - a
        return (1 - a).sqrt() * (x - a.sqrt() * mu) / total

    return model

def _exact_moments(alphas_cumprod, taus, mu: float, var: float, sampler: str) -> tuple[float, float]:
    """Mean and variance of a sampler's output with the exact ε for data N(mu, var), from x_T ~ N(0, 1).

    With that ε every update is affine in x plus Gaussian noise, so the output is Gaussian: carry its two
    moments through the updates (DDIM, or ancestral with σ² = β or β̃ on the chain over ``taus``).
    """
    a = [float(alphas_cumprod[t]) for t in taus]
    m, v = 0.0, 1.0
    for i in range(len(a) - 1, -1, -1):
        a_t = a[i]
        total = a_t * var + 1 - a_t
        gain, shift = math.sqrt(a_t) * var / total, (1 - a_t) * mu / total  # x0_hat = gain x + shift
        if i == 0:
            return gain * m + shift, gain**2 * v
        a_prev = a[i - 1]
        if sampler == "ddim":  # x' = √ā' x0_hat + √(1 − ā') (x − √ā x0_hat) / √(1 − ā)
            r = math.sqrt((1 - a_prev) / (1 - a_t))
            c = math.sqrt(a_prev) * gain + r * (1 - math.sqrt(a_t) * gain)
            b, noise = (math.sqrt(a_prev) - r * math.sqrt(a_t)) * shift, 0.0
        else:  # the posterior mean c0 x0_hat + ct x, plus noise of variance β or β̃
            beta = 1 - a_t / a_prev
            c0, ct = math.sqrt(a_prev) * beta / (1 - a_t), math.sqrt(1 - beta) * (1 - a_prev) / (1 - a_t)
            c, b = c0 * gain + ct, c0 * shift
            noise = beta if sampler == "beta" else beta * (1 - a_prev) / (1 - a_t)
        m, v = c * m + b, c * c * v + noise
    raise ValueError("taus must not be empty")


SAMPLERS = ("ddim", "beta", "posterior")  # DDIM; ancestral with σ² = β; ancestral with σ² = β̃


@pytest.mark.parametrize("steps", [10, 25, 100, 1000])
def test_samplers_with_exact_eps_have_the_exact_moments(steps):
    # Data N(1, 0.25) and the exact ε: what is left is each sampler's own error, computable in closed form.
    # 20,000 samples; the sample mean and variance must match the exact moments within 4 standard errors.
    g = torch.Generator().manual_seed(steps)
    T, n = 1000, 20_000
    betas = D.linear_beta_schedule(T)
    abar = D.make_schedule(betas).alphas_cumprod
    model = _exact_eps(1.0, 0.25, abar.float())
    taus = D.strided_timesteps(T, steps)
    timesteps = None if steps == T else taus  # all T steps through the default path
    samples = {"ddim": D.ddim_sample(model, (n, 1), abar.float(), steps, generator=g)}
    for kind in ("beta", "posterior"):
        samples[kind] = D.p_sample_loop(model, (n, 1), betas, timesteps=timesteps, variance=kind, generator=g)
    for kind, x in samples.items():
        mean, var = _exact_moments(abar, taus.tolist(), 1.0, 0.25, kind)
        m, v = mean_and_se(x[:, 0]), mean_and_se((x[:, 0] - mean) ** 2)
        assert abs(m.mean - mean) < 4 * m.se, (kind, steps, m, mean)
        assert abs(v.mean - var) < 4 * v.se, (kind, steps, v, var)


def test_few_step_samplers_lose_or_add_spread_as_the_chapter_says():
    # The diffusion chapter's statements, on the exact variances (data variance 0.25).
    abar = D.make_schedule(D.linear_beta_schedule(1000)).alphas_cumprod
    var = {(kind, steps): _exact_moments(abar, D.strided_timesteps(1000, steps).tolist(), 1.0, 0.25, kind)[1]
           for kind in SAMPLERS for steps in (10, 25, 100, 1000)}
    for steps in (10, 25, 100):
        assert var["posterior", steps] < var["ddim", steps] < 0.25 < var["beta", steps]  # β̃ loses most, β adds
    assert var["beta", 10] > 0.25 * 4 / 3  # over-dispersed by more than a third at 10 steps
    for kind in SAMPLERS:  # every sampler approaches the data's variance as the steps grow
        err = [abs(var[kind, steps] - 0.25) for steps in (10, 25, 100, 1000)]
        assert err == sorted(err, reverse=True), (kind, err)
    # σ² = β is the exact reverse kernel for data N(0, 1): only the last step, which returns the mean
    # E[x0 | x_1] = √ᾱ_1 x_1, leaves the variance ᾱ_1 instead of 1
    for steps in (10, 100):
        taus = D.strided_timesteps(1000, steps).tolist()
        assert _exact_moments(abar, taus, 0.0, 1.0, "beta") == pytest.approx((0.0, float(abar[taus[0]])), abs=1e-12)

def test_sampler_trajectory_and_bad_input():
    betas = D.linear_beta_schedule(10)
    x, traj = D.p_sample_loop(lambda x, t: torch.zeros_like(x), (4, 2), betas, return_trajectory=(9, 5))
    assert set(traj) == {9, 5, -1} and traj[9].shape == (4, 2) and torch.equal(traj[-1], x)
    with pytest.raises(ValueError, match="ascending"):
        D.p_sample_loop(lambda x, t: x, (4, 2), betas, timesteps=torch.tensor([5, 3]))
    with pytest.raises(ValueError, match="variance"):
        D.p_sample_loop(lambda x, t: x, (4, 2), betas, variance="fixed")
    with pytest.raises(ValueError, match="n_steps"):
        D.strided_timesteps(10, 11)
    assert D.strided_timesteps(1000, 10)[-1] == 999 and D.strided_timesteps(1000, 10).numel() == 10

def test_vlb_is_exact_nll_for_a_gaussian_with_the_exact_model():
    # With the exact ε for Gaussian data the bound is close to -log p(x0) on average, never below H.
    g = torch.Generator().manual_seed(3)
    betas = D.linear_beta_schedule(100, 1e-3, 0.2)
    abar = D.make_schedule(betas).alphas_cumprod
    var = 0.5
    x0 = math.sqrt(var) * torch.randn(4000, 1, generator=g, dtype=torch.float64)
    terms = D.vlb_terms(_exact_eps(0.0, var, abar), x0, betas, generator=g)
    assert terms.kl.shape == (4000, 99) and terms.total.shape == (4000,)
    bound = mean_and_se(terms.total)
    entropy = 0.5 * math.log(2 * math.pi * math.e * var)
    # σ_t² = β_t reverse kernels are nearly exact for spread-out data: the bound meets H(p)
    assert abs(bound.mean - entropy) < 4 * bound.se + 0.02
    # the posterior variance β̃_t is too small for such data and leaves a visible gap
    loose = mean_and_se(D.vlb_terms(_exact_eps(0.0, var, abar), x0, betas, variance="posterior").total)
    assert loose.mean > entropy + 0.5
    with pytest.raises(ValueError, match="variance"):
        D.vlb_terms(_exact_eps(0.0, var, abar), x0, betas, variance="learned")
    with pytest.raises(ValueError, match="batch, dim"):
        D.vlb_terms(_exact_eps(0.0, var, abar), x0[:, 0], betas)

def test_networks_shapes():
    net = D.EpsMLP(2, 32, 2)
    assert net(torch.randn(7, 2), torch.randint(0, 1000, (7,))).shape == (7, 2)
    assert net(torch.randn(7, 2), torch.tensor(3)).shape == (7, 2)
    unet = D.UNet8(16)
    assert unet(torch.randn(5, 64), torch.randint(0, 1000, (5,))).shape == (5, 64)
    assert unet(torch.randn(5, 1, 8, 8), torch.randint(0, 1000, (5,))).shape == (5, 1, 8, 8)
    with pytest.raises(ValueError, match="even"):
        D.SinusoidalEmbedding(5)
    with pytest.raises(ValueError, match="multiple of 8"):
        D.UNet8(12)

def test_mixture_score_matches_autograd():
    from helpers.data import GaussianMixture

    means, w = torch.tensor([[-5.0, -5.0], [5.0, 5.0]]), torch.tensor([0.2, 0.8])
    x = (3 * torch.randn(10, 2)).requires_grad_()
    for std in (1.0, 3.0):
        (grad,) = torch.autograd.grad(GaussianMixture(means, std, w).log_prob(x).sum(), x)
        assert torch.allclose(D.gaussian_mixture_score(x.detach(), means, w, std), grad, atol=1e-5)
    with pytest.raises(ValueError, match="std must be a positive number"):
        D.gaussian_mixture_score(x.detach(), means, w, 0.0)

def test_langevin_samples_a_gaussian_and_annealing_validates():
    g = torch.Generator().manual_seed(4)
    x = D.langevin(lambda x: -(x - 2.0), torch.zeros(20_000, 1), 0.05, 400, generator=g)
    m, v = mean_and_se(x[:, 0]), mean_and_se((x[:, 0] - 2.0) ** 2)
    assert abs(m.mean - 2.0) < 4 * m.se
    assert abs(v.mean - 1 / (1 - 0.05 / 4)) < 4 * v.se  # ULA's stationary variance for step 0.05
    hist = []
    D.annealed_langevin(lambda x, s: -x / (1 + s**2), torch.zeros(10, 1), [2.0, 1.0], 3, 0.1, history=hist)
    assert len(hist) == 2
    with pytest.raises(ValueError, match="decreasing"):
        D.annealed_langevin(lambda x, s: x, torch.zeros(3, 1), [1.0, 2.0], 3, 0.1)
    with pytest.raises(ValueError, match="step_size"):
        D.langevin(lambda x: x, torch.zeros(3, 1), -1.0, 3)


def test_one_time_for_the_batch_is_embedded_once_with_the_same_result():
    torch.manual_seed(0)
    for net, x in ((D.EpsMLP(2, 32, 2), torch.randn(40, 2)), (D.UNet8(ch=8, emb=16), torch.randn(40, 64))):
        t = torch.full((40,), 37)
        rowwise = torch.cat([net(x[i : i + 1], t[i : i + 1]) for i in range(40)])
        torch.testing.assert_close(net(x, t), rowwise, atol=1e-5, rtol=1e-5)


def test_fit_and_sample_learns_a_narrow_gaussian_and_checks_its_input():
    from helpers.data import GaussianMixture

    target = GaussianMixture(torch.tensor([[1.0, -1.0]]), std=0.1)
    betas = D.linear_beta_schedule(1000)
    model, samples, traj, seconds = D.fit_and_sample(target, 600, 128, 500, seed=0, betas=betas,
                                                     trajectory=(999,), ema_decay=0.9, progress=False)
    assert samples.shape == (500, 2) and set(traj) == {999, -1} and seconds > 0
    assert (samples.mean(0) - torch.tensor([1.0, -1.0])).abs().max() < 0.1
    assert samples.std(0).max() < 0.3  # from unit-variance noise to a 0.1-wide blob
    with pytest.raises(ValueError, match="n_samples"):
        D.fit_and_sample(target, 10, 8, 0, seed=0, betas=betas)
    with pytest.raises(TypeError, match="sample"):
        D.fit_ddpm([1, 2], 10, 8, seed=0, alphas_cumprod=D.make_schedule(betas).alphas_cumprod)
    with pytest.raises(ValueError, match="n_steps"):
        D.fit_ddpm(target, 0, 8, seed=0, alphas_cumprod=D.make_schedule(betas).alphas_cumprod)
