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

import contextlib
import functools
import math
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

__all__ = ["Case", "ExerciseError", "call_student", "check_function", "compare", "randn_code", "reference_guard"]

_HELPERS = Path(__file__).resolve().parents[1]  # the package whose functions are the book's answers
_CHECKS = Path(__file__).resolve().parent
_LITERAL_MAX = 64  # tensors up to this many entries are shown in full; larger ones need Case.code


class ExerciseError(AssertionError):
    """The student's answer failed a check; the message says what to fix."""


@dataclass
class Case:
    """One hidden test input: positional ``args``, keyword ``kwargs`` and a description.

    ``code`` is the argument list as Python source (``"torch.zeros(2, 3), torch.ones(2, 3)"``),
    after the statements ``setup`` (which may define names the arguments use): a failing case is
    shown as ``setup`` plus ``name(<code>)``, which the student can paste into a cell and run.
    Without it, the arguments are written out when they are small enough; ``Case.of`` builds a
    case from its source, so that the two cannot disagree.
    """

    args: Sequence[Any]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    code: str | None = None
    setup: str = ""

    @classmethod
    def of(cls, code: str, description: str = "", setup: str = "") -> Case:
        """The case whose positional arguments are the expression list ``code``, evaluated after ``setup``.

        Both run with ``torch`` and ``math`` imported, as they will in the student's notebook.
        """
        scope: dict[str, Any] = {"torch": torch, "math": math}
        exec(setup, scope)  # noqa: S102 - the book's own case list, not user input
        args = eval(f"({code},)", scope)  # noqa: S307
        return cls(tuple(args), {}, description, code, setup)

    def call(self, name: str) -> str:
        """``name(...)`` as source the student can run, or a description of the inputs if not expressible."""
        if self.code is not None:
            lines = [ln for ln in self.setup.strip().split("\n") if ln] + [f"{name}({self.code})"]
            return "\n      ".join(lines)
        parts = [_literal(a) for a in self.args] + [f"{k}={_literal(v)}" for k, v in self.kwargs.items()]
        if all(p is not None for p in parts):
            return f"{name}({', '.join(parts)})"
        return f"{name} on inputs " + ", ".join(_describe(a) for a in self.args)


def randn_code(*shape: int, seed: int, dtype: str = "", rand: bool = False) -> str:
    """Source of a seeded standard-normal (``rand``: uniform) tensor, for ``Case.of``: ``randn_code(5, 2, seed=1)``."""
    dims = ", ".join(str(int(n)) for n in shape)
    kind = "rand" if rand else "randn"
    dt = f", dtype=torch.{dtype}" if dtype else ""
    return f"torch.{kind}({dims}, generator=torch.Generator().manual_seed({seed}){dt})"


def _literal(value: Any) -> str | None:
    """Python source that rebuilds ``value``, or None when it would be too long or is not data."""
    if isinstance(value, Tensor):
        if value.numel() > _LITERAL_MAX:
            return None
        data = value.detach().cpu().tolist()
        dtype = "" if value.dtype == torch.float32 else f", dtype={value.dtype}"
        return f"torch.tensor({data!r}{dtype})"
    if isinstance(value, (bool, int, float, str, type(None))):
        return repr(value)
    if isinstance(value, (tuple, list)):
        items = [_literal(v) for v in value]
        if any(i is None for i in items):
            return None
        body = ", ".join(items) + ("," if isinstance(value, tuple) and len(items) == 1 else "")
        return f"({body})" if isinstance(value, tuple) else f"[{body}]"
    return None


def _describe(value: Any) -> str:
    if isinstance(value, Tensor):
        if value.numel() <= 6:
            return f"tensor {value.detach().cpu().tolist()} (shape {tuple(value.shape)}, {value.dtype})"
        return f"tensor of shape {tuple(value.shape)}, {value.dtype}"
    if isinstance(value, tuple):
        return "(" + ", ".join(_describe(v) for v in value) + ")"
    if callable(value):
        return f"a function ({getattr(value, '__doc__', None) or getattr(value, '__name__', 'callable')})".strip()
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


def _finite(value: Any) -> Any:
    """NaN and infinities replaced by fixed numbers, so that two answers that blow up alike compare equal."""
    if isinstance(value, Tensor) and value.is_floating_point():
        return torch.nan_to_num(value.detach(), nan=1e30, posinf=1e31, neginf=-1e31)
    if isinstance(value, float) and not math.isfinite(value):
        return 1e30 if math.isnan(value) else math.copysign(1e31, value)
    if isinstance(value, (tuple, list)):
        return type(value)(_finite(v) for v in value)
    return value


_LIBRARIES = (str(Path(torch.__file__).resolve().parent), str(Path(os.__file__).resolve().parent))


def _is_answer_code(code: Any, reference_code: Any) -> bool:
    """Is this code object one of the book's answers: a function of ``helpers`` outside the checks, or the reference?"""
    if code is reference_code:
        return True
    path = code.co_filename
    return path.startswith(str(_HELPERS)) and not path.startswith(str(_CHECKS))


def _is_library(code: Any) -> bool:
    return code.co_filename.startswith(_LIBRARIES)


@contextmanager
def reference_guard(reference_fn: Callable | None = None) -> Iterator[list[str]]:
    """Record the calls into the book's own implementations (``helpers``, not its checks) made inside the block.

    Yields the list that collects ``module.function`` names; the caller refuses the answer if it is
    not empty. ``reference_fn`` is recorded too, wherever it is defined. Only calls made by the
    student's code count: a function of ``helpers`` that torch calls (the ``forward`` of a network
    the check passes in) or that ``helpers`` calls (a model the check hands over) is not recorded;
    an answer that *is* a ``helpers`` function is caught by ``_refuse_answer``.
    """
    seen: list[str] = []
    ref_code = getattr(reference_fn, "__code__", None)
    previous = sys.getprofile()

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event != "call" or not _is_answer_code(frame.f_code, ref_code):
            return
        caller = frame.f_back  # the student's code, not helpers (a network or model the check passes in)
        if caller is None or not (caller.f_code.co_filename.startswith(str(_HELPERS)) or _is_library(caller.f_code)):
            seen.append(f"{frame.f_globals.get('__name__', '?')}.{frame.f_code.co_name}")

    sys.setprofile(profile)
    try:
        yield seen
    finally:
        sys.setprofile(previous)


def _not_written(name: str, exc: Exception) -> ExerciseError:
    return ExerciseError(f"{name} is not written yet ({exc}). Replace the `raise NotImplementedError` line in the "
                         f"exercise cell with your code, run that cell, then run this check again.")


def _uses_helpers(name: str, used: list[str]) -> ExerciseError:
    return ExerciseError(f"{name} calls the book's own implementation ({', '.join(dict.fromkeys(used))}). The exercise "
                         f"is to write it yourself, with torch; an answer that uses helpers scores zero.")


def _refuse_answer(student_fn: Any, name: str, reference_fn: Callable | None = None) -> None:
    """Refuse a student function that is, or wraps without calling from its own code, the book's answer."""
    ref_code = getattr(reference_fn, "__code__", None)
    todo, seen = [student_fn], set()
    while todo:
        fn = todo.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        if isinstance(fn, functools.partial):
            todo.append(fn.func)
            continue
        code = getattr(fn, "__code__", None)
        if code is None:
            continue
        if _is_answer_code(code, ref_code):
            module = getattr(fn, "__module__", "?")
            raise ExerciseError(
                f"{name} is the book's own implementation ({module}.{code.co_name}). The exercise is to write it "
                f"yourself, with torch; an answer that uses helpers scores zero."
            )
        if code.co_filename.startswith(str(_CHECKS)):  # a check's wrapper around the student's function
            todo += [c.cell_contents for c in (fn.__closure__ or ()) if callable(c.cell_contents)]


def call_student(student_fn: Any, *args: Any, name: str, what: str = "", guard: bool = True, **kwargs: Any) -> Any:
    """Call the student's function for a behavioural check, as ``check_function`` calls it.

    A stub, an exception, or a call into the book's own implementation becomes an
    ``ExerciseError`` whose message names ``what`` the call was (e.g. "on a linear-Gaussian model").
    ``guard=False`` skips recording the calls into ``helpers`` (it slows a call down several
    times; for the repeated calls of a loop whose first call was guarded).
    """
    if not callable(student_fn):
        raise ExerciseError(f"{name} should be a function, but it is {_describe(student_fn)}")
    _refuse_answer(student_fn, name)
    where = f" {what}" if what else ""
    with reference_guard() if guard else contextlib.nullcontext([]) as used:
        try:
            out = student_fn(*args, **kwargs)
        except NotImplementedError as exc:
            raise _not_written(name, exc) from None
        except ExerciseError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of the student's code is reported
            raise ExerciseError(f"{name} raised {type(exc).__name__}: {exc}{where}") from None
    if used:
        raise _uses_helpers(name, used)
    return out


@dataclass
class _Outcome:
    case: Case
    label: str
    got: Any = None
    raised: str | None = None
    problem: str | None = None


def check_function(
    student_fn: Any,
    reference_fn: Callable,
    cases: Sequence[Case],
    *,
    name: str,
    known_mistakes: Mapping[str, Callable] | None = None,
    invariants: Mapping[str, Callable[[Any], bool]] | None = None,
    nan_hint: str | None = None,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    quiet: bool = False,
) -> None:
    """Run ``student_fn`` and ``reference_fn`` on every case and compare.

    Args:
        student_fn: the student's function.
        reference_fn: the book's solution.
        cases: hidden inputs; each is copied before each call, so in-place edits cannot leak.
        name: the function's name as the exercise calls it.
        known_mistakes: typical wrong implementations, by a sentence naming the mistake; when the
            student's outputs match one of them on every case (NaN where it has NaN), the message
            names it.
        invariants: properties every correct output has, by the sentence that states them (for a
            KL divergence: "is never negative"); a violation is named before any value mismatch.
        nan_hint: what usually causes NaN or infinite values here, given when the student's output
            has them and the reference does not (and no known mistake matches).
        quiet: do not print the success line (for a check that tests more afterwards).
    Raises:
        ExerciseError: with a message saying what failed, how, and the call that reproduces it. An
            answer that calls the book's own implementation in ``helpers`` is refused as such.
    """
    if not callable(student_fn):
        raise ExerciseError(f"{name} should be a function, but it is {_describe(student_fn)}")
    _refuse_answer(student_fn, name, reference_fn)
    outcomes = []
    for i, case in enumerate(cases, 1):
        out = _Outcome(case, f"case {i}/{len(cases)}" + (f" ({case.description})" if case.description else ""))
        with reference_guard(reference_fn) as used:
            try:
                out.got = _call(student_fn, _clone(case))
            except NotImplementedError as exc:
                raise _not_written(name, exc) from None
            except Exception as exc:  # noqa: BLE001 - any failure of the student's code is reported
                out.raised = f"{type(exc).__name__}: {exc}"
        if used:
            raise _uses_helpers(name, used)
        expected = _call(reference_fn, _clone(case))
        if out.raised:
            out.problem = f"{name} raised {out.raised}"
        else:
            out.problem = _violated(out.got, invariants) or compare(out.got, expected, atol=atol, rtol=rtol,
                                                                   what=f"the output of {name}")
        outcomes.append((out, expected))
    failing = [o for o, _ in outcomes if o.problem]
    if not failing:
        if not quiet:
            print(f"✓ {name}: all {len(cases)} checks passed")
        return
    first = failing[0]
    msg = (f"{name} failed {first.label}" + (f" and {len(failing) - 1} more of the {len(cases)} cases"
                                              if len(failing) > 1 else "") + ".\n"
           f"  to reproduce, run: {first.case.call(name)}\n  {first.problem}")
    hint = _hint(outcomes, known_mistakes or {}, atol, rtol)
    if hint is None and nan_hint and any(_blows_up(o.got) and not _blows_up(e) for o, e in outcomes):
        hint = nan_hint
    if hint:
        msg += f"\n  hint: {hint}"
    raise ExerciseError(msg)


def _blows_up(value: Any) -> bool:
    if isinstance(value, Tensor):
        return value.is_floating_point() and not bool(torch.isfinite(value).all())
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, (tuple, list)):
        return any(_blows_up(v) for v in value)
    return False


def _violated(got: Any, invariants: Mapping[str, Callable[[Any], bool]] | None) -> str | None:
    for sentence, holds in (invariants or {}).items():
        try:
            ok = bool(holds(got))
        except Exception:  # noqa: BLE001 - a malformed output is reported by compare() instead
            continue
        if not ok:
            return f"{sentence}, but yours is {_describe(got)}"
    return None


def _hint(outcomes: list[tuple[_Outcome, Any]], known_mistakes: Mapping[str, Callable],
          atol: float, rtol: float) -> str | None:
    """Name a constant answer, or the one known mistake the outputs agree with on every case they ran."""
    ran = [(o, e) for o, e in outcomes if o.raised is None]
    if len(ran) >= 2 and all(compare(_finite(o.got), _finite(ran[0][0].got)) is None for o, _ in ran) \
            and any(compare(_finite(e), _finite(ran[0][1])) is not None for _, e in ran):
        return (f"your function returns the same value ({_describe(ran[0][0].got)}) for every input, but the "
                f"right answers differ: it does not compute from its arguments yet")
    for mistake, wrong_fn in known_mistakes.items():
        try:
            if ran and all(compare(_finite(o.got), _finite(_call(wrong_fn, _clone(o.case))), atol=atol, rtol=rtol)
                           is None for o, _ in ran):
                return f"your output matches a common mistake: {mistake}"
        except Exception:  # noqa: BLE001,S112 - a mistake that cannot run on a case does not match it
            continue
    return None


def _clone(case: Case) -> Case:
    def c(v: Any) -> Any:
        return v.clone() if isinstance(v, Tensor) else v

    return Case(tuple(c(a) for a in case.args), {k: c(v) for k, v in case.kwargs.items()}, case.description,
                case.code, case.setup)
