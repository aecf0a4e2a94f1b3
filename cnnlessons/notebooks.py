"""Executing lesson notebooks with papermill, safely and reproducibly.

``execute(notebook)`` runs a notebook top to bottom in a fresh kernel and replaces it in
place only when every cell succeeded (the run goes to a temporary file first, so a failure
leaves the committed notebook untouched). It then strips what changes from run to run
(papermill's timestamps and durations, nbclient's execution times, random widget ids), so
re-executing an unchanged notebook leaves ``git status`` clean.
"""
from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

from .io import atomic_path

VOLATILE_CELL_METADATA = ("papermill", "execution", "ExecuteTime", "collapsed", "scrolled")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def quiet_environment() -> dict[str, str]:
    """Environment for executing lessons: no progress bars (they hold timings) and no
    stray warnings from the plotting cache in committed outputs."""
    env = {"TQDM_DISABLE": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    os.environ.update(env)
    return env


def execute(notebook: str | os.PathLike, output: str | os.PathLike | None = None,
            parameters: dict[str, Any] | None = None, *, cwd: str | os.PathLike | None = None,
            timeout: int = 1800, progress: bool = True, kernel_name: str = "python3") -> Path:
    """Run ``notebook`` with papermill and write the result atomically to ``output``
    (default: in place). ``parameters`` are injected after the ``parameters`` cell; ``None``
    runs at the notebook's defaults. Cells run in ``cwd`` (default: the notebook's folder).

    Raises papermill's ``PapermillExecutionError`` (with the failing cell) on failure, in
    which case ``output`` is not touched.
    """
    import papermill as pm

    quiet_environment()
    notebook = Path(notebook).resolve()
    output = Path(output).resolve() if output is not None else notebook
    with atomic_path(output) as tmp:
        pm.execute_notebook(
            str(notebook), str(tmp), parameters=parameters or None,
            cwd=str(cwd or notebook.parent), progress_bar=progress,
            execution_timeout=timeout, kernel_name=kernel_name,
        )
        nb = json.loads(tmp.read_text())
        tmp.write_text(dumps(clean(nb)))
    return output


def clean(nb: dict) -> dict:
    """Drop run-to-run volatile metadata, give widgets deterministic ids, and give every cell
    reveal.js slide metadata (``cnnlessons.slides``) so each lesson is also a slide deck."""
    from .slides import add_slide_metadata

    nb = add_slide_metadata(nb)
    for cell in nb.get("cells", []):
        if "outputs" in cell:
            cell["outputs"] = _coalesce_streams(cell["outputs"])
    nb.get("metadata", {}).pop("papermill", None)
    for cell in nb.get("cells", []):
        meta = cell.get("metadata", {})
        for key in VOLATILE_CELL_METADATA:
            meta.pop(key, None)
    return _stable_widget_ids(nb)


def _coalesce_streams(outputs: list[dict]) -> list[dict]:
    """Merge consecutive stdout (or stderr) outputs into one. How the kernel's prints are split
    into messages depends on timing; merged, the same prints always give the same JSON."""
    merged: list[dict] = []
    for out in outputs:
        previous = merged[-1] if merged else None
        if (out.get("output_type") == "stream" and previous is not None
                and previous.get("output_type") == "stream" and previous.get("name") == out.get("name")):
            text = "".join(previous["text"]) + "".join(out["text"])
            previous["text"] = text.splitlines(keepends=True)
        else:
            merged.append(dict(out))
    return merged


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
    """Serialise like Jupyter does (1-space indent, sorted keys, trailing newline)."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def parameters_cell(nb: dict) -> dict | None:
    """The cell tagged ``parameters``, or ``None``."""
    for cell in nb.get("cells", []):
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            return cell
    return None


def default_parameters(notebook: str | os.PathLike) -> dict[str, Any]:
    """The names and default values assigned in a notebook's ``parameters`` cell."""
    import ast

    nb = json.loads(Path(notebook).read_text())
    cell = parameters_cell(nb)
    if cell is None:
        raise ValueError(f"{notebook}: no cell is tagged 'parameters'")
    values: dict[str, Any] = {}
    for node in ast.parse("".join(cell["source"])).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            values[node.targets[0].id] = ast.literal_eval(node.value)
    return values
