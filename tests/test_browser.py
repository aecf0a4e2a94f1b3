"""The course in a real browser: JupyterLab on loopback, driven by headless Chromium.

Every notebook in ``notebooks/`` is opened (a copy, so nothing can autosave over a committed
lesson) and must render with its committed outputs and figures and without JavaScript errors;
then a widget runs live in a kernel: moving its slider with the keyboard must change the
displayed result. Screenshots go to ``build/screenshots/``.

Needs Debian's ``chromium`` (``scripts/install-browser.sh``) and the PyPI ``playwright``
package (it drives the system browser; ``playwright install`` is not needed). Without them
the tests skip and say why. ``CNNLESSONS_BROWSER_NOTEBOOKS=DIR`` checks another folder.
"""
from __future__ import annotations

import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from cnnlessons.paths import checkout, notebooks_dir
from conftest import new_tab

REPO_ROOT, NOTEBOOKS_DIR = checkout(), notebooks_dir()

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
SOURCE = Path(os.environ.get("CNNLESSONS_BROWSER_NOTEBOOKS", NOTEBOOKS_DIR))
NOTEBOOKS = sorted(SOURCE.glob("*.ipynb"))
SCREENSHOTS = REPO_ROOT / "build" / "screenshots"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
LIVE_NOTEBOOK = "00_welcome.ipynb"  # its IntSlider explorer is the live check, when it is there
RENDER_TIMEOUT_MS = 120_000

# JupyterLab settings for the test server: every cell attached to the page (no windowing),
# no news/update checks (no network, no toast over the notebook).
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False, "doNotDisturbMode": True},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_server(url: str, process: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/status", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"JupyterLab did not answer within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def tiny_widget_notebook(path: Path) -> None:
    """A stand-in live explorer (used while no lesson has one): a slider for the number of
    stacked 3x3 convolutions, a label showing their receptive field from the library."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# Live widget check"), nbformat.v4.new_code_cell(
        "import ipywidgets as w\n"
        "from cnnlessons.widgets.stack_demo import describe_stack\n"
        "slider = w.IntSlider(value=3, min=1, max=10, description='layers')\n"
        "label = w.Label(describe_stack(slider.value))\n"
        "slider.observe(lambda change: setattr(label, 'value', describe_stack(change['new'])), names='value')\n"
        "w.VBox([slider, label])")]
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """(base URL, browser) for a JupyterLab serving a temporary copy of the notebooks."""
    if not CHROMIUM.is_file():
        reason = f"no Chromium at {CHROMIUM}: run scripts/install-browser.sh (Debian: apt-get install chromium)"
        if os.environ.get("CI", "").lower() in ("1", "true"):
            pytest.fail(f"CI must run the browser test, but {reason}")  # CI may not skip it silently
        pytest.skip(reason)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install -e '.[test]')")

    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "root"
    shutil.copytree(SOURCE, root / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    for name, values in LAB_SETTINGS.items():
        (tmp / "settings" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / "settings" / name).write_text(json.dumps(values))
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp / "config"), "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
           "JUPYTER_DATA_DIR": str(tmp / "data"),  # the notebook trust database, among others
           "JUPYTERLAB_SETTINGS_DIR": str(tmp / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"),
           "TQDM_DISABLE": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    env.pop("CNNLESSONS_REPORT", None)
    # Trust the copies (as `make lab` does), so committed widget views render from their saved
    # state without a kernel; the signatures go to the temporary data dir, not the user's.
    subprocess.run([sys.executable, "-m", "jupyter", "trust", *map(str, (root / "notebooks").glob("*.ipynb"))],
                   check=True, capture_output=True, env=env)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp / "jupyterlab.log"
    with open(log, "w") as log_file:
        server = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
             "--IdentityProvider.token=", "--ServerApp.password=", "--allow-root",
             f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True"],
            stdout=log_file, stderr=subprocess.STDOUT, env=env, cwd=root)
    try:
        _wait_for_server(url, server, log)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
            try:
                yield url, browser, root
            finally:
                browser.close()
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


_WORKSPACES = itertools.count()


class Page:
    """A browser tab on one notebook, collecting JavaScript errors."""

    def __init__(self, lab, name: str) -> None:
        self.url, browser, self.root = lab
        self.context, self.page, self.errors = new_tab(browser)
        # A fresh workspace per tab: otherwise JupyterLab reopens the notebooks of earlier tabs.
        workspace = f"w{next(_WORKSPACES)}"
        self.page.goto(f"{self.url}/lab/workspaces/{workspace}/tree/notebooks/{name}?reset",
                       wait_until="domcontentloaded")
        self.notebook = self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")
        self.notebook.wait_for(timeout=RENDER_TIMEOUT_MS)

    def assert_alone(self) -> None:
        """Only this notebook is open (no tabs restored from another test's workspace)."""
        tabs = self.page.locator(".jp-NotebookPanel").count()
        assert tabs == 1, f"expected one notebook open, found {tabs}"

    def wait_until_loaded(self, cells: int) -> None:
        """Wait until the notebook's file is loaded and all its cells are on the page
        (JupyterLab shows an empty placeholder cell before the content arrives)."""
        try:
            self.page.wait_for_function(
                "n => { const p = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
                " return p && p.context && p.context.isReady && p.content.widgets.length === n"
                " && p.content.node.querySelectorAll('.jp-Cell').length === n; }",
                arg=cells, timeout=RENDER_TIMEOUT_MS)
        except Exception as exc:
            raise AssertionError(f"the notebook did not show its {cells} cells: {exc}") from None

    def cells(self):
        return self.notebook.locator(".jp-Cell")

    def wait_for_kernel_idle(self, timeout_ms: int = RENDER_TIMEOUT_MS) -> None:
        self.page.wait_for_function(
            "() => { const p = window.jupyterapp.shell.currentWidget;"
            " return p && p.sessionContext && p.sessionContext.session && p.sessionContext.session.kernel"
            " && p.sessionContext.session.kernel.status === 'idle'; }", timeout=timeout_ms)

    def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))

    def close(self) -> None:
        """Shut the tab's kernels down (each notebook opened starts one) and close it."""
        try:
            self.page.evaluate("() => window.jupyterapp.serviceManager.sessions.shutdownAll()")
        finally:
            self.context.close()


IMAGES_LOADED = "els => els.map(e => e.complete ? e.naturalWidth > 0 : null)"  # null: not loaded yet


def expected_outputs(nb) -> list[tuple[int, int, int]]:
    """(cell index, rendered outputs at least, images) for each code cell with outputs.
    JupyterLab merges consecutive stream outputs of the same stream into one."""
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.outputs:
            continue
        shown, previous = 0, None
        for out in cell.outputs:
            key = (out.output_type, out.get("name"))
            if not (out.output_type == "stream" and key == previous):
                shown += 1
            previous = key
        images = sum(any(k.startswith("image/") for k in out.get("data", {})) for out in cell.outputs)
        found.append((index, shown, images))
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_renders_with_outputs_and_figures(lab, path):
    nb = nbformat.read(path, as_version=4)
    tab = Page(lab, path.name)
    try:
        cells = tab.cells()
        tab.wait_until_loaded(len(nb.cells))
        expected = expected_outputs(nb)
        assert expected, f"{path.name} has no committed outputs: execute it (make execute)"
        for index, outputs, images in expected:
            cell = cells.nth(index)
            rendered = cell.locator(".jp-OutputArea-output")
            assert rendered.count() >= outputs, f"{path.name} cell {index}: {rendered.count()} of {outputs} outputs shown"
            if images:
                imgs = cell.locator(".jp-OutputArea-output img")
                imgs.nth(images - 1).wait_for(timeout=RENDER_TIMEOUT_MS)
                loaded = imgs.evaluate_all(IMAGES_LOADED)
                deadline = time.monotonic() + 30
                while None in loaded and time.monotonic() < deadline:  # still decoding
                    tab.page.wait_for_timeout(250)
                    loaded = imgs.evaluate_all(IMAGES_LOADED)
                assert len(loaded) >= images and all(loaded), f"{path.name} cell {index}: figure not displayed"
        errors = cells.locator(".jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']")
        assert errors.count() == 0, f"{path.name}: stderr output shown: {errors.first.inner_text()[:300]}"
        widgets = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
                   and any(WIDGET_VIEW in o.get("data", {}) for o in c.outputs)]
        for index in widgets:  # shown from the widget state saved in the notebook, no kernel needed
            view = cells.nth(index).locator(".jp-OutputArea-output .jupyter-widgets")
            view.first.wait_for(timeout=RENDER_TIMEOUT_MS)
        assert tab.notebook.get_by_text("Error displaying widget").count() == 0
        tab.screenshot(path.stem)
        figures = tab.notebook.locator(".jp-OutputArea-output img")
        if figures.count():
            figures.first.scroll_into_view_if_needed()
            tab.screenshot(f"{path.stem}-figure")
        if widgets:
            cells.nth(widgets[0]).scroll_into_view_if_needed()
            tab.screenshot(f"{path.stem}-widget")
        tab.page.wait_for_timeout(500)  # let late errors (e.g. widget restoration) surface
        tab.assert_alone()
        assert tab.errors == [], f"{path.name}: JavaScript errors: {tab.errors}"
    finally:
        tab.close()


def _live_notebook(root: Path) -> tuple[str, int]:
    """The notebook and cell index of the live widget check: the first cell of ``00_welcome``
    that displays a widget, else a tiny stand-in notebook written next to the lessons."""
    path = root / "notebooks" / LIVE_NOTEBOOK
    if path.is_file():
        nb = nbformat.read(path, as_version=4)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "code" and any(WIDGET_VIEW in o.get("data", {}) for o in cell.get("outputs", [])):
                return LIVE_NOTEBOOK, index
    tiny_widget_notebook(root / "notebooks" / "zz_live_widget.ipynb")
    return "zz_live_widget.ipynb", 1


RESULT_TEXT = """cell => {
  const copy = cell.querySelector('.jp-OutputArea').cloneNode(true);
  copy.querySelectorAll('.widget-slider, .widget-hslider, .widget-readout').forEach(n => n.remove());
  const images = [...copy.querySelectorAll('img')].map(i => i.src.length + ':' + i.src.slice(-64));
  return copy.innerText.trim() + images.join(',');
}"""


def test_a_widget_runs_live_in_a_kernel(lab):
    """Run the notebook up to its widget cell, press the right arrow on the slider: the
    slider's value goes up by one and the displayed result changes with it."""
    name, index = _live_notebook(lab[2])
    tab = Page(lab, name)
    try:
        tab.wait_until_loaded(len(nbformat.read(lab[2] / "notebooks" / name, as_version=4).cells))
        tab.wait_for_kernel_idle()
        tab.page.evaluate("""index => {
            const panel = window.jupyterapp.shell.currentWidget;
            panel.content.activeCellIndex = index;
            return window.jupyterapp.commands.execute('notebook:run-all-above')
              .then(() => window.jupyterapp.commands.execute('notebook:run-cell'));
        }""", index)
        cell = tab.cells().nth(index)
        handle = cell.locator(".widget-slider .noUi-handle, .widget-hslider .noUi-handle").first
        try:
            handle.wait_for(timeout=RENDER_TIMEOUT_MS)
        except Exception:
            failures = tab.notebook.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']")
            shown = failures.first.inner_text()[-1500:] if failures.count() else "(no error output)"
            raise AssertionError(f"{name}: no live slider in cell {index}; {shown}") from None
        tab.wait_for_kernel_idle()
        readout = cell.locator(".widget-readout").first
        before_value = int(readout.inner_text())
        before = cell.evaluate(RESULT_TEXT)
        assert before, "the widget shows no result next to its slider"
        tab.screenshot(f"live-widget-{Path(name).stem}-before")
        handle.focus()
        tab.page.keyboard.press("ArrowRight")
        tab.page.wait_for_function(f"cell => ({RESULT_TEXT})(cell) !== {json.dumps(before)}",
                                   arg=cell.element_handle(), timeout=60_000)
        after = cell.evaluate(RESULT_TEXT)
        assert int(readout.inner_text()) == before_value + 1
        if "stacked" in before:  # the stack explorer: check the new text against the library
            from cnnlessons.widgets.stack_demo import describe_stack
            assert describe_stack(before_value) in before and describe_stack(before_value + 1) in after
        tab.screenshot(f"live-widget-{Path(name).stem}-after")
        errors = cell.locator(".jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr'], .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']")
        assert errors.count() == 0, errors.first.inner_text()[:500]
        assert tab.errors == [], f"JavaScript errors: {tab.errors}"
        tab.assert_alone()
    finally:
        tab.close()


def hidden_cells_notebook(path: Path) -> None:
    """A notebook with a ``remove-cell`` and a ``remove-input`` cell, cleaned as ``cnnlessons
    execute`` cleans a lesson (which derives JupyterLab's metadata from the tags)."""
    from cnnlessons.course.notebooks import clean, dumps

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    stream = lambda text: nbformat.v4.new_output("stream", name="stdout", text=text)  # noqa: E731
    nb.cells = [nbformat.v4.new_markdown_cell("# Hidden cells"),
                nbformat.v4.new_code_cell("import math  # plumbing", outputs=[stream("plumbing ran\n")],
                                          execution_count=1, metadata={"tags": ["remove-cell"]}),
                nbformat.v4.new_code_cell("print('the figure')", outputs=[stream("the figure\n")],
                                          execution_count=2, metadata={"tags": ["remove-input"]}),
                nbformat.v4.new_code_cell("print('the idea')", outputs=[stream("the idea\n")], execution_count=3)]
    path.write_text(dumps(clean(json.loads(nbformat.writes(nb)))))


def test_jupyterlab_opens_tagged_cells_collapsed(lab):
    """``remove-cell``: source and outputs collapsed; ``remove-input``: source collapsed, output
    shown; an untagged cell in full. (No kernel is needed: it is how the notebook opens.)"""
    hidden_cells_notebook(lab[2] / "notebooks" / "zz_hidden.ipynb")
    tab = Page(lab, "zz_hidden.ipynb")
    try:
        tab.wait_until_loaded(4)
        flags = tab.page.evaluate("() => window.jupyterapp.shell.currentWidget.content.widgets"
                                  ".map(c => [c.inputHidden, c.outputHidden === undefined ? null : c.outputHidden])")
        assert flags == [[False, None], [True, True], [True, False], [False, False]], flags
        cells = tab.cells()
        for index, (editor, outputs) in enumerate([(False, False), (False, True), (True, True)], start=1):
            cell = cells.nth(index)
            assert cell.locator(".jp-InputArea").first.is_visible() == editor, (index, "source")
            assert cell.locator(".jp-OutputArea").first.is_visible() == outputs, (index, "outputs")
        assert cells.nth(1).locator(".jp-InputPlaceholder").first.is_visible()
        assert not cells.nth(1).get_by_text("plumbing ran", exact=True).is_visible()
        assert cells.nth(2).get_by_text("the figure", exact=True).is_visible()
        tab.screenshot("hidden-cells")
        assert tab.errors == [], tab.errors
    finally:
        tab.close()
