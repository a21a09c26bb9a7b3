"""Checks for the coding exercises of the normalizing-flows chapter."""

from __future__ import annotations

import torch
from torch import Tensor

from helpers.checks import Case, ExerciseError, call_student, check_function, randn_code
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


# --------------------------------------------------------------------------- the inverse of a coupling layer
def _inverse_problems() -> list[tuple[Tensor, Tensor, FixedConditioner, str]]:
    d64 = torch.float64
    g = torch.Generator().manual_seed(21)
    return [
        (torch.randn(6, 2, generator=g, dtype=d64), torch.tensor([1.0, 0.0], dtype=d64),
         FixedConditioner(2, 5, d64), "6 points in 2D, mask [1, 0]"),
        (torch.randn(5, 4, generator=g, dtype=d64) * 2, torch.tensor([0.0, 1.0, 0.0, 1.0], dtype=d64),
         FixedConditioner(4, 6, d64), "5 points in 4D, checkerboard mask [0, 1, 0, 1]"),
        (torch.randn(4, 3, generator=g, dtype=d64), torch.tensor([1.0, 1.0, 0.0], dtype=d64),
         FixedConditioner(3, 7, d64), "4 points in 3D, mask [1, 1, 0]"),
    ]


def check_coupling_inverse(coupling_inverse) -> None:
    """Check ``coupling_inverse(y, mask, conditioner) -> (x, log|det dx/dy|)`` by what an inverse must do.

    On every case (float64): the layer's forward map undoes it, ``forward(inverse(y)) = y`` and
    ``inverse(forward(x)) = x``; its log-determinant is minus the forward one; and it equals
    ``log|det|`` of the Jacobian of the student's own map, computed by autograd for each point.
    """
    name = "coupling_inverse"
    for x, mask, cond, what in _inverse_problems():
        y, fwd_log_det = affine_coupling_forward(x, mask, cond)
        out = call_student(coupling_inverse, y.clone(), mask.clone(), cond, name=name, what=f"on {what}")
        if not (isinstance(out, tuple) and len(out) == 2 and all(isinstance(v, Tensor) for v in out)):
            raise ExerciseError(f"{name} should return a pair (x, log_det) of tensors, got {type(out).__name__}")
        x_back, log_det = out
        if x_back.shape != x.shape or log_det.shape != x.shape[:1]:
            raise ExerciseError(f"shape mistake on {what}: x should have shape {tuple(x.shape)} and log_det "
                                f"{tuple(x.shape[:1])}, got {tuple(x_back.shape)} and {tuple(log_det.shape)}")
        err = float((x_back - x).abs().max())
        if err > 1e-8:
            hint = ""
            if float((x_back[:, mask.bool()] - x[:, mask.bool()]).abs().max()) > 1e-8:
                hint = " The passed-through dimensions (mask = 1) must come back unchanged: x = y there."
            else:
                hint = (" The passed-through part is right; undo the others' scale and shift in the reverse "
                        "order, with (t, s) from conditioner(mask * y): the conditioner must see only what "
                        "passed through, which y and x share.")
            raise ExerciseError(f"{name} is not the inverse of the coupling layer on {what}: "
                                f"forward then inverse misses x by up to {err:.3g}.{hint}")
        again = call_student(coupling_inverse, *affine_coupling_forward(x_back.detach(), mask, cond)[:1], mask, cond,
                             name=name)[0]
        if float((again - x).abs().max()) > 1e-8:
            raise ExerciseError(f"{name} gives different answers for the same input on {what}")
        if float((log_det + fwd_log_det).abs().max()) > 1e-8:
            sign = " (it has the sign of the forward one)" if float((log_det - fwd_log_det).abs().max()) < 1e-8 else ""
            raise ExerciseError(f"log_det should be log|det dx/dy| = minus the forward layer's log-determinant on "
                                f"{what}{sign}; got {log_det.tolist()}, expected {(-fwd_log_det).tolist()}")
        for i in range(min(3, y.shape[0])):
            jac = torch.autograd.functional.jacobian(
                lambda v, m=mask, c=cond: call_student(coupling_inverse, v[None], m, c, name=name)[0][0], y[i])
            if float(abs(torch.linalg.slogdet(jac).logabsdet - log_det[i])) > 1e-8:
                raise ExerciseError(f"log_det of point {i} on {what} is not log|det| of the Jacobian of your own "
                                    f"map (autograd gives {float(torch.linalg.slogdet(jac).logabsdet):.6g})")
    print(f"✓ {name}: the inverse of the coupling layer on all {len(_inverse_problems())} cases, with the right "
          "log-determinant")
