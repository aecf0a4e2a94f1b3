"""Glyph images: deterministic, well-formed, learnable, and clear of the transfer targets."""
from __future__ import annotations

import pytest
import torch

from cnnlessons.data import SHAPES, SIMILAR_CLASSES, make_glyphs
from cnnlessons.data.glyphs import (EXCLUDED, FONTS, GLYPH_CLASSES, GLYPHS, RES, atlas_digest, code_point, font_dir,
                                    fonts_for, glyph_atlas)


def test_same_seed_same_images_other_seed_other_images():
    a, ya = make_glyphs(96, seed=3)
    b, yb = make_glyphs(96, seed=3)
    c, yc = make_glyphs(96, seed=4)
    assert torch.equal(a, b) and torch.equal(ya, yb)
    assert not torch.equal(a, c)


def test_shapes_dtypes_balance_and_range():
    x, y = make_glyphs(3 * len(GLYPH_CLASSES) + 5, size=20, seed=0)
    assert x.shape == (3 * len(GLYPH_CLASSES) + 5, 3, 20, 20) and x.dtype == torch.float32
    assert y.dtype == torch.int64 and int(y.min()) >= 0 and int(y.max()) < len(GLYPH_CLASSES)
    counts = torch.bincount(y, minlength=len(GLYPH_CLASSES))
    assert int(counts.min()) == 3 and int(counts.max()) == 4
    clean, _ = make_glyphs(200, seed=1, noise=0.0)
    assert clean.min() >= -1 and clean.max() <= 1           # colours in [0, 1] become [-1, 1]
    assert abs(float(x.mean())) < 0.3 and 0.2 < float(x.std()) < 1.0


def test_every_glyph_is_visible():
    """Without noise each image holds its foreground and its background: the glyph is in the frame."""
    x, _ = make_glyphs(500, seed=2, noise=0.0)
    spread = x.flatten(1).max(1).values - x.flatten(1).min(1).values
    assert float(spread.min()) > 0.3


def test_a_subset_of_classes_is_labelled_within_the_subset():
    x, y = make_glyphs(40, classes=("heart", "A"), seed=0)
    assert set(y.tolist()) == {0, 1}


def test_glyph_images_are_learnable():
    """A linear classifier on the raw pixels of five classes beats chance (0.2) by far: the label is in the image."""
    from sklearn.linear_model import LogisticRegression

    classes = ("A", "heart", "numbersign", "Omega", "m")
    x, y = make_glyphs(3000, size=16, classes=classes, seed=0)
    xt, yt = make_glyphs(500, size=16, classes=classes, seed=1)

    def ink(t: torch.Tensor) -> "numpy.ndarray":  # grey, with the glyph bright whatever its colours
        grey = t.mean(1).flatten(1)
        return (grey - grey.median(1, keepdim=True).values).abs().numpy()

    clf = LogisticRegression(max_iter=3000).fit(ink(x), y.numpy())
    assert clf.score(ink(xt), yt.numpy()) > 0.5


def test_no_class_is_a_digit_or_a_digit_look_alike():
    chars = set(GLYPHS.values())
    assert not chars & set("0123456789")
    assert not chars & set("OoIilSsZzBbGgqQ")
    assert not chars & set(EXCLUDED)
    assert len(set(GLYPHS.values())) == len(GLYPHS) == len(GLYPH_CLASSES)
    assert 50 <= len(GLYPH_CLASSES) <= 90


def test_held_out_shapes_stay_out():
    assert not set(GLYPH_CLASSES) & set(SHAPES)
    assert not set(GLYPH_CLASSES) & set(SIMILAR_CLASSES)
    # the near-copies of held-out shapes: T (t_shape), V and Lambda (chevron), C (crescent), star, dots
    assert not set(GLYPHS.values()) & set("TVC\u039b\u2605*:")


def test_fonts_ship_with_matplotlib_and_cover_every_class():
    assert all((font_dir() / f).is_file() for f in FONTS)
    assert min(len(fonts_for(name)) for name in GLYPH_CLASSES) >= 12


def test_computer_modern_glyphs_are_found_by_name_not_code_point():
    # cmr10 keeps its capital Gamma at U+00A1 (TeX's encoding) and a Theta where Unicode has the pound sign
    assert code_point("Gamma", "cmr10.ttf") not in (None, ord("\u0393"))
    assert code_point("sterling", "cmr10.ttf") is None
    assert code_point("A", "DejaVuSans.ttf") == ord("A")
    with pytest.raises(ValueError, match="unknown glyph class"):
        fonts_for("seven")


def test_atlas_masks_fill_their_box():
    atlas = glyph_atlas()
    assert atlas.masks.shape[1:] == (RES, RES)
    assert len(atlas.masks) == sum(len(fonts_for(n)) for n in GLYPH_CLASSES)
    ink = atlas.masks > 0.5
    index = torch.arange(RES)

    def span(hit: torch.Tensor) -> torch.Tensor:  # first to last inked row (or column), inclusive
        return torch.where(hit, index, -1).max(1).values - torch.where(hit, index, RES).min(1).values + 1

    extent = torch.maximum(span(ink.any(2)), span(ink.any(1)))
    assert int(extent.min()) >= RES - 6  # the longer side spans the mask (less anti-aliased edge pixels)
    assert torch.equal(atlas.owner[atlas.start], torch.arange(len(GLYPH_CLASSES)))
    assert len(atlas_digest()) == 64 and atlas_digest() == atlas_digest()


def test_bad_requests_fail_clearly():
    with pytest.raises(ValueError, match="unknown glyph classes"):
        make_glyphs(4, classes=("A", "seven"))
    with pytest.raises(ValueError, match="repeat"):
        make_glyphs(4, classes=("A", "A"))
    with pytest.raises(ValueError, match="n >= 1"):
        make_glyphs(0)
