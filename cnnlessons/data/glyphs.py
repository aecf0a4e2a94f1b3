"""Glyph images: letters and symbols rendered from the fonts that ship inside matplotlib, offline.

A pretraining source needs many classes of varied images. Besides the procedural shapes
(``make_shapes``) the course renders *glyphs*: each class is one character (a Latin or Greek
letter, or a symbol), drawn in any of 22 typefaces that every matplotlib installation carries
(``matplotlib/mpl-data/fonts/ttf``: DejaVu Sans, Sans Mono and Serif in four styles each,
STIX General in four, and Knuth's Computer Modern roman, sans, typewriter, italic, bold and
math italic), so the images are the same on every machine, without a download.

How an image is made (``make_glyphs``):

1. **Atlas.** Once per process, every (class, font) pair the font covers is rendered with
   Pillow at 96 px, cropped to its ink and scaled (aspect kept) so its longer side spans a
   ``RES x RES`` mask ``m(u, v)`` on ``[-1, 1]^2`` (``glyph_atlas``).
2. **Pose.** Each image draws a font among those covering its class, and a random affine map
   from image to glyph coordinates: scale ``s`` (the glyph's half-width as a fraction of the
   image's), aspect ``a``, rotation ``theta`` (small: a letter turned upside down is another
   letter), shear ``k`` and shift ``t``:
   ``(u, v) = D(1/(s a), a/s) K(-k) R(-theta) ((x, y) - t)``. The mask is sampled bilinearly on a
   2x super-sampled pixel grid and averaged back (anti-aliasing), as ``make_shapes`` does.
3. **Style.** A random stroke weight (the mask dilated by a 3x3 maximum on the super-sampled
   grid: bolder strokes) and a random blur (a Gaussian of ``sigma`` 0, 0.5 or 1 pixel), then a
   foreground colour over a background colour kept apart in brightness, plus Gaussian pixel
   noise; scaled to ``[-1, 1]`` like ``make_shapes``.

Which classes (``GLYPHS``, named by their Adobe glyph names): letters a student would not
mistake for a digit, and nothing that copies a held-out transfer class. ``EXCLUDED`` lists
every character left out and why: digit look-alikes (O, o, I, l, i, S, s, Z, z, B, b, G, g, q,
Q, ...), near-copies of the held-out ``SIMILAR_CLASSES`` shapes (T ~ t_shape, V and Lambda ~
chevron, C ~ crescent, O ~ ring), and case or script twins that differ only in size once the
glyph is scaled to its box (c/C, p/P, rho/P, phi/Phi, ...).

Same ``seed``, same images: the atlas is rendered by FreeType through Pillow and every random
draw comes from one private ``torch.Generator`` on the CPU. (A different FreeType version may
anti-alias the atlas a little differently; ``atlas_digest`` fingerprints it.)
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F

#: Class name (the character's Adobe glyph name) -> the character. Order defines the class ids.
GLYPHS: dict[str, str] = {
    # Latin capitals: not B C G I O Q S T V Z (see EXCLUDED)
    **{c: c for c in "ADEFHJKLMNPRUWXY"},
    # Latin small letters: not b c g i k l o p q s u v w x z
    **{c: c for c in "adefhjmnrty"},
    "AE": "\u00c6", "ae": "\u00e6", "Thorn": "\u00de",
    # Greek capitals and small letters that look like no Latin letter kept or dropped
    "Gamma": "\u0393", "Delta": "\u0394", "Xi": "\u039e", "Pi": "\u03a0", "Sigma": "\u03a3",
    "Phi": "\u03a6", "Psi": "\u03a8", "Omega": "\u03a9",
    "alpha": "\u03b1", "gamma": "\u03b3", "lambda": "\u03bb", "mu": "\u03bc", "xi": "\u03be",
    "omega": "\u03c9",
    # symbols
    "ampersand": "&", "at": "@", "numbersign": "#", "percent": "%", "question": "?",
    "paragraph": "\u00b6", "sterling": "\u00a3", "yen": "\u00a5", "dagger": "\u2020",
    "universal": "\u2200", "existential": "\u2203", "gradient": "\u2207", "integral": "\u222b",
    "spade": "\u2660", "club": "\u2663", "heart": "\u2665",
}
GLYPH_CLASSES: tuple[str, ...] = tuple(GLYPHS)

#: Characters deliberately left out, and why (the classes must stay clear of the transfer targets).
_LEFT_OUT: dict[str, str] = {
    "0123456789": "a digit: the 'digits' transfer target",
    "OoIilSsZzBbGgqQ\u03bf\u03b8\u0398\u03b4\u03b6\u03b2\u03b5\u03c3$\u00a7!\u221e\u2202":
        "a student could read it as a digit (O 0, I l i 1, S 5, Z 2, B 8, b G 6, g q 9, ...)",
    "TCV\u039b\u03c4\u00a2\u20ac\u221a^<>()*\u2605:":
        "a near-copy of a held-out SIMILAR_CLASSES shape (T t_shape, V Lambda chevron, C crescent, star, dots)",
    "cpuvwxk\u03c1\u03c6\u03c8\u03c0\u03b7\u03c7\u03bd":
        "the same shape as a kept class once scaled to its box (c C, p P, rho P, phi Phi, eta n, nu v, ...)",
}
EXCLUDED: dict[str, str] = {c: why for chars, why in _LEFT_OUT.items() for c in chars}

#: The typefaces, files in matplotlib's ``mpl-data/fonts/ttf`` (symbol-only and fallback fonts left out).
FONTS: tuple[str, ...] = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf",
    "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSansMono-Oblique.ttf",
    "DejaVuSansMono-BoldOblique.ttf",
    "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSerif-BoldItalic.ttf",
    "STIXGeneral.ttf", "STIXGeneralBol.ttf", "STIXGeneralItalic.ttf", "STIXGeneralBolIta.ttf",
    "cmr10.ttf", "cmss10.ttf", "cmtt10.ttf", "cmti10.ttf", "cmb10.ttf", "cmmi10.ttf",
)
#: Side of an atlas mask in pixels.
RES = 48
_RENDER_PX = 96  # font size the atlas is rendered at before it is scaled to RES


def font_dir() -> Path:
    """matplotlib's bundled TrueType fonts (``mpl-data/fonts/ttf``)."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


@lru_cache(maxsize=None)
def _cmap(font: str) -> dict[int, str]:
    from fontTools.ttLib import TTFont

    return dict(TTFont(font_dir() / font, lazy=True).getBestCmap() or {})


def code_point(name: str, font: str) -> int | None:
    """The code point at which ``font`` draws glyph class ``name``, or None if it has no such glyph.

    A font has the glyph when its character map sends a code point to a glyph called ``name``
    (the Adobe glyph name), the Adobe list's name for the character, or ``uniXXXX``. Unicode
    fonts put it at the character's own code point; the Computer Modern fonts use TeX's
    encodings (their capital Gamma sits at U+00A1, and U+00A3 holds a Theta, not a pound sign),
    so the glyph's name, not the code point, decides.
    """
    from fontTools import agl

    char = GLYPHS[name]
    cp = ord(char)
    names = {name, agl.UV2AGL.get(cp), f"uni{cp:04X}"} - {None}
    cmap = _cmap(font)
    if cmap.get(cp) in names:
        return cp
    found = sorted(c for c, glyph in cmap.items() if glyph in names)
    return found[0] if found else None


def fonts_for(name: str) -> tuple[str, ...]:
    """The fonts of ``FONTS`` that have glyph class ``name``."""
    if name not in GLYPHS:
        raise ValueError(f"unknown glyph class {name!r}; valid: {list(GLYPH_CLASSES)}")
    return tuple(f for f in FONTS if code_point(name, f) is not None)


@lru_cache(maxsize=None)
def _render(name: str, font: str, res: int) -> torch.Tensor:
    """One atlas mask: the glyph's ink cropped, scaled (aspect kept) to fill ``res - 2`` pixels, centred."""
    from PIL import Image, ImageDraw, ImageFont

    cp = code_point(name, font)
    if cp is None:
        raise ValueError(f"{font} has no glyph {name!r}")
    # The basic layout draws each code point's glyph as mapped (a shaping engine would drop U+00AD,
    # where the Computer Modern fonts keep their Omega, as a soft hyphen).
    pil_font = ImageFont.truetype(str(font_dir() / font), _RENDER_PX, layout_engine=ImageFont.Layout.BASIC)
    canvas = Image.new("L", (3 * _RENDER_PX, 3 * _RENDER_PX), 0)
    ImageDraw.Draw(canvas).text((1.5 * _RENDER_PX, 1.5 * _RENDER_PX), chr(cp), font=pil_font, fill=255, anchor="mm")
    box = canvas.getbbox()
    if box is None:
        raise ValueError(f"{font} draws glyph {name!r} empty")
    ink = canvas.crop(box)
    w, h = ink.size
    side = res - 2
    scale = side / max(w, h)
    ink = ink.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS)
    mask = Image.new("L", (res, res), 0)
    mask.paste(ink, ((res - ink.size[0]) // 2, (res - ink.size[1]) // 2))
    return torch.frombuffer(bytearray(mask.tobytes()), dtype=torch.uint8).view(res, res).float() / 255


@dataclass(frozen=True)
class Atlas:
    """Every (class, font) glyph mask of some classes: ``masks[i]`` is class ``owner[i]`` in ``FONTS[font[i]]``.

    ``start[k]`` and ``count[k]`` locate class ``k``'s masks (contiguous, in ``FONTS`` order).
    """

    classes: tuple[str, ...]
    masks: torch.Tensor  # (M, RES, RES) float32 in [0, 1]
    owner: torch.Tensor  # (M,) int64
    font: torch.Tensor  # (M,) int64, index into FONTS
    start: torch.Tensor  # (K,) int64
    count: torch.Tensor  # (K,) int64


@lru_cache(maxsize=8)
def glyph_atlas(classes: tuple[str, ...] = GLYPH_CLASSES, res: int = RES) -> Atlas:
    """Render (once per process) the masks of ``classes`` in every font that has them."""
    masks, owner, font, start, count = [], [], [], [], []
    for k, name in enumerate(classes):
        fonts = fonts_for(name)
        if not fonts:
            raise ValueError(f"no font in FONTS has glyph class {name!r}")
        start.append(len(masks))
        count.append(len(fonts))
        for f in fonts:
            masks.append(_render(name, f, res))
            owner.append(k)
            font.append(FONTS.index(f))
    as_long = lambda v: torch.tensor(v, dtype=torch.long)  # noqa: E731
    return Atlas(tuple(classes), torch.stack(masks), as_long(owner), as_long(font), as_long(start), as_long(count))


def atlas_digest(classes: Sequence[str] = GLYPH_CLASSES) -> str:
    """sha256 of the rendered atlas (masks quantised to 8 bits): equal digests, equal glyph images."""
    atlas = glyph_atlas(tuple(classes))
    return hashlib.sha256((atlas.masks * 255).round().to(torch.uint8).numpy().tobytes()).hexdigest()


#: Probabilities of the three blurs (Gaussian sigma 0, 0.5, 1 output pixel) and of a bolder stroke.
BLURS: tuple[tuple[float, float], ...] = ((0.0, 0.5), (0.5, 0.25), (1.0, 0.25))
BOLD = 0.3


def make_glyphs(n: int, *, size: int = 16, classes: Sequence[str] | None = None, seed: int = 0,
                noise: float = 0.05, chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """Generate ``n`` RGB images of the glyph ``classes`` (names from ``GLYPH_CLASSES``; all by default).

    Returns ``x`` of shape ``(n, 3, size, size)``, float32, values roughly in ``[-1, 1]`` (like
    ``make_shapes``), and ``y`` of shape ``(n,)``, int64, the index of each image's class within
    ``classes``. Classes are balanced (``y`` cycles through them before shuffling). See the
    module docstring for how an image is drawn.
    """
    names = tuple(GLYPH_CLASSES if classes is None else classes)
    unknown = [c for c in names if c not in GLYPHS]
    if unknown:
        raise ValueError(f"unknown glyph classes {unknown}; valid: {list(GLYPH_CLASSES)}")
    if not names:
        raise ValueError("classes must name at least one glyph class")
    if len(set(names)) != len(names):
        raise ValueError(f"classes must not repeat: {names}")
    if n < 1 or size < 4:
        raise ValueError(f"need n >= 1 and size >= 4; got n={n}, size={size}")
    atlas = glyph_atlas(names)
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % len(names)
    y = y[torch.randperm(n, generator=g)]
    p = _sample_style(y, atlas, g)
    x = torch.empty(n, 3, size, size)
    for start in range(0, n, chunk):
        sl = slice(start, min(start + chunk, n))
        x[sl] = _draw(atlas, {k: v[sl] for k, v in p.items()}, size, noise, g)
    return x, y


def _sample_style(y: torch.Tensor, atlas: Atlas, g: torch.Generator) -> dict[str, torch.Tensor]:
    n = len(y)
    u = lambda *shape: torch.rand(*shape, generator=g)  # noqa: E731
    mask = atlas.start[y] + (u(n) * atlas.count[y]).long().clamp(max=atlas.count[y] - 1)
    fg, bg = u(n, 3), u(n, 3)
    # Keep foreground and background apart in brightness so every glyph is visible (as make_shapes).
    bright = fg.mean(1, keepdim=True) > bg.mean(1, keepdim=True)
    shift = torch.where(bright, 0.25, -0.25)
    fg, bg = (fg + shift).clamp(0, 1), (bg - shift).clamp(0, 1)
    scale = 0.5 + 0.4 * u(n)  # glyph half-width as a fraction of the image half-width
    edges = torch.tensor([0.0, *torch.cumsum(torch.tensor([w for _, w in BLURS]), 0).tolist()])
    blur = torch.bucketize(u(n), edges[1:-1], right=True)
    return {
        "mask": mask,
        "scale": scale,
        "aspect": torch.exp((u(n) - 0.5) * 0.4),            # width/height stretch, 0.82 to 1.22
        "angle": (u(n) - 0.5) * math.radians(30),           # -15 to +15 degrees
        "shear": (u(n) - 0.5) * 0.4,
        "shift": (u(n, 2) - 0.5) * 2 * (1 - scale[:, None]) * 0.8,  # keeps most of the glyph inside
        "bold": u(n) < BOLD,
        "blur": blur,
        "fg": fg, "bg": bg,
    }


def _gaussian_blur(img: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur (radius ceil(3 sigma), edges replicated) as explicit weighted sums."""
    if sigma <= 0:
        return img
    r = math.ceil(3 * sigma)
    w = torch.exp(-torch.arange(-r, r + 1, dtype=torch.float32) ** 2 / (2 * sigma ** 2))
    w = (w / w.sum()).tolist()
    size = img.shape[-1]
    padded = F.pad(img, (r, r, 0, 0), mode="replicate")
    img = sum(wk * padded[..., :, k:k + size] for k, wk in enumerate(w))
    padded = F.pad(img, (0, 0, r, r), mode="replicate")
    return sum(wk * padded[..., k:k + size, :] for k, wk in enumerate(w))


def _draw(atlas: Atlas, p: dict[str, torch.Tensor], size: int, noise: float, g: torch.Generator) -> torch.Tensor:
    n, s2 = len(p["mask"]), 2 * size
    # theta maps output coordinates (x, y) in [-1, 1] to atlas coordinates (u, v): (u, v) = A ((x, y) - t).
    cos, sin = torch.cos(p["angle"]), torch.sin(p["angle"])
    rot = torch.stack([torch.stack([cos, sin], -1), torch.stack([-sin, cos], -1)], -2)      # R(-theta)
    one, zero = torch.ones(n), torch.zeros(n)
    shear = torch.stack([torch.stack([one, -p["shear"]], -1), torch.stack([zero, one], -1)], -2)
    stretch = torch.diag_embed(torch.stack([1 / (p["scale"] * p["aspect"]), p["aspect"] / p["scale"]], -1))
    a = stretch @ shear @ rot
    theta = torch.cat([a, -(a @ p["shift"][:, :, None])], -1)
    grid = F.affine_grid(theta, [n, 1, s2, s2], align_corners=False)
    mask = F.grid_sample(atlas.masks[p["mask"]][:, None], grid, mode="bilinear", padding_mode="zeros",
                         align_corners=False)
    bold = p["bold"]
    if bold.any():
        mask[bold] = F.max_pool2d(mask[bold], 3, stride=1, padding=1)
    mask = F.avg_pool2d(mask, 2)  # anti-alias back to size x size
    for k, (sigma, _) in enumerate(BLURS):
        chosen = p["blur"] == k
        if sigma > 0 and chosen.any():
            mask[chosen] = _gaussian_blur(mask[chosen], sigma)
    img = p["bg"][:, :, None, None] * (1 - mask) + p["fg"][:, :, None, None] * mask
    img = img + noise * torch.randn(img.shape, generator=g)
    return (img - 0.5) / 0.5


__all__ = ["Atlas", "BLURS", "BOLD", "EXCLUDED", "FONTS", "GLYPHS", "GLYPH_CLASSES", "RES", "atlas_digest",
           "code_point", "font_dir", "fonts_for", "glyph_atlas", "make_glyphs"]
