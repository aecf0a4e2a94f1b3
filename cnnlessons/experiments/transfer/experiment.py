"""Six ways to use a pretrained network on a small target, trained alike and chosen on validation.

The strategies, from cheapest to most flexible:

- ``linear_probe``: a linear probe (``probe.fit_probes``) on the last stage's pooled features;
- ``earlier_probe``: the same on an earlier stage's features, the stage chosen on validation;
- ``finetune_last``: the last stage and the head trained, the earlier stages frozen;
- ``finetune_all``: every weight trained, from the pretrained start;
- ``scratch``: the same architecture from a random initialisation, every weight trained;
- ``random_features``: the control, a linear probe on a randomly initialised network's last stage.

Both fine-tuning strategies start from the fitted linear probe as their head (LP-FT). What makes
the comparison fair (``Experiment``):

- **Selection never sees the test split.** A fixed validation split is held out of the target's
  training pool (``VALIDATION_PER_CLASS`` images a class, ``validation_split``); the labelled
  images are drawn from the rest. Every choice (the probe's L2 penalty, the stage, the learning
  rate) is the one with the best validation accuracy, made once per strategy and number of labels
  with the first seed's labelled images; the other seeds reuse it. The test split is read once per
  final run, to report its accuracy.
- **The same budget.** Every strategy that trains weights takes ``Budget.steps(n)`` SGD steps on
  ``n`` labelled images; a probe is fitted to its optimum. Only a run that *fitted* its training
  images (``finetune.fitted``) can be chosen, when one did, so no strategy wins by stopping early.
- **Grids wide enough.** A choice at an end of its grid is flagged (``Result.at_edge``); where its
  neighbour scored lower (``open_edge``) the best value may lie beyond the grid, where the neighbour
  scored the same the validation curve is flat there and a further value would change little.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import torch
from torch import nn

from ...data.targets import TargetData, subsample_indices, validation_split
from ...train import MIN_STEPS, BudgetCheck, History, budget_check
from .features import Features, extract
from .finetune import BN_MODES, fitted, finetune_all, finetune_last, predict, scratch
from .probe import L2_GRID, Probe, ProbeFit, fit_probes

STRATEGIES: tuple[str, ...] = ("scratch", "linear_probe", "earlier_probe", "finetune_last", "finetune_all",
                               "random_features")
#: The strategies that fit a linear probe to frozen features (the others train weights by SGD).
PROBES: tuple[str, ...] = ("linear_probe", "earlier_probe", "random_features")
TRAINS_WEIGHTS: tuple[str, ...] = ("scratch", "finetune_last", "finetune_all")
#: The strategies that start from the pretrained network.
PRETRAINED: tuple[str, ...] = ("linear_probe", "earlier_probe", "finetune_last", "finetune_all")
#: The learning rates each strategy that trains weights chooses from on validation: half-decades, each
#: grid wide enough that the choices fall inside it (fine-tuning from a fitted head wants smaller steps
#: than training from random weights).
LR_GRIDS: dict[str, tuple[float, ...]] = {"scratch": (0.003, 0.01, 0.03, 0.1, 0.3),
                                          "finetune_last": (0.0003, 0.001, 0.003, 0.01, 0.03, 0.1),
                                          "finetune_all": (0.0001, 0.0003, 0.001, 0.003, 0.01)}


#: One learning rate per strategy, no search (the default lesson's, to save time): a value inside the
#: range the recorded run chose on validation (the lesson checks it against the record).
LR_ONE: dict[str, tuple[float, ...]] = {"scratch": (0.03,), "finetune_last": (0.003,), "finetune_all": (0.001,)}


def lr_grids(search: str) -> dict[str, tuple[float, ...]]:
    """The learning rates each strategy tries: ``"wide"`` (``LR_GRIDS``), ``"narrow"`` (the middle
    three of each), ``"one"`` (``LR_ONE``: no search)."""
    if search == "wide":
        return dict(LR_GRIDS)
    if search == "narrow":
        return {s: g[(len(g) - 3) // 2:(len(g) - 3) // 2 + 3] for s, g in LR_GRIDS.items()}
    if search == "one":
        return dict(LR_ONE)
    raise ValueError(f"search must be 'one', 'narrow' or 'wide'; got {search!r}")
#: ``labels_per_class`` meaning every training image except the validation split ("quite a lot of data").
ALL = "all"

LabelCount = int | str  # a number of labelled images per class, or ALL


@dataclass(frozen=True)
class Budget:
    """How every strategy trains, the same for all of them.

    A strategy that trains weights takes ``steps(n) = max(min_steps, epochs * ceil(n / batch_size))``
    SGD steps on ``n`` labelled images (at least ``min_steps``, the fewest on which
    ``cnnlessons.train.Convergence`` can see a plateau), in batches of ``batch(n)`` images: ``n``
    split evenly, so 40 images make two batches of 20, not 32 and 8. ``lr_grids`` (one grid per
    strategy that trains weights) and ``l2_grid`` are the values chosen from on validation; ``bn``
    is what BatchNorm does while fine-tuning (``finetune.BN_MODES``).
    """

    epochs: int
    min_steps: int = MIN_STEPS
    batch_size: int = 32
    lr_grids: Mapping[str, tuple[float, ...]] = field(default_factory=lambda: dict(LR_GRIDS))
    l2_grid: tuple[float, ...] = L2_GRID
    bn: str = "frozen"

    def __post_init__(self) -> None:
        if self.bn not in BN_MODES:
            raise ValueError(f"bn must be one of {BN_MODES}; got {self.bn!r}")
        if min(self.epochs, self.min_steps, self.batch_size) < 1:
            raise ValueError(f"epochs, min_steps and batch_size must be at least 1; got {self}")
        if set(self.lr_grids) != set(TRAINS_WEIGHTS):
            raise ValueError(f"lr_grids needs one grid for each of {TRAINS_WEIGHTS}; got {sorted(self.lr_grids)}")
        for name, grid in (*self.lr_grids.items(), ("l2_grid", self.l2_grid)):
            if not grid or min(grid) <= 0:
                raise ValueError(f"every grid must hold positive values; {name}: {tuple(grid)}")

    def steps(self, n: int) -> int:
        """SGD steps of a strategy that trains weights on ``n`` labelled images."""
        return max(self.min_steps, self.epochs * -(-n // self.batch_size))

    def batch(self, n: int) -> int:
        """Images per batch: ``ceil(n / b)`` with ``b = ceil(n / batch_size)`` batches a pass."""
        return -(-n // -(-n // self.batch_size))


@dataclass(frozen=True)
class Setting:
    """What selection chooses for a strategy: a probe's L2 penalty and stage, or a learning rate."""

    l2: float | None = None
    stage: int | None = None
    lr: float | None = None


@dataclass
class Result:
    """One final run of one strategy: its chosen setting, its validation and test accuracy, and how
    its training ended.

    ``final_train_error``: for an SGD run ``History.final_train_error`` (the last tenth of its steps,
    each batch in train mode); for a probe, its error on its own training features. ``fitted`` (SGD
    runs) and ``optimal`` (probes) say whether training reached its end; ``complete`` is whichever
    applies. ``labels_per_class`` images a class trained it; ``validation_per_class`` more were used
    to choose its setting."""

    target: str
    strategy: str
    labels_per_class: LabelCount
    seed: int
    setting: Setting
    at_edge: bool
    open_edge: bool
    validation_per_class: int
    val_accuracy: float
    accuracy: float
    final_train_error: float
    steps: int | None = None
    fitted: bool | None = None
    optimal: bool | None = None
    factor: int = 1  # the budget's multiple (budget checks train 2x and 4x as long)
    bn: str | None = None  # what BatchNorm did while fine-tuning (``Budget.bn``; None for the others)
    predictions: torch.Tensor | None = field(default=None, repr=False)
    history: History | None = field(default=None, repr=False)

    @property
    def complete(self) -> bool:
        """Whether training reached its end: an SGD run fitted, a probe optimal."""
        return bool(self.fitted if self.fitted is not None else self.optimal)

    def row(self) -> dict:
        """The run as one flat row of plain values (what a record keeps)."""
        return {"target": self.target, "strategy": self.strategy, "labels_per_class": self.labels_per_class,
                "seed": self.seed, "lr": self.setting.lr, "l2": self.setting.l2, "stage": self.setting.stage,
                "at_edge": self.at_edge, "open_edge": self.open_edge, "validation_per_class": self.validation_per_class,
                "val_accuracy": round(self.val_accuracy, 4), "accuracy": round(self.accuracy, 4),
                "final_train_error": round(self.final_train_error, 4), "steps": self.steps, "fitted": self.fitted,
                "optimal": self.optimal, "factor": self.factor, "bn": self.bn}


@dataclass(frozen=True)
class Selection:
    """How a setting was chosen: every candidate's validation accuracy and whether it completed."""

    strategy: str
    labels_per_class: LabelCount
    seed: int
    candidates: tuple[tuple[Setting, float, bool], ...]
    chosen: Setting
    at_edge: bool    # the chosen value is an end of its grid (and the grid has more than one value)
    open_edge: bool  # ... and its neighbour in the grid scored lower: the best value may lie beyond the grid


@dataclass
class _Run:
    """One trained candidate: what predicts, what it takes as input, and how training ended."""

    model: nn.Module
    inputs: Callable[[torch.Tensor | None], torch.Tensor]  # training-pool indices (None: the test set) -> inputs
    final_train_error: float
    complete: bool
    history: History | None = None
    fit: ProbeFit | None = None


class Experiment:
    """Every strategy on one ``target`` with one pretrained ``model`` and one ``Budget``.

    ``build(num_classes)`` makes the same architecture with random weights (for ``scratch`` and
    ``random_features``). The pretrained features of the training pool and the test set are
    extracted once. ``run(strategy, labels_per_class, seeds)`` chooses the strategy's setting on the
    validation split with ``seeds[0]``'s labelled images and returns one ``Result`` per seed.
    """

    def __init__(self, model: nn.Module, build: Callable[[int], nn.Module], target: TargetData, budget: Budget, *,
                 device: torch.device | str = "cpu") -> None:
        self.model, self.build, self.target, self.budget, self.device = model, build, target, budget, device
        self.rest, self.val = validation_split(target.y_train)
        self.validation_per_class = len(self.val) // target.num_classes
        self.features = extract(model, target.x_train, device)
        self.test_features = extract(model, target.x_test, device)
        self._random: dict[int, tuple[Features, Features]] = {}
        self._selections: dict[tuple, tuple[Selection, _Run]] = {}
        self._runs: dict[tuple, _Run] = {}
        self._results: dict[tuple, Result] = {}

    # -- data -------------------------------------------------------------------------------------
    def labelled(self, labels_per_class: LabelCount, seed: int) -> torch.Tensor:
        """Indices into the training pool of the images a run trains on: ``labels_per_class`` a class
        drawn with ``seed`` from the pool minus the validation split, or all of them (``ALL``)."""
        if labels_per_class == ALL:
            return self.rest
        if isinstance(labels_per_class, bool) or not isinstance(labels_per_class, int):
            raise ValueError(f"labels_per_class must be a whole number or {ALL!r}; got {labels_per_class!r}")
        return self.rest[subsample_indices(self.target.y_train[self.rest], labels_per_class, seed=seed)]

    def random_features(self, seed: int) -> tuple[Features, Features]:
        """The training pool's and the test set's features under a random network initialised with ``seed``."""
        if seed not in self._random:
            torch.manual_seed(seed)
            net = self.build(self.target.num_classes)
            self._random[seed] = (extract(net, self.target.x_train, self.device),
                                  extract(net, self.target.x_test, self.device))
        return self._random[seed]

    def pooled(self, stage: int, seed: int | None = None) -> Callable[[torch.Tensor | None], torch.Tensor]:
        """Stage ``stage``'s pooled features (1-based) of the pretrained network, or (``seed`` given) of
        the random network of that seed, as a function of training-pool indices (None: the test set)."""
        train, test = (self.features, self.test_features) if seed is None else self.random_features(seed)
        if not 1 <= stage <= train.stages:
            raise ValueError(f"stage must be 1 to {train.stages}; got {stage}")
        return lambda idx: test.pooled[stage - 1] if idx is None else train.pooled[stage - 1][idx]

    def _images(self, idx: torch.Tensor | None) -> torch.Tensor:
        return self.target.x_test if idx is None else self.target.x_train[idx]

    def _maps(self, idx: torch.Tensor | None) -> torch.Tensor:
        return self.test_features.last_input if idx is None else self.features.last_input[idx]

    # -- training one candidate -------------------------------------------------------------------
    def _probes(self, view: Callable, idx: torch.Tensor) -> list[ProbeFit]:
        return fit_probes(view(idx), self.target.y_train[idx], self.target.num_classes, self.budget.l2_grid)

    def _probe_run(self, view: Callable, fit: ProbeFit) -> _Run:
        return _Run(fit.probe, view, fit.train_error, fit.optimal, fit=fit)

    def _view(self, strategy: str, stage: int, seed: int) -> Callable:
        """A probe's inputs: the pretrained network's pooled features at ``stage``, or the random one's."""
        return self.pooled(stage, seed) if strategy == "random_features" else self.pooled(stage)

    def _sgd_run(self, strategy: str, lr: float, labels_per_class: LabelCount, seed: int, selection_seed: int,
                 factor: int = 1) -> _Run:
        idx, b = self.labelled(labels_per_class, seed), self.budget
        y, steps, batch = self.target.y_train[idx], b.steps(len(idx)) * factor, b.batch(len(idx))
        kw = {"lr": lr, "steps": steps, "batch_size": batch, "seed": seed, "device": self.device}
        if strategy == "scratch":
            net, history = scratch(self.build, self._images(idx), y, self.target.num_classes, **kw)
            inputs = self._images
        else:
            probe = self.probe(labels_per_class, seed, selection_seed)
            if strategy == "finetune_all":
                net, history = finetune_all(self.model, probe, self._images(idx), y, bn=b.bn, **kw)
                inputs = self._images
            else:
                net, history = finetune_last(self.model, probe, self._maps(idx), y, bn=b.bn, **kw)
                inputs = self._maps
        return _Run(net, inputs, history.final_train_error, fitted(history), history=history)

    def _accuracy(self, run: _Run, idx: torch.Tensor | None) -> tuple[float, torch.Tensor]:
        y = self.target.y_test if idx is None else self.target.y_train[idx]
        predictions = predict(run.model, run.inputs(idx), self.device)
        return (predictions == y).float().mean().item(), predictions

    # -- choosing on validation -------------------------------------------------------------------
    def select(self, strategy: str, labels_per_class: LabelCount, seed: int, stage: int | None = None) -> Selection:
        """Choose ``strategy``'s setting on the validation split with ``seed``'s labelled images: the
        best validation accuracy among the candidates that completed (all of them, if none did); the
        first of equals in candidate order (stages from the first, L2 from the strongest, learning
        rates from the smallest). ``stage`` fixes the stage of ``linear_probe`` or
        ``random_features`` (default: the last)."""
        return self._select(strategy, labels_per_class, seed, stage)[0]

    def _stages(self, strategy: str, stage: int | None) -> list[int | None]:
        last = self.features.stages
        if stage is not None and strategy not in ("linear_probe", "random_features"):
            raise ValueError(f"only linear_probe and random_features take a stage; {strategy} chooses its own")
        if strategy == "earlier_probe":
            return list(range(1, last))
        return [last if stage is None else stage] if strategy in PROBES else [None]

    def _select(self, strategy: str, labels_per_class: LabelCount, seed: int,
                stage: int | None = None) -> tuple[Selection, _Run]:
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; valid: {STRATEGIES}")
        stages = self._stages(strategy, stage)
        key = (strategy, labels_per_class, seed, stages[0] if len(stages) == 1 else None)
        if key in self._selections:
            return self._selections[key]
        idx, runs = self.labelled(labels_per_class, seed), []
        if strategy in PROBES:
            for stage in stages:
                view = self._view(strategy, stage, seed)
                fits = sorted(self._probes(view, idx), key=lambda f: -f.l2)  # the strongest penalty first
                runs += [(Setting(l2=f.l2, stage=stage), self._probe_run(view, f)) for f in fits]
        else:
            runs = [(Setting(lr=lr), self._sgd_run(strategy, lr, labels_per_class, seed, seed))
                    for lr in sorted(self.budget.lr_grids[strategy])]
        scored = [(setting, self._accuracy(run, self.val)[0], run.complete, run) for setting, run in runs]
        best = max(range(len(scored)), key=lambda i: (scored[i][2], scored[i][1], -i))
        chosen, _, _, run = scored[best]
        selection = Selection(strategy, labels_per_class, seed, tuple((s, a, c) for s, a, c, _ in scored), chosen,
                              *self._edge(strategy, scored, best))
        self._selections[key] = (selection, run)
        return selection, run

    def _edge(self, strategy: str, scored: list, best: int) -> tuple[bool, bool]:
        """Whether the chosen candidate's value is an end of its grid, and whether its neighbour (the
        candidate one step inwards, same stage) scored lower on validation."""
        grid = sorted(self.budget.l2_grid if strategy in PROBES else self.budget.lr_grids[strategy])
        value = (lambda s: s.l2) if strategy in PROBES else (lambda s: s.lr)
        chosen = scored[best][0]
        if len(grid) < 2 or value(chosen) not in (grid[0], grid[-1]):
            return False, False
        inward = grid[1] if value(chosen) == grid[0] else grid[-2]
        neighbour = next(a for s, a, _, _ in scored if value(s) == inward and s.stage == chosen.stage)
        return True, neighbour < scored[best][1]

    # -- final runs -------------------------------------------------------------------------------
    def _final_run(self, strategy: str, labels_per_class: LabelCount, seed: int, selection: Selection,
                   factor: int = 1) -> _Run:
        """The run at the chosen setting for ``seed`` (the selection's own run for its seed)."""
        s = selection.chosen
        key = (strategy, labels_per_class, selection.seed, seed, factor, s.stage)
        if key not in self._runs:
            if seed == selection.seed and factor == 1:
                stage = s.stage if strategy in ("linear_probe", "random_features") else None
                run = self._select(strategy, labels_per_class, seed, stage)[1]
            elif strategy in PROBES:
                view, idx = self._view(strategy, s.stage, seed), self.labelled(labels_per_class, seed)
                run = self._probe_run(view, fit_probes(view(idx), self.target.y_train[idx], self.target.num_classes,
                                                       (s.l2,))[0])
            else:
                run = self._sgd_run(strategy, s.lr, labels_per_class, seed, selection.seed, factor)  # type: ignore[arg-type]
            self._runs[key] = run
        return self._runs[key]

    def _final(self, strategy: str, labels_per_class: LabelCount, seed: int, selection: Selection,
               factor: int = 1) -> Result:
        key = (strategy, labels_per_class, selection.seed, seed, factor, selection.chosen.stage)
        if key not in self._results:
            run = self._final_run(strategy, labels_per_class, seed, selection, factor)
            val_accuracy = self._accuracy(run, self.val)[0]
            accuracy, predictions = self._accuracy(run, None)  # the test split: read here, once, to report
            trains = strategy in TRAINS_WEIGHTS
            self._results[key] = Result(
                self.target.name, strategy, labels_per_class, seed, selection.chosen, selection.at_edge,
                selection.open_edge, self.validation_per_class, val_accuracy, accuracy, run.final_train_error,
                steps=len(run.history.error) if run.history else None, fitted=run.complete if trains else None,
                optimal=None if trains else run.complete, factor=factor,
                bn=self.budget.bn if strategy in ("finetune_last", "finetune_all") else None,
                predictions=predictions, history=run.history)
        return self._results[key]

    def run(self, strategy: str, labels_per_class: LabelCount, seeds: Sequence[int],
            stage: int | None = None) -> list[Result]:
        """``strategy`` at ``labels_per_class``, one ``Result`` per seed, its setting chosen with
        ``seeds[0]`` (``stage``: see ``select``)."""
        if not seeds:
            raise ValueError("seeds must name at least one seed")
        selection = self.select(strategy, labels_per_class, seeds[0], stage)
        return [self._final(strategy, labels_per_class, seed, selection) for seed in seeds]

    def probe(self, labels_per_class: LabelCount, seed: int, selection_seed: int | None = None) -> Probe:
        """The linear probe that fine-tuning on ``seed``'s labelled images starts from: ``linear_probe``'s
        run for ``seed``, its L2 penalty chosen with ``selection_seed`` (default: ``seed``)."""
        selection = self.select("linear_probe", labels_per_class, seed if selection_seed is None else selection_seed)
        return self._final_run("linear_probe", labels_per_class, seed, selection).model  # type: ignore[return-value]

    def longer(self, strategy: str, labels_per_class: LabelCount, seeds: Sequence[int],
               factor: int) -> list[Result]:
        """``strategy``'s final runs trained ``factor`` times as long, at the setting chosen with ``seeds[0]``."""
        if strategy not in TRAINS_WEIGHTS or factor < 1:
            raise ValueError(f"only a strategy that trains weights ({TRAINS_WEIGHTS}) trains longer, by a factor >= 1")
        selection = self.select(strategy, labels_per_class, seeds[0])
        return [self._final(strategy, labels_per_class, seed, selection, factor) for seed in seeds]

    def budget_checks(self, strategy: str, labels_per_class: LabelCount, seeds: Sequence[int],
                      factors: Sequence[int] = (2, 4)) -> dict[int, list[BudgetCheck]]:
        """Per factor, ``cnnlessons.train.budget_check`` of every seed's final run: where the same run
        ends with ``factor`` times the steps (each run trained once; ``longer`` returns them)."""
        base = self.run(strategy, labels_per_class, seeds)
        out = {}
        for factor in factors:
            longer = self.longer(strategy, labels_per_class, seeds, factor)
            out[factor] = [budget_check({r.steps: r.history, r.steps * factor: f.history}.__getitem__, r.steps, factor)
                           for r, f in zip(base, longer)]
        return out


def compare(experiment: Experiment, labels_per_class: Sequence[LabelCount], seeds: Sequence[int], *,
            strategies: Sequence[str] = STRATEGIES) -> list[Result]:
    """Every strategy of ``strategies`` at each labels-per-class value, one ``Result`` per seed."""
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown:
        raise ValueError(f"unknown strategies {unknown}; valid: {STRATEGIES}")
    return [r for n in labels_per_class for s in strategies for r in experiment.run(s, n, seeds)]


def probe_each_stage(experiment: Experiment, labels_per_class: LabelCount, seeds: Sequence[int]) -> list[Result]:
    """A linear probe on every stage's pooled features, of the pretrained network (``linear_probe``)
    and of a random one (``random_features``), each stage's L2 penalty chosen on validation;
    ``Result.setting.stage`` says which stage. The last stage's are the two strategies' own runs."""
    return [r for stage in range(1, experiment.features.stages + 1) for strategy in ("linear_probe", "random_features")
            for r in experiment.run(strategy, labels_per_class, seeds, stage=stage)]


def usable_labels_per_class(targets: Sequence[TargetData], requested: Sequence[int]) -> tuple[list[int], list[str]]:
    """``requested`` labels-per-class values that every target can give, and a note for each one reduced.

    Labelled images come from the training pool minus the validation split. A value above what a
    target's smallest class has there becomes that number (duplicates dropped, order kept); the
    note names the target and the class."""
    values, notes = [], []
    for n in requested:
        used = n
        for t in targets:
            counts = torch.bincount(t.y_train[validation_split(t.y_train)[0]], minlength=t.num_classes)
            smallest = int(counts.argmin())
            if counts[smallest] < 1:
                raise ValueError(f"class {t.classes[smallest]!r} of {t.name!r} has no training images besides the "
                                 f"validation split")
            if used > counts[smallest]:
                used = int(counts[smallest])
                notes.append(f"labels_per_class {n} -> {used}: class {t.classes[smallest]!r} of {t.name!r} has only "
                             f"{used} training images besides the validation split (add images to that class to "
                             f"run {n})")
        if used not in values:
            values.append(used)
    return values, notes
