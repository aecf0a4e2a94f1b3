"""The whole-zoo table, measured once and shipped with the course.

Measuring all of torchvision's classifiers (``architectures.zoo_row`` for each: build, count,
receptive field) takes about a minute on a laptop CPU, so the course ships the result:
``zoo_table.json`` next to this module, written by the course's own command::

    python -m cnnlessons.experiments.zoo_table        # or: make zoo-table

It records the torch and torchvision versions it was measured with. ``cached_zoo()`` returns
its rows when this torchvision is the one it was made with (the published figures in each row
are torchvision's own metadata, so they belong to that version). It never measures in its
place: a missing table, a table made with another torchvision, or a model the table lacks is a
``ZooTableError`` saying to run ``make zoo-table`` (or to measure live with ``zoo()``, lesson
06's ``zoo="live"``). ``tests/test_zoo_models.py`` measures every model live and checks the
shipped table against it.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict, fields
from importlib import resources
from pathlib import Path
from typing import Sequence

import torch
import torchvision

from ..io import atomic_write_text
from .architectures import ZooRow, zoo, zoo_names

TABLE = "zoo_table.json"
REMAKE = "make zoo-table (python -m cnnlessons.experiments.zoo_table, about a minute)"


class ZooTableError(RuntimeError):
    """The shipped zoo table is missing, or does not fit this torchvision or the models asked for."""


def table_path() -> Path:
    """Where the shipped table lives (inside the package, so a wheel carries it)."""
    return Path(str(resources.files("cnnlessons.experiments") / TABLE))


def load_table(path: Path | None = None) -> dict:
    """The shipped table: ``{"command": ..., "torch": ..., "torchvision": ..., "rows": {name: row
    fields}}``. A missing file is a ``ZooTableError`` naming ``make zoo-table``."""
    path = path or table_path()
    if not path.is_file():
        raise ZooTableError(f"no zoo table at {path}: make it with {REMAKE}, or measure live with zoo()")
    return json.loads(path.read_text())


def table_matches_torchvision(table: dict | None = None) -> bool:
    """Whether the shipped table was measured with this torchvision release (its CPU and CUDA
    builds, ``0.29.1+cpu`` and ``0.29.1+cu130``, have the same models)."""
    table = load_table() if table is None else table
    return table.get("torchvision") is not None and _release(table["torchvision"]) == _release(torchvision.__version__)


def _release(version: str) -> str:
    """``0.29.1+cu130`` -> ``0.29.1``: the release, without the build's local tag."""
    return str(version).split("+")[0]


def cached_zoo(names: Sequence[str] | None = None) -> list[ZooRow]:
    """``zoo(names)`` (every zoo model by default) read from the shipped table, in ``names``'
    order. Raises ``ZooTableError`` when the table is missing, was made with another torchvision
    release, or lacks a model asked for: re-make it with ``make zoo-table``."""
    table = load_table()
    if not table_matches_torchvision(table):
        raise ZooTableError(f"the shipped zoo table was measured with torchvision {table.get('torchvision')}; this "
                            f"is {torchvision.__version__}, whose models and published figures may differ: "
                            f"re-make it with {REMAKE}, or measure live with zoo()")
    wanted = zoo_names() if names is None else list(names)
    missing = [n for n in wanted if n not in table["rows"]]
    if missing:
        raise ZooTableError(f"the shipped zoo table has no row for {missing}: re-make it with {REMAKE}, or measure "
                            "live with zoo()")
    known = {f.name for f in fields(ZooRow)}
    return [ZooRow(**{k: v for k, v in table["rows"][n].items() if k in known}) for n in wanted]


def write_table(path: Path | None = None, names: Sequence[str] | None = None) -> Path:
    """Measure every zoo model live and write the table (atomically: an interrupted run leaves
    the old table in place)."""
    path = path or table_path()
    rows = zoo(names)
    table = {"command": "python -m cnnlessons.experiments.zoo_table", "torch": torch.__version__,
             "torchvision": torchvision.__version__, "rows": {r.name: asdict(r) for r in rows}}
    atomic_write_text(path, json.dumps(table, indent=1) + "\n")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cnnlessons.experiments.zoo_table",
                                     description="Measure every torchvision classifier and write the shipped table.")
    parser.add_argument("--output", type=Path, default=None, help=f"where to write (default: the package's {TABLE})")
    args = parser.parse_args(argv)
    path = write_table(args.output)
    print(f"wrote {path} ({len(load_table(path)['rows'])} models, torchvision {torchvision.__version__})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
