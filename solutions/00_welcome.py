"""Worked solutions for lesson 00 (welcome), one function per exercise."""
from __future__ import annotations

import torch

from cnnlessons import seed_everything
from cnnlessons.widgets.stack_demo import describe_stack


def prefix_draws() -> bool:
    seed_everything(0)
    first = torch.randn(3)
    seed_everything(0)
    second = torch.randn(5)
    return torch.equal(first, second[:3])


def layers_for_window() -> int:
    return next(n for n in range(1, 20) if " see a 15x15 window" in describe_stack(n))


SOLUTIONS = {"prefix_draws": prefix_draws, "layers_for_window": layers_for_window}
