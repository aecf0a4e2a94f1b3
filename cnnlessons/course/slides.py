"""A lesson's slide structure: which cells open a slide, which are builds, notes or skipped,
and what of each cell a slide shows. One rule for every lesson, from the cells' content and
their tags (``cnnlessons.course.tags``), so it works on whatever a lesson becomes.

``add_slide_metadata(nb)`` writes the structure into the notebook as nbconvert's and RISE's
``metadata.slideshow.slide_type``; ``cnnlessons execute`` applies it on every execution (via
``cnnlessons.course.notebooks.clean``), and the decks (``cnnlessons.course.decks``) apply the same
function, so the reveal.js decks and a RISE slideshow have the same slides. The rule:

- **Skipped** (``skip``): ``remove-cell`` and ``slide-skip`` cells, papermill's injected
  parameters, and code cells that show nothing on a slide (no output, and not ``live``).
- **Notes** (``notes``): a markdown cell tagged ``slide-notes``, or one with nothing that stays on a
  slide (below): it goes to the speaker notes (reveal.js: S opens the speaker view).
- **A new slide** (``slide``): a ``#``, ``##`` or ``###`` heading, a ``slide-new`` cell, the first
  shown cell, and any cell that would not fit on the current slide (estimated heights on the
  ``CANVAS``, ``estimated_height``). Every slide is horizontal (no vertical sub-slides), so the
  right arrow, the space bar and a presentation clicker's "next" visit every slide in order.
- **A build** (``fragment``): a ``slide-fragment`` cell, and the first shown cell after a
  prediction cell (a code cell assigning ``...``, the student's guess; see
  ``cnnlessons.exercises.reveal``): the answer appears on the next key press, after the question.
- Everything else continues the current slide (``-``).

What a slide shows of a cell (``split_markdown``, applied by the decks; RISE shows whole cells):
a markdown cell keeps its headings, short paragraphs (up to ``SHORT`` characters, or
``QUESTION`` for a question), lists of short items (a long item keeps its bold lead),
formulas, tables, images and code blocks; long paragraphs go to the speaker notes.
``slide-keep`` keeps a cell whole. A code cell shows its outputs, and its code only when
tagged ``live``.

Tags replace the old hand-set ``slideshow`` metadata: the rule always recomputes it, so a
change to the rule reaches every lesson with ``cnnlessons execute --metadata-only``.
"""
from __future__ import annotations

import ast
import base64
import copy
import math
import re
import struct
from typing import Iterator

from . import tags as T
from .slide_text import HEADING_LINE, markdown_blocks, split_markdown, visible_length

CANVAS = (1280, 720)   # reveal.js's canvas (px): 16:9, scaled to the screen
BUDGET = 650           # the height (px) a slide's content may fill: the canvas less its margins
MAX_TABLE_ROWS = 10    # body rows a slide shows of a table longer by more than two (the notebook keeps all)
MAX_OUTPUT_LINES = 12  # lines a slide shows of a longer printed output
FIGURE_BOX = (1200, 480)  # px: a figure is scaled (up or down) to fit this box
CHARS_PER_LINE = 88    # text at the decks' font size, on the canvas's width
CODE_CHARS_PER_LINE = 100  # printed output and code at the decks' font size
LINE = 34              # px per line of text
CODE_LINE = 26         # px per line of code or printed output
ROW = 36               # px per table row
HEADING = {1: 70, 2: 62, 3: 54}  # px per heading (with its margin); smaller ones: a line of text
GAP = 14               # px between blocks

SLIDE, CONTINUE, FRAGMENT, NOTES, SKIP = "slide", "-", "fragment", "notes", "skip"


def source(cell: dict) -> str:
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else text


def heading_level(cell: dict) -> int | None:
    """The level of the heading a markdown cell opens with (``## Title`` -> 2), else ``None``."""
    if cell.get("cell_type") != "markdown":
        return None
    first = next((line for line in source(cell).splitlines() if line.strip()), "")
    match = HEADING_LINE.match(first.strip())
    return len(match.group(1)) if match else None


def slide_markdown(cell: dict) -> tuple[str, str]:
    """``split_markdown`` of a markdown cell, honouring ``slide-keep`` (all on the slide) and
    ``slide-notes`` (all in the notes)."""
    text = source(cell)
    found = T.tags(cell)
    if T.SLIDE_NOTES in found:
        return "", text
    if T.SLIDE_KEEP in found:
        return text, ""
    return split_markdown(text)


# ----------------------------------------------------------------------------- cells

def _data(output: dict, key: str) -> str:
    value = output.get("data", {}).get(key, "")
    return "".join(value) if isinstance(value, list) else value


def shown_outputs(cell: dict) -> list[dict]:
    """The outputs a slide shows (all of them but empty ones), for a code cell."""
    if cell.get("cell_type") != "code" or T.REMOVE_CELL in T.tags(cell):
        return []
    shown = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            if "".join(output.get("text", "")).strip():
                shown.append(output)
        elif output.get("output_type") in ("display_data", "execute_result", "error"):
            shown.append(output)
    return shown


def is_prediction(cell: dict) -> bool:
    """A code cell where the student writes a guess: it assigns ``...`` (the placeholder that
    ``cnnlessons.exercises.reveal`` reads as "no prediction made")."""
    if cell.get("cell_type") != "code":
        return False
    try:
        tree = ast.parse(source(cell))
    except SyntaxError:
        return False
    return any(isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and node.value.value is ...
               for node in tree.body)


def role(cell: dict) -> str:
    """``skip``, ``notes`` or ``shown`` (on a slide), from the cell's tags and content."""
    found = T.tags(cell)
    if found & {T.REMOVE_CELL, T.SLIDE_SKIP, "injected-parameters"}:
        return SKIP
    if cell.get("cell_type") == "markdown":
        if T.SLIDE_NOTES in found:
            return NOTES
        return "shown" if slide_markdown(cell)[0].strip() else NOTES
    if cell.get("cell_type") == "code":
        return "shown" if shown_outputs(cell) or not T.code_hidden(cell) else SKIP
    return SKIP  # raw cells


def image_size(output: dict) -> tuple[float, float] | None:
    """Natural ``(width, height)`` of an image output (PNG header or SVG attributes), if known."""
    data = output.get("data", {})
    if "image/png" in data:
        try:
            head = base64.b64decode(_data(output, "image/png")[:44])
            return tuple(float(v) for v in struct.unpack(">II", head[16:24]))  # type: ignore[return-value]
        except (ValueError, struct.error):
            return None
    if "image/svg+xml" in data:
        svg = _data(output, "image/svg+xml")[:2000]
        box = re.search(r'viewBox="[\d.\-]+[ ,]+[\d.\-]+[ ,]+([\d.]+)[ ,]+([\d.]+)"', svg)
        if box:
            return float(box.group(1)), float(box.group(2))
        size = re.search(r'width="([\d.]+)(?:pt|px)?"\s+height="([\d.]+)(?:pt|px)?"', svg)
        return (float(size.group(1)), float(size.group(2))) if size else None
    return None


def figure_size(output: dict, box: tuple[int, int] = FIGURE_BOX) -> tuple[int, int]:
    """The size (px) a slide gives an image output: scaled up or down to fit ``box``."""
    natural = image_size(output) or (4.0, 3.0)
    scale = min(box[0] / natural[0], box[1] / natural[1])
    return round(natural[0] * scale), round(natural[1] * scale)


def shown_rows(rows: int) -> int:
    """How many rows a slide gives a table of ``rows`` body rows: all, up to two more than
    ``MAX_TABLE_ROWS``; else ``MAX_TABLE_ROWS`` and a line saying how many more there are."""
    return rows if rows <= MAX_TABLE_ROWS + 2 else MAX_TABLE_ROWS + 1


def table_rows(html: str) -> int:
    """Body rows of the (first) table in an HTML fragment."""
    return max(0, html.count("<tr") - html.count("<thead"))


def _text_height(text: str, line: int = LINE, chars: int = CHARS_PER_LINE) -> int:
    return sum(max(1, math.ceil(visible_length(part) / chars)) for part in text.splitlines() if part.strip()) * line


def markdown_height(text: str) -> int:
    """Estimated height (px) of markdown on a slide."""
    height = 0
    for block in markdown_blocks(text):
        if block.kind == "heading":
            level = len(block.text) - len(block.text.lstrip("#"))
            height += HEADING.get(level, LINE)
        elif block.kind == "table":
            height += ROW * max(1, block.text.count("\n"))
        elif block.kind == "math":
            height += 64 * (1 + block.text.count("\\\\"))
        elif block.kind == "code":
            height += CODE_LINE * (block.text.count("\n") + 1)
        else:
            height += _text_height(block.text)
        height += GAP
    return height


def output_height(output: dict, keep: bool = False) -> int:
    """Estimated height (px) of one output on a slide (tables and printed text as cut by the
    decks, unless ``keep``)."""
    data = output.get("data", {})
    if output.get("output_type") == "stream":
        lines = "".join(output.get("text", "")).rstrip("\n").split("\n")
        lines = lines if keep else lines[:MAX_OUTPUT_LINES]
        return CODE_LINE * sum(max(1, math.ceil(len(line) / CODE_CHARS_PER_LINE)) for line in lines) + GAP
    if "application/vnd.jupyter.widget-view+json" in data:
        return 260
    if "image/png" in data or "image/svg+xml" in data:
        return figure_size(output)[1] + GAP
    if "text/html" in data:
        html = _data(output, "text/html")
        if "<details" in html:
            return LINE + GAP  # folded on slides
        rows = table_rows(html)
        if rows:
            return ROW * (1 + (rows if keep else shown_rows(rows))) + (LINE if "<caption" in html else 0) + GAP
        return _text_height(re.sub(r"<[^>]+>", " ", html)) + GAP
    if "text/markdown" in data:
        return markdown_height(_data(output, "text/markdown"))
    if "text/latex" in data:
        return 64 + GAP
    return _text_height(_data(output, "text/plain"), CODE_LINE) + GAP


def estimated_height(cell: dict) -> int:
    """Roughly how many pixels of a slide ``cell`` fills, as the decks show it."""
    if cell.get("cell_type") == "markdown":
        return markdown_height(slide_markdown(cell)[0])
    keep = T.SLIDE_KEEP in T.tags(cell)
    height = 0 if T.code_hidden(cell) else CODE_LINE * (source(cell).count("\n") + 1) + 2 * GAP
    return height + sum(output_height(o, keep) for o in shown_outputs(cell))


# ----------------------------------------------------------------------------- structure

def slide_types(nb: dict) -> list[str]:
    """The slide type of every cell of ``nb`` (see the module docstring for the rule)."""
    kinds: list[str] = []
    used = 0            # estimated px on the current slide
    started = False     # a slide has been opened
    after_guess = False  # the last shown cell was a prediction: the next one is its answer
    for cell in nb.get("cells", []):
        found = T.tags(cell)
        guess = is_prediction(cell)
        kind = role(cell)
        if kind != "shown":
            kinds.append(kind)
            after_guess = after_guess or guess
            continue
        height = estimated_height(cell)
        level = heading_level(cell)
        if not started or (level is not None and level <= 3) or T.SLIDE_NEW in found:
            kind, used = SLIDE, height
        elif used + height > BUDGET and used > 0:
            kind, used = SLIDE, height + LINE  # a continuation slide repeats its section's title
        elif T.SLIDE_FRAGMENT in found or after_guess:
            kind, used = FRAGMENT, used + height
        else:
            kind, used = CONTINUE, used + height
        started = True
        after_guess = guess
        kinds.append(kind)
    return kinds


def add_slide_metadata(nb: dict) -> dict:
    """A copy of notebook ``nb`` in which every cell's ``metadata.slideshow.slide_type`` is
    what ``slide_types`` gives it (hand-set values are replaced: tags are the way to override)."""
    nb = copy.deepcopy(nb)
    for cell, kind in zip(nb.get("cells", []), slide_types(nb)):
        cell.setdefault("metadata", {})["slideshow"] = {"slide_type": kind}
    return nb


def slides_of(nb: dict) -> Iterator[list[int]]:
    """The cell indices of each slide of ``nb`` (after ``add_slide_metadata``), shown cells only."""
    current: list[int] = []
    for index, cell in enumerate(nb.get("cells", [])):
        kind = cell.get("metadata", {}).get("slideshow", {}).get("slide_type", CONTINUE)
        if kind in (SKIP, NOTES):
            continue
        if kind == SLIDE and current:
            yield current
            current = []
        current.append(index)
    if current:
        yield current


def split_tall_cells(nb: dict) -> dict:
    """A copy of ``nb`` in which a code cell whose outputs do not fit on one slide is split in
    several, one slide's worth of outputs each (the later parts tagged ``slide-new``, with no
    code shown). The decks use it before ``add_slide_metadata``; RISE shows a cell whole."""
    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.get("cells", []):
        outputs = shown_outputs(cell)
        if role(cell) != "shown" or len(outputs) < 2:
            cells.append(cell)
            continue
        keep = T.SLIDE_KEEP in T.tags(cell)
        chunks: list[list[dict]] = [[]]
        used = estimated_height({**cell, "outputs": []})
        for output in outputs:
            height = output_height(output, keep)
            if chunks[-1] and used + height > BUDGET:
                chunks.append([])
                used = LINE
            chunks[-1].append(output)
            used += height
        for i, chunk in enumerate(chunks):
            part = copy.deepcopy({**cell, "outputs": chunk})
            if i:
                part["source"] = ""
                part["metadata"]["tags"] = sorted((T.tags(cell) - {T.LIVE, T.SLIDE_FRAGMENT}) | {T.SLIDE_NEW})
                if "id" in cell:
                    part["id"] = f"{cell['id']}-{i}"
            cells.append(part)
    nb["cells"] = cells
    return nb


def split_at_headings(nb: dict) -> dict:
    """A copy of ``nb`` in which a markdown cell with a ``#``-``###`` heading after its first line
    is cut before that heading, so that the heading starts its own slide. The decks use it; RISE
    shows a cell whole."""
    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown" or role(cell) == SKIP:
            cells.append(cell)
            continue
        lines, parts, fence = source(cell).split("\n"), [[]], False
        for line in lines:
            fence = fence != line.lstrip().startswith(("```", "~~~"))
            match = HEADING_LINE.match(line.strip())
            if match and len(match.group(1)) <= 3 and not fence and any(part.strip() for part in parts[-1]):
                parts.append([])
            parts[-1].append(line)
        for i, part in enumerate(parts):
            piece = copy.deepcopy({**cell, "source": "\n".join(part).strip("\n")})
            if i and "id" in cell:
                piece["id"] = f"{cell['id']}-h{i}"
            cells.append(piece)
    nb["cells"] = cells
    return nb
