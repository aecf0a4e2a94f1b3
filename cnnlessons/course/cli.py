"""The ``cnnlessons`` command line.

    cnnlessons list [--json | --markdown]          lessons, their parameters, defaults and presets,
                                                   and what each preset changes in the lesson
    cnnlessons run LESSON [-p NAME VALUE ...] [--preset demo|full] [-o OUT.ipynb]
                                                   one papermill run into build/runs/
    cnnlessons sweep LESSON -p NAME V1,V2 ... [--preset P] [--jobs N] [-o DIR]
                                                   a grid of runs in parallel processes, with a
                                                   summary (CSV and Markdown) of their claims
    cnnlessons record LESSON                       run the full preset once, store it in data/records/
    cnnlessons doctor                              versions, device, reachable online extras
    cnnlessons execute [NOTEBOOK ...]              re-execute lessons in place at their defaults
    cnnlessons execute --metadata-only [NOTEBOOK ...]
                                                   only re-derive what each audience sees (hidden
                                                   cells, slides) from the tags: no kernel, outputs kept

Parameters are checked against the lesson's specs (``cnnlessons.course.lessons``) before a
kernel starts: a bad name or value exits with status 2 and writes nothing. A run that fails
in a cell keeps its notebook, with the error, beside the requested output.
"""
from __future__ import annotations

import argparse
import json
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

from ..params import ParameterError
from ..paths import build_dir, notebooks_dir
from . import record
from .doctor import cmd_doctor
from .lessons import DEFAULT, Lesson, all_lessons
from .runs import (UsageError, cli_value, default_output, failed_path, find_lesson, lesson_defaults,
                   lesson_parameters, parse_pairs, shown)
from .sweep import cmd_sweep

FIGURES_DIR = build_dir() / "figures"


def _resolve_notebooks(names: list[str]) -> list[Path]:
    if not names:
        return [lesson.notebook for lesson in all_lessons()]
    paths = []
    for name in names:
        path = Path(name)
        paths.append(path.resolve() if path.suffix == ".ipynb" else find_lesson(name).notebook)
    return paths


def cmd_refresh(notebooks: list[Path]) -> int:
    """``execute --metadata-only``: ``notebooks.refresh_file`` on each notebook."""
    from .notebooks import refresh_file

    missing = [shown(p) for p in notebooks if not p.is_file()]
    if missing:
        raise UsageError(f"no such notebook: {', '.join(missing)}")
    failed = []
    for path in notebooks:
        try:
            changed = refresh_file(path)
        except (RuntimeError, ValueError) as exc:
            failed.append(path.name)
            print(f"{shown(path)}: FAILED: {exc}", file=sys.stderr, flush=True)
            continue
        print(f"{shown(path)}: {'metadata refreshed' if changed else 'unchanged'}", flush=True)
    return 1 if failed else 0


def cmd_execute(args: argparse.Namespace) -> int:
    from .notebooks import execute, export_figures

    notebooks = _resolve_notebooks(args.notebooks)
    if args.metadata_only:
        return cmd_refresh(notebooks)
    failed = []
    for path in notebooks:
        start = time.perf_counter()
        print(f"executing {shown(path)} ...", flush=True)
        try:
            execute(path, progress=not args.quiet)
        except Exception as exc:  # report and go on with the other lessons
            failed.append(path.name)
            print(f"  FAILED: {type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"
                  "\n  (the committed notebook was left untouched)", flush=True)
            continue
        figures = export_figures(path, FIGURES_DIR)
        print(f"  done in {time.perf_counter() - start:.0f} s; {len(figures)} figure(s) in "
              f"{shown(FIGURES_DIR / path.stem)}/", flush=True)
    print(f"\nExecuted notebooks (in place): {', '.join(p.name for p in notebooks if p.name not in failed)}")
    print(f"Figures: {shown(FIGURES_DIR)}/")
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


# --------------------------------------------------------------------------- list

def lesson_table(lesson: Lesson) -> dict[str, Any]:
    """A lesson's parameters (default and help from its notebook, valid values) and presets."""
    try:
        lesson_defaults(lesson)
        parameters, problem = lesson.parameters(), None
    except UsageError as exc:
        parameters, problem = {}, str(exc)
    params = {name: {"default": p.default, "valid": p.spec.describe(), "help": p.help}
              for name, p in parameters.items()}
    return {"id": lesson.id, "title": lesson.title, "notebook": shown(lesson.notebook),
            "summary": lesson.summary, "parameters": params, "presets": dict(lesson.presets),
            "effects": dict(lesson.effects), "problem": problem}


def effects_table(lessons: tuple[Lesson, ...]) -> str:
    """What each preset changes, as the Markdown table of INSTRUCTORS.md (``cnnlessons list --markdown``)."""
    presets = [p for p in dict.fromkeys(name for lesson in lessons for name in lesson.presets)]
    rows = [f"| lesson | {' | '.join(f'`{p}` preset' for p in presets)} |", "|---|" + "---|" * len(presets)]
    for lesson in lessons:
        cells = [" ".join(lesson.effects.get(p, "").split()).replace("|", "\\|") for p in presets]
        rows.append(f"| {lesson.id.partition('_')[0]} | {' | '.join(cells)} |")
    return "\n".join(rows)


def cmd_list(args: argparse.Namespace) -> int:
    if args.markdown:
        print(effects_table(all_lessons()))
        return 0
    tables = [lesson_table(lesson) for lesson in all_lessons()]
    if args.json:
        print(json.dumps(tables, indent=2, default=str))
        return 0
    for table in tables:
        print(f"{table['id']}  {table['title']}")
        if table["problem"]:
            print(f"    ({table['problem']})")
        width = max((len(name) for name in table["parameters"]), default=0)
        defaults = {name: cli_value(p["default"]) for name, p in table["parameters"].items()}
        vwidth = max((len(v) for v in defaults.values()), default=0)
        for name, p in table["parameters"].items():
            print(f"    -p {name:<{width}} {defaults[name]:<{vwidth}}  {p['help'] or '(no help)'}; {p['valid']}")
        for preset, values in table["presets"].items():
            given = " ".join(f"-p {k} {cli_value(v)}" for k, v in values.items())
            print(f"    --preset {preset}: {given or '(the defaults)'}")
            if table["effects"].get(preset):
                print(textwrap.fill(table["effects"][preset], width=100, initial_indent=" " * 8,
                                    subsequent_indent=" " * 8))
        print()
    print("Run one: cnnlessons run LESSON [-p NAME VALUE ...] [--preset NAME]")
    return 0


# --------------------------------------------------------------------------- run

def cmd_run(args: argparse.Namespace) -> int:
    lesson = find_lesson(args.lesson)
    overrides = parse_pairs(args.parameters)
    parameters = lesson_parameters(lesson, overrides, preset=args.preset)
    output = Path(args.output).resolve() if args.output else default_output(lesson, overrides, preset=args.preset)
    if output.suffix != ".ipynb":
        raise UsageError(f"-o/--output must end in .ipynb; got {args.output!r}")
    if output.parent == notebooks_dir().resolve():
        raise UsageError(f"-o {args.output}: runs do not write into notebooks/ (the committed lessons); "
                         "`cnnlessons execute LESSON` re-executes a lesson in place at its defaults")
    from papermill.exceptions import PapermillExecutionError

    from .notebooks import execute

    given = ", ".join(f"{k}={v!r}" for k, v in parameters.items()) or "the notebook's defaults"
    print(f"running {lesson.id} ({args.preset} preset) with {given}\n  -> {shown(output)}", flush=True)
    start = time.perf_counter()
    failed = failed_path(output)
    failed.unlink(missing_ok=True)
    try:
        execute(lesson.notebook, output=output, parameters=parameters, progress=not args.quiet, keep_failed=failed)
    except PapermillExecutionError as exc:
        print(f"FAILED in cell [{exc.exec_count}]: {exc.ename}: {exc.evalue}\n"
              f"the failed notebook, with the error: {shown(failed)}", file=sys.stderr, flush=True)
        return 1
    print(f"done in {time.perf_counter() - start:.0f} s: {shown(output)}", flush=True)
    return 0


# --------------------------------------------------------------------------- main

def _preset_arguments(parser: argparse.ArgumentParser, help_text: str) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--preset", default=DEFAULT, metavar="NAME", help=f"{help_text}: demo, {DEFAULT} or full")
    group.add_argument("--demo", dest="preset", action="store_const", const="demo", help="the same as --preset demo")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cnnlessons", description="Run and explore the cnnlessons course.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("execute", help="re-execute lessons in place at their default parameters")
    p.add_argument("notebooks", nargs="*", help="lesson ids or .ipynb paths (default: every lesson)")
    p.add_argument("--quiet", action="store_true", help="no per-cell progress bar")
    p.add_argument("--metadata-only", action="store_true",
                   help="do not execute: only re-derive the metadata from the cells' tags (hidden cells, slides); "
                        "outputs are kept byte for byte")
    p.set_defaults(func=cmd_execute)

    p = sub.add_parser("list", help="the lessons, their parameters, defaults, presets and what each preset changes")
    output = p.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="machine-readable output")
    output.add_argument("--markdown", action="store_true",
                        help="only what each preset changes, as the Markdown table of INSTRUCTORS.md")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("run", help="run a lesson with papermill into build/runs/",
                       description="Run LESSON top to bottom in a fresh kernel; parameters are checked first.")
    p.add_argument("lesson", help="lesson id, number or name (see `cnnlessons list`)")
    p.add_argument("-p", "--parameter", dest="parameters", nargs=2, action="append", metavar=("NAME", "VALUE"),
                   help="a parameter, parsed like papermill's -p (repeatable)")
    _preset_arguments(p, "start from a named preset of the lesson (see `cnnlessons list`)")
    p.add_argument("-o", "--output", help="output notebook (default: build/runs/LESSON[...].ipynb)")
    p.add_argument("--quiet", action="store_true", help="no per-cell progress bar")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("sweep", help="a grid of runs in parallel, with a summary of their claims",
                       description="Run LESSON for every combination of the given values.")
    p.add_argument("lesson", help="lesson id, number or name")
    p.add_argument("-p", "--parameter", dest="parameters", nargs=2, action="append", metavar=("NAME", "V1,V2,..."),
                   help="a parameter and its comma-separated values (lists in brackets: [3,3],[5,5])")
    _preset_arguments(p, "start every run from a named preset")
    p.add_argument("-j", "--jobs", type=int, help="runs at a time (default: half the CPU cores)")
    p.add_argument("-o", "--output", help="output folder (default: build/sweeps/LESSON/)")
    p.set_defaults(func=cmd_sweep)

    record.add_parser(sub)

    p = sub.add_parser("doctor", help="versions, device, and whether the online extras are reachable")
    p.add_argument("--timeout", type=float, default=3.0, help="seconds per online check (default 3)")
    p.set_defaults(func=cmd_doctor)
    return parser


def _launcher() -> list[str]:
    """How a child process starts this same command line (``cnnlessons sweep`` runs each point
    in one): the script that called ``main`` if there is one (e.g. the ``cnnlessons`` entry
    point, or a launcher that registered extra lessons), else ``python -m cnnlessons.course.cli``."""
    main_module = sys.modules.get("__main__")
    script = sys.argv[0] if sys.argv else ""
    if getattr(main_module, "main", None) is main and script and Path(script).is_file() and script.endswith(".py"):
        return [sys.executable, script]
    return [sys.executable, "-m", "cnnlessons.course.cli"]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.launcher = _launcher()
    try:
        return args.func(args)
    except (UsageError, ParameterError) as exc:
        print(f"cnnlessons {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
