"""Every worked solution in ``solutions/`` passes its exercise's check; wrong and missing
answers fail with the hint. (Lesson 05's answers are functions: tests/test_solutions_05.py.)"""
from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# solutions file -> (exercise module, the tuple of that lesson's exercises in it)
LESSONS = {
    "01_receptive_fields": ("receptive", "ALL"),
    "02_inception_bottleneck": ("inception", "ALL"),
    "03_residual_identity": ("residual", "LESSON_03"),
    "04_resnet_in_practice": ("residual", "LESSON_04"),
    "06_architecture_tour": ("tour", "ALL"),
    "07_after_senet": ("after_senet", "ALL"),
}


def solutions(lesson: str) -> dict:
    spec = importlib.util.spec_from_file_location(f"solutions_{lesson}", ROOT / "solutions" / f"{lesson}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SOLUTIONS


def exercises(lesson: str) -> tuple:
    module, name = LESSONS[lesson]
    return getattr(importlib.import_module(f"cnnlessons.exercises.{module}"), name)


CASES = [(lesson, ex) for lesson in LESSONS for ex in exercises(lesson)]
IDS = [f"{lesson[:2]}-{ex.name}" for lesson, ex in CASES]


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_exercise_has_a_solution(lesson):
    assert {e.name for e in exercises(lesson)} == set(solutions(lesson))


@pytest.mark.parametrize("lesson, exercise", CASES, ids=IDS)
def test_solution_passes_and_wrong_answers_fail(lesson, exercise):
    right = solutions(lesson)[exercise.name]()
    feedback = exercise.check(right)
    assert feedback.correct, feedback.message
    for wrong in (right + 1, right - 1, right * 1.05, "many"):
        assert not exercise.check(wrong).correct, wrong


@pytest.mark.parametrize("lesson, exercise", CASES, ids=IDS)
def test_unanswered_gives_the_hint_not_the_answer(lesson, exercise):
    feedback = exercise.check(...)
    assert not feedback.correct and "Replace" in feedback.message and exercise.hint in feedback.message
    assert str(solutions(lesson)[exercise.name]()) not in feedback.message
