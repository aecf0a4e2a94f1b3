"""Build the course website: ``python -m book`` (``make book``) -> ``build/book/index.html``.

Sphinx + myst-nb + sphinx-book-theme (Jupyter Book 1's stack) render the committed, executed
notebooks in ``notebooks/`` without re-executing them. The steps:

1. A temporary source folder under ``build/`` gets a generated landing page (``index.md``:
   the lesson map) and a copy of every notebook, annotated for the web: a line at the top
   linking to the lesson's claims table, its run time and its slides; a note beside saved
   widgets; a "Run this lesson" section (JupyterLab, ``cnnlessons run``, papermill).
   ``notebooks/`` itself is only read.
2. Sphinx builds into ``build/book.tmp/``; only a successful build replaces ``build/book/``
   (a failed one leaves the previous site, never half a site).

Lesson metadata (title, one-line summary, presets) comes from the lesson registry; run times
from ``benchmarks/RESULTS.md`` (``make bench``); the number of claims from the executed
notebook's ``claims.table()`` output.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = Path(__file__).resolve().parent
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
CLAIMS_CALL = re.compile(r"\bclaims\.table\(")
NBVAL_MARKER = re.compile(r"^\s*#\s*NBVAL_[A-Z_]+\s*$")


# ----------------------------------------------------------------------------- lesson metadata

def _registry() -> dict[str, Any]:
    """``{lesson id: Lesson}`` from the lesson registry (``cnnlessons.course.lessons``)."""
    from cnnlessons.course.lessons import all_lessons

    return {lesson.id: lesson for lesson in all_lessons()}


def presets_of(lesson: Any) -> dict[str, dict[str, Any]]:
    """A lesson's named presets, ``{name: parameters}`` (none for a notebook the registry lacks)."""
    return {str(name): dict(values or {}) for name, values in getattr(lesson, "presets", {}).items()}


def run_times(results: Path) -> dict[str, float]:
    """Seconds per lesson at default parameters, from the markdown tables of ``make bench``.

    Reads every table whose header has ``lesson`` and ``seconds`` columns (the first value
    found per lesson wins: the recorded CPU run); rows with another parameter set or a status
    other than ``ok`` are skipped."""
    if not results.is_file():
        return {}
    times: dict[str, float] = {}
    header: list[str] | None = None
    for line in results.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip().strip("*`").strip() for c in line.strip("|").split("|")]
        if header is None:
            header = [c.lower() for c in cells]
            continue
        if set(line) <= set("|-: "):
            continue
        if "lesson" not in header or "seconds" not in header or len(cells) != len(header):
            continue
        row = dict(zip(header, cells))
        if row.get("parameters", "default") not in ("default", "") or row.get("status", "ok") != "ok":
            continue
        try:
            seconds = float(row["seconds"].replace(",", ""))
        except ValueError:
            continue
        times.setdefault(row["lesson"], seconds)
    return times


def claims_cell_index(nb: nbformat.NotebookNode) -> int | None:
    """Index of the (last) code cell calling ``claims.table()``."""
    found = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and CLAIMS_CALL.search(cell.source)]
    return found[-1] if found else None


def count_claims(nb: nbformat.NotebookNode) -> int | None:
    """Rows of the claims table the executed notebook shows (None if it has no such output)."""
    index = claims_cell_index(nb)
    if index is None:
        return None
    for output in nb.cells[index].get("outputs", []):
        table = output.get("data", {}).get("text/html")
        if table:
            table = "".join(table) if isinstance(table, list) else table
            return sum(1 for row in re.findall(r"<tr\b.*?</tr>", table, flags=re.S | re.I) if "<td" in row.lower())
    return None


def first_heading(nb: nbformat.NotebookNode) -> str | None:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return None


def has_widgets(nb: nbformat.NotebookNode) -> bool:
    return any(WIDGET_VIEW in output.get("data", {}) for cell in nb.cells if cell.cell_type == "code"
               for output in cell.get("outputs", []))


@dataclass
class LessonPage:
    id: str  # notebook stem, e.g. "01_receptive_fields"
    notebook: Path
    title: str
    summary: str
    seconds: float | None
    claims: int | None
    widgets: bool
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def number(self) -> str:
        return self.id.partition("_")[0]

    @property
    def label(self) -> str:
        return f"claims-{self.id}"


def lesson_notebooks(notebooks: Path) -> list[Path]:
    """The lessons in course order: ``sorted(notebooks/*.ipynb)``, as the shell globs it (hidden
    files, such as the temporary copies ``make execute`` writes, are not lessons)."""
    return sorted(p for p in notebooks.glob("*.ipynb") if not p.name.startswith("."))


def lesson_pages(notebooks: Path, results: Path | None = None) -> list[LessonPage]:
    """Every notebook of ``notebooks/`` in course order: the sorted file names."""
    registry = _registry()
    times = run_times(results if results is not None else ROOT / "benchmarks" / "RESULTS.md")
    pages = []
    for path in lesson_notebooks(notebooks):
        nb = nbformat.read(path, as_version=4)
        lesson = registry.get(path.stem)
        pages.append(LessonPage(
            id=path.stem, notebook=path,
            title=getattr(lesson, "title", None) or first_heading(nb) or path.stem,
            summary=getattr(lesson, "summary", "") or "",
            seconds=times.get(path.stem), claims=count_claims(nb), widgets=has_widgets(nb),
            presets=presets_of(lesson) if lesson is not None else {}))
    return pages


# ----------------------------------------------------------------------------- page text

def approx_time(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    if seconds < 90:  # no-break spaces: "~15 s" stays on one line in the lesson map
        return f"~{max(5, round(seconds / 5) * 5):.0f}\u00a0s"
    return f"~{seconds / 60:.0f}\u00a0min" if seconds >= 150 else f"~{seconds / 60:.1f}\u00a0min"


def _papermill_args(values: dict[str, Any]) -> str:
    """papermill flags for parameter values: ``-p`` for numbers and plain strings, ``-y`` (YAML)
    for lists, booleans and None (``-p flag false`` would be the string "false")."""
    args = []
    for name, value in values.items():
        if isinstance(value, (bool, list, tuple, dict)) or value is None:
            args.append(f"-y '{name}: {json.dumps(value)}'")
        elif isinstance(value, str) and not re.fullmatch(r"[\w.\-/]+", value):
            args.append(f"-p {name} '{value}'")
        else:
            args.append(f"-p {name} {value}")
    return " ".join(args)


def run_section(page: LessonPage) -> str:
    nb = f"notebooks/{page.id}.ipynb"
    cli = [f"cnnlessons run {page.number}".ljust(34) + f"# default parameters -> build/runs/{page.id}.ipynb"]
    pm = [f".venv/bin/papermill {nb} build/runs/{page.id}.ipynb"]
    for name, values in page.presets.items():
        if name == "default":
            continue
        flag = f"--preset {name}"
        shown = " ".join(f"{k}={json.dumps(v)}" for k, v in values.items()) or "the defaults"
        cli.append(f"cnnlessons run {page.number} {flag}".ljust(34) + f"# {name} preset: {shown}")
        pm.append(f".venv/bin/papermill {nb} build/runs/{page.id}-{name}.ipynb {_papermill_args(values)}".rstrip())
    slides = f"{page.id}.slides.html"
    return "\n".join([
        f"(run-{page.id})=",
        "## Run this lesson yourself",
        "",
        f"**In JupyterLab**: `make lab` opens JupyterLab on `notebooks/`; open `{page.id}.ipynb` and run all cells"
        " (the widgets then respond to the mouse).",
        "",
        "**From the command line**, in a fresh kernel (papermill); `cnnlessons list` shows every parameter,"
        " `-p NAME VALUE` changes one:",
        "",
        "```bash",
        *cli,
        "```",
        "",
        "The same runs with papermill directly:",
        "",
        "```bash",
        *pm,
        "```",
        "",
        f"**Slides**: <a class=\"reference external slides-link\" href=\"../slides/{slides}\">{slides}</a>,"
        f" the reveal.js deck of this lesson, written to `build/slides/` by `make slides`.",
        "",
    ])


def top_block(page: LessonPage) -> str:
    claims = f"{page.claims} claims" if page.claims is not None else "claims"
    parts = [f"**{{ref}}`Claims checked <{page.label}>`**: {claims}, recomputed and asserted when the notebook runs",
             f"{{ref}}`How to run it <run-{page.id}>`",
             f"<a class=\"reference external slides-link\" href=\"../slides/{page.id}.slides.html\">Slides</a>"
             " (built by `make slides`)"]
    if page.seconds is not None:
        parts.insert(1, f"run time {approx_time(page.seconds)} on a 2-core CPU")
    text = ["", "```{container} lesson-meta", " · ".join(parts), "```", ""]
    if page.widgets:
        text += ["```{note}",
                 "The widgets on this page show the view saved when the notebook was executed. Moving a"
                 " slider needs a running kernel: open the lesson in JupyterLab (`make lab`).",
                 "```", ""]
    return "\n".join(text)


WIDGET_NOTE = ("```{container} widget-note\n*Above: the widget's saved view. To move it, run the lesson in"
               " JupyterLab (`make lab`).*\n```")


def annotate(nb: nbformat.NotebookNode, page: LessonPage) -> nbformat.NotebookNode:
    """A copy of a lesson for the web (the committed notebook is not touched)."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    claims_at = claims_cell_index(nb)
    cells = []
    titled = False
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":  # the nbval markers are for the tests, not for readers
            cell.source = "\n".join(line for line in cell.source.splitlines() if not NBVAL_MARKER.match(line))
        if cell.cell_type == "markdown" and not titled:
            lines = cell.source.splitlines()
            at = next((k for k, line in enumerate(lines) if line.startswith("# ")), None)
            if at is not None:
                cell.source = "\n".join([*lines[:at + 1], top_block(page), *lines[at + 1:]])
                titled = True
        if i == claims_at:
            previous = cells[-1] if cells else None
            if previous is not None and previous.cell_type == "markdown" and previous.source.lstrip().startswith("#"):
                previous.source = f"({page.label})=\n{previous.source.lstrip()}"
            else:
                cells.append(nbformat.v4.new_markdown_cell(f"({page.label})=\n## Claims checked"))
        cells.append(cell)
        if cell.cell_type == "code" and any(WIDGET_VIEW in o.get("data", {}) for o in cell.get("outputs", [])):
            cells.append(nbformat.v4.new_markdown_cell(WIDGET_NOTE))
    if not titled:
        cells.insert(0, nbformat.v4.new_markdown_cell(f"# {page.title}\n{top_block(page)}"))
    if claims_at is None:
        cells.append(nbformat.v4.new_markdown_cell(f"({page.label})=\n## Claims checked\n\nThis lesson has no claims table."))
    cells.append(nbformat.v4.new_markdown_cell(run_section(page)))
    nb.cells = cells
    return nb


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def index_page(pages: list[LessonPage]) -> str:
    rows = ["| # | Lesson | What it teaches | Run time | Claims checked |", "|---|---|---|---|---|"]
    for page in pages:
        claims = str(page.claims) if page.claims is not None else "n/a"
        rows.append(f"| {page.number} | [{_cell(page.title)}]({page.id}.ipynb) | {_cell(page.summary)} "
                    f"| {approx_time(page.seconds)} | {claims} |")
    total = sum(p.claims or 0 for p in pages)
    return "\n".join([
        "# cnnlessons: what made modern convolutional networks work",
        "",
        "A notebook-first course: receptive fields, Inception bottlenecks, residual networks, transfer"
        " learning and a tour of the ImageNet winners. Every page below is an executed notebook: its prose,"
        " maths, code, outputs and figures as committed. Every number a lesson states is recomputed by the"
        f" `cnnlessons` library and asserted in the lesson's claims table ({total} claims in all).",
        "",
        "(lesson-map)=",
        "## The lessons",
        "",
        *rows,
        "",
        "Run time: wall time of the lesson at its default parameters on a 2-core CPU, from"
        " `benchmarks/RESULTS.md` (`make bench`). Claims checked: the rows of the lesson's claims table.",
        "",
        "## Run the course yourself",
        "",
        "```bash",
        "make course                # create .venv, install, execute every lesson",
        "make lab                   # JupyterLab on notebooks/ (widgets respond there)",
        "cnnlessons run 01 --preset demo   # one lesson through papermill, fast preset -> build/runs/",
        "make slides                # reveal.js decks -> build/slides/",
        "```",
        "",
        "The widgets on these pages show their saved view; moving them needs a running kernel (JupyterLab).",
        "",
        "```{toctree}",
        ":hidden:",
        ":maxdepth: 1",
        ":caption: Lessons",
        "",
        *(page.id for page in pages),
        "```",
        "",
    ])


def prepare(src: Path, notebooks: Path, results: Path | None = None) -> list[LessonPage]:
    """Write the Sphinx source folder: ``index.md`` and an annotated copy of every notebook."""
    pages = lesson_pages(notebooks, results)
    if not pages:
        raise SystemExit(f"book: no notebooks in {notebooks}")
    src.mkdir(parents=True, exist_ok=True)
    (src / "index.md").write_text(index_page(pages), encoding="utf-8")
    for page in pages:
        nb = nbformat.read(page.notebook, as_version=4)
        nbformat.write(annotate(nb, page), src / f"{page.id}.ipynb")
    return pages


# ----------------------------------------------------------------------------- the build

def build(out: Path, notebooks: Path, *, jobs: str = "auto", quiet: bool = True) -> list[LessonPage]:
    """Build the site into ``out`` atomically (``out.tmp`` first, then a rename)."""
    from sphinx.cmd.build import build_main

    out = out.resolve()
    # build/book.tmp/: src/ (the generated sources), html/ (the site being built) and myst-nb's
    # jupyter_execute/ (it writes next to the output folder). Removed whatever happens.
    work = out.with_name(out.name + ".tmp")
    shutil.rmtree(work, ignore_errors=True)
    src, staging = work / "src", work / "html"
    try:
        pages = prepare(src, notebooks)
        args = ["-b", "html", "-c", str(CONF_DIR), "-d", str(work / "doctrees"), "-j", jobs, "-n"]
        if quiet:
            args.append("-q")
        status = build_main([*args, str(src), str(staging)])
        if status != 0:
            raise SystemExit(f"book: sphinx-build failed (status {status}); {out} is unchanged")
        (staging / ".buildinfo").unlink(missing_ok=True)
        (staging / ".nojekyll").touch()
        old = out.with_name(out.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if out.exists():
            out.rename(old)
        staging.rename(out)
        shutil.rmtree(old, ignore_errors=True)
        return pages
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m book", description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--out", type=Path, default=ROOT / "build" / "book", help="output folder (default build/book)")
    parser.add_argument("--notebooks", type=Path, default=ROOT / "notebooks", help="the executed lessons (default notebooks/)")
    parser.add_argument("-j", "--jobs", default="auto", help="Sphinx processes (default auto)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show Sphinx's progress")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    pages = build(args.out, args.notebooks, jobs=args.jobs, quiet=not args.verbose)
    shown = args.out.resolve()
    try:
        shown = shown.relative_to(Path.cwd())
    except ValueError:
        pass
    print(f"book: {len(pages)} lessons -> {shown}/index.html in {time.perf_counter() - start:.1f} s "
          f"(serve it: python -m http.server -d {shown})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
