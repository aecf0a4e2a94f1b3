"""Training ResNet in practice: the recipe from the slides as named settings of ``fit``, and a fair
way to compare recipes (each with its own learning rate, chosen on validation).

The slide (CS231n 2017, lecture 9) lists: BN after every conv, "Xavier/2" (He) init, SGD +
momentum 0.9, learning rate 0.1 divided by 10 when the validation error plateaus, mini-batch
256, weight decay 1e-5, no dropout. He et al. (2016) trained ImageNet with weight decay
**1e-4** (and CIFAR with 1e-4, batch 128): the slide's 1e-5 is ten times smaller. The recipe
here follows the paper (``PAPER``); ``SLIDE`` keeps the slide's numbers for comparison.

A ``Recipe`` says how to build the model (``model_kwargs``: BN or not, the init), gives the optimizer,
the scheduler and the loss::

    r = PAPER
    model = cifar_resnet(20, **r.model_kwargs)
    opt = r.optimizer(model)
    fit(model, Batches(x, y, r.batch_size), opt, scheduler=r.scheduler(opt, steps=n), loss_fn=r.loss_fn,
        val=..., steps=n)

The later recipe's pieces are options of the same ``Recipe``: a cosine schedule, a linear warm-up and
label smoothing (He et al., "Bag of Tricks", 2019). No dropout anywhere: the CIFAR/ImageNet ResNets
have none.

``compare`` trains ``Variant`` s of a recipe fairly: each searched variant gets the learning rate
with the lowest validation error from a grid (on the first seed; the other seeds reuse it), every
seed reports its error on a test split that no choice has seen, and variants compare seed by seed.
"""
from __future__ import annotations

import functools
import math
import statistics
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..models.cifar_resnet import INITS
from .parallel import run_all, worker_pool

#: The validation error of a run is the mean of its last ``VAL_WINDOW`` evaluations (one is too spiky).
VAL_WINDOW = 4
#: The learning rates a searched variant chooses from: half-decades, one grid for every variant.
LR_GRID: tuple[float, ...] = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)


@dataclass(frozen=True)
class Recipe:
    """One training recipe. ``lr`` is divided by ``1 / plateau_factor`` after ``patience``
    evaluations without improvement of the monitored error, or at ``milestones`` (fractions of
    training), or follows half a cosine to 0 (``cosine``); ``warmup_steps`` ramp it up linearly first."""

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
    cosine: bool = False          # lr * (1 + cos(pi t / T)) / 2 (Loshchilov & Hutter 2017)
    warmup_steps: int = 0         # linear warm-up over the first steps (Goyal et al. 2017)
    label_smoothing: float = 0.0  # the target puts 1 - e on the class and e spread over all classes

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
        if self.cosine and self.milestones:
            raise ValueError("a recipe has milestones or a cosine schedule, not both")
        if self.warmup_steps < 0 or (self.warmup_steps and not (self.cosine or self.milestones)):
            raise ValueError(f"warmup_steps must be >= 0, and goes with a cosine or milestone schedule (not the "
                             f"plateau rule); got {self.warmup_steps}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1); got {self.label_smoothing}")

    @property
    def model_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``cifar_resnet``: BN after every conv or not, and the init."""
        return {"batch_norm": self.batch_norm, "init": self.init}

    @property
    def loss_fn(self) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """Cross-entropy, with this recipe's label smoothing."""
        if self.label_smoothing:
            return functools.partial(F.cross_entropy, label_smoothing=self.label_smoothing)
        return F.cross_entropy

    def optimizer(self, model: nn.Module) -> torch.optim.SGD:
        """SGD with this recipe's learning rate, momentum and (L2) weight decay on all weights."""
        return torch.optim.SGD(model.parameters(), lr=self.lr, momentum=self.momentum,
                               weight_decay=self.weight_decay)

    def scheduler(self, optimizer: torch.optim.Optimizer, *, steps: int | None = None,
                  eval_every: int = 1) -> torch.optim.lr_scheduler.LRScheduler | torch.optim.lr_scheduler.ReduceLROnPlateau:
        """Divide the learning rate by 10 when the monitored error stops falling or, with
        ``milestones``, at those fractions of ``steps``; or follow a cosine over ``steps``. ``fit`` steps
        a scheduler once per evaluation, every ``eval_every`` steps: after ``k`` evaluations (``t = k
        eval_every`` steps) the lr is ``lr * warm(t) * 0.1 ** #{m : t >= m steps}`` or ``lr * warm(t) *
        (1 + cos(pi t / steps)) / 2``, with ``warm(t) = min(1, (t + eval_every) / warmup_steps)``."""
        if not self.milestones and not self.cosine:
            return torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, mode="min", factor=self.plateau_factor, patience=self.patience)
        if steps is None:
            raise ValueError(f"recipe {self.name!r} follows a schedule in steps: give steps=")
        cuts = [m * steps for m in self.milestones]

        def factor(k: int) -> float:
            t = k * eval_every
            warm = min(1.0, (t + eval_every) / self.warmup_steps) if self.warmup_steps else 1.0
            if self.cosine:
                return warm * 0.5 * (1 + math.cos(math.pi * min(t, steps) / steps))
            return warm * self.plateau_factor ** sum(t >= c for c in cuts)
        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)

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
    """``base`` and one variant per removed ingredient: no BN, no He init, no momentum; and no BN
    with the small init (which, unlike no BN alone, keeps an un-normalised residual net's signal small).

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
    """One training run of ``run_recipe``."""

    recipe: Recipe
    seed: int
    history: Any            # cnnlessons.train.History
    val_error: float        # eval mode, the mean of the last VAL_WINDOW evaluations
    params: int
    test_error: float | None = None   # eval mode, the test split, once at the end (None: no test split given)

    @property
    def final_train_error(self) -> float:
        """Training error (train mode, per step) over the last 10% of the run (``History``)."""
        return self.history.final_train_error

    @property
    def diverged(self) -> bool:
        """A loss became NaN or infinite (``fit`` stopped there)."""
        return self.history.convergence.diverged

    @property
    def at_chance(self) -> bool:
        """The final training error is at least 90% of a guess's: the net learnt nothing."""
        return self.history.convergence.at_chance

    @property
    def status(self) -> str:
        """"diverged", "stuck at chance" or "trains"."""
        return "diverged" if self.diverged else "stuck at chance" if self.at_chance else "trains"


def run_recipe(recipe: Recipe, train: tuple[torch.Tensor, torch.Tensor], val: tuple[torch.Tensor, torch.Tensor], *,
               test: tuple[torch.Tensor, torch.Tensor] | None = None, depth: int = 20, steps: int = 200, seed: int = 0,
               eval_every: int = 25, device: torch.device | str = "cpu", show_progress: bool = True,
               **model_kwargs: Any) -> RecipeRun:
    """Train a fresh ``cifar_resnet(depth)`` built and optimised as ``recipe`` says, with ``fit``.

    The number of classes is taken from the training labels; ``model_kwargs`` go to
    ``cifar_resnet`` (e.g. ``se=True``, ``widths=(8, 16, 32)``). The scheduler is stepped with
    the validation error every ``eval_every`` steps; the run's validation error is the mean of its
    last ``VAL_WINDOW`` evaluations; ``test`` (optional) is read once, at the end.
    """
    from ..models.cifar_resnet import cifar_resnet
    from ..seeding import seed_everything
    from ..train import Batches, evaluate, fit

    (x, y), (xv, yv) = train, val
    seed_everything(seed)
    model = cifar_resnet(depth, num_classes=int(y.max()) + 1, **recipe.model_kwargs, **model_kwargs)
    optimizer = recipe.optimizer(model)
    history = fit(model, Batches(x, y, recipe.batch_size, seed=seed, device=device), optimizer, steps=steps,
                  scheduler=recipe.scheduler(optimizer, steps=steps, eval_every=eval_every), loss_fn=recipe.loss_fn,
                  val=Batches(xv, yv, 500, shuffle=False), eval_every=eval_every, device=device, desc=recipe.name,
                  show_progress=show_progress)
    val_error = statistics.fmean(history.val_error[-VAL_WINDOW:]) if history.val_error else math.nan
    test_error = None if test is None else evaluate(model, Batches(*test, 500, shuffle=False), device)[1]
    return RecipeRun(recipe, seed, history, val_error, sum(p.numel() for p in model.parameters()), test_error)


# --- comparing recipes fairly ------------------------------------------------------------------

@dataclass(frozen=True)
class Variant:
    """A recipe to compare: its name, the ``Recipe``, options for ``cifar_resnet`` (``model_kwargs``),
    and ``lr_from``: the name of another variant whose chosen learning rate it uses (None: its own)."""

    name: str
    recipe: Recipe
    model_kwargs: Mapping[str, Any] = field(default_factory=dict)
    lr_from: str | None = None


@dataclass
class Choice:
    """What ``compare`` did with one variant: the grid it searched (empty when its lr was given), the
    first seed's run at each lr of the grid, the chosen ``lr``, whether that is an end of the grid
    (the best value might lie beyond), and its run on every seed at that lr."""

    variant: Variant
    grid: tuple[float, ...]
    search: dict[float, RecipeRun]
    lr: float
    at_edge: bool
    runs: list[RecipeRun]

    def per_seed(self, key: str = "test_error") -> list[float]:
        return [getattr(r, key) for r in self.runs]


def choose(search: Mapping[float, RecipeRun]) -> float:
    """The learning rate whose run has the lowest validation error among those that train (neither
    diverged nor stuck at chance); among all runs if none does."""
    training = {lr: r for lr, r in search.items() if r.status == "trains"} or dict(search)
    return min(sorted(training), key=lambda lr: training[lr].val_error)


@dataclass(frozen=True)
class _Job:
    variant: Variant
    lr: float
    seed: int
    data: tuple
    settings: tuple


def _run(job: _Job) -> RecipeRun:
    train, val, test = job.data
    return run_recipe(job.variant.recipe.with_(lr=job.lr), train, val, test=test, seed=job.seed,
                      **dict(job.settings), **dict(job.variant.model_kwargs))


def compare(variants: Sequence[Variant], data: tuple, seeds: Sequence[int], *, grid: Sequence[float] | None = LR_GRID,
            lrs: Mapping[str, float] | None = None, workers: int = 1, show_progress: bool = True,
            **settings: Any) -> dict[str, Choice]:
    """Train every variant on every seed, each at its own learning rate, and return a ``Choice`` each.

    ``data`` is ``(train, val, test)``, each ``(x, y)``. A variant without ``lr_from`` searches ``grid``
    on the first seed (validation error, ``choose``), or takes ``lrs[name]`` when ``grid`` is None (a
    choice made earlier, e.g. by a recorded run); one with ``lr_from`` uses that variant's lr. The other
    seeds train at the chosen lr; the test split only reports. ``settings`` go to ``run_recipe``
    (``steps``, ``depth``, ``widths``, ``eval_every``, ``device``)."""
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise ValueError(f"variant names must differ; got {names}")
    unknown = {v.lr_from for v in variants if v.lr_from} - {v.name for v in variants if not v.lr_from}
    if unknown:
        raise ValueError(f"lr_from must name a variant that chooses its own lr; got {sorted(unknown)}")
    own = [v for v in variants if not v.lr_from]
    if grid is None and not lrs:
        raise ValueError("give a grid to search or the chosen lrs")
    if grid is None and (missing := sorted({v.name for v in own} - set(lrs or {}))):
        raise ValueError(f"no learning rate given for {missing}")
    settings = {"show_progress": show_progress and workers == 1, **settings}
    frozen = tuple(sorted(settings.items()))
    first, rest = seeds[0], list(seeds[1:])
    search_jobs = [_Job(v, lr, first, data, frozen) for v in own for lr in (grid or ())]
    with worker_pool(workers) as pool:
        searched = run_all(_run, search_jobs, workers, pool=pool, desc="lr search", show_progress=show_progress)
        chosen = _choices(variants, own, search_jobs, searched, grid, lrs)
        jobs = [_Job(v, chosen[v.name].lr, s, data, frozen) for v in variants
                for s in (rest if chosen[v.name].runs else [first] + rest)]
        runs = run_all(_run, jobs, workers, pool=pool, desc="runs", show_progress=show_progress)
    for job, run in zip(jobs, runs):
        chosen[job.variant.name].runs.append(run)
    for c in chosen.values():
        c.runs.sort(key=lambda r: list(seeds).index(r.seed))
    return {name: chosen[name] for name in names}


def _choices(variants: Sequence[Variant], own: Sequence[Variant], search_jobs: Sequence[_Job],
             searched: Sequence[RecipeRun], grid: Sequence[float] | None,
             lrs: Mapping[str, float] | None) -> dict[str, Choice]:
    """Each variant's ``Choice`` before its runs on the other seeds."""
    chosen: dict[str, Choice] = {}
    for v in own:
        runs = {job.lr: run for job, run in zip(search_jobs, searched) if job.variant is v}
        lr = choose(runs) if grid else lrs[v.name]  # type: ignore[index]
        edge = bool(grid) and len(grid) > 1 and lr in (min(grid), max(grid))
        chosen[v.name] = Choice(v, tuple(grid or ()), runs, lr, edge, [runs[lr]] if grid else [])
    for v in variants:
        if v.lr_from:
            chosen[v.name] = Choice(v, (), {}, chosen[v.lr_from].lr, False, [])
    return chosen


def paired(a: Choice, b: Choice, key: str = "test_error") -> list[float]:
    """``a`` minus ``b`` seed by seed (negative: ``a`` is lower)."""
    if [r.seed for r in a.runs] != [r.seed for r in b.runs]:
        raise ValueError("paired differences need the same seeds in the same order")
    return [round(x - y, 4) for x, y in zip(a.per_seed(key), b.per_seed(key))]
