"""Instructor mode: every lesson as a reveal.js deck, in a folder that works copied alone.

``build_all_slides(notebooks, out_dir)`` writes ``out_dir/<stem>.slides.html`` for each notebook
and ``out_dir/_vendor/`` (reveal.js with its speaker-notes plugin, jQuery, require.js, MathJax 3,
the widget bundle: ``static/vendor/``, see book/vendor.sh), which the decks load by relative URLs:
copy the folder to a USB stick and the decks work from it with no network, speaker view included.
``python -m cnnlessons.course.decks`` (``make slides``) builds every lesson into ``build/slides/``;
``make book`` puts the same folder in the website.

A deck is the lesson's notebook seen as slides (``deck_notebook``, on a copy; the notebook is
only read): the slide structure of ``cnnlessons.course.slides`` (the same that RISE reads, with
a markdown cell cut before a heading inside it and a cell whose outputs fill more than a slide
cut between them, which RISE cannot do); the
slide part of each markdown cell on the slide and the rest in the speaker notes (one notes block
per slide); code hidden except in ``live`` cells; long tables and printed outputs cut to what a
slide shows (``slide-keep`` keeps them whole); figures scaled to a large box; folded details
(the claims table) closed; a continuation slide headed by its section's title; the closed-form
explorers as their static copies (``cnnlessons.widgets.static``), any other widget with a note
that it needs a kernel. At run time the template (``templates/deck.html.j2``) scales a slide
that is still too large for the 1280x720 canvas down to fit it, and uses reveal.js's linear
navigation, so that the right arrow and a clicker's "next" visit every slide.
"""
from __future__ import annotations

import base64
import copy
import html
import json
import logging
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any, Iterable

from ..io import atomic_write_text
from ..paths import build_dir
from ..widgets.static import for_static_pages
from . import slides as S
from . import tags as T

SLIDES_DIR = build_dir() / "slides"
STATIC = Path(__file__).resolve().parent / "static"
VENDOR = STATIC / "vendor"  # reveal.js, jQuery, require.js, MathJax 3, the widget bundle (book/vendor.sh)
DECK_TEMPLATE = Path(__file__).resolve().parent / "templates" / "deck.html.j2"
DECK_VENDOR = "_vendor"  # where a deck folder keeps its copy of VENDOR
MIN_FIT = 0.5  # a slide is never scaled below this to fit (the browser test checks it)


# ----------------------------------------------------------------------------- the deck's notebook

def _cut_table(text: str, limit: int = S.MAX_TABLE_ROWS) -> str:
    """An HTML table with at most ``limit`` body rows and a last row saying how many more there are."""
    body = re.search(r"<tbody>(.*?)</tbody>", text, flags=re.S)
    rows = re.findall(r"<tr\b.*?</tr>", body.group(1) if body else text, flags=re.S)
    rows = [r for r in rows if "<td" in r]
    if S.shown_rows(len(rows)) == len(rows):
        return text
    columns = max(rows[0].count("<td"), 1)
    more = (f"<tr class='deck-more'><td colspan='{columns}'>... and {len(rows) - limit} more rows"
            " (the notebook has the whole table)</td></tr>")
    cut = rows[limit - 1]
    end = text.index(cut) + len(cut)
    rest = text[end:]
    last_row_end = rest.rfind(rows[-1]) + len(rows[-1])
    return text[:end] + more + rest[last_row_end:]


def _cut_stream(text: str, limit: int = S.MAX_OUTPUT_LINES) -> str:
    lines = text.rstrip("\n").split("\n")
    if len(lines) <= limit:
        return text
    return "\n".join(lines[:limit - 1] + [f"... ({len(lines) - limit + 1} more lines in the notebook)"]) + "\n"


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def slide_output(output: dict, keep: bool = False) -> dict:
    """One output as a slide shows it: tables and printed text cut (unless ``keep``), figures
    scaled to ``slides.FIGURE_BOX`` (vector graphics as an ``<img>``), details folded."""
    output = copy.deepcopy(output)
    data = output.get("data", {})
    if output.get("output_type") == "stream" and not keep:
        output["text"] = _cut_stream(_text(output.get("text", "")))
    if "image/svg+xml" in data:
        width, height = S.figure_size(output)
        svg = _text(data["image/svg+xml"])
        src = "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
        output["data"] = {"text/html": f"<img class='deck-figure' src='{src}' width='{width}' height='{height}' alt=''>",
                          "text/plain": _text(data.get("text/plain", ""))}
        output["metadata"] = {}
    elif "image/png" in data or "image/jpeg" in data:
        width, height = S.figure_size(output)
        for mime in ("image/png", "image/jpeg"):
            if mime in data:
                output.setdefault("metadata", {})[mime] = {"width": width, "height": height}
    elif "text/html" in data:
        text = _text(data["text/html"])
        text = re.sub(r"(<details\b[^>]*?)\s+open(?:=(['\"])[^'\"]*\2)?(?=[\s>])", r"\1", text)
        data["text/html"] = text if keep else _cut_table(text)
    return output


def deck_notebook(nb: dict) -> dict:
    """A copy of ``nb`` as its deck shows it (see the module docstring); each slide's notes
    gathered in one ``notes`` cell right after the slide's first cell."""
    nb = S.add_slide_metadata(S.split_tall_cells(S.split_at_headings(nb)))
    cells: list[dict] = []
    notes: list[str] = []
    notes_at: int | None = None   # where in ``cells`` this slide's notes go
    section = ""                  # the current section's title, for continuation slides

    def flush() -> None:
        """Put the notes gathered so far on the slide that is ending (notes found before the
        first slide wait for it)."""
        nonlocal notes, notes_at
        if notes_at is None:
            return
        if notes:
            cells.insert(notes_at, {"cell_type": "markdown", "id": f"notes-{len(cells)}", "source": "\n\n".join(notes),
                                    "metadata": {"slideshow": {"slide_type": S.NOTES}}})
        notes, notes_at = [], None

    for cell in nb["cells"]:
        cell = copy.deepcopy(cell)
        kind = cell["metadata"]["slideshow"]["slide_type"]
        if kind == S.SKIP:
            continue
        if kind == S.SLIDE:
            flush()
        if cell["cell_type"] == "markdown":
            shown, noted = S.slide_markdown(cell)
            if noted.strip():
                notes.append(noted)
            if kind == S.NOTES:
                continue
            cell["source"] = shown
            level = S.heading_level(cell)
            if level is not None and level <= 3:
                section = S.source(cell).strip().splitlines()[0].lstrip("#").strip()
        else:
            keep = T.SLIDE_KEEP in T.tags(cell)
            cell["outputs"] = [slide_output(o, keep) for o in for_static_pages(S.shown_outputs(cell))]
            if T.code_hidden(cell):
                cell["metadata"]["transient"] = {"remove_source": True}
        if kind == S.SLIDE:
            if S.heading_level(cell) is None and section and cells:  # a continuation: its section's title
                cells.append({"cell_type": "markdown", "id": f"continued-{len(cells)}", "metadata": {
                    "slideshow": {"slide_type": S.SLIDE}}, "source": f"<p class='deck-continued'>{html.escape(section)}</p>"})
                cell["metadata"]["slideshow"]["slide_type"] = S.CONTINUE
            cells.append(cell)
            notes_at = len(cells)
        else:
            cells.append(cell)
    flush()
    nb["cells"] = cells
    return nb


# ----------------------------------------------------------------------------- building decks

def build_slides(notebook: str | os.PathLike, out_dir: str | os.PathLike = SLIDES_DIR) -> Path:
    """Convert ``notebook`` to a reveal.js deck ``out_dir/<stem>.slides.html`` and return its path."""
    return build_all_slides([notebook], out_dir)[0]


def copy_vendor(out_dir: str | os.PathLike) -> Path:
    """Copy the vendored JavaScript into ``out_dir/_vendor/`` (replacing an older copy)."""
    target = Path(out_dir) / DECK_VENDOR
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(VENDOR, target)
    return target


def build_all_slides(notebooks: Iterable[str | os.PathLike], out_dir: str | os.PathLike = SLIDES_DIR) -> list[Path]:
    """Convert notebooks to reveal.js decks in ``out_dir``, a folder that works on its own.

    Every script and style sheet a deck loads comes from ``out_dir/_vendor/`` (copied there,
    shared by the decks), by a relative URL: nothing outside the folder, nothing from the
    network. Each deck is written atomically. Raises ``ValueError`` for two notebooks of the
    same name and ``RuntimeError`` naming the notebook if a conversion fails.
    """
    from nbconvert import SlidesExporter
    from nbformat import reads

    notebooks = [Path(nb).resolve() for nb in notebooks]
    out_dir = Path(out_dir)
    if not notebooks:
        return []
    stems = [nb.stem for nb in notebooks]
    if len(set(stems)) != len(stems):
        raise ValueError(f"notebook names must be distinct; got {stems}")
    copy_vendor(out_dir)
    exporter = SlidesExporter(
        template_file=str(DECK_TEMPLATE), reveal_url_prefix=f"{DECK_VENDOR}/reveal.js", reveal_theme="simple",
        reveal_width=str(S.CANVAS[0]), reveal_height=str(S.CANVAS[1]), reveal_number="c/t",
        jquery_url=f"{DECK_VENDOR}/jquery/jquery.min.js", require_js_url=f"{DECK_VENDOR}/requirejs/require.js",
        widget_renderer_url=f"{DECK_VENDOR}/html-manager/embed-amd.js",
        exclude_input_prompt=True, exclude_output_prompt=True)
    # nbconvert warns about figures without alt text on every deck (matplotlib's PNGs have none):
    # keep the console for errors.
    exporter.log = logging.getLogger("cnnlessons.slides")
    exporter.log.setLevel(logging.ERROR)
    decks = []
    for nb in notebooks:
        data = deck_notebook(json.loads(nb.read_text(encoding="utf-8")))
        try:
            body, _ = exporter.from_notebook_node(
                reads(json.dumps(data), as_version=4),
                resources={"metadata": {"name": nb.stem}, "cnnlessons_vendor": DECK_VENDOR, "cnnlessons_min_fit": MIN_FIT})
        except Exception as exc:
            raise RuntimeError(f"converting {nb.name} to slides failed: {type(exc).__name__}: {exc}") from exc
        atomic_write_text(out_dir / f"{nb.stem}.slides.html", body)
        decks.append(out_dir / f"{nb.stem}.slides.html")
    return decks


def main(argv: list[str] | None = None) -> int:
    """``python -m cnnlessons.course.decks [NOTEBOOK ...]``: decks of the given notebooks (default:
    every lesson) into ``build/slides/``."""
    import argparse

    from .lessons import all_lessons

    parser = argparse.ArgumentParser(prog="python -m cnnlessons.course.decks", description=main.__doc__)
    parser.add_argument("notebooks", nargs="*", help=".ipynb files (default: every lesson)")
    parser.add_argument("-o", "--output-dir", default=str(SLIDES_DIR), help="where the decks go")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or [lesson.notebook for lesson in all_lessons()]
    missing = [str(p) for p in notebooks if not Path(p).is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    for deck in build_all_slides(notebooks, args.output_dir):
        print(f"wrote {deck}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
