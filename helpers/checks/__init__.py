"""Automatic checks of the book's coding exercises (see the instructor guide).

A check takes the student's function, runs it on cases the student cannot see
in the notebook, and either prints a one-line success or raises
``ExerciseError`` with a message that says which input failed, what was
expected and what came back, naming shape and dtype mistakes as such and, when
the answer matches a known typical mistake, naming that mistake.

One module per part of the book holds that part's checks
(``helpers.checks.first_model``, ``helpers.checks.vae``, ...); this module
holds the machinery they share.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

__all__ = ["Case", "ExerciseError", "check_function", "compare"]


class ExerciseError(AssertionError):
    """The student's answer failed a check; the message says what to fix."""


@dataclass
class Case:
    """One hidden test input: positional ``args``, keyword ``kwargs`` and a description."""

    args: Sequence[Any]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""


def _describe(value: Any) -> str:
    if isinstance(value, Tensor):
        if value.numel() <= 6:
            return f"tensor {value.detach().cpu().tolist()} (shape {tuple(value.shape)}, {value.dtype})"
        return f"tensor of shape {tuple(value.shape)}, {value.dtype}"
    if isinstance(value, tuple):
        return "(" + ", ".join(_describe(v) for v in value) + ")"
    return repr(value)


def compare(got: Any, expected: Any, *, atol: float = 1e-5, rtol: float = 1e-4, what: str = "the result") -> str | None:
    """Return ``None`` if ``got`` matches ``expected``, else a sentence saying how it differs.

    Tensors must agree in type, shape, dtype and value (within atol + rtol*|expected|);
    tuples and lists are compared item by item; anything else with ``==``.
    """
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"{what} should be a tuple of {len(expected)} items, but it is {_describe(got)}"
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            msg = compare(g, e, atol=atol, rtol=rtol, what=f"item {i} of {what}")
            if msg:
                return msg
        return None
    if isinstance(expected, Tensor):
        if not isinstance(got, Tensor):
            return f"{what} should be a torch.Tensor, but it is a {type(got).__name__}"
        if got.shape != expected.shape:
            return (f"shape mistake: {what} should have shape {tuple(expected.shape)}, but it has shape "
                    f"{tuple(got.shape)} (check which dimensions you sum or average over)")
        if got.dtype != expected.dtype:
            return f"dtype mistake: {what} should have dtype {expected.dtype}, but it has dtype {got.dtype}"
        if not bool(torch.isfinite(got).all()) and bool(torch.isfinite(expected).all()):
            return f"{what} contains NaN or infinite values"
        exp = expected.detach().to(got.device)
        diff = (got.detach() - exp).abs()
        tol = atol + rtol * exp.abs()
        if bool((diff > tol).any()):
            idx = int((diff - tol).flatten().argmax())
            return (f"value mistake: {what} differs from the expected value by up to {float(diff.max()):.3g}; "
                    f"at flat index {idx} expected {float(exp.flatten()[idx]):.6g}, got "
                    f"{float(got.detach().flatten()[idx]):.6g}")
        return None
    if isinstance(expected, float):
        try:
            ok = abs(float(got) - expected) <= atol + rtol * abs(expected)
        except (TypeError, ValueError):
            return f"{what} should be a number, but it is {_describe(got)}"
        return None if ok else f"value mistake: {what} should be {expected:.6g}, got {float(got):.6g}"
    return None if got == expected else f"{what} should be {expected!r}, got {got!r}"


def _call(fn: Callable, case: Case) -> Any:
    return fn(*case.args, **dict(case.kwargs))


def check_function(
    student_fn: Any,
    reference_fn: Callable,
    cases: Sequence[Case],
    *,
    name: str,
    known_mistakes: Mapping[str, Callable] | None = None,
    atol: float = 1e-5,
    rtol: float = 1e-4,
) -> None:
    """Run ``student_fn`` and ``reference_fn`` on every case and compare.

    Args:
        student_fn: the student's function.
        reference_fn: the book's solution.
        cases: hidden inputs; each is copied before each call, so in-place edits cannot leak.
        name: the function's name as the exercise calls it.
        known_mistakes: typical wrong implementations, by a sentence naming the mistake;
            when the student's output matches one of them on the failing case, the
            message names it.
    Raises:
        ExerciseError: with a message saying what failed and how.
    """
    if not callable(student_fn):
        raise ExerciseError(f"{name} should be a function, but it is {_describe(student_fn)}")
    for i, case in enumerate(cases, 1):
        label = f"case {i}/{len(cases)}" + (f" ({case.description})" if case.description else "")
        inputs = ", ".join(_describe(a) for a in case.args)
        try:
            got = _call(student_fn, _clone(case))
        except NotImplementedError as exc:
            raise ExerciseError(
                f"{name} is not written yet ({exc}). Replace the `raise NotImplementedError` line in the "
                f"exercise cell with your code, run that cell, then run this check again."
            ) from None
        except Exception as exc:
            raise ExerciseError(
                f"{name} raised {type(exc).__name__}: {exc}\n  on {label} with inputs {inputs}"
            ) from None
        expected = _call(reference_fn, _clone(case))
        problem = compare(got, expected, atol=atol, rtol=rtol, what=f"the output of {name}")
        if problem:
            msg = f"{name} failed {label}.\n  inputs: {inputs}\n  {problem}"
            for mistake, wrong_fn in (known_mistakes or {}).items():
                if compare(got, _call(wrong_fn, _clone(case)), atol=atol, rtol=rtol) is None:
                    msg += f"\n  hint: your output matches a common mistake: {mistake}"
                    break
            raise ExerciseError(msg)
    print(f"✓ {name}: all {len(cases)} checks passed")


def _clone(case: Case) -> Case:
    def c(v: Any) -> Any:
        return v.clone() if isinstance(v, Tensor) else v

    return Case(tuple(c(a) for a in case.args), {k: c(v) for k, v in case.kwargs.items()}, case.description)
