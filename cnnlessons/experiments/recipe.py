"""Training ResNet in practice: the recipe from the slides as named settings of ``fit``.

The slide (CS231n 2017, lecture 9) lists: BN after every conv, "Xavier/2" (He) init, SGD +
momentum 0.9, learning rate 0.1 divided by 10 when the validation error plateaus, mini-batch
256, weight decay 1e-5, no dropout. He et al. (2016) trained ImageNet with weight decay
**1e-4** (and CIFAR with 1e-4, batch 128): the slide's 1e-5 is ten times smaller. The recipe
here follows the paper (``PAPER``); ``SLIDE`` keeps the slide's numbers for comparison.

A ``Recipe`` says how to build the model (``model_kwargs``: BN or not, the init) and gives
the optimizer and scheduler for a model::

    r = PAPER
    model = cifar_resnet(20, **r.model_kwargs)
    opt, sched = r.optimizer(model), None
    sched = r.scheduler(opt)
    fit(model, Batches(x, y, r.batch_size), opt, scheduler=sched, val=..., epochs=...)

``fit`` steps ``ReduceLROnPlateau`` with the validation error after each evaluation. No
dropout anywhere: the CIFAR/ImageNet ResNets have none (BN regularises enough, the paper says).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from ..analysis.cost import count_parameters
from ..models.cifar_resnet import INITS


@dataclass(frozen=True)
class Recipe:
    """One training recipe. ``lr`` is divided by ``1 / plateau_factor`` after ``patience``
    evaluations without improvement of the monitored error."""

    name: str
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    batch_size: int = 128
    batch_norm: bool = True
    init: str = "he"
    plateau_factor: float = 0.1
    patience: int = 2
    # Fractions of training at which the lr is divided by 10 (the CIFAR schedule); empty: on plateau.
    milestones: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0; got {self.lr}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1); got {self.momentum}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0; got {self.weight_decay}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got {self.batch_size}")
        if self.init not in INITS:
            raise ValueError(f"init must be one of {INITS}; got {self.init!r}")
        if not 0 < self.plateau_factor < 1:
            raise ValueError(f"plateau_factor must be in (0, 1); got {self.plateau_factor}")
        if self.patience < 0:
            raise ValueError(f"patience must be >= 0; got {self.patience}")
        if not all(0 < m < 1 for m in self.milestones):
            raise ValueError(f"milestones must be fractions of training in (0, 1); got {self.milestones}")

    @property
    def model_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``cifar_resnet``: BN after every conv or not, and the init."""
        return {"batch_norm": self.batch_norm, "init": self.init}

    def optimizer(self, model: nn.Module) -> torch.optim.SGD:
        """SGD with this recipe's learning rate, momentum and (L2) weight decay on all weights."""
        return torch.optim.SGD(model.parameters(), lr=self.lr, momentum=self.momentum,
                               weight_decay=self.weight_decay)

    def scheduler(self, optimizer: torch.optim.Optimizer, *, steps: int | None = None,
                  eval_every: int = 1) -> torch.optim.lr_scheduler.LRScheduler | torch.optim.lr_scheduler.ReduceLROnPlateau:
        """Divide the learning rate by 10 when the monitored error stops falling or, with
        ``milestones``, at those fractions of ``steps`` (``fit`` steps a scheduler once per
        evaluation, every ``eval_every`` steps: after ``k`` evaluations the lr is
        ``lr * 0.1 ** #{m : k * eval_every >= m * steps}``)."""
        if not self.milestones:
            return torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, mode="min", factor=self.plateau_factor, patience=self.patience)
        if steps is None:
            raise ValueError(f"recipe {self.name!r} divides the lr at fractions of training: give steps=")
        cuts = [m * steps for m in self.milestones]
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda k: self.plateau_factor ** sum(k * eval_every >= c for c in cuts))

    def with_(self, **changes: Any) -> "Recipe":
        """A copy with some settings changed (e.g. ``PAPER.with_(batch_size=64)``)."""
        return replace(self, **changes)


# He et al. (arXiv 2015, CVPR 2016), ImageNet, section 3.4: batch 256, lr 0.1 /10 on plateau, wd 1e-4,
# momentum 0.9.
PAPER = Recipe("paper", batch_size=256)
# The same paper on CIFAR-10, section 4.2: batch 128, lr 0.1 divided by 10 at 32k and 48k of 64k
# iterations (50% and 75% of training), wd 1e-4, momentum 0.9, He init, BN.
CIFAR = Recipe("paper, CIFAR", batch_size=128, milestones=(0.5, 0.75))
# The CS231n slide: the same, but weight decay 1e-5 (10x smaller than the paper's).
SLIDE = Recipe("slide", batch_size=256, weight_decay=1e-5)


def ablations(base: Recipe = PAPER) -> dict[str, Recipe]:
    """``base`` and one variant per removed ingredient: no BN, no He init, no momentum.

    "no He init" uses N(0, 0.01^2) conv weights (``init="small"``); "no momentum" plain SGD.
    """
    return {
        "full recipe": base,
        "no BN": base.with_(name="no BN", batch_norm=False),
        "no He init": base.with_(name="no He init", init="small"),
        "no BN, no He init": base.with_(name="no BN, no He init", batch_norm=False, init="small"),
        "no momentum": base.with_(name="no momentum", momentum=0.0),
    }


@dataclass
class RecipeRun:
    """One short training run of ``run_recipe``."""

    recipe: Recipe
    seed: int
    history: Any            # cnnlessons.train.History
    val_error: float        # eval mode, held-out images, at the end
    params: int

    @property
    def final_train_error(self) -> float:
        """Training error (train mode, per step) over the last 10% of the run (``History``)."""
        return self.history.final_train_error

    @property
    def diverged(self) -> bool:
        """A loss became NaN or infinite (``fit`` stopped there)."""
        return self.history.convergence.diverged


def run_recipe(recipe: Recipe, train: tuple[torch.Tensor, torch.Tensor], val: tuple[torch.Tensor, torch.Tensor], *,
               depth: int = 20, steps: int = 200, seed: int = 0, eval_every: int = 25,
               device: torch.device | str = "cpu", show_progress: bool = True, **model_kwargs: Any) -> RecipeRun:
    """Train a fresh ``cifar_resnet(depth)`` built and optimised as ``recipe`` says, with ``fit``.

    The number of classes is taken from the training labels; ``model_kwargs`` go to
    ``cifar_resnet`` (e.g. ``se=True``, ``widths=(8, 16, 32)``). The scheduler is stepped with
    the validation error every ``eval_every`` steps.
    """
    from ..models.cifar_resnet import cifar_resnet
    from ..seeding import seed_everything
    from ..train import Batches, fit

    (x, y), (xv, yv) = train, val
    seed_everything(seed)
    model = cifar_resnet(depth, num_classes=int(y.max()) + 1, **recipe.model_kwargs, **model_kwargs)
    optimizer = recipe.optimizer(model)
    history = fit(model, Batches(x, y, recipe.batch_size, seed=seed, device=device), optimizer, steps=steps,
                  scheduler=recipe.scheduler(optimizer), val=Batches(xv, yv, 500, shuffle=False),
                  eval_every=eval_every, device=device, desc=recipe.name, show_progress=show_progress)
    return RecipeRun(recipe, seed, history, history.val_error[-1], count_parameters(model))
