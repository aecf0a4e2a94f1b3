"""Training throughput: the course's ``fit`` against a bare loop doing exactly the same work.

The bare loop is the textbook step and nothing else::

    logits = model(x); loss = cross_entropy(logits, y)
    optimizer.zero_grad(); loss.backward(); optimizer.step()

over the same model (same initial weights), the same ``make_shapes`` images in the same
shuffled order (``Batches``' permutation, drawn from a generator seeded alike), the same batch
size and the same SGD optimizer. It keeps each loss as a tensor (no ``.item()``, so no
host-device synchronisation). On the CPU its losses equal ``fit``'s bit for bit, which the
tests check: the two loops do the same arithmetic, so the time difference is ``fit``'s
bookkeeping (``.item()``, error counting, the history, the progress bar).

Variants are timed interleaved (a repeat runs every variant once, in rotated order) and the
median is reported, so drifting machine load hits all variants alike.
"""
from __future__ import annotations

import contextlib
import copy
import io
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Callable
from unittest import mock

import torch
import torch.nn.functional as F
from torch import nn

from cnnlessons import train
from cnnlessons.data import CLASS_NAMES, make_shapes

from .environment import cpu_model
from .flops import TRAINING_MACS_PER_FORWARD_MAC, bf16_peak_tflops, forward_macs


def small_cnn(num_classes: int, size: int) -> nn.Module:
    """Three conv-BN-ReLU layers (32, 64, 128 filters), two max-pools, global pool, one FC:
    a deliberately cheap step, so ``fit``'s fixed per-step cost shows as much as it can."""
    def block(c_in: int, c_out: int) -> list[nn.Module]:
        return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]

    return nn.Sequential(*block(3, 32), nn.MaxPool2d(2), *block(32, 64), nn.MaxPool2d(2), *block(64, 128),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, num_classes))


def _resnet20(num_classes: int, size: int) -> nn.Module:
    from cnnlessons.models.cifar_resnet import cifar_resnet

    return cifar_resnet(20, num_classes=num_classes)


def linear(num_classes: int, size: int) -> nn.Module:
    """A single linear layer on the flattened image: almost no compute, so the timing is
    nearly all per-step fixed cost (the worst case for ``fit``'s bookkeeping, in percent)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * size * size, num_classes))


# name -> builder(num_classes, image side)
MODELS: dict[str, Callable[[int, int], nn.Module]] = {"linear": linear, "small_cnn": small_cnn, "resnet20": _resnet20}


def build_model(name: str, size: int = 32, num_classes: int = len(CLASS_NAMES)) -> nn.Module:
    """A fresh model by name (``MODELS``), seeded so every build has the same weights."""
    if name not in MODELS:
        raise ValueError(f"model must be one of {sorted(MODELS)}; got {name!r}")
    torch.manual_seed(0)
    return MODELS[name](num_classes, size)


def make_optimizer(model: nn.Module) -> torch.optim.Optimizer:
    """The optimizer every variant uses: SGD, lr 0.05, momentum 0.9, weight decay 5e-4."""
    return torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)


def precision(fast: bool) -> dict[str, bool]:
    """Keyword arguments making ``fit`` run with (``fast``) or without bf16 autocast +
    channels_last on CUDA; on the CPU both are plain float32."""
    return {"mixed_precision": fast}


def bare_loop(model: nn.Module, x: torch.Tensor, y: torch.Tensor, optimizer: torch.optim.Optimizer,
              steps: int, batch_size: int, *, seed: int = 0, fast: bool = False) -> list[torch.Tensor]:
    """``steps`` textbook SGD steps over ``x``/``y`` (already on the model's device), shuffled
    like ``Batches(x, y, batch_size, seed=seed)``. ``fast``: bf16 autocast and channels_last,
    as ``fit`` does on CUDA. Returns the detached loss of every step (no synchronisation)."""
    n = len(x)
    per_epoch = -(-n // batch_size)
    generator = torch.Generator().manual_seed(seed)
    autocast = torch.autocast(x.device.type, dtype=torch.bfloat16) if fast else contextlib.nullcontext()
    if fast:
        model.to(memory_format=torch.channels_last)
    model.train()
    losses: list[torch.Tensor] = []
    while len(losses) < steps:
        order = torch.randperm(n, generator=generator).to(x.device)
        for i in range(min(per_epoch, steps - len(losses))):
            idx = order[i * batch_size:(i + 1) * batch_size]
            xb, yb = x[idx], y[idx]
            if fast:
                xb = xb.contiguous(memory_format=torch.channels_last)
            with autocast:
                logits = model(xb)
                loss = F.cross_entropy(logits.float(), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())
    return losses


def _tqdm_to_nowhere(iterable, desc: str = "", total=None, disable: bool = False, leave: bool = True):
    """A text progress bar that is really drawn (``TQDM_DISABLE`` ignored), into a null stream."""
    from tqdm import tqdm

    return tqdm(iterable, desc=desc, total=total, leave=leave, disable=disable, file=io.StringIO())


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


Prepared = Callable[[], object]  # the timed part of a variant, set up and ready to go


def variants(model_name: str, x: torch.Tensor, y: torch.Tensor, batch_size: int, steps: int,
             device: torch.device, *, fast: bool = True, progress_bar: bool = True,
             label: str = "") -> dict[str, Callable[[int], Prepared]]:
    """Variant name -> ``prepare(steps)`` returning the timed closure. Preparation (a fresh
    copy of the same initial model, a fresh optimizer, data on the device) is not timed."""
    template = build_model(model_name, x.shape[-1])
    x, y = x.to(device), y.to(device)

    def fresh() -> tuple[nn.Module, torch.optim.Optimizer]:
        model = copy.deepcopy(template).to(device)
        return model, make_optimizer(model)

    def prep_bare(n_steps: int) -> Prepared:
        model, opt = fresh()
        # Mirror fit: bf16 + channels_last only on CUDA devices that support bf16.
        bare_fast = fast and device.type == "cuda" and torch.cuda.is_bf16_supported()
        return lambda: bare_loop(model, x, y, opt, n_steps, batch_size, fast=bare_fast)

    def prep_fit(n_steps: int, bar: bool = False) -> Prepared:
        model, opt = fresh()
        data = train.Batches(x, y, batch_size, seed=0, device=device)

        def go() -> object:
            if bar:
                with mock.patch.object(train, "progress", _tqdm_to_nowhere):
                    return train.fit(model, data, opt, steps=n_steps, device=device, show_progress=True,
                                     **precision(fast))
            return train.fit(model, data, opt, steps=n_steps, device=device, show_progress=False, **precision(fast))
        return go

    out: dict[str, Callable[[int], Prepared]] = {f"bare loop{label}": prep_bare, f"fit{label}": prep_fit}
    if progress_bar:
        out[f"fit, progress bar drawn{label}"] = lambda n_steps: prep_fit(n_steps, bar=True)
    return out


def time_interleaved(candidates: dict[str, Callable[[int], Prepared]], steps: int, repeats: int,
                     device: torch.device, warmup_steps: int = 2) -> dict[str, list[tuple[float, float]]]:
    """``(wall seconds, process CPU seconds)`` of ``steps`` steps of each variant, ``repeats``
    times, interleaved: repeat ``r`` runs every variant once, starting at a rotating position.
    One untimed warm-up run each. CPU time counts only this process's work, so on a machine
    shared with other jobs it is the steadier measure of CPU-side cost."""
    for prepare in candidates.values():
        prepare(warmup_steps)()
    _sync(device)
    names = list(candidates)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            go = candidates[name](steps)
            _sync(device)
            wall, cpu = time.perf_counter(), time.process_time()
            go()
            _sync(device)
            times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    return times


@dataclass
class Row:
    variant: str
    model: str
    device: str
    batch_size: int
    steps: int
    repeats: int
    median_s: float
    images_per_s: float
    images_per_s_min: float
    images_per_s_max: float
    ms_per_step: float
    cpu_ms_per_step: float  # median process CPU time per step
    seconds: list[float]  # wall time of every timed run, in repeat order (for paired comparisons)
    cpu_seconds: list[float]  # process CPU time of every timed run


def summarise(times: dict[str, list[tuple[float, float]]], model: str, device: torch.device, batch_size: int,
              steps: int) -> list[Row]:
    rows = []
    for name, pairs in times.items():
        wall = [w for w, _ in pairs]
        cpu = [c for _, c in pairs]
        med = statistics.median(wall)
        rows.append(Row(name, model, str(device), batch_size, steps, len(wall), med,
                        steps * batch_size / med, steps * batch_size / max(wall),
                        steps * batch_size / min(wall), 1000 * med / steps,
                        1000 * statistics.median(cpu) / steps, wall, cpu))
    return rows


def _ratio(rows: list[Row], numerator: str, denominator: str) -> dict[str, float]:
    by = {r.variant: r for r in rows}
    a, b = by[numerator], by[denominator]
    # Runs of the same repeat are adjacent in time: their ratio cancels slow load drifts.
    paired = statistics.median(tb / ta for ta, tb in zip(a.seconds, b.seconds))
    cpu_paired = statistics.median(tb / ta for ta, tb in zip(a.cpu_seconds, b.cpu_seconds))
    return {"ratio": a.images_per_s / b.images_per_s, "paired_ratio": paired, "cpu_paired_ratio": cpu_paired,
            "cpu_overhead_us_per_step": 1000 * (a.cpu_ms_per_step - b.cpu_ms_per_step),
            "overhead_percent": 100 * (a.median_s / b.median_s - 1),
            "overhead_us_per_step": 1e6 * (a.median_s - b.median_s) / a.steps}


def fit_vs_bare(models: list[str], batch_size: int, steps: int, repeats: int, images: int,
                size: int = 32, device: torch.device | str = "cpu") -> dict:
    """Section 2: per model, images/s of the bare loop, ``fit`` and ``fit`` with a drawn
    progress bar, and the ratios ``fit / bare`` (goal: overhead under 5% on the CPU)."""
    device = torch.device(device)
    x, y = make_shapes(images, size=size, seed=0)
    results = {"device": str(device), "images": images, "size": size, "models": {}}
    for name in models:
        times = time_interleaved(variants(name, x, y, batch_size, steps, device), steps, repeats, device)
        rows = summarise(times, name, device, batch_size, steps)
        results["models"][name] = {
            "rows": [asdict(r) for r in rows],
            "fit_vs_bare": _ratio(rows, "fit", "bare loop"),
            "fit_with_bar_vs_bare": _ratio(rows, "fit, progress bar drawn", "bare loop"),
        }
    return results


def cuda_precision(model: str, batch_size: int, steps: int, repeats: int, images: int,
                   size: int = 32, device: torch.device | str = "cuda") -> dict:
    """Section 3 (CUDA only): ``fit`` (and the bare loop) with bf16 autocast + channels_last
    against float32, and achieved multiply-adds/s against the GPU's dense bf16 peak.

    ``device`` is for testing the code path on the CPU (where both variants are float32)."""
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        return {"skipped": "no CUDA"}
    x, y = make_shapes(images, size=size, seed=0)
    candidates = {**variants(model, x, y, batch_size, steps, device, fast=True, progress_bar=False,
                             label=" (bf16 + channels_last)"),
                  **variants(model, x, y, batch_size, steps, device, fast=False, progress_bar=False,
                             label=" (float32)")}
    times = time_interleaved(candidates, steps, repeats, device, warmup_steps=5)
    rows = summarise(times, model, device, batch_size, steps)
    macs, source = forward_macs(build_model(model, size), (1, 3, size, size))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{cpu_model()} (CPU)"
    peak = bf16_peak_tflops(name)
    peak_mac_per_s = peak * 1e12 / 2 if peak else None  # 1 MAC = 2 FLOPs
    out_rows = []
    for r in rows:
        d = asdict(r)
        mac_per_s = TRAINING_MACS_PER_FORWARD_MAC * macs * r.images_per_s
        d["tera_mac_per_s"] = mac_per_s / 1e12
        d["percent_of_bf16_peak"] = 100 * mac_per_s / peak_mac_per_s if peak_mac_per_s else None
        out_rows.append(d)
    return {
        "device": name, "model": model, "images": images, "size": size, "rows": out_rows,
        "forward_macs_per_image": macs, "macs_source": source,
        "bf16_dense_peak_tflops": peak,
        "bf16_vs_float32_fit": _ratio(rows, "fit (bf16 + channels_last)", "fit (float32)"),
        "bf16_vs_float32_bare": _ratio(rows, "bare loop (bf16 + channels_last)", "bare loop (float32)"),
        "fit_vs_bare_bf16": _ratio(rows, "fit (bf16 + channels_last)", "bare loop (bf16 + channels_last)"),
        "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
    }
