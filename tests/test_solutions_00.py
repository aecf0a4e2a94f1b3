"""Lesson 00's exercises: the worked solutions pass, wrong and missing answers get the hint, and the
run the second exercise asks about is the one the lesson trains."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from cnnlessons.exercises import welcome

SOLUTIONS_FILE = Path(__file__).resolve().parents[1] / "solutions" / "00_welcome.py"


def solutions() -> dict:
    spec = importlib.util.spec_from_file_location("solutions_00_welcome", SOLUTIONS_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SOLUTIONS


def test_every_exercise_has_a_solution_that_passes():
    found = solutions()
    assert {e.name for e in welcome.ALL} == set(found)
    for exercise in welcome.ALL:
        assert exercise.check(found[exercise.name]()).correct, exercise.name


def test_wrong_and_missing_answers_fail_with_the_hint():
    for exercise, wrong in ((welcome.prefix_draws, [False, 1, "True"]), (welcome.smaller_lr, [False, 1, "True", 0.6])):
        for answer in wrong:
            assert not exercise.check(answer).correct, (exercise.name, answer)
        missing = exercise.check(...)
        assert not missing.correct and exercise.hint in missing.message


def test_the_smaller_learning_rate_ends_higher_in_the_lessons_budget():
    """The fact the exercise checks, measured: lr 0.01 ends well above lr 0.1 after 150 steps."""
    assert welcome.final_loss(0.01) > 1.5 * welcome.final_loss(0.1)


def test_the_hint_is_not_the_solution():
    assert "torch.equal(first, second[:3])" not in welcome.prefix_draws.hint
