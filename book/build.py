"""Build the course website: ``python -m book`` (``make book``) -> ``build/book/index.html``.

Sphinx + myst-nb + sphinx-book-theme (Jupyter Book 1's stack) render the committed, executed
notebooks in ``notebooks/`` without re-executing them. The steps:

1. A temporary source folder under ``build/`` gets a generated landing page (``index.md``:
   the lesson map) and a copy of every notebook, annotated for the web: a line at the top
   linking to the lesson's claims table, its run time and its slides; a note beside saved
   widgets (the closed-form explorers become their static copies, which run in the page:
   ``cnnlessons.widgets.static``); a "Run this lesson" section (JupyterLab, ``cnnlessons run``,
   papermill). Cells tagged ``remove-cell`` / ``remove-input`` are left to myst-nb, which removes
   them (the cell, the code). ``notebooks/`` itself is only read.
2. Sphinx builds into ``build/book.tmp/``; only a successful build replaces ``build/book/``
   (a failed one leaves the previous site, never half a site).

The lessons, in order, and their metadata (title, one-line summary, presets) come from the
lesson registry (``cnnlessons.course.lessons``, the one the command line uses); run times from
``benchmarks/RESULTS.md`` (``make bench``, read by ``cnnlessons.course.timings``); the number of
claims, and which cell is the claims table, from the metadata ``claims.table()`` attaches to its
output. ``make book`` also writes every lesson's slide deck into the site (``slides/``, a folder
that works on its own, as ``make slides`` writes it) and includes ``INSTRUCTORS.md``.
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

from cnnlessons.claims import OUTPUT_METADATA_KEY
from cnnlessons.course.lessons import DEFAULT
from cnnlessons.course.timings import approx_time, lesson_times
from cnnlessons.widgets.static import STATIC_KEY, for_static_pages

ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = Path(__file__).resolve().parent
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
SLIDES = "slides"  # the decks' folder in the site (make book writes them there)
INSTRUCTORS = "INSTRUCTORS.md"  # the instructors' page, from the repository root


# ----------------------------------------------------------------------------- lesson metadata

def _registry() -> dict[str, Any]:
    """``{lesson id: Lesson}`` from the lesson registry (``cnnlessons.course.lessons``), in course order."""
    from cnnlessons.course.lessons import all_lessons

    return {lesson.id: lesson for lesson in all_lessons()}


def presets_of(lesson: Any) -> dict[str, dict[str, Any]]:
    """A lesson's named presets, ``{name: parameters}`` (none for a notebook the registry lacks)."""
    return {str(name): dict(values or {}) for name, values in getattr(lesson, "presets", {}).items()}


def claims_cell_index(nb: nbformat.NotebookNode) -> int | None:
    """Index of the (last) code cell whose output is the claims table: the one carrying the
    counts ``claims.table()`` attaches as output metadata (``OUTPUT_METADATA_KEY``)."""
    found = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
             and any(OUTPUT_METADATA_KEY in output.get("metadata", {}) for output in cell.get("outputs", []))]
    return found[-1] if found else None


def claim_counts(nb: nbformat.NotebookNode) -> dict[str, int] | None:
    """``Claims.counts()`` of the executed notebook's claims table (``claims``, ``hold``,
    ``skipped``, ``failed``): the metadata ``claims.table()`` attaches to its output. None if the
    notebook has no such output (or was executed before the table carried it)."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            counts = output.get("metadata", {}).get(OUTPUT_METADATA_KEY)
            if counts is not None:
                return dict(counts)
    return None


def count_claims(nb: nbformat.NotebookNode) -> int | None:
    """How many claims the executed notebook's claims table lists (None if unknown)."""
    counts = claim_counts(nb)
    return None if counts is None else int(counts["claims"])


def first_heading(nb: nbformat.NotebookNode) -> str | None:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return None


def has_widgets(nb: nbformat.NotebookNode) -> bool:
    """Whether the lesson displays a widget that needs a kernel (the closed-form explorers carry
    a static copy instead: ``cnnlessons.widgets.static``)."""
    return any(WIDGET_VIEW in output.get("data", {}) and STATIC_KEY not in output.get("metadata", {})
               for cell in nb.cells if cell.cell_type == "code" for output in cell.get("outputs", []))


@dataclass
class LessonPage:
    id: str  # notebook stem, e.g. "01_receptive_fields"
    notebook: Path
    title: str
    summary: str
    seconds: float | None  # at the default parameters
    claims: int | None
    widgets: bool
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)
    demo_seconds: float | None = None  # at the demo preset

    @property
    def number(self) -> str:
        return self.id.partition("_")[0]

    @property
    def label(self) -> str:
        return f"claims-{self.id}"

    @property
    def slides(self) -> str:
        """The deck's URL, relative to the lesson's page."""
        return f"{SLIDES}/{self.id}.slides.html"


def lesson_notebooks(notebooks: Path) -> list[Path]:
    """The lessons in course order: every lesson of the registry (what ``cnnlessons list``
    shows), each of which must be in ``notebooks``. Raises ``SystemExit`` naming a registered
    lesson missing from the folder, or a notebook in it that the registry does not know: the
    site shows exactly the course, never a guess."""
    registered = [notebooks / f"{lesson_id}.ipynb" for lesson_id in _registry()]
    missing = [p.name for p in registered if not p.is_file()]
    if missing:
        raise SystemExit(f"book: {notebooks} lacks the registered lesson(s) {missing} (cnnlessons/course/lessons.py)")
    unknown = sorted(p.name for p in notebooks.glob("*.ipynb") if p not in registered and not p.name.startswith("."))
    if unknown:
        raise SystemExit(f"book: {unknown} in {notebooks} are not lessons of the registry "
                         "(cnnlessons/course/lessons.py): register them, or move them out of the folder")
    return registered


def lesson_pages(notebooks: Path, results: Path | None = None, lessons: list[Path] | None = None) -> list[LessonPage]:
    """Every lesson of ``notebooks/`` in course order, with its metadata; or the notebooks
    ``lessons``, in that order (a test's own pages)."""
    registry = _registry()
    times = lesson_times(results)
    pages = []
    for path in lesson_notebooks(notebooks) if lessons is None else lessons:
        nb = nbformat.read(path, as_version=4)
        lesson = registry.get(path.stem)
        by_preset = times.get(path.stem, {})
        pages.append(LessonPage(
            id=path.stem, notebook=path,
            title=getattr(lesson, "title", None) or first_heading(nb) or path.stem,
            summary=getattr(lesson, "summary", "") or "",
            seconds=by_preset.get(DEFAULT), demo_seconds=by_preset.get("demo"),
            claims=count_claims(nb), widgets=has_widgets(nb),
            presets=presets_of(lesson) if lesson is not None else {}))
    return pages


# ----------------------------------------------------------------------------- page text

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
        if name == DEFAULT:
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
        f"**Slides**: <a class=\"reference external slides-link\" href=\"{page.slides}\">{slides}</a>,"
        " the reveal.js deck of this lesson, with speaker notes (press S); it works offline, and `make slides`"
        " writes every deck to `build/slides/`, a folder you can copy on its own."
        " To present with live cells instead, open the lesson in JupyterLab and start RISE (see the"
        " {doc}`instructors' page <INSTRUCTORS>`).",
        "",
    ])


def top_block(page: LessonPage) -> str:
    claims = f"{page.claims} claims" if page.claims is not None else "claims"
    parts = [f"**{{ref}}`Claims checked <{page.label}>`**: {claims}, recomputed and asserted when the notebook runs",
             f"{{ref}}`How to run it <run-{page.id}>`",
             f"<a class=\"reference external slides-link\" href=\"{page.slides}\">Slides</a>"]
    if page.seconds is not None:
        demo = f" ({approx_time(page.demo_seconds)} at the demo preset)" if page.demo_seconds is not None else ""
        parts.insert(1, f"run time {approx_time(page.seconds)}{demo} on a 2-core CPU")
    text = ["", "```{container} lesson-meta", " · ".join(parts), "```", ""]
    if page.widgets:
        text += ["```{note}",
                 "Some widgets on this page show the view saved when the notebook was executed: moving them"
                 " needs a running kernel (open the lesson in JupyterLab, `make lab`). The explorers that"
                 " compute a formula run here in the page.",
                 "```", ""]
    return "\n".join(text)


def annotate(nb: nbformat.NotebookNode, page: LessonPage) -> nbformat.NotebookNode:
    """A copy of a lesson for the web (the committed notebook is not touched)."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    claims_at = claims_cell_index(nb)
    cells = []
    titled = False
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":  # no kernel behind the page: static explorers, a note by other widgets
            cell.outputs = [nbformat.from_dict(o) for o in for_static_pages([dict(o) for o in cell.get("outputs", [])])]
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
    if not titled:
        cells.insert(0, nbformat.v4.new_markdown_cell(f"# {page.title}\n{top_block(page)}"))
    if claims_at is None:
        cells.append(nbformat.v4.new_markdown_cell(f"({page.label})=\n## Claims checked\n\nThis lesson has no claims table."))
    cells.append(nbformat.v4.new_markdown_cell(run_section(page)))
    nb.cells = cells
    return nb


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def index_page(pages: list[LessonPage], instructors: bool = True) -> str:
    rows = ["| # | Lesson | What it teaches | Run time | Demo preset | Claims checked |", "|---|---|---|---|---|---|"]
    for page in pages:
        claims = str(page.claims) if page.claims is not None else "n/a"
        rows.append(f"| {page.number} | [{_cell(page.title)}]({page.id}.ipynb) | {_cell(page.summary)} "
                    f"| {approx_time(page.seconds)} | {approx_time(page.demo_seconds)} | {claims} |")
    total = sum(p.claims or 0 for p in pages)
    teaching = ("Teaching it? The {doc}`instructors' page <INSTRUCTORS>` has a 50-minute plan per lesson, with"
                " what to run live and how long it takes." if instructors else "")
    return "\n".join([
        "# cnnlessons: what made modern convolutional networks work",
        "",
        "A notebook-first course: receptive fields, Inception bottlenecks, residual networks, transfer"
        " learning and a tour of the ImageNet winners. Every page below is an executed notebook: its prose,"
        " maths, code, outputs and figures as committed. Every number a lesson states is recomputed by the"
        f" `cnnlessons` library and asserted in the lesson's claims table ({total} claims in all).",
        "Start with lesson 00.",
        "",
        "(lesson-map)=",
        "## The lessons",
        "",
        *rows,
        "",
        "Run time: wall time of the lesson at its default parameters, and at its fast `demo` preset, on a"
        " 2-core CPU, measured by `make bench` (`benchmarks/RESULTS.md`). Claims checked: the rows of the"
        " lesson's claims table.",
        "",
        teaching,
        "",
        "## Run the course yourself",
        "",
        "```bash",
        "make course                # create .venv, install, execute every lesson",
        "make lab                   # JupyterLab on notebooks/ (widgets respond there)",
        "cnnlessons run 01 --preset demo   # one lesson through papermill, fast preset -> build/runs/",
        "make slides                # reveal.js decks -> build/slides/ (also in this site: each lesson's Slides link)",
        "```",
        "",
        "The explorers that compute a formula (the Inception calculator, the receptive-field explorer) run in"
        " these pages; other widgets show their saved view, and moving them needs a running kernel (JupyterLab).",
        "",
        "```{toctree}",
        ":hidden:",
        ":maxdepth: 1",
        ":caption: Lessons",
        "",
        *(page.id for page in pages),
        "```",
        "",
        *(["```{toctree}", ":hidden:", ":caption: Teaching", "", "INSTRUCTORS", "```", ""] if instructors else []),
    ])


def instructors_page(root: Path = ROOT) -> str | None:
    """``INSTRUCTORS.md`` for the site: links to the lesson notebooks become links to their pages,
    and links to other files of the repository become code spans (the site does not hold them)."""
    path = root / INSTRUCTORS
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"\]\(notebooks/(\d\d_\w+)\.ipynb\)", r"](\1.ipynb)", text)
    return re.sub(r"\[([^\]]+)\]\((?!https?:|#|\d\d_)([^)]+)\)", r"\1 (`\2`)", text)


def prepare(src: Path, notebooks: Path, results: Path | None = None, lessons: list[Path] | None = None
            ) -> list[LessonPage]:
    """Write the Sphinx source folder: ``index.md``, ``INSTRUCTORS.md`` and an annotated copy of
    every notebook (of ``lessons``, if given)."""
    pages = lesson_pages(notebooks, results, lessons)
    if not pages:
        raise SystemExit(f"book: no notebooks in {notebooks}")
    src.mkdir(parents=True, exist_ok=True)
    instructors = instructors_page()
    if instructors is not None:
        (src / INSTRUCTORS).write_text(instructors, encoding="utf-8")
    (src / "index.md").write_text(index_page(pages, instructors=instructors is not None), encoding="utf-8")
    for page in pages:
        nb = nbformat.read(page.notebook, as_version=4)
        nbformat.write(annotate(nb, page), src / f"{page.id}.ipynb")
    return pages


# ----------------------------------------------------------------------------- the build

def build(out: Path, notebooks: Path, *, jobs: str = "auto", quiet: bool = True,
          lessons: list[Path] | None = None) -> list[LessonPage]:
    """Build the site into ``out`` atomically (``out.tmp`` first, then a rename): every lesson of
    the registry from ``notebooks``, or only the notebooks ``lessons`` (a test's own pages)."""
    from sphinx.cmd.build import build_main

    out = out.resolve()
    # build/book.tmp/: src/ (the generated sources), html/ (the site being built) and myst-nb's
    # jupyter_execute/ (it writes next to the output folder). Removed whatever happens.
    work = out.with_name(out.name + ".tmp")
    shutil.rmtree(work, ignore_errors=True)
    src, staging = work / "src", work / "html"
    try:
        pages = prepare(src, notebooks, lessons=lessons)
        args = ["-b", "html", "-c", str(CONF_DIR), "-d", str(work / "doctrees"), "-j", jobs, "-n"]
        if quiet:
            args.append("-q")
        status = build_main([*args, str(src), str(staging)])
        if status != 0:
            raise SystemExit(f"book: sphinx-build failed (status {status}); {out} is unchanged")
        (staging / ".buildinfo").unlink(missing_ok=True)
        # The slide decks, in the site: the same folder as make slides writes, which works copied alone.
        from cnnlessons.course.decks import build_all_slides
        build_all_slides([page.notebook for page in pages], staging / SLIDES)
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
