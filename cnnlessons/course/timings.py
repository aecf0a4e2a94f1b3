"""How long each lesson takes, from one measured source: ``benchmarks/RESULTS.md``.

``make bench`` times every lesson at its defaults and at its ``demo`` preset (papermill, a fresh
kernel each) and its table is recorded in ``benchmarks/RESULTS.md``::

    | lesson | parameters | seconds | status |
    |---|---|---|---|
    | 03_residual_identity | default | 122.1 | ok |
    | 03_residual_identity | demo | 41.0 | ok |

Everything that states a lesson's run time reads it from there: lesson 00's map of the course,
the website, and the marked spans of ``README.md`` and ``INSTRUCTORS.md``, which
``python -m cnnlessons.course.timings`` rewrites (a test checks they are up to date). A span is
an HTML comment pair, invisible where the Markdown is rendered::

    <!-- time 03 demo -->~40 s<!-- /time -->     (lesson 03 at its demo preset)
    <!-- time all default -->~5 min<!-- /time -->  (the whole course at its defaults)
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from ..io import atomic_write_text
from ..paths import checkout, course_root

RESULTS = Path("benchmarks") / "RESULTS.md"
DOCS = ("README.md", "INSTRUCTORS.md")  # the files whose marked spans ``update_docs`` rewrites
SPAN = re.compile(r"<!-- time (\d\d|all) (\w+) -->(.*?)<!-- /time -->")

Times = dict[str, dict[str, float]]  # {lesson id: {"default" | "demo" | ...: seconds}}


def results_file() -> Path:
    return course_root() / RESULTS


def lesson_times(results: Path | None = None) -> Times:
    """Seconds per lesson and parameter set, from the ``lesson | parameters | seconds | status``
    tables of a ``make bench`` report (``benchmarks/RESULTS.md`` by default).

    The first value found for a (lesson, parameters) pair wins, so the recorded run at the top
    of the file is the one used; rows whose status is not ``ok`` and the total row are skipped.
    A missing file gives ``{}``."""
    results = results_file() if results is None else results
    if not results.is_file():
        return {}
    times: Times = {}
    header: list[str] | None = None
    for line in results.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip().strip("*`").strip() for c in line.strip("|").split("|")]
        if header is None:
            header = [c.lower() for c in cells]
            continue
        if set(line) <= set("|-: ") or not {"lesson", "seconds"} <= set(header) or len(cells) != len(header):
            continue
        row = dict(zip(header, cells))
        if row.get("status", "ok") != "ok" or not re.fullmatch(r"\d\d_\w+", row["lesson"]):
            continue
        try:
            seconds = float(row["seconds"].replace(",", ""))
        except ValueError:
            continue
        times.setdefault(row["lesson"], {}).setdefault(row.get("parameters") or "default", seconds)
    return times


def approx_time(seconds: float | None) -> str:
    """A run time as a reader wants it: "~15 s" (to 5 s) under 90 s, then minutes ("~2.0 min",
    "~4 min"). No-break spaces keep it on one line in a table; ``None`` is "n/a"."""
    if seconds is None:
        return "n/a"
    if seconds < 90:
        return f"~{max(5, round(seconds / 5) * 5):.0f}\u00a0s"
    return f"~{seconds / 60:.0f}\u00a0min" if seconds >= 150 else f"~{seconds / 60:.1f}\u00a0min"


def time_of(times: Times, lesson: str, preset: str = "default") -> float | None:
    """Seconds of ``lesson`` (an id such as ``"03_residual_identity"`` or its number ``"03"``);
    ``"all"`` is the whole course (None unless every lesson has a time for ``preset``)."""
    if lesson == "all":
        found = [by_preset.get(preset) for by_preset in times.values()]
        return sum(found) if found and None not in found else None
    for lesson_id, by_preset in times.items():
        if lesson_id == lesson or lesson_id.partition("_")[0] == lesson:
            return by_preset.get(preset)
    return None


def fill_spans(text: str, times: Times) -> str:
    """``text`` with every ``<!-- time NN PRESET -->...<!-- /time -->`` span set to that lesson's
    measured time (``approx_time``, with plain spaces: Markdown files are read as source too)."""
    def fill(match: re.Match) -> str:
        number, preset = match.group(1), match.group(2)
        shown = approx_time(time_of(times, number, preset)).replace("\u00a0", " ")
        return f"<!-- time {number} {preset} -->{shown}<!-- /time -->"
    return SPAN.sub(fill, text)


def update_docs(root: Path | None = None, results: Path | None = None) -> list[Path]:
    """Rewrite the time spans of ``DOCS`` under ``root`` (the checkout); return the files changed."""
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
        new = fill_spans(text, times)
        if new != text:
            atomic_write_text(path, new)
            changed.append(path)
    return changed


def main() -> int:
    """``python -m cnnlessons.course.timings``: refresh the run times in README.md and INSTRUCTORS.md."""
    for path in update_docs():
        print(f"updated {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
