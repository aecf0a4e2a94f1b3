"""The transfer-learning strategies themselves, one function each (``cnnlessons.experiments.transfer``
compares them with fair budgets and tuned learning rates; see its docstring for the whole recipe).

- ``extract``: a frozen network's pooled stage outputs (``Features``);
- ``fit_probe``: a softmax classifier on standardised features (``Probe``): the linear probe;
- ``finetune_last`` / ``finetune_all``: fine-tuning from the fitted probe as the head, the last
  stage only or every weight, with BatchNorm in train mode or frozen (``FrozenStatistics``);
- ``scratch``: the same architecture from a random initialisation;
- ``predict``: a trained model's classes.

Assumed of the network (a CIFAR ResNet or a torchvision ResNet): its residual stages are
``layer1, layer2, ...`` (``residual_stages``), the classifier is the attribute ``fc`` applied
to the last stage's output averaged over space, and nothing else runs between them.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from ..models.stages import residual_stages
from ..train import Batches, History, fit

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


def finished(strategy: str, history: History) -> bool:
    """Whether a run of ``strategy`` finished training: it converged (``cnnlessons.train.Convergence``)
    and, if it trains weights, fit its training images (final training error <= ``FIT_ERROR``; a
    cosine schedule flattens every curve at its end, so a plateau alone does not show that)."""
    return history.converged and (strategy not in TRAINS_WEIGHTS or history.final_train_error <= FIT_ERROR)


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
def predict(model: nn.Module, x: torch.Tensor, device: torch.device | str = "cpu",
            batch_size: int = 500) -> torch.Tensor:
    """The predicted class of every input in ``x`` (eval mode), on the CPU."""
    was_training = model.training
    model.to(device).eval()
    out = torch.cat([model(x[i:i + batch_size].to(device)).argmax(1).cpu() for i in range(0, len(x), batch_size)])
    model.train(was_training)
    return out
