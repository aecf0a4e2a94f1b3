"""The modern training recipe, as named settings of ``cnnlessons.train.fit``: AdamW with a linear
warm-up and a cosine decay to zero.

This is the recipe family that DeiT (Touvron et al. 2021) and ConvNeXt (Liu et al. 2022, section 2.1:
AdamW, 20 warm-up epochs, cosine decay) train with, where the ResNet paper used SGD with momentum and
steps of the learning rate (``recipe.PAPER``). ConvNeXt trained every network of its roadmap with one
such recipe, so that the comparison is about the networks; lesson 07 does the same for its ViT and
its ResNet, and for the networks it samples from design spaces. (The papers' augmentations, Mixup,
CutMix, RandAugment, and its stochastic depth and label smoothing are left out: the procedural task
draws fresh images instead.)

The learning rate after ``k`` evaluations (``fit`` steps the scheduler once per ``eval_every`` steps)
is ``lr * min(1, (k + 1) / warmup_evals) * (1 + cos(pi * k / n)) / 2`` with ``n = steps / eval_every``:
it decays to zero as the run ends, so a run that takes all its steps has finished its schedule.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from ..seeding import seed_everything
from ..train import Batches, History, evaluate, fit


@dataclass(frozen=True)
class ModernRecipe:
    """AdamW, ``warmup`` (a fraction of the run) of linear warm-up, then cosine decay to zero."""

    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup: float = 0.05
    batch_size: int = 64

    def __post_init__(self) -> None:
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0; got {self.lr}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0; got {self.weight_decay}")
        if not 0 <= self.warmup < 1:
            raise ValueError(f"warmup must be a fraction of the run in [0, 1); got {self.warmup}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got {self.batch_size}")

    def optimizer(self, model: nn.Module) -> torch.optim.AdamW:
        return torch.optim.AdamW(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)

    def scheduler(self, optimizer: torch.optim.Optimizer, steps: int, eval_every: int) -> torch.optim.lr_scheduler.LambdaLR:
        """Warm-up then cosine, as a factor of ``lr`` per evaluation (see the module's docstring)."""
        n = max(1, math.ceil(steps / eval_every))
        warm = max(1.0, self.warmup * n)
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda k: min(1.0, (k + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(k, n) / n)))

    def with_(self, **changes: Any) -> "ModernRecipe":
        return replace(self, **changes)


MODERN = ModernRecipe()


@dataclass
class TrainedRun:
    """One model trained with ``train``: its history (and convergence), held-out error and size."""

    name: str
    seed: int
    history: History
    val_error: float      # eval mode, on the held-out images, at the end of training
    params: int

    @property
    def convergence(self) -> Any:
        return self.history.convergence

    @property
    def final_train_error(self) -> float:
        return self.history.final_train_error


def train(name: str, model: nn.Module, data: tuple[torch.Tensor, torch.Tensor], held_out: tuple[torch.Tensor, torch.Tensor],
          *, steps: int, seed: int, recipe: ModernRecipe = MODERN, eval_every: int = 25,
          device: torch.device | str = "cpu", show_progress: bool = False) -> TrainedRun:
    """Train ``model`` on ``data`` for ``steps`` steps with ``recipe`` (batches shuffled from ``seed``;
    build the model after ``seed_everything(seed)`` for a seeded initialisation), then measure its
    error on ``held_out`` in eval mode."""
    (x, y), (xv, yv) = data, held_out
    seed_everything(seed)
    optimizer = recipe.optimizer(model)
    history = fit(model, Batches(x, y, recipe.batch_size, seed=seed, device=device), optimizer, steps=steps,
                  scheduler=recipe.scheduler(optimizer, steps, eval_every), eval_every=eval_every, device=device,
                  desc=name, show_progress=show_progress)
    _, val_error = evaluate(model, Batches(xv, yv, 500, shuffle=False, device=device), device)
    return TrainedRun(name, seed, history, val_error, sum(p.numel() for p in model.parameters()))


__all__ = ["MODERN", "ModernRecipe", "TrainedRun", "train"]
