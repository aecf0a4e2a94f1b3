"""How long each lesson takes, from one measured source: ``benchmarks/results.json``.

``make bench`` times every lesson at its defaults and at its ``demo`` preset (papermill, a fresh
kernel each) and writes ``build/bench/results.json`` and ``results.md``. The run the course
quotes is recorded by copying that JSON to ``benchmarks/results.json`` (and its tables, with a
note on the machine, into ``benchmarks/RESULTS.md`` for readers). This module reads the JSON's
lesson section, one row per lesson and parameter set::

    {"sections": {"lessons": {"rows": [
        {"lesson": "03_residual_identity", "parameters": "default", "seconds": 50.1, "status": "ok", ...},
        {"lesson": "03_residual_identity", "parameters": "demo", "seconds": 29.0, "status": "ok", ...}]}}}

Everything that states a lesson's run time reads it from there: lesson 00's map of the course,
the website, and the marked spans of ``README.md`` and ``INSTRUCTORS.md``, which
``python -m cnnlessons.course.timings`` rewrites (a test checks they are up to date). A span is
an HTML comment pair, invisible where the Markdown is rendered::

    <!-- time 03 demo -->~40 s<!-- /time -->     (lesson 03 at its demo preset)
    <!-- time all default -->~5 min<!-- /time -->  (the whole course at its defaults)

A lesson without a time shows as "n/a"; the whole course's time is the sum over every lesson
of the registry (``cnnlessons.course.lessons``), and a lesson without a time for that preset is
an error (``MissingTime``), never a smaller total.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Sequence

from ..io import atomic_write_text
from ..paths import checkout, course_root

RESULTS = Path("benchmarks") / "results.json"
DOCS = ("README.md", "INSTRUCTORS.md")  # the files whose marked spans ``update_docs`` rewrites
SPAN = re.compile(r"<!-- time (\d\d|all) (\w+) -->(.*?)<!-- /time -->")
RECORD_IT = ("time them with `make bench` and copy build/bench/results.json to benchmarks/results.json "
             "(see CONTRIBUTING.md)")

Times = dict[str, dict[str, float]]  # {lesson id: {"default" | "demo" | ...: seconds}}


class MissingTime(LookupError):
    """A total was asked for and some lesson has no measured time to add."""


def results_file() -> Path:
    return course_root() / RESULTS


def lesson_times(results: Path | None = None) -> Times:
    """Seconds per lesson and parameter set, from the lesson section of a ``make bench``
    ``results.json`` (``benchmarks/results.json`` by default).

    Rows whose status is not ``ok`` (a lesson that failed or was skipped) give no time: that
    lesson shows as "n/a" and makes a total fail. Raises ``FileNotFoundError`` for a missing
    file and ``ValueError`` for results without a lesson section, a malformed row, or two
    rows for the same lesson and parameters."""
    results = results_file() if results is None else Path(results)
    if not results.is_file():
        raise FileNotFoundError(f"no benchmark results at {results}: the lesson run times come from there; "
                                f"{RECORD_IT}")
    data = json.loads(results.read_text(encoding="utf-8"))
    section = data.get("sections", {}).get("lessons") if isinstance(data, dict) else None
    if not isinstance(section, dict) or "rows" not in section:
        why = section.get("skipped") if isinstance(section, dict) else "no lessons section"
        raise ValueError(f"{results} holds no lesson times ({why}); {RECORD_IT}")
    times: Times = {}
    for row in section["rows"]:
        try:
            lesson, preset, seconds, status = row["lesson"], row["parameters"], row["seconds"], row["status"]
        except (KeyError, TypeError):
            raise ValueError(f"{results}: a lesson row needs lesson, parameters, seconds and status; got {row!r}") \
                from None
        if status != "ok":
            continue
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
            raise ValueError(f"{results}: {lesson} {preset} has status ok but seconds {seconds!r}")
        if preset in times.get(lesson, {}):
            raise ValueError(f"{results}: two rows for {lesson} at {preset!r}")
        times.setdefault(lesson, {})[preset] = float(seconds)
    return times


def approx_time(seconds: float | None) -> str:
    """A run time as a reader wants it: "~15 s" (to 5 s) under 90 s, then minutes ("~2.0 min",
    "~4 min"). No-break spaces keep it on one line in a table; ``None`` is "n/a"."""
    if seconds is None:
        return "n/a"
    if seconds < 90:
        return f"~{max(5, round(seconds / 5) * 5):.0f}\u00a0s"
    return f"~{seconds / 60:.0f}\u00a0min" if seconds >= 150 else f"~{seconds / 60:.1f}\u00a0min"


def time_of(times: Times, lesson: str, preset: str = "default", lessons: Sequence[str] | None = None) -> float | None:
    """Seconds of ``lesson`` (an id such as ``"03_residual_identity"`` or its number ``"03"``) at
    ``preset``, ``None`` when it has no time.

    ``"all"`` is the whole course: the sum over ``lessons`` (every lesson of the registry by
    default). A lesson without a time for ``preset`` raises ``MissingTime`` naming it: leaving
    it out would report a shorter course."""
    if lesson == "all":
        if lessons is None:
            from .lessons import all_lessons

            lessons = [entry.id for entry in all_lessons()]
        missing = [lesson_id for lesson_id in lessons if preset not in times.get(lesson_id, {})]
        if missing or not lessons:
            raise MissingTime(f"the whole course's time at {preset!r} needs every lesson's; none for "
                              f"{', '.join(missing) or 'any lesson'}: {RECORD_IT}")
        return sum(times[lesson_id][preset] for lesson_id in lessons)
    for lesson_id, by_preset in times.items():
        if lesson_id == lesson or lesson_id.partition("_")[0] == lesson:
            return by_preset.get(preset)
    return None


def fill_spans(text: str, times: Times, lessons: Sequence[str] | None = None) -> str:
    """``text`` with every ``<!-- time NN PRESET -->...<!-- /time -->`` span set to that lesson's
    measured time (``approx_time``, with plain spaces: Markdown files are read as source too);
    ``lessons`` as in ``time_of``."""
    def fill(match: re.Match) -> str:
        number, preset = match.group(1), match.group(2)
        shown = approx_time(time_of(times, number, preset, lessons)).replace("\u00a0", " ")
        return f"<!-- time {number} {preset} -->{shown}<!-- /time -->"
    return SPAN.sub(fill, text)


def update_docs(root: Path | None = None, results: Path | None = None,
                lessons: Sequence[str] | None = None) -> list[Path]:
    """Rewrite the time spans of ``DOCS`` under ``root`` (the checkout) from ``results``
    (``root/benchmarks/results.json`` by default); return the files changed."""
    root = root or checkout()
    if root is None:
        raise FileNotFoundError("update_docs needs a checkout (README.md, INSTRUCTORS.md)")
    times = lesson_times(results if results is not None else root / RESULTS)
    changed = []
    for name in DOCS:
        path = root / name
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        new = fill_spans(text, times, lessons)
        if new != text:
            atomic_write_text(path, new)
            changed.append(path)
    return changed


def main() -> int:
    """``python -m cnnlessons.course.timings``: refresh the run times in README.md and INSTRUCTORS.md."""
    try:
        changed = update_docs()
    except (OSError, ValueError, MissingTime) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in changed:
        print(f"updated {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
