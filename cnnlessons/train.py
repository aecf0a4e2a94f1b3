"""The course's one training loop. Every lesson that trains calls ``fit``.

One step is the textbook one, readable top to bottom::

    logits = model(x); loss = loss_fn(logits, y)
    optimizer.zero_grad(); loss.backward(); optimizer.step()

Around it ``fit`` adds only what a lesson needs: moving data to the device, a tqdm progress
bar, periodic evaluation, a learning-rate schedule (``ReduceLROnPlateau`` is stepped with the
evaluation error) and a ``History`` of loss, error and learning rate ready to plot. On CUDA it
uses bf16 autocast and channels_last memory (faster tensor-core kernels); on the CPU it stays
in plain float32 and, after ``seed_everything``, is bit-for-bit repeatable.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from .progress import progress

Batch = tuple[torch.Tensor, torch.Tensor]


class Batches:
    """Mini-batches over in-memory tensors ``x`` (N, C, H, W) and ``y`` (N,).

    Each pass (epoch) draws a fresh permutation from its own generator seeded with ``seed``,
    so the order is reproducible and independent of other random draws. The tensors are
    moved to ``device`` once, so a step costs no host-to-device copy.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, *, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False, device: torch.device | str | None = None):
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} items but y has {len(y)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got {batch_size}")
        self.x = x.to(device) if device is not None else x
        self.y = y.to(device) if device is not None else y
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        n = len(self.x)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        n = len(self.x)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        order = order.to(self.x.device)
        for i in range(len(self)):
            idx = order[i * self.batch_size:(i + 1) * self.batch_size]
            yield self.x[idx], self.y[idx]


@dataclass
class History:
    """What happened during ``fit``: per step and per evaluation, as lists ready to plot."""

    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)          # training loss of each step's batch
    error: list[float] = field(default_factory=list)         # training error of each step's batch
    lr: list[float] = field(default_factory=list)
    eval_step: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)    # mean over the steps since the last evaluation
    train_error: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_error: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def smoothed(self, key: str = "error", window: int = 20) -> list[float]:
        """A trailing moving average of a per-step series (batch values are noisy)."""
        values = getattr(self, key)
        out, total = [], 0.0
        for i, v in enumerate(values):
            total += v
            if i >= window:
                total -= values[i - window]
            out.append(total / min(i + 1, window))
        return out


def _fast_cuda(device: torch.device) -> bool:
    return device.type == "cuda"


def _autocast(device: torch.device):
    if _fast_cuda(device) and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _to(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    x = x.to(device, non_blocking=True)
    if _fast_cuda(device) and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


@torch.no_grad()
def evaluate(model: nn.Module, data: Iterable[Batch], device: torch.device | str | None = None,
             loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy) -> tuple[float, float]:
    """Mean loss and classification error of ``model`` over ``data``, in eval mode."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    total_loss, wrong, count = 0.0, 0, 0
    for x, y in data:
        x, y = _to(x, device), y.to(device)
        with _autocast(device):
            logits = model(x)
        total_loss += loss_fn(logits.float(), y).item() * len(y)
        wrong += (logits.argmax(1) != y).sum().item()
        count += len(y)
    model.train(was_training)
    return total_loss / count, wrong / count


def fit(model: nn.Module, train: Iterable[Batch], optimizer: torch.optim.Optimizer, *,
        steps: int | None = None, epochs: int | None = None,
        scheduler: object | None = None, val: Iterable[Batch] | None = None,
        eval_every: int | None = None, device: torch.device | str = "cpu",
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
        desc: str = "training", show_progress: bool = True) -> History:
    """Train ``model`` on ``train`` for ``steps`` optimizer steps (or ``epochs`` passes).

    Every ``eval_every`` steps (default: once per pass over ``train``) it records the mean
    training loss/error since the last evaluation and, if ``val`` is given, the validation
    loss/error, then steps the ``scheduler``: ``ReduceLROnPlateau`` with the validation error
    (training error without ``val``), any other scheduler without an argument. Returns the
    ``History``. The model is left in train mode on ``device``.
    """
    if (steps is None) == (epochs is None):
        raise ValueError("give exactly one of steps= or epochs=")
    per_epoch = len(train) if hasattr(train, "__len__") else None  # type: ignore[arg-type]
    if epochs is not None:
        if per_epoch is None:
            raise ValueError("epochs= needs data with a length; use steps=")
        steps = epochs * per_epoch
    if steps is None or steps < 1:
        raise ValueError(f"steps must be >= 1; got {steps}")
    eval_every = eval_every or per_epoch or steps
    device = torch.device(device)
    model.to(device).train()
    if _fast_cuda(device):
        model.to(memory_format=torch.channels_last)

    history = History()
    window_loss, window_wrong, window_count = 0.0, 0, 0
    batches = _forever(train)
    start = time.perf_counter()
    for step in progress(range(1, steps + 1), desc=desc, disable=not show_progress):
        x, y = next(batches)
        x, y = _to(x, device), y.to(device, non_blocking=True)
        with _autocast(device):
            logits = model(x)
            loss = loss_fn(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

        loss_value = loss.item()
        wrong = (logits.argmax(1) != y).sum().item()
        history.step.append(step)
        history.loss.append(loss_value)
        history.error.append(wrong / len(y))
        history.lr.append(optimizer.param_groups[0]["lr"])
        window_loss += loss_value * len(y)
        window_wrong += wrong
        window_count += len(y)

        if step % eval_every == 0 or step == steps:
            history.eval_step.append(step)
            history.train_loss.append(window_loss / window_count)
            history.train_error.append(window_wrong / window_count)
            window_loss, window_wrong, window_count = 0.0, 0, 0
            if val is not None:
                val_loss, val_error = evaluate(model, val, device, loss_fn)
                history.val_loss.append(val_loss)
                history.val_error.append(val_error)
            _step_scheduler(scheduler, history)
    history.seconds = time.perf_counter() - start
    return history


def _step_scheduler(scheduler: object | None, history: History) -> None:
    if scheduler is None:
        return
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(history.val_error[-1] if history.val_error else history.train_error[-1])
    else:
        scheduler.step()  # type: ignore[attr-defined]


def _forever(data: Iterable[Batch]) -> Iterator[Batch]:
    """Cycle through ``data`` pass after pass (a fresh shuffle each pass for ``Batches``)."""
    while True:
        empty = True
        for batch in data:
            empty = False
            yield batch
        if empty:
            raise ValueError("the training data yielded no batches")
