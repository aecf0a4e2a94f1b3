"""cnnlessons: the helper library of a notebook-first course on CNN architectures.

The core every lesson uses:

- ``get_device``: ``auto`` / ``cpu`` / ``cuda``, never a silent fallback
- ``seed_everything``: one call for reproducible runs
- ``fit`` / ``evaluate`` / ``Batches``: the one training loop
- ``Claims``: the asserted claims table that ends each lesson

The rest, by concept (see the README's Layout section): ``models``, ``analysis`` (receptive
fields, cost), ``experiments`` (identity, degradation, recipe, transfer, architectures), ``data``,
``zoo``, ``widgets``, ``exercises``, and ``course`` (lessons, notebooks, slides, the CLI).
"""
from .claims import Claims
from .device import DeviceUnavailableError, get_device
from .params import ParameterError
from .seeding import seed_everything
from .train import Batches, History, evaluate, fit

__version__ = "0.1.0"

__all__ = [
    "Batches", "Claims", "DeviceUnavailableError", "History", "ParameterError",
    "diagram", "evaluate", "fit", "get_device", "seed_everything",
]


def __getattr__(name: str):  # noqa: ANN202 (PEP 562)
    """``cnnlessons.diagram`` (``cnnlessons.analysis.diagram.diagram``), loaded on first use:
    the core itself does not import the analysis package."""
    if name == "diagram":
        import importlib

        return importlib.import_module("cnnlessons.analysis.diagram").diagram
    raise AttributeError(f"module 'cnnlessons' has no attribute {name!r}")
