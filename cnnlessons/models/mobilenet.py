"""The cheap convolution blocks of MobileNet (Howard et al. 2017) and MobileNetV2 (Sandler et al.
2018), and ResNeXt's grouped bottleneck (Xie et al. 2017), written out so their parts can be read.

**Depthwise-separable convolution** (MobileNet): a k x k convolution that mixes space and channels
at once is split into a *depthwise* k x k convolution (one filter per channel, ``groups=C``: space
only) and a *pointwise* 1 x 1 convolution (channels only). Per output position, from C to C'
channels::

    dense k x k:       k^2 C C'  multiply-adds (and weights)
    separable:         k^2 C + C C'
    ratio:             1/C' + 1/k^2          (Howard et al. 2017, section 3.1)

**Inverted residual with a linear bottleneck** (MobileNetV2, Table 1): expand the thin input t
times with a 1 x 1 conv (+ BN + ReLU6), filter it with a k x k depthwise conv (+ BN + ReLU6),
project back to a thin output with a 1 x 1 conv and BN *without* an activation (the "linear
bottleneck": a ReLU on the few channels of the thin layers would destroy information), and add the
input when the shapes match. ResNet's bottleneck is thick - thin - thick; this one is thin - thick
- thin, hence "inverted".

**Grouped convolution** (ResNeXt): ``groups=g`` splits the channels into g independent groups; a
k x k conv from C to C' channels then has k^2 C C' / g weights. ResNeXt's "cardinality" is g.
"""
from __future__ import annotations

from torch import Tensor, nn


def _conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1,
             activation: type[nn.Module] | None = nn.ReLU) -> nn.Sequential:
    """conv (no bias) + BN (+ activation): the unit every block here is made of."""
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, kernel, stride, padding=(kernel - 1) // 2, groups=groups,
                                         bias=False), nn.BatchNorm2d(c_out)]
    if activation is not None:
        layers.append(activation(inplace=True))
    return nn.Sequential(*layers)


class DepthwiseSeparable(nn.Module):
    """MobileNet's block: a k x k depthwise conv (+ BN + ReLU), then a 1 x 1 pointwise conv (+ BN + ReLU)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1, kernel: int = 3) -> None:
        super().__init__()
        self.depthwise = _conv_bn(c_in, c_in, kernel, stride, groups=c_in)   # space, one channel at a time
        self.pointwise = _conv_bn(c_in, c_out, 1)                           # channels, one position at a time

    def forward(self, x: Tensor) -> Tensor:
        return self.pointwise(self.depthwise(x))


class InvertedResidual(nn.Module):
    """MobileNetV2's block (Sandler et al. 2018, Table 1), from ``c_in`` to ``c_out`` channels::

        1x1 conv to t*c_in, BN, ReLU6        expand (left out when t == 1)
        kxk depthwise conv, stride s, BN, ReLU6
        1x1 conv to c_out, BN                 project: linear, no activation
        + x                                   when s == 1 and c_in == c_out
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1, expand: int = 6, kernel: int = 3) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2; got {stride}")
        if expand < 1:
            raise ValueError(f"expand must be >= 1; got {expand}")
        hidden = c_in * expand
        self.expand = _conv_bn(c_in, hidden, 1, activation=nn.ReLU6) if expand != 1 else nn.Identity()
        self.depthwise = _conv_bn(hidden, hidden, kernel, stride, groups=hidden, activation=nn.ReLU6)
        self.project = _conv_bn(hidden, c_out, 1, activation=None)       # the linear bottleneck
        self.use_shortcut = stride == 1 and c_in == c_out

    def forward(self, x: Tensor) -> Tensor:
        out = self.project(self.depthwise(self.expand(x)))
        return x + out if self.use_shortcut else out


class GroupedBottleneck(nn.Module):
    """ResNeXt's block (Xie et al. 2017, Fig. 3c): 1x1 conv to ``width``, a 3x3 conv with ``groups``
    groups (the cardinality), 1x1 conv to ``c_out``, each with BN; ReLU after the addition. With
    ``groups=1`` it is ResNet's bottleneck. The shortcut is a 1x1 conv + BN where shapes change."""

    def __init__(self, c_in: int, width: int, c_out: int, groups: int = 32, stride: int = 1) -> None:
        super().__init__()
        if width % groups:
            raise ValueError(f"width ({width}) must be divisible by groups ({groups})")
        self.reduce = _conv_bn(c_in, width, 1)
        self.grouped = _conv_bn(width, width, 3, stride, groups=groups)
        self.restore = _conv_bn(width, c_out, 1, activation=None)
        self.shortcut = (_conv_bn(c_in, c_out, 1, stride, activation=None)
                         if stride != 1 or c_in != c_out else nn.Identity())
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.restore(self.grouped(self.reduce(x))) + self.shortcut(x))


__all__ = ["DepthwiseSeparable", "GroupedBottleneck", "InvertedResidual"]
