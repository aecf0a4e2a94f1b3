"""Executing lesson notebooks with papermill, safely and reproducibly.

``execute(notebook)`` runs a notebook top to bottom in a fresh kernel and replaces it in
place only when every cell succeeded (the run goes to a temporary file first, so a failure
leaves the committed notebook untouched). It then strips what changes from run to run
(papermill's timestamps and durations, nbclient's execution times, random widget ids), so
re-executing an unchanged notebook leaves ``git status`` clean, and derives from the cells'
tags what each audience sees (``refresh_metadata``: JupyterLab's collapsed cells, the slide
structure, RISE's settings). ``refresh_file(notebook)`` applies only that last step to a
committed notebook, without executing it (``cnnlessons execute --metadata-only``): its outputs
stay byte for byte as they were.
"""
from __future__ import annotations

import base64
import json
import os
import re
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from ..io import atomic_path, atomic_write_bytes, atomic_write_text

VOLATILE_CELL_METADATA = ("papermill", "execution", "ExecuteTime", "collapsed", "scrolled")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


QUIET_ENVIRONMENT = {"TQDM_DISABLE": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}


@contextmanager
def temporary_environment(**values: str) -> Iterator[None]:
    """Set environment variables for the duration of a block, then restore the caller's values.
    Kernels started inside the block inherit them."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# The kernel's own log (ipykernel >= 7 warns at every start that its local TCP sockets are not
# encrypted) is not for students; errors in cells still reach the notebook and the caller.
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR"]


def quiet_environment():
    """While executing lessons: no progress bars (they hold timings) and no debugger warnings
    in committed outputs."""
    return temporary_environment(**QUIET_ENVIRONMENT)


def execute(notebook: str | os.PathLike, output: str | os.PathLike | None = None,
            parameters: dict[str, Any] | None = None, *, cwd: str | os.PathLike | None = None,
            timeout: int = 1800, progress: bool = True, kernel_name: str = "python3",
            keep_failed: str | os.PathLike | None = None) -> Path:
    """Run ``notebook`` with papermill and write the result atomically to ``output``
    (default: in place). ``parameters`` are injected after the ``parameters`` cell; ``None``
    runs at the notebook's defaults. Cells run in ``cwd`` (default: the notebook's folder).

    Raises papermill's ``PapermillExecutionError`` (with the failing cell) on failure, in
    which case ``output`` is not touched; with ``keep_failed``, the failed notebook (holding
    the error) is written to that path instead, as papermill itself does.
    """
    import papermill as pm

    notebook = Path(notebook).resolve()
    output = Path(output).resolve() if output is not None else notebook
    with quiet_environment(), atomic_path(output) as tmp:
        try:
            pm.execute_notebook(
                str(notebook), str(tmp), parameters=parameters or None,
                cwd=str(cwd or notebook.parent), progress_bar=progress,
                execution_timeout=timeout, kernel_name=kernel_name,
                extra_arguments=KERNEL_ARGUMENTS,
            )
        except Exception:
            if keep_failed is not None and tmp.is_file() and tmp.stat().st_size:
                atomic_write_text(keep_failed, dumps(clean(json.loads(tmp.read_text()))))
            raise
        tmp.write_text(dumps(clean(json.loads(tmp.read_text()))))
    return output


# The RISE slideshow (jupyterlab-rise, Alt+R in JupyterLab) of a lesson: the "white" theme, whose
# fonts RISE bundles (its default theme, "simple", fetches fonts from Google: nothing offline), and
# slides that scroll when an output is taller than the screen (RISE shows each cell whole, code
# included, where the decks cut and scale). A lesson's own "rise" metadata wins.
RISE_SETTINGS = {"theme": "white", "scroll": True}


def refresh_metadata(nb: dict) -> dict:
    """A copy of ``nb`` whose metadata says what each audience sees, derived from the cells'
    tags and content and nothing else, so every lesson follows the same rules:

    - JupyterLab's collapsed source and outputs (``cnnlessons.course.tags.apply_view_metadata``:
      ``remove-cell``, ``remove-input``);
    - the slide structure that the decks and RISE read (``cnnlessons.course.slides``);
    - RISE's settings (``RISE_SETTINGS``, unless the lesson has its own);
    - no run-to-run volatile cell metadata (``VOLATILE_CELL_METADATA``).

    Cells' sources and outputs are not touched."""
    from .slides import add_slide_metadata
    from .tags import apply_view_metadata

    nb = add_slide_metadata(nb)
    for cell in nb.get("cells", []):
        apply_view_metadata(cell)
        meta = cell.get("metadata", {})
        for key in VOLATILE_CELL_METADATA:
            meta.pop(key, None)
    nb.setdefault("metadata", {}).setdefault("rise", dict(RISE_SETTINGS))
    return nb


def clean(nb: dict) -> dict:
    """Drop run-to-run volatile metadata (papermill's, nbclient's, the Python patch version),
    merge split stream outputs, give widgets deterministic ids, and derive what each audience
    sees from the cells' tags (``refresh_metadata``)."""
    import nbformat
    from nbconvert.preprocessors import CoalesceStreamsPreprocessor  # merges split prints

    node, _ = CoalesceStreamsPreprocessor().preprocess(nbformat.from_dict(nb), {})
    nb = json.loads(json.dumps(node))
    for cell in nb.get("cells", []):  # stored as Jupyter stores text: a list of lines
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                out["text"] = "".join(out["text"]).splitlines(keepends=True)
    nb.get("metadata", {}).pop("papermill", None)
    nb.get("metadata", {}).get("language_info", {}).pop("version", None)
    return _stable_widget_ids(refresh_metadata(nb))


def refresh_file(notebook: str | os.PathLike) -> bool:
    """Apply ``refresh_metadata`` to a committed notebook in place, without executing it
    (atomically; nothing is written when nothing changes). Returns whether it changed.

    Raises ``RuntimeError`` if the result would differ anywhere but in metadata (a cell's
    source or outputs, or the cells' order), or if the file is not in the form ``execute``
    writes (``dumps``), since writing it would then re-serialise its outputs too: metadata-only
    means exactly that, every other byte as it was."""
    path = Path(notebook)
    before = path.read_text(encoding="utf-8")
    nb = json.loads(before)
    if dumps(nb) != before:
        raise RuntimeError(f"{path.name} is not in the form cnnlessons execute writes (key order, escapes): "
                           "execute it first (cnnlessons execute); nothing written")
    after = refresh_metadata(nb)

    def content(book: dict) -> list:
        return [(c.get("cell_type"), c.get("source"), c.get("outputs"), c.get("execution_count"))
                for c in book.get("cells", [])]
    if content(after) != content(nb):
        raise RuntimeError(f"{path.name}: refreshing the metadata would change a cell's content; nothing written")
    text = dumps(after)
    if text == before:
        return False
    atomic_write_text(path, text)
    return True


def _stable_widget_ids(nb: dict) -> dict:
    """Widget model ids are random UUIDs, and nbclient saves models in no fixed order.

    Walk the models from the displayed views through their ``IPY_MODEL_`` references, rename
    each id by its position in that walk, and drop models nothing displays (e.g. closed ones).
    """
    widgets = nb.get("metadata", {}).get("widgets", {})
    state = widgets.get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    if not state:
        return nb
    order: list[str] = []

    def visit(model_id: str) -> None:
        if model_id in order or model_id not in state:
            return
        order.append(model_id)
        for ref in re.findall(r"IPY_MODEL_([0-9a-f]+)", json.dumps(state[model_id], sort_keys=True)):
            visit(ref)

    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(WIDGET_VIEW)
            if view:
                visit(view.get("model_id", ""))
    kept = {model_id: state[model_id] for model_id in order}
    widgets["application/vnd.jupyter.widget-state+json"]["state"] = kept
    text = json.dumps(nb)
    for i, old in enumerate(order):
        text = text.replace(old, uuid.uuid5(uuid.NAMESPACE_URL, f"cnnlessons-widget-{i}").hex)
    return json.loads(text)


def dumps(nb: dict) -> str:
    """Serialise like Jupyter does (1-space indent, sorted keys, trailing newline). Not
    ``nbformat.writes``: it gives cells without an id a random one, and the output must not vary."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def parameters_cell(nb: dict) -> dict | None:
    """The cell tagged ``parameters``, or ``None``."""
    for cell in nb.get("cells", []):
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            return cell
    return None


def export_figures(notebook: Path, folder: Path) -> list[Path]:
    """Write every PNG output of an executed notebook to ``folder/<stem>/cellNN_K.png``."""
    nb = json.loads(Path(notebook).read_text())
    written = []
    for index, cell in enumerate(nb.get("cells", [])):
        pngs = [out["data"]["image/png"] for out in cell.get("outputs", []) if "image/png" in out.get("data", {})]
        for k, png in enumerate(pngs):
            path = folder / Path(notebook).stem / f"cell{index:02d}_{k}.png"
            atomic_write_bytes(path, base64.b64decode(png))
            written.append(path)
    return written
