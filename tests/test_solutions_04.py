"""Every worked solution of lesson 04 passes its exercise check, and a wrong answer fails."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from cnnlessons.exercises import residual as ex

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = ex.LESSON_04


def _load_solutions():
    spec = importlib.util.spec_from_file_location("solutions_04", ROOT / "solutions" / "04_resnet_in_practice.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SOLUTIONS


SOLUTIONS = _load_solutions()


def test_every_exercise_has_a_solution():
    assert {e.name for e in EXERCISES} == set(SOLUTIONS)


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.name)
def test_solution_passes(exercise):
    feedback = exercise.check(SOLUTIONS[exercise.name]())
    assert feedback.correct, feedback.message


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.name)
def test_wrong_answer_fails(exercise):
    right = SOLUTIONS[exercise.name]()
    for wrong in (right + 1, right - 1, right * 1.001, "many"):
        assert not exercise.check(wrong).correct


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.name)
def test_unanswered_gives_the_hint(exercise):
    feedback = exercise.check(...)
    assert not feedback.correct and exercise.hint in feedback.message
