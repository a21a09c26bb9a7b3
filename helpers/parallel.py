"""Run independent model fits side by side, one per CPU core.

The book's networks are small: one fit keeps one core busy and a second torch thread buys
little. Two fits that do not depend on each other (the same recipe on two datasets, say) can
instead run at the same time in two processes. ``map_fits`` does that on a multi-core CPU and
falls back to a plain loop everywhere else (on a GPU, on one core, or when asked to), so a
notebook calls it the same way in JupyterLab, in Colab and in the tests.

Each job runs with one torch thread, in a worker or in the loop, and must seed itself (every
``fit_*`` function of ``helpers`` takes a ``seed``), so on one machine the results are the same
whichever way the jobs ran. (Another machine gives other last bits, as another seed would.)
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import random
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import torch

from helpers import validate

SEQUENTIAL_ENV = "GM4S_SEQUENTIAL"  # set to 1 to force the plain loop


def available_cores() -> int:
    """Number of CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run the block with one torch thread, then restore the previous setting.

    The book's networks are small: a second thread buys little, and on a busy machine threads
    that wait for each other make times unreproducible. ``map_fits`` runs every CPU job this way,
    in a worker or in its plain loop, so both give the same numbers on one machine.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def kept_random_state() -> Iterator[None]:
    """Run the block, then put back the caller's Python, NumPy and torch random states.

    A fit seeds itself (``helpers.set_seed``); in a worker process that leaves the notebook's
    random streams alone, so the plain loop of ``map_fits`` must too, or every later draw of the
    notebook would depend on the path taken.
    """
    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)


def _one_thread_worker() -> None:
    torch.set_num_threads(1)


def _call(fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    return fn(*args, **kwargs)


def map_fits(
    fn: Callable[..., Any],
    jobs: Sequence[tuple],
    *,
    kwargs: dict | None = None,
    device: torch.device | str = "cpu",
    max_workers: int | None = None,
) -> list[Any]:
    """``[fn(*job, **kwargs) for job in jobs]``, in parallel processes on a multi-core CPU.

    Args:
        fn: a function importable by name (defined in a module such as ``helpers.gan``, not in
            the notebook), because the worker processes are started fresh ("spawn").
        jobs: one tuple of positional arguments per call.
        kwargs: keyword arguments passed to every call.
        device: where the fits would run; anything but the CPU runs the plain loop (a GPU is
            faster than several CPU processes, and CUDA does not mix with worker processes).
        max_workers: at most this many processes (default: one per available core).

    Returns:
        The results in the order of ``jobs``. Each is pickled back from its worker, so it
        must be picklable (tensors, modules and dataclasses are).
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    if getattr(fn, "__module__", "__main__") in ("__main__", None) or "<locals>" in getattr(fn, "__qualname__", ""):
        raise ValueError(
            f"fn must be importable by name (a module-level function of a package), got {fn!r}; "
            "a function defined in a notebook cannot be sent to a worker process"
        )
    if isinstance(jobs, (str, bytes)) or not isinstance(jobs, Sequence):
        raise TypeError(f"jobs must be a sequence of argument tuples, got {type(jobs).__name__}")
    if not all(isinstance(job, tuple) for job in jobs):
        raise TypeError("every job must be a tuple of positional arguments, e.g. [(recipe, 'ring'), ...]")
    if max_workers is not None:
        validate.positive_int(max_workers, "max_workers")
    kwargs = dict(kwargs or {})
    workers = min(len(jobs), available_cores(), max_workers or len(jobs))
    on_cpu = torch.device(device).type == "cpu"
    if not on_cpu or workers < 2 or os.environ.get(SEQUENTIAL_ENV, "") not in ("", "0"):
        # On the CPU the plain loop runs on one thread, as a worker does, so the numbers do not
        # depend on the path taken.
        with one_thread() if on_cpu else contextlib.nullcontext(), kept_random_state():
            return [fn(*job, **kwargs) for job in jobs]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_one_thread_worker) as pool:
        futures = [pool.submit(_call, fn, job, kwargs) for job in jobs]
        return [f.result() for f in futures]
