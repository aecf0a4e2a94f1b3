"""Static copies of the closed-form explorers, for the website and the slide decks.

A saved ipywidgets view (what the website and the decks show of a widget) has no kernel behind
it: its sliders move and nothing else does. The explorers whose answer is a closed formula (the
Inception calculator, the receptive-field explorer, the stack slider of lesson 00) therefore
carry a second, static copy: the same controls and readout in plain JavaScript
(``js/<name>.js``: the same formulas as the Python, which ``tests/test_static_widgets.py``
compares value by value in a browser). Nothing is loaded from anywhere: the script is inline.

How it travels: the displayed box (``static_box``) adds ``{STATIC_KEY: {"name", "state"}}`` to
its output's metadata (nbval does not compare output metadata; the notebook's outputs are
unchanged otherwise). The website and deck builders replace such an output by
``static_output(...)`` (an HTML output) in their copy of the notebook. Any other widget keeps
its saved view, and the builders say beside it that it needs a running kernel
(``KERNEL_NOTE``).
"""
from __future__ import annotations

import html
import json
from functools import cache
from pathlib import Path
from typing import Any, Callable, Mapping

STATIC_KEY = "cnnlessons/static-widget"  # output metadata: {"name": ..., "state": {...}}
JS = Path(__file__).resolve().parent / "js"
NAMES = ("inception_calculator", "receptive_explorer", "stack_slider")
KERNEL_NOTE = "This is the view saved when the lesson was executed: moving it needs a running kernel (JupyterLab)."
STATIC_NOTE = "Runs in your browser, no kernel needed: the same formulas as the lesson's Python."
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# Controls in the page's type (browsers give them a small font of their own).
STYLE = ("<style>.cnnlessons-static select, .cnnlessons-static button { font: inherit; font-size: 0.85em; }"
         ".cnnlessons-static-note { font-size: 0.8em; color: #777; }</style>")


@cache
def script(name: str) -> str:
    """The JavaScript of static copy ``name`` (it defines ``window.cnnlessonsStatic[name]``)."""
    if name not in NAMES:
        raise ValueError(f"no static copy named {name!r}; known: {list(NAMES)}")
    return (JS / "common.js").read_text(encoding="utf-8") + "\n" + (JS / f"{name}.js").read_text(encoding="utf-8")


def static_html(name: str, state: Mapping[str, Any]) -> str:
    """A self-contained HTML fragment: the static copy ``name`` started at ``state``, its
    script inline (it runs where it is inserted, and finds its container by
    ``document.currentScript``)."""
    payload = json.dumps(dict(state), sort_keys=True).replace("</", "<\\/")
    return (f"<div class='cnnlessons-static' data-widget='{html.escape(name)}'>{STYLE}"
            f"<script>{script(name)}\n"
            f"window.cnnlessonsStatic.{name}.mount(document.currentScript.parentElement, {payload});</script>"
            f"<p class='cnnlessons-static-note'>{html.escape(STATIC_NOTE)}</p></div>")


def static_output(output: Mapping[str, Any]) -> dict[str, Any] | None:
    """The static copy of a widget output (a ``display_data`` output holding HTML), or ``None``
    when the output does not carry ``STATIC_KEY`` metadata."""
    marker = output.get("metadata", {}).get(STATIC_KEY)
    if not marker:
        return None
    return {"output_type": "display_data", "metadata": {},
            "data": {"text/html": static_html(marker["name"], marker["state"]),
                     "text/plain": f"<static copy of {marker['name']}>"}}


def kernel_note_output() -> dict[str, Any]:
    """An output saying that the widget above needs a running kernel."""
    return {"output_type": "display_data", "metadata": {},
            "data": {"text/html": f"<p class='cnnlessons-kernel-note'><em>{html.escape(KERNEL_NOTE)}</em></p>",
                     "text/plain": KERNEL_NOTE}}


def for_static_pages(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A cell's outputs as a page without a kernel shows them: static copies in place of the
    closed-form explorers, and a note after any other widget view."""
    shown = []
    for output in outputs:
        copy = static_output(output)
        if copy is not None:
            shown.append(copy)
            continue
        shown.append(output)
        if WIDGET_VIEW in output.get("data", {}):
            shown.append(kernel_note_output())
    return shown


@cache
def _box_class() -> type:
    import ipywidgets as w

    class StaticBox(w.VBox):
        """A ``VBox`` whose display also records how to rebuild it statically (``STATIC_KEY``)."""

        def _repr_mimebundle_(self, **kwargs: Any) -> Any:
            data = super()._repr_mimebundle_(**kwargs)
            name, state = self._cnnlessons_static
            return data, {STATIC_KEY: {"name": name, "state": state()}}

    return StaticBox


def static_box(children: list[Any], name: str, state: Callable[[], Mapping[str, Any]]) -> Any:
    """An ipywidgets ``VBox`` of ``children`` whose output metadata names its static copy
    ``name`` and the state (a JSON-able mapping, read when it is displayed) it starts from."""
    if name not in NAMES:
        raise ValueError(f"no static copy named {name!r}; known: {list(NAMES)}")
    box = _box_class()(children)
    box._cnnlessons_static = (name, lambda: dict(state()))
    return box
