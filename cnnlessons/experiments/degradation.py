"""The degradation problem (He et al. 2016, Fig. 1): deeper plain nets train WORSE, residual ones don't.

``degradation_experiment`` trains shallow and deep, plain and residual ``cifar_resnet`` nets
with the same budget (``cnnlessons.train.fit``) on the procedural shapes task and records
their training curves; ``gradient_norms`` measures per-layer gradients at initialisation.
"""
from __future__ import annotations

import copy
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
    train_error: float   # eval mode, on (a fixed subset of) the training images
    test_error: float    # eval mode, on held-out images
    model: nn.Module = field(repr=False)

    @property
    def name(self) -> str:
        return f"{self.family}-{self.depth}"

    @property
    def final_window_error(self) -> float:
        """Mean training error (train mode, as the batches went by) over the last evaluation window."""
        return self.history.train_error[-1]


@dataclass
class DegradationResult:
    runs: list[Run] = field(default_factory=list)

    def get(self, family: str, depth: int) -> list[Run]:
        return [r for r in self.runs if r.family == family and r.depth == depth]

    def nets(self) -> list[tuple[str, int]]:
        """The (family, depth) pairs that were trained, plain before residual, shallow first."""
        return sorted({(r.family, r.depth) for r in self.runs})

    def mean(self, family: str, depth: int, key: str = "train_error") -> float:
        return statistics.fmean(getattr(r, key) for r in self.get(family, depth))

    def per_seed(self, family: str, depth: int, key: str = "train_error") -> list[float]:
        return [getattr(r, key) for r in self.get(family, depth)]

    def table(self) -> str:
        """Per net: mean (over seeds) final training error (train mode, last window), training
        error and test error in eval mode, and seconds per run."""
        lines = [f"{'net':<13} {'train err (last window)':>23} {'train err (eval)':>16} {'test err':>9} {'s/run':>6}"]
        for family, depth in self.nets():
            runs = self.get(family, depth)
            lines.append(f"{family + '-' + str(depth):<13} {self.mean(family, depth, 'final_window_error'):>23.3f} "
                         f"{self.mean(family, depth):>16.3f} {self.mean(family, depth, 'test_error'):>9.3f} "
                         f"{statistics.fmean(r.history.seconds for r in runs):>6.1f}")
        return "\n".join(lines)

    def curves(self) -> dict[str, dict[str, list]]:
        """Training-error curves per net: ``{"plain-8": {"step": [...], "error": [[seed 0], [seed 1]]}}``
        (the form ``plot_curves`` draws, and a recorded run stores)."""
        out = {}
        for family, depth in self.nets():
            runs = self.get(family, depth)
            out[f"{family}-{depth}"] = {"step": list(runs[0].history.eval_step),
                                        "error": [[round(e, 4) for e in r.history.train_error] for r in runs]}
        return out

    def summary(self) -> dict[str, list[float]]:
        """Per net, one value per seed: final training error (last window) and test error (eval mode)."""
        out: dict[str, list[float]] = {}
        for family, depth in self.nets():
            out[f"{family}-{depth} final training error"] = [round(v, 4) for v in
                                                              self.per_seed(family, depth, "final_window_error")]
            out[f"{family}-{depth} test error"] = [round(v, 4) for v in self.per_seed(family, depth, "test_error")]
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
                           steps: int = 300, batch_size: int = 64, lr: float = 0.05,
                           momentum: float = 0.9, weight_decay: float = 0.0, n_train: int = 4000,
                           n_test: int = 1000, size: int = 16, classes: int = 20,
                           widths: Sequence[int] = (8, 16, 32), eval_every: int = 25,
                           families: Sequence[str] = ("plain", "residual"),
                           device: torch.device | str = "cpu", data_seed: int = 0,
                           show_progress: bool = True) -> DegradationResult:
    """Train every (family, depth) net for the same ``steps`` SGD steps, once per seed.

    The data are fixed (``data_seed``); each seed changes the initialisation and the batch
    order. Each run records its ``History`` (training error per window of ``eval_every`` steps)
    and, at the end, the error in eval mode on the first ``n_test`` training images and on
    ``n_test`` held-out images: degradation is a TRAINING-error effect, not overfitting.
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
                model = cifar_resnet(depth, shortcuts=family == "residual", num_classes=classes, widths=widths)
                optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
                history = fit(model, Batches(xtr, ytr, batch_size, seed=seed, device=device), optimizer,
                              steps=steps, eval_every=eval_every, device=device,
                              desc=f"{family}-{depth} seed {seed}", show_progress=show_progress)
                _, train_error = evaluate(model, train_probe, device)
                _, test_error = evaluate(model, test, device)
                result.runs.append(Run(family, depth, seed, history, train_error, test_error, model))
    return result
