"""Section 1: wall time of every lesson executed through papermill, and the course total.

Each lesson runs in a fresh kernel (kernel start-up included, as a student would see it)
into a temporary folder, so the committed notebooks are never touched.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any, Iterable

from cnnlessons.course.lessons import all_lessons, get_lesson
from cnnlessons.course.notebooks import execute

MODES = ("default", "demo", "skip")


Job = tuple[str, Path, "dict[str, Any] | None"]  # (lesson id, notebook, papermill parameters)


def lesson_jobs(names: Iterable[str] | None = None, demo: bool = False) -> list[Job]:
    """``(lesson id, notebook, parameters)`` for the chosen lessons (all by default);
    parameters are the lesson's ``demo`` preset when ``demo``, else ``None`` (its defaults)."""
    lessons = [get_lesson(n) for n in names] if names else list(all_lessons())
    return [(lesson.id, lesson.notebook, (lesson.preset("demo") or None) if demo else None) for lesson in lessons]


def time_notebooks(jobs: list[Job], timeout: int = 1800) -> dict:
    """Execute each job's notebook with papermill into a temporary folder and time it.

    A missing notebook is reported as skipped, a failing one as failed (with the error's last
    line); the total adds the lessons that ran.
    """
    rows = []
    with tempfile.TemporaryDirectory(prefix="cnnlessons-bench-") as tmp:
        for lesson_id, notebook, parameters in jobs:
            row: dict[str, Any] = {"lesson": lesson_id, "parameters": "demo" if parameters else "default",
                                   "seconds": None, "status": "ok"}
            if not notebook.exists():
                row["status"] = "skipped: notebook missing"
            else:
                start = time.perf_counter()
                try:
                    execute(notebook, output=Path(tmp) / notebook.name, parameters=parameters,
                            progress=False, timeout=timeout)
                    row["seconds"] = time.perf_counter() - start
                except Exception as exc:  # report it and go on with the others
                    last = str(exc).strip().splitlines()[-1] if str(exc).strip() else ""
                    row["status"] = f"failed: {type(exc).__name__}: {last}"[:200]
            rows.append(row)
    ran = [r["seconds"] for r in rows if r["seconds"] is not None]
    return {"rows": rows, "total_s": sum(ran), "lessons_run": len(ran), "lessons": len(rows)}
