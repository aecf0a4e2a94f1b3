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


@dataclass(frozen=True)
class Convergence:
    """Whether a run's training error had stopped moving when training ended.

    With ``e(a, b)`` the mean per-step training error over the steps between fractions ``a``
    and ``b`` of the run, the numbers are ``final = e(0.95, 1.0)`` and
    ``change = e(0.80, 0.85) - final``; the run has **converged** when
    ``|change| <= tolerance = max(0.01, 0.1 * final)``: over the last fifth of training the
    error moved by at most one point, or by at most a tenth of itself.

    This is the plateau of *training* error, so it says where optimisation ended, not whether
    the net generalises. A run can converge to a high error (that is what degradation is).
    """

    converged: bool
    final_train_error: float
    earlier_train_error: float
    change: float
    tolerance: float
    steps: int

    def summary(self) -> str:
        """The numbers in a few words: ``final 0.041, change -0.003``."""
        return f"final {self.final_train_error:.3f}, change {self.change:+.3f}"

    def __str__(self) -> str:
        verdict = "converged" if self.converged else "NOT converged"
        return (f"{verdict}: training error {self.earlier_train_error:.3f} at 80-85% of {self.steps} steps, "
                f"{self.final_train_error:.3f} at 95-100% (change {self.change:+.3f}, tolerance {self.tolerance:.3f})")


def convergence(errors: list[float]) -> Convergence:
    """The ``Convergence`` of a run from its per-step training errors (see ``Convergence``)."""
    n = len(errors)
    if n == 0:
        raise ValueError("convergence() needs at least one training step")

    def window(a: float, b: float) -> float:
        lo = min(int(a * n), n - 1)
        hi = max(lo + 1, int(round(b * n)))
        part = errors[lo:hi]
        return sum(part) / len(part)
    final = window(0.95, 1.0)
    earlier = window(0.80, 0.85)
    tolerance = max(0.01, 0.1 * final)
    change = earlier - final
    return Convergence(abs(change) <= tolerance, final, earlier, change, tolerance, n)


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

    @property
    def convergence(self) -> Convergence:
        """Whether training error had flattened out by the end, with the numbers (``Convergence``)."""
        return convergence(self.error)

    @property
    def converged(self) -> bool:
        return self.convergence.converged

    @property
    def final_train_error(self) -> float:
        """Mean training error of the steps in the last 5% of the run."""
        return self.convergence.final_train_error

    @property
    def train_error_change(self) -> float:
        """Mean training error over 80-85% of the run minus ``final_train_error``."""
        return self.convergence.change

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


def _fast_cuda(device: torch.device, mixed_precision: bool | None = None) -> bool:
    """bf16 autocast + channels_last: on by default on CUDA, never on the CPU."""
    return device.type == "cuda" and (mixed_precision is None or mixed_precision)


def _autocast(device: torch.device, mixed_precision: bool | None = None):
    if _fast_cuda(device, mixed_precision) and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _to(x: torch.Tensor, device: torch.device, mixed_precision: bool | None = None) -> torch.Tensor:
    x = x.to(device, non_blocking=True)
    if _fast_cuda(device, mixed_precision) and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


@torch.no_grad()
def evaluate(model: nn.Module, data: Iterable[Batch], device: torch.device | str | None = None,
             loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
             mixed_precision: bool | None = None) -> tuple[float, float]:
    """Mean loss and classification error of ``model`` over ``data``, in eval mode."""
    device = torch.device(device) if device is not None else _model_device(model)
    was_training = model.training
    model.eval()
    # Sums stay on the device (float64, so the result equals summing Python floats); reading
    # a value back waits for the GPU, so it happens once, at the end, not once per batch.
    total_loss = torch.zeros((), dtype=torch.float64, device=device)
    wrong = torch.zeros((), dtype=torch.int64, device=device)
    count = 0
    for x, y in data:
        x, y = _to(x, device, mixed_precision), y.to(device)
        with _autocast(device, mixed_precision):
            logits = model(x)
        total_loss += loss_fn(logits.float(), y).double() * len(y)
        wrong += (logits.argmax(1) != y).sum()
        count += len(y)
    model.train(was_training)
    if count == 0:
        raise ValueError("evaluate() got no examples: the data yielded no batches")
    return total_loss.item() / count, wrong.item() / count


def fit(model: nn.Module, train: Iterable[Batch], optimizer: torch.optim.Optimizer, *,
        steps: int | None = None, epochs: int | None = None,
        scheduler: object | None = None, val: Iterable[Batch] | None = None,
        eval_every: int | None = None, device: torch.device | str | None = None,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
        desc: str = "training", show_progress: bool = True,
        mixed_precision: bool | None = None) -> History:
    """Train ``model`` on ``train`` for ``steps`` optimizer steps (or ``epochs`` passes).

    Every ``eval_every`` steps (default: once per pass over ``train``) it records the mean
    training loss/error since the last evaluation and, if ``val`` is given, the validation
    loss/error, then steps the ``scheduler``: ``ReduceLROnPlateau`` with the validation error
    (training error without ``val``), any other scheduler without an argument. Returns the
    ``History``. The model is left in train mode on ``device`` (default: where the model's
    parameters already are, so a model moved to CUDA trains there).

    ``mixed_precision=False`` keeps float32 on CUDA too (``None``: bf16 + channels_last on
    CUDA, float32 elsewhere).
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
    if eval_every is not None and (isinstance(eval_every, bool) or not isinstance(eval_every, int) or eval_every < 1):
        raise ValueError(f"eval_every must be a positive number of steps or None (once per pass); got {eval_every!r}")
    eval_every = eval_every or per_epoch or steps
    device = torch.device(device) if device is not None else _model_device(model)
    model.to(device).train()
    if _fast_cuda(device, mixed_precision):
        model.to(memory_format=torch.channels_last)

    history = History()
    pending: list[tuple[torch.Tensor, torch.Tensor, int]] = []  # (loss, wrong, batch size) per step, on the device
    batches = _forever(train)
    start = time.perf_counter()
    for step in progress(range(1, steps + 1), desc=desc, disable=not show_progress):
        x, y = next(batches)
        x, y = _to(x, device, mixed_precision), y.to(device, non_blocking=True)
        with _autocast(device, mixed_precision):
            logits = model(x)
            loss = loss_fn(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

        # No .item() here: reading a number back from the GPU waits for every queued kernel,
        # so a read per step would stall the GPU each step. The values wait on the device and
        # are read back together at the next evaluation.
        pending.append((loss.detach(), (logits.argmax(1) != y).sum(), len(y)))
        history.step.append(step)
        history.lr.append(optimizer.param_groups[0]["lr"])

        if step % eval_every == 0 or step == steps:
            _record_window(history, pending, step)
            if val is not None:
                val_loss, val_error = evaluate(model, val, device, loss_fn, mixed_precision)
                history.val_loss.append(val_loss)
                history.val_error.append(val_error)
            _step_scheduler(scheduler, history)
    history.seconds = time.perf_counter() - start
    return history


def _model_device(model: nn.Module) -> torch.device:
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def _record_window(history: History, pending: list[tuple[torch.Tensor, torch.Tensor, int]], step: int) -> None:
    """Read the pending steps' loss and error back (one synchronisation) into ``history``,
    with the window's mean training loss and error, then empty ``pending``."""
    losses = torch.stack([p[0] for p in pending]).tolist()
    wrongs = torch.stack([p[1] for p in pending]).tolist()
    sizes = [p[2] for p in pending]
    pending.clear()
    history.loss.extend(losses)
    history.error.extend(w / n for w, n in zip(wrongs, sizes))
    history.eval_step.append(step)
    history.train_loss.append(sum(loss * n for loss, n in zip(losses, sizes)) / sum(sizes))
    history.train_error.append(sum(wrongs) / sum(sizes))


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
