"""The CIFAR-10 residual networks of He, Zhang, Ren, Sun, "Deep Residual Learning for Image
Recognition" (CVPR 2016, arXiv:1512.03385), section 4.2, and their "plain" twins.

Architecture (6n + 2 weighted layers)::

    conv3x3(3 -> 16), BN, ReLU                       the extra conv at the start
    stage 1: n basic blocks, 16 filters              (32x32 maps for CIFAR)
    stage 2: n basic blocks, 32 filters, stride 2    (16x16)
    stage 3: n basic blocks, 64 filters, stride 2    (8x8)
    global average pool, one fully connected layer   (the only FC layer)

A basic block computes ``relu(F(x) + shortcut(x))`` with ``F = BN(conv(relu(BN(conv(x)))))``.
The shortcut is the identity; where a stage halves the map and doubles the channels it is
the paper's option A: subsample by 2 and pad the new channels with zeros, so shortcuts add
no parameters. ResNet-20 (n = 3) has 269,722 parameters and ResNet-56 (n = 9) 853,018
(0.27M / 0.85M in the paper's Table 6). With ``residual=False`` the blocks compute
``relu(F(x))``: the paper's plain baseline with exactly the same layers and parameters.

Global average pooling makes the network input-size agnostic: 16x16 inputs work (stage
maps 16/8/4) as well as 32x32.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .se import SEBlock
from .stages import residual_stages

INITS = ("he", "small")


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, bias: bool = False) -> nn.Conv2d:
    """3x3 convolution with padding 1 (keeps the map size at stride 1)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=bias)


def _norm(planes: int, batch_norm: bool) -> nn.Module:
    return nn.BatchNorm2d(planes) if batch_norm else nn.Identity()


class PadShortcut(nn.Module):
    """Option-A shortcut: keep every ``stride``-th pixel and zero-pad the extra channels.

    ``out[:, :C_in] = x[:, :, ::s, ::s]`` and ``out[:, C_in:] = 0``; no parameters.
    """

    def __init__(self, in_planes: int, out_planes: int, stride: int) -> None:
        super().__init__()
        if out_planes < in_planes:
            raise ValueError(f"out_planes must be >= in_planes; got {out_planes} < {in_planes}")
        self.extra = out_planes - in_planes
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra))


class BasicBlock(nn.Module):
    """Two 3x3 convs with BN; ``relu(F(x) + shortcut(x))``, or ``relu(F(x))`` when plain.

    ``shortcut`` is ``None`` for the identity, a ``PadShortcut`` when the shape changes.
    ``se`` (optional) rescales the channels of ``F(x)`` before the addition, as in SE-ResNet.
    """

    def __init__(self, in_planes: int, planes: int, stride: int = 1, *, residual: bool = True,
                 se: bool = False, batch_norm: bool = True, se_reduction: int = 16) -> None:
        super().__init__()
        self.residual = residual
        self.conv1 = conv3x3(in_planes, planes, stride, bias=not batch_norm)
        self.bn1 = _norm(planes, batch_norm)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes, bias=not batch_norm)
        self.bn2 = _norm(planes, batch_norm)
        self.se = SEBlock(planes, se_reduction) if se else None
        self.shortcut = PadShortcut(in_planes, planes, stride) if (stride != 1 or in_planes != planes) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.se is not None:
            out = self.se(out)
        if self.residual:
            out = out + self.shortcut_of(x)
        return self.relu(out)

    def shortcut_of(self, x: torch.Tensor) -> torch.Tensor:
        """What the shortcut path carries for input ``x`` (the identity or option A)."""
        return x if self.shortcut is None else self.shortcut(x)


class CifarResNet(nn.Module):
    """The 6n+2-layer CIFAR network; see the module docstring. Build it with ``cifar_resnet``."""

    def __init__(self, blocks_per_stage: int, *, residual: bool = True, num_classes: int = 10,
                 se: bool = False, batch_norm: bool = True, widths: Sequence[int] = (16, 32, 64),
                 se_reduction: int = 16) -> None:
        super().__init__()
        self.blocks_per_stage = blocks_per_stage
        self.residual = residual
        self.se = se
        self.se_reduction = se_reduction
        self.batch_norm = batch_norm
        self.widths = tuple(widths)
        self.conv1 = conv3x3(3, widths[0], bias=not batch_norm)
        self.bn1 = _norm(widths[0], batch_norm)
        self.relu = nn.ReLU(inplace=True)
        stages, in_planes = [], widths[0]
        for i, planes in enumerate(widths):
            stages.append(self._make_stage(in_planes, planes, blocks_per_stage, stride=1 if i == 0 else 2))
            in_planes = planes
        self.layer1, self.layer2, self.layer3 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[-1], num_classes)

    def _make_stage(self, in_planes: int, planes: int, n: int, stride: int) -> nn.Sequential:
        return nn.Sequential(*[
            BasicBlock(in_planes if i == 0 else planes, planes, stride if i == 0 else 1,
                       residual=self.residual, se=self.se, batch_norm=self.batch_norm,
                       se_reduction=self.se_reduction)
            for i in range(n)])

    @property
    def stages(self) -> tuple[nn.Sequential, ...]:
        """The three stages, ``layer1..layer3``."""
        return tuple(residual_stages(self))

    @property
    def depth(self) -> int:
        """Weighted layers: 6n + 2 (the stem conv, 2n convs per stage, the FC layer)."""
        return 6 * len(self.layer1) + 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def init_weights(model: nn.Module, init: str = "he", zero_init_residual: bool = False) -> None:
    """The initialisation policy, in one place.

    - ``"he"``: conv weights ~ N(0, 2 / fan_out) (He et al. 2015, "Delving Deep into
      Rectifiers": variance 2/n keeps the signal's scale through ReLU layers; fan_out as in
      torchvision), conv biases 0.
    - ``"small"``: conv weights ~ N(0, 0.01^2), the fixed-std init of the AlexNet/VGG era that
      He et al. report stalls deep nets without BN (for the recipe's ablation).
    - BN: gamma 1, beta 0 (Ioffe & Szegedy 2015). The FC layer keeps PyTorch's default.
    - ``zero_init_residual``: the last BN gamma of every residual block set to 0 (Goyal et al.
      2017, "Accurate, Large Minibatch SGD"), so every block starts as its shortcut.
    """
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}; got {init!r}")
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            if init == "he":
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            else:
                nn.init.normal_(m.weight, std=0.01)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    if zero_init_residual:
        for m in model.modules():
            if isinstance(m, BasicBlock):
                nn.init.zeros_(m.bn2.weight)  # type: ignore[arg-type]


def cifar_resnet(depth: int, residual: bool = True, zero_init_residual: bool = False,
                 num_classes: int = 10, se: bool = False, *, batch_norm: bool = True,
                 init: str = "he", widths: Sequence[int] = (16, 32, 64), se_reduction: int = 16) -> CifarResNet:
    """He et al.'s CIFAR ResNet-``depth`` (``depth = 6n + 2``: 8, 14, 20, 32, 44, 56, 110, ...).

    ``residual=False`` gives the plain net of the same depth; ``se=True`` adds an SE block to every
    residual branch, its excitation ``C // se_reduction`` units wide on a stage of ``C`` filters (the
    paper's 16 leaves a single unit on 16 filters; 2 gives 4 on 8); ``batch_norm=False`` drops BN (convs get biases);
    ``init`` is ``"he"`` or ``"small"`` (see ``init_weights``); ``widths`` are the three stages'
    filter counts (16/32/64 in the paper).
    """
    if not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(f"depth must be 6n + 2 with n >= 1 (8, 14, 20, 32, 44, 56, 110, ...); got {depth!r}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1; got {num_classes}")
    if len(widths) != 3 or any(w < 1 for w in widths) or list(widths) != sorted(widths):
        raise ValueError(f"widths must be three non-decreasing positive channel counts; got {widths!r}")
    if zero_init_residual and not (residual and batch_norm):
        raise ValueError("zero_init_residual needs residual=True and batch_norm=True "
                         "(it zeroes the last BN gamma of each residual branch)")
    if isinstance(se_reduction, bool) or not isinstance(se_reduction, int) or se_reduction < 1:
        raise ValueError(f"se_reduction must be a positive whole number; got {se_reduction!r}")
    model = CifarResNet((depth - 2) // 6, residual=residual, num_classes=num_classes, se=se,
                        batch_norm=batch_norm, widths=widths, se_reduction=se_reduction)
    init_weights(model, init, zero_init_residual)
    return model


__all__ = ["BasicBlock", "CifarResNet", "PadShortcut", "cifar_resnet", "conv3x3",
           "init_weights"]
