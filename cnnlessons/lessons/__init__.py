"""The course's lessons: one small module per lesson declares its notebook, its papermill
parameters (with their valid values) and a fast ``demo`` preset for live teaching.

Adding a lesson: write ``notebooks/NN_name.ipynb`` and ``cnnlessons/lessons/lNN_name.py``
defining ``LESSON = Lesson(...)``; it is discovered automatically.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..params import Spec

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"


@dataclass(frozen=True)
class Lesson:
    id: str  # e.g. "01_receptive_fields", the notebook's file stem
    title: str
    params: dict[str, Spec]
    demo: dict[str, Any] = field(default_factory=dict)  # papermill parameters for a live demo
    summary: str = ""

    @property
    def notebook(self) -> Path:
        return NOTEBOOKS_DIR / f"{self.id}.ipynb"


@lru_cache(maxsize=1)
def all_lessons() -> tuple[Lesson, ...]:
    """Every lesson, in course order."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("l") and info.name[1:3].isdigit():
            found.append(importlib.import_module(f"{__name__}.{info.name}").LESSON)
    return tuple(sorted(found, key=lambda lesson: lesson.id))


def get_lesson(name: str) -> Lesson:
    """Look a lesson up by id (``01_receptive_fields``), number (``01``) or name (``receptive_fields``)."""
    for lesson in all_lessons():
        number, _, rest = lesson.id.partition("_")
        if name in (lesson.id, number, rest, lesson.notebook.name):
            return lesson
    raise KeyError(f"no lesson {name!r}; lessons are {[lesson.id for lesson in all_lessons()]}")
