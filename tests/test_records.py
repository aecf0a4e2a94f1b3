"""The recorded full runs shipped in data/records/: intact, current, and their claims hold."""
from __future__ import annotations

import json

import pytest

from cnnlessons.course.lessons import all_lessons, get_lesson
from cnnlessons.records import RecordError, load_record, manifest_path, record_path, records_dir, within_spread

RECORDED = [lesson for lesson in all_lessons() if lesson.recorded]


def test_every_lesson_that_trains_has_a_record_and_nothing_else_does():
    shipped = sorted(p.stem for p in records_dir().glob("*.json") if not p.stem.endswith(".manifest"))
    assert shipped == sorted(lesson.id for lesson in RECORDED)


@pytest.mark.parametrize("lesson", RECORDED, ids=[lesson.id for lesson in RECORDED])
def test_record_matches_its_manifest_and_the_lessons_full_preset(lesson):
    record = load_record(lesson.id)  # checks size and sha256
    manifest = record["manifest"]
    assert manifest["command"].startswith(f"cnnlessons record {lesson.id}")
    assert {"date_utc", "hardware", "versions", "seconds", "devices_used"} <= set(manifest)
    expected = {**lesson.defaults(), **lesson.preset(record["preset"])}
    got = record["parameters"]
    assert {k: v for k, v in got.items() if k != "device"} == {k: v for k, v in expected.items() if k != "device"}, \
        f"the record of {lesson.id} is stale: re-make it with `{manifest['command']}`"
    assert record["summary"] and all(len(v) == len(got["seeds"]) for v in record["summary"].values())


@pytest.mark.parametrize("lesson", RECORDED, ids=[lesson.id for lesson in RECORDED])
def test_recorded_claims_all_held(lesson):
    claims = load_record(lesson.id)["claims"]
    assert claims
    failed = [c for c in claims if c["status"] == "FAILED"]
    assert not failed, failed
    assert not [c for c in claims if c["status"].startswith("skipped")], "the full preset should check every claim"


def test_a_corrupted_record_is_refused(tmp_path, monkeypatch):
    lesson = RECORDED[0].id
    home = tmp_path / "course"
    (home / "notebooks").mkdir(parents=True)
    (home / "data" / "zoo").mkdir(parents=True)
    (home / "data" / "records").mkdir()
    for src in (record_path(lesson), manifest_path(record_path(lesson))):
        (home / "data" / "records" / src.name).write_bytes(src.read_bytes())
    monkeypatch.setenv("CNNLESSONS_HOME", str(home))
    assert load_record(lesson)["summary"]
    target = home / "data" / "records" / f"{lesson}.json"
    data = json.loads(target.read_text())
    data["summary"] = {k: [v + 0.5 for v in vals] for k, vals in data["summary"].items()}
    target.write_text(json.dumps(data))
    with pytest.raises(RecordError, match="does not match its manifest"):
        load_record(lesson)
    with pytest.raises(RecordError, match="cnnlessons record 00_welcome"):
        load_record("00_welcome")


def test_within_spread():
    assert within_spread(0.05, [0.04, 0.06]) and within_spread(0.075, [0.04, 0.06])
    assert not within_spread(0.09, [0.04, 0.06])
    assert within_spread(1.05, [1.0]) and not within_spread(1.2, [1.0])
    assert within_spread(0.0003, [0.0, 0.0, 0.0]) and not within_spread(0.02, [0.0, 0.0, 0.0])  # atol at zero
    assert get_lesson("03").recorded
