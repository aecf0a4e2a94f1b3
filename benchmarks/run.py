"""Run the benchmarks and write ``results.md`` and ``results.json`` (atomically).

    python -m benchmarks.run                 everything at full size (``make bench``)
    python -m benchmarks.run --quick         tiny sizes, lessons skipped (seconds; used by the tests)
    python -m benchmarks.run --sections training,data --out build/bench

Sections: ``lessons``, ``training``, ``cuda`` (skipped without CUDA), ``data``. Any size can be
set explicitly; ``--quick`` only changes the defaults.

The course quotes one recorded run: to record a run of every lesson, copy its ``results.json`` to
``benchmarks/results.json`` (``cnnlessons.course.timings`` reads the lesson times from there; the
wheel carries it), copy its tables into ``benchmarks/RESULTS.md`` with a note on the machine, then
run ``python -m cnnlessons.course.timings`` to refresh the times quoted in README.md and
INSTRUCTORS.md.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from cnnlessons.io import atomic_write_text
from cnnlessons.paths import checkout

REPO_ROOT = checkout()

from . import data, lessons, report, training
from .environment import describe

SECTIONS = ("lessons", "training", "cuda", "data")

# Full-size and --quick defaults of every size option.
DEFAULTS: dict[str, tuple[Any, Any]] = {
    "models": ("linear,small_cnn,resnet20", "linear,small_cnn"),
    "batch_size": (128, 8),
    "steps": (10, 2),
    "repeats": (7, 2),
    "images": (2048, 32),
    "size": (32, 16),
    "gen_images": (4096, 32),
    "cuda_model": ("resnet20", "small_cnn"),
    "cuda_batch_size": (512, 8),
    "cuda_steps": (30, 2),
    "cuda_images": (8192, 32),
    "lessons_mode": ("both", "skip"),
}


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text}")
    return value


def _choices(valid: Sequence[str], what: str):
    def parse(text: str) -> list[str]:
        items = [t.strip() for t in text.split(",") if t.strip()]
        bad = [t for t in items if t not in valid]
        if bad or not items:
            raise argparse.ArgumentTypeError(f"{what} must be a comma-separated list of {list(valid)}; got {text!r}")
        return items
    return parse


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny defaults (seconds), lessons skipped")
    p.add_argument("--out", type=Path, default=REPO_ROOT / "build" / "bench",
                   help="output folder (default build/bench)")
    p.add_argument("--sections", type=_choices(SECTIONS, "--sections"), default=list(SECTIONS),
                   help=f"comma-separated subset of {','.join(SECTIONS)} (default all)")
    p.add_argument("--lessons-mode", choices=lessons.MODES, help="lesson parameters: default, demo presets, both, "
                   "or skip (default: both; skip with --quick)")
    p.add_argument("--lesson", action="append", dest="lesson_names", metavar="NAME",
                   help="time only this lesson (repeatable; id, number or name)")
    p.add_argument("--models", type=_choices(tuple(training.MODELS), "--models"),
                   help="models for the fit-vs-bare section (default linear,small_cnn,resnet20)")
    for name, helptext in (("batch-size", "batch size"), ("steps", "optimizer steps per timed run"),
                           ("repeats", "timed runs per variant"), ("images", "training images"),
                           ("size", "image side in pixels"), ("gen-images", "images per generation run"),
                           ("cuda-batch-size", "CUDA section batch size"), ("cuda-steps", "CUDA section steps"),
                           ("cuda-images", "CUDA section training images")):
        p.add_argument(f"--{name}", type=_positive, help=helptext)
    p.add_argument("--cuda-model", choices=tuple(training.MODELS), help="model for the CUDA section")
    return p


def resolve(args: argparse.Namespace) -> dict[str, Any]:
    """Explicit options win; otherwise the full-size or ``--quick`` default."""
    config = {}
    for key, (full, quick) in DEFAULTS.items():
        value = getattr(args, key, None)
        config[key] = value if value is not None else (quick if args.quick else full)
    if isinstance(config["models"], str):
        config["models"] = config["models"].split(",")
    config["quick"] = args.quick
    config["sections"] = args.sections
    config["lesson_names"] = args.lesson_names
    return config


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run(config: dict[str, Any]) -> dict[str, Any]:
    """Run the chosen sections; returns ``{"environment", "config", "sections"}``."""
    environment = describe()  # before the work: the load average says how busy the machine was
    sections: dict[str, Any] = {}
    chosen = config["sections"]
    c = config
    if "lessons" in chosen:
        if c["lessons_mode"] == "skip":
            sections["lessons"] = {"skipped": "--lessons-mode skip" + (" (--quick)" if c["quick"] else "")}
        else:
            _say(f"[bench] lessons ({c['lessons_mode']} parameters) ...")
            jobs = lessons.lesson_jobs(c["lesson_names"], mode=c["lessons_mode"])
            sections["lessons"] = lessons.time_notebooks(jobs, startup=True)
    if "training" in chosen:
        _say(f"[bench] fit vs bare loop on the CPU: {', '.join(c['models'])} ...")
        sections["training"] = training.fit_vs_bare(c["models"], c["batch_size"], c["steps"], c["repeats"],
                                                    c["images"], c["size"], device="cpu")
    if "cuda" in chosen:
        _say("[bench] CUDA precision ...")
        sections["cuda"] = training.cuda_precision(c["cuda_model"], c["cuda_batch_size"], c["cuda_steps"],
                                                   c["repeats"], c["cuda_images"], c["size"])
    if "data" in chosen:
        _say("[bench] data generation and batching ...")
        section: dict[str, Any] = {"generation": data.generation_rate(c["gen_images"], c["repeats"], c["size"])}
        if "training" in sections:
            step_ms = {name: next((r["ms_per_step"], r["cpu_ms_per_step"]) for r in m["rows"]
                                  if r["variant"] == "bare loop")
                       for name, m in sections["training"]["models"].items()}
            section["loading"] = data.loading_overhead(step_ms, c["batch_size"], max(c["steps"], 20),
                                                       c["repeats"], c["images"], c["size"])
        sections["data"] = section
    environment["load_average_1min_end"] = describe()["load_average_1min"]
    return {"environment": environment, "config": config, "sections": sections}


def write(results: dict[str, Any], out: Path) -> str:
    """Write ``results.json`` and ``results.md`` into ``out`` atomically; return the Markdown."""
    text = report.markdown(results)
    atomic_write_text(out / "results.json", json.dumps(results, indent=2, default=str) + "\n")
    atomic_write_text(out / "results.md", text)
    return text


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = resolve(args)
    start = time.perf_counter()
    results = run(config)
    results["total_seconds"] = time.perf_counter() - start
    text = write(results, args.out)
    print(text)
    _say(f"[bench] wrote {args.out / 'results.md'} and results.json in {results['total_seconds']:.0f} s")
    if "rows" in results["sections"].get("lessons", {}):
        _say(f"[bench] to quote these lesson times in the course: cp {args.out / 'results.json'} "
             "benchmarks/results.json, copy the tables into benchmarks/RESULTS.md, then run "
             "python -m cnnlessons.course.timings")
    failed = [r for r in results["sections"].get("lessons", {}).get("rows", []) if r["status"].startswith("failed")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
