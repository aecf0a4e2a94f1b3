"""Instructor mode: the slide structure of a lesson (cnnlessons.course.slides, slide_text), the
decks built from it (cnnlessons.course.decks), and the decks in a browser at 1280x720: every
slide fits, the right arrow visits every slide, the speaker notes open offline, the deck folder
works copied on its own, the static calculator updates.

The browser tests need Debian's ``chromium`` and the PyPI ``playwright`` package, as
tests/test_browser.py (without them they skip; under CI=true they fail). Screenshots of every
slide go to ``build/screenshots/deck-<lesson>-NN.png``."""
from __future__ import annotations

import json
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from cnnlessons.course import slides as S
from cnnlessons.course.decks import DECK_VENDOR, MIN_FIT, build_all_slides, build_slides, deck_notebook, main
from cnnlessons.course.lessons import all_lessons
from cnnlessons.course.slide_text import markdown_blocks, split_markdown
from cnnlessons.course.tags import LIVE, REMOVE_CELL, REMOVE_INPUT
from cnnlessons.widgets.inception_calculator import InceptionCalculator, calculate, render_html
from cnnlessons.widgets.static import STATIC_KEY

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = [lesson.notebook for lesson in all_lessons() if lesson.notebook.is_file()]
SCREENSHOTS = ROOT / "build" / "screenshots"
LONG = ("This paragraph explains the idea at length, as a teacher would say it in class, with the reasons "
        "behind it and a careful account of what the numbers below mean, which is too much for a slide.")


def md(text: str, *tags: str, **meta) -> dict:
    return {"cell_type": "markdown", "metadata": {"tags": list(tags), **meta}, "source": text}


def code(text: str, outputs: list | None = None, *tags: str, **meta) -> dict:
    return {"cell_type": "code", "metadata": {"tags": list(tags), **meta}, "source": text, "outputs": outputs or [],
            "execution_count": 1}


def out(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


def types(nb: dict) -> list[str]:
    return [cell["metadata"]["slideshow"]["slide_type"] for cell in nb["cells"]]


# ----------------------------------------------------------------------------- the structure

def test_headings_start_slides_all_horizontal_and_other_cells_continue_them():
    nb = {"cells": [
        md("# Lesson title\n\nintro"),
        md("some prose"),
        code("x = 1", [out("1\n")]),
        md("## A section"),
        code("y = 2", [out("2\n")]),
        md("### A detail"),
        md("#not-a-heading (no space)"),
        code("seed = 1", [], "injected-parameters"),
        md("#### a small heading stays on the slide"),
    ]}
    assert types(S.add_slide_metadata(nb)) == ["slide", "-", "-", "slide", "-", "slide", "-", "skip", "-"]
    assert [S.heading_level(c) for c in nb["cells"]] == [1, None, None, 2, None, 3, None, None, 4]


def test_tags_decide_what_is_skipped_noted_built_and_started():
    nb = {"cells": [
        md("# Title"),
        code("import torch"),                                    # no output, not live: nothing to show
        code("check()", [out("ok\n")], REMOVE_CELL),             # plumbing
        code("plot()", [out("figure\n")], REMOVE_INPUT),         # output only
        md("Short line."),
        md("Explained at length.", "slide-notes"),
        md("Shown on the website only.", "slide-skip"),
        md("A new slide without a heading.", "slide-new"),
        md("Revealed on the next key press.", "slide-fragment"),
        code("train()", [], LIVE),                               # run in class: its code is the content
        md(LONG),                                                # nothing short: the notes
    ]}
    assert types(S.add_slide_metadata(nb)) == ["slide", "skip", "skip", "-", "-", "notes", "skip", "slide", "fragment",
                                               "-", "notes"]


def test_the_answer_to_a_prediction_is_a_build():
    nb = {"cells": [
        md("## Predict\n\nHow many multiply-adds does the 5x5 branch cost?"),
        code("guess = ...  # your prediction"),
        code("cost = count(branch)", [out("120,422,400\n")]),
        code("reveal(guess, cost)", [out("You made no prediction.\n")]),
        md("Then the next point."),
    ]}
    assert S.is_prediction(nb["cells"][1]) and not S.is_prediction(nb["cells"][2])
    assert types(S.add_slide_metadata(nb)) == ["slide", "skip", "fragment", "-", "-"]


def test_hand_set_slide_types_are_recomputed_and_the_rule_is_idempotent():
    nb = {"cells": [md("# Title", slideshow={"slide_type": "skip"}), md("## Two", slideshow={"slide_type": "-"})]}
    once = S.add_slide_metadata(nb)
    assert types(once) == ["slide", "slide"]
    assert S.add_slide_metadata(once) == once
    assert nb["cells"][0]["metadata"]["slideshow"] == {"slide_type": "skip"}  # the input is not modified


def figure(width: int, height: int) -> dict:
    import base64
    import struct
    import zlib

    raw = b"".join(b"\0" + b"\xff" * width * 3 for _ in range(height))
    chunk = lambda kind, data: (struct.pack(">I", len(data)) + kind + data  # noqa: E731
                                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": base64.b64encode(png).decode(), "text/plain": "<Figure>"}}


def test_figures_are_scaled_to_the_box_and_a_full_slide_starts_the_next():
    assert S.image_size(figure(700, 350)) == (700, 350)
    assert S.figure_size(figure(700, 350)) == (960, 480)      # scaled up to the box's height
    assert S.figure_size(figure(2400, 600)) == (1200, 300)    # scaled down to its width
    nb = {"cells": [md("## Plots"), *(c for _ in range(3) for c in (md("A short caption."), code("plot()", [figure(700, 350)])))]}
    kinds = types(S.add_slide_metadata(nb))
    assert kinds.count("slide") == 3, kinds
    for cells in S.slides_of(S.add_slide_metadata(nb)):
        assert sum(S.estimated_height(nb["cells"][i]) for i in cells) <= S.BUDGET + S.LINE


def test_a_tall_cell_is_split_between_slides_in_the_deck_only():
    nb = {"cells": [md("## Many figures"), code("plots()", [figure(700, 350), figure(700, 350), out("done\n")])]}
    parts = S.split_tall_cells(nb)["cells"]
    assert [len(c.get("outputs", [])) for c in parts] == [0, 1, 2]  # two 480 px figures do not fit one slide
    assert "slide-new" in parts[2]["metadata"]["tags"] and parts[2]["source"] == ""
    assert types(S.add_slide_metadata({"cells": parts})) == ["slide", "-", "slide"]
    assert types(S.add_slide_metadata(nb)) == ["slide", "slide"]  # RISE shows the cell whole, on its own slide


# ----------------------------------------------------------------------------- slide text and notes

def test_markdown_blocks():
    text = ("## Title\n\nA paragraph\non two lines.\n\n- one\n- two\n  continued\n\n$$\nx = 1\n$$\n\n"
            "| a | b |\n|---|---|\n| 1 | 2 |\n\n```python\nx = 1\n```\n> a quote")
    assert [b.kind for b in markdown_blocks(text)] == ["heading", "paragraph", "list", "math", "table", "code", "quote"]
    # only a bullet or an ordered list from 1 interrupts a paragraph (CommonMark): "2017) ..." continues it
    assert [b.kind for b in markdown_blocks("MobileNet (Howard et al.\n2017) splits the jobs:\n- one\n- two")] == \
        ["paragraph", "list"]


def test_long_paragraphs_go_to_the_notes_and_the_point_stays():
    slide, notes = split_markdown(f"## The bottleneck\n\nShort point.\n\n{LONG}\n\n$$c = HWk^2C_{{in}}C_{{out}}$$\n\n"
                                  "Which branch costs most?")
    assert slide == "## The bottleneck\n\nShort point.\n\n$$c = HWk^2C_{in}C_{out}$$\n\nWhich branch costs most?"
    assert notes == LONG
    bold, bold_notes = split_markdown(f"**Not the same output.** {LONG}")
    assert bold == "**Not the same output.**" and bold_notes == f"**Not the same output.** {LONG}"
    items, item_notes = split_markdown(f"- short item\n- **Lead.** {LONG}\n- First sentence here. {LONG}")
    assert items == "- short item\n- **Lead.**\n- First sentence here." and LONG in item_notes
    intro, _ = split_markdown(f"This lesson\n1. {LONG} {LONG}")
    assert intro == f"This lesson\n\n1. {LONG}"  # a long item: its first sentence
    cut, _ = split_markdown(f"- {LONG.replace('.', ',')} {LONG}")
    assert cut.endswith(" ...") and len(cut) < 160  # no short first sentence: its start
    dropped, dropped_notes = split_markdown(f"The terms:\n\n{LONG}")
    assert dropped == "" and dropped_notes == f"The terms:\n\n{LONG}"  # an intro goes with what it introduces
    only_heading, _ = split_markdown(f"## Takeaways\n\nThe first sentence is the point. {LONG}")
    assert only_heading == "## Takeaways\n\nThe first sentence is the point."


def test_the_deck_notebook_gathers_notes_hides_code_and_cuts_tables():
    rows = "".join(f"<tr><td>{i}</td></tr>" for i in range(30))
    table = {"output_type": "execute_result", "metadata": {}, "execution_count": 1,
             "data": {"text/html": f"<table><thead><tr><th>i</th></tr></thead><tbody>{rows}</tbody></table>",
                      "text/plain": "table"}}
    claims = {"output_type": "display_data", "metadata": {},
              "data": {"text/html": "<details class='claims' open><summary>3 claims</summary></details>"}}
    nb = {"cells": [md(f"# Title\n\n{LONG}"), md(LONG), code("show()", [table]), code("live()", [out("x\n")], LIVE),
                    md("## Claims"), code("claims.table()", [claims], REMOVE_INPUT)]}
    deck = deck_notebook(nb)["cells"]
    assert [c["metadata"]["slideshow"]["slide_type"] for c in deck] == ["slide", "notes", "-", "-", "slide", "-"]
    assert deck[1]["source"] == f"{LONG}\n\n{LONG}"  # one notes cell per slide, right after its first cell
    html = deck[2]["outputs"][0]["data"]["text/html"]
    assert html.count("<td>") == S.MAX_TABLE_ROWS and f"and {30 - S.MAX_TABLE_ROWS} more rows" in html
    assert deck[2]["metadata"]["transient"] == {"remove_source": True} and "transient" not in deck[3]["metadata"]
    assert "<details class='claims'>" in deck[5]["outputs"][0]["data"]["text/html"]


def test_a_continuation_slide_repeats_its_sections_title_and_a_calculator_becomes_static():
    from IPython.core.formatters import DisplayFormatter

    data, metadata = DisplayFormatter().format(InceptionCalculator().widget)
    widget = {"output_type": "display_data", "data": data, "metadata": metadata}
    nb = {"cells": [md("## Costs"), code("plot()", [figure(700, 350)]), code("InceptionCalculator().widget", [widget])]}
    deck = deck_notebook(nb)["cells"]
    assert [c["metadata"]["slideshow"]["slide_type"] for c in deck] == ["slide", "-", "slide", "-"]
    assert deck[2]["source"] == "<p class='deck-continued'>Costs</p>"
    assert "cnnlessonsStatic.inception_calculator.mount" in deck[3]["outputs"][0]["data"]["text/html"]


# ----------------------------------------------------------------------------- the lessons

def tiny_notebook(folder: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(f"# Tiny deck\n\nfirst slide\n\n{LONG}"),
                nbformat.v4.new_code_cell("1 + 1"),
                nbformat.v4.new_markdown_cell("## Second slide"),
                nbformat.v4.new_markdown_cell("### Third"),
                nbformat.v4.new_markdown_cell("The end.")]
    nb.cells[1].outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=1)]
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / "tiny.ipynb")
    return folder / "tiny.ipynb"


class Sections(HTMLParser):
    """The reveal.js structure of a deck: top-level <section>s (slides), nested ones, notes."""

    def __init__(self) -> None:
        super().__init__()
        self.depth, self.slides, self.nested, self.notes = 0, 0, 0, 0
        self.in_slides = False
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "div" and ("class", "slides") in attrs:
            self.in_slides = True
        if tag == "section" and self.in_slides:
            self.depth += 1
            self.slides += self.depth == 1
            self.nested += self.depth == 2
        if tag == "aside" and ("class", "notes") in attrs:
            self.notes += 1

    def handle_endtag(self, tag):
        if tag == "section" and self.in_slides:
            self.depth -= 1
            assert self.depth >= 0, "unbalanced </section>"

    def handle_data(self, data):
        if self.depth:
            self.text.append(data)


def figure_outputs(cells: list[dict]) -> int:
    """Figures among a deck notebook's outputs (a vector figure is an <img> the deck made)."""
    return sum("image/png" in o.get("data", {}) or "image/jpeg" in o.get("data", {})
               or "class='deck-figure'" in "".join(o.get("data", {}).get("text/html", ""))
               for c in cells if c["cell_type"] == "code" for o in c.get("outputs", []))


@pytest.mark.slow
def test_every_lesson_converts_offline_to_a_deck_with_its_structure(tmp_path, monkeypatch, capsys):
    """``python -m cnnlessons.course.decks`` (what ``make slides`` runs) on a tiny notebook and
    every lesson: one deck each and the vendored scripts, the notebooks untouched, one section per
    slide of ``deck_notebook``, every heading and every figure of the slides in the deck."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):  # any fetch would fail
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    sources = [tiny_notebook(tmp_path / "src"), *NOTEBOOKS]
    before = {p: p.read_bytes() for p in sources}
    out = tmp_path / "slides"
    assert main([*map(str, sources), "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted([f"{p.stem}.slides.html" for p in sources] + [DECK_VENDOR])
    assert capsys.readouterr().out.count("wrote ") == len(sources)
    for path in sources:
        assert path.read_bytes() == before[path], f"{path.name} was modified"
        html = (out / f"{path.stem}.slides.html").read_text()
        deck = deck_notebook(json.loads(before[path]))
        parser = Sections()
        parser.feed(html)
        assert parser.depth == 0, f"{path.name}: unbalanced <section> tags"
        kinds = types(deck)
        assert parser.slides == parser.nested == kinds.count("slide"), path.name  # flat: one section per slide
        assert parser.notes == kinds.count("notes"), path.name
        text = " ".join(" ".join(parser.text).split())
        for cell in deck["cells"]:
            level = S.heading_level(cell)
            if level is not None and level <= 3:
                title = S.source(cell).strip().splitlines()[0].lstrip("#").strip().replace("`", "").replace("**", "")
                assert title in text, f"{path.name}: heading {title!r} is not in the deck"
        shown = len(re.findall(r"<img\b[^>]*\bsrc=[\"']data:image/(?:png|jpeg|svg\+xml);base64,", html))
        assert shown == figure_outputs(deck["cells"]), f"{path.name}: {shown} figures in the deck"


def test_a_missing_notebook_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main([str(tmp_path / "missing.ipynb"), "-o", str(tmp_path / "out")])
    assert "no such notebook" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_decks_load_everything_from_their_own_folder(tmp_path):
    """Every URL a deck's markup loads (src=, href= of style sheets, require paths) is relative
    and inside the deck's folder: no CDN, no ``../``."""
    deck = build_slides(tiny_notebook(tmp_path / "src"), tmp_path / "out")
    html = deck.read_text()
    loaded = re.findall(r"""<(?:script|link)\b[^>]*?(?:src|href)=["']([^"']+)["']""", html)
    loaded += re.findall(r'"([^"]+\.js)"', html.split("require(")[-1])
    assert loaded and all(url.startswith(f"{DECK_VENDOR}/") for url in loaded), loaded
    assert (tmp_path / "out" / DECK_VENDOR / "reveal.js" / "plugin" / "notes" / "notes.js").is_file()
    assert "cdnjs" not in html and "unpkg.com" not in html and "jsdelivr" not in html and "../" not in html


def test_every_lesson_carries_the_slide_metadata_its_tags_give():
    """Executed lessons carry what ``notebooks.refresh_metadata`` derives from their tags; a lesson
    that does not was executed by something else, or before the rule changed: run
    ``make metadata`` (no kernel needed)."""
    from cnnlessons.course.notebooks import refresh_metadata

    for path in NOTEBOOKS:
        nb = json.loads(path.read_text())
        expected = refresh_metadata(nb)
        stale = [i for i, (a, b) in enumerate(zip(nb["cells"], expected["cells"])) if a["metadata"] != b["metadata"]]
        assert not stale, f"{path.name}: cells {stale[:10]} lack the metadata their tags give; run make metadata"


# ----------------------------------------------------------------------------- in a browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.is_file():
        reason = f"no Chromium at {CHROMIUM}: run scripts/install-browser.sh"
        if os.environ.get("CI", "").lower() in ("1", "true"):
            pytest.fail(f"CI must run the browser test, but {reason}")
        pytest.skip(reason)
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]'")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


class Deck:
    """A deck opened from its file at 1280x720, every request outside ``folder`` blocked and recorded."""

    def __init__(self, browser, deck: Path, folder: Path) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 720})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        self.page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        self.page.on("requestfailed", lambda r: self.errors.append(f"failed: {r.url} {r.failure}"))
        inside = folder.resolve().as_uri() + "/"

        def route(r) -> None:
            url = r.request.url
            if url.startswith((inside, "data:", "blob:", "about:")):
                r.continue_()
            else:
                self.errors.append(f"request outside the deck's folder: {url}")
                r.abort()
        self.context.route("**/*", route)
        self.page.goto(deck.as_uri(), wait_until="load")
        self.page.wait_for_function("window.cnnlessonsDeck && window.cnnlessonsDeck.isReady()", timeout=60_000)
        self.page.evaluate("window.cnnlessonsDeck.configure({transition: 'none', backgroundTransition: 'none'})")


# The current slide against the canvas: the content's extent (every visible element but the speaker
# notes, hidden fragments included: they take their room), in canvas pixels.
EXTENT = """() => {
  const R = window.cnnlessonsDeck, slide = R.getCurrentSlide(), scale = R.getScale();
  const box = document.querySelector('.reveal .slides').getBoundingClientRect();
  let right = 0, bottom = 0, left = 0, top = 0;
  for (const e of slide.querySelectorAll('*')) {
    if (e.closest('aside.notes') || !e.checkVisibility()) continue;
    const r = e.getBoundingClientRect();
    if (!r.width || !r.height) continue;
    right = Math.max(right, (r.right - box.left) / scale); bottom = Math.max(bottom, (r.bottom - box.top) / scale);
    left = Math.min(left, (r.left - box.left) / scale); top = Math.min(top, (r.top - box.top) / scale);
  }
  const i = R.getIndices();
  return {h: i.h, v: i.v || 0, f: i.f === undefined ? -1 : i.f, left, top, right, bottom,
          fit: parseFloat(slide.getAttribute('data-fit')), notes: !!slide.querySelector('aside.notes'),
          title: (slide.querySelector('h1, h2, h3, .deck-continued') || {textContent: ''}).textContent.trim()};
}"""


def walk(deck: Deck, key: str = "ArrowRight", shots: str | None = None) -> list[dict]:
    """Press ``key`` from the first slide until the last slide's last build; the state after each press."""
    page = deck.page
    page.evaluate("window.cnnlessonsDeck.slide(0, 0, -1)")
    page.wait_for_timeout(300)
    states = [page.evaluate(EXTENT)]
    total = page.evaluate("window.cnnlessonsDeck.getTotalSlides()")
    for _ in range(4 * total + 50):
        if page.evaluate("window.cnnlessonsDeck.isLastSlide() && !window.cnnlessonsDeck.availableFragments().next"):
            break
        page.keyboard.press(key)
        page.wait_for_timeout(120)
        states.append(page.evaluate(EXTENT))
        if shots and states[-1]["h"] != states[-2]["h"]:
            page.screenshot(path=str(SCREENSHOTS / f"{shots}-{states[-1]['h']:02d}.png"))
    return states


@pytest.fixture(scope="module")
def decks(tmp_path_factory) -> Path:
    """Every lesson's deck, built once into a folder."""
    out = tmp_path_factory.mktemp("decks") / "slides"
    build_all_slides(NOTEBOOKS, out)
    return out


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.parametrize("lesson", [p.stem for p in NOTEBOOKS])
def test_the_right_arrow_visits_every_slide_and_every_slide_fits(browser, decks, lesson):
    """At 1280x720 with the network blocked: the right arrow visits every slide in order (the
    builds of a slide first); on every slide the content lies inside the canvas, scaled by no
    less than MIN_FIT; the deck has speaker notes; no request leaves the deck's folder."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    deck = Deck(browser, decks / f"{lesson}.slides.html", decks)
    try:
        width, height = deck.page.evaluate("[window.cnnlessonsDeck.getConfig().width, window.cnnlessonsDeck.getConfig().height]")
        assert (width, height) == S.CANVAS
        total = deck.page.evaluate("window.cnnlessonsDeck.getTotalSlides()")
        deck.page.screenshot(path=str(SCREENSHOTS / f"deck-{lesson}-00.png"))
        states = walk(deck, shots=f"deck-{lesson}")
        visited = [s["h"] for s in states]
        assert sorted(set(visited)) == list(range(total)), f"visited {sorted(set(visited))} of {total} slides"
        assert all(b - a in (0, 1) for a, b in zip(visited, visited[1:])), "the right arrow skipped or went back"
        assert all(s["v"] == 0 for s in states), "a vertical slide"
        too_big = [s for s in states if s["right"] > width + 1 or s["bottom"] > height + 1 or s["left"] < -1 or s["top"] < -1]
        assert not too_big, f"{lesson}: slides larger than the {width}x{height} canvas: {too_big[:3]}"
        fits = {s["h"]: s["fit"] for s in states}
        assert min(fits.values()) >= MIN_FIT, f"{lesson}: a slide scaled to {min(fits.values())}"
        assert any(s["notes"] for s in states), f"{lesson}: no speaker notes"
        assert not deck.errors, deck.errors
        print(f"{lesson}: {total} slides, {len(states)} key presses, scaled: "
              f"{sorted(round(f, 2) for f in fits.values() if f < 1)}")
    finally:
        deck.context.close()


def calculator_notebook(folder: Path) -> Path:
    """A notebook holding the Inception calculator's output as a lesson stores it."""
    from IPython.core.formatters import DisplayFormatter

    data, metadata = DisplayFormatter().format(InceptionCalculator().widget)
    assert STATIC_KEY in metadata
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Calculator\n\nMove the sliders."),
                nbformat.v4.new_code_cell("InceptionCalculator().widget", outputs=[
                    nbformat.v4.new_output("display_data", data=data, metadata=metadata)])]
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / "calculator.ipynb")
    return folder / "calculator.ipynb"


def drag_calculator(page, root) -> None:
    """Drag the static calculator's bottleneck slider to the end of its track; the readout must
    follow, with what the Python calculator gives."""
    from test_static_widgets import as_dom, drag

    readout = root.locator(".cnnlessons-static-readout")
    assert readout.inner_html() == as_dom(page, render_html(calculate()))
    drag(page, root.locator("input[name='bottleneck']"), 512)
    value = int(root.locator("input[name='bottleneck']").input_value())
    assert value > 400
    assert readout.inner_html() == as_dom(page, render_html(calculate(bottleneck=value)))


@pytest.mark.slow
@pytest.mark.browser
def test_a_copied_deck_folder_works_alone_with_speaker_notes_and_a_static_calculator(browser, tmp_path):
    """``make slides``'s folder, copied somewhere else on its own (a USB stick): the deck loads
    from the copy only, the speaker view (S) opens offline and shows the slide's notes, PageDown
    (a clicker's "next") advances, and the calculator's slider moves its readout."""
    built = tmp_path / "build" / "slides"
    build_all_slides([tiny_notebook(tmp_path / "src"), calculator_notebook(tmp_path / "src")], built)
    stick = tmp_path / "usb" / "slides"
    shutil.copytree(built, stick)
    shutil.rmtree(tmp_path / "build")  # nothing left to reach back to
    deck = Deck(browser, stick / "calculator.slides.html", stick)
    try:
        drag_calculator(deck.page, deck.page.locator(".cnnlessons-static[data-widget='inception_calculator']"))
        deck.page.screenshot(path=str(SCREENSHOTS / "deck-calculator.png"))
        assert not deck.errors, deck.errors
    finally:
        deck.context.close()
    deck = Deck(browser, stick / "tiny.slides.html", stick)
    try:
        page = deck.page
        page.keyboard.press("PageDown")
        page.wait_for_function("window.cnnlessonsDeck.getIndices().h === 1", timeout=10_000)
        page.keyboard.press("PageUp")
        page.wait_for_function("window.cnnlessonsDeck.getIndices().h === 0", timeout=10_000)
        with deck.context.expect_page(timeout=30_000) as opened:
            page.keyboard.press("s")
        speaker = opened.value
        speaker.wait_for_load_state()
        notes = speaker.locator(".speaker-controls-notes .value")
        speaker.wait_for_function("el => el.textContent.includes('explains the idea at length')", arg=notes.element_handle(),
                                  timeout=30_000)
        speaker.screenshot(path=str(SCREENSHOTS / "deck-speaker-view.png"))
        assert not deck.errors, deck.errors
    finally:
        deck.context.close()


def test_a_heading_inside_a_markdown_cell_starts_a_slide_in_the_deck():
    nb = {"cells": [md("## Six\n\nA point.\n\n```\n# a comment, not a heading\n```\n## Seven\n\nAnother point.")]}
    parts = S.split_at_headings(nb)["cells"]
    assert [p["source"] for p in parts] == ["## Six\n\nA point.\n\n```\n# a comment, not a heading\n```",
                                            "## Seven\n\nAnother point."]
    assert [c["metadata"]["slideshow"]["slide_type"] for c in deck_notebook(nb)["cells"]] == ["slide", "slide"]
    assert types(S.add_slide_metadata(nb)) == ["slide"]  # RISE shows the cell whole
