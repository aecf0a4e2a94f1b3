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
  the names are labels, to be looked up whole, never split into parts;
- ``curves``: named series for plots (``{"plain-8": {"step": [...], "error": [[...], ...]}}``);
- ``rows`` (optional): one flat dict per run, its identifying fields and its numbers as data
  (``{"target": "digits", "labels_per_class": 5, "strategy": "scratch", "seed": 0, "accuracy": 0.78}``),
  read back with ``record_rows(record, target="digits", strategy="scratch")``;
- the claims the run checked, with their values, are added from its claims report;
- ``save_record`` also writes the torch thread count of the process that ran the lesson (the
  kernel), which ``cnnlessons record`` moves into the manifest's ``hardware``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

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
                curves: dict[str, Any] | None = None,
                rows: Sequence[Mapping[str, Any]] | None = None) -> Path | None:
    """Write this run's results where ``cnnlessons record`` asked (``$CNNLESSONS_RECORD``);
    without it, do nothing and return None. ``summary`` maps a name to one number per seed;
    ``rows`` (optional) holds one flat dict per run, each value a string, number, bool or None.
    The record also gets ``torch_threads``: this process's ``torch.get_num_threads()``."""
    target = os.environ.get(RECORD_ENV)
    if not target:
        return None
    import torch

    for name, values in summary.items():
        if not isinstance(values, list) or not all(isinstance(v, (int, float)) for v in values):
            raise ValueError(f"summary[{name!r}] must be a list of numbers, one per seed; got {values!r}")
    payload = {"parameters": _plain(parameters), "summary": summary, "curves": curves or {},
               "torch_threads": torch.get_num_threads()}
    if rows is not None:
        payload["rows"] = _check_rows(rows)
    atomic_write_text(target, json.dumps(payload, indent=1, sort_keys=True))
    return Path(target)


def _check_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` as plain dicts, after checking each is a flat mapping of names to JSON scalars."""
    if isinstance(rows, (str, bytes, Mapping)) or not isinstance(rows, Sequence):
        raise ValueError(f"rows must be a list of dicts, one per run; got {type(rows).__name__}")
    out = []
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping) or not row:
            raise ValueError(f"rows[{i}] must be a non-empty dict of field -> value; got {row!r}")
        bad = {k: v for k, v in row.items()
               if not isinstance(k, str) or not (isinstance(v, (str, int, float, bool)) or v is None)}
        if bad:
            raise ValueError(f"rows[{i}]: every field must be named by a string and hold a string, number, bool "
                             f"or None; got {bad!r}")
        out.append(dict(row))
    return out


def record_rows(record: Mapping[str, Any], **where: Any) -> list[dict[str, Any]]:
    """The rows of a loaded record (``load_record``) whose fields equal ``where``, in stored order
    (``record_rows(rec, target="digits", labels_per_class=5)``; no ``where``: every row).

    Raises ``RecordError`` when the record holds no rows (made before rows were kept) and
    ``KeyError`` naming a ``where`` field that no row has: a misspelt field is never an empty
    selection."""
    if "rows" not in record:
        command = record.get("manifest", {}).get("command", "cnnlessons record LESSON")
        raise RecordError(f"this record holds no rows (only a summary): re-make it with `{command}`")
    rows = record["rows"]
    fields = {k for row in rows for k in row}
    unknown = sorted(set(where) - fields)
    if unknown:
        raise KeyError(f"no row has the field(s) {unknown}; the rows' fields are {sorted(fields)}")
    return [dict(row) for row in rows if all(k in row and row[k] == v for k, v in where.items())]


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


def within_spread(value: float, recorded: list[float], slack: float = 1.0, atol: float = 0.005,
                  rtol: float = 0.1) -> bool:
    """Whether ``value`` lies within the recorded seeds' range ``[low, high]`` widened by ``slack``
    times its width ``w`` on each side: ``low - slack w <= value <= high + slack w``.

    ``w = max(high - low, atol)`` with several seeds: a range narrower than ``atol`` (identical
    or nearly identical seeds) is widened to it, so a training error recorded as 0.0 or 0.001 on
    every seed is matched by 0.003, not only by a value inside a sliver. With one seed there is
    no spread to go by: ``w = max(rtol |value|, atol)``."""
    if not recorded:
        raise ValueError("recorded must hold at least one seed's value")
    low, high = min(recorded), max(recorded)
    width = max(high - low, atol) if len(recorded) > 1 else max(rtol * abs(high), atol)
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
