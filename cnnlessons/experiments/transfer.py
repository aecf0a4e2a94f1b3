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

import copy
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
from torch import nn

from ..data.targets import subsample_indices, validation_split
from ..models.stages import residual_stages
from ..train import Batches, Convergence, History, fit

STRATEGIES: tuple[str, ...] = ("scratch", "linear_probe", "earlier_probe", "finetune_last", "finetune_all",
                               "random_features")
#: The strategies that start from the pretrained network.
PRETRAINED: tuple[str, ...] = ("linear_probe", "earlier_probe", "finetune_last", "finetune_all")
#: The strategies that train a network's weights (the others fit a linear classifier only).
TRAINS_WEIGHTS: tuple[str, ...] = ("scratch", "finetune_last", "finetune_all")
#: The learning rates every strategy chooses from, on the validation split (a decade apart: fine-tuning
#: with frozen BatchNorm statistics diverges at 0.01 on the digits, scratch prefers 0.01-0.1).
LR_GRID: tuple[float, ...] = (0.001, 0.01, 0.1)
#: ``labels_per_class`` meaning every training image the target has (the "lots of data" column).
ALL = "all"
#: A run that trains weights has fit its training images when its final training error is at most this.
FIT_ERROR = 0.05

LabelCount = int | str  # a number of labelled images per class, or ALL


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
# Features of a frozen network


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
    """Run ``model`` (eval mode) over ``x`` and keep every stage's output (see ``Features``).

    The stages are found by ``residual_stages`` (``layer1, layer2, ...``); the last stage's
    input is the previous stage's output (``outputs[-2]``), so stages must run one after the
    other, as in a ResNet.
    """
    device = torch.device(device)
    model = model.to(device).eval()
    outputs: list[torch.Tensor] = []
    hooks = [s.register_forward_hook(lambda _m, _i, out: outputs.append(out)) for s in residual_stages(model)]
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


# ---------------------------------------------------------------------------------------------
# The trainable pieces


class Probe(nn.Module):
    """A linear probe on standardised features: ``logits = W (f - mu) / sigma + b``.

    ``mu`` and ``sigma`` are the training features' mean and standard deviation (buffers,
    never trained). It takes the pooled features a ResNet hands its ``fc``, so a fitted probe
    can become that network's classifier as it is.
    """

    def __init__(self, features: torch.Tensor, num_classes: int) -> None:
        super().__init__()
        self.register_buffer("mu", features.mean(0))
        self.register_buffer("sigma", features.std(0, unbiased=False) + 1e-6)
        self.linear = nn.Linear(features.shape[1], num_classes)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.linear((f - self.mu) / self.sigma)


class FrozenStatistics(nn.Module):
    """``module`` whose BatchNorm layers stay in eval mode even while training.

    They normalise with the running statistics they came with and never update them; their
    scale and shift (gamma, beta) still train. (torchvision's detection models fine-tune with
    ``FrozenBatchNorm2d``, which freezes gamma and beta too.)
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def train(self, mode: bool = True) -> "FrozenStatistics":
        super().train(mode)
        for m in self.module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x)


def _sgd(model: nn.Module, groups: list[dict], x: torch.Tensor, y: torch.Tensor, *, steps: int, batch_size: int,
         seed: int, device: torch.device | str, weight_decay: float = 5e-4, desc: str = "") -> History:
    """SGD (Nesterov momentum 0.9) with a cosine schedule from each group's ``lr`` to 0, through ``fit``."""
    optimizer = torch.optim.SGD(groups, momentum=0.9, nesterov=True, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    train = Batches(x, y, min(batch_size, len(x)), seed=seed, device=device, drop_last=True)
    return fit(model, train, optimizer, steps=steps, scheduler=scheduler, eval_every=len(train), device=device,
               desc=desc, show_progress=False)


def fit_probe(f: torch.Tensor, y: torch.Tensor, num_classes: int, *, lr: float, steps: int = 300, seed: int = 0,
              weight_decay: float = 1e-3, device: torch.device | str = "cpu") -> tuple[Probe, History]:
    """A ``Probe`` fitted to features ``f`` and labels ``y`` by full-batch SGD for ``steps`` steps."""
    torch.manual_seed(seed)
    probe = Probe(f, num_classes)
    history = _sgd(probe, [{"params": probe.parameters(), "lr": lr}], f, y, steps=steps, batch_size=len(f),
                   seed=seed, device=device, weight_decay=weight_decay, desc="probe")
    return probe, history


def _with_bn(module: nn.Module, bn: str) -> nn.Module:
    return FrozenStatistics(module) if bn == "frozen" else module


def finetune_last(model: nn.Module, probe: Probe, maps: torch.Tensor, y: torch.Tensor, *, lr: float, steps: int,
                  batch_size: int = 32, bn: str = "train", seed: int = 0,
                  device: torch.device | str = "cpu") -> tuple[nn.Module, History]:
    """Train a copy of ``model``'s last stage and of ``probe`` (its classifier) on the frozen earlier
    stages' output ``maps``; ``model`` and ``probe`` are left untouched."""
    torch.manual_seed(seed)
    head = _with_bn(nn.Sequential(copy.deepcopy(residual_stages(model)[-1]), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  copy.deepcopy(probe)), bn)
    history = _sgd(head, [{"params": head.parameters(), "lr": lr}], maps, y, steps=steps, batch_size=batch_size,
                   seed=seed, device=device, desc="finetune_last")
    return head, history


def with_probe_head(model: nn.Module, probe: Probe) -> nn.Module:
    """A copy of ``model`` whose classifier ``fc`` is a copy of ``probe`` (fine-tuning's start)."""
    net = copy.deepcopy(model)
    net.fc = copy.deepcopy(probe)
    return net


@torch.no_grad()
def start_loss(model: nn.Module, probe: Probe, x: torch.Tensor, y: torch.Tensor, batch_size: int,
               device: torch.device | str = "cpu") -> dict[str, float]:
    """Cross-entropy of ``with_probe_head(model, probe)`` on ``(x, y)`` before any step, with its
    BatchNorm layers in eval mode (the statistics the probe was fitted with) and in train mode
    (each batch of ``batch_size`` normalised with its own statistics, as fine-tuning sees it)."""
    net = with_probe_head(model, probe).to(device)
    out = {}
    for mode in ("eval", "train"):
        net.train(mode == "train")
        losses = [nn.functional.cross_entropy(net(x[i:i + batch_size].to(device)), y[i:i + batch_size].to(device),
                                              reduction="sum").item() for i in range(0, len(x), batch_size)]
        out[mode] = sum(losses) / len(x)
    return out


def finetune_all(model: nn.Module, probe: Probe, x: torch.Tensor, y: torch.Tensor, *, lr: float, steps: int,
                 backbone_lr_scale: float = 1.0, batch_size: int = 32, bn: str = "train", seed: int = 0,
                 device: torch.device | str = "cpu") -> tuple[nn.Module, History]:
    """Train ``with_probe_head(model, probe)``: the classifier at ``lr``, every other weight at
    ``lr * backbone_lr_scale`` (a scale: 1 trains them at the same rate, 0.1 ten times slower)."""
    torch.manual_seed(seed)
    net = with_probe_head(model, probe)
    head = list(net.fc.parameters())
    body = [p for p in net.parameters() if all(p is not h for h in head)]
    net = _with_bn(net, bn)
    history = _sgd(net, [{"params": body, "lr": lr * backbone_lr_scale}, {"params": head, "lr": lr}], x, y,
                   steps=steps, batch_size=batch_size, seed=seed, device=device, desc="finetune_all")
    return net, history


def scratch(build: Callable[[int], nn.Module], x: torch.Tensor, y: torch.Tensor, num_classes: int, *, lr: float,
            steps: int, batch_size: int = 32, seed: int = 0,
            device: torch.device | str = "cpu") -> tuple[nn.Module, History]:
    """``build(num_classes)`` from a random initialisation (seeded), every weight at ``lr``."""
    torch.manual_seed(seed)
    net = build(num_classes)
    history = _sgd(net, [{"params": net.parameters(), "lr": lr}], x, y, steps=steps, batch_size=batch_size,
                   seed=seed, device=device, desc="scratch")
    return net, history


@torch.no_grad()
def finished(strategy: str, history: History) -> bool:
    """Whether a run of ``strategy`` finished training: it converged (``cnnlessons.train.Convergence``)
    and, if it trains weights, fit its training images (final training error <= ``FIT_ERROR``; a
    cosine schedule flattens every curve at its end, so a plateau alone does not show that)."""
    return history.converged and (strategy not in TRAINS_WEIGHTS or history.final_train_error <= FIT_ERROR)


def predict(model: nn.Module, x: torch.Tensor, device: torch.device | str = "cpu",
            batch_size: int = 500) -> torch.Tensor:
    """The predicted class of every input in ``x`` (eval mode), on the CPU."""
    was_training = model.training
    model.to(device).eval()
    out = torch.cat([model(x[i:i + batch_size].to(device)).argmax(1).cpu() for i in range(0, len(x), batch_size)])
    model.train(was_training)
    return out


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


@dataclass(frozen=True)
class Summary:
    """One number of one (target, labels per class, strategy) over seeds."""

    mean: float
    std: float
    low: float
    high: float
    n: int

    @property
    def spread(self) -> float:
        """``high - low``: how far apart the seeds landed."""
        return self.high - self.low


def summarise(rows: Sequence[Result | dict], key: str = "accuracy") -> dict[tuple, Summary]:
    """Group results (``Result`` or its ``row()``) by (target, labels_per_class, strategy): mean, std
    (population), min and max of ``key`` over the seeds."""
    groups: dict[tuple, list[float]] = {}
    for r in rows:
        d = r.row() if isinstance(r, Result) else r
        groups.setdefault((d["target"], d["labels_per_class"], d["strategy"]), []).append(float(d[key]))
    out = {}
    for group, values in groups.items():
        t = torch.tensor(values, dtype=torch.float64)
        out[group] = Summary(t.mean().item(), t.std(unbiased=False).item(), t.min().item(), t.max().item(), len(values))
    return out


def best_strategy(summary: dict[tuple, Summary], target: str, labels_per_class: LabelCount,
                  among: tuple[str, ...] = STRATEGIES) -> str:
    """The strategy with the highest mean accuracy on ``target`` at ``labels_per_class``."""
    candidates = [s for s in among if (target, labels_per_class, s) in summary]
    if not candidates:
        ran = sorted({(t, n) for t, n, _ in summary}, key=str)
        raise KeyError(f"no results for target {target!r} at {labels_per_class} labels/class among {list(among)}; "
                       f"the summary has (target, labels_per_class): {ran}")
    return max(candidates, key=lambda s: summary[(target, labels_per_class, s)].mean)


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


#: The numbers a record keeps of each run, by the name they have in ``Result``.
RECORDED = {"accuracy": "accuracy", "train error": "train_error", "lr": "lr", "converged": "converged"}


def record_summary(results: Sequence[Result], variant: str = "") -> dict[str, list[float]]:
    """A record's ``summary``: ``"<target> <n>/class <strategy>[ <variant>] <number>"`` -> one value per
    seed (in seed order), for every number of ``RECORDED``; ``variant`` is one word (``frozen_bn``)."""
    if " " in variant:
        raise ValueError(f"variant must be one word; got {variant!r}")
    out: dict[str, list[float]] = {}
    for r in sorted(results, key=lambda r: r.seed):
        name = f"{r.target} {r.labels_per_class}/class {r.strategy}" + (f" {variant}" if variant else "")
        for label, attr in RECORDED.items():
            out.setdefault(f"{name} {label}", []).append(round(float(getattr(r, attr)), 4))
    return out


def rows_from_record(summary: dict[str, list[float]], seeds: Sequence[int], variant: str = "") -> list[dict]:
    """The inverse of ``record_summary``: one row per run (``Result.row()``'s keys that a record keeps)."""
    rows: dict[tuple, dict] = {}
    for key, values in summary.items():
        label = next((lab for lab in RECORDED if key.endswith(" " + lab)), None)
        parts = key[:-len(label) - 1].split(" ") if label else []
        if len(parts) != (4 if variant else 3) or (variant and parts[3] != variant):
            continue
        target, n, strategy = parts[:3]
        n = n.removesuffix("/class")
        labels: LabelCount = ALL if n == ALL else int(n)
        attr = RECORDED[label]  # type: ignore[index]
        for seed, value in zip(seeds, values):
            row = rows.setdefault((target, labels, strategy, seed),
                                  {"target": target, "labels_per_class": labels, "strategy": strategy, "seed": seed})
            row[attr] = bool(value) if attr == "converged" else value
    return list(rows.values())
