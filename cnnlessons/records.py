"""Recorded runs: results that need more compute than a student has, shipped with the course.

A lesson's ``full`` preset is run once with the project's own command::

    cnnlessons record 03          # runs the lesson at --preset full and writes data/records/

While it runs, the lesson calls ``save_record(summary=..., curves=...)``; the command then
stores the record as ``data/records/<lesson>.json`` with a manifest ``<lesson>.manifest.json``
beside it (the command, date, hardware, versions, run time, and the record's size and sha256).
Every lesson that trains loads its record with ``load_record`` (which checks the checksum) and
plots it beside the live run.

- ``summary``: named scalar results, one value per seed (``{"plain-8 final training error":
  [0.03, 0.02, 0.04]}``); ``make test-full`` checks a new full run lands within their spread;
- ``curves``: named series for plots (``{"plain-8": {"step": [...], "error": [[...], ...]}}``);
- the claims the run checked, with their values, are added from its claims report.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .io import atomic_write_text, sha256
from .paths import course_root

RECORD_ENV = "CNNLESSONS_RECORD"


class RecordError(RuntimeError):
    """A shipped record is missing, corrupted, or does not fit the lesson."""


def records_dir() -> Path:
    """``data/records`` of the course (checkout or installed package)."""
    return course_root() / "data" / "records"


def record_path(lesson: str) -> Path:
    return records_dir() / f"{lesson}.json"


def manifest_path(record: Path) -> Path:
    return record.with_name(f"{record.stem}.manifest.json")


def recording() -> bool:
    """True while ``cnnlessons record`` runs this lesson (the record will be kept)."""
    return bool(os.environ.get(RECORD_ENV))


def save_record(*, parameters: dict[str, Any], summary: dict[str, list[float]],
                curves: dict[str, Any] | None = None) -> Path | None:
    """Write this run's results where ``cnnlessons record`` asked (``$CNNLESSONS_RECORD``);
    without it, do nothing and return None. ``summary`` maps a name to one number per seed."""
    target = os.environ.get(RECORD_ENV)
    if not target:
        return None
    for name, values in summary.items():
        if not isinstance(values, list) or not all(isinstance(v, (int, float)) for v in values):
            raise ValueError(f"summary[{name!r}] must be a list of numbers, one per seed; got {values!r}")
    payload = {"parameters": _plain(parameters), "summary": summary, "curves": curves or {}}
    atomic_write_text(target, json.dumps(payload, indent=1, sort_keys=True))
    return Path(target)


def load_record(lesson: str) -> dict[str, Any]:
    """The shipped record of ``lesson`` with its manifest (under ``"manifest"``), after checking
    the record's size and sha256 against the manifest."""
    path = record_path(lesson)
    mpath = manifest_path(path)
    if not path.is_file() or not mpath.is_file():
        raise RecordError(f"no recorded run of {lesson} in {records_dir()}: make it with `cnnlessons record {lesson}`")
    manifest = json.loads(mpath.read_text())
    size, digest = path.stat().st_size, sha256(path)
    if (size, digest) != (manifest["bytes"], manifest["sha256"]):
        raise RecordError(f"{path} does not match its manifest ({size:,} bytes, sha256 {digest[:12]}... recorded "
                          f"{manifest['bytes']:,} bytes, {manifest['sha256'][:12]}...); re-make it with "
                          f"`{manifest.get('command', f'cnnlessons record {lesson}')}`")
    record = json.loads(path.read_text())
    record["manifest"] = manifest
    return record


def write_record(lesson: str, payload: dict[str, Any], manifest: dict[str, Any], folder: Path | None = None) -> Path:
    """Store a record and its manifest (size and sha256 filled in here), each atomically."""
    path = (folder or records_dir()) / f"{lesson}.json"
    atomic_write_text(path, json.dumps(payload, indent=1, sort_keys=True) + "\n")
    manifest = {**manifest, "lesson": lesson, "file": path.name, "bytes": path.stat().st_size, "sha256": sha256(path)}
    atomic_write_text(manifest_path(path), json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return path


def within_spread(value: float, recorded: list[float], slack: float = 1.0, atol: float = 0.005) -> bool:
    """Whether ``value`` lies within the recorded seeds' range, widened by ``slack`` times its width
    on each side. With one seed, or identical values, the width is 10% of the value, and at least
    ``atol``: a training error recorded as 0.0 on every seed is matched by 0.0003 (one image in
    3,000), not only by an exact zero."""
    low, high = min(recorded), max(recorded)
    width = (high - low) or max(0.1 * abs(high), atol)
    return low - slack * width <= value <= high + slack * width


def _plain(value: Any) -> Any:
    """JSON-able parameters: a torch.device becomes its name."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
