"""The transfer lesson's data: procedural source, offline targets, subsampling, opt-in online data."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnlessons.data import (CLASS_NAMES, SIMILAR_CLASSES, SOURCE_CLASSES, digits_target, make_shapes,
                             per_class_indices, similar_target, subsample, subsample_indices)
from cnnlessons.data import online


def test_same_seed_same_images_other_seed_other_images():
    a, ya = make_shapes(64, size=16, seed=3)
    b, yb = make_shapes(64, size=16, seed=3)
    c, _ = make_shapes(64, size=16, seed=4)
    assert torch.equal(a, b) and torch.equal(ya, yb)
    assert not torch.equal(a, c)


def test_similar_classes_are_held_out_of_the_source():
    assert set(SIMILAR_CLASSES).isdisjoint(SOURCE_CLASSES)
    assert set(SIMILAR_CLASSES) | set(SOURCE_CLASSES) == set(CLASS_NAMES)
    assert len(SOURCE_CLASSES) == 16 and len(SIMILAR_CLASSES) == 8


def test_similar_target_is_fixed_and_balanced():
    t1, t2 = similar_target(16, train_per_class=6, test_per_class=4), similar_target(16, train_per_class=6,
                                                                                     test_per_class=4)
    assert torch.equal(t1.x_train, t2.x_train) and torch.equal(t1.x_test, t2.x_test)
    assert t1.x_train.shape == (48, 3, 16, 16) and t1.x_test.shape == (32, 3, 16, 16)
    assert torch.bincount(t1.y_train).tolist() == [6] * 8
    assert not torch.equal(t1.x_train[:32], t1.x_test)  # train and test use different seeds


def test_digits_are_sklearns_images_scaled_to_minus_one_one():
    from sklearn.datasets import load_digits

    d = load_digits()
    t = digits_target(size=8)  # bilinear resize to the same size is the identity
    assert len(t.y_train) + len(t.y_test) == len(d.target) == 1797
    assert torch.bincount(t.y_test).tolist() == [50] * 10
    reference = {img.tobytes() for img in (d.images / 16.0 * 2 - 1).astype(np.float32)}
    got = {img.tobytes() for img in t.x_test[:, 0].numpy()}
    assert got <= reference
    assert torch.equal(t.x_test[:, 0], t.x_test[:, 2])  # grey copied to three channels
    assert digits_target(size=16).x_train.shape[1:] == (3, 16, 16)
    train = {img.tobytes() for img in t.x_train[:, 0].numpy()}
    assert len(train & got) <= 1  # (a duplicated scan in the dataset would be the only overlap)


def test_subsample_counts_nesting_and_errors():
    y = torch.arange(30) % 3
    x = torch.arange(30).float()
    xs, ys = subsample(x, y, 4, seed=1)
    assert torch.bincount(ys).tolist() == [4, 4, 4]
    assert torch.equal(y[xs.long()], ys)
    small, large = subsample_indices(y, 2, seed=5), subsample_indices(y, 6, seed=5)
    assert set(small.tolist()) <= set(large.tolist())
    assert not torch.equal(subsample_indices(y, 2, seed=5), subsample_indices(y, 2, seed=6))
    with pytest.raises(ValueError, match="labels_per_class=11.*1 to 10"):
        subsample(x, y, 11)
    with pytest.raises(ValueError, match="labels_per_class"):
        subsample(x, y, 0)


def test_target_subsample_keeps_the_test_set():
    t = similar_target(16, train_per_class=5, test_per_class=2)
    s = t.subsample(3, seed=0)
    assert len(s.y_train) == 24 and torch.equal(s.x_test, t.x_test)


def test_unknown_dataset_name_lists_the_choices():
    with pytest.raises(ValueError, match="neither"):
        online.load_online("imagenet-21k", size=8)


def test_digits_split_and_subsample_use_the_one_per_class_sampler():
    """digits' test split is ``per_class_indices`` with its fixed seed (the lesson's numbers unchanged)."""
    from sklearn.datasets import load_digits

    y = torch.tensor(load_digits().target)
    test = per_class_indices(y, 50, seed=1_000_003)
    t = digits_target(size=8)
    assert torch.equal(t.y_test, y[test])
    assert torch.equal(subsample_indices(y, 7, seed=2), per_class_indices(y, 7, seed=2))


def test_image_folder_is_loaded_resized_and_split(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls, value in (("cats", 30), ("dogs", 220)):
        (tmp_path / cls).mkdir()
        for i in range(8):
            pixels = np.full((20, 12, 3), value, dtype=np.uint8) + rng.integers(0, 5, (20, 12, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / cls / f"{i}.png")
    t = online.load_online(str(tmp_path), size=8)
    assert t.classes == ("cats", "dogs")
    assert t.x_train.shape == (8, 3, 8, 8) and t.x_test.shape == (8, 3, 8, 8)  # 8 a class: 4 held out (half)
    assert torch.bincount(t.y_train).tolist() == [4, 4]
    dark = t.x_train[t.y_train == 0].mean().item()
    assert abs(dark - (32 / 255 * 2 - 1)) < 0.05  # pixels 30..34 -> about 32/255 scaled to [-1, 1]
