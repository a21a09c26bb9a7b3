"""The argument checks every module of ``helpers`` shares: one rule for the error, one message style.

The rule for which error a bad argument raises:

* ``TypeError`` when the argument has the wrong type: a bool or a float where an integer is
  wanted, a string or ``None`` where a number is wanted, a list where a tensor is wanted, an
  integer tensor where a floating-point one is wanted.
* ``ValueError`` when it has the right type but a bad value: out of range, not finite, a
  tensor of the wrong shape.

Either message names the argument and what was expected, then what came, e.g.
``n_modes must be an integer >= 1, got 0`` or ``x must have shape (batch, 2), got (5, 3)``.
Each check returns its argument normalised (a Python ``int`` or ``float``; a tensor as it came),
so a caller writes ``n = positive_int(n, "n")``. NumPy integers pass where integers are wanted,
NumPy floats and one-element tensors where numbers are wanted.

A check that is about one model's own invariant (an odd kernel, an even grid, a mask with both
values) stays in that model's module, next to the model; only the generic checks live here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from types import EllipsisType

import numpy as np
from torch import Tensor

__all__ = ["non_negative_float", "positive_float", "positive_int", "probability", "tensor"]

#: One entry of a shape pattern: an exact size, a name (any size, named in the message), or a
#: leading ``...`` (any number of leading dimensions).
Dim = int | str | EllipsisType


def positive_int(value: int, name: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` as an ``int``, checked to be an integer in [minimum, maximum].

    Args:
        value: a Python or NumPy integer (not a bool).
        name: the argument's name, for the message.
        minimum: the least allowed value (1 unless given; 0 for a count that may be empty).
        maximum: the largest allowed value, or None for no upper bound.

    Raises:
        TypeError: if ``value`` is not an integer (a bool or a float counts as not one).
        ValueError: if it lies outside [minimum, maximum].
    """
    wanted = f"an integer >= {minimum}" if maximum is None else f"an integer in [{minimum}, {maximum}]"
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be {wanted}, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be {wanted}, got {value!r}")
    return int(value)


def _real(value: float, name: str, wanted: str) -> float:
    """``float(value)`` for a real number; TypeError for a bool, a string or anything float() refuses."""
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise TypeError(f"{name} must be {wanted}, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError, RuntimeError):  # e.g. None, a list, a tensor of several elements
        raise TypeError(f"{name} must be {wanted}, got {value!r}") from None


def positive_float(value: float, name: str) -> float:
    """``value`` as a ``float``, checked to be finite and > 0 (a standard deviation, a temperature).

    Raises:
        TypeError: if ``value`` is not a real number.
        ValueError: if it is zero, negative, infinite or NaN.
    """
    v = _real(value, name, "a positive number")
    if not (v > 0 and math.isfinite(v)):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return v


def non_negative_float(value: float, name: str) -> float:
    """``value`` as a ``float``, checked to be finite and >= 0 (a penalty weight, an offset).

    Raises:
        TypeError: if ``value`` is not a real number.
        ValueError: if it is negative, infinite or NaN.
    """
    v = _real(value, name, "a non-negative number")
    if not (v >= 0 and math.isfinite(v)):
        raise ValueError(f"{name} must be a non-negative number, got {value!r}")
    return v


def probability(value: float, name: str, *, allow_zero: bool = True, allow_one: bool = True) -> float:
    """``value`` as a ``float``, checked to lie in [0, 1]; ``allow_zero=False`` or
    ``allow_one=False`` opens that end of the interval, e.g. (0, 1) for a quantile level.

    Raises:
        TypeError: if ``value`` is not a real number.
        ValueError: if it lies outside the interval (NaN included).
    """
    wanted = f"a number in {'[' if allow_zero else '('}0, 1{']' if allow_one else ')'}"
    v = _real(value, name, wanted)
    above = v >= 0 if allow_zero else v > 0
    below = v <= 1 if allow_one else v < 1
    if not (above and below):
        raise ValueError(f"{name} must be {wanted}, got {value!r}")
    return v


def _pattern(shape: Sequence[Dim], min_len: int) -> str:
    parts = ["..." if d is Ellipsis else str(d) for d in shape]
    if min_len and parts:
        parts[0] += f" >= {min_len}"
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def _matches(actual: tuple[int, ...], shape: Sequence[Dim]) -> bool:
    if shape and shape[0] is Ellipsis:
        tail = shape[1:]
        if len(actual) < len(tail):
            return False
        actual = actual[len(actual) - len(tail):]
        shape = tail
    elif len(actual) != len(shape):
        return False
    return all(isinstance(d, str) or d == a for d, a in zip(shape, actual, strict=True))


def tensor(
    value: Tensor,
    name: str,
    *,
    shape: Sequence[Dim] | None = None,
    min_len: int = 0,
    floating: bool = False,
) -> Tensor:
    """``value`` itself, checked to be a ``torch.Tensor`` of the expected shape (and dtype).

    Args:
        value: the argument.
        name: its name, for the message.
        shape: a pattern such as ``("batch", 2)``, ``(..., dim)`` or ``("T",)``: an int is an
            exact size, a string any size (named in the message), a leading ``...`` any number
            of leading dimensions. None: any shape.
        min_len: the least size of the first dimension (e.g. 2 for a sample whose spread is
            estimated); the message shows it as ``(n >= 2, dim)``.
        floating: require a floating-point dtype.

    Raises:
        TypeError: if ``value`` is not a tensor, or (``floating=True``) not a floating-point one.
        ValueError: if its shape does not match ``shape`` or its first dimension is below ``min_len``.
    """
    wanted = "a torch.Tensor" + (f" of shape {_pattern(shape, min_len)}" if shape is not None else "")
    if not isinstance(value, Tensor):
        raise TypeError(f"{name} must be {wanted}, got {type(value).__name__}")
    if floating and not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {value.dtype}")
    actual = tuple(value.shape)
    if (shape is not None and not _matches(actual, shape)) or (min_len and (not actual or actual[0] < min_len)):
        pattern = _pattern(shape, min_len) if shape is not None else f"(n >= {min_len}, ...)"
        raise ValueError(f"{name} must have shape {pattern}, got {actual}")
    return value
