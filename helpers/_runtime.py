"""Seeding and device selection (see the introduction, "How to run the book")."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def set_seed(seed: int, *, deterministic: bool = True) -> None:
    """Seed Python, NumPy and PyTorch so that a chapter repeats exactly.

    Args:
        seed: a non-negative integer.
        deterministic: also ask PyTorch for deterministic kernels (on CPU this
            costs nothing; on a GPU it selects slower deterministic cuBLAS paths).

    Raises:
        ValueError: if ``seed`` is not a non-negative integer.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"set_seed expects a non-negative integer seed, got {seed!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        # Needed by cuBLAS for deterministic matrix products; harmless on CPU.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        if hasattr(torch.backends, "cudnn"):
            torch.backends.cudnn.benchmark = False


def get_device() -> torch.device:
    """Return ``cuda`` when a CUDA GPU is present (e.g. on Colab), else ``cpu``.

    Chapters never hard-code a device; they call this once and move models and
    tensors there.
    """
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
