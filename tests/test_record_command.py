"""`cnnlessons record` itself, on a tiny lesson: a successful run writes the record and its manifest
(sha256 matching, claims included); a run that fails records nothing."""
from __future__ import annotations

import argparse
import json

import nbformat
import pytest
import torch

from cnnlessons.course import record as record_command
from cnnlessons.course.lessons import Lesson
from cnnlessons.params import DEVICE, SEED
from cnnlessons.records import RecordError, load_record, manifest_path, record_path

pytestmark = pytest.mark.slow  # starts a kernel three times (~15 s)

BODY = """
import torch
from cnnlessons.claims import Claims, equals
from cnnlessons.records import save_record
torch.set_num_threads({threads})
claims = Claims()
value = {value}
save_record(parameters={{"seed": seed, "device": device}}, summary={{"value": [value]}})
claims.check("the value is 2", value, equals(2))
_ = claims.table()
"""
# a lesson that writes its record by hand, without the kernel's thread count
NO_THREADS = """
import json, os
from cnnlessons.claims import Claims
json.dump({{"parameters": {{}}, "summary": {{"value": [{value}]}}, "curves": {{}}}}, open(os.environ["CNNLESSONS_RECORD"], "w"))
_ = Claims().table()
"""
# the kernel's thread count, never this process's: the manifest must hold the kernel's
KERNEL_THREADS = 2 if torch.get_num_threads() == 1 else 1


def tiny_lesson(home, value: int, body: str = BODY) -> Lesson:
    (home / "notebooks").mkdir(parents=True, exist_ok=True)
    (home / "data" / "zoo").mkdir(parents=True, exist_ok=True)
    (home / "data" / "records").mkdir(parents=True, exist_ok=True)
    params = nbformat.v4.new_code_cell('seed = 0  # random seed\ndevice = "cpu"  # where to compute')
    params.metadata["tags"] = ["parameters"]
    code = body.format(value=value, threads=KERNEL_THREADS)
    nb = nbformat.v4.new_notebook(cells=[params, nbformat.v4.new_code_cell(code)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, home / "notebooks" / "99_tiny.ipynb")
    return Lesson("99_tiny", "tiny", "a lesson for the test", {"seed": SEED, "device": DEVICE},
                  presets={"full": {"seed": 1}}, recorded=True)


def record(home, monkeypatch, value: int, body: str = BODY) -> int:
    monkeypatch.setenv("CNNLESSONS_HOME", str(home))
    lesson = tiny_lesson(home, value, body)
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
    assert manifest["hardware"]["torch_threads"] == KERNEL_THREADS != torch.get_num_threads()  # the kernel's
    assert "torch_threads" not in made  # moved into the manifest, not kept in the record
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


def test_a_record_without_the_kernels_thread_count_is_refused(tmp_path, monkeypatch, capsys):
    assert record(tmp_path, monkeypatch, 2, body=NO_THREADS) == 1
    assert "how many torch threads its kernel ran with" in capsys.readouterr().err
    assert list((tmp_path / "data" / "records").iterdir()) == []
