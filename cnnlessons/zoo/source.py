"""The source data and settings of the zoo's pretrained models: what ``cnnlessons.zoo.pretrain`` trains on.

``Config`` holds everything that determines a model's weights; ``MODELS`` the shipped models'
settings. ``source_data(config, split)`` draws a split's images: the sixteen procedural
``SOURCE_CLASSES`` (``source="shapes"``), or those and the ``GLYPH_CLASSES``, letters and symbols
rendered from matplotlib's fonts (``source="shapes+glyphs"``), every class equally often
(``n // K`` images a class, the first ``n % K`` classes one more). Each split has its own seed
(``seed``, ``seed + VAL_SEED_OFFSET``, ``seed + TEST_SEED_OFFSET``), so no test or validation
image is ever a training image.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..data.procedural import make_shapes
from ..data.targets import SOURCE_CLASSES
from ..models.cifar_resnet import cifar_resnet
from ..train import Batches, evaluate

TEST_SEED_OFFSET = 500_000  # the source test set's seed is seed + this: never a training image
VAL_SEED_OFFSET = 600_000   # the held-out validation set's (the curve during training)
GLYPH_SEED_OFFSET = 7_919   # the glyph images' seeds are the shapes' seeds + this
#: The sources ``--source`` accepts.
SOURCES = ("shapes", "shapes+glyphs")


@dataclass(frozen=True)
class Config:
    """Everything that determines the trained weights and what is measured of them."""

    depth: int = 8
    images: int = 40_000
    test_images: int = 4_000
    size: int = 16
    steps: int = 1_000
    batch_size: int = 128
    lr: float = 0.1
    weight_decay: float = 5e-4
    warmup: float = 0.03
    seed: int = 0
    world_size: int = 1
    threads: int = 1
    source: str = "shapes"
    widths: tuple[int, int, int] = (16, 32, 64)
    checkpoint_every: int = 100   # the batches of each chunk of this many steps are seeded by (seed, chunk)
    val_images: int = 0           # held-out source images measured every ``eval_every`` steps (0: none)
    eval_every: int = 0
    snapshots: tuple[int, ...] = ()  # steps whose weights are shipped as float16 checkpoints

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        object.__setattr__(self, "snapshots", tuple(int(s) for s in self.snapshots))
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}; got {self.source!r}")
        if min(self.images, self.test_images, self.steps, self.batch_size, self.checkpoint_every) < 1:
            raise ValueError(f"images, test_images, steps, batch_size and checkpoint_every must be >= 1; got {self}")
        if self.eval_every < 0 or self.val_images < 0 or (self.eval_every > 0) != (self.val_images > 0):
            raise ValueError(f"eval_every and val_images go together (both 0, or both >= 1); "
                             f"got eval_every={self.eval_every}, val_images={self.val_images}")
        if self.eval_every % self.checkpoint_every:
            raise ValueError(f"eval_every ({self.eval_every}) must be a multiple of checkpoint_every "
                             f"({self.checkpoint_every})")
        bad = [s for s in self.snapshots if s % self.checkpoint_every or not 0 < s < self.steps]
        if bad or list(self.snapshots) != sorted(set(self.snapshots)):
            raise ValueError(f"snapshots must be increasing steps below --steps ({self.steps}), each a multiple of "
                             f"checkpoint_every ({self.checkpoint_every}); got {self.snapshots}")

    @property
    def classes(self) -> tuple[str, ...]:
        if self.source == "shapes":
            return SOURCE_CLASSES
        from ..data.glyphs import GLYPH_CLASSES

        return SOURCE_CLASSES + GLYPH_CLASSES


#: The shipped models' settings (``--model NAME``); the manifests hold the exact commands.
MODELS: dict[str, Config] = {
    "shapes_resnet8": Config(),
    # lr 0.2: the best of 0.05, 0.1, 0.2 on held-out source accuracy after 400-step pilots
    "glyphs_resnet14": Config(depth=14, widths=(24, 48, 96), source="shapes+glyphs", images=152_000,
                              test_images=7_600, val_images=3_800, steps=4_000, lr=0.2, threads=1,
                              checkpoint_every=250, eval_every=250, snapshots=(250, 500, 1_000, 2_000)),
}


def build_model(depth: int, num_classes: int = len(SOURCE_CLASSES),
                widths: tuple[int, ...] = (16, 32, 64)) -> nn.Module:
    """The architecture of the shipped models: He et al.'s CIFAR ResNet (see ``models.cifar_resnet``)."""
    return cifar_resnet(depth, num_classes=num_classes, widths=widths)


def _split_seed(config: Config, split: str) -> int:
    offsets = {"train": 0, "val": VAL_SEED_OFFSET, "test": TEST_SEED_OFFSET}
    if split not in offsets:
        raise ValueError(f"split must be one of {tuple(offsets)}; got {split!r}")
    return config.seed + offsets[split]


def source_data(config: Config, split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """The source images of ``split``: ``"train"`` (seed ``seed``, ``images`` of them), ``"val"``
    (seed ``seed + VAL_SEED_OFFSET``, ``val_images``) or ``"test"`` (``seed + TEST_SEED_OFFSET``, ``test_images``).

    ``shapes+glyphs``: the procedural classes take labels ``0..15`` and the glyph classes the
    rest; each class gets ``n // K`` images (the first ``n % K`` classes one more), the two
    generators use different seeds (the glyphs' are offset by ``GLYPH_SEED_OFFSET``), and the
    union is shuffled with the split's seed.
    """
    seed = _split_seed(config, split)
    n = {"train": config.images, "val": config.val_images, "test": config.test_images}[split]
    if config.source == "shapes":
        return make_shapes(n, size=config.size, classes=config.classes, seed=seed)
    from ..data.glyphs import GLYPH_CLASSES, make_glyphs

    k_shapes, k = len(SOURCE_CLASSES), len(config.classes)
    n_shapes = k_shapes * (n // k) + min(n % k, k_shapes)
    if min(n_shapes, n - n_shapes) < 1:
        raise ValueError(f"{n} {split} images are too few for {k} classes")
    xs, ys = make_shapes(n_shapes, size=config.size, classes=SOURCE_CLASSES, seed=seed)
    xg, yg = make_glyphs(n - n_shapes, size=config.size, classes=GLYPH_CLASSES, seed=seed + GLYPH_SEED_OFFSET)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return torch.cat([xs, xg])[order], torch.cat([ys, yg + k_shapes])[order]


def accuracy(model: nn.Module, data: tuple[torch.Tensor, torch.Tensor], device: torch.device) -> float:
    """Top-1 accuracy of ``model`` on ``data`` (images, labels), in batches of 500, eval mode."""
    _, error = evaluate(model, Batches(*data, 500, shuffle=False), device)
    return 1 - error
