"""Lessons 01 and 02 as a student reads them: takeaways before the claims, an exercise that
asks for a prediction and checks it with a real exercise, tables shown as tables, and no
hand-written timing numbers (the timing sentence is rendered from the run's own numbers)."""
from __future__ import annotations

import importlib
import json
import re

import pytest

from cnnlessons.paths import notebooks_dir

LESSONS = {"01_receptive_fields": "receptive", "02_inception_bottleneck": "inception"}


def cells(lesson: str) -> list[dict]:
    return json.loads((notebooks_dir() / f"{lesson}.ipynb").read_text())["cells"]


def text(cell: dict) -> str:
    return "".join(cell["source"])


@pytest.mark.parametrize("lesson", LESSONS)
def test_takeaways_come_right_before_the_claims(lesson):
    nb = cells(lesson)
    headings = [i for i, c in enumerate(nb) if c["cell_type"] == "markdown" and text(c).lstrip().startswith("## ")]
    titles = [text(nb[i]).lstrip().splitlines()[0] for i in headings]
    assert titles[-2:] == ["## Takeaways", "## Claims"], titles[-3:]
    takeaways = text(nb[headings[-2]]).split("\n", 1)[1]
    assert 3 <= len(re.findall(r"[.!?](?:\s|$)", takeaways)) <= 6, takeaways


@pytest.mark.parametrize("lesson", LESSONS)
def test_a_predict_then_compute_exercise_is_checked(lesson):
    exercises = importlib.import_module(f"cnnlessons.exercises.{LESSONS[lesson]}")
    nb = cells(lesson)
    asks = [i for i, c in enumerate(nb) if c["cell_type"] == "markdown" and "Predict, then compute" in text(c)]
    assert asks, "no exercise asks for a prediction"
    code = next(c for c in nb[asks[0] + 1:] if c["cell_type"] == "code")
    assert "prediction = ..." in text(code)
    name = re.search(r"ex\.(\w+)\.check\(answer\)", text(code)).group(1)
    assert getattr(exercises, name) in exercises.ALL


@pytest.mark.parametrize("lesson", LESSONS)
def test_outputs_nbval_skips_are_tagged_not_commented(lesson):
    for c in cells(lesson):
        if c["cell_type"] == "code":
            assert "NBVAL_" not in text(c), "use the nbval-ignore-output tag, not a comment a student sees"


@pytest.mark.parametrize("lesson", LESSONS)
def test_tables_are_tables(lesson):
    """No table is printed line by line: every cell that shows a table ends with one."""
    for c in cells(lesson):
        if c["cell_type"] == "code":
            assert ".table())" not in text(c) and "print(f\"{'" not in text(c), text(c)[:120]


def test_no_hand_written_timing_in_lesson_02():
    nb = cells("02_inception_bottleneck")
    for c in nb:
        if c["cell_type"] == "markdown":
            assert not re.search(r"\d\.\d+ (to|of) ", text(c)) or "time" not in text(c), text(c)[:200]
    timing = [c for c in nb if c["cell_type"] == "code" and "what_we_see" in text(c)]
    assert timing and "nbval-ignore-output" in timing[0]["metadata"].get("tags", [])
