"""Markdown on a slide: what of a markdown cell a slide shows, and what goes to the speaker notes.

``split_markdown(text)`` cuts a cell into blocks (``markdown_blocks``: headings, paragraphs,
lists, formulas, tables, code, quotes, HTML) and keeps on the slide the headings, the short
paragraphs (up to ``SHORT`` shown characters, or ``QUESTION`` for one that asks a question), the
lists (an item longer than ``LIST_ITEM`` keeps its bold lead, else its first sentence, else its
start), the formulas, tables, images, HTML and short code blocks; every block not shown whole
goes, whole, to the notes, as does a paragraph that only introduces a block that went there.
A cell left with nothing but its heading shows its first paragraph's first sentence too.
Used by ``cnnlessons.course.slides`` (heights, notes cells) and the decks.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

SHORT = 160            # characters: a paragraph up to this long stays on the slide
QUESTION = 320         # ... or up to this long when it asks a question
LIST_ITEM = 140        # characters: a list item up to this long stays whole on the slide
CODE_LINES = 15        # a markdown code block up to this many lines stays on the slide

HEADING_LINE = re.compile(r"^(#{1,6})\s+\S")
_LIST_ITEM = re.compile(r"^(\s*)([-*+]|\d+[.)])\s+")
_INTERRUPTS = re.compile(r"^\s*([-*+]|1[.)])\s+")  # a list that may interrupt a paragraph (CommonMark)
_FENCE = re.compile(r"^\s*(```|~~~)")
_BOLD_LEAD = re.compile(r"^(\*\*[^*]+\*\*[.:]?)\s+\S")


@dataclass(frozen=True)
class Block:
    """One block of a markdown cell: ``kind`` is heading, paragraph, list, math, table, code,
    quote or html; ``text`` its source lines."""

    kind: str
    text: str


def markdown_blocks(text: str) -> list[Block]:
    """Split markdown into blocks (blank lines separate paragraphs; fences, ``$$`` formulas,
    tables, lists and quotes are kept whole)."""
    lines = text.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not stripped:
            i += 1
            continue
        start = i
        if _FENCE.match(line):
            fence = _FENCE.match(line).group(1)
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(fence):
                i += 1
            kind, i = "code", i + 1
        elif stripped.startswith("$$") or stripped.startswith("\\begin{"):
            closing = "$$" if stripped.startswith("$$") else "\\end{"
            rest = stripped[2:] if closing == "$$" else stripped
            while not (closing in rest if closing != "$$" else rest.rstrip().endswith("$$")) and i + 1 < len(lines):
                i += 1
                rest = lines[i].strip()
            kind, i = "math", i + 1
        elif HEADING_LINE.match(stripped):
            kind, i = "heading", i + 1
        elif stripped.startswith("|"):
            while i < len(lines) and lines[i].strip().startswith("|"):
                i += 1
            kind = "table"
        elif _LIST_ITEM.match(line):
            i += 1
            while i < len(lines):
                if lines[i].strip():
                    if HEADING_LINE.match(lines[i].strip()) or _FENCE.match(lines[i]) or lines[i].strip().startswith("$$"):
                        break
                    i += 1
                elif i + 1 < len(lines) and (lines[i + 1].startswith((" ", "\t")) or _LIST_ITEM.match(lines[i + 1])):
                    i += 1
                else:
                    break
            kind = "list"
        elif stripped.startswith(">"):
            while i < len(lines) and lines[i].strip().startswith(">"):
                i += 1
            kind = "quote"
        elif stripped.startswith("<"):
            while i < len(lines) and lines[i].strip():
                i += 1
            kind = "html"
        else:
            i += 1
            while i < len(lines) and lines[i].strip() and not (
                    HEADING_LINE.match(lines[i].strip()) or _FENCE.match(lines[i]) or _INTERRUPTS.match(lines[i])
                    or lines[i].strip().startswith(("$$", "|"))):
                i += 1
            kind = "paragraph"
        blocks.append(Block(kind, "\n".join(lines[start:i]).rstrip()))
    return blocks


def visible_length(text: str) -> int:
    """Roughly how many characters ``text`` shows once rendered: link targets, emphasis and
    code marks do not count, and inline maths counts half its source."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\$([^$]+)\$", lambda m: "x" * (len(m.group(1)) // 2), text)
    return len(re.sub(r"[*_`]", "", " ".join(text.split())))


_SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)(?<!\bvs)(?<!\bal)(?<!\bcf)[.!?](?=\s+[A-Z(*`$])")


def first_sentence(text: str, limit: int = LIST_ITEM * 3 // 2) -> str | None:
    """The first sentence of ``text`` when the text has more than one and the first is at most
    ``limit`` characters long (shown), else ``None``."""
    flat = " ".join(text.split())
    end = _SENTENCE_END.search(flat)
    if end is None or visible_length(flat[:end.end()]) > limit:
        return None
    return flat[:end.end()]


def shorten(text: str, limit: int = LIST_ITEM) -> str:
    """The start of ``text`` up to about ``limit`` shown characters, cut at a space, ending in
    an ellipsis; emphasis, code and maths marks left open by the cut are dropped with what follows them."""
    flat = " ".join(text.split())
    cut = flat[:limit]
    cut = cut[:cut.rfind(" ")] if " " in cut else cut
    for mark in ("**", "`", "$"):
        if cut.count(mark) % 2:
            cut = cut[:cut.rfind(mark)]
    return cut.rstrip(" ,;:(") + " ..."


def _list_items(text: str) -> list[str]:
    items: list[list[str]] = []
    for line in text.splitlines():
        if _LIST_ITEM.match(line) and not line.startswith((" ", "\t")) or not items:
            items.append([line])
        else:
            items[-1].append(line)
    return ["\n".join(item) for item in items]


def _slide_part(block: Block) -> str | None:
    """What of ``block`` stays on a slide (``None``: nothing, it goes to the notes)."""
    if block.kind in ("heading", "math", "table", "html"):
        return block.text
    if block.kind == "code":
        return block.text if block.text.count("\n") + 1 <= CODE_LINES + 2 else None
    if block.kind == "list":
        kept = []
        for item in _list_items(block.text):
            marker = _LIST_ITEM.match(item)
            body = item[marker.end():] if marker else item
            prefix = item[:marker.end() if marker else 0]
            if visible_length(body) <= LIST_ITEM:
                kept.append(item)
            elif (lead := _BOLD_LEAD.match(body)) is not None:
                kept.append(prefix + lead.group(1))
            else:
                kept.append(prefix + (first_sentence(body) or shorten(body)))
        return "\n".join(kept)
    text = block.text if block.kind == "paragraph" else re.sub(r"^\s*>\s?", "", block.text, flags=re.M)
    length = visible_length(text)
    if length <= SHORT or ("?" in text and length <= QUESTION):
        return block.text
    if text.lstrip().startswith("!["):
        return block.text
    lead = _BOLD_LEAD.match(text.lstrip())
    return lead.group(1) if lead is not None else None


def _introduces(block: Block) -> bool:
    """A paragraph that leads into the next block ("This lesson", "as follows:")."""
    return block.kind == "paragraph" and not block.text.rstrip().endswith((".", "!", "?", ")", "*"))


def split_markdown(text: str) -> tuple[str, str]:
    """``(slide, notes)``: the part of a markdown cell a slide shows, and what goes to the
    speaker notes (every block not shown whole, and a paragraph that only introduces a block
    that went to the notes), both as markdown, in the cell's order."""
    blocks = markdown_blocks(text)
    shown = [_slide_part(block) for block in blocks]
    for i in range(len(blocks) - 1):
        if shown[i] is not None and shown[i + 1] is None and _introduces(blocks[i]):
            shown[i] = None
    if all(block.kind == "heading" for block, part in zip(blocks, shown) if part is not None):
        # only headings would stay: show the first sentence of the first paragraph too
        for i, block in enumerate(blocks):
            if block.kind == "paragraph" and shown[i] is None:
                shown[i] = first_sentence(block.text, QUESTION) if not _introduces(block) else None
                break
    slide = [part for part in shown if part is not None]
    notes = [block.text for block, part in zip(blocks, shown) if part != block.text]
    return "\n\n".join(slide), "\n\n".join(notes)
