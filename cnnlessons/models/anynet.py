"""AnyNet: a network described by a few numbers per stage, the object of design-space search
(Radosavovic, Kosaraju, Girshick, He, Dollar, "Designing Network Design Spaces", CVPR 2020).

The network is a stem, then stages, then a head::

    stem:   3x3 conv (3 -> stem_width), BN, ReLU
    stage i: depths[i] residual blocks of widths[i] channels; its first block halves the map
             (stride 2), except in the first stage
    head:   global average pool, one fully connected layer

A block is torchvision's ResNet ``BasicBlock`` (two 3x3 convs with BN), with a 1x1 projection
shortcut where the shape changes. RegNet's AnyNetX uses a bottleneck block with group convolutions;
a design space only fixes the block type and lets the *numbers* vary, which is what matters here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock


@dataclass(frozen=True)
class AnyNetConfig:
    """The numbers that define one AnyNet: blocks and channels per stage."""

    depths: tuple[int, ...]
    widths: tuple[int, ...]
    stem_width: int = 16

    def __post_init__(self) -> None:
        if not self.depths or len(self.depths) != len(self.widths):
            raise ValueError(f"give one depth and one width per stage; got depths={self.depths}, widths={self.widths}")
        if min(self.depths) < 1 or min(self.widths) < 1 or self.stem_width < 1:
            raise ValueError(f"depths and widths must be >= 1; got {self}")

    def __str__(self) -> str:
        return f"depths {list(self.depths)}, widths {list(self.widths)}"


def _stage(c_in: int, width: int, depth: int, stride: int) -> nn.Sequential:
    blocks = []
    for i in range(depth):
        s = stride if i == 0 else 1
        inp = c_in if i == 0 else width
        shortcut = (nn.Sequential(nn.Conv2d(inp, width, 1, s, bias=False), nn.BatchNorm2d(width))
                    if s != 1 or inp != width else None)
        blocks.append(BasicBlock(inp, width, s, downsample=shortcut))
    return nn.Sequential(*blocks)


class AnyNet(nn.Module):
    """The network an ``AnyNetConfig`` describes, for ``num_classes`` classes."""

    def __init__(self, config: AnyNetConfig, num_classes: int = 20) -> None:
        super().__init__()
        self.config = config
        self.stem = nn.Sequential(nn.Conv2d(3, config.stem_width, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(config.stem_width), nn.ReLU(inplace=True))
        stages, c_in = [], config.stem_width
        for i, (depth, width) in enumerate(zip(config.depths, config.widths)):
            stages.append(_stage(c_in, width, depth, 1 if i == 0 else 2))
            c_in = width
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c_in, num_classes)
        for m in self.modules():  # He init (as torchvision's ResNet)
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.pool(self.stages(self.stem(x))).flatten(1))


def anynet(depths: Sequence[int], widths: Sequence[int], num_classes: int = 20, stem_width: int = 16) -> AnyNet:
    """``AnyNet(AnyNetConfig(depths, widths, stem_width), num_classes)``."""
    return AnyNet(AnyNetConfig(tuple(depths), tuple(widths), stem_width), num_classes)


__all__ = ["AnyNet", "AnyNetConfig", "anynet"]
