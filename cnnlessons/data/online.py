"""Opt-in real data: an image folder, or a torchvision dataset downloaded into ``data/``.

    load_online("cifar10", size=224)          # downloads once into data/online/cifar10
    load_online("/path/to/my_images", size=64)   # ImageFolder layout: one subfolder per class

Only a few images per class are kept (``train_per_class`` / ``test_per_class``, the first ones
in a fixed seeded order), resized to ``size`` x ``size`` and scaled to ``[-1, 1]`` like every
other ``TargetData``. Offline, without the files, ``OfflineError`` names the offline targets.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import torch

from ..paths import data_dir
from .targets import OFFLINE_TARGETS, TargetData

_SPLIT_SEED = 1_000_004


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


def _to_tensor(images: list, size: int) -> torch.Tensor:
    from torchvision.transforms import v2

    transform = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Resize(size, antialias=True),
                            v2.CenterCrop(size)])
    x = torch.stack([transform(img.convert("RGB") if hasattr(img, "convert") else img) for img in images])
    return (x - 0.5) / 0.5


def _pick(labels: list[int], per_class: int) -> list[int]:
    """The first ``per_class`` items of every class in a fixed seeded order, sorted."""
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(_SPLIT_SEED)).tolist()
    taken: dict[int, int] = {}
    keep = []
    for i in order:
        if taken.get(labels[i], 0) < per_class:
            taken[labels[i]] = taken.get(labels[i], 0) + 1
            keep.append(i)
    return sorted(keep)


def _labels(dataset: Any) -> list[int]:
    for attr in ("targets", "_labels", "_bin_labels"):
        if hasattr(dataset, attr):
            return [int(v) for v in getattr(dataset, attr)]
    return [int(dataset[i][1]) for i in range(len(dataset))]


def _subset(dataset: Any, per_class: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    labels = _labels(dataset)
    idx = _pick(labels, per_class)
    x = _to_tensor([dataset[i][0] for i in idx], size)
    return x, torch.tensor([labels[i] for i in idx])


def load_online(name: str, *, size: int = 224, train_per_class: int = 100, test_per_class: int = 50,
                root: str | os.PathLike | None = None) -> TargetData:
    """A torchvision dataset by name (``TORCHVISION``) or an ImageFolder directory, as ``TargetData``.

    A folder with ``train/`` and ``test/`` (or ``val/``) subfolders uses them as the split;
    otherwise one folder's images are split per class with a fixed seed.
    """
    if os.path.isdir(name):
        return _image_folder(Path(name), size, train_per_class, test_per_class)
    if name not in TORCHVISION:
        raise ValueError(f"dataset {name!r} is neither an offline target {list(OFFLINE_TARGETS)}, a torchvision "
                         f"dataset {sorted(TORCHVISION)}, nor an existing folder")
    folder = Path(root if root is not None else online_dir()) / name
    try:
        train, test = (TORCHVISION[name](folder, split, True) for split in (True, False))
    except (OSError, RuntimeError) as exc:  # URLError is an OSError
        raise OfflineError(
            f"could not download {name!r} into {folder} ({type(exc).__name__}: {exc}). It needs the internet once. "
            f"Offline choices: {list(OFFLINE_TARGETS)} (dataset='similar' or 'digits'), or a folder of images "
            "in ImageFolder layout") from exc
    classes = tuple(getattr(train, "classes", [str(c) for c in sorted(set(_labels(train)))]))
    x_tr, y_tr = _subset(train, train_per_class, size)
    x_te, y_te = _subset(test, test_per_class, size)
    return TargetData(name, classes, x_tr, y_tr, x_te, y_te)


def _image_folder(path: Path, size: int, train_per_class: int, test_per_class: int) -> TargetData:
    from torchvision.datasets import ImageFolder

    splits = [path / s for s in ("train", "test", "val") if (path / s).is_dir()]
    if len(splits) >= 2:
        train, test = ImageFolder(splits[0]), ImageFolder(splits[1])
        x_tr, y_tr = _subset(train, train_per_class, size)
        x_te, y_te = _subset(test, test_per_class, size)
        return TargetData(path.name, tuple(train.classes), x_tr, y_tr, x_te, y_te)
    folder = ImageFolder(path)
    labels = _labels(folder)
    test_idx = set(_pick(labels, test_per_class))
    rest = [i for i in range(len(labels)) if i not in test_idx]
    train_idx = [rest[j] for j in _pick([labels[i] for i in rest], train_per_class)]
    x_tr = _to_tensor([folder[i][0] for i in train_idx], size)
    x_te = _to_tensor([folder[i][0] for i in sorted(test_idx)], size)
    return TargetData(path.name, tuple(folder.classes), x_tr, torch.tensor([labels[i] for i in train_idx]),
                      x_te, torch.tensor([labels[i] for i in sorted(test_idx)]))
