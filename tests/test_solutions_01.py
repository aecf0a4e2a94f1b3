"""Every worked solution of lesson 01 passes its exercise check; wrong answers do not."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from cnnlessons.exercises import receptive as ex

ROOT = Path(__file__).resolve().parents[1]


def load_solutions():
    spec = importlib.util.spec_from_file_location("solutions_01", ROOT / "solutions" / "01_receptive_fields.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SOLUTIONS


SOLUTIONS = load_solutions()


def test_every_exercise_has_a_solution():
    assert sorted(SOLUTIONS) == sorted(e.name for e in ex.ALL)


@pytest.mark.parametrize("exercise", ex.ALL, ids=lambda e: e.name)
def test_solution_passes_and_wrong_answers_fail(exercise):
    answer = SOLUTIONS[exercise.name]()
    assert exercise.check(answer).correct
    assert not exercise.check(answer + 1).correct
    assert not exercise.check(...).correct
    assert "Replace" in exercise.check(...).message
    assert not exercise.check("eleven").correct
