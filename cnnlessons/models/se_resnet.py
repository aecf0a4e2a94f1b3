"""SE-ResNet-50 (Hu, Shen, Sun, "Squeeze-and-Excitation Networks", CVPR 2018, arXiv:1709.01507):
torchvision's ResNet-50 with a squeeze-and-excitation gate in every bottleneck block.

The gate rescales the residual branch's channels before the shortcut is added (the paper's
Fig. 3, "SE-ResNet module"); ``SEBottleneck.forward`` is torchvision's ``Bottleneck.forward``
with that one line added::

    out = relu(shortcut(x) + se(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x)))))))))

With reduction ``r`` a block of ``C = 4 * planes`` output channels adds ``2 C^2 / r``
weights and ``C / r + C`` biases. Summed over ResNet-50's stages (3, 4, 6, 3 blocks of
C = 256, 512, 1024, 2048) at ``r = 16`` that is about 2.5M parameters (~10%) on top of
ResNet-50's 25.6M, and almost no extra multiply-adds (two small FC layers per block).
The stage layout is torchvision's ("ResNet v1.5": the stride sits in the 3x3 conv).

``se_resnet50()`` builds it from ``SEBottleneck`` blocks (module paths ``layer1.0.se``, ...);
``with_se(model)`` adds the same gates to any torchvision ResNet, basic blocks included, by
wrapping each block's last BN (the same network: same parameters, the gate in the same place).
"""
from __future__ import annotations

import copy

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

from .se import SEBlock


class SEBottleneck(Bottleneck):
    """torchvision's bottleneck block with an SE gate (``self.se``) on its residual branch.

    Takes ``Bottleneck``'s arguments; the gate's reduction is ``SEBottleneck.reduction`` (the
    paper's 16) unless ``se_resnet50`` replaces the gates."""

    reduction = 16

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.se = SEBlock(self.bn3.num_features, self.reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out = self.se(out)  # the one new line: rescale each channel of the branch
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


def with_se(model: nn.Module, reduction: int = 16) -> nn.Module:
    """A copy of a torchvision ResNet with an SE gate on every residual branch (SE-ResNet).

    As in Hu et al. (2018, Fig. 3): the gate rescales the branch's output after its last BN,
    before the shortcut is added: ``bn3`` (``bn2`` in basic blocks) becomes
    ``Sequential(bn, SEBlock(C, reduction))``.
    """
    _check_reduction(reduction)
    model = copy.deepcopy(model)
    for block in model.modules():
        if isinstance(block, Bottleneck):
            block.bn3 = nn.Sequential(block.bn3, SEBlock(block.bn3.num_features, reduction))
        elif isinstance(block, BasicBlock):
            block.bn2 = nn.Sequential(block.bn2, SEBlock(block.bn2.num_features, reduction))
    return model


def se_resnet50(num_classes: int = 1000, reduction: int = 16) -> ResNet:
    """SE-ResNet-50: ResNet-50's layout (3, 4, 6, 3 bottleneck blocks) built from
    ``SEBottleneck`` blocks with gates of reduction ``reduction`` (the paper's r = 16 by default)."""
    _check_reduction(reduction)
    model = ResNet(SEBottleneck, [3, 4, 6, 3], num_classes=num_classes)
    if reduction != SEBottleneck.reduction:
        for block in model.modules():
            if isinstance(block, SEBottleneck):
                block.se = SEBlock(block.bn3.num_features, reduction)
    return model


def _check_reduction(reduction: int) -> None:
    if not isinstance(reduction, int) or isinstance(reduction, bool) or reduction < 1:
        raise ValueError(f"reduction must be a positive int; got {reduction!r}")
