"""Procedural images: shapes and textures drawn from a seed, as many as asked, offline.

Each class is a 2-D indicator function ``inside(u, v)`` on shape coordinates ``(u, v)``
(about ``[-1, 1]`` across the shape). An image samples a random similarity transform
(scale, rotation, translation), evaluates the class's function on its pixel grid (2x
super-sampled, then averaged: anti-aliasing), and blends a random foreground colour over a
random background colour, plus a little Gaussian pixel noise. Everything is vectorised over
the batch with torch, so 50,000 32x32 images take seconds on a CPU.

Same ``seed``, same images, on every machine (CPU generation, a private generator).
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch

Shape = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _r(u, v):
    return torch.sqrt(u * u + v * v)


def _box(u, v, u0, u1, v0, v1):
    return (u >= u0) & (u <= u1) & (v >= v0) & (v <= v1)


# name -> indicator function of the shape's interior. Order defines the class ids.
SHAPES: dict[str, Shape] = {
    "disk": lambda u, v: _r(u, v) < 0.9,
    "ring": lambda u, v: (_r(u, v) < 0.95) & (_r(u, v) > 0.6),
    "square": lambda u, v: torch.maximum(u.abs(), v.abs()) < 0.75,
    "hollow_square": lambda u, v: (torch.maximum(u.abs(), v.abs()) < 0.85) & (torch.maximum(u.abs(), v.abs()) > 0.55),
    "triangle": lambda u, v: (v > -0.6) & (v < 0.9 - 1.73 * u.abs()),
    "x_cross": lambda u, v: (((u - v).abs() < 0.3) | ((u + v).abs() < 0.3)) & (_r(u, v) < 1.0),
    "plus": lambda u, v: ((u.abs() < 0.22) & (v.abs() < 0.9)) | ((v.abs() < 0.22) & (u.abs() < 0.9)),
    "diamond": lambda u, v: u.abs() + v.abs() < 0.95,
    "ellipse": lambda u, v: (u / 0.95) ** 2 + (v / 0.42) ** 2 < 1,
    "half_disk": lambda u, v: (_r(u, v) < 0.9) & (v > 0),
    "crescent": lambda u, v: (_r(u, v) < 0.9) & ((u - 0.4) ** 2 + v ** 2 > 0.7 ** 2),
    "l_shape": lambda u, v: _box(u, v, -0.8, -0.35, -0.8, 0.8) | _box(u, v, -0.8, 0.8, 0.35, 0.8),
    "t_shape": lambda u, v: _box(u, v, -0.8, 0.8, -0.8, -0.4) | _box(u, v, -0.22, 0.22, -0.8, 0.8),
    "h_shape": lambda u, v: _box(u, v, -0.85, -0.5, -0.85, 0.85) | _box(u, v, 0.5, 0.85, -0.85, 0.85) | _box(u, v, -0.85, 0.85, -0.2, 0.2),
    "two_dots": lambda u, v: ((u - 0.5) ** 2 + v ** 2 < 0.33 ** 2) | ((u + 0.5) ** 2 + v ** 2 < 0.33 ** 2),
    "three_bars": lambda u, v: (torch.cos(3 * math.pi * u) > 0.3) & (u.abs() < 0.9) & (v.abs() < 0.8),
    "star": lambda u, v: _r(u, v) < 0.5 + 0.38 * torch.cos(5 * torch.atan2(v, u)),
    "hexagon": lambda u, v: torch.maximum(u.abs() * 0.866 + v.abs() * 0.5, v.abs()) < 0.8,
    "chevron": lambda u, v: ((v + 0.8 * u.abs() - 0.2).abs() < 0.22) & (u.abs() < 0.85),
    "stripes": lambda u, v: torch.sin(2.5 * math.pi * u) > 0,
    "checker": lambda u, v: torch.sin(2 * math.pi * u) * torch.sin(2 * math.pi * v) > 0,
    "grid": lambda u, v: (torch.sin(2 * math.pi * u).abs() < 0.35) | (torch.sin(2 * math.pi * v).abs() < 0.35),
    "dots": lambda u, v: torch.cos(2 * math.pi * u) + torch.cos(2 * math.pi * v) > 1.1,
    "target": lambda u, v: (torch.cos(2.2 * math.pi * _r(u, v)) > 0) & (_r(u, v) < 1.1),
}
CLASS_NAMES: tuple[str, ...] = tuple(SHAPES)


def make_shapes(n: int, *, size: int = 32, classes: Sequence[str] | None = None, seed: int = 0,
                noise: float = 0.05, chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """Generate ``n`` RGB images of the given ``classes`` (names from ``CLASS_NAMES``; all by default).

    Returns ``x`` of shape ``(n, 3, size, size)``, float32, values roughly in ``[-1, 1]``
    (already centred, ready for a network) and ``y`` of shape ``(n,)``, int64, the index of
    each image's class within ``classes``. Classes are balanced (``y`` cycles through them
    before shuffling).
    """
    names = tuple(CLASS_NAMES if classes is None else classes)
    unknown = [c for c in names if c not in SHAPES]
    if unknown:
        raise ValueError(f"unknown shape classes {unknown}; valid: {list(CLASS_NAMES)}")
    if not names:
        raise ValueError("classes must name at least one shape class")
    if n < 1 or size < 4:
        raise ValueError(f"need n >= 1 and size >= 4; got n={n}, size={size}")
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % len(names)
    y = y[torch.randperm(n, generator=g)]
    params = _sample_transforms(n, g)
    x = torch.empty(n, 3, size, size)
    for start in range(0, n, chunk):
        sl = slice(start, min(start + chunk, n))
        x[sl] = _render(y[sl], names, {k: v[sl] for k, v in params.items()}, size, noise, g)
    return x, y


def _sample_transforms(n: int, g: torch.Generator) -> dict[str, torch.Tensor]:
    u = lambda *shape: torch.rand(*shape, generator=g)  # noqa: E731
    fg, bg = u(n, 3), u(n, 3)
    # Keep foreground and background apart in brightness so every shape is visible.
    bright = fg.mean(1, keepdim=True) > bg.mean(1, keepdim=True)
    shift = torch.where(bright, 0.25, -0.25)
    fg = (fg + shift).clamp(0, 1)
    bg = (bg - shift).clamp(0, 1)
    return {
        "scale": 0.45 + 0.4 * u(n),            # shape half-width as a fraction of the image half-width
        "angle": 2 * math.pi * u(n),
        "shift": (u(n, 2) - 0.5) * 0.5,         # centre offset, fraction of the image
        "fg": fg, "bg": bg,
    }


def _render(y: torch.Tensor, names: Sequence[str], p: dict[str, torch.Tensor], size: int,
            noise: float, g: torch.Generator) -> torch.Tensor:
    n, s2 = len(y), 2 * size
    coords = (torch.arange(s2) + 0.5) / s2 * 2 - 1  # pixel centres in [-1, 1], 2x super-sampled
    gy, gx = torch.meshgrid(coords, coords, indexing="ij")
    gx = gx - p["shift"][:, 0, None, None]
    gy = gy - p["shift"][:, 1, None, None]
    cos, sin = torch.cos(p["angle"])[:, None, None], torch.sin(p["angle"])[:, None, None]
    scale = p["scale"][:, None, None]
    u = (cos * gx + sin * gy) / scale
    v = (-sin * gx + cos * gy) / scale
    mask = torch.zeros(n, s2, s2)
    for k, name in enumerate(names):
        idx = (y == k).nonzero(as_tuple=True)[0]
        if len(idx):
            mask[idx] = SHAPES[name](u[idx], v[idx]).float()
    mask = torch.nn.functional.avg_pool2d(mask[:, None], 2)  # anti-alias back to size x size
    img = p["bg"][:, :, None, None] * (1 - mask) + p["fg"][:, :, None, None] * mask
    img = img + noise * torch.randn(img.shape, generator=g)
    return (img - 0.5) / 0.5
