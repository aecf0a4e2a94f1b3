"""Where the course's files live: in a git checkout, or inside an installed wheel.

Read-only course files (the lesson notebooks, the shipped model zoo) are found in this order:

1. ``$CNNLESSONS_HOME`` if set (a folder holding ``notebooks/`` and ``data/zoo/``);
2. the checkout the package was imported from (``ROOT/cnnlessons/`` beside ``ROOT/notebooks/``);
3. the copy a wheel carries as package data (``cnnlessons/_course/``).

Writable places (build outputs, downloaded datasets, training checkpoints) are under the
checkout (``build/``, ``data/``) or, for an installed package, under the current directory's
``build/`` and the user cache (``$XDG_CACHE_HOME/cnnlessons``, by default ``~/.cache/cnnlessons``).
"""
from __future__ import annotations

import os
from functools import cache
from importlib import resources
from pathlib import Path

HOME_ENV = "CNNLESSONS_HOME"
_PACKAGE = Path(__file__).resolve().parent


def _is_course(folder: Path) -> bool:
    return (folder / "notebooks").is_dir() and (folder / "data" / "zoo").is_dir()


@cache
def checkout() -> Path | None:
    """The repository root when the package runs from a checkout (editable install), else None."""
    root = _PACKAGE.parent
    return root if _is_course(root) and (root / "pyproject.toml").is_file() else None


def course_root() -> Path:
    """The folder holding ``notebooks/`` and ``data/zoo/`` (see the module docstring for the order)."""
    if os.environ.get(HOME_ENV):
        home = Path(os.environ[HOME_ENV]).expanduser()
        if not _is_course(home):
            raise FileNotFoundError(f"{HOME_ENV}={home} does not hold notebooks/ and data/zoo/")
        return home
    if checkout() is not None:
        return checkout()
    packaged = Path(str(resources.files("cnnlessons") / "_course"))
    if _is_course(packaged):
        return packaged
    raise FileNotFoundError("cannot find the course files: not a checkout, and the installed package "
                            f"has no cnnlessons/_course/; set {HOME_ENV} to a checkout")


def notebooks_dir() -> Path:
    """The lesson notebooks (``NN_name.ipynb``)."""
    return course_root() / "notebooks"


def zoo_dir() -> Path:
    """The shipped pretrained models (``NAME.pt`` + ``NAME.json`` manifest)."""
    return course_root() / "data" / "zoo"


def build_dir() -> Path:
    """Where outputs go: the checkout's ``build/``, else ``./build`` in the current directory."""
    root = checkout()
    return (root if root is not None else Path.cwd()) / "build"


def data_dir() -> Path:
    """Writable data (downloads, caches, checkpoints): the checkout's ``data/``, else the user cache."""
    root = checkout()
    if root is not None:
        return root / "data"
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache_home / "cnnlessons"
