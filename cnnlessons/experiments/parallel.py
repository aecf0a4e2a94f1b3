"""Independent training runs in parallel processes, with the same results as one after the other.

Each run of an experiment seeds itself (``seed_everything``) and builds its own model and data, so
it does not matter which process runs it or in what order: ``run_all`` gives the same results in
``workers`` spawned processes as in this one, provided both use the same torch thread count (on the
CPU it decides the floating-point summation order). Each worker gets this process's thread count,
capped so that all workers together use no more threads than the machine has cores (``threads_per_worker``):
more threads than cores spin against each other, and a run then costs several times its CPU time. On a
machine with several cores, or a GPU that small nets leave mostly idle, that divides the wall time of a
recorded run.
"""
from __future__ import annotations

import contextlib
import os
from typing import Any, Callable, Iterator, Sequence, TypeVar

import torch

from ..progress import progress

J = TypeVar("J")
R = TypeVar("R")


def _init_worker(threads: int) -> None:
    torch.set_num_threads(threads)
    # Each worker in a session of its own: Linux's autogroup scheduling shares the CPU between sessions,
    # so workers left in the notebook kernel's session would share one session's time between them and
    # run no faster than one process on a busy machine.
    if hasattr(os, "setsid"):
        with contextlib.suppress(OSError):
            os.setsid()


def threads_per_worker(workers: int, threads: int | None = None, cores: int | None = None) -> int:
    """``threads`` (default: this process's torch thread count) capped at ``cores // workers``, at least 1."""
    threads = torch.get_num_threads() if threads is None else threads
    cores = (os.cpu_count() or 1) if cores is None else cores
    return max(1, min(threads, cores // workers))


def _check(workers: int) -> None:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive number of processes; got {workers!r}")


@contextlib.contextmanager
def worker_pool(workers: int) -> Iterator[Any]:
    """A pool of ``workers`` spawned processes to hand to ``run_all`` several times (the processes
    start once); ``None`` for ``workers == 1`` (everything runs here)."""
    _check(workers)
    if workers == 1:
        yield None
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_init_worker, initargs=(threads_per_worker(workers),)) as pool:
        yield pool


def run_all(fn: Callable[[J], R], jobs: Sequence[J], workers: int = 1, *, pool: Any = None,
            cost: Callable[[J], float] | None = None, desc: str = "runs", show_progress: bool = True) -> list[R]:
    """``[fn(job) for job in jobs]``, in this process (``workers == 1``) or in ``workers`` spawned
    processes (or the ``pool`` of ``worker_pool``); ``fn`` must be a module-level function and the jobs
    and results picklable. With ``cost``, the costliest jobs start first (the pool finishes sooner)."""
    _check(workers)
    if pool is None and workers > 1 and len(jobs) > 1:
        with worker_pool(workers) as own:
            return run_all(fn, jobs, workers, pool=own, cost=cost, desc=desc, show_progress=show_progress)
    if pool is None:
        return [fn(job) for job in jobs]
    from concurrent.futures import as_completed

    order = sorted(range(len(jobs)), key=lambda i: -cost(jobs[i])) if cost else list(range(len(jobs)))
    results: dict[int, R] = {}
    futures = {pool.submit(fn, jobs[i]): i for i in order}
    for future in progress(as_completed(futures), desc=f"{desc} on {workers} workers", total=len(jobs),
                           disable=not show_progress):
        results[futures[future]] = future.result()
    return [results[i] for i in range(len(jobs))]
