"""ZFNet (Zeiler & Fergus, "Visualizing and Understanding Convolutional Networks", ECCV 2014,
arXiv:1311.2901), the ILSVRC 2013 winner, next to the AlexNet it refined (Krizhevsky,
Sutskever, Hinton, "ImageNet Classification with Deep Convolutional Neural Networks", NIPS 2012).

Both are five convolutions and three fully connected layers; the architecture is data (a
tuple of ``ConvLayer``) and one class builds either::

    layer   AlexNet                        ZFNet (Zeiler & Fergus, Fig. 3 + Table 2)
    conv1   96 11x11 stride 4, pad 2       96 7x7 stride 2, pad 1      (224 -> 55 vs 110)
            LRN, 3x3/2 max pool            3x3/2 max pool, contrast norm
    conv2   256 5x5 stride 1, pad 2        256 5x5 stride 2            (27 -> 27 vs 55 -> 26)
            LRN, 3x3/2 max pool            3x3/2 max pool, contrast norm
    conv3   384 3x3                        512 3x3
    conv4   384 3x3                        1024 3x3
    conv5   256 3x3, 3x3/2 max pool        512 3x3, 3x3/2 max pool    (6x6 maps either way)
    fc6, fc7: 4096 with dropout; fc8: 1000

ZFNet's visualisations showed AlexNet's 11x11 stride-4 first layer missed mid frequencies
and aliased; the smaller 7x7 stride-2 filters fixed that. Figure 3 of the paper keeps
AlexNet's 384/384/256 filters in conv3-5; the wider 512/1024/512 variant of its Table 2 is
the one the CS231n slide calls ZFNet and the default here; ``zfnet(conv345=(384, 384, 256))``
is Figure 3's model. Unlike AlexNet's two-GPU model, both use dense connections (no groups),
as Zeiler & Fergus did. Max pools use ``ceil_mode`` so the paper's map sizes come out
(110 -> 55, 26 -> 13 -> 6; AlexNet's 55 -> 27 -> 13 -> 6 are unchanged by it).
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, fields, replace
from typing import Literal, Sequence

import torch
from torch import nn

Norm = Literal["before pool", "after pool"]


@dataclass(frozen=True)
class ConvLayer:
    """One convolution of an AlexNet-style network, with what follows its ReLU."""

    filters: int
    kernel: int
    stride: int = 1
    padding: int = 0
    pool: bool = False            # a 3x3, stride-2 ("overlapping") max pool after the ReLU
    norm: Norm | None = None      # local response / contrast normalisation, and where


ALEXNET_LAYERS: tuple[ConvLayer, ...] = (
    ConvLayer(96, 11, stride=4, padding=2, pool=True, norm="before pool"),
    ConvLayer(256, 5, padding=2, pool=True, norm="before pool"),
    ConvLayer(384, 3, padding=1),
    ConvLayer(384, 3, padding=1),
    ConvLayer(256, 3, padding=1, pool=True),
)

ZFNET_LAYERS: tuple[ConvLayer, ...] = (
    ConvLayer(96, 7, stride=2, padding=1, pool=True, norm="after pool"),
    ConvLayer(256, 5, stride=2, pool=True, norm="after pool"),
    ConvLayer(512, 3, padding=1),
    ConvLayer(1024, 3, padding=1),
    ConvLayer(512, 3, padding=1, pool=True),
)


class EightLayerNet(nn.Sequential):
    """Five convolutions (``layers``) and three fully connected layers, AlexNet style, each
    module named as the papers name the layers: ``conv1``, ``relu1``, [``norm1``], [``pool1``],
    ... ``conv5`` ..., a 6x6 adaptive average pool (the identity at 224x224), ``flatten``, then
    dropout, ``fc6``, ReLU, dropout, ``fc7``, ReLU, ``fc8``."""

    def __init__(self, layers: Sequence[ConvLayer], num_classes: int = 1000, dropout: float = 0.5,
                 in_channels: int = 3) -> None:
        if not layers or not all(isinstance(layer, ConvLayer) for layer in layers):
            raise ValueError("layers must be a non-empty sequence of ConvLayer")
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes must be a positive int; got {num_classes!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); got {dropout!r}")
        modules: dict[str, nn.Module] = {}
        c_in = in_channels
        for i, layer in enumerate(layers, start=1):
            modules[f"conv{i}"] = nn.Conv2d(c_in, layer.filters, layer.kernel, layer.stride, layer.padding)
            modules[f"relu{i}"] = nn.ReLU(inplace=True)
            norm = {f"norm{i}": nn.LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0)} if layer.norm else {}
            pool = {f"pool{i}": nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)} if layer.pool else {}
            modules.update({**norm, **pool} if layer.norm == "before pool" else {**pool, **norm})
            c_in = layer.filters
        modules.update(
            avgpool=nn.AdaptiveAvgPool2d((6, 6)), flatten=nn.Flatten(),
            drop6=nn.Dropout(p=dropout), fc6=nn.Linear(c_in * 6 * 6, 4096), relu6=nn.ReLU(inplace=True),
            drop7=nn.Dropout(p=dropout), fc7=nn.Linear(4096, 4096), relu7=nn.ReLU(inplace=True),
            fc8=nn.Linear(4096, num_classes))
        super().__init__(OrderedDict(modules))
        self.layers = tuple(layers)

    @property
    def last_conv_stage(self) -> str:
        """The module whose output is the last feature map (before the adaptive pool)."""
        names = list(self._modules)
        return names[names.index("avgpool") - 1]


def zfnet(num_classes: int = 1000, conv345: tuple[int, int, int] = (512, 1024, 512), dropout: float = 0.5) -> EightLayerNet:
    """ZFNet: 7x7 stride-2 first layer, 5x5 stride-2 second layer, ``conv345`` filters in
    conv3-5 (default the slide's 512/1024/512; ``(384, 384, 256)`` for the paper's Fig. 3)."""
    if len(conv345) != 3 or not all(isinstance(c, int) and c > 0 for c in conv345):
        raise ValueError(f"conv345 must be three positive ints; got {conv345!r}")
    layers = ZFNET_LAYERS[:2] + tuple(replace(layer, filters=c) for layer, c in zip(ZFNET_LAYERS[2:], conv345))
    return EightLayerNet(layers, num_classes, dropout)


def alexnet_dense(num_classes: int = 1000, dropout: float = 0.5) -> EightLayerNet:
    """AlexNet with the paper's filter counts (96/256/384/384/256) and dense connections
    instead of the two-GPU split: the baseline ZFNet changed. (torchvision's ``alexnet`` is a
    later single-GPU variant with 64/192/384/256/256 filters and no LRN.)"""
    return EightLayerNet(ALEXNET_LAYERS, num_classes, dropout)


def config_diff(a: Sequence[ConvLayer], b: Sequence[ConvLayer]) -> list[tuple[str, str, object, object]]:
    """What changed between two layer configs: ``(layer, field, value in a, value in b)``."""
    if len(a) != len(b):
        raise ValueError(f"configs have different lengths ({len(a)} and {len(b)})")
    return [(f"conv{i}", f.name, getattr(x, f.name), getattr(y, f.name))
            for i, (x, y) in enumerate(zip(a, b), start=1) for f in fields(ConvLayer)
            if getattr(x, f.name) != getattr(y, f.name)]
