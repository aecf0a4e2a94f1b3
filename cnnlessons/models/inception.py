"""The Inception module of GoogLeNet (Szegedy, Liu, Jia, Sermanet, Reed, Anguelov, Erhan,
Vanhoucke, Rabinovich, "Going Deeper with Convolutions", CVPR 2015, arXiv:1409.4842).

Four parallel branches look at the same input (C_in channels, H x W) and their outputs are
concatenated along the channels::

    branch1: 1x1 conv (#1x1)
    branch2: [1x1 conv (#3x3 reduce)] -> 3x3 conv (#3x3)
    branch3: [1x1 conv (#5x5 reduce)] -> 5x5 conv (#5x5)
    branch4: 3x3 max pool, stride 1 -> [1x1 conv (pool proj)]

Every conv has "same" padding and stride 1, so H and W are preserved, and is followed by a
ReLU (as in the paper). The names in brackets are the paper's Table 1 columns; without the
bracketed 1x1 "bottleneck" convolutions this is the *naive* module of the paper's Figure 2(a),
whose pool branch passes all C_in channels through, so the output depth
``#1x1 + #3x3 + #5x5 + C_in`` always exceeds the input depth.

Cost of one stride-1 "same" conv with k x k kernels from C_in to C_out channels on H x W
(multiply-adds, per image)::

    MACs = H * W * C_out * k * k * C_in         params = C_out * k * k * C_in + C_out (bias)

``branch_costs`` applies that formula term by term; the lesson checks it against
``cnnlessons.analysis.cost.count`` on the real module.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


def _positive(name: str, value: object, allow_none: bool = False) -> None:
    if allow_none and value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        valid = "a positive integer" + (" or None" if allow_none else "")
        raise ValueError(f"{name} must be {valid}; got {value!r}")


def conv_relu(in_channels: int, out_channels: int, kernel_size: int) -> nn.Sequential:
    """A stride-1 convolution with "same" padding, followed by a ReLU."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2),
                         nn.ReLU(inplace=True))


class Inception(nn.Module):
    """An Inception module with the paper's Table 1 widths; a reducer of ``None`` leaves the
    1x1 bottleneck out (``pool_proj=None``: the pool branch keeps all ``in_channels``)."""

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int | None, ch3x3: int,
                 ch5x5red: int | None, ch5x5: int, pool_proj: int | None) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("ch1x1", ch1x1), ("ch3x3", ch3x3), ("ch5x5", ch5x5)):
            _positive(name, value)
        for name, value in (("ch3x3red", ch3x3red), ("ch5x5red", ch5x5red), ("pool_proj", pool_proj)):
            _positive(name, value, allow_none=True)
        self.in_channels = in_channels
        self.branch1 = conv_relu(in_channels, ch1x1, 1)
        self.branch2 = self._reduced(in_channels, ch3x3red, ch3x3, 3)
        self.branch3 = self._reduced(in_channels, ch5x5red, ch5x5, 5)
        pool = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
        self.branch4 = nn.Sequential(pool) if pool_proj is None else nn.Sequential(pool, conv_relu(in_channels, pool_proj, 1))
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + (in_channels if pool_proj is None else pool_proj)

    @staticmethod
    def _reduced(in_channels: int, reduce: int | None, out_channels: int, kernel_size: int) -> nn.Sequential:
        if reduce is None:
            return conv_relu(in_channels, out_channels, kernel_size)
        return nn.Sequential(conv_relu(in_channels, reduce, 1), conv_relu(reduce, out_channels, kernel_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)


def inception_module(in_channels: int, c1x1: int, c3x3: int, c5x5: int, bottleneck: int | None = None) -> Inception:
    """The module of the CS231n GoogLeNet slides: 1x1, 3x3 and 5x5 convolutions of ``c1x1``,
    ``c3x3``, ``c5x5`` filters and a 3x3 max pool, in parallel. With ``bottleneck=b``, 1x1
    convolutions of ``b`` filters go before the 3x3 and the 5x5 and after the pool."""
    _positive("bottleneck", bottleneck, allow_none=True)
    return Inception(in_channels, c1x1, bottleneck, c3x3, bottleneck, c5x5, bottleneck)


@dataclass(frozen=True)
class ConvTerm:
    """One convolution of a branch, with its hand-formula cost."""

    branch: str
    label: str          # as on the slide, e.g. "[3x3 conv, 192]"
    size: int           # H = W of the feature map
    kernel: int
    in_channels: int
    out_channels: int

    @property
    def macs(self) -> int:
        """H * W * C_out * k * k * C_in."""
        return self.size * self.size * self.out_channels * self.kernel * self.kernel * self.in_channels

    @property
    def params(self) -> int:
        """C_out * k * k * C_in weights plus C_out biases."""
        return self.out_channels * self.kernel * self.kernel * self.in_channels + self.out_channels

    @property
    def formula(self) -> str:
        s = self.size
        return f"{s}x{s}x{self.out_channels}x{self.kernel}x{self.kernel}x{self.in_channels}"


BRANCHES = ("1x1", "3x3", "5x5", "pool")


@dataclass(frozen=True)
class InceptionCost:
    """Hand-formula cost of an Inception module: every conv term, grouped by branch, and
    the depth (channels) each branch adds to the concatenated output."""

    terms: tuple[ConvTerm, ...]
    depths: dict[str, int]

    @property
    def macs(self) -> int:
        return sum(t.macs for t in self.terms)

    @property
    def params(self) -> int:
        return sum(t.params for t in self.terms)

    @property
    def out_channels(self) -> int:
        return sum(self.depths.values())

    def branch_macs(self) -> dict[str, int]:
        """Multiply-adds per branch, in ``BRANCHES`` order (the pool itself costs none)."""
        return {b: sum(t.macs for t in self.terms if t.branch == b) for b in BRANCHES}


def branch_costs(in_channels: int, c1x1: int, c3x3: int, c5x5: int, bottleneck: int | None = None,
                 size: int = 28) -> InceptionCost:
    """Hand-formula multiply-adds and parameters of ``inception_module(...)`` on a
    ``size x size`` map: one ``ConvTerm`` per convolution, in branch order."""
    for name, value in (("in_channels", in_channels), ("c1x1", c1x1), ("c3x3", c3x3), ("c5x5", c5x5), ("size", size)):
        _positive(name, value)
    _positive("bottleneck", bottleneck, allow_none=True)
    b = bottleneck
    terms = [ConvTerm("1x1", f"[1x1 conv, {c1x1}]", size, 1, in_channels, c1x1)]
    for branch, k, width in (("3x3", 3, c3x3), ("5x5", 5, c5x5)):
        if b is not None:
            terms.append(ConvTerm(branch, f"[1x1 conv, {b}]", size, 1, in_channels, b))
        terms.append(ConvTerm(branch, f"[{k}x{k} conv, {width}]", size, k, in_channels if b is None else b, width))
    if b is not None:
        terms.append(ConvTerm("pool", f"[1x1 conv, {b}]", size, 1, in_channels, b))
    depths = {"1x1": c1x1, "3x3": c3x3, "5x5": c5x5, "pool": in_channels if b is None else b}
    return InceptionCost(tuple(terms), depths)
