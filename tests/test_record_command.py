"""`cnnlessons record` itself, on a tiny lesson: a successful run writes the record and its manifest
(sha256 matching, claims included); a run that fails records nothing."""
from __future__ import annotations

import argparse
import json

import nbformat
import pytest

from cnnlessons.course import record as record_command
from cnnlessons.course.lessons import Lesson
from cnnlessons.params import DEVICE, SEED
from cnnlessons.records import RecordError, load_record, manifest_path, record_path

pytestmark = pytest.mark.slow  # starts a kernel twice (~10 s)

BODY = """
from cnnlessons.claims import Claims, equals
from cnnlessons.records import save_record
claims = Claims()
value = {value}
save_record(parameters={{"seed": seed, "device": device}}, summary={{"value": [value]}})
claims.check("the value is 2", value, equals(2))
_ = claims.table()
"""


def tiny_lesson(home, value: int) -> Lesson:
    (home / "notebooks").mkdir(parents=True, exist_ok=True)
    (home / "data" / "zoo").mkdir(parents=True, exist_ok=True)
    (home / "data" / "records").mkdir(parents=True, exist_ok=True)
    params = nbformat.v4.new_code_cell('seed = 0  # random seed\ndevice = "cpu"  # where to compute')
    params.metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook(cells=[params, nbformat.v4.new_code_cell(BODY.format(value=value))])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, home / "notebooks" / "99_tiny.ipynb")
    return Lesson("99_tiny", "tiny", "a lesson for the test", {"seed": SEED, "device": DEVICE},
                  presets={"full": {"seed": 1}}, recorded=True)


def record(home, monkeypatch, value: int) -> int:
    monkeypatch.setenv("CNNLESSONS_HOME", str(home))
    lesson = tiny_lesson(home, value)
    monkeypatch.setattr(record_command, "find_lesson", lambda name: lesson)
    monkeypatch.setattr(record_command, "build_dir", lambda: home / "build")  # the run's notebook goes there
    args = argparse.Namespace(lesson="99", preset="full", device=None, quiet=True)
    return record_command.cmd_record(args)


def test_record_writes_the_record_and_a_matching_manifest(tmp_path, monkeypatch):
    assert record(tmp_path, monkeypatch, 2) == 0
    made = load_record("99_tiny")  # checks size and sha256 against the manifest
    assert made["parameters"] == {"seed": 1, "device": "cpu"}  # the full preset was run
    assert made["summary"] == {"value": [2]} and made["preset"] == "full"
    assert [c["status"] for c in made["claims"]] == ["holds"]
    manifest = made["manifest"]
    assert manifest["command"] == "cnnlessons record 99_tiny" and manifest["seconds"] >= 0
    assert {"torch", "python"} <= set(manifest["versions"])
    # a tampered record is refused
    path = record_path("99_tiny")
    path.write_text(path.read_text().replace('"value"', '"other"'))
    with pytest.raises(RecordError, match="does not match its manifest"):
        load_record("99_tiny")


def test_a_failed_run_records_nothing(tmp_path, monkeypatch, capsys):
    assert record(tmp_path, monkeypatch, 3) == 1  # the claim fails: the lesson raises
    assert "nothing was recorded" in capsys.readouterr().err
    path = record_path("99_tiny")
    assert not path.exists() and not manifest_path(path).exists()
    assert list((tmp_path / "data" / "records").iterdir()) == []
    assert (tmp_path / "build" / "records" / "99_tiny-full.failed.ipynb").is_file()  # kept to read the error
