"""Choosing where tensors live: ``auto``, ``cpu``, ``cuda`` (and ``mps`` on Apple silicon).

Asking for a device that is not there is an error, never a silent fallback to the CPU:
a lesson that claims to have run on a GPU must really have run on one.
"""
from __future__ import annotations

import os

import torch

DEVICE_CHOICES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")
ENV_VAR = "CNNLESSONS_DEVICE"

# Every device type get_device has handed out in this process; the GPU test mode reads it (via the
# claims report) to check that a lesson really ran on CUDA.
_USED: set[str] = set()


class DeviceUnavailableError(RuntimeError):
    """The requested device exists as a name but not on this machine."""


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def get_device(preference: str = "auto") -> torch.device:
    """Return the ``torch.device`` to run on.

    ``preference`` is one of ``auto``, ``cpu``, ``cuda`` (or ``cuda:N``), ``mps``.
    ``auto`` first honours the ``CNNLESSONS_DEVICE`` environment variable (so a whole test
    run can be switched to the GPU), then picks CUDA, then MPS, then the CPU.

    Raises ``ValueError`` for an unknown name and ``DeviceUnavailableError`` when the device
    is known but missing here.
    """
    if not isinstance(preference, str):
        raise ValueError(f"device must be a string, one of {list(DEVICE_CHOICES)}; got {preference!r}")
    name = preference.strip().lower()
    if name == "auto":
        env = os.environ.get(ENV_VAR, "").strip().lower()
        if env and env != "auto":
            return _note(_resolve(env, source=f"the environment variable {ENV_VAR}"))
        if torch.cuda.is_available():
            return _note(torch.device("cuda"))
        if _mps_available():
            return _note(torch.device("mps"))
        return _note(torch.device("cpu"))
    return _note(_resolve(name, source="device"))


def _note(device: torch.device) -> torch.device:
    _USED.add(device.type)
    return device


def devices_used() -> list[str]:
    """The device types (``cpu``, ``cuda``, ...) that ``get_device`` has returned in this process."""
    return sorted(_USED)


def _resolve(name: str, source: str) -> torch.device:
    base, _, index = name.partition(":")
    if base not in DEVICE_CHOICES or base == "auto" or (index and not index.isdigit()):
        raise ValueError(
            f"{source}={name!r} is not a valid device; valid choices are {list(DEVICE_CHOICES)}"
            " (or 'cuda:N' for a specific GPU)"
        )
    if base == "cuda":
        if not torch.cuda.is_available():
            raise DeviceUnavailableError(
                f"{source}={name!r} was requested but CUDA is not available on this machine "
                f"(torch {torch.__version__}); use device='cpu' or 'auto' to run on the CPU"
            )
        if index and int(index) >= torch.cuda.device_count():
            raise DeviceUnavailableError(
                f"{source}={name!r}: only {torch.cuda.device_count()} CUDA device(s) are present"
            )
    if base == "mps" and not _mps_available():
        raise DeviceUnavailableError(
            f"{source}={name!r} was requested but Apple's MPS backend is not available here; "
            "use device='cpu' or 'auto'"
        )
    return torch.device(name)
