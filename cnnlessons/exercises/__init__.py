"""Exercises: a student answers in code, a check says right or wrong and gives a hint,
never the answer.

Each lesson's exercises live in a module here (``cnnlessons.exercises.receptive`` ...) as
``Exercise`` objects. In a notebook::

    from cnnlessons.exercises import receptive as ex
    answer = ...            # the student's code
    ex.weights_saved.check(answer)

Instructors find worked solutions in ``solutions/`` at the repository root; the tests run
every solution through its check, and check that no lesson prints an exercise's answer before
its exercises (``giveaways``: the answer's own spellings, plus the patterns an exercise declares).
"""
from __future__ import annotations

import functools
import math
import re
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
    """One question. ``is_correct(answer)`` decides; ``hint`` helps without revealing.

    ``giveaways`` are regular expressions (case-insensitive) that would give the answer away if a
    lesson printed them before its exercises: the context a small number needs to be recognised
    ("jump" near "16"), where searching for the bare number would match everything. Larger numbers
    are found without them (``giveaway_patterns``)."""

    name: str
    question: str
    is_correct: Callable[[Any], bool]
    hint: str
    praise: str = "Well done."
    giveaways: tuple[str, ...] = ()

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


def lazily(compute: Callable[[], Any], rel_tol: float | None = None) -> Callable[[Any], bool]:
    """Like ``equals(compute())``, but ``compute`` runs at the first check (once), not at import:
    for an expected answer that takes a few seconds to compute (a short training run)."""
    expected = functools.cache(compute)
    return lambda answer: equals(expected(), rel_tol)(answer)


# ------------------------------------------------------------------ answers given away

def _number_pattern(value: int | float) -> str | None:
    """A regex for the usual spellings of a number that is distinctive on its own: integers of
    three or more digits (``1504``, ``1,504``, ``1 504``) and floats to three decimals (``1.237``).
    ``None`` for small integers and short decimals (``16``, ``0.1``), which need context."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    if isinstance(value, int) or float(value).is_integer():
        digits = str(abs(int(value)))
        if len(digits) < 3:
            return None
        groups = [digits[max(0, i - 3):i] for i in range(len(digits), 0, -3)][::-1]
        body = "[,\u202f\u2009 ]?".join(groups)
        return rf"(?<![\d.,]){'-' if value < 0 else ''}{body}(?![\d]|[.,]\d)"
    text = f"{value:.3f}".rstrip("0")
    if len(text.replace("-", "").replace("0.", "").replace(".", "")) < 3:
        return None
    return rf"(?<![\d.]){re.escape(text)}(?!\d)"


def giveaway_patterns(exercise: Exercise, answer: Any) -> tuple[str, ...]:
    """The patterns that would give ``exercise``'s ``answer`` away in a lesson's text: the answer's
    own spellings when it is distinctive (``_number_pattern``), and the exercise's ``giveaways``."""
    own = _number_pattern(answer)
    return ((own,) if own else ()) + tuple(exercise.giveaways)


def find_giveaways(exercise: Exercise, answer: Any, text: str) -> list[str]:
    """Every passage of ``text`` that matches one of ``giveaway_patterns(exercise, answer)``."""
    found = []
    for pattern in giveaway_patterns(exercise, answer):
        found += [m.group(0) for m in re.finditer(pattern, text, flags=re.IGNORECASE)]
    return found


# ------------------------------------------------------------------ predict, then see

@dataclass(frozen=True)
class Reveal:
    """What ``reveal`` shows: the student's prediction next to the computed result."""

    prediction: Any
    actual: Any
    verdict: str  # "right", "close", "wrong" or "none" (no prediction made)
    explanation: str = ""

    def __bool__(self) -> bool:
        return self.verdict in ("right", "close")

    def _text(self, bold: str) -> str:
        shown = f"{bold}{_show(self.actual)}{bold}"
        if self.verdict == "none":
            head = f"You made no prediction (replace `...` in the cell above, then rerun both). The answer: {shown}."
        else:
            word = {"right": "Right.", "close": "Close.", "wrong": "Not what happened."}[self.verdict]
            head = f"You predicted {_show(self.prediction)}; the answer: {shown}. {word}"
        return head + (f" {self.explanation}" if self.explanation else "")

    def __repr__(self) -> str:
        return self._text("")

    def _repr_markdown_(self) -> str:
        return self._text("**")


def _show(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:,.3g}"


def reveal(prediction: Any, actual: Any, *, rel_tol: float = 0.0, close: float = 0.25,
           explanation: str = "") -> Reveal:
    """Compare a student's ``prediction`` (``...`` if none was made) with the ``actual`` result.

    Predict-then-see in the flow of a lesson: a cell asks for ``guess = ...`` *before* the cell
    that computes the answer, and a cell after it shows ``reveal(guess, actual)``. Numbers are
    "right" within ``rel_tol``, "close" within ``close`` (relative), else "wrong"; other values
    (a name, a ranking as a list) are right only when equal (strings ignore case and spaces at
    the ends). ``explanation`` is one sentence on why the answer is what it is."""
    if prediction is ...:
        verdict = "none"
    elif (isinstance(actual, (int, float)) and not isinstance(actual, bool)
          and isinstance(prediction, (int, float)) and not isinstance(prediction, bool)):
        if math.isclose(prediction, actual, rel_tol=rel_tol, abs_tol=0.0 if actual else 1e-12):
            verdict = "right"
        elif math.isclose(prediction, actual, rel_tol=close):
            verdict = "close"
        else:
            verdict = "wrong"
    else:
        def norm(v: Any) -> Any:
            return v.strip().lower() if isinstance(v, str) else [norm(x) for x in v] if isinstance(v, (list, tuple)) else v
        same_kind = isinstance(prediction, bool) == isinstance(actual, bool)  # True is not 1 here
        verdict = "right" if same_kind and norm(prediction) == norm(actual) else "wrong"
    return Reveal(prediction, actual, verdict, explanation)
