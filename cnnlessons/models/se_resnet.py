"""SE-ResNet-50 (Hu, Shen, Sun, "Squeeze-and-Excitation Networks", CVPR 2018, arXiv:1709.01507):
torchvision's ResNet-50 with a squeeze-and-excitation gate in every bottleneck block.

The gate rescales the residual branch's channels before the shortcut is added (the paper's
Fig. 3, "SE-ResNet module")::

    out = relu(x_shortcut + SE(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x))))))))))

With reduction ``r`` a block of ``C = 4 * planes`` output channels adds ``2 C^2 / r``
weights and ``C / r + C`` biases. Summed over ResNet-50's stages (3, 4, 6, 3 blocks of
C = 256, 512, 1024, 2048) at ``r = 16`` that is about 2.5M parameters (~10%) on top of
ResNet-50's 25.6M, and almost no extra multiply-adds (two small FC layers per block).
The stage layout is torchvision's ("ResNet v1.5": the stride sits in the 3x3 conv).
"""
from __future__ import annotations

import torch
from torchvision.models.resnet import Bottleneck, ResNet

from .se import SEBlock


class SEBottleneck(Bottleneck):
    """torchvision's ``Bottleneck`` with ``se = SEBlock(4 * planes, reduction)`` applied to
    the residual branch before the addition. ``reduction`` is a class attribute because
    ``ResNet._make_layer`` builds blocks with a fixed argument list."""

    reduction: int = 16

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.se = SEBlock(self.conv3.out_channels, self.reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.se(self.bn3(self.conv3(out)))
        return self.relu(out + identity)


def se_resnet50(num_classes: int = 1000, reduction: int = 16) -> ResNet:
    """SE-ResNet-50: ResNet-50's layout (3, 4, 6, 3 bottleneck blocks) with SE gates of
    reduction ``reduction`` (the paper's r = 16 by default)."""
    if not isinstance(reduction, int) or isinstance(reduction, bool) or reduction < 1:
        raise ValueError(f"reduction must be a positive int; got {reduction!r}")
    block = SEBottleneck if reduction == SEBottleneck.reduction else type(
        f"SEBottleneck{reduction}", (SEBottleneck,), {"reduction": reduction})
    return ResNet(block, [3, 4, 6, 3], num_classes=num_classes)
