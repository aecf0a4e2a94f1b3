"""The course's one training loop. Every lesson that trains calls ``fit``.

One step is the textbook one, readable top to bottom::

    logits = model(x); loss = loss_fn(logits, y)
    optimizer.zero_grad(); loss.backward(); optimizer.step()

Around it ``fit`` adds only what a lesson needs: moving data to the device, a tqdm progress
bar, periodic evaluation, a learning-rate schedule (``ReduceLROnPlateau`` is stepped with the
evaluation error) and a ``History`` of loss, error and learning rate ready to plot. On CUDA it
uses bf16 autocast and channels_last memory (faster tensor-core kernels); on the CPU it stays
in plain float32 and, after ``seed_everything``, is bit-for-bit repeatable.

Whether a run ended where training ends is ``History.convergence`` (``Convergence``: *finished*,
*plateaued*, *converged*, and why not); ``budget_check`` tests a conclusion against twice the steps.
"""
from __future__ import annotations

import contextlib
import math
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


# The rule that decides whether a run has converged, in one place (see ``Convergence``).
MIN_STEPS = 100            # a shorter run cannot show a plateau: each window would hold under 10 steps
PLATEAU_TOLERANCE = 0.02   # the most the training error may move over the last fifth of a run (absolute)
CHANCE_FRACTION = 0.9      # a final training error at or above 90% of chance's is "at chance"


@dataclass(frozen=True)
class Convergence:
    """Whether a run ended where training ends, in three words that each mean one thing.

    With ``e(a, b)`` the mean per-step training error (each step's batch, in train mode) over the
    steps between fractions ``a`` and ``b`` of the run:

    - **finished**: the run took every step of the schedule it was given (``steps == planned_steps``;
      ``fit`` stops early only when the loss stops being a finite number).
    - **plateaued**: the training error stopped moving over the end of the run. The run has at least
      ``MIN_STEPS`` steps, and ``change = e(0.9, 1.0) - e(0.7, 0.8)``, how the error moved over the
      last fifth (negative: it fell), is at most ``PLATEAU_TOLERANCE`` (0.02) in size: an absolute tolerance, the same
      for a run ending at 0.7 as for one ending at 0.01.
    - **converged**: finished, plateaued, every loss finite, and not **at chance** (a final error of
      at least ``CHANCE_FRACTION`` of chance's, ``1 - 1/classes``: a net that learnt nothing is
      flat too).

    A run that is not converged says why (``reason``): diverged (a loss that is NaN or infinite),
    stuck at chance, too short to judge, stopped before the end of its schedule, or still moving.

    This is the plateau of *training* error: it says where optimisation ended, not whether the net
    generalises, and a run can converge to a high error (that is what degradation is). Under a
    learning rate decayed to almost nothing every curve flattens, so where a conclusion rests on
    "converged", check it with ``budget_check``: the same run with twice the steps.
    """

    steps: int
    planned_steps: int
    final_train_error: float          # e(0.9, 1.0)
    earlier_train_error: float        # e(0.7, 0.8)
    finite: bool                      # every recorded loss is a finite number
    chance_error: float | None = None  # 1 - 1/classes, when the number of classes is known
    tolerance: float = PLATEAU_TOLERANCE

    @property
    def change(self) -> float:
        """``final_train_error - earlier_train_error``: how the error moved over the last fifth
        (negative while it still falls)."""
        return self.final_train_error - self.earlier_train_error

    @property
    def finished(self) -> bool:
        return self.steps >= self.planned_steps

    @property
    def long_enough(self) -> bool:
        return self.steps >= MIN_STEPS

    @property
    def plateaued(self) -> bool:
        return self.long_enough and abs(self.change) <= self.tolerance

    @property
    def at_chance(self) -> bool:
        return self.chance_error is not None and self.final_train_error >= CHANCE_FRACTION * self.chance_error

    @property
    def diverged(self) -> bool:
        return not self.finite

    @property
    def converged(self) -> bool:
        return self.finished and self.plateaued and self.finite and not self.at_chance

    @property
    def reason(self) -> str:
        """Why the run has not converged, in words ("" when it has)."""
        why = []
        if not self.finite:
            why.append(f"diverged: the loss stopped being a finite number (stopped at step {self.steps:,})")
        elif not self.finished:
            why.append(f"stopped at step {self.steps:,} of {self.planned_steps:,}")
        if self.at_chance:
            why.append(f"stuck at chance: final training error {self.final_train_error:.3f} "
                       f"(chance {self.chance_error:.3f})")
        if not self.long_enough:
            why.append(f"too short to judge: {self.steps:,} steps (at least {MIN_STEPS})")
        elif self.finite and abs(self.change) > self.tolerance:
            why.append(f"still moving: training error {self.earlier_train_error:.3f} -> "
                       f"{self.final_train_error:.3f} over the last fifth (tolerance {self.tolerance:g})")
        return "; ".join(why)

    def summary(self) -> str:
        """The numbers in a few words: ``final 0.041, change -0.003``."""
        return f"final {self.final_train_error:.3f}, change {self.change:+.3f}"

    def __str__(self) -> str:
        numbers = (f"training error {self.final_train_error:.3f} over the last tenth of {self.steps:,} steps, "
                   f"{self.earlier_train_error:.3f} a fifth earlier")
        return f"converged: {numbers}" if self.converged else f"NOT converged ({self.reason}): {numbers}"


def convergence(errors: list[float], *, planned_steps: int | None = None, losses: list[float] | None = None,
                classes: int | None = None) -> Convergence:
    """The ``Convergence`` of a run from its per-step training errors (see ``Convergence``).

    ``planned_steps`` is the schedule's length (default: the run took all of it), ``losses`` the
    per-step losses (checked for NaN and infinity), ``classes`` the number of classes (for chance)."""
    n = len(errors)
    if n == 0:
        raise ValueError("convergence() needs at least one training step")

    def window(a: float, b: float) -> float:
        lo = min(int(a * n), n - 1)
        hi = max(lo + 1, int(round(b * n)))
        part = errors[lo:hi]
        return sum(part) / len(part)
    finite = all(math.isfinite(v) for v in (losses or [])) and all(math.isfinite(e) for e in errors)
    chance = None if classes is None else 1 - 1 / classes
    return Convergence(n, planned_steps if planned_steps is not None else n, window(0.9, 1.0), window(0.7, 0.8),
                       finite, chance)


@dataclass(frozen=True)
class BudgetCheck:
    """The same run trained for ``steps`` and for ``longer_steps`` (twice as many, by default).

    ``converged`` says a curve went flat; it cannot say the flat part is the end (a decayed learning
    rate flattens every curve). The budget check makes it empirical: the conclusion stands if
    doubling the budget moves the final training error by less than the difference the conclusion
    is about (``holds``)."""

    steps: int
    longer_steps: int
    final_train_error: float
    longer_final_train_error: float

    @property
    def moved(self) -> float:
        """How much the longer run changed the final training error (negative: it fell)."""
        return self.longer_final_train_error - self.final_train_error

    def holds(self, difference: float) -> bool:
        """Whether the longer budget moved the final training error by less than ``|difference|``."""
        return abs(self.moved) < abs(difference)

    def __str__(self) -> str:
        return (f"final training error {self.final_train_error:.3f} after {self.steps:,} steps, "
                f"{self.longer_final_train_error:.3f} after {self.longer_steps:,} ({self.moved:+.3f})")

    @classmethod
    def of(cls, run: "History", longer: "History") -> "BudgetCheck":
        """From the histories of the run and its longer twin."""
        return cls(len(run.error), len(longer.error), run.final_train_error, longer.final_train_error)


def budget_check(train: Callable[[int], "History"], steps: int, factor: int = 2) -> BudgetCheck:
    """Train the same run twice, for ``steps`` and for ``factor * steps`` steps (``train(n)`` builds
    the model and its schedule for ``n`` steps from the same seed and returns ``fit``'s history),
    and compare where they end (``BudgetCheck``)."""
    if factor < 2 or int(factor) != factor:
        raise ValueError(f"factor must be a whole number >= 2; got {factor}")
    return BudgetCheck.of(train(steps), train(int(factor) * steps))


@dataclass
class History:
    """What happened during ``fit``: per step and per evaluation, as lists ready to plot."""

    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)          # training loss of each step's batch
    error: list[float] = field(default_factory=list)         # training error of each step's batch (train mode)
    lr: list[float] = field(default_factory=list)
    eval_step: list[int] = field(default_factory=list)
    window_loss: list[float] = field(default_factory=list)   # mean over the steps since the last evaluation
    window_error: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_error: list[float] = field(default_factory=list)
    planned_steps: int = 0   # the schedule ``fit`` was given; fewer steps were taken if the loss stopped being finite
    classes: int | None = None  # the width of the model's output (for the chance level)
    seconds: float = 0.0

    @property
    def convergence(self) -> Convergence:
        """Whether the run finished, plateaued, stayed finite and beat chance (``Convergence``)."""
        return convergence(self.error, planned_steps=self.planned_steps or len(self.error), losses=self.loss,
                           classes=self.classes)

    @property
    def converged(self) -> bool:
        return self.convergence.converged

    @property
    def final_train_error(self) -> float:
        """Mean training error (train mode, per step) over the last 10% of the run."""
        return self.convergence.final_train_error

    @property
    def train_error_change(self) -> float:
        """How the training error moved over the last fifth of the run (``Convergence.change``; negative: it fell)."""
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
        mixed_precision: bool | None = None, schedule_steps: int | None = None) -> History:
    """Train ``model`` on ``train`` for ``steps`` optimizer steps (or ``epochs`` passes).

    Every ``eval_every`` steps (default: once per pass over ``train``) it records the mean
    training loss/error since the last evaluation (``window_loss``, ``window_error``) and, if ``val`` is given, the validation
    loss/error, then steps the ``scheduler``: ``ReduceLROnPlateau`` with the validation error
    (training error without ``val``), any other scheduler without an argument. Returns the
    ``History``. The model is left in train mode on ``device`` (default: where the model's
    parameters already are, so a model moved to CUDA trains there).

    ``schedule_steps`` is the length of the schedule that these ``steps`` begin (default: ``steps``);
    a run shorter than its schedule has not *finished* (``Convergence``), however flat its curve.
    If a loss stops being a finite number (NaN or infinity), training stops at that evaluation:
    the run has diverged, and ``history.convergence`` says so.

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
    if schedule_steps is None:
        schedule_steps = steps
    elif schedule_steps < steps:
        raise ValueError(f"schedule_steps ({schedule_steps}) must be at least steps ({steps})")
    if eval_every is not None and (isinstance(eval_every, bool) or not isinstance(eval_every, int) or eval_every < 1):
        raise ValueError(f"eval_every must be a positive number of steps or None (once per pass); got {eval_every!r}")
    eval_every = eval_every or per_epoch or steps
    device = torch.device(device) if device is not None else _model_device(model)
    model.to(device).train()
    if _fast_cuda(device, mixed_precision):
        model.to(memory_format=torch.channels_last)

    history = History(planned_steps=schedule_steps)
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
        if history.classes is None and logits.dim() == 2:
            history.classes = logits.shape[1]
        history.step.append(step)
        history.lr.append(optimizer.param_groups[0]["lr"])

        if step % eval_every == 0 or step == steps:
            _record_window(history, pending, step)
            if not math.isfinite(history.window_loss[-1]):
                break  # diverged: nothing more to learn from this run
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
    history.window_loss.append(sum(loss * n for loss, n in zip(losses, sizes)) / sum(sizes))
    history.window_error.append(sum(wrongs) / sum(sizes))


def _step_scheduler(scheduler: object | None, history: History) -> None:
    if scheduler is None:
        return
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(history.val_error[-1] if history.val_error else history.window_error[-1])
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
