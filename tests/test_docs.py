"""The documents a newcomer reads: the README's first screen, the instructors' page, and the run
times they quote (from benchmarks/RESULTS.md, through cnnlessons.course.timings)."""
from __future__ import annotations

import re
from pathlib import Path

from cnnlessons.course.lessons import all_lessons
from cnnlessons.course.timings import approx_time, fill_spans, lesson_times, time_of, update_docs

ROOT = Path(__file__).resolve().parents[1]
LESSONS = [lesson.id for lesson in all_lessons()]


def test_the_readmes_first_screen_says_what_to_install_run_and_open():
    first = "\n".join((ROOT / "README.md").read_text().splitlines()[:40])
    for needed in ("Python 3.11", "GB", "make course", "make test", "make book", "build/book/index.html",
                   "make lab", "lesson 00", "INSTRUCTORS.md", "CONTRIBUTING.md"):
        assert needed in first, f"README's first 40 lines lack {needed!r}"
    listed = re.findall(r"\(notebooks/(\d\d_\w+)\.ipynb\)", first)
    assert listed == LESSONS, "the README lists the lessons in course order, with their notebooks"
    for lesson in LESSONS:
        assert f"<!-- time {lesson[:2]} default -->" in first, f"no run time for {lesson}"


def test_the_quoted_run_times_are_the_measured_ones():
    """README.md and INSTRUCTORS.md quote run times only in spans filled from RESULTS.md; refresh
    them with `python -m cnnlessons.course.timings` after recording a new `make bench`."""
    times = lesson_times(ROOT / "benchmarks" / "RESULTS.md")
    for name in ("README.md", "INSTRUCTORS.md"):
        text = (ROOT / name).read_text()
        assert fill_spans(text, times) == text, f"{name}: run times differ from benchmarks/RESULTS.md"


def test_every_lesson_has_a_plan_on_the_instructors_page():
    text = (ROOT / "INSTRUCTORS.md").read_text()
    for lesson in LESSONS:
        number = lesson[:2]
        plan = re.search(rf"^## {number} · .*?(?=^## |\Z)", text, flags=re.M | re.S)
        assert plan, f"no plan for lesson {number}"
        body = plan.group(0)
        assert "50 min" in body and "Questions to ask" in body and f"<!-- time {number} " in body, number


def test_times_are_read_per_lesson_and_preset_and_spans_are_filled(tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text("| lesson | parameters | seconds | status |\n|---|---|---|---|\n"
                       "| 00_welcome | default | 18.9 | ok |\n| 00_welcome | demo | 6.2 | ok |\n"
                       "| 01_receptive_fields | default | 122.0 | ok |\n| 01_receptive_fields | demo | 3 | failed: x |\n"
                       "| **total** (2 of 2 ran) | default | 140.9 |  |\n\n"
                       "| lesson | parameters | seconds | status |\n|---|---|---|---|\n| 00_welcome | default | 99 | ok |\n")
    times = lesson_times(results)
    assert times == {"00_welcome": {"default": 18.9, "demo": 6.2}, "01_receptive_fields": {"default": 122.0}}
    assert time_of(times, "00", "demo") == 6.2 and time_of(times, "01_receptive_fields") == 122.0
    assert time_of(times, "all") == 140.9 and time_of(times, "all", "demo") is None  # 01 has no demo time
    assert approx_time(18.9) == "~20\u00a0s" and approx_time(122) == "~2.0\u00a0min" and approx_time(400) == "~7\u00a0min"
    text = "a <!-- time 00 demo -->old<!-- /time --> b <!-- time 01 default -->x<!-- /time -->"
    assert fill_spans(text, times) == "a <!-- time 00 demo -->~5 s<!-- /time --> b <!-- time 01 default -->~2.0 min<!-- /time -->"
    (tmp_path / "README.md").write_text(text)
    assert update_docs(tmp_path, results) == [tmp_path / "README.md"] and update_docs(tmp_path, results) == []


def test_make_test_compares_every_lesson_under_portable_cpu_kernels():
    """`make test`'s strict nbval pass runs with torch's portable kernels (another CPU's arithmetic)."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^test: .*?\n((?:\t.*\n)+)", makefile, flags=re.M).group(1)
    nbval = [line for line in recipe.replace("\\\n", " ").splitlines() if "$(NBVAL)" in line]
    assert nbval and all("ATEN_CPU_CAPABILITY=default" in line and "notebooks" in line for line in nbval), recipe
