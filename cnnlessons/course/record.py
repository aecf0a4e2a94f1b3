"""``cnnlessons record LESSON``: run a lesson's ``full`` preset once and ship the result.

The run goes through papermill like ``cnnlessons run`` (its notebook is kept in
``build/records/``); the lesson saves its per-seed results with ``cnnlessons.records.save_record``
and the claims it checked come from its claims report. Both land in ``data/records/`` with a
manifest naming the command, the date, the hardware (with the torch thread count of the kernel
that ran the lesson, which ``save_record`` wrote) and the versions, and the record's sha256.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..claims import REPORT_ENV
from ..paths import build_dir
from ..records import RECORD_ENV, write_record
from .runs import failed_path, find_lesson, lesson_parameters, shown


def hardware(torch_threads: int) -> dict[str, Any]:
    """What the run ran on: CPU, cores, the CUDA device if any, and ``torch_threads``: the
    thread count of the kernel that ran the lesson (``save_record`` writes it into the record;
    this process's own count says nothing about the run)."""
    import torch

    facts: dict[str, Any] = {"machine": platform.machine(), "processor": platform.processor() or platform.machine(),
                             "cpu_cores": os.cpu_count(), "torch_threads": torch_threads}
    if torch.cuda.is_available():
        facts["cuda_device"] = torch.cuda.get_device_name(0)
    return facts


def versions() -> dict[str, str]:
    from importlib.metadata import version

    import torch

    return {"python": platform.python_version(), "torch": torch.__version__,
            **{name: version(name) for name in ("torchvision", "numpy", "cnnlessons")}}


def cmd_record(args: argparse.Namespace) -> int:
    from papermill.exceptions import PapermillExecutionError

    from .notebooks import execute, temporary_environment

    lesson = find_lesson(args.lesson)
    overrides = {"device": args.device} if args.device else {}
    parameters = lesson_parameters(lesson, overrides, preset=args.preset)
    output = build_dir() / "records" / f"{lesson.id}-{args.preset}.ipynb"
    command = f"cnnlessons record {lesson.id}" + (f" --preset {args.preset}" if args.preset != "full" else "") + (
        f" --device {args.device}" if args.device else "")
    print(f"recording {lesson.id} at its {args.preset} preset ({parameters or 'defaults'})\n  -> {shown(output)}",
          flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        record, report = Path(tmp) / "record.json", Path(tmp) / "report.json"
        start = time.perf_counter()
        try:
            with temporary_environment(**{RECORD_ENV: str(record), REPORT_ENV: str(report)}):
                execute(lesson.notebook, output=output, parameters=parameters, progress=not args.quiet,
                        keep_failed=failed_path(output), timeout=6 * 3600)
        except PapermillExecutionError as exc:
            print(f"FAILED in cell [{exc.exec_count}]: {exc.ename}: {exc.evalue}\n"
                  f"the failed notebook: {shown(failed_path(output))}; nothing was recorded", file=sys.stderr)
            return 1
        seconds = time.perf_counter() - start
        if not record.is_file():
            print(f"{lesson.id} saved no record (it does not call cnnlessons.records.save_record)", file=sys.stderr)
            return 1
        saved = json.loads(record.read_text())
        threads = saved.pop("torch_threads", None)  # the kernel's, moved into the manifest
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            print(f"{lesson.id}'s record does not say how many torch threads its kernel ran with "
                  f"(torch_threads: {threads!r}; cnnlessons.records.save_record writes it): nothing was recorded",
                  file=sys.stderr)
            return 1
        claims = json.loads(report.read_text())
        payload = {**saved, "preset": args.preset,
                   "claims": [{k: c[k] for k in ("claim", "value", "expected", "status")} for c in claims["claims"]]}
    manifest = {"command": command, "preset": args.preset, "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
                "seconds": round(seconds), "devices_used": claims["devices_used"], "hardware": hardware(threads),
                "versions": versions()}
    path = write_record(lesson.id, payload, manifest)
    print(f"recorded in {seconds / 60:.1f} min: {shown(path)} (+ manifest)")
    return 0


def add_parser(sub: Any) -> None:
    p = sub.add_parser("record", help="run a lesson's full preset once and store its results in data/records/",
                       description="Run LESSON at its full preset and record per-seed results and claims.")
    p.add_argument("lesson", help="lesson id, number or name")
    p.add_argument("--preset", default="full", help="the preset to record (default: full)")
    p.add_argument("--device", help="device for the run (default: the preset's, else auto)")
    p.add_argument("--quiet", action="store_true", help="no per-cell progress bar")
    p.set_defaults(func=cmd_record)
