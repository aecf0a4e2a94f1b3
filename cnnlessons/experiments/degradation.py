"""The degradation problem (He et al., arXiv 2015 / CVPR 2016, Fig. 1 and 6): deeper plain nets
end with a HIGHER training error than shallower ones; residual nets do not.

``degradation_experiment`` trains shallow and deep, plain and residual ``cifar_resnet`` nets
with the same budget and the paper's CIFAR recipe (``recipe.CIFAR``: SGD lr 0.1, momentum 0.9,
weight decay 1e-4, batch 128, lr / 10 at 50% and 75% of the schedule) on the procedural shapes
task, with ``cnnlessons.train.fit``, and records their curves and whether each run finished,
plateaued and converged (``cnnlessons.train.Convergence``). With ``budget_seeds`` it also trains
those seeds at twice the schedule (the budget check: does a longer schedule change the result?),
and with ``workers > 1`` it trains the runs in parallel processes (each run is seeded on its own,
so the results are the same as one after the other).

``degradation_claims`` states the lesson's claims from a summary (a live run's or a record's);
``gradient_norms`` measures per-layer gradients at initialisation; ``layer_responses`` the
standard deviation of each 3x3 layer's response (the paper's Fig. 7); ``plot_curves`` draws
training curves, one colour per depth, dashed for plain nets.
"""
from __future__ import annotations

import copy
import functools
import math
import statistics
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..data.procedural import CLASS_NAMES, make_shapes
from ..models.cifar_resnet import BasicBlock, cifar_resnet
from ..seeding import seed_everything
from ..train import Batches, BudgetCheck, History, evaluate, fit
from .curves import plot_curves
from .parallel import run_all
from .recipe import CIFAR, Recipe

CHANCE = 1 - 1 / 20  # training error of a guess on the 20-class shapes task
# The length of the lesson's lr schedule (its full preset's steps, about 15 epochs of 40,000 images):
# with ``recipe.CIFAR`` the lr is divided by 10 at steps 2,350 and 3,525. As in the paper, whose
# schedule is fixed in iterations (32k and 48k of 64k), a shorter run is the beginning of the same
# schedule, not a squeezed copy of it: squeezing would anneal a short run into a plateau far above
# where it would end, and the convergence check would take that plateau for the end of training.
SCHEDULE_STEPS = 4700


# --- gradients and responses -------------------------------------------------------------------

def gradient_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """L2 norm of the cross-entropy loss's gradient w.r.t. each conv/linear weight, one batch.

    In forward (input-to-output) order, computed in train mode as the first training step
    would; the model's parameters, gradients and BN statistics are left untouched.
    """
    probe = copy.deepcopy(model).train()
    probe.zero_grad(set_to_none=True)
    F.cross_entropy(probe(x), y).backward()
    return {name: m.weight.grad.norm().item() for name, m in probe.named_modules()  # type: ignore[union-attr]
            if isinstance(m, (nn.Conv2d, nn.Linear))}


@torch.no_grad()
def layer_responses(model: nn.Module, x: torch.Tensor) -> list[float]:
    """The standard deviation of every block's 3x3-layer responses, input to output (He et al., Fig. 7).

    As in the paper, a response is the output of a 3x3 conv layer after its BN and before any
    non-linearity or addition: ``bn1`` and ``bn2`` of each ``BasicBlock``, two per block. In a
    residual block ``bn2``'s output is the residual function ``F(x)`` itself. Measured in eval
    mode on ``x``; the model is left as it was (mode and BN statistics)."""
    ends = [m for b in model.modules() if isinstance(b, BasicBlock) for m in (b.bn1, b.bn2)]
    if not ends:
        raise TypeError("layer_responses needs a model built of BasicBlock modules (cifar_resnet)")
    stds: list[float] = []
    hooks = [m.register_forward_hook(lambda module, inputs, output: stds.append(output.float().std().item()))
             for m in ends]
    was_training = model.training
    model.eval()
    try:
        model(x)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return stds


# --- the degradation experiment ---------------------------------------------------------------

@dataclass
class Run:
    """One trained net: its family ("plain"/"residual"), depth, seed, history and final errors."""

    family: str
    depth: int
    seed: int
    history: History
    eval_train_error: float   # eval mode (BN's running statistics), on the whole training set
    test_error: float         # eval mode, on held-out images
    model: nn.Module = field(repr=False)

    @property
    def name(self) -> str:
        return f"{self.family}-{self.depth}"

    @property
    def steps(self) -> int:
        return len(self.history.error)

    @property
    def final_train_error(self) -> float:
        """Mean training error (train mode, as the batches went by) over the last 10% of steps."""
        return self.history.final_train_error

    @property
    def converged(self) -> bool:
        """Finished its schedule, plateaued, finite, not at chance (``cnnlessons.train.Convergence``)."""
        return self.history.converged


@dataclass
class DegradationResult:
    """The runs of ``degradation_experiment``; ``longer`` holds the budget check's runs (the same
    nets and seeds trained on a schedule ``factor`` times as long), ``None`` without one."""

    runs: list[Run] = field(default_factory=list)
    longer: "DegradationResult | None" = None

    def get(self, family: str, depth: int) -> list[Run]:
        return [r for r in self.runs if r.family == family and r.depth == depth]

    def nets(self) -> list[tuple[str, int]]:
        """The (family, depth) pairs that were trained, plain before residual, shallow first."""
        return sorted({(r.family, r.depth) for r in self.runs})

    def mean(self, family: str, depth: int, key: str = "eval_train_error") -> float:
        return statistics.fmean(getattr(r, key) for r in self.get(family, depth))

    def per_seed(self, family: str, depth: int, key: str = "eval_train_error") -> list[float]:
        return [getattr(r, key) for r in self.get(family, depth)]

    def table(self):
        """Per net, mean over seeds: final training error (train mode), its change over the last fifth,
        how many seeds finished, plateaued and converged, eval-mode training and test error, s/run."""
        from ..io import Table

        rows = []
        for family, depth in self.nets():
            runs = self.get(family, depth)
            n = len(runs)
            conv = [r.history.convergence for r in runs]
            rows.append([f"{family}-{depth}", f"{self.mean(family, depth, 'final_train_error'):.3f}",
                         f"{statistics.fmean(c.change for c in conv):+.3f}",
                         f"{sum(c.finished for c in conv)}/{n}", f"{sum(c.plateaued for c in conv)}/{n}",
                         f"{sum(c.converged for c in conv)}/{n}", f"{self.mean(family, depth):.3f}",
                         f"{self.mean(family, depth, 'test_error'):.3f}",
                         f"{statistics.fmean(r.history.seconds for r in runs):.0f}"])
        return Table(["net", "training error (train mode)", "change, last fifth", "finished", "plateaued",
                      "converged", "training error (eval mode)", "test error", "s/run"], rows)

    def curves(self) -> dict[str, dict[str, list]]:
        """Training-error curves per net: ``{"plain-8": {"step": [...], "error": [[seed 0], [seed 1]]}}``
        (the form ``plot_curves`` draws, and a recorded run stores)."""
        out = {}
        for family, depth in self.nets():
            runs = self.get(family, depth)
            out[f"{family}-{depth}"] = {"step": list(runs[0].history.eval_step),
                                        "error": [[round(e, 4) for e in r.history.window_error] for r in runs]}
        return out

    def summary(self) -> dict[str, list[float]]:
        """Per net, one value per seed: final training error (train mode, last 10% of steps), its change
        over the last fifth, converged (1/0), eval-mode training and test error (``degradation_claims``
        reads this, from a live run or a record)."""
        out: dict[str, list[float]] = {}
        for family, depth in self.nets():
            runs, net = self.get(family, depth), f"{family}-{depth}"
            out[f"{net} final training error"] = [round(r.final_train_error, 4) for r in runs]
            out[f"{net} training error change"] = [round(r.history.train_error_change, 4) for r in runs]
            out[f"{net} converged"] = [int(r.converged) for r in runs]
            out[f"{net} training error (eval)"] = [round(r.eval_train_error, 4) for r in runs]
            out[f"{net} test error"] = [round(r.test_error, 4) for r in runs]
        return out

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per run, this result's and the budget check's (``records.save_record(rows=...)``):
        the net, seed, steps and schedule, the three convergence words with the reason, and the errors."""
        out = []
        for run in self.runs + (self.longer.runs if self.longer else []):
            c = run.history.convergence
            out.append({"net": run.name, "family": run.family, "depth": run.depth, "seed": run.seed,
                        "steps": c.steps, "schedule steps": c.planned_steps, "finished": c.finished,
                        "plateaued": c.plateaued, "converged": c.converged, "reason": c.reason,
                        "final training error": round(c.final_train_error, 4),
                        "training error change": round(c.change, 4),
                        "training error (eval)": round(run.eval_train_error, 4),
                        "test error": round(run.test_error, 4)})
        return out

    def budget_checks(self) -> dict[str, BudgetCheck]:
        """``{"plain-8 seed 0": BudgetCheck}``: each run of ``longer`` against the same net and seed
        here (where its final training error was, and where twice the schedule took it)."""
        if self.longer is None:
            raise ValueError("this result has no budget check: run degradation_experiment with budget_seeds")
        out = {}
        for long in self.longer.runs:
            short = [r for r in self.get(long.family, long.depth) if r.seed == long.seed]
            if len(short) != 1:
                raise ValueError(f"no run of {long.name} seed {long.seed} to compare the longer run with")
            out[f"{long.name} seed {long.seed}"] = BudgetCheck.of(short[0].history, long.history)
        return out

    def plot(self, ax=None, **kwargs):
        """Training error against steps (``plot_curves`` of ``curves()``)."""
        return plot_curves(self.curves(), ax, **kwargs)


def shapes_task(n_train: int, n_test: int, *, size: int = 16, classes: int = 20, seed: int = 0):
    """Train/test tensors from ``make_shapes``: the first ``classes`` shape classes, ``size`` pixels."""
    if not 2 <= classes <= len(CLASS_NAMES):
        raise ValueError(f"classes must be in [2, {len(CLASS_NAMES)}]; got {classes}")
    x, y = make_shapes(n_train + n_test, size=size, classes=CLASS_NAMES[:classes], seed=seed)
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


@functools.lru_cache(maxsize=2)
def _task(n_train: int, n_test: int, size: int, classes: int, seed: int):
    """``shapes_task``, generated once per process (each worker makes its own copy)."""
    return shapes_task(n_train, n_test, size=size, classes=classes, seed=seed)


@dataclass(frozen=True)
class _Job:
    """One training run of the experiment, everything a worker process needs to repeat it."""

    family: str
    depth: int
    seed: int
    steps: int
    schedule_steps: int
    recipe: Recipe
    n_train: int
    n_test: int
    size: int
    classes: int
    widths: tuple[int, ...]
    eval_every: int
    device: str
    data_seed: int
    show_progress: bool


def _train(job: _Job) -> Run:
    """Train and evaluate one net (in this process or a worker's)."""
    (xtr, ytr), (xte, yte) = _task(job.n_train, job.n_test, job.size, job.classes, job.data_seed)
    seed_everything(job.seed)
    model = cifar_resnet(job.depth, residual=job.family == "residual", num_classes=job.classes, widths=job.widths,
                         **job.recipe.model_kwargs)
    optimizer = job.recipe.optimizer(model)
    history = fit(model, Batches(xtr, ytr, job.recipe.batch_size, seed=job.seed, device=job.device), optimizer,
                  steps=job.steps, eval_every=job.eval_every, device=job.device,
                  scheduler=job.recipe.scheduler(optimizer, steps=job.schedule_steps, eval_every=job.eval_every),
                  schedule_steps=job.schedule_steps, desc=f"{job.family}-{job.depth} seed {job.seed}",
                  show_progress=job.show_progress)
    _, eval_train_error = evaluate(model, Batches(xtr, ytr, 500, shuffle=False), job.device)
    _, test_error = evaluate(model, Batches(xte, yte, 500, shuffle=False), job.device)
    return Run(job.family, job.depth, job.seed, history, eval_train_error, test_error, model.cpu().eval())


def degradation_experiment(depths: Sequence[int] = (8, 32), seeds: Sequence[int] = (0,), *,
                           steps: int = 300, recipe: Recipe = CIFAR, schedule_steps: int | None = None,
                           n_train: int = 4000,
                           n_test: int = 1000, size: int = 16, classes: int = 20,
                           widths: Sequence[int] = (8, 16, 32), eval_every: int = 25,
                           families: Sequence[str] = ("plain", "residual"),
                           device: torch.device | str = "cpu", data_seed: int = 0,
                           budget_seeds: Sequence[int] = (), budget_factor: int = 2, workers: int = 1,
                           show_progress: bool = True) -> DegradationResult:
    """Train every (family, depth) net for the same ``steps`` SGD steps, once per seed, with
    ``recipe`` (default: the paper's CIFAR recipe; its batch size, lr, momentum, weight decay,
    lr schedule, BN and init). The recipe's lr milestones are fractions of ``schedule_steps``
    (default: ``steps``); with ``schedule_steps > steps`` the run is the first part of that schedule,
    and it has not *finished*.

    The data are fixed (``data_seed``); each seed changes the initialisation and the batch
    order. Each run records its ``History`` (training error per window of ``eval_every`` steps,
    and its ``Convergence``) and, at the end, the error in eval mode on the whole training set and
    on ``n_test`` held-out images.

    ``budget_seeds``: for these seeds, every net is also trained on a schedule ``budget_factor``
    times as long (steps and lr drops scaled alike); they land in ``result.longer`` and
    ``result.budget_checks()`` compares them (``cnnlessons.train.BudgetCheck``). The main runs must
    then have finished their schedule. ``workers``: train in that many processes at once.
    """
    if any(f not in ("plain", "residual") for f in families):
        raise ValueError(f"families must be drawn from ('plain', 'residual'); got {families!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive number of processes; got {workers!r}")
    schedule = schedule_steps or steps
    if budget_seeds and steps != schedule:
        raise ValueError(f"a budget check doubles a finished schedule: steps ({steps}) must equal schedule_steps "
                         f"({schedule})")
    if budget_seeds and (isinstance(budget_factor, bool) or not isinstance(budget_factor, int) or budget_factor < 2):
        raise ValueError(f"budget_factor must be a whole number >= 2; got {budget_factor!r}")
    unknown = sorted(set(budget_seeds) - set(seeds))
    if unknown:
        raise ValueError(f"budget_seeds must be among seeds {list(seeds)}; got {unknown}")
    common = dict(recipe=recipe, n_train=n_train, n_test=n_test, size=size, classes=classes, widths=tuple(widths),
                  eval_every=eval_every, device=str(device), data_seed=data_seed,
                  show_progress=show_progress and workers == 1)
    jobs = [_Job(family, depth, seed, steps, schedule, **common)
            for seed in seeds for family in families for depth in depths]
    jobs += [_Job(family, depth, seed, budget_factor * steps, budget_factor * schedule, **common)
             for seed in budget_seeds for family in families for depth in depths]
    runs = run_all(_train, jobs, workers, cost=lambda job: job.steps * job.depth, desc=f"{len(jobs)} runs",
                   show_progress=show_progress)
    main = len(seeds) * len(families) * len(depths)
    result = DegradationResult(runs[:main])
    if budget_seeds:
        result.longer = DegradationResult(runs[main:])
    return result


def degradation_claims(claims, summary: dict[str, list[float]], shallow: int, deep: int, *,
                       steps: int, require_convergence: bool, label: str = "") -> dict[str, list[float]]:
    """Check the lesson's degradation claims on ``summary`` (``DegradationResult.summary()`` of a
    live run, or a record's) and return the per-seed numbers they compare.

    - **(a) speed**: after ``steps`` steps plain-deep's final training error is above plain-shallow's
      on every seed (where training stands after this budget: before the end of the schedule, a
      statement about how fast each net learns);
    - **(b)** residual-deep's final training error is at most 3/4 of plain-deep's on every seed;
    - **end of the schedule** (the paper's result): plain-deep ends above plain-shallow on every
      seed, and residual-deep ends at or below residual-shallow on the mean over seeds. These are
      checked only when every run converged (finished its schedule, plateaued, finite, above chance;
      ``Claims.check_trained``); if not, they are listed as skipped with the reason, or, with
      ``require_convergence`` (the ``full`` preset), they fail.

    Training error in train mode (each batch as it went by, the last 10% of the run), as in the paper's curves.
    """
    from ..claims import at_most, above, converged, on_every_seed, on_mean

    nets = [f"{f}-{d}" for f in ("plain", "residual") for d in (shallow, deep)]
    final = {n: summary[f"{n} final training error"] for n in nets}
    runs = {f"{n} seed {i}": _RecordedConvergence(bool(c))
            for n in nets for i, c in enumerate(summary[f"{n} converged"])}
    ps, pd, rs, rd = (f"plain-{shallow}", f"plain-{deep}", f"residual-{shallow}", f"residual-{deep}")
    numbers = {
        "plain gap": [round(d - s, 4) for d, s in zip(final[pd], final[ps])],
        "residual/plain": [_ratio(r, p) for r, p in zip(final[rd], final[pd])],
        "residual gap": [round(d - s, 4) for d, s in zip(final[rd], final[rs])],
    }
    claims.check(f"{label}(a) after {steps:,} steps: {pd} minus {ps} final training error", numbers["plain gap"],
                 on_every_seed(above(0)))
    claims.check(f"{label}(b) after {steps:,} steps: {rd} / {pd} final training error", numbers["residual/plain"],
                 on_every_seed(at_most(0.75)))
    at_the_end = [(f"{label}end of the schedule: {pd} minus {ps} final training error (degradation)",
                   numbers["plain gap"], on_every_seed(above(0))),
                  (f"{label}end of the schedule: {rd} minus {rs} final training error (no degradation)",
                   numbers["residual gap"], on_mean(at_most(0)))]
    all_converged = all(converged(r) for r in runs.values())
    for claim, value, expected in at_the_end:
        if all_converged or require_convergence:
            claims.check_trained(claim, value, expected, runs=runs)
        else:
            unfinished = sum(not r.converged for r in runs.values())
            claims.skip(claim, f"{unfinished} of {len(runs)} runs have not converged (they have not finished the "
                               "schedule); the recorded run checks it")
    return numbers


def _ratio(residual: float, plain: float) -> float:
    """``residual / plain`` rounded, with no silent value where the plain net reached zero error:
    infinite if the residual net did not, NaN (which no bound accepts) if neither did."""
    if plain:
        return round(residual / plain, 3)
    return math.inf if residual else math.nan


@dataclass(frozen=True)
class _RecordedConvergence:
    """Whether a run converged, as a summary stores it (1/0 per seed)."""

    converged: bool
