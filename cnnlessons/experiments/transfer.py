"""Transfer learning strategies, compared with fair budgets and tuned learning rates.

Given a pretrained ResNet (``cnnlessons.zoo``) and a small labelled target
(``cnnlessons.data.targets``), the CS231n recipe offers, from cheapest to most flexible:

- ``linear_probe``: freeze the network, take the globally averaged output of its last stage
  as a feature vector ``f(x)``, and fit a softmax classifier ``W z + b`` on the standardised
  features ``z = (f - mu) / sigma`` (``Probe``).
- ``earlier_probe``: the same probe on an *earlier* stage's pooled output (the stage chosen on
  the validation split, with the learning rate): CS231n's advice for different data.
- ``finetune_last``: freeze everything before the last stage; train the last stage and the
  classifier (the frozen part's output is computed once, in eval mode).
- ``finetune_all``: train every weight from the pretrained start.
- ``scratch``: the same architecture from a random initialisation, every weight trained.
- ``random_features``: the control: the linear probe on a *randomly initialised* network's
  features. Whatever the pretrained probe gains over it is what pretraining bought.

What makes the comparison fair (``Budget``, ``Runner``):

- **Budget.** Every strategy that trains weights (``TRAINS_WEIGHTS``) gets the same number of
  SGD steps, scratch's budget, and every final run reports whether it converged
  (``cnnlessons.train.Convergence``).
- **Learning rate.** Each strategy's learning rate is chosen from the same small grid
  (``LR_GRID``) by accuracy on a validation split held out of the target's training images
  (``cnnlessons.data.targets.validation_split``), as Kornblith, Shlens and Le (2019, "Do Better
  ImageNet Models Transfer Better?") tune every setting; only a rate whose run finished training
  can be chosen, so no strategy wins by stopping early. With every training image (``ALL``)
  the chosen rate is then used once more on the training and validation images together.
- **Head first, then unfreeze.** Both fine-tuning strategies start from the fitted linear
  probe as their classifier (fastai's ``fine_tune``), so the first steps do not push the
  error of a random classifier back through the pretrained features.
- **BatchNorm.** In train mode each BatchNorm layer normalises with the statistics of the
  current batch (a few images at 5 labels a class) and moves its running statistics towards
  the target's; ``bn="frozen"`` keeps it in eval mode: the source's statistics, never updated
  (its scale and shift still train).

Assumed of the network (a CIFAR ResNet or a torchvision ResNet): its residual stages are
``layer1, layer2, ...`` (``residual_stages``), the classifier is the attribute ``fc`` applied
to the last stage's output averaged over space, and nothing else runs between them.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
from torch import nn

from ..data.targets import subsample_indices, validation_split
from ..train import Convergence, History
# The strategies and the summaries live in their own modules; their names are re-exported here
# (``transfer.extract``, ``transfer.summarise``, ...) so a lesson needs one import.
from .transfer_strategies import (ALL, FIT_ERROR, LR_GRID, PRETRAINED, STRATEGIES, TRAINS_WEIGHTS,  # noqa: F401
                                  Features, FrozenStatistics, LabelCount, Probe, extract, finetune_all, finetune_last,
                                  finished, fit_probe, predict, scratch, start_loss, with_probe_head)
from .transfer_summary import RECORDED, Summary, best_strategy, record_summary, rows_from_record, summarise  # noqa: F401


@dataclass(frozen=True)
class Budget:
    """How every strategy trains: the same for all of them, so the comparison is fair.

    Every strategy that trains weights takes ``steps(n) = max(min_steps, epochs * b)`` SGD steps
    on ``n`` labelled images, ``b = ceil(n / batch_size)`` a pass: ``epochs`` passes, and at least
    ``min_steps`` (a handful of images makes only a step or two per pass). SGD has Nesterov
    momentum 0.9, weight decay 5e-4 and a cosine schedule from the learning rate to 0. Every batch
    has ``batch(n)`` images, about ``n / b`` (40 images make two batches of 20, not 32 and 8: a
    BatchNorm layer in train mode normalises with its batch's statistics); the few left over when
    ``n`` does not divide wait for the next pass's shuffle. A linear probe takes ``probe_steps``
    full-batch steps (a convex problem, and cheap). ``bn``: ``"train"`` (PyTorch's train mode)
    or ``"frozen"`` (every BatchNorm kept in eval mode, see ``FrozenStatistics``).
    """

    epochs: int
    min_steps: int = 100
    probe_steps: int = 300
    batch_size: int = 32
    lr_grid: tuple[float, ...] = LR_GRID
    bn: str = "train"

    def __post_init__(self) -> None:
        if self.bn not in ("train", "frozen"):
            raise ValueError(f"bn must be 'train' or 'frozen'; got {self.bn!r}")
        if min(self.epochs, self.min_steps, self.probe_steps, self.batch_size) < 1 or not self.lr_grid:
            raise ValueError(f"epochs, min_steps, probe_steps and batch_size must be >= 1, lr_grid non-empty; "
                             f"got {self}")

    def steps(self, n: int) -> int:
        """SGD steps of a strategy that trains weights on ``n`` labelled images."""
        return max(self.min_steps, self.epochs * -(-n // self.batch_size))

    def batch(self, n: int) -> int:
        """Images per batch on ``n`` labelled images: ``ceil(n / b)`` with ``b = ceil(n / batch_size)``."""
        return -(-n // -(-n // self.batch_size))


# ---------------------------------------------------------------------------------------------
# One strategy, chosen and trained fairly


@dataclass
class Result:
    """One strategy's final run: the chosen learning rate (and stage, for ``earlier_probe``), its
    validation and test accuracy, its final training error and whether it converged."""

    target: str
    strategy: str
    labels_per_class: LabelCount
    seed: int
    lr: float
    val_accuracy: float
    accuracy: float
    train_error: float
    converged: bool
    steps: int
    seconds: float  # of the ``run`` call that returned it (0 when its runs were already made)
    stage: int | None = None
    predictions: torch.Tensor | None = field(default=None, repr=False)
    history: History | None = field(default=None, repr=False)

    @property
    def convergence(self) -> Convergence:
        assert self.history is not None
        return self.history.convergence

    def row(self) -> dict:
        """The numbers, without the predictions and the history (one row of ``compare``)."""
        return {k: v for k, v in vars(self).items() if k not in ("predictions", "history")}


@dataclass
class _Trained:
    model: nn.Module
    history: History
    inputs: str  # which view of the data the model takes (see Runner._view)


class Runner:
    """Trains any strategy on ``target`` with a ``Budget``; the frozen networks' features are
    computed once for the whole training pool and the test set, then sliced.

    ``run(strategy, labels_per_class, seed)``: the labelled images are ``labels_per_class`` a
    class drawn with ``seed`` from the training pool minus the validation split, or every
    training image (``ALL``). For each learning rate of the grid the strategy trains on the
    labelled images and is scored on the validation split; the chosen rate is the best one among
    those whose run finished training (``finished``; all of them if none did), and its run is the
    result. With ``ALL`` the chosen rate trains once more on training and validation images; if
    that run has not finished training while the chosen one had, it gets twice the steps, and
    twice again (training to the end, or at least for the budget, whichever is more).
    """

    def __init__(self, model: nn.Module, build: Callable[[int], nn.Module], target, budget: Budget, *,
                 device: torch.device | str = "cpu") -> None:
        self.model, self.build, self.target, self.budget, self.device = model, build, target, budget, device
        self.rest, self.val = validation_split(target.y_train)
        self.f_train, self.f_test = extract(model, target.x_train, device), extract(model, target.x_test, device)
        self._random: dict[int, tuple[Features, Features]] = {}  # per seed: a random network's features
        self._done: dict[tuple[str, LabelCount, int, bool], tuple[float, float, _Trained, int | None]] = {}
        # strategy -> how it trains at one learning rate (and stage, for earlier_probe) on the
        # labelled images of (labels_per_class, seed), the selection ones or the final ones, for
        # `longer` times its budget
        self.methods: dict[str, Callable[..., _Trained]] = {
            "scratch": self._scratch, "linear_probe": self._linear_probe, "earlier_probe": self._earlier_probe,
            "finetune_last": self._finetune_last, "finetune_all": self._finetune_all,
            "random_features": self._random_features}

    # -- data ---------------------------------------------------------------------------------
    def labelled(self, labels_per_class: LabelCount, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(selection, final)`` indices into the training pool: what the learning rate is chosen
        with (validated on ``self.val``) and what the final run trains on."""
        if labels_per_class == ALL:
            return self.rest, torch.cat([self.rest, self.val]).sort().values
        chosen = self.rest[subsample_indices(self.target.y_train[self.rest], labels_per_class, seed=seed)]
        return chosen, chosen

    def _view(self, inputs: str, idx: torch.Tensor | None, seed: int = 0) -> torch.Tensor:
        """The inputs a model of kind ``inputs`` takes, for training images ``idx`` (None: the test set)."""
        if inputs == "images":
            x = self.target.x_test if idx is None else self.target.x_train
        elif inputs == "maps":
            x = (self.f_test if idx is None else self.f_train).last_input
        elif inputs.startswith("stage"):
            x = (self.f_test if idx is None else self.f_train).pooled[int(inputs[5:]) - 1]
        else:  # "random": the last stage of the seed's random network
            r_train, r_test = self._random_features_of(seed)
            x = (r_test if idx is None else r_train).pooled[-1]
        return x if idx is None else x[idx]

    def _random_features_of(self, seed: int) -> tuple[Features, Features]:
        if seed not in self._random:
            torch.manual_seed(seed)
            rand = self.build(self.target.num_classes)
            self._random[seed] = (extract(rand, self.target.x_train, self.device),
                                  extract(rand, self.target.x_test, self.device))
        return self._random[seed]

    # -- the strategies: train at one learning rate on the labelled images ---------------------
    def _images(self, n: LabelCount, seed: int, final: bool) -> torch.Tensor:
        selection, final_idx = self.labelled(n, seed)
        return final_idx if final else selection

    def _probe_on(self, inputs: str, lr: float, n: LabelCount, seed: int, final: bool, longer: int = 1) -> _Trained:
        idx = self._images(n, seed, final)
        probe, history = fit_probe(self._view(inputs, idx, seed), self.target.y_train[idx], self.target.num_classes,
                                   lr=lr, steps=self.budget.probe_steps * longer, seed=seed, device=self.device)
        return _Trained(probe, history, inputs)

    def _linear_probe(self, lr: float, n: LabelCount, seed: int, final: bool, stage: int | None,
                      longer: int = 1) -> _Trained:
        return self._probe_on(f"stage{len(self.f_train.pooled)}", lr, n, seed, final, longer)

    def _earlier_probe(self, lr: float, n: LabelCount, seed: int, final: bool, stage: int | None,
                       longer: int = 1) -> _Trained:
        return self._probe_on(f"stage{stage}", lr, n, seed, final, longer)

    def _random_features(self, lr: float, n: LabelCount, seed: int, final: bool, stage: int | None,
                         longer: int = 1) -> _Trained:
        return self._probe_on("random", lr, n, seed, final, longer)

    def _fitted_probe(self, n: LabelCount, seed: int, final: bool) -> Probe:
        """The linear probe chosen for the same labelled images: the fine-tuning strategies' first head."""
        return self._select("linear_probe", n, seed, final)[2].model  # type: ignore[return-value]

    def probe(self, labels_per_class: LabelCount, seed: int) -> Probe:
        """The fitted linear probe (learning rate chosen on validation) that fine-tuning starts from."""
        return self._fitted_probe(labels_per_class, seed, True)

    def _finetune_last(self, lr: float, n: LabelCount, seed: int, final: bool, stage: int | None,
                       longer: int = 1) -> _Trained:
        b, idx = self.budget, self._images(n, seed, final)
        head, history = finetune_last(self.model, self._fitted_probe(n, seed, final), self._view("maps", idx),
                                      self.target.y_train[idx], lr=lr, steps=b.steps(len(idx)) * longer,
                                      batch_size=b.batch(len(idx)), bn=b.bn, seed=seed, device=self.device)
        return _Trained(head, history, "maps")

    def _finetune_all(self, lr: float, n: LabelCount, seed: int, final: bool, stage: int | None,
                      longer: int = 1) -> _Trained:
        b, idx = self.budget, self._images(n, seed, final)
        net, history = finetune_all(self.model, self._fitted_probe(n, seed, final), self._view("images", idx),
                                    self.target.y_train[idx], lr=lr, steps=b.steps(len(idx)) * longer,
                                    batch_size=b.batch(len(idx)), bn=b.bn, seed=seed, device=self.device)
        return _Trained(net, history, "images")

    def _scratch(self, lr: float, n: LabelCount, seed: int, final: bool, stage: int | None,
                 longer: int = 1) -> _Trained:
        b, idx = self.budget, self._images(n, seed, final)
        net, history = scratch(self.build, self._view("images", idx), self.target.y_train[idx],
                               self.target.num_classes, lr=lr, steps=b.steps(len(idx)) * longer,
                               batch_size=b.batch(len(idx)), seed=seed, device=self.device)
        return _Trained(net, history, "images")

    # -- choosing the learning rate (and the stage) on the validation split ---------------------
    def _accuracy(self, trained: _Trained, idx: torch.Tensor | None, seed: int) -> tuple[float, torch.Tensor]:
        y = self.target.y_test if idx is None else self.target.y_train[idx]
        pred = predict(trained.model, self._view(trained.inputs, idx, seed), self.device)
        return (pred == y).float().mean().item(), pred

    def _stages_for(self, strategy: str) -> list[int | None]:
        return list(range(1, len(self.f_train.pooled))) if strategy == "earlier_probe" else [None]

    def _select(self, strategy: str, n: LabelCount, seed: int,
                final: bool) -> tuple[float, float, _Trained, int | None]:
        """``(lr, validation accuracy, trained model, stage)`` of ``strategy``: the grid's best on the
        validation split, trained on the selection images, or (``final`` with ``ALL``) once more on
        the final ones. Each is computed once."""
        final = final and n == ALL  # otherwise the selection images are the final ones
        key = (strategy, n, seed, final)
        if key not in self._done:
            if final:  # the chosen rate on every training image; longer if it finished before and not now
                lr, val_acc, chosen, stage = self._select(strategy, n, seed, False)
                trained, longer = self.methods[strategy](lr, n, seed, True, stage), 1
                while (longer < 4 and finished(strategy, chosen.history)
                       and not finished(strategy, trained.history)):
                    longer *= 2
                    trained = self.methods[strategy](lr, n, seed, True, stage, longer)
                self._done[key] = (lr, val_acc, trained, stage)
            else:  # the best validation accuracy among the runs that finished training, if any did
                candidates = []
                for stage in self._stages_for(strategy):
                    for lr in self.budget.lr_grid:
                        trained = self.methods[strategy](lr, n, seed, False, stage)
                        candidates.append((finished(strategy, trained.history),
                                           self._accuracy(trained, self.val, seed)[0], lr, trained, stage))
                _, val_acc, lr, trained, stage = max(candidates, key=lambda c: c[:2])  # the first of equals
                self._done[key] = (lr, val_acc, trained, stage)
        return self._done[key]

    def run(self, strategy: str, labels_per_class: LabelCount, seed: int) -> Result:
        """``strategy`` with its learning rate chosen on the validation split, trained on
        ``labels_per_class`` images a class (or ``ALL``) drawn with ``seed``; scored on the test set."""
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; valid: {STRATEGIES}")
        start = time.perf_counter()
        lr, val_acc, trained, stage = self._select(strategy, labels_per_class, seed, True)
        accuracy, predictions = self._accuracy(trained, None, seed)
        c = trained.history.convergence
        return Result(self.target.name, strategy, labels_per_class, seed, lr, val_acc, accuracy, c.final_train_error,
                      c.converged, c.steps, time.perf_counter() - start, stage, predictions, trained.history)


def compare(runner: Runner, labels_per_class: Sequence[LabelCount], seeds: Sequence[int], *,
            strategies: tuple[str, ...] = STRATEGIES, progress_desc: str | None = None) -> list[Result]:
    """Every strategy of ``strategies`` on ``runner``'s target for each labels-per-class value and seed."""
    from ..progress import progress

    for strategy in strategies:
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; valid: {STRATEGIES}")
    runs = [(n, s) for n in labels_per_class for s in seeds]
    return [runner.run(strategy, n, seed) for n, seed in progress(runs, desc=progress_desc or runner.target.name)
            for strategy in strategies]


def usable_labels_per_class(targets, requested: Sequence[int], *, held_out: bool = True) -> tuple[list[int], list[str]]:
    """``requested`` labels-per-class values that every target can give, and a note for each value reduced.

    The labelled images come from the training pool minus the validation split
    (``held_out=True``; see ``validation_split``). A value above what a target's smallest class
    has there becomes that number; duplicates are dropped, the order kept. The notes name the
    target and the class.
    """
    values, notes = [], []
    for n in requested:
        used = n
        for t in targets:
            y = t.y_train[validation_split(t.y_train)[0]] if held_out else t.y_train
            counts = torch.bincount(y, minlength=t.num_classes)
            smallest = int(counts.argmin())
            if counts[smallest] < 1:
                raise ValueError(f"class {t.classes[smallest]!r} of {t.name!r} has no training images")
            if used > counts[smallest]:
                used = int(counts[smallest])
                notes.append(f"labels_per_class {n} -> {used}: class {t.classes[smallest]!r} of {t.name!r} has only "
                             f"{used} training images besides the validation split (add images to that class to "
                             f"run {n})")
        if used not in values:
            values.append(used)
    return values, notes


def confusion(y_true: torch.Tensor, y_pred: torch.Tensor, num_classes: int) -> torch.Tensor:
    """The confusion matrix: ``[i, j]`` counts test images of class ``i`` predicted as ``j`` (scikit-learn's)."""
    from sklearn.metrics import confusion_matrix

    return torch.as_tensor(confusion_matrix(y_true.cpu().numpy(), y_pred.cpu().numpy(), labels=range(num_classes)))


# ---------------------------------------------------------------------------------------------
# Summaries over seeds


def probe_each_stage(runner: Runner, labels_per_class: LabelCount, seeds: Sequence[int]) -> dict[str, torch.Tensor]:
    """Linear-probe test accuracy on each stage's pooled features, pretrained vs a random network.

    Returns ``{"pretrained": (seeds, stages), "random": (seeds, stages)}``; each probe's learning
    rate is chosen on the validation split like every strategy's. Seed ``s`` draws the labelled
    images and initialises the random network.
    """
    out: dict[str, list[list[float]]] = {"pretrained": [], "random": []}
    stages = len(runner.f_train.pooled)
    for seed in seeds:
        idx, _ = runner.labelled(labels_per_class, seed)
        random_train, random_test = runner._random_features_of(seed)
        for kind, (train, test) in (("pretrained", (runner.f_train, runner.f_test)),
                                    ("random", (random_train, random_test))):
            accs = []
            for k in range(stages):
                candidates = []  # (converged, validation accuracy, test accuracy), as Runner chooses
                for lr in runner.budget.lr_grid:
                    probe, history = fit_probe(train.pooled[k][idx], runner.target.y_train[idx],
                                               runner.target.num_classes, lr=lr, steps=runner.budget.probe_steps,
                                               seed=seed, device=runner.device)
                    val = (predict(probe, train.pooled[k][runner.val]) == runner.target.y_train[runner.val])
                    test_acc = (predict(probe, test.pooled[k]) == runner.target.y_test).float().mean().item()
                    candidates.append((history.converged, val.float().mean().item(), test_acc))
                accs.append(max(candidates, key=lambda c: c[:2])[2])
            out[kind].append(accs)
    return {kind: torch.tensor(acc) for kind, acc in out.items()}


def histories(results: Sequence[Result], target: str, labels_per_class: LabelCount,
              strategies: Sequence[str]) -> dict[str, History]:
    """``{"<strategy> seed <s>": history}`` of the runs a claim compares (for ``Claims.check_trained``)."""
    return {f"{r.strategy} seed {r.seed}": r.history for r in results  # type: ignore[misc]
            if (r.target, r.labels_per_class) == (target, labels_per_class) and r.strategy in strategies}


