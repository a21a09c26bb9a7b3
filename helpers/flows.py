"""Normalizing flows: invertible layers with exact log-determinants, and two flows built from them.

See the normalizing-flows chapter (``chapters/06_normalizing_flows.ipynb``) for the derivations
and the Boltzmann-generators chapter for training a flow without data.

Convention (the chapter's notation): a flow is a bijection ``f`` from the latent space ``z``
(standard normal) to the data space ``x``.

* ``forward(z) -> (x, log_det)`` applies ``f`` and returns ``log|det df/dz|`` per sample;
* ``inverse(x) -> (z, log_det)`` applies ``f^{-1}`` and returns ``log|det df^{-1}/dx|``;
* ``log_prob(x) = log N(f^{-1}(x); 0, I) + log|det df^{-1}/dx|`` (change of variables).

Every layer below follows the same convention, so a flow is a list of layers applied in
order (``forward``) or in reverse order (``inverse``), with the log-determinants summed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from helpers import validate
from helpers.nets import mlp

__all__ = [
    "ActNorm",
    "AffineCoupling",
    "Flow",
    "LULinear",
    "NeuralSplineFlow",
    "RealNVP",
    "SplineCoupling",
    "affine_coupling_forward",
    "rational_quadratic_spline",
]


def _standard_normal_log_prob(z: Tensor) -> Tensor:
    """log N(z; 0, I) summed over the last dimension: (batch, d) -> (batch,)."""
    return -0.5 * (z**2).sum(-1) - 0.5 * z.shape[-1] * math.log(2 * math.pi)


# ----------------------------------------------------------------------------------------------
# Affine coupling (RealNVP, Dinh et al. 2017)
# ----------------------------------------------------------------------------------------------


def affine_coupling_forward(x: Tensor, mask: Tensor, conditioner) -> tuple[Tensor, Tensor]:
    """One affine coupling step, the formula of the chapter (and of its coding exercise).

    ``y = mask * x + (1 - mask) * (x * exp(s) + t)`` with ``(t, s) = conditioner(mask * x)``;
    the Jacobian is triangular, so ``log|det dy/dx| = sum over unmasked dims of s``.

    Args:
        x: (batch, d) input.
        mask: (d,) of 0/1; 1 marks the dimensions that pass through unchanged and condition
            the others.
        conditioner: callable (batch, d) -> (shift (batch, d), log_scale (batch, d)).

    Returns:
        ``(y, log_det)`` with y: (batch, d) and log_det: (batch,).
    """
    mask = mask.to(x)
    shift, log_scale = conditioner(x * mask)
    y = x * mask + (1 - mask) * (x * torch.exp(log_scale) + shift)
    return y, ((1 - mask) * log_scale).sum(-1)


class AffineCoupling(nn.Module):
    """Affine coupling layer of RealNVP (Dinh et al. 2017).

    Forward (z -> x): the masked dimensions pass through; the others become
    ``z * exp(s) + t`` with ``(t, s)`` computed by an MLP from the masked ones. ``s`` is
    soft-clamped to ``(-scale_bound, scale_bound)`` by a tanh for stable training. The
    last layer of the MLP starts at zero, so a new layer is the identity.

    Args:
        mask: (d,) of 0/1; 1 marks the conditioning dimensions.
        hidden: width of the conditioner's hidden layers.
        n_hidden: number of hidden layers of the conditioner.
        scale_bound: bound on |s|.
    """

    def __init__(self, mask: Tensor, hidden: int = 64, n_hidden: int = 2, scale_bound: float = 3.0) -> None:
        super().__init__()
        mask = torch.as_tensor(mask, dtype=torch.get_default_dtype())
        if mask.ndim != 1 or not bool(((mask == 0) | (mask == 1)).all()) or not 0 < float(mask.sum()) < len(mask):
            raise ValueError(f"mask must be a 1-D tensor of 0/1 with both values present, got {mask.tolist()}")
        self.dim = int(mask.numel())
        self.register_buffer("mask", mask)
        self.scale_bound = float(scale_bound)
        self.net = mlp(self.dim, 2 * self.dim, hidden, n_hidden, activation="silu")
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def _conditioner(self, xm: Tensor) -> tuple[Tensor, Tensor]:
        shift, raw = self.net(xm).chunk(2, dim=-1)
        return shift, self.scale_bound * torch.tanh(raw / self.scale_bound)

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """z: (batch, d) -> (x, log|det dx/dz|): ((batch, d), (batch,))."""
        return affine_coupling_forward(z, self.mask, self._conditioner)

    def inverse(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x: (batch, d) -> (z, log|det dz/dx|): ((batch, d), (batch,))."""
        shift, log_scale = self._conditioner(x * self.mask)
        z = x * self.mask + (1 - self.mask) * (x - shift) * torch.exp(-log_scale)
        return z, -((1 - self.mask) * log_scale).sum(-1)


# ----------------------------------------------------------------------------------------------
# Glow's layers (Kingma & Dhariwal 2018): ActNorm and an invertible linear mixing (LU)
# ----------------------------------------------------------------------------------------------


class ActNorm(nn.Module):
    """Per-dimension affine map x = z * exp(log_scale) + bias (Glow's activation normalisation).

    The first time ``inverse`` sees data, the parameters are set so that the output ``z`` of
    that batch has zero mean and unit variance per dimension (data-dependent initialisation);
    afterwards they are ordinary trainable parameters. ``log|det| = sum(log_scale)``, the
    same for every sample.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = validate.positive_int(dim, "dim")
        self.log_scale = nn.Parameter(torch.zeros(dim))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.register_buffer("initialized", torch.tensor(False))

    @torch.no_grad()
    def initialize(self, x: Tensor) -> None:
        """Set bias and scale from a data batch x: (batch, d) (batch >= 2)."""
        if x.shape[0] < 2:
            raise ValueError(f"ActNorm needs at least 2 samples to initialise, got {x.shape[0]}")
        self.bias.copy_(x.mean(0))
        self.log_scale.copy_(x.std(0).clamp_min(1e-6).log())
        self.initialized.fill_(True)

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """z: (batch, d) -> (x, log|det dx/dz|)."""
        self.initialized.fill_(True)
        x = z * self.log_scale.exp() + self.bias
        return x, self.log_scale.sum().expand(z.shape[0])

    def inverse(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x: (batch, d) -> (z, log|det dz/dx|)."""
        if not bool(self.initialized):
            self.initialize(x.detach())
        z = (x - self.bias) * torch.exp(-self.log_scale)
        return z, (-self.log_scale.sum()).expand(x.shape[0])


class LULinear(nn.Module):
    """Invertible linear mixing x = W z + b with W = P L (U + diag(sign * exp(log_s))).

    Glow's invertible 1x1 convolution in its LU parametrisation: ``P`` is a fixed
    permutation, ``L`` unit lower-triangular, ``U`` strictly upper-triangular and the
    diagonal is ``sign * exp(log_s)`` with fixed signs. Then ``log|det W| = sum(log_s)``,
    O(d) instead of O(d^3), and the inverse is two triangular solves. Initialised at a
    random rotation (seeded by the global torch seed).
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = validate.positive_int(dim, "dim")
        q, _ = torch.linalg.qr(torch.randn(dim, dim, dtype=torch.float64))
        p, lower, upper = torch.linalg.lu(q)
        diag, dtype = upper.diagonal(), torch.get_default_dtype()
        self.register_buffer("perm", p.to(dtype))
        self.register_buffer("sign", diag.sign().to(dtype))
        self.lower = nn.Parameter(lower.tril(-1).to(dtype))
        self.upper = nn.Parameter(upper.triu(1).to(dtype))
        self.log_s = nn.Parameter(diag.abs().log().to(dtype))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.register_buffer("eye", torch.eye(dim))

    def _factors(self) -> tuple[Tensor, Tensor]:
        lower = self.lower.tril(-1) + self.eye
        upper = self.upper.triu(1) + torch.diag(self.sign * self.log_s.exp())
        return lower, upper

    def weight(self) -> Tensor:
        """The (d, d) matrix W = P L U."""
        lower, upper = self._factors()
        return self.perm @ lower @ upper

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """z: (batch, d) -> (x = z W^T + b, log|det W|)."""
        x = z @ self.weight().T + self.bias
        return x, self.log_s.sum().expand(z.shape[0])

    def inverse(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x: (batch, d) -> (z = W^{-1}(x - b), -log|det W|), by two triangular solves."""
        lower, upper = self._factors()
        rhs = (x - self.bias) @ self.perm  # P^T (x - b), as rows
        y = torch.linalg.solve_triangular(lower, rhs.T, upper=False, unitriangular=True)
        z = torch.linalg.solve_triangular(upper, y, upper=True).T
        return z, (-self.log_s.sum()).expand(x.shape[0])


# ----------------------------------------------------------------------------------------------
# Rational-quadratic splines (Neural Spline Flows, Durkan et al. 2019)
# ----------------------------------------------------------------------------------------------


def rational_quadratic_spline(
    x: Tensor,
    unnorm_widths: Tensor,
    unnorm_heights: Tensor,
    unnorm_derivatives: Tensor,
    *,
    inverse: bool = False,
    bound: float = 3.0,
    min_width: float = 1e-3,
    min_height: float = 1e-3,
    min_derivative: float = 1e-3,
) -> tuple[Tensor, Tensor]:
    """Monotone rational-quadratic spline on [-bound, bound], the identity outside.

    The spline has K bins whose widths and heights come from a softmax of the unnormalised
    parameters (each at least ``min_width``/``min_height`` of the range) and K - 1 positive
    interior knot derivatives (softplus); the derivatives at +-bound are 1 so that the spline
    joins the identity tails smoothly (Durkan et al. 2019, eqs. 4-6 and appendix A).

    Args:
        x: (...) values (any shape).
        unnorm_widths, unnorm_heights: (..., K) unnormalised bin widths and heights.
        unnorm_derivatives: (..., K - 1) unnormalised interior derivatives.
        inverse: evaluate the inverse map (by solving the quadratic of the paper's eq. 29).
        bound: half-width B of the interval [-B, B] covered by the bins.

    Returns:
        ``(y, log_det)``, both of shape (...): the transformed values and
        ``log|dy/dx|`` elementwise (of the map that was applied).
    """
    k = unnorm_widths.shape[-1]
    if unnorm_heights.shape[-1] != k or unnorm_derivatives.shape[-1] != k - 1:
        raise ValueError(
            f"expected widths and heights with K bins and K - 1 derivatives, got shapes "
            f"{tuple(unnorm_widths.shape)}, {tuple(unnorm_heights.shape)}, {tuple(unnorm_derivatives.shape)}"
        )
    if min_width * k >= 1 or min_height * k >= 1:
        raise ValueError(f"min_width and min_height must be below 1/K = {1 / k:.3g}")

    # bin widths and heights in one softmax: (..., 2, K) -> knots (..., 2, K + 1) from -B to B
    minimum = torch.tensor([min_width, min_height], dtype=x.dtype, device=x.device).unsqueeze(-1)
    frac = minimum + (1 - minimum * k) * F.softmax(torch.stack([unnorm_widths, unnorm_heights], -2), dim=-1)
    knots = 2 * bound * F.pad(torch.cumsum(frac, dim=-1), (1, 0)) - bound
    ones = unnorm_derivatives.new_ones(unnorm_derivatives.shape[:-1] + (1,))
    deriv = torch.cat([ones, min_derivative + F.softplus(unnorm_derivatives), ones], dim=-1)  # (..., K + 1)
    table = torch.cat([knots, deriv.unsqueeze(-2)], dim=-2)  # (..., 3, K + 1): x-knots, y-knots, slopes

    inside = (x > -bound) & (x < bound)
    xc = x.clamp(-bound, bound)
    edges = knots[..., 1 if inverse else 0, 1:-1]
    idx = (xc.unsqueeze(-1) >= edges).sum(-1, keepdim=True)  # bin index in 0..K-1, shape (..., 1)
    idx = idx.unsqueeze(-2).expand(*idx.shape[:-1], 3, 1)
    x0, y0, d0 = table.gather(-1, idx).squeeze(-1).unbind(-1)  # left end of the bin
    x1, y1, d1 = table.gather(-1, idx + 1).squeeze(-1).unbind(-1)  # right end
    w, h = x1 - x0, y1 - y0
    s = h / w
    if not inverse:
        xi = (xc - x0) / w
        one_m = 1 - xi
        denom = s + (d1 + d0 - 2 * s) * xi * one_m
        y = y0 + h * (s * xi**2 + d0 * xi * one_m) / denom
    else:
        dy = xc - y0
        a = h * (s - d0) + dy * (d1 + d0 - 2 * s)
        b = h * d0 - dy * (d1 + d0 - 2 * s)
        c = -s * dy
        disc = (b**2 - 4 * a * c).clamp_min(0)
        xi = (2 * c / (-b - disc.sqrt())).clamp(0, 1)
        one_m = 1 - xi
        denom = s + (d1 + d0 - 2 * s) * xi * one_m
        y = x0 + xi * w
    num = s**2 * (d1 * xi**2 + 2 * s * xi * one_m + d0 * one_m**2)
    log_det = num.log() - 2 * denom.log()
    if inverse:
        log_det = -log_det
    out = torch.where(inside, y, x)
    return out, torch.where(inside, log_det, torch.zeros_like(log_det))


class SplineCoupling(nn.Module):
    """Coupling layer whose transformed dimensions go through rational-quadratic splines.

    The masked (conditioning) dimensions pass through; an MLP reads them and outputs, for
    each other dimension, the 3K - 1 parameters of its spline. The Jacobian is triangular,
    so ``log|det|`` is the sum of the splines' elementwise log-derivatives. Zero-initialised
    output layer: every spline starts as (nearly) the identity.

    Args:
        mask: (d,) of 0/1; 1 marks the conditioning dimensions.
        hidden, n_hidden: the conditioner MLP.
        n_bins: K, number of spline bins.
        bound: the splines act on [-bound, bound] and are the identity outside.
        activation: of the conditioner MLP (ReLU's kinks suit the sharp edges of some toy
            densities better than a smooth activation at equal cost).
    """

    def __init__(self, mask: Tensor, hidden: int = 64, n_hidden: int = 2, n_bins: int = 16,
                 bound: float = 3.0, activation: str = "relu") -> None:
        super().__init__()
        mask = torch.as_tensor(mask, dtype=torch.float32)
        if mask.ndim != 1 or not bool(((mask == 0) | (mask == 1)).all()) or not 0 < float(mask.sum()) < len(mask):
            raise ValueError(f"mask must be a 1-D tensor of 0/1 with both values present, got {mask.tolist()}")
        self.n_bins = validate.positive_int(n_bins, "n_bins", minimum=2)
        self.bound = float(bound)
        cond = torch.nonzero(mask).flatten()
        trans = torch.nonzero(mask == 0).flatten()
        self.register_buffer("cond", cond)
        self.register_buffer("trans", trans)
        self.register_buffer("order", torch.argsort(torch.cat([cond, trans])))
        self.n_params = 3 * self.n_bins - 1
        self.net = mlp(len(cond), len(trans) * self.n_params, hidden, n_hidden, activation=activation)
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def _transform(self, x: Tensor, inverse: bool) -> tuple[Tensor, Tensor]:
        xa, xb = x[:, self.cond], x[:, self.trans]
        params = self.net(xa).reshape(x.shape[0], len(self.trans), self.n_params)
        k = self.n_bins
        yb, ld = rational_quadratic_spline(
            xb, params[..., :k], params[..., k : 2 * k], params[..., 2 * k :], inverse=inverse, bound=self.bound
        )
        return torch.cat([xa, yb], dim=1)[:, self.order], ld.sum(-1)

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """z: (batch, d) -> (x, log|det dx/dz|)."""
        return self._transform(z, inverse=False)

    def inverse(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x: (batch, d) -> (z, log|det dz/dx|)."""
        return self._transform(x, inverse=True)


# ----------------------------------------------------------------------------------------------
# Flows: a standard-normal base and a list of layers
# ----------------------------------------------------------------------------------------------


class Flow(nn.Module):
    """A normalizing flow: standard-normal base and layers applied from z to x.

    Args:
        dim: dimension d of z and x.
        layers: invertible layers, each with ``forward(z) -> (x, log_det)`` and
            ``inverse(x) -> (z, log_det)``, listed from the latent side to the data side.
    """

    def __init__(self, dim: int, layers: Sequence[nn.Module]) -> None:
        super().__init__()
        self.dim = validate.positive_int(dim, "dim")
        self.layers = nn.ModuleList(layers)

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """Generative direction z: (batch, d) -> (x, log|det dx/dz|): ((batch, d), (batch,))."""
        validate.tensor(z, "z", shape=("batch", self.dim), floating=True)
        total = z.new_zeros(z.shape[0])
        for layer in self.layers:
            z, ld = layer.forward(z)
            total = total + ld
        return z, total

    def inverse(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Normalising direction x: (batch, d) -> (z, log|det dz/dx|): ((batch, d), (batch,))."""
        validate.tensor(x, "x", shape=("batch", self.dim), floating=True)
        total = x.new_zeros(x.shape[0])
        for layer in reversed(self.layers):
            x, ld = layer.inverse(x)
            total = total + ld
        return x, total

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact log-density by the change of variables: x (batch, d) -> (batch,)."""
        z, log_det = self.inverse(x)
        return _standard_normal_log_prob(z) + log_det

    def _device(self) -> torch.device:
        p = next(self.parameters(), None)
        return p.device if p is not None else torch.device("cpu")

    def sample_with_log_prob(self, n: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """Draw n samples x (n, d) and their log q(x) (n,) in one forward pass (differentiable)."""
        n = validate.positive_int(n, "n", minimum=0)
        z = torch.randn(n, self.dim, generator=generator, device=self._device())
        x, log_det = self.forward(z)
        return x, _standard_normal_log_prob(z) - log_det

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Draw n samples: (n, d)."""
        return self.sample_with_log_prob(n, generator)[0]

    @torch.no_grad()
    def trajectory(self, z: Tensor) -> list[Tensor]:
        """The points after each layer: ``[z, layer_1(z), ..., x]`` (len(layers) + 1 tensors)."""
        validate.tensor(z, "z", shape=("batch", self.dim), floating=True)
        out = [z]
        for layer in self.layers:
            z, _ = layer.forward(z)
            out.append(z)
        return out


def _alternating_masks(dim: int, n_layers: int) -> list[Tensor]:
    base = (torch.arange(dim) % 2).float()
    return [base if i % 2 == 0 else 1 - base for i in range(n_layers)]


class RealNVP(Flow):
    """RealNVP (Dinh et al. 2017): affine coupling layers with alternating masks.

    With ``glow=True`` every coupling is preceded by Glow's ActNorm and an LU linear mixing
    (Kingma & Dhariwal 2018), and a final ActNorm on the data side standardises the data.

    Args:
        dim: data dimension (>= 2).
        n_layers: number of coupling layers.
        hidden: width of each conditioner MLP (two hidden layers).
        glow: add ActNorm and LU mixing between couplings.
    """

    def __init__(self, dim: int, n_layers: int = 8, hidden: int = 64, *, glow: bool = False) -> None:
        validate.positive_int(dim, "dim", minimum=2)
        validate.positive_int(n_layers, "n_layers")
        validate.positive_int(hidden, "hidden")
        layers: list[nn.Module] = []
        for mask in _alternating_masks(dim, n_layers):
            if glow:
                layers += [ActNorm(dim), LULinear(dim)]
            layers.append(AffineCoupling(mask, hidden))
        if glow:
            layers.append(ActNorm(dim))
        super().__init__(dim, layers)


class NeuralSplineFlow(Flow):
    """Rational-quadratic spline coupling flow (Durkan et al. 2019), same interface as RealNVP.

    Layers from z to x: ``n_layers`` spline couplings with alternating masks, each preceded by
    an LU linear mixing when ``mixing=True``, then an ActNorm that maps the standardised
    space to the data's location and scale (initialised from the first data batch).

    Args:
        dim: data dimension (>= 2).
        n_layers: number of spline coupling layers.
        hidden: width of each conditioner MLP (two hidden layers).
        n_bins: spline bins K.
        bound: the splines act on [-bound, bound] of the standardised space.
        mixing: insert LU linear layers between the couplings.
        actnorm: end with a data-initialised ActNorm (turn off to train without data).
    """

    def __init__(self, dim: int, n_layers: int = 4, hidden: int = 64, *, n_bins: int = 16, bound: float = 3.0,
                 mixing: bool = True, actnorm: bool = True) -> None:
        validate.positive_int(dim, "dim", minimum=2)
        validate.positive_int(n_layers, "n_layers")
        validate.positive_int(hidden, "hidden")
        layers: list[nn.Module] = []
        for mask in _alternating_masks(dim, n_layers):
            if mixing:
                layers.append(LULinear(dim))
            layers.append(SplineCoupling(mask, hidden, n_bins=n_bins, bound=bound))
        if actnorm:
            layers.append(ActNorm(dim))
        super().__init__(dim, layers)


def fit_to_samples(flow: Flow, target, n_steps: int, lr: float, *, seed: int, batch: int = 1024,
                   n_train: int = 100_000, n_eval: int = 20_000, device: torch.device | str = "cpu",
                   progress: bool = False):
    """Maximum likelihood on samples of ``target``, then its excess nats on fresh ones.

    Draws ``n_train`` training points, initialises any ActNorm on the first 4,096, and
    minimises −mean log q(x) over minibatches of ``batch`` with Adam under a one-cycle schedule
    (peak ``lr``, 5% warm-up). Then estimates E_p[log p(x) − log q(x)] (the KL, in nats) on
    ``n_eval`` fresh samples. Seeds through ``helpers.set_seed(seed)``, so it can run in a worker
    (``helpers.parallel.map_fits``). See the flows chapter.

    Args:
        flow: the untrained flow (its ``log_prob`` takes (n, d)).
        target: a ``helpers.data`` distribution with ``sample`` and exact ``log_prob``.

    Returns:
        ``(flow, excess)``: the trained flow (eval mode, on ``device``) and a
        ``helpers.metrics.Estimate`` of the excess nats.
    """
    from helpers._runtime import set_seed
    from helpers.metrics import mean_and_se
    from helpers.train import train

    if not isinstance(flow, Flow):
        raise TypeError(f"flow must be a helpers.flows.Flow, got {type(flow).__name__}")
    if not (hasattr(target, "sample") and hasattr(target, "log_prob")):
        raise TypeError(f"target must have sample(n) and log_prob(x), got {type(target).__name__}")
    for name, v in (("n_steps", n_steps), ("batch", batch), ("n_train", n_train), ("n_eval", n_eval)):
        validate.positive_int(v, name)
    set_seed(seed)
    device = torch.device(device)
    flow = flow.to(device)
    x_train = target.sample(n_train).to(device)
    with torch.no_grad():
        flow.log_prob(x_train[:4096])  # ActNorm's data-dependent initialisation, if the flow has one
    opt = torch.optim.Adam(flow.parameters(), lr=lr, fused=device.type in ("cpu", "cuda"))  # one kernel per step
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=n_steps, pct_start=0.05)

    def loss_fn(step: int) -> Tensor:
        return -flow.log_prob(x_train[torch.randint(0, n_train, (batch,), device=device)]).mean()

    train(loss_fn, opt, n_steps, scheduler=sched, progress=progress, desc=type(flow).__name__)
    x = target.sample(n_eval)
    with torch.no_grad():
        excess = mean_and_se(target.log_prob(x) - flow.log_prob(x.to(device)).cpu())
    return flow, excess
