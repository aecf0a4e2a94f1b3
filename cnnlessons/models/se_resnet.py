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

import copy

from torch import nn
from torchvision.models import resnet50
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

from .se import SEBlock


def with_se(model: nn.Module, reduction: int = 16) -> nn.Module:
    """A copy of a torchvision ResNet with an SE gate on every residual branch (SE-ResNet).

    As in Hu et al. (2018, Fig. 3): the gate rescales the branch's output after its last BN,
    before the shortcut is added: ``bn3`` (``bn2`` in basic blocks) becomes
    ``Sequential(bn, SEBlock(C, reduction))``.
    """
    if not isinstance(reduction, int) or isinstance(reduction, bool) or reduction < 1:
        raise ValueError(f"reduction must be a positive int; got {reduction!r}")
    model = copy.deepcopy(model)
    for block in model.modules():
        if isinstance(block, Bottleneck):
            block.bn3 = nn.Sequential(block.bn3, SEBlock(block.bn3.num_features, reduction))
        elif isinstance(block, BasicBlock):
            block.bn2 = nn.Sequential(block.bn2, SEBlock(block.bn2.num_features, reduction))
    return model


def se_resnet50(num_classes: int = 1000, reduction: int = 16) -> ResNet:
    """SE-ResNet-50: ResNet-50's layout (3, 4, 6, 3 bottleneck blocks) with SE gates of
    reduction ``reduction`` (the paper's r = 16 by default)."""
    return with_se(resnet50(num_classes=num_classes), reduction)
