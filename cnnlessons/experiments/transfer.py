"""Transfer learning strategies, each trained with ``cnnlessons.train.fit``.

Given a pretrained network (``cnnlessons.zoo``) and a small labelled target
(``cnnlessons.data.targets``), the CS231n recipe offers, from cheapest to most flexible:

- ``linear_probe``: freeze the network, take the globally averaged output of its last stage
  as a feature vector ``f(x)``, and fit a linear softmax classifier ``W f(x) + b`` on it.
- ``finetune_last``: freeze everything before the last stage; train the last stage and a new
  classifier (the frozen part's output is computed once, in eval mode).
- ``finetune_all``: train every weight from the pretrained start, the backbone with a
  learning rate ``backbone_lr`` times smaller than the new classifier's.
- ``scratch``: the same architecture from a random initialisation, every weight trained.
- ``random_features``: the control: the linear probe on a *randomly initialised* network's
  features. Whatever the pretrained probe gains over it is what pretraining bought.

``stage_probe`` fits the linear probe on each stage's pooled features in turn (earlier stages
are more generic, later ones more specific to the source task).
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
from torch import nn

from ..data.targets import subsample_indices
from ..models.stages import residual_stages
from ..train import Batches, fit

STRATEGIES: tuple[str, ...] = ("scratch", "linear_probe", "finetune_last", "finetune_all", "random_features")


stages = residual_stages  # the residual stages layer1, layer2, ... of a ResNet


@dataclass
class Features:
    """What a frozen network computes for a set of images.

    ``pooled[k]``: (N, C_k) global average of stage ``k+1``'s output; ``last_input``: the full
    maps entering the last stage (what ``finetune_last`` trains on).
    """

    pooled: list[torch.Tensor]
    last_input: torch.Tensor

    def take(self, idx: torch.Tensor) -> "Features":
        return Features([p[idx] for p in self.pooled], self.last_input[idx])


@torch.no_grad()
def extract(model: nn.Module, x: torch.Tensor, device: torch.device | str = "cpu", batch_size: int = 500) -> Features:
    """Run ``model`` (eval mode) over ``x`` and keep every stage's output (see ``Features``)."""
    device = torch.device(device)
    model = model.to(device).eval()
    outputs: list[torch.Tensor] = []
    hooks = [s.register_forward_hook(lambda _m, _i, out: outputs.append(out)) for s in stages(model)]
    pooled: list[list[torch.Tensor]] = [[] for _ in hooks]
    last_input = []
    try:
        for start in range(0, len(x), batch_size):
            outputs.clear()
            model(x[start:start + batch_size].to(device))
            for k, out in enumerate(outputs):
                pooled[k].append(out.float().mean(dim=(2, 3)).cpu())
            last_input.append(outputs[-2].float().cpu() if len(outputs) > 1 else x[start:start + batch_size])
    finally:
        for h in hooks:
            h.remove()
    return Features([torch.cat(p) for p in pooled], torch.cat(last_input))


@dataclass
class Result:
    """One trained strategy: test accuracy, final training error, cost, and its test predictions."""

    strategy: str
    accuracy: float
    train_error: float
    steps: int
    seconds: float
    predictions: torch.Tensor | None = field(default=None, repr=False)

    def row(self) -> dict:
        """The numbers, without the predictions (one row of ``compare``)."""
        return {k: v for k, v in vars(self).items() if k != "predictions"}


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, device: torch.device | str = "cpu", batch_size: int = 500) -> torch.Tensor:
    """The predicted class of every image in ``x`` (eval mode), on the CPU."""
    was_training = model.training
    model.eval()
    out = torch.cat([model(x[i:i + batch_size].to(device)).argmax(1).cpu() for i in range(0, len(x), batch_size)])
    model.train(was_training)
    return out


def _train(model: nn.Module, params: list[dict], x: torch.Tensor, y: torch.Tensor, x_test: torch.Tensor,
           y_test: torch.Tensor, *, steps: int, seed: int, device: torch.device | str, strategy: str,
           batch_size: int = 32, momentum: float = 0.9, weight_decay: float = 5e-4) -> Result:
    """SGD (Nesterov) with a cosine schedule through ``fit``; test accuracy at the end."""
    optimizer = torch.optim.SGD(params, momentum=momentum, nesterov=True, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    train = Batches(x, y, min(batch_size, len(x)), seed=seed, device=device)
    start = time.perf_counter()
    history = fit(model, train, optimizer, steps=steps, scheduler=scheduler, eval_every=1, device=device,
                  desc=strategy, show_progress=False)
    predictions = predict(model, x_test, device)
    error = (predictions != y_test.cpu()).sum().item() / len(y_test)
    tail = history.error[-max(1, len(train)):]  # the last pass over the training set
    return Result(strategy, 1 - error, sum(tail) / len(tail), steps, time.perf_counter() - start, predictions)


def linear_probe(f_train: torch.Tensor, y_train: torch.Tensor, f_test: torch.Tensor, y_test: torch.Tensor,
                 num_classes: int, *, steps: int = 100, lr: float = 0.1, weight_decay: float = 1e-3,
                 seed: int = 0, device: torch.device | str = "cpu", strategy: str = "linear_probe") -> Result:
    """A softmax classifier ``W z + b`` on standardised features ``z = (f - mean) / std``
    (train statistics), full-batch SGD with momentum for ``steps`` steps."""
    mean, std = f_train.mean(0), f_train.std(0, unbiased=False) + 1e-6
    torch.manual_seed(seed)
    head = nn.Linear(f_train.shape[1], num_classes)
    return _train(head, [{"params": head.parameters(), "lr": lr}], (f_train - mean) / std, y_train,
                  (f_test - mean) / std, y_test, steps=steps, seed=seed, device=device, strategy=strategy,
                  batch_size=len(f_train), weight_decay=weight_decay)


def finetune_last(model: nn.Module, maps_train: torch.Tensor, y_train: torch.Tensor, maps_test: torch.Tensor,
                  y_test: torch.Tensor, num_classes: int, *, steps: int, lr: float = 0.02, seed: int = 0,
                  device: torch.device | str = "cpu") -> Result:
    """Train a copy of the last stage plus a new classifier on the frozen earlier stages' maps."""
    torch.manual_seed(seed)
    last = copy.deepcopy(stages(model)[-1])
    width = [m for m in last.modules() if isinstance(m, nn.BatchNorm2d)][-1].num_features
    head = nn.Sequential(last, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, num_classes))
    return _train(head, [{"params": head.parameters(), "lr": lr}], maps_train, y_train, maps_test, y_test,
                  steps=steps, seed=seed, device=device, strategy="finetune_last")


def _new_classifier(model: nn.Module, num_classes: int) -> nn.Module:
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model


def finetune_all(model: nn.Module, x: torch.Tensor, y: torch.Tensor, x_test: torch.Tensor, y_test: torch.Tensor,
                 num_classes: int, *, steps: int, lr: float = 0.05, backbone_lr: float = 0.2, seed: int = 0,
                 device: torch.device | str = "cpu") -> Result:
    """Train a copy of ``model`` with a new classifier: classifier at ``lr``, the rest at ``lr * backbone_lr``."""
    torch.manual_seed(seed)
    m = _new_classifier(copy.deepcopy(model), num_classes)
    head = list(m.fc.parameters())
    body = [p for p in m.parameters() if all(p is not h for h in head)]
    return _train(m, [{"params": body, "lr": lr * backbone_lr}, {"params": head, "lr": lr}], x, y, x_test, y_test,
                  steps=steps, seed=seed, device=device, strategy="finetune_all")


def scratch(build: Callable[[int], nn.Module], x: torch.Tensor, y: torch.Tensor, x_test: torch.Tensor,
            y_test: torch.Tensor, num_classes: int, *, steps: int, lr: float = 0.05, seed: int = 0,
            device: torch.device | str = "cpu") -> Result:
    """``build(num_classes)`` from a random initialisation (seeded), every weight at ``lr``."""
    torch.manual_seed(seed)
    m = build(num_classes)
    return _train(m, [{"params": m.parameters(), "lr": lr}], x, y, x_test, y_test, steps=steps, seed=seed,
                  device=device, strategy="scratch")


def stage_probe(train: Features, y_train: torch.Tensor, test: Features, y_test: torch.Tensor, num_classes: int,
                **probe: object) -> list[float]:
    """Linear-probe test accuracy on each stage's pooled features, stage 1 first."""
    return [linear_probe(a, y_train, b, y_test, num_classes, **probe).accuracy  # type: ignore[arg-type]
            for a, b in zip(train.pooled, test.pooled)]


def steps_for(n_train: int, epochs: int, batch_size: int = 32) -> int:
    """Optimizer steps of ``epochs`` passes over ``n_train`` images in batches of ``batch_size``."""
    return epochs * -(-n_train // batch_size)


class Runner:
    """Trains any strategy on ``target`` for a given training subset; the frozen networks'
    features are computed once for the whole training pool and test set, then sliced."""

    def __init__(self, model: nn.Module, build: Callable[[int], nn.Module], target, *, epochs: int,
                 scratch_epochs: int, device: torch.device | str = "cpu") -> None:
        self.model, self.build, self.target, self.device = model, build, target, device
        self.epochs, self.scratch_epochs = epochs, scratch_epochs
        self.f_pool, self.f_test = extract(model, target.x_train, device), extract(model, target.x_test, device)
        self._random: dict[int, tuple[Features, Features]] = {}  # per seed: a random network's features

    def run(self, strategy: str, labels_per_class: int, seed: int) -> Result:
        """``strategy`` trained on ``labels_per_class`` images a class drawn with ``seed`` (``subsample_indices``)."""
        t, k, device = self.target, self.target.num_classes, self.device
        idx = subsample_indices(t.y_train, labels_per_class, seed=seed)
        x, y = t.x_train[idx], t.y_train[idx]
        steps = steps_for(len(y), self.epochs)
        if strategy == "linear_probe":
            return linear_probe(self.f_pool.pooled[-1][idx], y, self.f_test.pooled[-1], t.y_test, k, seed=seed,
                                device=device)
        if strategy == "random_features":
            if seed not in self._random:
                torch.manual_seed(seed)
                rand = self.build(k)
                self._random[seed] = extract(rand, t.x_train, device), extract(rand, t.x_test, device)
            r_tr, r_te = self._random[seed]
            return linear_probe(r_tr.pooled[-1][idx], y, r_te.pooled[-1], t.y_test, k, seed=seed, device=device,
                                strategy="random_features")
        if strategy == "finetune_last":
            return finetune_last(self.model, self.f_pool.last_input[idx], y, self.f_test.last_input, t.y_test, k,
                                 steps=steps, seed=seed, device=device)
        if strategy == "finetune_all":
            return finetune_all(self.model, x, y, t.x_test, t.y_test, k, steps=steps, seed=seed, device=device)
        if strategy == "scratch":
            return scratch(self.build, x, y, t.x_test, t.y_test, k, steps=steps_for(len(y), self.scratch_epochs),
                           seed=seed, device=device)
        raise ValueError(f"unknown strategy {strategy!r}; valid: {STRATEGIES}")


def compare(model: nn.Module, build: Callable[[int], nn.Module], target, labels_per_class: list[int],
            seeds: list[int], *, epochs: int, scratch_epochs: int, strategies: tuple[str, ...] = STRATEGIES,
            device: torch.device | str = "cpu", progress_desc: str | None = None) -> list[dict]:
    """Every strategy on ``target`` (a ``TargetData``) for each labels-per-class and seed.

    Fine-tuning runs get ``steps_for(n, epochs)`` steps; ``scratch`` gets ``scratch_epochs``
    (a budget it converges in: its final training error is in the rows). The pretrained
    network's features are computed once for the whole training pool and sliced per subset
    (see ``Runner``). Returns one row per run: target, labels_per_class, seed, strategy,
    accuracy, train_error, steps, seconds.
    """
    from ..progress import progress

    for strategy in strategies:
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; valid: {STRATEGIES}")
    runner = Runner(model, build, target, epochs=epochs, scratch_epochs=scratch_epochs, device=device)
    runs = [(n, s) for n in labels_per_class for s in seeds]
    rows = []
    for n, seed in progress(runs, desc=progress_desc or f"{target.name}"):
        rows += [{"target": target.name, "labels_per_class": n, "seed": seed, **runner.run(strategy, n, seed).row()}
                 for strategy in strategies]
    return rows


def usable_labels_per_class(targets, requested: Sequence[int]) -> tuple[list[int], list[str]]:
    """``requested`` labels-per-class values that every target can give, and a note for each value reduced.

    A value above a target's smallest class (in its training pool) becomes that class's size;
    duplicates are dropped, the order kept. The notes name the target and the class.
    """
    values, notes = [], []
    for n in requested:
        used = n
        for t in targets:
            counts = torch.bincount(t.y_train, minlength=t.num_classes)
            smallest = int(counts.argmin())
            if used > counts[smallest]:
                used = int(counts[smallest])
                notes.append(f"labels_per_class {n} -> {used}: class {t.classes[smallest]!r} of {t.name!r} has only "
                             f"{used} training images (add images to that class to run {n})")
        if used < 1:
            raise ValueError(f"class {t.classes[smallest]!r} of {t.name!r} has no training images")
        if used not in values:
            values.append(used)
    return values, notes


def confusion(y_true: torch.Tensor, y_pred: torch.Tensor, num_classes: int) -> torch.Tensor:
    """The confusion matrix: ``[i, j]`` counts test images of class ``i`` predicted as ``j`` (scikit-learn's)."""
    from sklearn.metrics import confusion_matrix

    return torch.as_tensor(confusion_matrix(y_true.cpu().numpy(), y_pred.cpu().numpy(), labels=range(num_classes)))


@dataclass(frozen=True)
class Summary:
    """Test accuracy of one (target, labels per class, strategy) over seeds."""

    mean: float
    std: float
    low: float
    high: float
    n: int


def summarise(rows: list[dict]) -> dict[tuple[str, int, str], Summary]:
    """Group ``compare`` rows by (target, labels_per_class, strategy): mean, std (population), min, max."""
    groups: dict[tuple[str, int, str], list[float]] = {}
    for r in rows:
        groups.setdefault((r["target"], r["labels_per_class"], r["strategy"]), []).append(r["accuracy"])
    out = {}
    for key, acc in groups.items():
        t = torch.tensor(acc, dtype=torch.float64)
        out[key] = Summary(t.mean().item(), t.std(unbiased=False).item(), t.min().item(), t.max().item(), len(acc))
    return out


def best_strategy(summary: dict[tuple[str, int, str], Summary], target: str, labels_per_class: int,
                  among: tuple[str, ...] = STRATEGIES) -> str:
    """The strategy with the highest mean accuracy on ``target`` at ``labels_per_class``."""
    candidates = [s for s in among if (target, labels_per_class, s) in summary]
    if not candidates:
        ran = sorted({(t, n) for t, n, _ in summary})
        raise KeyError(f"no results for target {target!r} at {labels_per_class} labels/class among {list(among)}; "
                       f"the summary has (target, labels_per_class): {ran}")
    return max(candidates, key=lambda s: summary[(target, labels_per_class, s)].mean)


PRETRAINED: tuple[str, ...] = ("linear_probe", "finetune_last", "finetune_all")


def stage_probes(model: nn.Module, build: Callable[[int], nn.Module], target, labels_per_class: int,
                 seeds: list[int], device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """Linear-probe accuracy on each stage's features, for ``model`` and for a random ``build``.

    Returns ``{"pretrained": (seeds, stages), "random": (seeds, stages)}`` test accuracies; seed
    ``s`` draws the training subset and initialises the random network.
    """
    k = target.num_classes
    pre = extract(model, target.x_train, device), extract(model, target.x_test, device)
    out: dict[str, list[list[float]]] = {"pretrained": [], "random": []}
    for seed in seeds:
        idx = subsample_indices(target.y_train, labels_per_class, seed=seed)
        torch.manual_seed(seed)
        rand = build(k)
        rnd = extract(rand, target.x_train[idx], device), extract(rand, target.x_test, device)
        for name, (tr, te) in (("pretrained", (pre[0].take(idx), pre[1])), ("random", rnd)):
            out[name].append(stage_probe(tr, target.y_train[idx], te, target.y_test, k, seed=seed, device=device))
    return {name: torch.tensor(acc) for name, acc in out.items()}
