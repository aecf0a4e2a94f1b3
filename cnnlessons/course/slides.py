"""Instructor mode: every lesson is also a reveal.js slide deck.

``add_slide_metadata(nb)`` gives each cell of a notebook (a dict, as read with ``json``) the
``slideshow.slide_type`` that Jupyter and ``jupyter nbconvert --to slides`` read:

- a markdown cell opening with a ``#`` or ``##`` heading starts a new ``"slide"``;
- one opening with a ``###`` heading starts a ``"subslide"`` (reveal.js: the next slide down);
- papermill's ``injected-parameters`` cell is ``"skip"`` (a run's detail, not lesson content);
- every other cell continues the current slide (``"-"``), except that a markdown cell starts a
  ``"subslide"`` when the slide so far is already taller than ``SLIDE_BUDGET`` lines (estimated
  from its sources and outputs: a figure counts ``FIGURE_LINES``), so no slide runs on for pages;
- the first visible cell always starts a slide.

A cell that already has ``slideshow`` metadata (set by hand, e.g. in JupyterLab's property
inspector) keeps it: that is how a cell opts out. The rule is deterministic and idempotent, so
``cnnlessons.course.notebooks.clean`` can apply it on every execution.

``build_slides(notebook, out_dir)`` converts one notebook to ``out_dir/<stem>.slides.html`` with
nbconvert's slides exporter and a template (``templates/deck.html.j2``) that loads reveal.js, jQuery,
require.js, MathJax 3 and the widget bundle from vendored copies (``static/vendor/``, copied to
``out_dir/_vendor/``), never from a CDN: a deck opened from a file with no network still works
(arrow keys move between slides). ``python -m cnnlessons.course.slides`` builds every lesson's deck
into ``build/slides/`` (``make slides``); ``make book`` puts them in the website too.
"""
from __future__ import annotations

import copy
import json
import logging
import math
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any, Iterable

from ..io import atomic_path
from ..paths import build_dir

SLIDES_DIR = build_dir() / "slides"
SLIDE_BUDGET = 28   # estimated lines that fit on one slide before a markdown cell starts a subslide
FIGURE_LINES = 14   # a figure output, in lines
LINE_WIDTH = 90     # characters per line when estimating wrapped text
OUTPUT_LINES_CAP = 20

_HEADING = re.compile(r"^(#{1,6})\s+\S")


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def heading_level(cell: dict) -> int | None:
    """The level of the heading a markdown cell opens with (``## Title`` -> 2), else ``None``."""
    if cell.get("cell_type") != "markdown":
        return None
    first = next((line for line in _source(cell).splitlines() if line.strip()), "")
    match = _HEADING.match(first.strip())
    return len(match.group(1)) if match else None


def _text_lines(text: str) -> int:
    return sum(max(1, math.ceil(len(line) / LINE_WIDTH)) for line in text.splitlines())


def estimated_lines(cell: dict) -> int:
    """Roughly how many lines of a slide ``cell`` fills: its source, plus (for code) its text
    outputs (capped at ``OUTPUT_LINES_CAP`` each), ``FIGURE_LINES`` per image and the rows of
    HTML tables."""
    lines = _text_lines(_source(cell))
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        if output.get("output_type") == "stream":
            lines += min(OUTPUT_LINES_CAP, _text_lines("".join(output.get("text", ""))))
        elif any(key.startswith("image/") for key in data):
            lines += FIGURE_LINES
        elif "text/html" in data:
            lines += min(OUTPUT_LINES_CAP, max(1, "".join(data["text/html"]).count("<tr")))
        elif "text/plain" in data:
            lines += min(OUTPUT_LINES_CAP, _text_lines("".join(data["text/plain"])))
    return lines


def auto_slide_type(cell: dict, lines_so_far: int) -> str:
    """The slide type the rule above gives ``cell`` when the current (sub)slide holds
    ``lines_so_far`` estimated lines."""
    if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
        return "skip"
    level = heading_level(cell)
    if level is not None and level <= 2:
        return "slide"
    if level == 3:
        return "subslide"
    if cell.get("cell_type") == "markdown" and lines_so_far > SLIDE_BUDGET:
        return "subslide"
    return "-"


def add_slide_metadata(nb: dict) -> dict:
    """A copy of notebook ``nb`` in which every cell has ``metadata.slideshow.slide_type``
    (see the module docstring for the rule); cells that already had one keep it."""
    nb = copy.deepcopy(nb)
    lines = 0
    seen_visible = False
    for cell in nb.get("cells", []):
        meta = cell.setdefault("metadata", {})
        if "slideshow" in meta:  # a choice made by hand: keep it
            slide_type = meta["slideshow"].get("slide_type", "-")
        else:
            slide_type = auto_slide_type(cell, lines)
            if not seen_visible and slide_type not in ("skip", "notes"):
                slide_type = "slide"
            meta["slideshow"] = {"slide_type": slide_type}
        if slide_type in ("skip", "notes"):
            continue
        seen_visible = True
        lines = estimated_lines(cell) + (0 if slide_type in ("slide", "subslide") else lines)
    return nb


STATIC = Path(__file__).resolve().parent / "static"
VENDOR = STATIC / "vendor"  # reveal.js, jQuery, require.js, MathJax 3, the widget bundle (book/vendor.sh)
DECK_TEMPLATE = Path(__file__).resolve().parent / "templates" / "deck.html.j2"
DECK_VENDOR = "_vendor"  # where a deck folder keeps its copy of VENDOR


def build_slides(notebook: str | os.PathLike, out_dir: str | os.PathLike = SLIDES_DIR, *,
                 vendor_url: str | None = None) -> Path:
    """Convert ``notebook`` to a reveal.js deck ``out_dir/<stem>.slides.html`` and return its path."""
    return build_all_slides([notebook], out_dir, vendor_url=vendor_url)[0]


def copy_vendor(out_dir: str | os.PathLike) -> Path:
    """Copy the vendored JavaScript into ``out_dir/_vendor/`` (replacing an older copy)."""
    target = Path(out_dir) / DECK_VENDOR
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(VENDOR, target)
    return target


def build_all_slides(notebooks: Iterable[str | os.PathLike], out_dir: str | os.PathLike = SLIDES_DIR, *,
                     vendor_url: str | None = None) -> list[Path]:
    """Convert several notebooks to reveal.js decks in ``out_dir`` that work with no network.

    Every script and style sheet a deck loads (reveal.js, jQuery, require.js, MathJax, the widget
    bundle) comes from ``vendor_url``, a URL relative to the deck; by default the decks share a
    copy of the vendored files in ``out_dir/_vendor/`` (the website passes its own
    ``../_static/vendor``). Slide metadata is added where a cell lacks it (in a copy: the notebook
    itself is not touched); prompts are hidden and long slides scroll. Each deck is written
    atomically. Raises ``RuntimeError`` naming the notebook if a conversion fails.
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
    if vendor_url is None:
        copy_vendor(out_dir)
        vendor_url = DECK_VENDOR
    exporter = SlidesExporter(
        template_file=str(DECK_TEMPLATE), reveal_url_prefix=f"{vendor_url}/reveal.js", reveal_theme="simple",
        reveal_scroll=True, jquery_url=f"{vendor_url}/jquery/jquery.min.js",
        require_js_url=f"{vendor_url}/requirejs/require.js",
        widget_renderer_url=f"{vendor_url}/html-manager/embed-amd.js",
        exclude_input_prompt=True, exclude_output_prompt=True)
    # nbconvert warns about figures without alt text on every deck (matplotlib's PNGs have none):
    # keep the console for errors.
    exporter.log = logging.getLogger("cnnlessons.slides")
    exporter.log.setLevel(logging.ERROR)
    decks = []
    for nb in notebooks:
        data = add_slide_metadata(json.loads(nb.read_text()))
        try:
            body, _ = exporter.from_notebook_node(
                reads(json.dumps(data), as_version=4),
                resources={"metadata": {"name": nb.stem}, "cnnlessons_vendor": vendor_url})
        except Exception as exc:
            raise RuntimeError(f"converting {nb.name} to slides failed: {type(exc).__name__}: {exc}") from exc
        with atomic_path(out_dir / f"{nb.stem}.slides.html") as target:
            target.write_text(body, encoding="utf-8")
            target.chmod(0o644)  # mkstemp makes files private; a deck is for sharing
        decks.append(out_dir / f"{nb.stem}.slides.html")
    return decks


def main(argv: list[str] | None = None) -> int:
    """``python -m cnnlessons.course.slides [NOTEBOOK ...]``: decks of the given notebooks (default:
    every lesson that has a notebook) into ``build/slides/``."""
    import argparse

    from .lessons import all_lessons

    parser = argparse.ArgumentParser(prog="python -m cnnlessons.course.slides", description=main.__doc__)
    parser.add_argument("notebooks", nargs="*", help=".ipynb files (default: every lesson)")
    parser.add_argument("-o", "--output-dir", default=str(SLIDES_DIR), help="where the decks go")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or [lesson.notebook for lesson in all_lessons() if lesson.notebook.is_file()]
    for deck in build_all_slides(notebooks, args.output_dir):
        print(f"wrote {deck}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
