"""Exercises for lesson 00, the welcome: predict first, then check by computing.

``smaller_lr`` asks about a training run: its expected answer is computed by training the lesson's
tiny CNN twice (a few seconds, once, at the first check).
"""
from __future__ import annotations

import functools

import torch
from torch import nn

from . import Exercise

CLASSES = ("disk", "square", "triangle", "plus")


def tiny_cnn(num_classes: int = len(CLASSES)) -> nn.Sequential:
    """The small CNN lesson 00 trains: three conv-BN-ReLU layers, global average pooling, a linear layer."""
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, num_classes),
    )


def final_loss(lr: float, *, steps: int = 150, seed: int = 0) -> float:
    """Train ``tiny_cnn`` as lesson 00 does (1,024 shapes of 16x16, batches of 64, SGD with momentum 0.9,
    on the CPU) at learning rate ``lr``; the mean loss of the last 10 steps."""
    from .. import Batches, fit, seed_everything
    from ..data import make_shapes

    seed_everything(seed)
    x, y = make_shapes(1024, size=16, classes=list(CLASSES), seed=seed)
    model = tiny_cnn()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    history = fit(model, Batches(x, y, 64, seed=seed, device="cpu"), optimizer, steps=steps, device="cpu",
                  desc=f"tiny CNN, lr {lr}", show_progress=False)
    return sum(history.loss[-10:]) / 10


@functools.cache
def _smaller_lr_ends_higher() -> bool:
    return final_loss(0.01) > final_loss(0.1)


prefix_draws = Exercise(
    name="prefix_draws",
    question="Predict, then check: after seed_everything(0) you draw torch.randn(3); after "
             "seed_everything(0) again you draw torch.randn(5). Are the first three numbers of the "
             "second draw the same as the first draw? Answer True or False, computed.",
    is_correct=lambda answer: answer is True,
    hint="A seeded generator produces one fixed stream of numbers, and each draw takes the next numbers "
         "from it. Make both draws and compare the right part of the second one with the first.",
)

smaller_lr = Exercise(
    name="smaller_lr",
    question="Predict, then run: train the lesson's tiny CNN again, the same way (150 steps, seed 0), with a "
             "learning rate ten times smaller, 0.01 instead of 0.1. Does it end with a higher loss (the mean of "
             "its last 10 steps) than the run with 0.1? Answer True or False, computed by training both.",
    is_correct=lambda answer: isinstance(answer, bool) and answer == _smaller_lr_ends_higher(),
    hint="Copy the training cell, change lr, and compare sum(history.loss[-10:]) / 10 of the two runs (use "
         "steps=150 and seed 0 for both). A smaller step moves the weights less per update.",
    praise="Right: with steps ten times smaller, 150 updates get the loss less far down. A smaller learning rate "
           "can end lower in a longer run; in a fixed, short budget it usually ends higher.",
)

ALL = (prefix_draws, smaller_lr)
