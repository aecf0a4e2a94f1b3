"""Small labelled target datasets for transfer learning, offline and with fixed splits.

Two targets ship with the course, both as ``[-1, 1]`` RGB tensors like ``make_shapes``:

- ``"similar"``: eight procedural shape/texture classes (``SIMILAR_CLASSES``) that the
  pretraining run never sees; the other sixteen (``SOURCE_CLASSES``) are the pretraining
  source. Same kind of images, new classes: CS231n's "similar data" case.
- ``"digits"``: scikit-learn's bundled handwritten digits (1,797 grey 8x8 scans by UCI,
  ``sklearn.datasets.load_digits``, no download), upsampled bilinearly to the model's input
  size and copied to three channels: real images of a different kind ("different data").

Each target has a fixed train pool and a fixed test set (same on every machine). A lesson
holds a fixed validation split out of the training pool (``validation_split``: learning rates
are chosen on it) and draws ``labels_per_class`` training images per class from the rest with
``subsample_indices``.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import torch
import torch.nn.functional as F

from .procedural import CLASS_NAMES, make_shapes

#: Held out of pretraining: each has relatives in the source (ring~disk, hexagon~diamond ...).
SIMILAR_CLASSES: tuple[str, ...] = ("ring", "hexagon", "crescent", "t_shape", "star", "chevron",
                                    "checker", "dots")
#: The pretraining source classes: every procedural class not held out.
SOURCE_CLASSES: tuple[str, ...] = tuple(c for c in CLASS_NAMES if c not in SIMILAR_CLASSES)
#: The offline targets, by name.
OFFLINE_TARGETS: tuple[str, ...] = ("similar", "digits")

# Fixed seeds of the target splits: never the pretraining seeds, so no image is shared.
_SIMILAR_TRAIN_SEED, _SIMILAR_TEST_SEED, _DIGITS_SPLIT_SEED = 1_000_001, 1_000_002, 1_000_003
_VALIDATION_SEED = 1_000_004
#: Training images per class held out for choosing hyperparameters (``validation_split``).
VALIDATION_PER_CLASS = 20


@dataclass(frozen=True)
class TargetData:
    """A target dataset: a training pool and a test set, ``x`` (N, 3, S, S) in ``[-1, 1]``."""

    name: str
    classes: tuple[str, ...]
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    #: What loading did that a student should know (the split, files skipped); empty for the offline targets.
    notes: tuple[str, ...] = ()

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def subsample(self, labels_per_class: int, seed: int = 0) -> "TargetData":
        """The same target with only ``labels_per_class`` training images per class (test unchanged)."""
        x, y = subsample(self.x_train, self.y_train, labels_per_class, seed=seed)
        return replace(self, x_train=x, y_train=y)

    def __repr__(self) -> str:
        return (f"TargetData({self.name!r}, {self.num_classes} classes, train {tuple(self.x_train.shape)}, "
                f"test {tuple(self.x_test.shape)})")


def per_class_indices(y: torch.Tensor, per_class: int | Sequence[int], *, seed: int,
                      at_most: bool = False) -> torch.Tensor:
    """The course's one seeded per-class sampler: sorted indices of ``per_class`` items of every class.

    The items of each class are taken in the order of one permutation of ``range(len(y))``
    seeded with ``seed``, so the same seed and a smaller count give a subset (nested training
    sets). ``per_class`` is one count for every class or a count per class (indexed by label).
    A class with fewer items raises ``ValueError`` unless ``at_most`` (then it gives them all).

    (scikit-learn's ``StratifiedShuffleSplit`` splits *proportionally* to class sizes and its
    subsets do not nest, so it does not give "exactly k of every class, nested".)
    """
    y = torch.as_tensor(y)
    classes = torch.unique(y).tolist()
    wanted = {c: int(per_class) if isinstance(per_class, int) else int(per_class[c]) for c in classes}
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    keep = torch.zeros(len(y), dtype=torch.bool)
    for c in classes:
        members = order[y[order] == c]
        if len(members) < wanted[c] and not at_most:
            raise ValueError(f"class {c} has {len(members)} items, fewer than the {wanted[c]} asked for")
        keep[members[:wanted[c]]] = True
    return keep.nonzero(as_tuple=True)[0]


def subsample_indices(y: torch.Tensor, labels_per_class: int, *, seed: int = 0) -> torch.Tensor:
    """Indices (sorted) of ``labels_per_class`` items of every class, chosen by a permutation seeded with ``seed``.

    A smaller ``labels_per_class`` with the same seed keeps a subset of a larger one (the
    first k of each class in the same permutation, see ``per_class_indices``), so
    accuracy-vs-labels curves compare nested training sets.
    """
    if not isinstance(labels_per_class, int) or isinstance(labels_per_class, bool) or labels_per_class < 1:
        raise ValueError(f"labels_per_class must be an integer >= 1; got {labels_per_class!r}")
    counts = torch.bincount(y)
    smallest = int(counts[counts > 0].min())
    if labels_per_class > smallest:
        raise ValueError(f"labels_per_class={labels_per_class} but the smallest class has only {smallest} "
                         f"training items; valid values: 1 to {smallest}")
    return per_class_indices(y, labels_per_class, seed=seed)


def validation_split(y: torch.Tensor,
                     per_class: int = VALIDATION_PER_CLASS) -> tuple[torch.Tensor, torch.Tensor]:
    """``(rest, validation)``: sorted indices into a training pool ``y``, split with a fixed seed.

    ``validation`` holds ``v = min(per_class, smallest // 4)`` images of every class (at least
    one), where ``smallest`` is the smallest class: a fixed set on which hyperparameters are
    chosen (never the test set). ``rest`` is everything else; labelled subsets are drawn from it.
    """
    counts = torch.bincount(torch.as_tensor(y))
    smallest = int(counts[counts > 0].min())
    if smallest < 2:
        raise ValueError(f"a class has only {smallest} training image(s); a validation split needs at least 2 a class")
    v = max(1, min(per_class, smallest // 4))
    val = per_class_indices(y, v, seed=_VALIDATION_SEED)
    keep = torch.ones(len(y), dtype=torch.bool)
    keep[val] = False
    return keep.nonzero(as_tuple=True)[0], val


def subsample(x: torch.Tensor, y: torch.Tensor, labels_per_class: int, *, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep ``labels_per_class`` items of every class (see ``subsample_indices``), in their original order."""
    idx = subsample_indices(y, labels_per_class, seed=seed)
    return x[idx], y[idx]


def similar_target(size: int = 32, train_per_class: int = 100, test_per_class: int = 100) -> TargetData:
    """The held-out procedural classes: a fixed train pool and test set (their own seeds)."""
    k = len(SIMILAR_CLASSES)
    x_tr, y_tr = make_shapes(k * train_per_class, size=size, classes=SIMILAR_CLASSES, seed=_SIMILAR_TRAIN_SEED)
    x_te, y_te = make_shapes(k * test_per_class, size=size, classes=SIMILAR_CLASSES, seed=_SIMILAR_TEST_SEED)
    return TargetData("similar", SIMILAR_CLASSES, x_tr, y_tr, x_te, y_te)


def digits_target(size: int = 32, test_per_class: int = 50) -> TargetData:
    """scikit-learn's handwritten digits, resized to ``size`` and split with a fixed seed.

    Pixel values 0..16 become ``[-1, 1]``; the grey image is copied to three channels.
    ``test_per_class`` images of each digit form the test set, the rest (124 to 133 a digit)
    the training pool.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32)[:, None] / 16.0       # (1797, 1, 8, 8) in [0, 1]
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    x = ((x - 0.5) / 0.5).expand(-1, 3, -1, -1).contiguous()
    y = torch.tensor(digits.target, dtype=torch.long)
    test = torch.zeros(len(y), dtype=torch.bool)
    test[per_class_indices(y, test_per_class, seed=_DIGITS_SPLIT_SEED)] = True
    classes = tuple(str(d) for d in range(10))
    return TargetData("digits", classes, x[~test], y[~test], x[test], y[test])
