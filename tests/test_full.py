"""``make test-full``: every lesson at its ``full`` preset; claims hold and, for the lessons with
a shipped record, each per-seed result lands within the recorded seeds' spread.

Minutes to an hour on a CPU, so not part of ``make test``: it runs only with CNNLESSONS_FULL=1.
"""
from __future__ import annotations

import json
import os
import statistics

import pytest

from cnnlessons.course.lessons import all_lessons
from cnnlessons.course.notebooks import execute
from cnnlessons.course.runs import lesson_parameters
from cnnlessons.records import load_record, within_spread

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.environ.get("CNNLESSONS_FULL") != "1",
                                                   reason="full presets run with `make test-full`")]
LESSONS = all_lessons()


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.id for lesson in LESSONS])
def test_full_preset(lesson, tmp_path, monkeypatch):
    report, record = tmp_path / "report.json", tmp_path / "record.json"
    monkeypatch.setenv("CNNLESSONS_REPORT", str(report))
    monkeypatch.setenv("CNNLESSONS_RECORD", str(record))
    if lesson.recorded:  # reproduce a record as it was made: the thread count changes the float sums,
        # and with them which learning rate a validation split picks where two are close
        threads = load_record(lesson.id)["manifest"]["hardware"]["torch_threads"]
        monkeypatch.setenv("OMP_NUM_THREADS", str(threads))
    execute(lesson.notebook, tmp_path / "out.ipynb", parameters=lesson_parameters(lesson, {}, preset="full"),
            progress=False, timeout=4 * 3600)
    claims = json.loads(report.read_text())
    assert claims["all_hold"]
    if not lesson.recorded:
        return
    shipped = load_record(lesson.id)["summary"]
    new = json.loads(record.read_text())["summary"]
    outside = {name: (round(statistics.fmean(values), 4), shipped[name]) for name, values in new.items()
               if not within_spread(statistics.fmean(values), shipped[name])}
    assert not outside, f"{lesson.id}: mean of this run vs the recorded seeds: {outside}"
