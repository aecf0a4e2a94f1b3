"""The degradation problem (He et al., arXiv 2015 / CVPR 2016, Fig. 1 and 6): deeper plain nets
end with a HIGHER training error than shallower ones; residual nets do not.

``degradation_experiment`` trains shallow and deep, plain and residual ``cifar_resnet`` nets
with the same budget and the paper's CIFAR recipe (``recipe.CIFAR``: SGD lr 0.1, momentum 0.9,
weight decay 1e-4, batch 128, lr / 10 at 50% and 75% of training) on the procedural shapes
task, with ``cnnlessons.train.fit``, and records their curves and whether each run converged;
``degradation_claims`` states the lesson's claims from a summary (a live run's or a record's);
``gradient_norms`` measures per-layer gradients at initialisation.
"""
from __future__ import annotations

import copy
import math
import statistics
from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..data.procedural import CLASS_NAMES, make_shapes
from ..models.cifar_resnet import cifar_resnet
from ..seeding import seed_everything
from ..train import Batches, History, evaluate, fit
from .recipe import CIFAR, Recipe

CHANCE = 1 - 1 / 20  # training error of a guess on the 20-class shapes task
# The length of the lesson's lr schedule (its full preset's steps, about 15 epochs of 40,000 images):
# with ``recipe.CIFAR`` the lr is divided by 10 at steps 2,350 and 3,525. As in the paper, whose
# schedule is fixed in iterations (32k and 48k of 64k), a shorter run is the beginning of the same
# schedule, not a squeezed copy of it: squeezing would anneal a short run into a plateau far above
# where it would end, and the convergence check would take that plateau for the end of training.
SCHEDULE_STEPS = 4700


# --- gradients at initialisation --------------------------------------------------------------

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


# --- the degradation experiment ---------------------------------------------------------------

@dataclass
class Run:
    """One trained net: its family ("plain"/"residual"), depth, seed, history and final errors."""

    family: str
    depth: int
    seed: int
    history: History
    eval_train_error: float   # eval mode (BN's running statistics), on a fixed subset of the training images
    test_error: float         # eval mode, on held-out images
    model: nn.Module = field(repr=False)

    @property
    def name(self) -> str:
        return f"{self.family}-{self.depth}"

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
    runs: list[Run] = field(default_factory=list)

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
        """Per net, mean over seeds: final training error (train mode, last 10% of steps), its change
        over the last fifth, how many seeds converged, training and test error in eval mode, seconds."""
        from ..io import Table

        rows = []
        for family, depth in self.nets():
            runs = self.get(family, depth)
            rows.append([f"{family}-{depth}", f"{self.mean(family, depth, 'final_train_error'):.3f}",
                         f"{statistics.fmean(r.history.train_error_change for r in runs):+.3f}",
                         f"{sum(r.converged for r in runs)}/{len(runs)}", f"{self.mean(family, depth):.3f}",
                         f"{self.mean(family, depth, 'test_error'):.3f}",
                         f"{statistics.fmean(r.history.seconds for r in runs):.1f}"])
        return Table(["net", "final training error", "change, last fifth", "converged", "training error (eval)",
                      "test error", "s/run"], rows)

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
        over the last fifth (``Convergence.change``, negative where it fell), whether the run converged (1/0), training and
        test error in eval mode. ``degradation_claims`` reads this, for a live run or a record."""
        out: dict[str, list[float]] = {}
        for family, depth in self.nets():
            runs, net = self.get(family, depth), f"{family}-{depth}"
            out[f"{net} final training error"] = [round(r.final_train_error, 4) for r in runs]
            out[f"{net} training error change"] = [round(r.history.train_error_change, 4) for r in runs]
            out[f"{net} converged"] = [int(r.converged) for r in runs]
            out[f"{net} training error (eval)"] = [round(r.eval_train_error, 4) for r in runs]
            out[f"{net} test error"] = [round(r.test_error, 4) for r in runs]
        return out

    def plot(self, ax=None, chance: float | None = None):
        """Training error against steps (``plot_curves`` of ``curves()``)."""
        return plot_curves(self.curves(), ax, chance=chance)


def plot_curves(curves: dict[str, dict[str, list]], ax=None, chance: float | None = None,
                ylabel: str = "training error"):
    """Error curves against steps (``{"name": {"step": [...], "error": [[seed 0], ...]}}``): one
    colour per name, dashed for plain nets, thin lines per seed, a thick line for their mean."""
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    # Colours follow (family, depth) order, not the dict's: a record's JSON keys are sorted as
    # strings (plain-32 before plain-8), and a name must get the same colour in every plot.
    for i, name in enumerate(sorted(curves, key=_curve_order)):
        curve = curves[name]
        style = "--" if name.startswith("plain") else "-"
        for errors in curve["error"]:
            ax.plot(curve["step"], errors, style, color=f"C{i}", lw=0.7, alpha=0.4)
        mean = [statistics.fmean(v) for v in zip(*curve["error"])]
        ax.plot(curve["step"], mean, style, color=f"C{i}", lw=2.2, label=name)
    if chance is not None:
        ax.axhline(chance, color="grey", lw=0.8, ls=":", label="chance")
    ax.set_xlabel("SGD step")
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1)
    ax.legend()
    return ax


def _curve_order(name: str) -> tuple[str, int]:
    """``plain-8`` before ``plain-32`` (by depth), other names alphabetically."""
    family, _, depth = name.rpartition("-")
    return (family, int(depth)) if depth.isdigit() else (name, 0)


def shapes_task(n_train: int, n_test: int, *, size: int = 16, classes: int = 20, seed: int = 0):
    """Train/test tensors from ``make_shapes``: the first ``classes`` shape classes, ``size`` pixels."""
    if not 2 <= classes <= len(CLASS_NAMES):
        raise ValueError(f"classes must be in [2, {len(CLASS_NAMES)}]; got {classes}")
    x, y = make_shapes(n_train + n_test, size=size, classes=CLASS_NAMES[:classes], seed=seed)
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


def degradation_experiment(depths: Sequence[int] = (8, 32), seeds: Sequence[int] = (0,), *,
                           steps: int = 300, recipe: Recipe = CIFAR, schedule_steps: int | None = None,
                           n_train: int = 4000,
                           n_test: int = 1000, size: int = 16, classes: int = 20,
                           widths: Sequence[int] = (8, 16, 32), eval_every: int = 25,
                           families: Sequence[str] = ("plain", "residual"),
                           device: torch.device | str = "cpu", data_seed: int = 0,
                           show_progress: bool = True) -> DegradationResult:
    """Train every (family, depth) net for the same ``steps`` SGD steps, once per seed, with
    ``recipe`` (default: the paper's CIFAR recipe; its batch size, lr, momentum, weight decay,
    lr schedule, BN and init). The recipe's lr milestones are fractions of ``schedule_steps``
    (default: ``steps``); with ``schedule_steps > steps`` the run is the first part of that schedule.

    The data are fixed (``data_seed``); each seed changes the initialisation and the batch
    order. Each run records its ``History`` (training error per window of ``eval_every`` steps,
    and whether it converged) and, at the end, the error in eval mode on the first ``n_test``
    training images and on ``n_test`` held-out images.
    """
    if any(f not in ("plain", "residual") for f in families):
        raise ValueError(f"families must be drawn from ('plain', 'residual'); got {families!r}")
    (xtr, ytr), (xte, yte) = shapes_task(n_train, n_test, size=size, classes=classes, seed=data_seed)
    train_probe = Batches(xtr[:n_test], ytr[:n_test], 500, shuffle=False)
    test = Batches(xte, yte, 500, shuffle=False)
    result = DegradationResult()
    for seed in seeds:
        for family in families:
            for depth in depths:
                seed_everything(seed)
                model = cifar_resnet(depth, residual=family == "residual", num_classes=classes, widths=widths,
                                     **recipe.model_kwargs)
                optimizer = recipe.optimizer(model)
                history = fit(model, Batches(xtr, ytr, recipe.batch_size, seed=seed, device=device), optimizer,
                              steps=steps, eval_every=eval_every, device=device,
                              scheduler=recipe.scheduler(optimizer, steps=schedule_steps or steps,
                                                         eval_every=eval_every),
                              schedule_steps=schedule_steps or steps,
                              desc=f"{family}-{depth} seed {seed}", show_progress=show_progress)
                _, eval_train_error = evaluate(model, train_probe, device)
                _, test_error = evaluate(model, test, device)
                result.runs.append(Run(family, depth, seed, history, eval_train_error, test_error, model))
    return result


def degradation_claims(claims, summary: dict[str, list[float]], shallow: int, deep: int, *,
                       steps: int, require_convergence: bool, label: str = "") -> dict[str, list[float]]:
    """Check the lesson's degradation claims on ``summary`` (``DegradationResult.summary()`` of a
    live run, or a record's) and return the per-seed numbers they compare.

    - **(a) speed**: after ``steps`` steps plain-deep's final training error is above plain-shallow's
      on every seed (a claim about where training stands after this budget);
    - **(b)** residual-deep's final training error is at most 3/4 of plain-deep's on every seed;
    - **at convergence**: plain-deep ends above plain-shallow on every seed, and residual-deep ends at
      or below residual-shallow on the mean over seeds. These are checked only when every run
      converged (``Claims.check_trained``); if not, they are listed as skipped with the reason, or,
      with ``require_convergence`` (the ``full`` preset), they fail.

    Training error, not test error: a deeper net that fits its training set *worse* is not
    overfitting (overfitting lowers training error), so the plain gap is an optimisation failure.
    """
    from ..claims import at_most, above, converged, on_every_seed, on_mean

    nets = [f"{f}-{d}" for f in ("plain", "residual") for d in (shallow, deep)]
    final = {n: summary[f"{n} final training error"] for n in nets}
    runs = {f"{n} seed {i}": _RecordedConvergence(bool(c))
            for n in nets for i, c in enumerate(summary[f"{n} converged"])}
    ps, pd, rs, rd = (f"plain-{shallow}", f"plain-{deep}", f"residual-{shallow}", f"residual-{deep}")
    numbers = {
        "plain gap": [round(d - s, 3) for d, s in zip(final[pd], final[ps])],
        "residual/plain": [_ratio(r, p) for r, p in zip(final[rd], final[pd])],
        "residual gap": [round(d - s, 3) for d, s in zip(final[rd], final[rs])],
    }
    claims.check(f"{label}(a) after {steps:,} steps: {pd} minus {ps} final training error", numbers["plain gap"],
                 on_every_seed(above(0)))
    claims.check(f"{label}(b) after {steps:,} steps: {rd} / {pd} final training error", numbers["residual/plain"],
                 on_every_seed(at_most(0.75)))
    at_convergence = [(f"{label}at convergence: {pd} minus {ps} training error", numbers["plain gap"],
                       on_every_seed(above(0))),
                      (f"{label}at convergence: {rd} minus {rs} training error", numbers["residual gap"],
                       on_mean(at_most(0)))]
    all_converged = all(converged(r) for r in runs.values())
    for claim, value, expected in at_convergence:
        if all_converged or require_convergence:
            claims.check_trained(claim, value, expected, runs=runs)
        else:
            unfinished = sum(not r.converged for r in runs.values())
            claims.skip(claim, f"{unfinished} of {len(runs)} runs have not converged at this budget; "
                               "the recorded full run checks it")
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
