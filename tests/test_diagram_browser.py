"""A diagram renders in JupyterLab: a notebook draws one live in a kernel, and the output
shows the SVG as a loaded image. Uses the JupyterLab server and Chromium of
``tests/test_browser.py`` (skips, or fails on CI, exactly as that test does)."""
from __future__ import annotations

import nbformat
import pytest

from test_browser import RENDER_TIMEOUT_MS, Page, lab  # noqa: F401  (lab: the server fixture)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

CELL = """\
import torchvision
from cnnlessons import diagram

d = diagram(torchvision.models.resnet.BasicBlock(16, 16).eval(), (16, 32, 32))
d"""


def test_a_diagram_renders_in_jupyterlab(lab):  # noqa: F811
    root = lab[2]
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# Diagram check"), nbformat.v4.new_code_cell(CELL)]
    nbformat.write(nb, root / "notebooks" / "zz_diagram.ipynb")
    tab = Page(lab, "zz_diagram.ipynb")
    try:
        tab.wait_until_loaded(2)
        tab.wait_for_kernel_idle()
        tab.page.evaluate("""() => {
            const panel = window.jupyterapp.shell.currentWidget;
            panel.content.activeCellIndex = 1;
            return window.jupyterapp.commands.execute('notebook:run-cell');
        }""")
        output = tab.cells().nth(1).locator(".jp-OutputArea-output[data-mime-type='image/svg+xml']")
        try:
            output.wait_for(timeout=RENDER_TIMEOUT_MS)
        except Exception:
            shown = tab.cells().nth(1).locator(".jp-OutputArea").inner_text()[-1500:]
            raise AssertionError(f"no SVG output; the cell shows: {shown}") from None
        image = output.locator("img")
        image.wait_for(timeout=RENDER_TIMEOUT_MS)
        tab.page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle(),
                                   timeout=30_000)
        size = image.evaluate("img => [img.naturalWidth, img.naturalHeight, img.getBoundingClientRect().width]")
        assert size[0] > 100 and size[1] > 200 and size[2] > 100, size   # a tall block diagram, shown
        source = image.get_attribute("src") or ""
        assert source.startswith("data:image/svg+xml") and "BasicBlock" in source.replace("%20", " ")
        tab.screenshot("diagram-in-jupyterlab")
        assert tab.errors == [], f"JavaScript errors: {tab.errors}"
    finally:
        tab.close()
