"""Instructor mode: slide metadata in every lesson and a clean reveal.js deck per lesson."""
from __future__ import annotations

import copy
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from cnnlessons.paths import notebooks_dir

NOTEBOOKS_DIR = notebooks_dir()
ROOT = Path(__file__).resolve().parents[1]
from cnnlessons.course.slides import SLIDE_BUDGET, add_slide_metadata, build_all_slides, build_slides, heading_level

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))


def md(text: str, **meta) -> dict:
    return {"cell_type": "markdown", "metadata": dict(meta), "source": text}


def code(text: str, outputs: list | None = None, **meta) -> dict:
    return {"cell_type": "code", "metadata": dict(meta), "source": text, "outputs": outputs or [],
            "execution_count": None}


def types(nb: dict) -> list[str]:
    return [cell["metadata"]["slideshow"]["slide_type"] for cell in nb["cells"]]


def test_headings_start_slides_and_other_cells_continue_them():
    nb = {"cells": [
        md("# Lesson title\n\nintro"),
        md("some prose"),
        code("x = 1"),
        md("## A section"),
        code("y = 2"),
        md("### A detail"),
        md("#not-a-heading (no space)"),
        code("seed = 1", tags=["injected-parameters"]),
        md("#### small heading stays on the slide"),
    ]}
    assert types(add_slide_metadata(nb)) == ["slide", "-", "-", "slide", "-", "subslide", "-", "skip", "-"]
    assert [heading_level(c) for c in nb["cells"]] == [1, None, None, 2, None, 3, None, None, 4]


def test_existing_metadata_opts_a_cell_out_and_the_input_is_not_modified():
    nb = {"cells": [
        md("# Title"),
        md("## Would be a slide", slideshow={"slide_type": "fragment"}),
        code("z = 3", slideshow={"slide_type": "notes"}),
    ]}
    before = copy.deepcopy(nb)
    out = add_slide_metadata(nb)
    assert types(out) == ["slide", "fragment", "notes"]
    assert nb == before


def test_first_visible_cell_starts_a_slide_and_the_rule_is_idempotent():
    nb = {"cells": [code("seed = 0", tags=["injected-parameters"]), code("print('no heading first')"), md("text")]}
    once = add_slide_metadata(nb)
    assert types(once) == ["skip", "slide", "-"]
    assert add_slide_metadata(once) == once


def test_a_long_slide_is_split_at_a_markdown_cell():
    figure = {"output_type": "display_data", "data": {"image/png": "iVBOR", "text/plain": "<Figure>"}, "metadata": {}}
    # Each code cell: 1 source line + a figure; enough of them overflow the budget.
    body = [cell for _ in range(6) for cell in (md("prose"), code("plot()", [figure]))]
    out = add_slide_metadata({"cells": [md("## Plots"), *body]})
    kinds = types(out)
    assert "subslide" in kinds
    assert all(k == "-" for k, c in zip(kinds, out["cells"]) if c["cell_type"] == "code")  # code stays with its prose
    # No (sub)slide holds more than the budget plus the one cell that crossed it.
    from cnnlessons.course.slides import estimated_lines
    running = 0
    for kind, cell in zip(kinds, out["cells"]):
        running = estimated_lines(cell) + (0 if kind in ("slide", "subslide") else running)
        assert running <= SLIDE_BUDGET + max(estimated_lines(c) for c in out["cells"])


class Sections(HTMLParser):
    """The reveal.js structure of a deck: top-level <section>s (slides), nested ones (subslides)."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.slides = 0
        self.subslides = 0
        self.in_slides = False
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "div" and ("class", "slides") in attrs:
            self.in_slides = True
        if tag == "section" and self.in_slides:
            self.depth += 1
            self.slides += self.depth == 1
            self.subslides += self.depth == 2

    def handle_endtag(self, tag):
        if tag == "section" and self.in_slides:
            self.depth -= 1
            assert self.depth >= 0, "unbalanced </section>"

    def handle_data(self, data):
        if self.depth:
            self.text.append(data)


def check_deck(deck: Path, nb: dict) -> None:
    parser = Sections()
    parser.feed(deck.read_text())
    assert parser.depth == 0, f"{deck.name}: unbalanced <section> tags"
    kinds = types(add_slide_metadata(nb))
    visible = [k for k in kinds if k not in ("skip", "notes")]
    assert parser.slides == sum(k == "slide" for k in visible) + (visible[0] != "slide")
    # Every slide holds exactly one outer subslide section, plus one per subslide cell.
    assert parser.subslides == parser.slides + sum(k == "subslide" for k in visible[1:])
    text = " ".join(" ".join(parser.text).split())
    for cell in nb["cells"]:
        level = heading_level(cell)
        if level is not None and level <= 2:
            title = "".join(cell["source"]).strip().splitlines()[0].lstrip("#").strip()
            title = title.replace("`", "").replace("**", "")
            assert title in text, f"{deck.name}: heading {title!r} is not in the deck"


def tiny_notebook(folder: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Tiny deck\n\nfirst slide"),
                nbformat.v4.new_code_cell("1 + 1"),
                nbformat.v4.new_markdown_cell("## Second slide"),
                nbformat.v4.new_markdown_cell("### Down one"),
                nbformat.v4.new_markdown_cell("The end.")]
    nb.cells[1].outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=1)]
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / "tiny.ipynb")
    return folder / "tiny.ipynb"


@pytest.mark.slow
def test_every_lesson_converts_offline_to_a_clean_deck(tmp_path, monkeypatch, capsys):
    """``python -m cnnlessons.course.slides`` (what ``make slides`` runs) on a tiny notebook and every
    lesson, in one nbconvert call: one deck each, the notebooks untouched, the reveal.js
    structure matching the slide metadata, every heading and figure in the deck."""
    from cnnlessons.course.slides import main

    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):  # any fetch would fail
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    tiny = tiny_notebook(tmp_path / "src")
    sources = [tiny, *NOTEBOOKS]
    before = {p: p.read_bytes() for p in sources}
    out = tmp_path / "slides"
    assert main([*map(str, sources), "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted([f"{p.stem}.slides.html" for p in sources] + ["_vendor"])
    assert capsys.readouterr().out.count("wrote ") == len(sources)
    for path in sources:
        assert path.read_bytes() == before[path], f"{path.name} was modified"
        deck = out / f"{path.stem}.slides.html"
        html = deck.read_text()
        assert "Reveal.initialize" in html
        nb = json.loads(before[path])
        check_deck(deck, nb)
        outputs = [o.get("data", {}) for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
        # plots carry a PNG; a diagram carries SVG and PNG, and the deck shows one of them
        figures = sum("image/png" in data or "image/svg+xml" in data for data in outputs)
        shown = sum(html.count(mark) for mark in ("data:image/png;base64,", "data:image/svg+xml", "<svg"))
        assert shown >= figures, f"{deck.name}: figures missing"


def test_every_lesson_carries_slide_metadata():
    """Executed lessons get slide metadata from ``cnnlessons.course.notebooks.clean``; a notebook
    without it was executed by something else (re-run ``make execute``)."""
    if not NOTEBOOKS:
        pytest.skip("no notebooks yet")
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text())
        missing = [i for i, c in enumerate(nb["cells"]) if "slide_type" not in c.get("metadata", {}).get("slideshow", {})]
        assert not missing, f"{path.name}: cells {missing} have no slide metadata; re-execute the lesson"


# ----------------------------------------------------------------------------- offline, in a browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--allow-file-access-from-files"]


def offline_browser():
    """(playwright, browser) or a skip (a failure under CI) saying what is missing."""
    import os

    if not CHROMIUM.is_file():
        reason = f"no Chromium at {CHROMIUM}: run scripts/install-browser.sh"
        if os.environ.get("CI", "").lower() in ("1", "true"):
            pytest.fail(f"CI must run the browser test, but {reason}")
        pytest.skip(reason)
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]'")
    playwright = sync_api.sync_playwright().start()
    return playwright, playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)


def test_decks_load_their_scripts_from_the_vendored_copies(tmp_path):
    """Every URL a deck's markup loads (src=, href= of style sheets, require paths) is relative."""
    deck = build_slides(tiny_notebook(tmp_path / "src"), tmp_path / "out")
    html = deck.read_text()
    loaded = re.findall(r"""<(?:script|link)\b[^>]*?(?:src|href)=["']([^"']+)["']""", html)
    loaded += re.findall(r'"([^"]+\.js)"', html.split("require(")[-1])
    assert loaded and all(not re.match(r"(https?:)?//", url) for url in loaded), loaded
    assert (tmp_path / "out" / "_vendor" / "reveal.js" / "dist" / "reveal.js").is_file()
    assert "cdnjs" not in html and "unpkg.com" not in html and "jsdelivr" not in html


@pytest.mark.slow
@pytest.mark.browser
def test_a_deck_opened_from_a_file_with_no_network_advances_slide_by_slide(tmp_path):
    """A lesson's deck, opened over file:// with every non-file request blocked: reveal.js starts
    (slides, not a scrolling page), the right arrow key moves to the next slide, MathJax typesets,
    and no request fails or tries to leave the machine."""
    from conftest import new_tab

    lesson = next(p for p in NOTEBOOKS if p.stem.startswith("01_"))  # it has maths and a widget
    deck = build_slides(lesson, tmp_path / "slides")
    playwright, browser = offline_browser()
    try:
        context, page, errors = new_tab(browser)
        failed: list[str] = []
        page.on("requestfailed", lambda r: failed.append(f"{r.url}: {r.failure}"))

        def route(r) -> None:
            if r.request.url.startswith(("file:", "data:", "blob:")):
                r.continue_()
            else:
                failed.append(f"network request: {r.request.url}")
                r.abort()
        context.route("**/*", route)
        page.goto(deck.as_uri(), wait_until="load")
        page.wait_for_function("window.cnnlessonsDeck && window.cnnlessonsDeck.isReady()", timeout=30_000)
        assert page.evaluate("window.cnnlessonsDeck.getTotalSlides()") > 3
        assert page.evaluate("window.cnnlessonsDeck.getIndices().h") == 0
        page.keyboard.press("ArrowRight")
        page.wait_for_function("window.cnnlessonsDeck.getIndices().h === 1", timeout=10_000)
        page.wait_for_function("document.querySelectorAll('mjx-container').length > 0", timeout=30_000)
        SCREENSHOTS = ROOT / "build" / "screenshots"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.wait_for_timeout(1000)  # the slide transition, and any late error
        page.screenshot(path=str(SCREENSHOTS / "deck-offline.png"))
        assert failed == [] and errors == [], failed + errors
        context.close()
    finally:
        browser.close()
        playwright.stop()
