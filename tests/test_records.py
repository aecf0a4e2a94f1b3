"""The recorded full runs shipped in data/records/: intact, current, and their claims hold."""
from __future__ import annotations

import json

import pytest

from cnnlessons.course.lessons import all_lessons, get_lesson
from cnnlessons.records import (RECORD_ENV, RecordError, load_record, manifest_path, record_path, record_rows,
                                records_dir, save_record, within_spread, write_record)

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


def test_within_spread_is_the_recorded_range_widened_by_its_width():
    # a wide spread: [low - w, high + w] with w = high - low, whatever the floor
    assert within_spread(0.05, [0.04, 0.06]) and within_spread(0.075, [0.04, 0.06])
    assert not within_spread(0.09, [0.04, 0.06])
    assert within_spread(0.16, [0.04, 0.06, 0.10]) and within_spread(0.0, [0.04, 0.06, 0.10])
    assert not within_spread(0.17, [0.04, 0.06, 0.10]) and not within_spread(-0.03, [0.04, 0.06, 0.10])
    # one seed: no spread to go by, 10% of the value
    assert within_spread(1.05, [1.0]) and not within_spread(1.2, [1.0])
    assert get_lesson("03").recorded


def test_a_spread_narrower_than_the_floor_is_widened_to_it():
    """The absolute floor (atol 0.005) holds at any width, not only where every seed recorded the
    same value: a range of 0.002 is matched 0.005 beyond its ends, no further."""
    assert within_spread(0.0003, [0.0, 0.0, 0.0]) and not within_spread(0.006, [0.0, 0.0, 0.0])  # zero width
    assert within_spread(0.046, [0.040, 0.041, 0.042]) and within_spread(0.036, [0.040, 0.041, 0.042])
    assert not within_spread(0.048, [0.040, 0.041, 0.042]) and not within_spread(0.034, [0.040, 0.041, 0.042])
    # identical seeds far from zero get the same floor, not 10% of the value
    assert within_spread(0.908, [0.904] * 3) and not within_spread(0.91, [0.904] * 3)
    with pytest.raises(ValueError, match="at least one"):
        within_spread(0.1, [])


def test_save_record_keeps_structured_rows_and_the_processs_thread_count(tmp_path, monkeypatch):
    import torch

    target = tmp_path / "record.json"
    monkeypatch.setenv(RECORD_ENV, str(target))
    rows = [{"target": "digits", "labels_per_class": 5, "strategy": "scratch", "seed": s, "accuracy": 0.7 + s / 10,
             "converged": True} for s in (0, 1)]
    rows.append({"target": "digits", "labels_per_class": "all", "strategy": "finetune all", "seed": 0, "accuracy": 0.99,
                 "converged": False})
    assert save_record(parameters={"seeds": [0, 1]}, summary={"a b c": [1.0, 2.0]}, rows=rows) == target
    record = json.loads(target.read_text())
    assert record["torch_threads"] == torch.get_num_threads()
    assert record["rows"] == rows and record["summary"] == {"a b c": [1.0, 2.0]}
    assert record_rows(record, strategy="finetune all") == [rows[2]]  # a value with a space is data, not a key part
    assert [r["seed"] for r in record_rows(record, labels_per_class=5, strategy="scratch")] == [0, 1]
    assert record_rows(record, strategy="linear_probe") == [] and record_rows(record) == rows
    with pytest.raises(KeyError, match="strategey"):
        record_rows(record, strategey="scratch")  # a misspelt field is an error, not an empty selection
    for bad, word in (([{"a": [1, 2]}], "rows\\[0\\]"), ([{}], "rows\\[0\\]"), ({"a": 1}, "list of dicts"),
                      ([{"a": 1}, {2: "x"}], "rows\\[1\\]")):
        with pytest.raises(ValueError, match=word):
            save_record(parameters={}, summary={}, rows=bad)


def test_records_without_rows_still_load_and_say_so_when_rows_are_asked_for(tmp_path, monkeypatch):
    lesson = RECORDED[0].id
    home = tmp_path / "course"
    (home / "notebooks").mkdir(parents=True)
    (home / "data" / "zoo").mkdir(parents=True)
    (home / "data" / "records").mkdir()
    shipped = load_record(lesson)
    manifest = {k: v for k, v in shipped.pop("manifest").items() if k not in ("bytes", "sha256", "file", "lesson")}
    shipped.pop("rows", None)  # a record made before rows were kept
    write_record(lesson, shipped, manifest, folder=(home / "data" / "records").resolve())
    monkeypatch.setenv("CNNLESSONS_HOME", str(home))
    record = load_record(lesson)
    assert "rows" not in record and record["summary"]
    with pytest.raises(RecordError, match=f"cnnlessons record {lesson}"):
        record_rows(record)
