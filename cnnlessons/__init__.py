"""cnnlessons: the helper library of a notebook-first course on CNN architectures.

The core every lesson uses:

- ``get_device``: ``auto`` / ``cpu`` / ``cuda``, never a silent fallback
- ``seed_everything``: one call for reproducible runs
- ``check_parameters``: validate a lesson's papermill parameters before any work
- ``fit`` / ``evaluate`` / ``Batches``: the one training loop
- ``Claims``: the asserted claims table that ends each lesson

Concept modules (import them by name): ``receptive``, ``cost``, ``models``, ``residual``,
``data``, ``zoo``, ``widgets``, ``exercises``.
"""
from .claims import Claims
from .device import DeviceUnavailableError, get_device
from .params import ParameterError, check_parameters
from .seeding import seed_everything
from .train import Batches, History, evaluate, fit

__version__ = "0.1.0"

__all__ = [
    "Batches", "Claims", "DeviceUnavailableError", "History", "ParameterError",
    "check_parameters", "evaluate", "fit", "get_device", "seed_everything",
]
