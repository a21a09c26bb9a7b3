"""Checks for the coding exercises of the normalizing-flows chapter."""

from __future__ import annotations

import torch
from torch import Tensor

from helpers.checks import Case, check_function, randn_code
from helpers.flows import affine_coupling_forward


class FixedConditioner:
    """A fixed, deterministic conditioner (batch, d) -> (shift, log_scale) for the hidden cases."""

    def __init__(self, d: int, seed: int, dtype: torch.dtype = torch.float32) -> None:
        g = torch.Generator().manual_seed(seed)
        self.w_shift = torch.randn(d, d, generator=g, dtype=dtype)
        self.w_scale = 0.5 * torch.randn(d, d, generator=g, dtype=dtype)
        self.b = torch.randn(d, generator=g, dtype=dtype)

    def __call__(self, xm: Tensor) -> tuple[Tensor, Tensor]:
        return torch.sin(xm @ self.w_shift) + self.b, torch.tanh(xm @ self.w_scale + self.b)

    def __repr__(self) -> str:
        return f"<fixed conditioner on {self.w_shift.shape[0]} dims>"


def _wrong_sign(x, mask, conditioner):
    y, ld = affine_coupling_forward(x, mask, conditioner)
    return y, -ld


def _unmasked_log_det(x, mask, conditioner):
    mask = mask.to(x)
    shift, log_scale = conditioner(x * mask)
    y = x * mask + (1 - mask) * (x * torch.exp(log_scale) + shift)
    return y, log_scale.sum(-1)


def _unmasked_conditioner_input(x, mask, conditioner):
    mask = mask.to(x)
    shift, log_scale = conditioner(x)
    y = x * mask + (1 - mask) * (x * torch.exp(log_scale) + shift)
    return y, ((1 - mask) * log_scale).sum(-1)


def _inverse_direction(x, mask, conditioner):
    mask = mask.to(x)
    shift, log_scale = conditioner(x * mask)
    y = x * mask + (1 - mask) * (x - shift) * torch.exp(-log_scale)
    return y, -((1 - mask) * log_scale).sum(-1)


def _cases() -> list[Case]:
    setup = "from helpers.checks.flows import FixedConditioner"
    return [
        Case.of(f"{randn_code(5, 2, seed=1)}, torch.tensor([1.0, 0.0]), FixedConditioner(2, 0)",
                "5 points in 2D, mask [1, 0]", setup),
        Case.of(f"{randn_code(4, 2, seed=2)}, torch.tensor([0.0, 1.0]), FixedConditioner(2, 1)",
                "4 points in 2D, mask [0, 1]", setup),
        Case.of(f"{randn_code(6, 4, seed=3)}, torch.tensor([1.0, 0.0, 1.0, 0.0]), FixedConditioner(4, 2)",
                "6 points in 4D, checkerboard mask", setup),
        Case.of(f"{randn_code(3, 3, seed=4, dtype='float64')}, torch.tensor([1.0, 1.0, 0.0]), "
                "FixedConditioner(3, 3, torch.float64)", "3 points in 3D, float64", setup),
    ]


def check_affine_coupling(affine_coupling) -> None:
    """Check ``affine_coupling(x: (B, d), mask: (d,), conditioner) -> (y: (B, d), log_det: (B,))``."""
    check_function(
        affine_coupling,
        affine_coupling_forward,
        _cases(),
        name="affine_coupling",
        known_mistakes={
            "the log-determinant has the wrong sign: for y = x * exp(s) + t it is +sum(s), not -sum(s)":
                _wrong_sign,
            "the log-determinant must sum s over the transformed dimensions only (multiply by 1 - mask); "
            "the passed-through dimensions contribute log 1 = 0": _unmasked_log_det,
            "the conditioner must see only the passed-through dimensions, conditioner(x * mask); "
            "otherwise the Jacobian is no longer triangular and the layer cannot be inverted":
                _unmasked_conditioner_input,
            "this is the inverse map (x - t) * exp(-s); the forward map is x * exp(s) + t": _inverse_direction,
        },
    )
