"""Exercises: a student answers in code, a check says right or wrong and gives a hint,
never the answer.

Each lesson's exercises live in a module here (``cnnlessons.exercises.receptive`` ...) as
``Exercise`` objects. In a notebook::

    from cnnlessons.exercises import receptive as ex
    answer = ...            # the student's code
    ex.stacked_field.check(answer)

Instructors find worked solutions in ``solutions/`` at the repository root; the tests run
every solution through its check.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Feedback:
    correct: bool
    message: str

    def __bool__(self) -> bool:
        return self.correct

    def __repr__(self) -> str:
        return self.message

    def _repr_markdown_(self) -> str:
        return ("**Correct.** " if self.correct else "**Not yet.** ") + self.message


@dataclass(frozen=True)
class Exercise:
    """One question. ``is_correct(answer)`` decides; ``hint`` helps without revealing."""

    name: str
    question: str
    is_correct: Callable[[Any], bool]
    hint: str
    praise: str = "Well done."

    def check(self, answer: Any) -> Feedback:
        if answer is ...:
            return Feedback(False, f"Replace `...` with your answer. Hint: {self.hint}")
        try:
            ok = bool(self.is_correct(answer))
        except Exception as exc:  # a malformed answer is a wrong answer, with the reason
            return Feedback(False, f"That answer could not be checked ({type(exc).__name__}: {exc}). Hint: {self.hint}")
        return Feedback(True, self.praise) if ok else Feedback(False, f"Hint: {self.hint}")


def equals(expected: Any, rel_tol: float | None = None) -> Callable[[Any], bool]:
    """A checker comparing a number or any value (with ``==``). Integers must match exactly
    unless ``rel_tol`` is given; floats match within ``rel_tol`` (default 1e-6)."""
    if rel_tol is None:
        rel_tol = 0.0 if isinstance(expected, int) else 1e-6

    def check(answer: Any) -> bool:
        if isinstance(expected, (int, float)) and not isinstance(expected, bool):
            return isinstance(answer, (int, float)) and not isinstance(answer, bool) and math.isclose(
                answer, expected, rel_tol=rel_tol)
        return answer == expected

    return check
