"""Section 4: how fast ``make_shapes`` draws images, and what batching costs in a step.

``Batches`` keeps the whole dataset on the device and slices a shuffled index per step, so
its cost should be a small fraction of a step; this measures that fraction instead of
assuming it.
"""
from __future__ import annotations

import statistics
import time

import torch

from cnnlessons.data import make_shapes
from cnnlessons.train import Batches


def generation_rate(images: int, repeats: int, size: int = 32) -> dict:
    """Images/s of ``make_shapes(images, size=size)`` (median of ``repeats`` runs, new seeds),
    by wall time and by this process's CPU time (steadier on a shared machine)."""
    make_shapes(min(images, 64), size=size, seed=10_000)  # warm-up (allocator, first-call costs)
    times, cpu_times = [], []
    for r in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        make_shapes(images, size=size, seed=r)
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu)
    med = statistics.median(times)
    return {"images": images, "size": size, "repeats": repeats, "median_s": med,
            "images_per_s": images / med, "images_per_s_min": images / max(times),
            "images_per_s_max": images / min(times),
            "images_per_cpu_s": images / statistics.median(cpu_times)}


def batching_time(x: torch.Tensor, y: torch.Tensor, batch_size: int, batches: int, repeats: int,
                  device: torch.device | str = "cpu") -> tuple[float, float]:
    """Median seconds per batch of iterating ``Batches`` (shuffle + index), nothing else:
    ``(wall, process CPU time)``."""
    device = torch.device(device)
    data = Batches(x, y, batch_size, seed=0, device=device)
    per_batch, cpu_per_batch = [], []
    for _ in range(repeats):
        done = 0
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start, cpu = time.perf_counter(), time.process_time()
        while done < batches:
            for xb, _yb in data:
                done += 1
                if done == batches:
                    break
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        per_batch.append((time.perf_counter() - start) / batches)
        cpu_per_batch.append((time.process_time() - cpu) / batches)
    return statistics.median(per_batch), statistics.median(cpu_per_batch)


def loading_overhead(step_ms: dict[str, tuple[float, float]], batch_size: int, batches: int, repeats: int,
                     images: int, size: int = 32, device: torch.device | str = "cpu") -> dict:
    """Per model: time to produce one batch with ``Batches`` against the bare training step's
    time (``step_ms``: wall and CPU milliseconds from the training section), as percentages."""
    x, y = make_shapes(images, size=size, seed=0)
    wall, cpu = batching_time(x, y, batch_size, batches, repeats, device)
    return {
        "device": str(device), "batch_size": batch_size, "us_per_batch": 1e6 * wall, "cpu_us_per_batch": 1e6 * cpu,
        "per_model": {name: {"step_ms": ms, "cpu_step_ms": cpu_ms, "percent_of_step": 100 * (1e3 * wall) / ms,
                             "cpu_percent_of_step": 100 * (1e3 * cpu) / cpu_ms}
                      for name, (ms, cpu_ms) in step_ms.items()},
    }
