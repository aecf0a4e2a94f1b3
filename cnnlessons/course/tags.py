"""Cell tags: what a lesson's cells show to each audience, decided in the notebook itself.

A lesson tags its cells (JupyterLab: the property inspector, "Cell Tags"); nothing else is set by
hand. ``cnnlessons execute`` (``cnnlessons.course.notebooks.clean``) derives from the tags the
metadata each tool reads, in one place: JupyterLab's ``metadata.jupyter`` here
(``view_metadata``), the slide types in ``cnnlessons.course.slides``. The website (Sphinx +
myst-nb) reads the Jupyter Book tags itself.

========================  ===================================  ====================  =========================
tag                       JupyterLab (the student)             website               slide decks and RISE
========================  ===================================  ====================  =========================
``remove-cell``           source and outputs collapsed         removed               skipped
``remove-input``          source collapsed, output shown       output only           output only
``live``                  as usual                             as usual              code shown (run in class)
``slide-notes``           as usual                             as usual              in the speaker notes
``slide-keep``            as usual                             as usual              kept whole on the slide
``slide-skip``            as usual                             as usual              skipped
``slide-new``             as usual                             as usual              starts a new slide
``slide-fragment``        as usual                             as usual              shown on the next key press
========================  ===================================  ====================  =========================

``remove-cell`` is for plumbing (imports, parameter checks, record loading, claims checks);
``remove-input`` for a cell whose output matters but whose code is plumbing (plotting
boilerplate, the claims table). Every cell still runs, and nbval still compares its outputs:
no tag here changes what is executed or tested. The slide tags are overrides; without them
``cnnlessons.course.slides`` decides from the cell's content.
"""
from __future__ import annotations

from typing import Any, Mapping

REMOVE_CELL = "remove-cell"
REMOVE_INPUT = "remove-input"
LIVE = "live"
SLIDE_NOTES = "slide-notes"
SLIDE_KEEP = "slide-keep"
SLIDE_SKIP = "slide-skip"
SLIDE_NEW = "slide-new"
SLIDE_FRAGMENT = "slide-fragment"

HIDING = (REMOVE_CELL, REMOVE_INPUT)
SLIDES = (LIVE, SLIDE_NOTES, SLIDE_KEEP, SLIDE_SKIP, SLIDE_NEW, SLIDE_FRAGMENT)
VOCABULARY = HIDING + SLIDES

# The keys of ``metadata.jupyter`` that the tags decide (JupyterLab collapses the source, the outputs).
VIEW_KEYS = ("source_hidden", "outputs_hidden")


def tags(cell: Mapping[str, Any]) -> set[str]:
    """The cell's tags."""
    return set(cell.get("metadata", {}).get("tags", []))


def view_metadata(cell: Mapping[str, Any]) -> dict[str, bool]:
    """JupyterLab's view of a cell from its tags: ``remove-cell`` collapses the source and the
    outputs, ``remove-input`` the source; any other cell shows both (``{}``)."""
    found = tags(cell)
    if REMOVE_CELL in found:
        return {"source_hidden": True, "outputs_hidden": True}
    if REMOVE_INPUT in found:
        return {"source_hidden": True}
    return {}


def apply_view_metadata(cell: dict[str, Any]) -> dict[str, Any]:
    """Set the cell's ``metadata.jupyter`` collapse flags to what its tags say (in place), so a
    cell collapsed by hand in JupyterLab without a tag opens again, and a tagged one opens
    collapsed. Other keys of ``metadata.jupyter`` are kept. Returns the cell."""
    meta = cell.setdefault("metadata", {})
    jupyter = {k: v for k, v in meta.get("jupyter", {}).items() if k not in VIEW_KEYS}
    jupyter.update(view_metadata(cell))
    if jupyter:
        meta["jupyter"] = jupyter
    else:
        meta.pop("jupyter", None)
    return cell


def code_hidden(cell: Mapping[str, Any]) -> bool:
    """Whether a deck shows the cell's code: only a ``live`` cell's (and never a hidden one's)."""
    found = tags(cell)
    return cell.get("cell_type") == "code" and (LIVE not in found or bool(found & set(HIDING)))
