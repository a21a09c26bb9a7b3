"""The GAN exercise checks pass the reference solutions and name the typical mistakes."""

import pytest
import torch
import torch.nn.functional as F
from exercise_solutions import solution

from helpers.checks import ExerciseError
from helpers.checks.gan import (
    check_discriminator_step,
    check_generator_loss_non_saturating,
    check_optimal_discriminator,
    check_r1_penalty,
)


def test_optimal_discriminator_check_passes_the_reference(capsys):
    check_optimal_discriminator(solution("optimal_discriminator"))
    assert "✓ optimal_discriminator" in capsys.readouterr().out


def test_optimal_discriminator_check_names_the_mistakes():
    with pytest.raises(ExerciseError, match="DATA density"):
        check_optimal_discriminator(lambda lp, lq: torch.sigmoid(lq - lp))
    with pytest.raises(ExerciseError, match="density ratio"):
        check_optimal_discriminator(lambda lp, lq: (lp - lq).exp())
    with pytest.raises(ExerciseError, match="underflows"):
        check_optimal_discriminator(lambda lp, lq: lp.exp() / (lp.exp() + lq.exp()))
    with pytest.raises(ExerciseError, match="shape mistake"):
        check_optimal_discriminator(lambda lp, lq: torch.sigmoid(lp - lq).sum(-1))
    with pytest.raises(ExerciseError, match="not written yet"):
        check_optimal_discriminator(lambda lp, lq: (_ for _ in ()).throw(NotImplementedError("Exercise 1")))


def test_non_saturating_check():
    check_generator_loss_non_saturating(lambda lg: F.softplus(-lg).mean())
    with pytest.raises(ExerciseError, match="saturating \\(minimax\\)"):
        check_generator_loss_non_saturating(lambda lg: -F.softplus(lg).mean())
    with pytest.raises(ExerciseError, match="summed"):
        check_generator_loss_non_saturating(lambda lg: F.softplus(-lg).sum())
    with pytest.raises(ExerciseError, match="softplus"):
        check_generator_loss_non_saturating(lambda lg: -torch.log(torch.sigmoid(lg)).mean())


def _r1(disc, real):
    real = real.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(disc(real).sum(), real, create_graph=True)
    return g.pow(2).sum(1).mean()


def test_r1_check():
    check_r1_penalty(_r1)
    with pytest.raises(ExerciseError, match="SQUARED"):
        check_r1_penalty(lambda d, x: _r1(d, x).sqrt() * 0 + _norm(d, x))
    with pytest.raises(ExerciseError, match="logit"):
        check_r1_penalty(lambda d, x: _r1(lambda y: torch.sigmoid(d(y)), x))
    with pytest.raises(ExerciseError, match="create_graph"):
        check_r1_penalty(lambda d, x: _r1(d, x).detach())
    with pytest.raises(ExerciseError, match="should be a function"):
        check_r1_penalty(3.0)


def _norm(disc, real):
    real = real.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(disc(real).sum(), real, create_graph=True)
    return g.norm(dim=1).mean()


def test_discriminator_step_check_passes_the_chapters_answer(capsys):
    check_discriminator_step(solution("discriminator_step"))
    assert "✓ discriminator_step" in capsys.readouterr().out


def _step(zero_grad=True, detach=True, swap=False, reduction="mean"):
    def discriminator_step(disc, optimizer, real, fake):
        if zero_grad:
            optimizer.zero_grad()
        fake = fake.detach() if detach else fake
        pos, neg = (fake, real) if swap else (real, fake)
        ones, zeros = torch.ones(len(pos), dtype=pos.dtype), torch.zeros(len(neg), dtype=neg.dtype)
        loss = (F.binary_cross_entropy_with_logits(disc(pos), ones, reduction=reduction)
                + F.binary_cross_entropy_with_logits(disc(neg), zeros, reduction=reduction))
        loss.backward()
        optimizer.step()
        return loss.item()
    return discriminator_step


@pytest.mark.parametrize("wrong,words", [
    (_step(zero_grad=False), "zero_grad"),
    (_step(detach=False), "sent gradients into the generator"),
    (_step(swap=True), "labels are swapped"),
    (_step(reduction="sum"), "sums over the batch"),
])
def test_discriminator_step_check_names_the_mistake(wrong, words):
    with pytest.raises(ExerciseError, match=words):
        check_discriminator_step(wrong)
