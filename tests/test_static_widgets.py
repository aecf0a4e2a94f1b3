"""The static copies of the closed-form explorers (``cnnlessons.widgets.static``): the JavaScript
computes what the Python computes, value for value, in a real browser; a dragged slider updates
the readout; and the live widgets record how to rebuild their static copy.

The browser tests need Debian's ``chromium`` and the PyPI ``playwright`` package, as
tests/test_browser.py (without them they skip; under CI=true they fail)."""
from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import pytest
from IPython.core.formatters import DisplayFormatter

from cnnlessons.analysis import LayerSpec
from cnnlessons.widgets.inception_calculator import LIMITS, InceptionCalculator, calculate, render_html
from cnnlessons.widgets.receptive_explorer import ReceptiveExplorer
from cnnlessons.widgets.stack_demo import describe_stack, stack_slider
from cnnlessons.widgets.static import (KERNEL_NOTE, STATIC_KEY, WIDGET_VIEW, for_static_pages, static_html,
                                       static_output)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]


def displayed(widget) -> dict:
    """The output a notebook stores for ``widget``: its data and metadata as IPython formats them."""
    data, metadata = DisplayFormatter().format(widget)
    return {"output_type": "display_data", "data": data, "metadata": metadata}


def test_live_widgets_record_their_static_copy():
    calculator = InceptionCalculator(bottleneck=32)
    calculator.sliders["c5x5"].value = 48
    out = displayed(calculator.widget)
    assert WIDGET_VIEW in out["data"]
    assert out["metadata"][STATIC_KEY] == {"name": "inception_calculator", "state": calculator.values()}
    explorer = ReceptiveExplorer([LayerSpec("conv", 5), LayerSpec("maxpool", 2, 2)], channels=8)
    marker = displayed(explorer.widget())["metadata"][STATIC_KEY]
    assert marker["name"] == "receptive_explorer" and marker["state"]["channels"] == 8
    assert [tuple(layer.values()) for layer in marker["state"]["layers"]] == [("conv", 5, 1, 1, None),
                                                                          ("maxpool", 2, 2, 1, None)]
    assert displayed(stack_slider(kernel=5))["metadata"][STATIC_KEY]["state"] == {"kernel": 5, "max_layers": 10,
                                                                                  "value": 3}


def test_pages_without_a_kernel_get_the_static_copy_or_a_note():
    calculator = displayed(InceptionCalculator().widget)
    other = {"output_type": "display_data", "metadata": {}, "data": {WIDGET_VIEW: {"model_id": "x"}, "text/plain": "VBox"}}
    text = {"output_type": "stream", "name": "stdout", "text": "hello\n"}
    shown = for_static_pages([calculator, other, text])
    assert WIDGET_VIEW not in shown[0]["data"] and "cnnlessonsStatic.inception_calculator.mount" in shown[0]["data"]["text/html"]
    assert shown[1] is other and KERNEL_NOTE in shown[2]["data"]["text/plain"] and shown[3] is text
    assert static_output(other) is None
    with pytest.raises(ValueError, match="no static copy"):
        static_html("nonexistent", {})


# ----------------------------------------------------------------------------- in a browser

@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """A browser page holding one static copy of each explorer (from a file, no network)."""
    if not CHROMIUM.is_file():
        reason = f"no Chromium at {CHROMIUM}: run scripts/install-browser.sh"
        if os.environ.get("CI", "").lower() in ("1", "true"):
            pytest.fail(f"CI must run the browser tests, but {reason}")
        pytest.skip(reason)
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]'")
    explorer = ReceptiveExplorer(channels=16)
    body = "".join([static_html("inception_calculator", InceptionCalculator().values()),
                    static_html("receptive_explorer", explorer.state()),
                    static_html("stack_slider", {"kernel": 3, "max_layers": 10, "value": 3})])
    path = tmp_path_factory.mktemp("static") / "widgets.html"
    path.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>{body}</body></html>")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        tab = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        tab.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
        tab.goto(path.as_uri())
        tab.errors = errors
        yield tab
        browser.close()


CALCULATOR_CASES = [dict(in_channels=256, size=28, c1x1=128, c3x3=192, c5x5=96, bottleneck=64),
                    dict(in_channels=192, size=28, c1x1=64, c3x3=128, c5x5=32, bottleneck=0),
                    *(dict(zip(LIMITS, values)) for values in itertools.islice(itertools.product(
                        (1, 3, 512, 1024), (1, 7, 112), (1, 500), (2, 512), (1, 97), (0, 1, 130, 512)), 0, None, 7))]


@pytest.mark.browser
def test_the_javascript_calculator_gives_the_pythons_html(page):
    for values in CALCULATOR_CASES:
        js = page.evaluate("v => cnnlessonsStatic.inception_calculator.render(cnnlessonsStatic.inception_calculator.calculate(v))",
                           values)
        assert js == render_html(calculate(**values)), values
    assert page.errors == []


EXPLORER_CASES = [
    [LayerSpec("conv", 3)] * 3,
    [LayerSpec("conv", 3), LayerSpec("conv", 3, 2), LayerSpec("conv", 3, 1, 2)],
    [LayerSpec("conv", 3), LayerSpec("conv", 3), LayerSpec("maxpool", 2, stride=2), LayerSpec("conv", 3, dilation=2)],
    [LayerSpec("conv", 7, 2), LayerSpec("maxpool", 3, 2), LayerSpec("conv", 3), LayerSpec("avgpool", 2, 2)],
    [LayerSpec("conv", 2), LayerSpec("conv", 4, 3, 2), LayerSpec("maxpool", 3, 1, 3), LayerSpec("conv", 1, 2)],
    [LayerSpec("conv", 5, 1, 4), LayerSpec("avgpool", 3, 3), LayerSpec("conv", 6, 2, 3)],
    [LayerSpec("conv", 7, 2, 2)] * 4,  # too large to shade: the outline only
    [LayerSpec("conv", 3, padding=0), LayerSpec("maxpool", 3, 2, padding=1), LayerSpec("conv", 5, 1, 1, 0)],
]


@pytest.mark.browser
@pytest.mark.parametrize("layers", EXPLORER_CASES, ids=[str(i) for i in range(len(EXPLORER_CASES))])
def test_the_javascript_explorer_computes_what_the_python_does(page, layers):
    explorer = ReceptiveExplorer(list(layers), channels=8)
    state = explorer.state()
    js = page.evaluate("s => cnnlessonsStatic.receptive_explorer.analyse(s.layers, s.channels)", state)
    summary = explorer.summary()
    assert js["text"] == summary.text()
    assert (js["size"], js["jump"], js["parameters"], js["nonlinearities"]) == (
        summary.size, summary.jump, summary.parameters, summary.nonlinearities)
    unit, mask, rf = explorer.centre_dependencies()
    assert js["inputSize"] == explorer.input_size() == rf.input_size[0]
    assert tuple(js["unit"]) == unit and tuple(js["region"]) == rf.region(*unit)
    if mask is None:
        assert js["mask"] is None
    else:
        rows, cols = mask.any(dim=1).tolist(), mask.any(dim=0).tolist()
        assert js["mask"] == rows == cols
        assert mask.sum().item() == sum(rows) * sum(cols)  # the 2-D mask is the product of the 1-D ones
    assert js["title"] == explorer.draw().axes[0].get_title()
    assert page.errors == []


def drag(page, slider, to: int) -> None:
    """Drag a range input's thumb with the mouse to value ``to`` (its track's ``to`` position)."""
    box = slider.bounding_box()
    low, high = (int(slider.get_attribute(a)) for a in ("min", "max"))
    slider.focus()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * (to - low) / (high - low), box["y"] + box["height"] / 2, steps=8)
    page.mouse.up()


def as_dom(page, html: str) -> str:
    """``html`` as the browser serialises it once parsed (quotes, implied <tbody>)."""
    return page.evaluate("h => { const d = document.createElement('div'); d.innerHTML = h; return d.innerHTML; }", html)


@pytest.mark.browser
def test_dragging_a_static_slider_updates_the_readout(page):
    root = page.locator(".cnnlessons-static[data-widget='inception_calculator']")
    readout = root.locator(".cnnlessons-static-readout")
    assert readout.inner_html() == as_dom(page, render_html(calculate()))
    drag(page, root.locator("input[name='bottleneck']"), 512)
    values = json.loads(root.evaluate("r => JSON.stringify(Object.fromEntries([...r.querySelectorAll('input')]"
                                      ".map(i => [i.name, parseInt(i.value, 10)])))"))
    assert values["bottleneck"] > 400  # dragged near the end of the track
    assert readout.inner_html() == as_dom(page, render_html(calculate(**values))) != as_dom(page, render_html(calculate()))
    labels = root.locator("label > span").evaluate_all("els => els.map(e => [e.textContent, e.scrollWidth <= e.clientWidth])")
    assert labels == [[name, True] for name in LIMITS]  # every label in full
    stack = page.locator(".cnnlessons-static[data-widget='stack_slider']")
    stack.locator("input").focus()
    page.keyboard.press("ArrowRight")
    assert stack.locator(".cnnlessons-static-readout").inner_text() == describe_stack(4)
    explorer = page.locator(".cnnlessons-static[data-widget='receptive_explorer']")
    before = explorer.locator(".cnnlessons-static-readout").inner_text()
    explorer.locator("button", has_text="add layer").click()
    assert explorer.locator(".cnnlessons-static-readout").inner_text() == \
        ReceptiveExplorer([LayerSpec("conv", 3)] * 4, channels=16).summary().text() != before
    assert page.errors == []
