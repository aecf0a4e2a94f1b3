"""Test-wide settings: quiet progress bars, and the GPU mode switch.

GPU mode: ``CNNLESSONS_DEVICE=cuda make test`` (or ``make test-gpu``) runs every notebook on
CUDA. Without CUDA the run stops at once with a clear message instead of passing on the CPU.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")


def gpu_mode() -> bool:
    return os.environ.get("CNNLESSONS_DEVICE", "").strip().lower().startswith("cuda")


def pytest_sessionstart(session: pytest.Session) -> None:
    if gpu_mode():
        import torch

        if not torch.cuda.is_available():
            sys.stderr.write(
                "\nGPU mode (CNNLESSONS_DEVICE=cuda) was requested, but torch.cuda.is_available() is False "
                f"on this machine (torch {torch.__version__}). Run the tests without CNNLESSONS_DEVICE to use "
                "the CPU.\n")
            pytest.exit("GPU mode requested but CUDA is not available", returncode=3)


def new_tab(browser) -> tuple:
    """A fresh browser context and page (1400x1000) and the list its JavaScript errors go to."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on("console", lambda msg: errors.append(f"console.{msg.type}: {msg.text}") if msg.type == "error" else None)
    return context, page, errors
