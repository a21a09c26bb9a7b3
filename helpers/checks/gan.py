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
from helpers.checks import Case, check_function, randn_code

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
