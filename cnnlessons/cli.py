"""The ``cnnlessons`` command line.

    cnnlessons list [--json]                       lessons, their parameters, defaults, demo presets
    cnnlessons run LESSON [-p NAME VALUE ...] [--demo] [-o OUT.ipynb]
                                                   one papermill run into build/runs/
    cnnlessons sweep LESSON -p NAME V1,V2 ... [--demo] [--jobs N] [-o DIR]
                                                   a grid of runs in parallel processes, with a
                                                   summary (CSV and Markdown) of their claims
    cnnlessons doctor                              versions, device, reachable online extras
    cnnlessons execute [NOTEBOOK ...]              re-execute lessons in place at their defaults

``-p NAME VALUE`` is parsed like papermill's ``-p`` (``True``/``False``/``None``, then an int,
then a float, else a string) and then checked against the lesson's parameter specs
(``cnnlessons.lessons``) *before* a kernel starts: an unknown name or a bad value is an error
naming the parameter and its valid values, the exit status is 2 and nothing is written.
"""
from __future__ import annotations

import argparse
import base64
import csv
import io
import itertools
import json
import os
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .io import atomic_write_bytes, atomic_write_text
from .lessons import NOTEBOOKS_DIR, REPO_ROOT, Lesson, all_lessons, get_lesson
from .params import ChoiceOrPath, Device, ParameterError, Spec, check_names, validate

FIGURES_DIR = REPO_ROOT / "build" / "figures"
RUNS_DIR = REPO_ROOT / "build" / "runs"
SWEEPS_DIR = REPO_ROOT / "build" / "sweeps"


def online_extras() -> list[tuple[str, str, Path]]:
    """The optional extras that need the internet once: (what, URL, where it is kept locally).
    URLs come from torchvision itself, so the check follows what the course would download."""
    import torch
    from torchvision import datasets
    from torchvision.models import ResNet18_Weights

    from .data.online import ONLINE_DIR

    weights = ResNet18_Weights.IMAGENET1K_V1.url
    flowers = getattr(datasets.Flowers102, "_download_url_prefix", "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/")
    pets = getattr(datasets.OxfordIIITPet, "_RESOURCES", [("https://www.robots.ox.ac.uk/~vgg/data/pets/data/images.tar.gz",)])[0][0]
    return [
        ("ImageNet ResNet-18 weights (zoo, transfer lesson)", weights,
         Path(torch.hub.get_dir()) / "checkpoints" / weights.rsplit("/", 1)[-1]),
        ("CIFAR-10 (transfer lesson, target='cifar10')", datasets.CIFAR10.url, ONLINE_DIR / "cifar10"),
        ("Flowers-102 (target='flowers102')", flowers, ONLINE_DIR / "flowers102"),
        ("Oxford-IIIT Pets (target='oxford_pets')", pets, ONLINE_DIR / "oxford_pets"),
    ]


DOCTOR_PACKAGES = ("torch", "torchvision", "numpy", "matplotlib", "ipywidgets", "jupyterlab",
                   "papermill", "nbval", "nbconvert", "scikit-learn", "tqdm", "playwright")


class UsageError(Exception):
    """A bad command line: reported as ``cnnlessons: error: ...`` with exit status 2."""


# --------------------------------------------------------------------------- execute

def export_figures(notebook: Path, folder: Path = FIGURES_DIR) -> list[Path]:
    """Write every PNG output of an executed notebook to ``folder/<stem>/cellNN_K.png``."""
    nb = json.loads(notebook.read_text())
    out_dir = folder / notebook.stem
    written = []
    for index, cell in enumerate(nb.get("cells", [])):
        k = 0
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            if png:
                path = out_dir / f"cell{index:02d}_{k}.png"
                atomic_write_bytes(path, base64.b64decode(png))
                written.append(path)
                k += 1
    return written


def _resolve_notebooks(names: list[str]) -> list[Path]:
    if not names:
        return [lesson.notebook for lesson in all_lessons()]
    paths = []
    for name in names:
        path = Path(name)
        paths.append(path.resolve() if path.suffix == ".ipynb" else _lesson(name).notebook)
    return paths


def _shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it."""
    path = Path(path).resolve()
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def cmd_execute(args: argparse.Namespace) -> int:
    from .notebooks import execute

    notebooks = _resolve_notebooks(args.notebooks)
    failed = []
    for path in notebooks:
        start = time.perf_counter()
        print(f"executing {_shown(path)} ...", flush=True)
        try:
            execute(path, progress=not args.quiet)
        except Exception as exc:  # report and go on with the other lessons
            failed.append(path.name)
            print(f"  FAILED: {type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"
                  "\n  (the committed notebook was left untouched)", flush=True)
            continue
        figures = export_figures(path)
        print(f"  done in {time.perf_counter() - start:.0f} s; {len(figures)} figure(s) in "
              f"{_shown(FIGURES_DIR / path.stem)}/", flush=True)
    print(f"\nExecuted notebooks (in place): {', '.join(p.name for p in notebooks if p.name not in failed)}")
    print(f"Figures: {_shown(FIGURES_DIR)}/")
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


# --------------------------------------------------------------------------- parameters

def papermill_value(text: str) -> Any:
    """Parse one ``-p`` value exactly like papermill's command line does: ``True``, ``False``,
    ``None``, then an int, then a float, else the string itself (so ``false`` stays a string)."""
    if text == "True":
        return True
    if text == "False":
        return False
    if text == "None":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _lesson(name: str) -> Lesson:
    try:
        return get_lesson(name)
    except KeyError as exc:
        raise UsageError(exc.args[0]) from None


def lesson_defaults(lesson: Lesson) -> dict[str, Any]:
    """The defaults in the lesson notebook's ``parameters`` cell."""
    from .notebooks import default_parameters

    if not lesson.notebook.is_file():
        raise UsageError(f"lesson {lesson.id}: its notebook {_shown(lesson.notebook)} does not exist")
    try:
        return default_parameters(lesson.notebook)
    except (ValueError, SyntaxError) as exc:  # no parameters cell, or not only literal assignments
        raise UsageError(f"lesson {lesson.id}: cannot read the defaults of {_shown(lesson.notebook)}: {exc}") from None


def _for_papermill(spec: Spec, value: Any, converted: Any) -> Any:
    """What to inject: the checked value when it is plain data (e.g. a list parsed from
    ``"3,3"``), the value as given otherwise (a device name stays a string); a folder given
    for a ``ChoiceOrPath`` becomes absolute, because the kernel runs in ``notebooks/``."""
    if isinstance(spec, ChoiceOrPath) and converted not in spec.choices:
        return os.path.abspath(converted)
    if converted is None or isinstance(converted, (bool, int, float, str, list)):
        return converted
    return value


def lesson_parameters(lesson: Lesson, overrides: dict[str, Any], *, demo: bool = False) -> dict[str, Any]:
    """Check ``overrides`` (on top of the ``demo`` preset if asked) against the lesson's specs,
    with the notebook's defaults for the rest; return the parameters to inject with papermill.

    Raises ``ParameterError`` (bad name or value) or ``UsageError`` (no such notebook).
    """
    from .device import DeviceUnavailableError

    chosen = {**(lesson.demo if demo else {}), **overrides}
    check_names(lesson.params, list(chosen))
    merged = {**lesson_defaults(lesson), **chosen}
    try:
        checked = vars(validate(lesson.params, merged))
    except DeviceUnavailableError as exc:  # e.g. -p device cuda on a machine without CUDA
        name = next((n for n, spec in lesson.params.items() if isinstance(spec, Device)), "device")
        raise ParameterError(f"parameter {name!r}: {exc}") from None
    return {name: _for_papermill(lesson.params[name], value, checked[name]) for name, value in chosen.items()}


def cli_value(value: Any) -> str:
    """How to write ``value`` after ``-p NAME`` (a list without spaces: ``[0,1]``)."""
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(cli_value(v) for v in value) + "]"
    text = str(value)
    return repr(text) if isinstance(value, str) and (not text or " " in text) else text


def _parse_pairs(pairs: list[list[str]] | None) -> dict[str, Any]:
    return {name: papermill_value(value) for name, value in (pairs or [])}


def _slug(value: Any) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(value)).strip("-") or "x"


def default_output(lesson: Lesson, overrides: dict[str, Any], *, demo: bool = False) -> Path:
    """``build/runs/<lesson>[-demo][__name=value...].ipynb``."""
    suffix = "-demo" if demo else ""
    suffix += "".join(f"__{name}={_slug(value)}" for name, value in overrides.items())
    return RUNS_DIR / f"{lesson.id}{suffix}.ipynb"


# --------------------------------------------------------------------------- list

def lesson_table(lesson: Lesson) -> dict[str, Any]:
    """A lesson's parameters (default, valid values, help) and demo preset, as plain data."""
    try:
        defaults = lesson_defaults(lesson)
        missing = None
    except UsageError as exc:
        defaults, missing = {}, str(exc)
    params = {
        name: {"default": defaults.get(name), "valid": spec.describe(), "help": spec.help}
        for name, spec in lesson.params.items()
    }
    return {"id": lesson.id, "title": lesson.title, "notebook": _shown(lesson.notebook),
            "summary": lesson.summary, "parameters": params, "demo": dict(lesson.demo),
            "problem": missing}


def cmd_list(args: argparse.Namespace) -> int:
    tables = [lesson_table(lesson) for lesson in all_lessons()]
    if args.json:
        print(json.dumps(tables, indent=2, default=str))
        return 0
    for table in tables:
        print(f"{table['id']}  {table['title']}")
        if table["problem"]:
            print(f"    ({table['problem']})")
        width = max((len(name) for name in table["parameters"]), default=0)
        shown = {name: "-" if table["problem"] else cli_value(p["default"]) for name, p in table["parameters"].items()}
        vwidth = max((len(v) for v in shown.values()), default=0)
        for name, p in table["parameters"].items():
            print(f"    -p {name:<{width}} {shown[name]:<{vwidth}}  {p['valid']}" + (f"; {p['help']}" if p["help"] else ""))
        demo = " ".join(f"-p {k} {cli_value(v)}" for k, v in table["demo"].items())
        print(f"    --demo: {demo or '(the defaults)'}\n")
    print("Run one: cnnlessons run LESSON [-p NAME VALUE ...] [--demo]")
    return 0


# --------------------------------------------------------------------------- run

def cmd_run(args: argparse.Namespace) -> int:
    lesson = _lesson(args.lesson)
    overrides = _parse_pairs(args.parameters)
    parameters = lesson_parameters(lesson, overrides, demo=args.demo)
    output = Path(args.output).resolve() if args.output else default_output(lesson, overrides, demo=args.demo)
    if output.suffix != ".ipynb":
        raise UsageError(f"-o/--output must end in .ipynb; got {args.output!r}")
    if output.parent == NOTEBOOKS_DIR.resolve():
        raise UsageError(f"-o {args.output}: runs do not write into notebooks/ (the committed lessons); "
                         "`cnnlessons execute LESSON` re-executes a lesson in place at its defaults")
    from papermill.exceptions import PapermillExecutionError

    from .notebooks import execute

    given = ", ".join(f"{k}={v!r}" for k, v in parameters.items()) or "the notebook's defaults"
    print(f"running {lesson.id} with {given}\n  -> {_shown(output)}", flush=True)
    start = time.perf_counter()
    try:
        execute(lesson.notebook, output=output, parameters=parameters, progress=not args.quiet)
    except PapermillExecutionError as exc:
        print(f"FAILED in cell [{exc.exec_count}]: {exc.ename}: {exc.evalue}\n"
              f"(nothing written to {_shown(output)})", file=sys.stderr, flush=True)
        return 1
    print(f"done in {time.perf_counter() - start:.0f} s: {_shown(output)}", flush=True)
    return 0


# --------------------------------------------------------------------------- sweep

def split_values(text: str) -> list[str]:
    """Split ``"1,2,3"`` on commas outside brackets, so ``"[3,3],[5,5]"`` is two lists."""
    values, depth, current = [], 0, ""
    for ch in text:
        depth += ch == "["
        depth -= ch == "]"
        if ch == "," and depth == 0:
            values.append(current.strip())
            current = ""
        else:
            current += ch
    values.append(current.strip())
    if any(v == "" for v in values):
        raise UsageError(f"empty value in {text!r}; write -p NAME V1,V2,...")
    return values


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


def _self_command() -> list[str]:
    """How to start this command line again in a child process (``python -m cnnlessons.cli``,
    or the script that imported ``main``, e.g. the ``cnnlessons`` entry point)."""
    main_module = sys.modules.get("__main__")
    spec = getattr(main_module, "__spec__", None)
    if __name__ == "__main__" or getattr(spec, "name", None) == "cnnlessons.cli":
        return [sys.executable, "-m", "cnnlessons.cli"]
    script = sys.argv[0] if sys.argv else ""
    if getattr(main_module, "main", None) is main and script and Path(script).is_file():
        return [sys.executable, script]
    return [sys.executable, "-m", "cnnlessons.cli"]


def _run_one(run: SweepRun, lesson: Lesson, demo: bool, threads: int) -> SweepRun:
    command = _self_command() + ["run", lesson.id, "--quiet", "-o", str(run.notebook)]
    for name, value in run.values.items():
        command += ["-p", name, value]
    if demo:
        command.append("--demo")
    env = {**os.environ, "CNNLESSONS_REPORT": str(run.report), "TQDM_DISABLE": "1"}
    env.setdefault("OMP_NUM_THREADS", str(threads))
    start = time.perf_counter()
    with open(run.log, "w") as log:
        rc = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT).returncode
    run.seconds = time.perf_counter() - start
    if run.report.is_file():
        run.claims = json.loads(run.report.read_text())["claims"]
    run.status = "ok" if rc == 0 else "failed"
    if rc != 0:
        lines = [line.strip() for line in run.log.read_text().splitlines() if line.strip()]
        run.error = next((line for line in lines if line.startswith("FAILED")), lines[-1] if lines else f"exit status {rc}")
    return run


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def sweep_tables(runs: list[SweepRun], names: list[str]) -> tuple[str, str, str]:
    """The summary as (wide CSV, Markdown, long claims CSV): one row per run with its
    parameters, status and each claim's computed value (a column per claim text)."""
    claim_names: list[str] = []
    for run in runs:
        for claim in run.claims:
            if claim["claim"] not in claim_names:
                claim_names.append(claim["claim"])

    def held(run: SweepRun) -> str:
        return f"{sum(c['ok'] for c in run.claims)}/{len(run.claims)}" if run.claims else "-"

    wide = io.StringIO()
    writer = csv.writer(wide, lineterminator="\n")
    writer.writerow(["run", *names, "status", "seconds", "claims_held", *claim_names, "error"])
    for run in runs:
        by_name = {c["claim"]: c for c in run.claims}
        writer.writerow([run.index, *(run.values[n] for n in names), run.status, f"{run.seconds:.1f}", held(run),
                         *(by_name[c]["value"] if c in by_name else "" for c in claim_names), run.error])

    def md(text: Any) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    rows = [f"| run | {' | '.join(names)} | status | time (s) | claims held | {' | '.join(md(c) for c in claim_names)} |",
            "|" + " --- |" * (len(names) + 4 + len(claim_names))]
    for run in runs:
        by_name = {c["claim"]: c for c in run.claims}
        cells = [md(_cell(by_name[c]["value"])) + ("" if by_name[c]["ok"] else " ✗ (expected "
                 + md(_cell(by_name[c]["expected"])) + ")") if c in by_name else "" for c in claim_names]
        rows.append(f"| {run.index} | {' | '.join(md(run.values[n]) for n in names)} | {run.status} | "
                    f"{run.seconds:.0f} | {held(run)} | {' | '.join(cells)} |")
    failed = [run for run in runs if run.status != "ok"]
    if failed:
        rows += ["", "## Failed runs", ""]
        rows += [f"- run {run.index} ({', '.join(f'{n}={run.values[n]}' for n in names)}): {md(run.error)} "
                 f"(log: `{run.log.name}`)" for run in failed]

    long = io.StringIO()
    writer = csv.writer(long, lineterminator="\n")
    writer.writerow(["run", *names, "claim", "value", "expected", "holds"])
    for run in runs:
        for c in run.claims:
            writer.writerow([run.index, *(run.values[n] for n in names), c["claim"], c["value"], c["expected"], c["ok"]])
    return wide.getvalue(), "\n".join(rows) + "\n", long.getvalue()


def cmd_sweep(args: argparse.Namespace) -> int:
    lesson = _lesson(args.lesson)
    if not args.parameters:
        raise UsageError("give at least one -p NAME V1,V2,... to sweep over")
    names = [name for name, _ in args.parameters]
    if len(set(names)) != len(names):
        raise UsageError(f"each parameter once: -p NAME V1,V2,...; got {names}")
    axes = [split_values(values) for _, values in args.parameters]
    grid = [dict(zip(names, combo)) for combo in itertools.product(*axes)]
    for point in grid:  # every run is checked before any starts
        lesson_parameters(lesson, _parse_pairs([[n, v] for n, v in point.items()]), demo=args.demo)
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs must be >= 1; got {args.jobs}")
    cpus = os.cpu_count() or 1
    jobs = min(len(grid), args.jobs or max(1, cpus // 2))
    out_dir = Path(args.output).resolve() if args.output else SWEEPS_DIR / lesson.id
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in [*out_dir.glob("run-*"), *out_dir.glob("summary.*"), out_dir / "claims.csv"]:
        stale.unlink(missing_ok=True)

    width = len(str(len(grid)))
    runs = [SweepRun(i + 1, point, *(out_dir / f"run-{i + 1:0{width}d}{ext}" for ext in (".ipynb", ".json", ".log")))
            for i, point in enumerate(grid)]
    print(f"sweeping {lesson.id}: {len(runs)} run(s), {jobs} at a time -> {_shown(out_dir)}/", flush=True)
    lock = threading.Lock()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(_run_one, run, lesson, args.demo, max(1, cpus // jobs)) for run in runs]
        for done, future in enumerate(as_completed(futures), 1):
            run = future.result()
            with lock:
                given = ", ".join(f"{k}={v}" for k, v in run.values.items())
                print(f"[{done}/{len(runs)}] run {run.index} ({given}): {run.status} in {run.seconds:.0f} s"
                      + (f" -- {run.error}" if run.error else ""), flush=True)

    wide, markdown, long = sweep_tables(runs, names)
    title = f"# Sweep of {lesson.id}\n\n`cnnlessons sweep {lesson.id} " + " ".join(
        f"-p {n} {v}" for n, v in args.parameters) + (" --demo" if args.demo else "") + "`\n\n"
    atomic_write_text(out_dir / "summary.csv", wide)
    atomic_write_text(out_dir / "summary.md", title + markdown)
    atomic_write_text(out_dir / "claims.csv", long)
    atomic_write_text(out_dir / "summary.json", json.dumps(
        [{"run": r.index, "parameters": r.values, "status": r.status, "seconds": round(r.seconds, 1),
          "error": r.error, "notebook": r.notebook.name if r.status == "ok" else None, "claims": r.claims}
         for r in runs], indent=2, default=str))
    print("\n" + markdown)
    print(f"summary: {_shown(out_dir / 'summary.md')}, {_shown(out_dir / 'summary.csv')}")
    failed = [r for r in runs if r.status != "ok"]
    if failed:
        print(f"{len(failed)} of {len(runs)} run(s) FAILED: {', '.join(str(r.index) for r in failed)}", file=sys.stderr)
        return 1
    return 0


# --------------------------------------------------------------------------- doctor

def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def check_reachable(url: str, timeout: float = 3.0) -> str:
    """``"reachable"`` or why not, within ``timeout`` seconds (DNS included: the check runs in
    a daemon thread that is abandoned when the time is up, so it never hangs)."""
    import urllib.error
    import urllib.request

    result: list[str] = []

    def probe() -> None:
        try:
            request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": "cnnlessons-doctor"})
            with urllib.request.urlopen(request, timeout=timeout):
                result.append("reachable")
        except urllib.error.HTTPError as exc:  # the server answered: the network path works
            result.append(f"reachable (HTTP {exc.code})")
        except Exception as exc:
            reason = getattr(exc, "reason", exc)
            result.append(f"unreachable ({type(reason).__name__}: {reason})" if str(reason) else "unreachable")

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return result[0] if result else f"unreachable (no answer within {timeout:g} s)"


def cmd_doctor(args: argparse.Namespace) -> int:
    import platform
    import shutil

    import torch

    from . import __version__
    from .device import get_device

    print(f"cnnlessons   {__version__} ({_shown(Path(__file__).parent)})")
    print(f"python       {platform.python_version()} ({sys.executable})")
    print(f"platform     {platform.platform()}")
    for package in DOCTOR_PACKAGES:  # torch's own string also says which build (+cpu, +cu130)
        print(f"{package:<12} {torch.__version__ if package == 'torch' else _version(package)}")
    print()
    try:
        device = str(get_device("auto"))
    except Exception as exc:  # e.g. CNNLESSONS_DEVICE=cuda without CUDA
        device = f"ERROR: {exc}"
    print(f"device       auto -> {device}" + (f" (CNNLESSONS_DEVICE={os.environ['CNNLESSONS_DEVICE']})"
                                              if os.environ.get("CNNLESSONS_DEVICE") else ""))
    print(f"CPU threads  {torch.get_num_threads()} (of {os.cpu_count()} cores)")
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            print(f"cuda:{i}       {props.name}, {props.total_memory / 2**30:.0f} GiB, "
                  f"compute capability {props.major}.{props.minor}")
        print(f"CUDA         {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}")
    else:
        print("CUDA         not available" + (f" (torch built for CUDA {torch.version.cuda})" if torch.version.cuda else ""))
    lessons = all_lessons()
    present = [lesson for lesson in lessons if lesson.notebook.is_file()]
    print(f"lessons      {len(lessons)} ({len(present)} notebooks present)")
    chromium = next((shutil.which(b) for b in ("chromium", "chromium-browser") if shutil.which(b)), None)
    print(f"browser      {chromium or 'no Chromium (the browser test will skip; scripts/install-browser.sh)'}")
    print()
    extras = online_extras()
    print(f"online extras (optional; each checked with a {args.timeout:g} s timeout):")
    results: dict[str, str] = {}
    threads = [threading.Thread(target=lambda u=url: results.__setitem__(u, check_reachable(u, args.timeout)),
                                daemon=True) for _, url, _ in extras]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(args.timeout + 1.0)
    for name, url, local in extras:
        kept = "already here" if local.exists() else "not downloaded"
        print(f"  {name}\n    {url}\n    {results.get(url, 'unreachable (no answer)')}; {kept} ({_shown(local)})")
    return 0


# --------------------------------------------------------------------------- main

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cnnlessons", description="Run and explore the cnnlessons course.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("execute", help="re-execute lessons in place at their default parameters")
    p.add_argument("notebooks", nargs="*", help="lesson ids or .ipynb paths (default: every lesson)")
    p.add_argument("--quiet", action="store_true", help="no per-cell progress bar")
    p.set_defaults(func=cmd_execute)

    p = sub.add_parser("list", help="the lessons, their parameters, defaults and demo presets")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("run", help="run a lesson with papermill into build/runs/",
                       description="Run LESSON top to bottom in a fresh kernel; parameters are checked first.")
    p.add_argument("lesson", help="lesson id, number or name (see `cnnlessons list`)")
    p.add_argument("-p", "--parameter", dest="parameters", nargs=2, action="append", metavar=("NAME", "VALUE"),
                   help="a parameter, parsed like papermill's -p (repeatable)")
    p.add_argument("--demo", action="store_true", help="start from the lesson's fast demo preset")
    p.add_argument("-o", "--output", help="output notebook (default: build/runs/LESSON[...].ipynb)")
    p.add_argument("--quiet", action="store_true", help="no per-cell progress bar")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("sweep", help="a grid of runs in parallel, with a summary of their claims",
                       description="Run LESSON for every combination of the given values.")
    p.add_argument("lesson", help="lesson id, number or name")
    p.add_argument("-p", "--parameter", dest="parameters", nargs=2, action="append", metavar=("NAME", "V1,V2,..."),
                   help="a parameter and its comma-separated values (lists in brackets: [3,3],[5,5])")
    p.add_argument("--demo", action="store_true", help="start every run from the demo preset")
    p.add_argument("-j", "--jobs", type=int, help="runs at a time (default: half the CPU cores)")
    p.add_argument("-o", "--output", help="output folder (default: build/sweeps/LESSON/)")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("doctor", help="versions, device, and whether the online extras are reachable")
    p.add_argument("--timeout", type=float, default=3.0, help="seconds per online check (default 3)")
    p.set_defaults(func=cmd_doctor)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (UsageError, ParameterError) as exc:
        print(f"cnnlessons {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
