"""Training weights for transfer: fine-tuning from a fitted probe, and the same network from scratch.

Every run here is SGD with Nesterov momentum 0.9, weight decay 5e-4 and a cosine schedule from
the learning rate ``eta`` to 0 over ``T`` steps, ``eta_t = eta (1 + cos(pi t / T)) / 2``, through
the course's one training loop (``cnnlessons.train.fit``).

- ``finetune_all``: every weight, starting from the pretrained network with the fitted linear
  probe as its classifier (``with_probe_head``). Starting from a fitted head rather than a random
  one is LP-FT (Kumar et al. 2022, "Fine-Tuning can Distort Pretrained Features"): a random head's
  large, random gradients would first flow back into the pretrained features.
- ``finetune_last``: the same, but only the last stage and the head train; the earlier stages are
  frozen, so their output (``Features.last_input``) is computed once.
- ``scratch``: the same architecture from a random initialisation, every weight trained.

**BatchNorm.** In train mode a BatchNorm layer normalises each channel with the mean and variance
of the current batch and moves its running statistics towards them. ``bn="frozen"``
(``FrozenStatistics``) keeps every BatchNorm layer in eval mode instead: it normalises with the
running statistics it came with (the source's), never updated; its scale and shift still train.
With frozen statistics the network at step 0 computes exactly what the probe was fitted on, so
fine-tuning starts from the probe itself (``start_losses`` measures what train mode does instead).

**Fitted.** A run that trains weights has *fitted* its training images when it converged
(``cnnlessons.train.Convergence``) and its final training error is at most ``FIT_ERROR``. Under a
cosine schedule every curve flattens at the end, so a plateau alone does not say the run fitted.
"""
from __future__ import annotations

import copy
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

from ...models.stages import residual_stages
from ...train import Batches, History, fit
from .probe import Probe

#: A run that trains weights has fitted its training images when its final training error is at most this.
FIT_ERROR = 0.05
#: What a BatchNorm layer does while a network fine-tunes (see the module docstring).
BN_MODES: tuple[str, ...] = ("frozen", "train")


def fitted(history: History) -> bool:
    """Whether a run that trains weights fitted its training images: converged (``Convergence``) and
    a final training error (``History.final_train_error``) of at most ``FIT_ERROR``."""
    return history.converged and history.final_train_error <= FIT_ERROR


class FrozenStatistics(nn.Module):
    """``module`` whose BatchNorm layers stay in eval mode even while the rest trains.

    They normalise with the running statistics they came with and never update them; their scale
    and shift (gamma, beta) still train. (torchvision's detection models fine-tune with
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


def _with_bn(module: nn.Module, bn: str) -> nn.Module:
    if bn not in BN_MODES:
        raise ValueError(f"bn must be one of {BN_MODES}; got {bn!r}")
    return FrozenStatistics(module) if bn == "frozen" else module


def with_probe_head(model: nn.Module, probe: Probe) -> nn.Module:
    """A copy of ``model`` whose classifier ``fc`` is a copy of ``probe``: where fine-tuning starts."""
    net = copy.deepcopy(model)
    net.fc = copy.deepcopy(probe)
    return net


def sgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, lr: float, steps: int, batch_size: int,
        seed: int = 0, device: torch.device | str = "cpu", weight_decay: float = 5e-4) -> History:
    """Train every parameter of ``model`` that requires a gradient on ``(x, y)``: SGD (Nesterov momentum
    0.9) with a cosine schedule from ``lr`` to 0 over ``steps`` steps, batches of ``batch_size``
    drawn by a generator seeded with ``seed`` (a partial last batch is left for the next pass)."""
    if lr <= 0 or steps < 1 or batch_size < 1:
        raise ValueError(f"lr must be positive, steps and batch_size at least 1; got {lr}, {steps}, {batch_size}")
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    batches = Batches(x, y, min(batch_size, len(x)), seed=seed, device=device, drop_last=True)
    # fit steps the scheduler at each evaluation: every step, so the cosine is followed step by step
    return fit(model, batches, optimizer, steps=steps, scheduler=scheduler, eval_every=1, device=device,
               show_progress=False)


def finetune_all(model: nn.Module, probe: Probe, x: torch.Tensor, y: torch.Tensor, *, lr: float, steps: int,
                 batch_size: int, bn: str = "frozen", seed: int = 0,
                 device: torch.device | str = "cpu") -> tuple[nn.Module, History]:
    """Train every weight of ``with_probe_head(model, probe)`` on images ``x``; ``model`` and ``probe``
    are left untouched. Returns the trained network and its ``History``."""
    torch.manual_seed(seed)
    net = _with_bn(with_probe_head(model, probe), bn)
    return net, sgd(net, x, y, lr=lr, steps=steps, batch_size=batch_size, seed=seed, device=device)


def last_stage(model: nn.Module, probe: Probe) -> nn.Sequential:
    """A copy of ``model``'s last stage, global average pooling and a copy of ``probe``: the part
    ``finetune_last`` trains, taking the maps that enter the last stage."""
    return nn.Sequential(copy.deepcopy(residual_stages(model)[-1]), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         copy.deepcopy(probe))


def finetune_last(model: nn.Module, probe: Probe, maps: torch.Tensor, y: torch.Tensor, *, lr: float, steps: int,
                  batch_size: int, bn: str = "frozen", seed: int = 0,
                  device: torch.device | str = "cpu") -> tuple[nn.Module, History]:
    """Train ``last_stage(model, probe)`` on ``maps`` (the frozen earlier stages' output for the
    training images, ``Features.last_input``); ``model`` and ``probe`` are left untouched."""
    torch.manual_seed(seed)
    head = _with_bn(last_stage(model, probe), bn)
    return head, sgd(head, maps, y, lr=lr, steps=steps, batch_size=batch_size, seed=seed, device=device)


def scratch(build: Callable[[int], nn.Module], x: torch.Tensor, y: torch.Tensor, num_classes: int, *, lr: float,
            steps: int, batch_size: int, seed: int = 0,
            device: torch.device | str = "cpu") -> tuple[nn.Module, History]:
    """Train ``build(num_classes)`` from a random initialisation (seeded), every weight, BatchNorm in
    train mode (random weights have no statistics worth freezing)."""
    torch.manual_seed(seed)
    net = build(num_classes)
    return net, sgd(net, x, y, lr=lr, steps=steps, batch_size=batch_size, seed=seed, device=device)


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, device: torch.device | str = "cpu",
            batch_size: int = 500) -> torch.Tensor:
    """The predicted class of every input in ``x`` (eval mode), on the CPU."""
    was_training = model.training
    model.to(device).eval()
    out = torch.cat([model(x[i:i + batch_size].to(device)).argmax(1).cpu() for i in range(0, len(x), batch_size)])
    model.train(was_training)
    return out


@torch.no_grad()
def start_losses(model: nn.Module, probe: Probe, x: torch.Tensor, y: torch.Tensor, batch_size: int,
                 device: torch.device | str = "cpu") -> dict[str, float]:
    """Cross-entropy of ``with_probe_head(model, probe)`` on ``(x, y)`` before any fine-tuning step,
    with its BatchNorm layers normalising by three kinds of statistics:

    - ``"source"``: the running statistics it came with (eval mode): what the probe was fitted on,
      and what frozen statistics keep. This is the probe's own loss on ``(x, y)``;
    - ``"target"``: the statistics of all of ``x`` at once (train mode on one batch of every image):
      the source-to-target shift alone, without small-batch noise;
    - ``"batch"``: each batch of ``batch_size`` images normalised by its own statistics (train mode),
      as fine-tuning in train mode sees it: the shift plus small-batch noise.

    Running statistics move in train mode, so each is measured on a fresh copy.
    """
    out = {}
    for name, size in (("source", len(x)), ("target", len(x)), ("batch", batch_size)):
        net = with_probe_head(model, probe).to(device).train(name != "source")
        total = 0.0
        for i in range(0, len(x) - size + 1, size):  # whole batches, as fine-tuning draws them
            logits = net(x[i:i + size].to(device))
            total += F.cross_entropy(logits, y[i:i + size].to(device), reduction="sum").item()
        out[name] = total / (len(x) // size * size)
    return out
