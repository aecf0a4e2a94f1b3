"""Your own images as a target: a folder with one subfolder per class (ImageFolder layout).

    my_images/
        cats/  img001.jpg  img002.png ...
        dogs/  ...

- Files are read by extension (``IMAGE_SUFFIXES``); anything else (``notes.txt``, ``.DS_Store``,
  hidden files) is ignored and counted. An image that cannot be decoded is skipped and named.
- Every image becomes RGB: grey and palette images are converted, transparent pixels are
  laid over white; then it is resized (short side) and centre-cropped to ``size`` x ``size``
  and scaled to ``[-1, 1]`` like every other ``TargetData``.
- The split: a folder with ``train/`` and ``test/`` (or ``val/``) subfolders uses them.
  Otherwise ``test_fraction`` of each class is held out for testing (at least
  ``min_test_per_class``, at most half the class), chosen with a fixed seed; the rest is the
  training pool (at most ``max_train_per_class`` a class are read).
- Errors name the folder, class or file: a folder with no class subfolders or only one, an
  empty class, a class with fewer than two readable images.

What was done (the split, ignored and skipped files) is in the returned target's ``notes``.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from .targets import TargetData, per_class_indices

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"})
TEST_FRACTION, MIN_TEST_PER_CLASS, MAX_TEST_PER_CLASS, MAX_TRAIN_PER_CLASS = 0.25, 5, 100, 200
_SPLIT_SEED = 1_000_004


class FolderError(ValueError):
    """An image folder cannot be used as a dataset; the message names the folder, class or file."""


def _visible(p: Path) -> bool:
    return not p.name.startswith(".") and p.name != "__MACOSX"


def scan(path: str | os.PathLike) -> tuple[tuple[str, ...], list[Path], list[int], list[Path]]:
    """Classes (sorted subfolder names), image files and their labels, and the ignored non-image files."""
    path = Path(path)
    if not path.is_dir():
        raise FolderError(f"{path} is not a folder")
    classes = tuple(sorted(d.name for d in path.iterdir() if d.is_dir() and _visible(d)))
    if not classes:
        raise FolderError(f"{path} has no class subfolders: put each class's images in its own subfolder "
                          f"({path}/cats/..., {path}/dogs/...)")
    if len(classes) == 1:
        raise FolderError(f"{path} has only one class subfolder ({classes[0]!r}); a classifier needs at least two")
    files, labels, ignored = [], [], []
    for label, name in enumerate(classes):
        found = sorted(f for f in (path / name).rglob("*")
                       if f.is_file() and all(_visible(Path(part)) for part in f.relative_to(path / name).parts))
        images = [f for f in found if f.suffix.lower() in IMAGE_SUFFIXES]
        ignored += [f for f in found if f.suffix.lower() not in IMAGE_SUFFIXES]
        if not images:
            raise FolderError(f"class {name!r} in {path} has no images (files ending in "
                              f"{', '.join(sorted(IMAGE_SUFFIXES))})")
        files += images
        labels += [label] * len(images)
    return classes, files, labels, ignored


def open_rgb(file: Path):
    """``file`` as an RGB PIL image (palette and grey converted, transparency over white)."""
    from PIL import Image

    with Image.open(file) as img:
        img.load()
        if img.mode == "P" and "transparency" in img.info:
            img = img.convert("RGBA")
        if img.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
            rgba = img.convert("RGBA")
            img = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
        return img.convert("RGB")


def to_tensor(images: list, size: int) -> torch.Tensor:
    """PIL images (any sizes) -> (N, 3, size, size) in ``[-1, 1]``: short side resized to ``size``, centre crop."""
    from torchvision.transforms import v2

    transform = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Resize(size, antialias=True),
                            v2.CenterCrop(size)])
    x = torch.stack([transform(img.convert("RGB") if hasattr(img, "convert") else img) for img in images])
    return (x.clamp(0, 1) - 0.5) / 0.5


def _decode(files: list[Path], labels: list[int], size: int, skipped: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    images, kept = [], []
    for f, y in zip(files, labels):
        try:
            images.append(open_rgb(f))
            kept.append(y)
        except Exception as exc:  # noqa: BLE001  PIL raises many kinds; a bad file must never stop the lesson
            skipped.append(f"{f} ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'unreadable'})")
    if not images:
        return torch.zeros(0, 3, size, size), torch.zeros(0, dtype=torch.long)
    return to_tensor(images, size), torch.tensor(kept)


def held_out_counts(class_sizes: list[int], test_fraction: float = TEST_FRACTION, min_test: int = MIN_TEST_PER_CLASS,
                max_test: int = MAX_TEST_PER_CLASS) -> list[int]:
    """Test images held out of each class: ``test_fraction`` of it, at least ``min_test``, at most half
    the class (so training keeps the other half) and at most ``max_test``."""
    return [min(max(min_test, round(test_fraction * n)), n // 2, max_test) for n in class_sizes]


def load_folder(path: str | os.PathLike, *, size: int = 32, test_fraction: float = TEST_FRACTION,
                min_test_per_class: int = MIN_TEST_PER_CLASS, max_test_per_class: int = MAX_TEST_PER_CLASS,
                max_train_per_class: int = MAX_TRAIN_PER_CLASS) -> TargetData:
    """An image folder as ``TargetData`` (see the module docstring for the layout, conversion and split)."""
    path = Path(path)
    splits = [path / s for s in ("train", "test", "val") if (path / s).is_dir()]
    if len(splits) >= 2:
        return _presplit(path, splits[0], splits[1], size, max_train_per_class, max_test_per_class)
    classes, files, labels, ignored = scan(path)
    y = torch.tensor(labels)
    sizes = torch.bincount(y, minlength=len(classes)).tolist()
    small = [f"{c!r} ({n})" for c, n in zip(classes, sizes) if n < 2]
    if small:
        raise FolderError(f"in {path}, class {', '.join(small)} has fewer than 2 images: each class needs at least "
                          "one to train on and one to test on (a few dozen to compare strategies)")
    n_test = held_out_counts(sizes, test_fraction, min_test_per_class, max_test_per_class)
    test_idx = per_class_indices(y, n_test, seed=_SPLIT_SEED)
    rest = torch.ones(len(y), dtype=torch.bool)
    rest[test_idx] = False
    rest_idx = rest.nonzero(as_tuple=True)[0]
    train_idx = rest_idx[per_class_indices(y[rest_idx], max_train_per_class, seed=_SPLIT_SEED, at_most=True)]
    notes = [f"{path}: {len(classes)} classes, {len(files)} image files; held out for testing: "
             f"{test_fraction:.0%} of each class (at least {min_test_per_class}, at most half the class and "
             f"{max_test_per_class}), chosen with a fixed seed"]
    if ignored:
        notes.append(f"ignored {len(ignored)} file(s) that are not images: "
                     + ", ".join(str(f.relative_to(path)) for f in ignored[:5]) + (" ..." if len(ignored) > 5 else ""))
    skipped: list[str] = []
    x_tr, y_tr = _decode([files[i] for i in train_idx], [labels[i] for i in train_idx], size, skipped)
    x_te, y_te = _decode([files[i] for i in test_idx], [labels[i] for i in test_idx], size, skipped)
    return _finish(path, classes, x_tr, y_tr, x_te, y_te, notes, skipped)


def _presplit(path: Path, train: Path, test: Path, size: int, max_train: int, max_test: int) -> TargetData:
    classes, files, labels, ignored = scan(train)
    test_classes, test_files, test_labels, test_ignored = scan(test)
    if test_classes != classes:
        raise FolderError(f"{train} and {test} have different class subfolders: {list(classes)} vs "
                          f"{list(test_classes)}")
    notes = [f"{path}: {len(classes)} classes; split given by {train.name}/ ({len(files)} images) and "
             f"{test.name}/ ({len(test_files)} images); read at most {max_train} training and {max_test} test "
             "images a class"]
    if ignored or test_ignored:
        notes.append(f"ignored {len(ignored) + len(test_ignored)} file(s) that are not images")
    skipped: list[str] = []
    tr = per_class_indices(torch.tensor(labels), max_train, seed=_SPLIT_SEED, at_most=True).tolist()
    te = per_class_indices(torch.tensor(test_labels), max_test, seed=_SPLIT_SEED, at_most=True).tolist()
    x_tr, y_tr = _decode([files[i] for i in tr], [labels[i] for i in tr], size, skipped)
    x_te, y_te = _decode([test_files[i] for i in te], [test_labels[i] for i in te], size, skipped)
    return _finish(path, classes, x_tr, y_tr, x_te, y_te, notes, skipped)


def _finish(path: Path, classes: tuple[str, ...], x_tr: torch.Tensor, y_tr: torch.Tensor, x_te: torch.Tensor,
            y_te: torch.Tensor, notes: list[str], skipped: list[str]) -> TargetData:
    if skipped:
        notes.append(f"skipped {len(skipped)} file(s) that could not be read as images: " + "; ".join(skipped))
    n_tr = torch.bincount(y_tr, minlength=len(classes)).tolist()
    n_te = torch.bincount(y_te, minlength=len(classes)).tolist()
    for c, a, b in zip(classes, n_tr, n_te):
        if a == 0 or b == 0:
            raise FolderError(f"class {c!r} in {path} has {a} readable training and {b} test images; it needs at "
                              "least one of each")
    notes.append("per class (train/test): " + ", ".join(f"{c} {a}/{b}" for c, a, b in zip(classes, n_tr, n_te)))
    return TargetData(path.resolve().name, classes, x_tr, y_tr, x_te, y_te, notes=tuple(notes))
