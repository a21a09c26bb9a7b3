"""helpers.checks: what every check does, whatever the exercise.

A check refuses the book's own implementation, names a negative KL, a constant answer and a
variance taken for a log-variance, announces success only when everything passed, and shows a
failing input as code the student can paste and run.
"""

import functools
import importlib
import math
import pkgutil
import re

import pytest
import torch
from exercise_solutions import solution

import helpers.checks
from helpers import vae
from helpers.checks import Case, ExerciseError
from helpers.checks import capstone as capstone_checks
from helpers.checks import vae as vae_checks


@pytest.mark.parametrize("answer", [
    vae.gaussian_kl,
    lambda mu, lv: vae.gaussian_kl(mu, lv),
    functools.partial(vae.gaussian_kl),
], ids=["the function itself", "a wrapper", "a partial"])
def test_the_books_own_implementation_scores_zero(answer):
    with pytest.raises(ExerciseError, match=r"(calls|is) the book's own implementation \(helpers\.vae\.gaussian_kl\)"):
        vae_checks.check_gaussian_kl(answer)


def test_an_answer_that_imports_the_reference_from_the_checks_is_refused():
    with pytest.raises(ExerciseError, match="book's own implementation"):
        capstone_checks.check_elbo_estimate(capstone_checks._reference_elbo)


def test_a_network_from_helpers_passed_in_by_the_check_is_not_counted(capsys):
    # the R1 cases use helpers.gan.discriminator; calling it is the student's job, not a shortcut
    helpers.checks.gan.check_r1_penalty(solution("r1_penalty"))
    assert "✓ r1_penalty" in capsys.readouterr().out


def test_a_detached_sample_fails_without_announcing_success_first(capsys):
    right = solution("reparameterize")
    with pytest.raises(ExerciseError, match="autograd"):
        vae_checks.check_reparameterize(lambda mu, lv, generator=None: right(mu, lv, generator).detach())
    assert "✓" not in capsys.readouterr().out


def test_a_negative_kl_is_named():
    with pytest.raises(ExerciseError, match="never negative") as err:
        vae_checks.check_gaussian_kl(lambda mu, lv: 0.5 * (lv.exp() - mu**2 - 1 - lv).sum(-1))
    assert "mu^2 enters with a plus sign" in str(err.value)


def test_logvar_taken_for_the_variance_is_named_not_just_nan():
    def elbo(x, mu, logvar, eps, decoder, obs_logvar):
        z = mu + logvar.sqrt() * eps
        mean = decoder(z)
        rec = -0.5 * (math.log(2 * math.pi) + obs_logvar + (x - mean) ** 2 / obs_logvar.exp()).sum(-1)
        return rec - 0.5 * (logvar + mu**2 - 1 - logvar.log()).sum(-1)

    with pytest.raises(ExerciseError, match="logvar was treated as the variance") as err:
        capstone_checks.check_elbo_estimate(elbo)
    assert "<function" not in str(err.value) and "def decoder(z):" in str(err.value)


def test_a_nan_from_a_partly_wrong_answer_gets_the_logvar_hint():
    def kl(mu, logvar):  # right except for the log of logvar
        return 0.5 * (logvar.exp() + mu**2 - 1 - torch.log(logvar)).sum(-1)

    with pytest.raises(ExerciseError, match="A square root or a log of logvar itself gives NaN"):
        vae_checks.check_gaussian_kl(kl)


def _reproduce(message: str) -> str:
    """The code after 'to reproduce, run:' in a check's message."""
    lines = message.split("\n")
    start = next(i for i, ln in enumerate(lines) if "to reproduce, run:" in ln)
    code = [lines[start].split("to reproduce, run: ", 1)[1]]
    for ln in lines[start + 1:]:
        if not ln.startswith("      "):
            break
        code.append(ln[6:])
    return "\n".join(code)


def test_the_failing_input_is_code_that_reproduces_the_failure():
    def wrong(mu, logvar):
        return (logvar.exp() + mu**2 - 1 - logvar).sum(-1)  # the 1/2 is missing

    with pytest.raises(ExerciseError) as err:
        vae_checks.check_gaussian_kl(wrong)
    code = _reproduce(str(err.value))
    got = eval(code, {"torch": torch, "math": math, "gaussian_kl": wrong})
    assert torch.allclose(got, 2 * vae.gaussian_kl(*vae_checks._kl_cases()[0].args))


def _every_case() -> list[tuple[str, Case]]:
    out = []
    for info in pkgutil.iter_modules(helpers.checks.__path__):
        module = importlib.import_module(f"helpers.checks.{info.name}")
        for name in dir(module):
            if re.fullmatch(r"_\w*cases", name):
                out += [(f"{info.name}.{name}[{i}]", c) for i, c in enumerate(getattr(module, name)())]
    return out


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if callable(a) or hasattr(a, "forward"):
        return callable(b)
    return a == b


@pytest.mark.parametrize("label,case", _every_case(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_hidden_case_can_be_pasted_and_rebuilds_its_inputs(label, case):
    *setup, call = case.call("f").split("\n      ")
    assert call.startswith("f("), f"{label}: not shown as a call: {call}"
    scope = {"torch": torch, "math": math, "f": lambda *args, **kwargs: (args, kwargs)}
    exec("\n".join(setup), scope)
    args, kwargs = eval(call, scope)
    if kwargs:  # reparameterize: the case's last argument, a seed, is passed as a generator
        assert set(kwargs) == {"generator"} and isinstance(kwargs["generator"], torch.Generator), label
        assert len(args) == len(case.args) - 1
    else:
        assert len(args) == len(case.args), label
    for a, b in zip(case.args, args, strict=False):
        assert _same(a, b), label
