"""Generated image folders for the own-images tests (no download, a second or so)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def make_folder(root: Path, per_class: int = 30, classes: tuple[str, ...] = ("red", "green", "blue", "grey"),
                broken: bool = True, seed: int = 0) -> Path:
    """``root/<class>/`` with ``per_class`` images of mixed formats and sizes (RGB/grey/RGBA/palette PNG,
    JPEG), one text file per class and, if ``broken``, one truncated PNG in the first class."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    colours = [(200, 40, 40), (40, 180, 60), (40, 60, 200), (128, 128, 128), (200, 200, 40), (160, 40, 160)]
    root.mkdir(parents=True, exist_ok=True)
    for c, name in enumerate(classes):
        (root / name).mkdir(exist_ok=True)
        for i in range(per_class):
            h, w = int(rng.integers(24, 48)), int(rng.integers(24, 48))
            pixels = np.clip(np.array(colours[c % len(colours)]) + rng.normal(0, 30, (h, w, 3)), 0, 255).astype(np.uint8)
            if c % 2:  # a stripe so grey copies of classes still differ
                pixels[h // 3: h // 2] = 255
            img = Image.fromarray(pixels)
            kind = i % 5
            if kind == 0:
                img.save(root / name / f"{i:03d}.png")
            elif kind == 1:
                img.convert("L").save(root / name / f"{i:03d}_grey.png")
            elif kind == 2:
                rgba = img.convert("RGBA")
                rgba.putalpha(200)
                rgba.save(root / name / f"{i:03d}_alpha.png")
            elif kind == 3:
                img.convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(root / name / f"{i:03d}_palette.png")
            else:
                img.save(root / name / f"{i:03d}.JPG", quality=85)
        (root / name / "notes.txt").write_text("not an image\n")
    (root / ".DS_Store").write_bytes(b"\0\1")
    if broken:
        good = (root / classes[0] / "000.png").read_bytes()
        (root / classes[0] / "zz_broken.png").write_bytes(good[: len(good) // 3])
    return root
