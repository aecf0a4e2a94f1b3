"""The documents a newcomer reads: the README's first screen, the instructors' page, and the run
times they quote (from benchmarks/results.json, through cnnlessons.course.timings)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cnnlessons.course.lessons import all_lessons
from cnnlessons.course.timings import MissingTime, approx_time, fill_spans, lesson_times, time_of, update_docs

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
    """README.md and INSTRUCTORS.md quote run times only in spans filled from results.json; refresh
    them with `python -m cnnlessons.course.timings` after recording a new `make bench`."""
    times = lesson_times(ROOT / "benchmarks" / "results.json")
    assert sorted(times) == sorted(LESSONS) and all(set(t) == {"default", "demo"} for t in times.values())
    for name in ("README.md", "INSTRUCTORS.md"):
        text = (ROOT / name).read_text()
        assert fill_spans(text, times) == text, f"{name}: run times differ from benchmarks/results.json"


def test_every_lesson_has_a_plan_on_the_instructors_page():
    text = (ROOT / "INSTRUCTORS.md").read_text()
    for lesson in LESSONS:
        number = lesson[:2]
        plan = re.search(rf"^## {number} · .*?(?=^## |\Z)", text, flags=re.M | re.S)
        assert plan, f"no plan for lesson {number}"
        body = plan.group(0)
        assert "50 min" in body and "Questions to ask" in body and f"<!-- time {number} " in body, number


def _bench_results(path: Path, rows: list[tuple]) -> Path:
    """A ``make bench`` results.json whose lesson section holds ``rows`` (lesson, parameters, seconds, status)."""
    section = {"rows": [{"lesson": lesson, "parameters": preset, "seconds": seconds, "cpu_seconds": None, "runs": 1,
                         "status": status} for lesson, preset, seconds, status in rows]}
    path.write_text(json.dumps({"environment": {}, "sections": {"lessons": section}}))
    return path


def test_times_are_read_per_lesson_and_preset_and_spans_are_filled(tmp_path):
    results = _bench_results(tmp_path / "results.json", [
        ("00_welcome", "default", 18.9, "ok"), ("00_welcome", "demo", 6.2, "ok"),
        ("01_receptive_fields", "default", 122.0, "ok"), ("01_receptive_fields", "demo", None, "failed: x")])
    times = lesson_times(results)
    assert times == {"00_welcome": {"default": 18.9, "demo": 6.2}, "01_receptive_fields": {"default": 122.0}}
    both = ["00_welcome", "01_receptive_fields"]
    assert time_of(times, "00", "demo") == 6.2 and time_of(times, "01_receptive_fields") == 122.0
    assert time_of(times, "01", "demo") is None  # failed: no time, shown as n/a
    assert time_of(times, "all", lessons=both) == 140.9
    assert approx_time(18.9) == "~20\u00a0s" and approx_time(122) == "~2.0\u00a0min" and approx_time(400) == "~7\u00a0min"
    text = "a <!-- time 00 demo -->old<!-- /time --> b <!-- time 01 default -->x<!-- /time -->"
    assert fill_spans(text, times) == "a <!-- time 00 demo -->~5 s<!-- /time --> b <!-- time 01 default -->~2.0 min<!-- /time -->"
    (tmp_path / "README.md").write_text(text)
    assert update_docs(tmp_path, results) == [tmp_path / "README.md"] and update_docs(tmp_path, results) == []


def test_a_lesson_without_a_time_is_not_dropped_from_the_total(tmp_path):
    """The whole course's time adds every lesson of the registry; one without a row (never timed,
    or failed) is an error naming it, not a shorter course."""
    rows = [(lesson, "default", 10.0, "ok") for lesson in LESSONS]
    times = lesson_times(_bench_results(tmp_path / "all.json", rows))
    assert time_of(times, "all") == 10.0 * len(LESSONS)
    times = lesson_times(_bench_results(tmp_path / "some.json", rows[:-1]))
    with pytest.raises(MissingTime, match=f"none for {LESSONS[-1]}: .*make bench"):
        time_of(times, "all")
    failed = lesson_times(_bench_results(tmp_path / "failed.json", [*rows[:-1], (LESSONS[-1], "default", None,
                                                                                 "failed: RuntimeError")]))
    with pytest.raises(MissingTime, match=LESSONS[-1]):
        time_of(failed, "all")
    with pytest.raises(MissingTime, match="00_welcome, 01_receptive_fields"):  # 00 and 01 have no demo time
        time_of(lesson_times(_bench_results(tmp_path / "d.json", [("00_welcome", "default", 1.0, "ok")])), "all",
                "demo", lessons=["00_welcome", "01_receptive_fields"])
    (tmp_path / "README.md").write_text("the course: <!-- time all default -->~4 min<!-- /time -->")
    with pytest.raises(MissingTime, match=LESSONS[-1]):
        update_docs(tmp_path, tmp_path / "some.json")
    assert "~4 min" in (tmp_path / "README.md").read_text()  # left as it was


def test_missing_or_unusable_bench_results_are_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="make bench"):
        lesson_times(tmp_path / "none.json")
    skipped = tmp_path / "skipped.json"
    skipped.write_text(json.dumps({"sections": {"lessons": {"skipped": "--lessons-mode skip (--quick)"}}}))
    with pytest.raises(ValueError, match="no lesson times .*--quick"):
        lesson_times(skipped)
    twice = _bench_results(tmp_path / "twice.json", [("00_welcome", "demo", 1.0, "ok"), ("00_welcome", "demo", 2.0, "ok")])
    with pytest.raises(ValueError, match="two rows for 00_welcome"):
        lesson_times(twice)


def test_make_test_compares_every_lesson_under_portable_cpu_kernels():
    """`make test`'s strict nbval pass runs with torch's portable kernels (another CPU's arithmetic)."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^test: .*?\n((?:\t.*\n)+)", makefile, flags=re.M).group(1)
    nbval = [line for line in recipe.replace("\\\n", " ").splitlines() if "$(NBVAL)" in line]
    assert nbval and all("ATEN_CPU_CAPABILITY=default" in line and "notebooks" in line for line in nbval), recipe
