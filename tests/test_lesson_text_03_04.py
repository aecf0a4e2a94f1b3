"""Lessons 03 and 04 as a student reads them (issues 27 and 28): a main path of about 45 cells, then
Going deeper, Exercises, Takeaways and the claims; no checks in the code a student sees; the residual
blocks and SE shown as code; at least two predictions in the flow, each revealed after the computation;
an exercise that predicts a training outcome; the words of the convergence rule; figures that fit the page;
no unused imports and no prose assembled by f-strings.

These check the notebooks' structure and text, not what they compute (nbval and the claims do that)."""
from __future__ import annotations

import ast
import base64
import json
import re
import struct

import pytest

from cnnlessons.exercises import residual
from cnnlessons.paths import notebooks_dir

LESSONS = ("03_residual_identity", "04_resnet_in_practice")
HIDDEN = {"remove-cell", "remove-input"}
PLUMBING = re.compile(r"\bclaims\.|check_parameters|load_record|save_record|record_rows|recording\(|sha256|torchrun|\bassert\b")


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


@pytest.mark.parametrize("lesson", LESSONS)
def test_the_code_a_student_sees_holds_no_checks(lesson):
    nb = cells(lesson)
    seen = [line for c in visible_code(nb) for line in text(c).splitlines() if PLUMBING.search(line)]
    assert not seen, seen
    assert "claims.table()" in text(nb[-1]) and "remove-input" in nb[-1]["metadata"]["tags"]


@pytest.mark.parametrize("lesson", LESSONS)
def test_at_least_two_predictions_each_revealed_after_its_computation(lesson):
    nb = cells(lesson)
    stop = next(i for i, title in headings(nb) if title == "## Exercises")
    guesses = [i for i, c in enumerate(nb[:stop]) if c["cell_type"] == "code" and text(c).startswith("guess = ...")]
    assert len(guesses) >= 2, lesson
    for i in guesses:
        reveal = next(j for j in range(i + 1, stop) if "reveal(guess" in text(nb[j]))
        assert reveal > i + 1, f"{lesson}: the prediction in cell {i} is revealed in the very next cell"
        assert not any(text(nb[k]).startswith("guess = ...") for k in range(i + 1, reveal)), "two guesses, one reveal"


@pytest.mark.parametrize("lesson, exercise", [("03_residual_identity", residual.plain_depth_run),
                                              ("04_resnet_in_practice", residual.smoothing_loss)])
def test_an_exercise_predicts_a_training_outcome(lesson, exercise):
    nb = cells(lesson)
    asks = [i for i, c in enumerate(nb) if c["cell_type"] == "markdown" and re.search(r"Predict, then run", text(c))]
    assert asks, "no exercise asks for a prediction about a run"
    code = next(c for c in nb[asks[-1] + 1:] if c["cell_type"] == "code")
    assert f"ex.{exercise.name}.check(answer)" in text(code)
    assert exercise in (residual.LESSON_03 if lesson.startswith("03") else residual.LESSON_04)


def test_the_blocks_are_shown_as_code():
    shown = {lesson: "\n".join(text(c) for c in visible_code(cells(lesson))) for lesson in LESSONS}
    assert "class Block(nn.Module):" in shown["03_residual_identity"] and "f + x" in shown["03_residual_identity"]
    assert "class Bottleneck(nn.Module):" in shown["04_resnet_in_practice"]
    assert "class SqueezeExcite(nn.Module):" in shown["04_resnet_in_practice"]


@pytest.mark.parametrize("lesson", LESSONS)
def test_the_convergence_words_mean_one_thing(lesson):
    """"converged" is the library's word (finished, plateaued, finite, above chance); a run at chance is
    said to be at chance, never "diverged: False"."""
    prose = "\n".join(text(c) for c in cells(lesson) if c["cell_type"] == "markdown")
    outputs = "\n".join("".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
                        for c in cells(lesson) if c["cell_type"] == "code" for o in c.get("outputs", []))
    assert "diverged: False" not in outputs and "| False |" not in outputs
    assert "RECORD-PENDING" not in prose
    assert not re.search(r"tolerance max\(0\.01", prose)


@pytest.mark.parametrize("lesson", LESSONS)
def test_no_prose_from_f_strings_and_outputs_nbval_skips_are_tagged(lesson):
    for c in cells(lesson):
        if c["cell_type"] == "code":
            assert "Markdown(f" not in text(c) and "display(Markdown" not in text(c), text(c)[:120]
            assert "NBVAL_" not in text(c), "use the nbval-ignore-output tag, not a comment a student sees"


def png_width(data: str) -> int:
    return struct.unpack(">I", base64.b64decode(data)[16:20])[0]


@pytest.mark.parametrize("lesson", LESSONS)
def test_figures_fit_the_page(lesson):
    widths = [png_width(out["data"]["image/png"]) for c in cells(lesson) if c["cell_type"] == "code"
              for out in c.get("outputs", []) if "image/png" in out.get("data", {})]
    assert widths and max(widths) <= 1400, widths


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_imported_name_is_used(lesson):
    code = "\n".join(text(c) for c in cells(lesson) if c["cell_type"] == "code")
    tree = ast.parse(code)
    imported = {(a.asname or a.name).split(".")[0] for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                for a in node.names}
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert imported <= used, sorted(imported - used)
