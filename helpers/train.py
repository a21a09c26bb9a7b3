"""The training loop every chapter shares: a step function, an optimiser, a progress bar.

A chapter writes the part worth studying, the loss, as a function of the step
number; ``train`` does the plumbing (zero_grad, backward, clipping, the
scheduler, a ``tqdm.auto`` progress bar, the loss history).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Union

import torch
from torch import Tensor
from tqdm.auto import tqdm

from helpers import validate

LossOutput = Union[Tensor, tuple[Tensor, Mapping[str, float]]]


def train(
    loss_fn: Callable[[int], LossOutput],
    optimizer: torch.optim.Optimizer,
    n_steps: int,
    *,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    clip_grad: float | None = None,
    progress: bool = True,
    desc: str = "training",
    postfix_every: int = 50,
) -> dict[str, list[float]]:
    """Minimise ``loss_fn`` for ``n_steps`` optimiser steps.

    Args:
        loss_fn: called as ``loss_fn(step)``; returns a scalar loss tensor, or
            ``(loss, extras)`` where ``extras`` maps names to floats to log.
        optimizer: any torch optimiser over the parameters being trained.
        n_steps: number of optimiser steps (a count, never a wall-clock limit).
        scheduler: optional learning-rate scheduler, stepped after each step.
        clip_grad: optional max global gradient norm.
        progress: show a ``tqdm.auto`` progress bar.
        desc: label of the progress bar.
        postfix_every: how often the bar shows the latest loss.

    Returns:
        ``{"loss": [...], <extra name>: [...]}``, one entry per step.

    Raises:
        TypeError: if ``n_steps`` is not an integer or ``clip_grad`` not a number.
        ValueError: on a non-positive ``n_steps`` or ``clip_grad``, a non-scalar loss, or a
            loss that becomes NaN or infinite (the step number is named).
    """
    validate.positive_int(n_steps, "n_steps")
    if clip_grad is not None:
        validate.positive_float(clip_grad, "clip_grad")
    params = [p for group in optimizer.param_groups for p in group["params"]]
    history: dict[str, list[float]] = {"loss": []}
    bar = tqdm(range(n_steps), desc=desc, disable=not progress, leave=True)
    for step in bar:
        out = loss_fn(step)
        loss, extras = (out if isinstance(out, tuple) else (out, {}))
        if not isinstance(loss, Tensor) or loss.ndim != 0:
            raise ValueError(f"loss_fn must return a scalar tensor, got {type(loss).__name__} "
                             f"of shape {getattr(loss, 'shape', None)}")
        value = float(loss.detach())
        if not math.isfinite(value):
            raise ValueError(f"loss became {value} at step {step}; lower the learning rate or check the model")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip_grad is not None:
            torch.nn.utils.clip_grad_norm_(params, clip_grad)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        history["loss"].append(value)
        for key, v in extras.items():
            history.setdefault(key, []).append(float(v))
        if progress and (step % postfix_every == 0 or step == n_steps - 1):
            bar.set_postfix(loss=f"{value:.4g}", refresh=False)
    return history
