"""Lessons 00, 01 and 02 as a student reads them (issues 27 and 30): a main path of about 45 cells,
then Going deeper, Exercises, Takeaways and the claims; no checks in the code a student sees; the
idea's code shown; at least two predictions in the flow, each revealed after the computation; an
exercise that asks for a prediction and checks it; figures that fit the page; no unused imports and no
prose assembled by f-strings.

These check the notebooks' structure and text, not what they compute (nbval and the claims do that)."""
from __future__ import annotations

import ast
import base64
import importlib
import json
import re
import struct

import pytest

from cnnlessons.paths import notebooks_dir

EXERCISES = {"00_welcome": "welcome", "01_receptive_fields": "receptive", "02_inception_bottleneck": "inception"}
LESSONS = ("01_receptive_fields", "02_inception_bottleneck")
HIDDEN = {"remove-cell", "remove-input"}
PLUMBING = re.compile(r"\bclaims\.|check_parameters|load_record|save_record|sha256|torchrun|\bassert\b")


def cells(lesson: str) -> list[dict]:
    return json.loads((notebooks_dir() / f"{lesson}.ipynb").read_text())["cells"]


def text(cell: dict) -> str:
    return "".join(cell["source"])


def headings(nb: list[dict]) -> list[tuple[int, str]]:
    return [(i, line) for i, c in enumerate(nb) if c["cell_type"] == "markdown"
            for line in text(c).splitlines() if line.startswith("## ")]


def visible_code(nb: list[dict]) -> list[dict]:
    return [c for c in nb if c["cell_type"] == "code" and not HIDDEN & set(c["metadata"].get("tags", []))]


@pytest.mark.parametrize("lesson", LESSONS)
def test_main_path_then_going_deeper_exercises_takeaways_claims(lesson):
    nb = cells(lesson)
    found = headings(nb)
    order = [title for _, title in found if title in ("## Going deeper", "## Exercises", "## Takeaways", "## Claims")]
    assert order == ["## Going deeper", "## Exercises", "## Takeaways", "## Claims"], order
    assert found[-1][1] == "## Claims"
    going_deeper = next(i for i, title in found if title == "## Going deeper")
    assert going_deeper <= 46, f"{lesson}: the main path has {going_deeper} cells"
    takeaways = next(text(nb[i]) for i, title in found if title == "## Takeaways").split("## Takeaways", 1)[1]
    takeaways = takeaways.split("\n## ", 1)[0]
    assert 3 <= len(re.findall(r"[.!?](?:\s|$)", takeaways)) <= 6, takeaways


@pytest.mark.parametrize("lesson", EXERCISES)
def test_the_code_a_student_sees_holds_no_checks(lesson):
    nb = cells(lesson)
    seen = [line for c in visible_code(nb) for line in text(c).splitlines() if PLUMBING.search(line)]
    assert not seen, seen
    # the claims table ends the lesson, its code out of sight
    assert "claims.table()" in text(nb[-1]) and "remove-input" in nb[-1]["metadata"]["tags"]


@pytest.mark.parametrize("lesson", EXERCISES)
def test_at_least_two_predictions_each_revealed_after_its_computation(lesson):
    nb = cells(lesson)
    stop = next(i for i, title in headings(nb) if title == "## Exercises")
    guesses = [i for i, c in enumerate(nb[:stop]) if c["cell_type"] == "code" and text(c).startswith("guess = ...")]
    assert len(guesses) >= 2, lesson
    for i in guesses:
        reveal = next(j for j in range(i + 1, stop) if "reveal(guess" in text(nb[j]))
        assert reveal > i + 1, f"{lesson}: the prediction in cell {i} is revealed in the very next cell, before any computation"
        assert not any(text(nb[k]).startswith("guess = ...") for k in range(i + 1, reveal)), "two guesses, one reveal"


@pytest.mark.parametrize("lesson", EXERCISES)
def test_a_predict_then_compute_exercise_is_checked(lesson):
    exercises = importlib.import_module(f"cnnlessons.exercises.{EXERCISES[lesson]}")
    nb = cells(lesson)
    asks = [i for i, c in enumerate(nb) if c["cell_type"] == "markdown" and re.search(r"Predict, then (compute|run|check)", text(c))]
    assert asks, "no exercise asks for a prediction"
    for i in asks:
        code = next(c for c in nb[i + 1:] if c["cell_type"] == "code")
        name = re.search(r"ex\.(\w+)\.check\(answer\)", text(code)).group(1)
        assert getattr(exercises, name) in exercises.ALL


def test_the_ideas_code_is_shown():
    shown = {lesson: "\n".join(text(c) for c in visible_code(cells(lesson))) for lesson in LESSONS}
    assert "def field_size(layers):" in shown["01_receptive_fields"]           # the recurrence
    assert ".backward()" in shown["01_receptive_fields"] and "def effective_field" in shown["01_receptive_fields"]
    inception = shown["02_inception_bottleneck"]
    assert "class Inception(nn.Module):" in inception and "torch.cat([self.branch1(x)" in inception


@pytest.mark.parametrize("lesson", EXERCISES)
def test_no_prose_from_f_strings_and_outputs_nbval_skips_are_tagged(lesson):
    for c in cells(lesson):
        if c["cell_type"] == "code":
            assert "Markdown(f" not in text(c) and "display(Markdown" not in text(c), text(c)[:120]
            assert "NBVAL_" not in text(c), "use the nbval-ignore-output tag, not a comment a student sees"


@pytest.mark.parametrize("lesson", LESSONS)
def test_tables_are_tables(lesson):
    """No table is printed line by line: every cell that shows a table ends with one."""
    for c in cells(lesson):
        if c["cell_type"] == "code":
            assert ".table())" not in text(c) and "print(f\"{'" not in text(c), text(c)[:120]


def png_width(data: str) -> int:
    return struct.unpack(">I", base64.b64decode(data)[16:20])[0]


@pytest.mark.parametrize("lesson", EXERCISES)
def test_figures_fit_the_page(lesson):
    widths = [png_width(out["data"]["image/png"]) for c in cells(lesson) if c["cell_type"] == "code"
              for out in c.get("outputs", []) if "image/png" in out.get("data", {})]
    assert widths and max(widths) <= 1400, widths


@pytest.mark.parametrize("lesson", EXERCISES)
def test_every_imported_name_is_used(lesson):
    code = "\n".join(text(c) for c in cells(lesson) if c["cell_type"] == "code")
    tree = ast.parse(code)
    imported = {(a.asname or a.name).split(".")[0] for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                for a in node.names}
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert imported <= used, sorted(imported - used)


def test_no_timing_number_in_lesson_02s_prose():
    nb = cells("02_inception_bottleneck")
    for c in nb:
        if c["cell_type"] == "markdown":
            assert not re.search(r"\d\s*ms\b|\d(\.\d+)?x faster", text(c)), text(c)[:200]
    timing = [c for c in nb if c["cell_type"] == "code" and "def time_passes" in text(c)]
    assert timing and "nbval-ignore-output" in timing[0]["metadata"].get("tags", [])
