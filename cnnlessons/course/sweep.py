"""``cnnlessons sweep``: a grid of lesson runs in parallel processes, and a summary of their claims."""
from __future__ import annotations

import argparse
import csv
import io
import itertools
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..claims import fmt
from ..io import atomic_write_text, markdown_table
from ..paths import build_dir
from .lessons import DEFAULT, Lesson
from .runs import ROOT, UsageError, failed_path, find_lesson, lesson_parameters, parse_pairs, shown, split_values


@dataclass
class SweepRun:
    index: int
    values: dict[str, str]  # as given on the command line
    notebook: Path
    report: Path
    log: Path
    status: str = "pending"
    seconds: float = 0.0
    error: str = ""
    claims: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failed_notebook(self) -> Path:
        return failed_path(self.notebook)


def _run_one(run: SweepRun, lesson: Lesson, preset: str, threads: int, launcher: list[str]) -> SweepRun:
    command = launcher + ["run", lesson.id, "--quiet", "-o", str(run.notebook)]
    for name, value in run.values.items():
        command += ["-p", name, value]
    command += ["--preset", preset]
    env = {**os.environ, "CNNLESSONS_REPORT": str(run.report), "TQDM_DISABLE": "1"}
    env.setdefault("OMP_NUM_THREADS", str(threads))
    start = time.perf_counter()
    with open(run.log, "w") as log:
        rc = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT).returncode
    run.seconds = time.perf_counter() - start
    if run.report.is_file():
        run.claims = json.loads(run.report.read_text())["claims"]
    run.status = "ok" if rc == 0 else "failed"
    if rc != 0:
        lines = [line.strip() for line in run.log.read_text().splitlines() if line.strip()]
        run.error = next((line for line in lines if line.startswith("FAILED")), lines[-1] if lines else f"exit status {rc}")
    return run


def sweep_tables(runs: list[SweepRun], names: list[str]) -> tuple[str, str, str]:
    """The summary as (wide CSV, Markdown, long claims CSV): one row per run with its
    parameters, status and each claim's computed value (a column per claim text)."""
    claim_names = list(dict.fromkeys(c["claim"] for run in runs for c in run.claims))

    def held(run: SweepRun) -> str:
        return f"{sum(c['ok'] for c in run.claims)}/{len(run.claims)}" if run.claims else "-"

    def shown_claim(claim: dict[str, Any] | None) -> str:
        if claim is None:
            return ""
        value = fmt(claim["value"]) if claim["value"] is not None else claim["status"]
        return value if claim["ok"] else f"{value} ✗ (expected {claim['expected']})"

    wide = io.StringIO()
    writer = csv.writer(wide, lineterminator="\n")
    writer.writerow(["run", *names, "status", "seconds", "claims_held", *claim_names, "error"])
    for run in runs:
        by_name = {c["claim"]: c for c in run.claims}
        writer.writerow([run.index, *(run.values[n] for n in names), run.status, f"{run.seconds:.1f}", held(run),
                         *(by_name[c]["value"] if c in by_name else "" for c in claim_names), run.error])

    rows = []
    for run in runs:
        by_name = {c["claim"]: c for c in run.claims}
        rows.append([run.index, *(run.values[n] for n in names), run.status, f"{run.seconds:.0f}", held(run),
                     *(shown_claim(by_name.get(c)) for c in claim_names)])
    table = markdown_table(["run", *names, "status", "time (s)", "claims held", *claim_names],
                           [[str(cell).replace("\n", " ") for cell in row] for row in rows])
    failed = [run for run in runs if run.status != "ok"]
    if failed:
        table += "\n\n## Failed runs\n\n" + "\n".join(
            f"- run {run.index} ({', '.join(f'{n}={run.values[n]}' for n in names)}): {run.error} "
            f"(log: `{run.log.name}`, notebook: `{run.failed_notebook.name}`)" for run in failed)

    long = io.StringIO()
    writer = csv.writer(long, lineterminator="\n")
    writer.writerow(["run", *names, "claim", "value", "expected", "holds"])
    for run in runs:
        for c in run.claims:
            writer.writerow([run.index, *(run.values[n] for n in names), c["claim"], c["value"], c["expected"], c["ok"]])
    return wide.getvalue(), table + "\n", long.getvalue()


def cmd_sweep(args: argparse.Namespace) -> int:
    lesson = find_lesson(args.lesson)
    if not args.parameters:
        raise UsageError("give at least one -p NAME V1,V2,... to sweep over")
    names = [name for name, _ in args.parameters]
    if len(set(names)) != len(names):
        raise UsageError(f"each parameter once: -p NAME V1,V2,...; got {names}")
    axes = [split_values(values) for _, values in args.parameters]
    grid = [dict(zip(names, combo)) for combo in itertools.product(*axes)]
    for point in grid:  # every run is checked before any starts
        lesson_parameters(lesson, parse_pairs([[n, v] for n, v in point.items()]), preset=args.preset)
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs must be >= 1; got {args.jobs}")
    cpus = os.cpu_count() or 1
    jobs = min(len(grid), args.jobs or max(1, cpus // 2))
    out_dir = Path(args.output).resolve() if args.output else build_dir() / "sweeps" / lesson.id
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in [*out_dir.glob("run-*"), *out_dir.glob("summary.*"), out_dir / "claims.csv"]:
        stale.unlink(missing_ok=True)

    width = len(str(len(grid)))
    runs = [SweepRun(i + 1, point, *(out_dir / f"run-{i + 1:0{width}d}{ext}" for ext in (".ipynb", ".json", ".log")))
            for i, point in enumerate(grid)]
    print(f"sweeping {lesson.id}: {len(runs)} run(s), {jobs} at a time -> {shown(out_dir)}/", flush=True)
    lock = threading.Lock()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(_run_one, run, lesson, args.preset, max(1, cpus // jobs), args.launcher) for run in runs]
        for done, future in enumerate(as_completed(futures), 1):
            run = future.result()
            with lock:
                given = ", ".join(f"{k}={v}" for k, v in run.values.items())
                print(f"[{done}/{len(runs)}] run {run.index} ({given}): {run.status} in {run.seconds:.0f} s"
                      + (f" -- {run.error}" if run.error else ""), flush=True)

    wide, markdown, long = sweep_tables(runs, names)
    title = f"# Sweep of {lesson.id}\n\n`cnnlessons sweep {lesson.id} " + " ".join(
        f"-p {n} {v}" for n, v in args.parameters) + ("" if args.preset == DEFAULT else f" --preset {args.preset}") + "`\n\n"
    atomic_write_text(out_dir / "summary.csv", wide)
    atomic_write_text(out_dir / "summary.md", title + markdown)
    atomic_write_text(out_dir / "claims.csv", long)
    atomic_write_text(out_dir / "summary.json", json.dumps(
        [{"run": r.index, "parameters": r.values, "status": r.status, "seconds": round(r.seconds, 1),
          "error": r.error, "notebook": (r.notebook if r.status == "ok" else r.failed_notebook).name, "claims": r.claims}
         for r in runs], indent=2, default=str))
    print("\n" + markdown)
    print(f"summary: {shown(out_dir / 'summary.md')}, {shown(out_dir / 'summary.csv')}")
    failed = [r for r in runs if r.status != "ok"]
    if failed:
        print(f"{len(failed)} of {len(runs)} run(s) FAILED: {', '.join(str(r.index) for r in failed)}", file=sys.stderr)
        return 1
    return 0


