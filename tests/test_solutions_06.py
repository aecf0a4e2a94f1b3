"""Every worked solution of lesson 06 passes its exercise check, and a wrong answer fails."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from cnnlessons.exercises import tour as ex

ROOT = Path(__file__).resolve().parents[1]


def _load_solutions():
    spec = importlib.util.spec_from_file_location("solutions_06", ROOT / "solutions" / "06_architecture_tour.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SOLUTIONS


SOLUTIONS = _load_solutions()


def test_every_exercise_has_a_solution():
    assert {e.name for e in ex.ALL} == set(SOLUTIONS)


@pytest.mark.parametrize("exercise", ex.ALL, ids=lambda e: e.name)
def test_solution_passes(exercise):
    feedback = exercise.check(SOLUTIONS[exercise.name]())
    assert feedback.correct, feedback.message


@pytest.mark.parametrize("exercise", ex.ALL, ids=lambda e: e.name)
def test_wrong_answer_fails(exercise):
    right = SOLUTIONS[exercise.name]()
    step = 0.01 if isinstance(right, float) else 1
    for wrong in (right + step, right - step, "many"):
        assert not exercise.check(wrong).correct


@pytest.mark.parametrize("exercise", ex.ALL, ids=lambda e: e.name)
def test_unanswered_gives_the_hint(exercise):
    feedback = exercise.check(...)
    assert not feedback.correct and exercise.hint in feedback.message
