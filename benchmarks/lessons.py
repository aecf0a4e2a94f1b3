"""Section 1: wall time of every lesson executed through papermill, and the course total.

Each lesson runs in a fresh kernel (kernel start-up included, as a student would see it)
into a temporary folder, so the committed notebooks are never touched. A first row times the
fixed cost every lesson pays before it computes anything: a kernel that starts and imports
torch, torchvision, matplotlib and the course (``STARTUP``). What a preset can shorten is the
time above it.
"""
from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable

from cnnlessons.course.lessons import all_lessons, get_lesson
from cnnlessons.course.notebooks import execute

MODES = ("default", "demo", "both", "skip")
PRESETS = {"default": ("default",), "demo": ("demo",), "both": ("default", "demo")}

# (lesson id, notebook, papermill parameters[, preset name]); without a name, "demo" if there are
# parameters, else "default".
Job = tuple

STARTUP = "start-up"  # the row of the fixed cost: kernel start and the imports every lesson makes
STARTUP_SOURCE = """\
import matplotlib.pyplot as plt
import torch
import torchvision
from cnnlessons import Claims, seed_everything
from cnnlessons.course import check_parameters
"""


def lesson_jobs(names: Iterable[str] | None = None, demo: bool = False, mode: str | None = None) -> list[Job]:
    """``(lesson id, notebook, parameters, preset)`` for the chosen lessons (all by default), at
    their defaults, their ``demo`` preset, or both (``mode``; ``demo=True`` is ``mode="demo"``).
    With both, each lesson's two runs are next to each other, so a busy spell on a shared machine
    slows both alike."""
    lessons = [get_lesson(n) for n in names] if names else list(all_lessons())
    presets = PRESETS[mode or ("demo" if demo else "default")]
    return [(lesson.id, lesson.notebook, (lesson.preset(name) or None) if name != "default" else None, name)
            for lesson in lessons for name in presets]


def _children_cpu() -> float:
    """CPU seconds (user + system) of this process's finished children: the kernels, which
    papermill starts as subprocesses and reaps when a notebook is done. Unlike wall time it
    hardly changes when other work shares the machine."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def startup_notebook(path: Path) -> Path:
    """Write the start-up notebook (one cell of ``STARTUP_SOURCE``) to ``path``."""
    import nbformat

    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python",
                                                           "display_name": "Python 3"}})
    nb.cells = [nbformat.v4.new_code_cell(STARTUP_SOURCE)]
    nbformat.write(nb, path)
    return path


# Runs shorter than this are repeated (``REPEATS`` in all) and their median kept: a few seconds
# of kernel start-up and imports vary by a second from run to run, as much as a short lesson's
# presets differ, and the first run of a session also pays for reading torch from disk.
SHORT_S = 20.0
REPEATS = 3


def _run_once(notebook: Path, output: Path, parameters: dict | None, timeout: int) -> tuple[float, float]:
    """Wall seconds and the kernel's CPU seconds of one papermill run."""
    start, cpu = time.perf_counter(), _children_cpu()
    execute(notebook, output=output, parameters=parameters, progress=False, timeout=timeout)
    return time.perf_counter() - start, _children_cpu() - cpu


def time_notebooks(jobs: list[Job], timeout: int = 1800, startup: bool = False,
                   short_s: float = SHORT_S, repeats: int = REPEATS) -> dict:
    """Execute each job's notebook with papermill into a temporary folder and time it: wall
    seconds, and the kernel's CPU seconds (both threads of a 2-core machine count). A run that
    took under ``short_s`` seconds is repeated, ``repeats`` runs in all, and the median run kept
    (``runs`` says how many were made).

    With ``startup``, a first row (lesson ``STARTUP``) times a kernel that only starts and makes
    the lessons' imports: the part of every lesson's time that no preset changes. It is kept out
    of the totals (``startup_s``).

    A missing notebook is reported as skipped, a failing one as failed (with the error's last
    line); the total adds the lessons that ran.
    """
    rows = []
    with tempfile.TemporaryDirectory(prefix="cnnlessons-bench-") as tmp:
        if startup:
            jobs = [(STARTUP, startup_notebook(Path(tmp) / "startup.ipynb"), None, "-"), *jobs]
        for job in jobs:
            lesson_id, notebook, parameters = job[:3]
            preset = job[3] if len(job) > 3 else ("demo" if parameters else "default")
            row: dict[str, Any] = {"lesson": lesson_id, "parameters": preset, "seconds": None, "cpu_seconds": None,
                                   "runs": 0, "status": "ok"}
            if not notebook.exists():
                row["status"] = "skipped: notebook missing"
            else:
                runs: list[tuple[float, float]] = []
                try:
                    while not runs or (len(runs) < repeats and runs[0][0] < short_s):
                        runs.append(_run_once(notebook, Path(tmp) / notebook.name, parameters, timeout))
                    row["seconds"], row["cpu_seconds"] = sorted(runs)[len(runs) // 2]  # the median run
                    row["runs"] = len(runs)
                except Exception as exc:  # report it and go on with the others
                    last = str(exc).strip().splitlines()[-1] if str(exc).strip() else ""
                    row["status"] = f"failed: {type(exc).__name__}: {last}"[:200]
            rows.append(row)
            done = (f"{row['seconds']:.1f} s (kernel CPU {row['cpu_seconds']:.1f} s; median of {row['runs']})"
                    if row["seconds"] else row["status"])
            print(f"[bench] {lesson_id} {preset}: {done}", file=sys.stderr, flush=True)
    startup_s = rows.pop(0)["seconds"] if startup else None
    ran = [r["seconds"] for r in rows if r["seconds"] is not None]
    by_preset: dict[str, float] = {}
    for r in rows:
        if r["seconds"] is not None:
            by_preset[r["parameters"]] = by_preset.get(r["parameters"], 0.0) + r["seconds"]
    return {"rows": rows, "total_s": sum(ran), "lessons_run": len(ran), "lessons": len(rows),
            "total_by_preset": by_preset, "startup_s": startup_s}
