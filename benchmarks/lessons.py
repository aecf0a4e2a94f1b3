"""Section 1: wall time of every lesson executed through papermill, and the course total.

Each lesson runs in a fresh kernel (kernel start-up included, as a student would see it)
into a temporary folder, so the committed notebooks are never touched.
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


def time_notebooks(jobs: list[Job], timeout: int = 1800) -> dict:
    """Execute each job's notebook with papermill into a temporary folder and time it: wall
    seconds, and the kernel's CPU seconds (both threads of a 2-core machine count).

    A missing notebook is reported as skipped, a failing one as failed (with the error's last
    line); the total adds the lessons that ran.
    """
    rows = []
    with tempfile.TemporaryDirectory(prefix="cnnlessons-bench-") as tmp:
        for job in jobs:
            lesson_id, notebook, parameters = job[:3]
            preset = job[3] if len(job) > 3 else ("demo" if parameters else "default")
            row: dict[str, Any] = {"lesson": lesson_id, "parameters": preset, "seconds": None, "cpu_seconds": None,
                                   "status": "ok"}
            if not notebook.exists():
                row["status"] = "skipped: notebook missing"
            else:
                start, cpu = time.perf_counter(), _children_cpu()
                try:
                    execute(notebook, output=Path(tmp) / notebook.name, parameters=parameters,
                            progress=False, timeout=timeout)
                    row["seconds"] = time.perf_counter() - start
                    row["cpu_seconds"] = _children_cpu() - cpu
                except Exception as exc:  # report it and go on with the others
                    last = str(exc).strip().splitlines()[-1] if str(exc).strip() else ""
                    row["status"] = f"failed: {type(exc).__name__}: {last}"[:200]
            rows.append(row)
            done = f"{row['seconds']:.1f} s (kernel CPU {row['cpu_seconds']:.1f} s)" if row["seconds"] else row["status"]
            print(f"[bench] {lesson_id} {preset}: {done}", file=sys.stderr, flush=True)
    ran = [r["seconds"] for r in rows if r["seconds"] is not None]
    by_preset: dict[str, float] = {}
    for r in rows:
        if r["seconds"] is not None:
            by_preset[r["parameters"]] = by_preset.get(r["parameters"], 0.0) + r["seconds"]
    return {"rows": rows, "total_s": sum(ran), "lessons_run": len(ran), "lessons": len(rows), "total_by_preset": by_preset}
