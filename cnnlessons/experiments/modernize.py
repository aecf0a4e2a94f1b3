"""Modernising a ResNet: the roadmap of ConvNeXt (Liu, Mao, Wu, Feichtenhofer, Darrell, Xie, "A ConvNet
for the 2020s", CVPR 2022, section 2, Fig. 2 and Table 10), as data.

Every step changes one thing in a ResNet-50 and keeps the change if ImageNet-1K top-1 accuracy improves;
each accuracy is the mean of three training runs with different seeds (Table 10). The first step
changes only the training recipe (300 epochs instead of 90, AdamW, Mixup, CutMix, RandAugment, Random
Erasing, stochastic depth, label smoothing); every later step uses that recipe.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RoadmapStep:
    """One row of the paper's Table 10 (the ResNet-50 / Swin-T regime)."""

    stage: str            # the paper's group: recipe, macro design, ResNeXt, inverted bottleneck, ...
    change: str
    top1: float           # ImageNet-1K top-1 %, mean of 3 seeds (the first row: one run, PyTorch's)
    std: float | None     # standard deviation over the 3 seeds
    gflops: float
    adopted: bool = True  # kernel sizes 9 and 11 were tried and not kept


ROADMAP: tuple[RoadmapStep, ...] = (
    RoadmapStep("start", "ResNet-50 (original recipe, torchvision's)", 76.13, None, 4.09),
    RoadmapStep("training recipe", "modern recipe (300 epochs, AdamW, augmentation)", 78.82, 0.07, 4.09),
    RoadmapStep("macro design", "stage ratio (3, 4, 6, 3) -> (3, 3, 9, 3)", 79.36, 0.07, 4.53),
    RoadmapStep("macro design", "'patchify' stem: 4x4 conv, stride 4", 79.51, 0.18, 4.42),
    RoadmapStep("ResNeXt", "depthwise conv (groups = channels)", 78.28, 0.08, 2.35),
    RoadmapStep("ResNeXt", "width 64 -> 96", 80.50, 0.02, 5.27),
    RoadmapStep("inverted bottleneck", "inverted bottleneck (1x1 to 4x, depthwise, 1x1 back)", 80.64, 0.03, 4.64),
    RoadmapStep("large kernel", "move the depthwise conv up", 79.92, 0.08, 4.07),
    RoadmapStep("large kernel", "kernel 3 -> 5", 80.35, 0.08, 4.10),
    RoadmapStep("large kernel", "kernel 5 -> 7", 80.57, 0.14, 4.15),
    RoadmapStep("large kernel", "kernel 7 -> 9", 80.57, 0.06, 4.21, adopted=False),
    RoadmapStep("large kernel", "kernel 7 -> 11", 80.47, 0.11, 4.29, adopted=False),
    RoadmapStep("micro design", "ReLU -> GELU", 80.62, 0.14, 4.15),
    RoadmapStep("micro design", "fewer activations (one GELU per block)", 81.27, 0.06, 4.15),
    RoadmapStep("micro design", "fewer norms (one per block)", 81.41, 0.09, 4.15),
    RoadmapStep("micro design", "BatchNorm -> LayerNorm", 81.47, 0.09, 4.46),
    RoadmapStep("micro design", "separate downsampling layers: ConvNeXt-T", 81.97, 0.06, 4.49),
)
SWIN_T = RoadmapStep("reference", "Swin-T (Liu et al. 2021)", 81.30, None, 4.50)
SOURCE = "Liu et al. 2022, A ConvNet for the 2020s, Table 10 (Fig. 2 rounds the last step to 82.0)"


def adopted() -> list[RoadmapStep]:
    """The steps the final design keeps, in order (the ConvNeXt-T path)."""
    return [step for step in ROADMAP if step.adopted]


def gains_by_stage() -> dict[str, float]:
    """Top-1 points gained by each group of steps along the adopted path (from the group's last
    adopted step to the previous group's)."""
    gains: dict[str, float] = {}
    path = adopted()
    for before, after in zip(path, path[1:]):
        gains[after.stage] = round(gains.get(after.stage, 0.0) + after.top1 - before.top1, 2)
    return gains


__all__ = ["ROADMAP", "RoadmapStep", "SOURCE", "SWIN_T", "adopted", "gains_by_stage"]
