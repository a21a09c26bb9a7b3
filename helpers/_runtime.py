"""Seeding and device selection (see the introduction, "How to run the book")."""

from __future__ import annotations

import os
import platform
import random

import numpy as np
import torch

from helpers import validate

SEED_ENV = "GM4S_SEED"  # shifts every seed of the book (make robust runs 0-4); unset: 0
SEED_STRIDE = 1_000  # the seeds a chapter writes are small integers, so shifts never overlap


def seed_offset() -> int:
    """The shift that ``GM4S_SEED`` asks for: 0 when it is unset or empty.

    Raises:
        ValueError: if ``GM4S_SEED`` is set to anything but a non-negative integer.
    """
    text = os.environ.get(SEED_ENV, "").strip()
    if not text:
        return 0
    if not text.isdigit():
        raise ValueError(f"{SEED_ENV} must be a non-negative integer, got {text!r}")
    return int(text)


def seed_for(seed: int) -> int:
    """The seed actually used for a random stream the book calls ``seed``.

    Unset ``GM4S_SEED``: ``seed`` itself. ``GM4S_SEED=k``: ``seed + 1000 k``, so that every
    notebook, every fit inside ``helpers`` and every data draw moves to a new stream together.
    Every place that turns an integer into random state (``set_seed``, a ``torch.Generator``,
    a NumPy generator) goes through this function. See the introduction, "How to run the book".

    Raises:
        TypeError: if ``seed`` is not an integer.
        ValueError: if ``seed`` is negative.
    """
    return validate.positive_int(seed, "seed", minimum=0) + SEED_STRIDE * seed_offset()


def generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed_for(seed)``."""
    return torch.Generator(device=device).manual_seed(seed_for(seed))


def numpy_rng(seed: int) -> np.random.Generator:
    """A NumPy ``Generator`` seeded with ``seed_for(seed)``."""
    return np.random.default_rng(seed_for(seed))


def set_seed(seed: int, *, deterministic: bool = True) -> None:
    """Seed Python, NumPy and PyTorch so that a chapter repeats exactly.

    The seed used is ``seed_for(seed)``: ``seed`` itself unless ``GM4S_SEED`` shifts it.

    Args:
        seed: a non-negative integer.
        deterministic: also ask PyTorch for deterministic kernels (on CPU this
            costs nothing; on a GPU it selects slower deterministic cuBLAS paths).

    Raises:
        TypeError: if ``seed`` is not an integer.
        ValueError: if ``seed`` is negative.
    """
    seed = seed_for(seed)  # validates
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        # Needed by cuBLAS for deterministic matrix products; harmless on CPU.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        if hasattr(torch.backends, "cudnn"):
            torch.backends.cudnn.benchmark = False


def machine_fingerprint() -> str:
    """What decides the last bits of a CPU run: processor, vector instructions, torch version.

    Two machines with the same fingerprint repeat a seeded run exactly; on two different ones a
    chaotic training run drifts apart as if the seed had changed. Stored tables record it, so a
    chapter checks "the live run repeats the stored seed 0" only on the machine that wrote them.
    """
    cpu = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "cpu family", "model") and key.strip() not in cpu:
                    cpu[key.strip()] = value.strip()
                if not line.strip() and cpu:
                    break
    except OSError:
        pass
    name = cpu.get("model name") or platform.processor() or "unknown CPU"
    family = f" family {cpu['cpu family']} model {cpu['model']}" if "cpu family" in cpu and "model" in cpu else ""
    return (f"{platform.machine()} {name}{family}, {torch.backends.cpu.get_cpu_capability()}, "
            f"torch {torch.__version__}")


def get_device() -> torch.device:
    """Return ``cuda`` when a CUDA GPU is present (e.g. on Colab), else ``cpu``.

    Chapters never hard-code a device; they call this once and move models and
    tensors there.
    """
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
