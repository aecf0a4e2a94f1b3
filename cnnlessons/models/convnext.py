"""The ConvNeXt block (Liu, Mao, Wu, Feichtenhofer, Darrell, Xie, "A ConvNet for the 2020s",
CVPR 2022, Fig. 4): a ResNet block rebuilt step by step after a transformer block::

    x ── 7x7 depthwise conv ── LayerNorm ── 1x1 conv to 4C ── GELU ── 1x1 conv to C ── x gamma ──(+)──
    └──────────────────────────────────────────────────────────────────────────────────────────┘

- the 7x7 *depthwise* conv mixes space, one channel at a time (like attention's weighted sum over
  positions); the two 1x1 convs mix channels, one position at a time (like a transformer's MLP,
  4x wider in the middle: an *inverted* bottleneck, as in MobileNetV2);
- one normalisation (LayerNorm over the channels) and one activation (GELU) per block, as in a
  transformer block, where a ResNet bottleneck has three BNs and three ReLUs;
- ``gamma`` (layer scale, Touvron et al. 2021) scales the branch, initialised to 1e-6, so every
  block starts close to the identity;
- no ReLU after the addition: the shortcut is a pure identity (lesson 04's pre-activation point).

The 1x1 convs are ``nn.Linear`` layers on a channels-last tensor (the same arithmetic), as in the
paper's code and torchvision's ``CNBlock``, whose weights this block can load.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn


class ConvNeXtBlock(nn.Module):
    """One ConvNeXt block of ``dim`` channels (stochastic depth left out: it only acts in training)."""

    def __init__(self, dim: int, kernel: int = 7, expansion: int = 4, layer_scale: float = 1e-6) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel, padding=kernel // 2, groups=dim)  # depthwise: space only
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, expansion * dim)                             # 1x1 conv: expand 4x
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(expansion * dim, dim)                             # 1x1 conv: project back
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: Tensor) -> Tensor:
        y = self.dwconv(x).permute(0, 2, 3, 1)          # (N, C, H, W) -> (N, H, W, C): channels last
        y = self.pwconv2(self.act(self.pwconv1(self.norm(y))))
        return x + (self.gamma * y).permute(0, 3, 1, 2)


def from_torchvision(block: nn.Module) -> ConvNeXtBlock:
    """A ``ConvNeXtBlock`` with the weights of torchvision's ``CNBlock`` ``block``."""
    conv, _, norm, fc1, _, fc2, _ = block.block
    ours = ConvNeXtBlock(conv.in_channels, conv.kernel_size[0], fc1.out_features // fc1.in_features)
    with torch.no_grad():
        for mine, theirs in ((ours.dwconv, conv), (ours.norm, norm), (ours.pwconv1, fc1), (ours.pwconv2, fc2)):
            mine.load_state_dict(theirs.state_dict())
        ours.gamma.copy_(block.layer_scale.flatten())
    return ours


__all__ = ["ConvNeXtBlock", "from_torchvision"]
