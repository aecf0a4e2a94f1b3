"""Opt-in real data: a torchvision dataset downloaded into ``data/``, or an image folder.

    load_online("cifar10", size=224)          # downloads once into data/online/cifar10
    load_online("/path/to/my_images", size=64)   # one subfolder per class: see cnnlessons.data.folder

Only a few images per class are kept (``train_per_class`` / ``test_per_class``, the first ones
in a fixed seeded order), resized to ``size`` x ``size`` and scaled to ``[-1, 1]`` like every
other ``TargetData``. A copy already under ``data/online/NAME`` is used as it is (no network);
otherwise the dataset's server is probed first (a few seconds at most) and, offline,
``OfflineError`` names the offline choices at once.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlparse

import torch

from ..paths import data_dir
from .folder import load_folder, to_tensor
from .targets import OFFLINE_TARGETS, TargetData, digits_target, per_class_indices, similar_target

_SPLIT_SEED = 1_000_004


def reachable(url: str, timeout: float = 3.0) -> bool:
    """Whether ``url``'s host accepts a TCP connection within ``timeout`` seconds (no request is sent)."""
    parts = urlparse(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)),
                                      timeout=timeout):
            return True
    except OSError:
        return False


def online_dir() -> Path:
    """Where downloaded datasets are kept (``data/online`` in a checkout)."""
    return data_dir() / "online"


class OfflineError(RuntimeError):
    """The dataset needs a download and the internet is not reachable."""


def _cifar10(root: Path, train: bool, download: bool):
    from torchvision.datasets import CIFAR10
    return CIFAR10(root, train=train, download=download)


def _flowers102(root: Path, train: bool, download: bool):
    from torchvision.datasets import Flowers102
    return Flowers102(root, split="train" if train else "test", download=download)


def _oxford_pets(root: Path, train: bool, download: bool):
    from torchvision.datasets import OxfordIIITPet
    return OxfordIIITPet(root, split="trainval" if train else "test", download=download)


#: torchvision datasets by lesson name.
TORCHVISION: dict[str, Callable[[Path, bool, bool], Any]] = {
    "cifar10": _cifar10, "flowers102": _flowers102, "oxford_pets": _oxford_pets}


def source_url(name: str) -> str:
    """Where torchvision downloads dataset ``name`` from (probed before a download)."""
    from torchvision import datasets

    return {"cifar10": lambda: datasets.CIFAR10.url,
            "flowers102": lambda: datasets.Flowers102._download_url_prefix,
            "oxford_pets": lambda: datasets.OxfordIIITPet._RESOURCES[0][0]}[name]()


def _pick(labels: list[int], per_class: int) -> list[int]:
    """The first ``per_class`` items of every class in a fixed seeded order, sorted (``per_class_indices``)."""
    return per_class_indices(torch.tensor(labels), per_class, seed=_SPLIT_SEED, at_most=True).tolist()


def _labels(dataset: Any) -> list[int]:
    for attr in ("targets", "_labels", "_bin_labels"):
        if hasattr(dataset, attr):
            return [int(v) for v in getattr(dataset, attr)]
    return [int(dataset[i][1]) for i in range(len(dataset))]


def _subset(dataset: Any, per_class: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    labels = _labels(dataset)
    idx = _pick(labels, per_class)
    x = to_tensor([dataset[i][0] for i in idx], size)
    return x, torch.tensor([labels[i] for i in idx])


def _offline_error(name: str, folder: Path, why: str) -> OfflineError:
    return OfflineError(
        f"dataset {name!r} is not in {folder} and cannot be downloaded: {why}. It needs the internet once "
        f"(then it is kept in {folder}). Offline choices: {list(OFFLINE_TARGETS)} (dataset='similar' or "
        "'digits'), or a folder of your own images, one subfolder per class")


def load_torchvision(name: str, *, root: str | os.PathLike | None = None) -> tuple[Any, Any]:
    """The train and test splits of torchvision dataset ``name``: the copy under ``root/name`` if
    torchvision accepts it, else downloaded there (``OfflineError`` at once when the server is unreachable)."""
    folder = Path(root if root is not None else online_dir()) / name
    try:
        return tuple(TORCHVISION[name](folder, split, False) for split in (True, False))
    except (OSError, RuntimeError):  # not there (or incomplete): download
        pass
    url = source_url(name)
    if not reachable(url):
        raise _offline_error(name, folder, f"{urlparse(url).hostname} is not reachable")
    try:
        return tuple(TORCHVISION[name](folder, split, True) for split in (True, False))
    except (OSError, RuntimeError) as exc:  # URLError is an OSError
        raise _offline_error(name, folder, f"{type(exc).__name__}: {exc}") from exc


def load_online(name: str, *, size: int = 224, train_per_class: int = 100, test_per_class: int = 50,
                root: str | os.PathLike | None = None) -> TargetData:
    """A torchvision dataset by name (``TORCHVISION``) or an image folder (``folder.load_folder``), as ``TargetData``."""
    if os.path.isdir(name):
        return load_folder(name, size=size)
    if name not in TORCHVISION:
        raise ValueError(f"dataset {name!r} is neither an offline target {list(OFFLINE_TARGETS)}, a torchvision "
                         f"dataset {sorted(TORCHVISION)}, nor an existing folder")
    train, test = load_torchvision(name, root=root)
    classes = tuple(getattr(train, "classes", [str(c) for c in sorted(set(_labels(train)))]))
    x_tr, y_tr = _subset(train, train_per_class, size)
    x_te, y_te = _subset(test, test_per_class, size)
    return TargetData(name, classes, x_tr, y_tr, x_te, y_te,
                      notes=(f"{name}: the first {train_per_class} training and {test_per_class} test images of "
                             "each class in a fixed seeded order",))


def load_target(name: str, size: int = 32) -> TargetData:
    """An offline target by name (``OFFLINE_TARGETS``), a torchvision dataset name or an image folder.

    Names other than the offline ones go to ``load_online`` (a folder is read by
    ``cnnlessons.data.folder``; a torchvision dataset needs the internet the first time, or the
    data already under ``data/online/``).
    """
    if name == "similar":
        return similar_target(size)
    if name == "digits":
        return digits_target(size)
    return load_online(name, size=size)
