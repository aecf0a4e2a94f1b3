"""The course website (``python -m book``, ``make book``): built from the committed notebooks,
served on loopback and opened in headless Chromium.

Fast tests check the generated sources (one page per notebook, in the sorted notebooks' order)
and the metadata helpers. The slow ones build the site once into a temporary folder; the
browser ones open every page and check: no JavaScript errors, no request leaving the machine
(the site must work offline), every figure loaded, saved widgets rendered, the claims link,
search, and previous/next navigation through every lesson. Screenshots go to
``build/screenshots/book-*.png``.

Needs Debian's ``chromium`` (``scripts/install-browser.sh``) and the PyPI ``playwright``
package, as tests/test_browser.py; without them the browser tests skip (under CI=true they fail).
"""
from __future__ import annotations

import functools
import http.server
import os
import re
import subprocess
import sys
import threading
import time
import types
from pathlib import Path
from urllib.parse import urlparse

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the book/ package lives at the top of the checkout
from book import build as book  # noqa: E402
from conftest import new_tab  # noqa: E402

NOTEBOOKS_DIR = ROOT / "notebooks"
from cnnlessons.claims import FOLD_ROWS, OUTPUT_METADATA_KEY  # noqa: E402
from cnnlessons.course.lessons import all_lessons  # noqa: E402

LESSONS = [lesson.id for lesson in all_lessons() if lesson.notebook.is_file()]  # the registry's order, as the CLI
NOTEBOOKS = [NOTEBOOKS_DIR / f"{lesson}.ipynb" for lesson in LESSONS]
SCREENSHOTS = ROOT / "build" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",  # as test_browser.py
                 "--disable-component-update", "--no-first-run"]
pytestmark = pytest.mark.timeout(900)
TIMEOUT_MS = 60_000


def toctree_entries(index_md: str) -> list[str]:
    block = re.search(r"```\{toctree\}\n(.*?)```", index_md, flags=re.S).group(1)
    return [line.strip() for line in block.splitlines() if line.strip() and not line.startswith(":")]


# ----------------------------------------------------------------------------- fast tests

def test_sources_have_one_page_per_notebook_in_order(tmp_path):
    pages = book.prepare(tmp_path, NOTEBOOKS_DIR)
    assert [p.id for p in pages] == LESSONS
    assert toctree_entries((tmp_path / "index.md").read_text()) == LESSONS
    for page in pages:
        copy = nbformat.read(tmp_path / f"{page.id}.ipynb", as_version=4)
        text = "\n".join(c.source for c in copy.cells if c.cell_type == "markdown")
        assert f"({page.label})=" in text, f"{page.id}: no claims anchor"
        assert f"(run-{page.id})=" in text and f"slides/{page.id}.slides.html" in text
        assert f"cnnlessons run {page.number}" in text and f"papermill notebooks/{page.id}.ipynb" in text
        assert page.claims, (f"{page.id}: no claim counts in the claims table's output metadata"
                             " (executed before claims.table() attached them? re-execute it: make execute)")


def test_the_generated_sources_leave_the_notebooks_alone(tmp_path):
    before = {p: p.stat().st_mtime_ns for p in NOTEBOOKS}
    book.prepare(tmp_path, NOTEBOOKS_DIR)
    assert {p: p.stat().st_mtime_ns for p in NOTEBOOKS} == before


def test_run_times_come_from_the_benchmark_tables(tmp_path):
    import json

    results = tmp_path / "results.json"  # the form make bench writes (cnnlessons.course.timings)
    rows = [("00_welcome", "default", 18.9, "ok"), ("01_receptive_fields", "demo", 5.0, "ok"),
            ("01_receptive_fields", "default", 17.2, "ok"), ("02_inception_bottleneck", "default", None, "failed")]
    results.write_text(json.dumps({"sections": {"lessons": {"rows": [
        {"lesson": lesson, "parameters": preset, "seconds": seconds, "status": status}
        for lesson, preset, seconds, status in rows]}}}))
    pages = {p.id: p for p in book.lesson_pages(NOTEBOOKS_DIR, results)}
    assert pages["00_welcome"].seconds == 18.9 and pages["00_welcome"].demo_seconds is None
    assert (pages["01_receptive_fields"].seconds, pages["01_receptive_fields"].demo_seconds) == (17.2, 5.0)
    assert pages["02_inception_bottleneck"].seconds is None
    index = book.index_page(list(pages.values()))
    assert "| ~20\u00a0s | n/a |" in index and "| ~15\u00a0s | ~5\u00a0s |" in index


def test_the_lessons_come_in_the_registrys_order_and_nothing_else(tmp_path, monkeypatch):
    """The site's order is the registry's, whatever the file names sort to; a registered lesson
    missing from the folder, or a notebook the registry does not know, is an error (no glob)."""
    for name in ("b_second", "a_first", "c_third"):
        nbformat.write(nbformat.v4.new_notebook(), tmp_path / f"{name}.ipynb")
    registry = {name: None for name in ("c_third", "a_first", "b_second")}  # neither sorted nor reversed
    monkeypatch.setattr(book, "_registry", lambda: registry)
    assert [p.stem for p in book.lesson_notebooks(tmp_path)] == ["c_third", "a_first", "b_second"]
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "d_scratch.ipynb")
    with pytest.raises(SystemExit, match=r"d_scratch.ipynb.*not lessons of the registry"):
        book.lesson_notebooks(tmp_path)
    (tmp_path / "d_scratch.ipynb").unlink()
    (tmp_path / "a_first.ipynb").unlink()
    with pytest.raises(SystemExit, match=r"lacks the registered lesson\(s\) \['a_first.ipynb'\]"):
        book.lesson_notebooks(tmp_path)


def test_the_claims_cell_is_found_by_its_output_metadata_and_explorers_become_static():
    from IPython.core.formatters import DisplayFormatter

    from cnnlessons.widgets.inception_calculator import InceptionCalculator

    nb = nbformat.v4.new_notebook()
    counts = {"claims": 1, "hold": 1, "skipped": 0, "failed": 0}
    data, metadata = DisplayFormatter().format(InceptionCalculator().widget)
    nb.cells = [nbformat.v4.new_markdown_cell("# Lesson\n\nSome prose."), nbformat.v4.new_markdown_cell("More prose."),
                nbformat.v4.new_code_cell("report()", outputs=[nbformat.v4.new_output(  # its source names no claims
                    "display_data", data={"text/html": "<table></table>"}, metadata={OUTPUT_METADATA_KEY: counts})]),
                nbformat.v4.new_code_cell("claims.table()  # a call without the table's output"),
                nbformat.v4.new_code_cell("InceptionCalculator().widget", outputs=[
                    nbformat.v4.new_output("display_data", data=data, metadata=metadata)])]
    assert book.claims_cell_index(nb) == 2
    assert not book.has_widgets(nb)  # the calculator does not need a kernel on the page
    page = book.LessonPage("99_x", Path("99_x.ipynb"), "X", "", None, 1, False)
    web = book.annotate(nb, page)
    html = "".join(o["data"].get("text/html", "") for c in web.cells if c.cell_type == "code" for o in c.outputs)
    assert "cnnlessonsStatic.inception_calculator.mount" in html and book.WIDGET_VIEW not in str(web.cells)
    anchor = next(i for i, c in enumerate(web.cells) if "(claims-99_x)=" in c.source)
    assert web.cells[anchor + 1].source == "report()"  # the anchor sits just before the table's cell


def test_presets_from_the_registry():
    new = types.SimpleNamespace(presets={"demo": {"steps": 150}, "full": {"seeds": [0, 1, 2]}})
    assert book.presets_of(new) == {"demo": {"steps": 150}, "full": {"seeds": [0, 1, 2]}}
    assert book.presets_of(types.SimpleNamespace()) == {}
    assert book._papermill_args({"steps": 150, "seeds": [0, 1], "check": False, "weights": "none"}) == \
        "-p steps 150 -y 'seeds: [0, 1]' -y 'check: false' -p weights none"


def test_claims_are_counted_from_the_tables_output_metadata():
    nb = nbformat.v4.new_notebook()
    table = "<table><tr><th>claim</th></tr><tr><td>a</td></tr><tr><td>b</td></tr></table>"
    counts = {"claims": 2, "hold": 2, "skipped": 0, "failed": 0}
    nb.cells = [nbformat.v4.new_code_cell("claims.table()", outputs=[nbformat.v4.new_output(
        "display_data", data={"text/html": table, "text/plain": "..."}, metadata={OUTPUT_METADATA_KEY: counts})])]
    assert book.count_claims(nb) == 2 and book.claim_counts(nb) == counts
    nb.cells[0].outputs[0].metadata = {}
    assert book.count_claims(nb) is None  # the HTML is not parsed


def test_the_instructors_page_links_lessons_to_their_pages(tmp_path):
    (tmp_path / "INSTRUCTORS.md").write_text(
        "# Teaching\n\nSee [lesson 03](notebooks/03_residual_identity.ipynb), [the results](benchmarks/RESULTS.md)"
        " and [torch](https://pytorch.org).\n")
    page = book.instructors_page(tmp_path)
    assert "[lesson 03](03_residual_identity.ipynb)" in page and "the results (`benchmarks/RESULTS.md`)" in page
    assert "[torch](https://pytorch.org)" in page
    assert book.instructors_page(tmp_path / "missing") is None


def test_a_failed_build_leaves_the_previous_site(tmp_path, monkeypatch):
    sphinx_build = pytest.importorskip("sphinx.cmd.build")
    out = tmp_path / "book"
    out.mkdir()
    (out / "index.html").write_text("the previous site")
    monkeypatch.setattr(sphinx_build, "build_main", lambda args: 2)
    with pytest.raises(SystemExit, match="sphinx-build failed"):
        book.build(out, NOTEBOOKS_DIR)
    assert (out / "index.html").read_text() == "the previous site"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book"], "a staging folder was left behind"


# ----------------------------------------------------------------------------- the built site

@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """The website, built once by ``python -m book`` into a temporary folder."""
    for module in ("sphinx", "myst_nb", "sphinx_book_theme"):
        try:
            __import__(module)
        except ImportError:
            reason = f"{module} is not installed (pip install -e '.[test]')"
            if os.environ.get("CI", "").lower() in ("1", "true"):
                pytest.fail(f"CI must build the book, but {reason}")
            pytest.skip(reason)
    out = tmp_path_factory.mktemp("book") / "book"
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "book", "--out", str(out)], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - start
    assert result.returncode == 0, f"python -m book failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert "WARNING" not in result.stderr, f"Sphinx warnings:\n{result.stderr[-3000:]}"
    print(f"built the book in {seconds:.0f} s")  # about 20 s on 2 idle cores; not asserted (a busy machine is slower)
    assert not out.with_name("book.tmp").exists(), "the staging folder was left behind"
    return out


def next_link(html: str) -> str | None:
    found = re.search(r'<link rel="next"[^>]*href="([^"]+)"', html)
    return found.group(1) if found else None


@pytest.mark.slow
def test_site_has_one_page_per_notebook_in_order(site):
    order, page = [], "index.html"
    while (page := next_link((site / page).read_text())) is not None:
        assert page not in order, f"navigation loops at {page}"
        order.append(page)
    assert [p.removesuffix(".html") for p in order if p not in ("genindex.html", "search.html")] == \
        [*LESSONS, "INSTRUCTORS"]
    index = (site / "index.html").read_text()
    linked = re.findall(r'href="(\d\d_\w+)\.html"', index.split('id="lesson-map"')[1].split("</table>")[0])
    assert linked == LESSONS, "the lesson map on the landing page"
    for lesson in LESSONS:
        text = (site / f"{lesson}.html").read_text()
        assert "cdn.jsdelivr.net" not in text.replace('data-jupyter-widgets-cdn="_static', "") \
            and "cdnjs.cloudflare.com" not in text, f"{lesson}: a script from a CDN"
        deck = site / "slides" / f"{lesson}.slides.html"
        assert deck.is_file(), f"make book did not write {deck.name}"
        assert "unpkg.com" not in deck.read_text() and "cdnjs" not in deck.read_text(), f"{deck.name} uses a CDN"


# ----------------------------------------------------------------------------- in a browser

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def browser_site(site):
    """(base URL, browser) with the built site served on loopback."""
    if not CHROMIUM.is_file():
        reason = f"no Chromium at {CHROMIUM}: run scripts/install-browser.sh (Debian: apt-get install chromium)"
        if os.environ.get("CI", "").lower() in ("1", "true"):
            pytest.fail(f"CI must run the browser test, but {reason}")
        pytest.skip(reason)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install -e '.[test]')")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
            try:
                yield f"http://127.0.0.1:{server.server_address[1]}", chromium
            finally:
                chromium.close()
    finally:
        server.shutdown()
        server.server_close()


class Tab:
    """A page of the site in a fresh browser context; records JavaScript errors, failed
    requests and any request that would leave the machine (those are blocked)."""

    def __init__(self, browser_site) -> None:
        self.base, browser = browser_site
        self.context, self.page, self.errors = new_tab(browser)
        self.page.on("response", lambda r: self.errors.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
        self.page.route("**/*", self._route)

    def _route(self, route) -> None:
        url = route.request.url
        if urlparse(url).hostname == "127.0.0.1" or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            self.errors.append(f"request leaving the machine: {url}")
            route.abort()

    def open(self, path: str) -> None:
        self.page.goto(f"{self.base}/{path}", wait_until="load")

    def screenshot(self, name: str, full_page: bool = True) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"book-{name}.png"), full_page=full_page)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def tab(browser_site):
    t = Tab(browser_site)
    yield t
    t.close()


def _widget_lessons() -> set[str]:
    return {p.stem for p in NOTEBOOKS if book.has_widgets(nbformat.read(p, as_version=4))}


IMAGES_LOADED = "els => els.map(e => e.complete ? e.naturalWidth > 0 : null)"  # null: still loading
PAGE_WIDTH = 1280
# Elements of the article that reach past its right edge without a scrolling box between them and
# the article: content the reader cannot see (a clipped column of a wide table, say).
CLIPPED = """() => {
  const article = document.querySelector("article.bd-article");
  const limit = article.getBoundingClientRect().right + 1;
  const scrolls = e => ["auto", "scroll"].includes(getComputedStyle(e).overflowX);
  const clipped = [];
  for (const e of article.querySelectorAll("*")) {
    const r = e.getBoundingClientRect();
    if (r.width === 0 || r.right <= limit) continue;
    let a = e.parentElement, inside = false;
    for (; a && a !== article; a = a.parentElement) {
      if (scrolls(a) && a.getBoundingClientRect().right <= limit) { inside = true; break; }
    }
    if (!inside) clipped.push(`${e.tagName.toLowerCase()}.${e.className} (${(e.textContent || "").trim().slice(0, 40)})`);
  }
  return clipped;
}"""
# Visible search boxes: the theme's search field buttons and any search input.
SEARCH_BOXES = """() => [...document.querySelectorAll(".search-button-field, input[type=search], input[name=q]")]
  .filter(e => e.offsetParent !== null && getComputedStyle(e).visibility !== "hidden").length"""


HIDDEN_OUTPUTS = {"remove-cell", "remove-output"}  # Jupyter Book tags myst-nb honours: no output on the page


def shown_outputs(nb) -> list[dict]:
    """The outputs the page shows: those of code cells not tagged to hide them."""
    return [output for cell in nb.cells if cell.cell_type == "code"
            and not HIDDEN_OUTPUTS & set(cell.metadata.get("tags", [])) for output in cell.get("outputs", [])]


def table_outputs(nb) -> int:
    """Tables among the outputs a page shows: each <table> of an HTML output (cnnlessons.io.Table,
    claims) and each Markdown table; a static explorer's tables are drawn by its script."""
    count = 0
    for output in shown_outputs(nb):
        data = output.get("data", {})
        html, markdown = data.get("text/html", ""), data.get("text/markdown", "")
        html = "".join(html) if isinstance(html, list) else html
        markdown = "".join(markdown) if isinstance(markdown, list) else markdown
        if "cnnlessons-static" not in html:
            count += html.count("<table") + len(re.findall(r"^\|.*\|\s*\n\|[ :|-]+\|", markdown, flags=re.M))
    return count


def figure_outputs(nb) -> int:
    """Figures among the outputs a page shows (a plot's PNG, a diagram's SVG and PNG: one figure)."""
    return sum(bool({"image/png", "image/jpeg", "image/svg+xml"} & set(o.get("data", {}))) for o in shown_outputs(nb))


# Tables and images in the page's outputs, outside widget views (drawn from saved state) and static
# explorers (drawn by their scripts).
IN_OUTPUTS = """selector => [...document.querySelectorAll("div.cell_output " + selector)]
  .filter(e => !e.closest(".jupyter-widgets, .cnnlessons-static")).length"""


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.parametrize("page", ["index", *LESSONS, "INSTRUCTORS"])
def test_page_renders_offline_without_errors(tab, page):
    tab.page.set_viewport_size({"width": PAGE_WIDTH, "height": 900})
    tab.open(f"{page}.html")
    page_ = tab.page
    page_.wait_for_load_state("networkidle")
    assert page_.evaluate(SEARCH_BOXES) == 1, f"{page}: not exactly one search box"
    clipped = page_.evaluate(CLIPPED)
    assert not clipped, f"{page}: content cut off at {PAGE_WIDTH} px: {clipped[:5]}"
    assert page_.evaluate("document.documentElement.scrollWidth") <= PAGE_WIDTH, f"{page}: the page scrolls sideways"
    images = page_.locator("img")
    loaded = images.evaluate_all(IMAGES_LOADED)
    deadline = time.monotonic() + 20
    while None in loaded and time.monotonic() < deadline:
        page_.wait_for_timeout(250)
        loaded = images.evaluate_all(IMAGES_LOADED)
    broken = [src for src, ok in zip(images.evaluate_all("els => els.map(e => e.src)"), loaded) if not ok]
    assert not broken, f"{page}: images not displayed: {broken}"
    if page not in ("index", "INSTRUCTORS"):
        nb = nbformat.read(NOTEBOOKS_DIR / f"{page}.ipynb", as_version=4)
        web = book.annotate(nb, book.lesson_pages(NOTEBOOKS_DIR, lessons=[NOTEBOOKS_DIR / f"{page}.ipynb"])[0])
        shown = page_.evaluate(IN_OUTPUTS, "img")
        assert shown == figure_outputs(web), f"{page}: {shown} figures on the page, the notebook shows {figure_outputs(web)}"
        # "Claims checked" at the top links to the claims table
        link = page_.locator(".lesson-meta a", has_text="Claims checked")
        assert link.count() == 1, f"{page}: no 'Claims checked' link at the top"
        target = link.get_attribute("href")
        assert target.startswith("#"), target
        section = page_.locator(f"[id='{target[1:]}']")
        assert section.count() == 1, f"{page}: the claims link points to a missing anchor {target}"
        rows = section.locator("table tr:has(td)")
        assert rows.count() == book.count_claims(nb), f"{page}: the claims table is not under the anchor"
        folded = section.locator("details.claims")
        if folded.count():  # a lesson executed since claims tables fold under their summary line
            summary = folded.first.locator("summary").inner_text()
            assert summary.startswith(f"{book.count_claims(nb)} claim"), summary
            assert (folded.first.get_attribute("open") is None) == (book.count_claims(nb) > FOLD_ROWS
                                                                    and "FAILED" not in summary)
        # every table output is a real <table> on the page (Markdown ones included)
        tables = page_.evaluate(IN_OUTPUTS, "table")
        assert tables == table_outputs(web), f"{page}: {tables} tables shown, the notebook shows {table_outputs(web)}"
        deck = page_.locator("a.slides-link").first.get_attribute("href")
        assert deck == f"slides/{page}.slides.html"
        assert page_.request.get(f"{tab.base}/{deck}").status == 200, f"{page}: the slides link is broken"
        assert page_.get_by_text(f"cnnlessons run {page.partition('_')[0]}").count() >= 1
        if page in _widget_lessons():
            views = page_.locator(".cell_output .jupyter-widgets")
            views.first.wait_for(timeout=TIMEOUT_MS)
            assert page_.locator(".widget-slider, .widget-hslider, .widget-button, .widget-dropdown").count() >= 1
            assert page_.get_by_text("needs a running kernel").count() >= 1
            view = page_.locator(".cell_output:has(.jupyter-widgets)").first
            view.scroll_into_view_if_needed()
            tab.screenshot(f"{page}-widget", full_page=False)
        section.evaluate("e => e.scrollIntoView()")
        tab.screenshot(f"{page}-claims", full_page=False)
        page_.evaluate("window.scrollTo(0, 0)")
    page_.wait_for_timeout(300)  # late errors (widget rendering, MathJax)
    tab.screenshot(page)
    assert tab.errors == [], f"{page}: {tab.errors}"


@pytest.mark.slow
@pytest.mark.browser
def test_search_finds_bottleneck(tab):
    tab.open("search.html?q=bottleneck")
    hit = tab.page.locator("#search-results a[href*='02_inception_bottleneck']")
    hit.first.wait_for(timeout=TIMEOUT_MS)
    tab.screenshot("search", full_page=False)
    assert tab.errors == [], tab.errors


@pytest.mark.slow
@pytest.mark.browser
def test_navigation_reaches_every_lesson(tab):
    tab.open("index.html")
    # the lesson map links every lesson, in order
    hrefs = tab.page.locator("#lesson-map table a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert [h.removesuffix(".html") for h in hrefs] == LESSONS
    assert tab.page.locator("a[href='INSTRUCTORS.html']").count() >= 1, "no link to the instructors' page"
    # the sidebar lists every lesson, in order
    sidebar = tab.page.locator(".bd-sidebar-primary a.reference.internal").evaluate_all(
        "els => els.map(e => e.getAttribute('href'))")
    assert [h for h in (s.split("#")[0].removesuffix(".html") for s in sidebar) if h in LESSONS] == LESSONS
    # and "next" walks through all of them
    seen = []
    for _ in range(len(LESSONS)):
        tab.page.locator("a.right-next").first.click()
        tab.page.wait_for_load_state("load")
        seen.append(Path(urlparse(tab.page.url).path).stem)
    assert seen == LESSONS
    tab.page.locator("a.right-next").first.click()  # then the instructors' page, the last one
    tab.page.wait_for_load_state("load")
    assert Path(urlparse(tab.page.url).path).stem == "INSTRUCTORS"
    assert tab.page.locator("a.right-next").count() == 0, "a page after the instructors' page"
    tab.page.locator("a.left-prev").first.click()
    tab.page.wait_for_load_state("load")
    assert Path(urlparse(tab.page.url).path).stem == LESSONS[-1]
    assert tab.errors == [], tab.errors


# ----------------------------------------------------------------------------- hidden cells and static explorers

def hidden_cells_lesson(folder: Path) -> Path:
    """A small lesson: a ``remove-cell`` and a ``remove-input`` cell, each with words found
    nowhere else, and the Inception calculator as a lesson stores it (cleaned as ``cnnlessons
    execute`` cleans a lesson)."""
    import json

    from IPython.core.formatters import DisplayFormatter

    from cnnlessons.course.notebooks import clean, dumps
    from cnnlessons.widgets.inception_calculator import InceptionCalculator

    data, metadata = DisplayFormatter().format(InceptionCalculator().widget)
    stream = lambda text: nbformat.v4.new_output("stream", name="stdout", text=text)  # noqa: E731
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# 98 · Hidden cells\n\nWhat a student reads."),
                nbformat.v4.new_code_cell("plumbing_code_zebra = 1", outputs=[stream("plumbing output quokka\n")],
                                          execution_count=1, metadata={"tags": ["remove-cell"]}),
                nbformat.v4.new_code_cell("plotting_code_narwhal()", outputs=[stream("the figure axolotl\n")],
                                          execution_count=2, metadata={"tags": ["remove-input"]}),
                nbformat.v4.new_code_cell("idea_code_pangolin = 2", execution_count=3),
                nbformat.v4.new_code_cell("InceptionCalculator().widget", execution_count=4, outputs=[
                    nbformat.v4.new_output("display_data", data=data, metadata=metadata)])]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "98_hidden.ipynb"
    path.write_text(dumps(clean(json.loads(nbformat.writes(nb)))))
    return path


@pytest.fixture(scope="module")
def small_site(tmp_path_factory) -> Path:
    """A site of the small lesson alone (built in-process, like make book)."""
    pytest.importorskip("myst_nb", reason="pip install -e '.[test]'")
    root = tmp_path_factory.mktemp("small")
    lesson = hidden_cells_lesson(root / "notebooks")
    out = root / "book"
    book.build(out, root / "notebooks", lessons=[lesson])
    return out


@pytest.mark.slow
def test_the_website_and_the_deck_show_no_hidden_code(small_site):
    page = (small_site / "98_hidden.html").read_text()
    deck = (small_site / "slides" / "98_hidden.slides.html").read_text()
    for html in (page, deck):
        for hidden in ("plumbing_code_zebra", "plumbing output quokka", "plotting_code_narwhal"):
            assert hidden not in html
        assert "the figure axolotl" in html and "cnnlessonsStatic.inception_calculator.mount" in html
    assert "idea_code_pangolin" in page and "idea_code_pangolin" not in deck  # code on a slide: only live cells
    assert (small_site / "slides" / "_vendor" / "reveal.js" / "dist" / "reveal.js").is_file()  # the deck folder travels


@pytest.mark.slow
@pytest.mark.browser
def test_the_static_calculator_moves_on_the_website(small_site, browser_site):
    """On the page, with no kernel: dragging the calculator's slider updates its readout. (It borrows the
    module's browser: a second sync_playwright inside the first finds its event loop running.)"""
    from test_slides import drag_calculator

    _, chromium = browser_site
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(small_site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        tab = Tab((f"http://127.0.0.1:{server.server_address[1]}", chromium))
        try:
            tab.page.set_viewport_size({"width": PAGE_WIDTH, "height": 900})
            tab.open("98_hidden.html")
            root = tab.page.locator(".cnnlessons-static[data-widget='inception_calculator']")
            root.scroll_into_view_if_needed()
            drag_calculator(tab.page, root)
            tab.screenshot("static-calculator", full_page=False)
            assert tab.errors == [], tab.errors
        finally:
            tab.close()
    finally:
        server.shutdown()
        server.server_close()
