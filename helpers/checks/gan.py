"""Checks of the GAN chapters' coding exercises (see ``helpers.checks`` for the machinery).

- ``check_optimal_discriminator``: D*(x) from two log-densities (the GAN theory chapter).
- ``check_generator_loss_non_saturating``: -mean log D(G(z)) from logits (the GAN theory chapter).
- ``check_r1_penalty``: the R1 gradient penalty of a discriminator (the mode-coverage chapter).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from helpers import gan
from helpers.checks import Case, ExerciseError, call_student, check_function, randn_code

__all__ = ["check_generator_loss_non_saturating", "check_optimal_discriminator", "check_r1_penalty"]


# ----------------------------------------------------------------- optimal discriminator

def _od_swapped(log_p_data: Tensor, log_p_g: Tensor) -> Tensor:
    return gan.optimal_discriminator(log_p_g, log_p_data)


def _od_ratio(log_p_data: Tensor, log_p_g: Tensor) -> Tensor:
    return (log_p_data - log_p_g).exp()


def _od_half_log(log_p_data: Tensor, log_p_g: Tensor) -> Tensor:
    return log_p_data.exp() / (log_p_data.exp() + log_p_g.exp())


def _od_cases() -> list[Case]:
    return [
        Case((torch.tensor([0.0, -1.0, -2.0]), torch.tensor([0.0, -2.0, -1.0])), description="small log-densities"),
        Case.of(f"{randn_code(6, seed=1)}, {randn_code(6, seed=2)}", "random log-densities"),
        Case.of(f"{randn_code(3, 4, seed=3)}, {randn_code(3, 4, seed=4)}", "a (3, 4) batch"),
        Case((torch.tensor([-800.0, -1200.0]), torch.tensor([-801.0, -1190.0])),
             description="log-densities so small that exp() underflows to 0"),
    ]


def check_optimal_discriminator(student_fn) -> None:
    """Check ``optimal_discriminator(log_p_data, log_p_g) -> D*`` (same shape as its inputs)."""
    check_function(
        student_fn, gan.optimal_discriminator, _od_cases(), name="optimal_discriminator",
        known_mistakes={
            "you computed p_G / (p_data + p_G): the discriminator should be large where the DATA "
            "density is": _od_swapped,
            "you returned the density ratio p_data / p_G; D* is p_data / (p_data + p_G)": _od_ratio,
            "exp() of a very negative log-density underflows to 0 and 0/0 gives NaN: write D* as "
            "sigmoid(log p_data - log p_G)": _od_half_log,
        },
    )


# ----------------------------------------------------------------- non-saturating loss

def _ns_saturating(fake_logits: Tensor) -> Tensor:
    return gan.generator_loss_saturating(fake_logits)


def _ns_sum(fake_logits: Tensor) -> Tensor:
    return F.softplus(-fake_logits).sum()


def _ns_sign(fake_logits: Tensor) -> Tensor:
    return -F.softplus(-fake_logits).mean()


def _ns_naive(fake_logits: Tensor) -> Tensor:
    return -torch.log(torch.sigmoid(fake_logits)).mean()


def _ns_cases() -> list[Case]:
    return [
        Case((torch.tensor([0.0, 1.0, -1.0]),), description="three logits"),
        Case.of(f"{randn_code(64, seed=5)} * 3", "a batch of 64 logits"),
        Case((torch.tensor([-150.0, -5.0, 2.0]),), description="a very confident discriminator, D(G(z)) ~ e^-150"),
    ]


def check_generator_loss_non_saturating(student_fn) -> None:
    """Check ``generator_loss_non_saturating(fake_logits) -> scalar``: -mean log sigmoid(l)."""
    check_function(
        student_fn, gan.generator_loss_non_saturating, _ns_cases(), name="generator_loss_non_saturating",
        known_mistakes={
            "this is the saturating (minimax) loss mean log(1 - D(G(z))); the non-saturating one is "
            "-mean log D(G(z))": _ns_saturating,
            "you summed over the batch; average instead, so the loss does not grow with the batch size": _ns_sum,
            "sign mistake: the generator MINIMISES -log D(G(z))": _ns_sign,
            "log(sigmoid(l)) underflows to log(0) = -inf for very negative logits: use "
            "-log sigmoid(l) = softplus(-l)": _ns_naive,
        },
    )


# ----------------------------------------------------------------- R1 penalty

def _r1_norm(disc: nn.Module, real: Tensor) -> Tensor:
    real = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(disc(real).sum(), real, create_graph=True)
    return grad.norm(dim=1).mean()


def _r1_sigmoid(disc: nn.Module, real: Tensor) -> Tensor:
    real = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(torch.sigmoid(disc(real)).sum(), real, create_graph=True)
    return grad.pow(2).sum(1).mean()


def _r1_sum(disc: nn.Module, real: Tensor) -> Tensor:
    real = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(disc(real).sum(), real, create_graph=True)
    return grad.pow(2).sum()


def _r1_cases() -> list[Case]:
    linear = ("disc = torch.nn.Sequential(torch.nn.Linear(2, 1), torch.nn.Flatten(0))\n"
              "with torch.no_grad():\n    disc[0].weight.copy_(torch.tensor([[3.0, -4.0]]))")
    mlp = "from helpers import gan\ntorch.manual_seed(0)\ndisc = gan.discriminator(hidden=16, n_hidden=2)"
    return [
        Case.of(f"disc, {randn_code(8, 2, seed=6)}", "a linear discriminator l(x) = 3 x1 - 4 x2", setup=linear),
        Case.of(f"disc, {randn_code(32, 2, seed=7)}", "a small MLP discriminator", setup=mlp),
        Case.of(f"disc, {randn_code(5, 2, seed=8)} * 3", "5 points", setup=mlp),
    ]


def _r1_checked(student_fn):
    def run(disc: nn.Module, real: Tensor) -> Tensor:
        out = student_fn(disc, real)
        if isinstance(out, Tensor) and not out.requires_grad:
            raise RuntimeError("the penalty has no gradient graph: pass create_graph=True to "
                               "torch.autograd.grad so the discriminator can be trained on it")
        return out.detach() if isinstance(out, Tensor) else out
    return run


def check_r1_penalty(student_fn) -> None:
    """Check ``r1_penalty(disc, real) -> scalar``: mean over real points of |grad_x logit|^2."""
    if not callable(student_fn):
        check_function(student_fn, gan.r1_penalty, [], name="r1_penalty")
    check_function(
        _r1_checked(student_fn), lambda d, x: gan.r1_penalty(d, x).detach(), _r1_cases(), name="r1_penalty",
        known_mistakes={
            "you used the gradient norm |grad l|; R1 is the SQUARED norm": lambda d, x: _r1_norm(d, x).detach(),
            "you differentiated D = sigmoid(logit); R1 uses the gradient of the logit":
                lambda d, x: _r1_sigmoid(d, x).detach(),
            "you summed over the points; average over the batch instead": lambda d, x: _r1_sum(d, x).detach(),
        },
    )


# ----------------------------------------------------------------- one discriminator step

def _bce_step(disc: nn.Module, optimizer: torch.optim.Optimizer, real: Tensor, fake: Tensor, *,
              zero_grad: bool = True, reduction: str = "mean") -> float:
    if zero_grad:
        optimizer.zero_grad()
    real_logits, fake_logits = disc(real), disc(fake.detach())
    loss = (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits), reduction=reduction)
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits), reduction=reduction))
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def _reference_step(disc: nn.Module, optimizer: torch.optim.Optimizer, real: Tensor, fake: Tensor) -> float:
    return _bce_step(disc, optimizer, real, fake)


def _labels_swapped(disc, optimizer, real, fake):
    return _bce_step(disc, optimizer, fake.detach(), real)


def _no_zero_grad(disc, optimizer, real, fake):
    return _bce_step(disc, optimizer, real, fake, zero_grad=False)


def _summed(disc, optimizer, real, fake):
    return _bce_step(disc, optimizer, real, fake, reduction="sum")


_STEP_MISTAKES = {
    "the labels are swapped: real points must get label 1 and generated ones label 0": _labels_swapped,
    "the gradients of the previous step were not cleared (call optimizer.zero_grad() first)": _no_zero_grad,
    "the loss sums over the batch; take the mean of each term": _summed,
}


def _one_step(step, seed: int) -> tuple[list[Tensor], object, Tensor]:
    """Run ``step`` once from a fixed state with stale gradients planted; the parameters after it, its return."""
    torch.manual_seed(seed)
    disc = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1), nn.Flatten(0)).double()
    gen = nn.Linear(2, 2).double()
    g = torch.Generator().manual_seed(seed)
    real = torch.randn(32, 2, generator=g, dtype=torch.float64) + 2.0
    fake = gen(torch.randn(24, 2, generator=g, dtype=torch.float64))
    for p in disc.parameters():
        p.grad = torch.randn(p.shape, generator=g, dtype=torch.float64)  # left over from an earlier step
    opt = torch.optim.SGD(disc.parameters(), lr=0.1)
    out = step(disc, opt, real, fake)
    gen_grad = [p.grad for p in gen.parameters()]
    return [p.detach().clone() for p in disc.parameters()], out, gen_grad


def check_discriminator_step(discriminator_step) -> None:
    """Check ``discriminator_step(disc, optimizer, real, fake) -> float`` by what one training step must do.

    1. From the same state (with stale gradients left in the parameters) it must move the
       discriminator's parameters exactly as one step of the optimizer on the mean binary
       cross-entropy, real labelled 1 and generated 0, and return that loss.
    2. It must not send gradients into the generator that made ``fake``.
    3. Repeated on a tiny problem whose answer is known, a discriminator with one free logit per
       point of a 5-point space, it must approach the optimal D* = p_data / (p_data + p_G).
    """
    name = "discriminator_step"
    ref_params, ref_loss, _ = _one_step(_reference_step, 0)
    params, loss, gen_grad = _one_step(
        lambda *a: call_student(discriminator_step, *a, name=name, what="on a small MLP discriminator"), 0)
    if any(g is not None and bool(g.abs().sum() > 0) for g in gen_grad):
        raise ExerciseError(f"{name} sent gradients into the generator that produced `fake`: the discriminator's "
                            "step must treat the generated points as data (detach them)")
    off = max(float((a - b).abs().max()) for a, b in zip(params, ref_params, strict=True))
    if off > 1e-9:
        msg = (f"{name} did not take one optimizer step on the discriminator's loss: after it the parameters differ "
               f"from the right step by up to {off:.3g}")
        for mistake, wrong in _STEP_MISTAKES.items():
            wrong_params = _one_step(wrong, 0)[0]
            if max(float((a - b).abs().max()) for a, b in zip(params, wrong_params, strict=True)) < 1e-9:
                msg += f"\n  hint: your step matches a common mistake: {mistake}"
                break
        raise ExerciseError(msg)
    try:
        loss = float(loss)
    except (TypeError, ValueError):
        raise ExerciseError(f"{name} should return the loss as a float, got {type(loss).__name__}") from None
    if abs(loss - ref_loss) > 1e-9:
        raise ExerciseError(f"{name} returned {loss:.6g}; the loss at the start of the step is {ref_loss:.6g}")
    # a tabular discriminator: logit_i for each point i of {0, ..., 4}, fed one-hot points
    p_data = torch.tensor([0.4, 0.3, 0.15, 0.1, 0.05], dtype=torch.float64)
    p_gen = torch.tensor([0.1, 0.1, 0.2, 0.3, 0.3], dtype=torch.float64)
    eye = torch.eye(5, dtype=torch.float64)
    real = eye.repeat_interleave((p_data * 200).round().long(), dim=0)  # a batch with exactly these frequencies
    fake = eye.repeat_interleave((p_gen * 200).round().long(), dim=0)
    table = nn.Sequential(nn.Linear(5, 1, bias=False), nn.Flatten(0)).double()
    nn.init.zeros_(table[0].weight)
    opt = torch.optim.Adam(table.parameters(), lr=0.1)
    for _ in range(150):
        call_student(discriminator_step, table, opt, real, fake, name=name, what="on the 5-point problem", guard=False)
    d = torch.sigmoid(table[0].weight.detach()[0])
    d_star = p_data / (p_data + p_gen)
    if float((d - d_star).abs().max()) > 0.01:
        raise ExerciseError(f"after 150 steps on a 5-point problem your discriminator gives D = "
                            f"{[round(v, 3) for v in d.tolist()]}, but the optimum is D* = p_data / (p_data + p_G) = "
                            f"{[round(v, 3) for v in d_star.tolist()]}")
    print(f"✓ {name}: one exact optimizer step, no gradient into the generator, and it finds D* on a 5-point problem")
