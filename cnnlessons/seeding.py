"""Reproducibility: one call seeds every random number generator a lesson touches."""
from __future__ import annotations

import os
import random
import warnings

import numpy as np
import torch


def seed_everything(seed: int, deterministic: bool = True) -> torch.Generator:
    """Seed Python's ``random``, NumPy and torch (CPU and every GPU) with ``seed``.

    With ``deterministic=True`` torch is asked for deterministic kernels where it has them
    (``warn_only``, so an op without one still runs) and cuDNN's autotuner is switched off.
    On the CPU a training run is then bit-for-bit repeatable for a given seed; on a GPU it is
    repeatable as far as the kernels allow.

    Returns a ``torch.Generator`` seeded with ``seed``, handy for shuffling data.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        # Must be set before CUDA's first matmul for deterministic cuBLAS.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        # An op without a deterministic kernel warns on every call; the notebooks' stderr is
        # compared by nbval, so say it once here instead.
        warnings.filterwarnings("ignore", message=".*does not have a deterministic implementation.*")
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    return torch.Generator().manual_seed(seed)
