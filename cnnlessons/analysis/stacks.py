"""Plain stacks of convolutions and pools, described as data (``LayerSpec``) and built as
``nn.Sequential``: the networks the receptive-field lesson experiments on.

A ``k x k`` convolution from ``C`` to ``C`` channels without bias has ``k^2 C^2`` weights,
so three stacked 3x3 layers (``27 C^2``) see the same 7x7 window as one 7x7 layer
(``49 C^2``).
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal, Sequence

from torch import nn

__all__ = ["LayerSpec", "build_stack", "conv_stack"]
@dataclass(frozen=True)
class LayerSpec:
    """One layer of a plain stack: ``kind`` is ``"conv"``, ``"maxpool"`` or ``"avgpool"``.

    ``padding=None`` pads ``d (k - 1) // 2`` ("same" size for odd kernels at stride 1).
    """

    kind: Literal["conv", "maxpool", "avgpool"] = "conv"
    kernel: int = 3
    stride: int = 1
    dilation: int = 1
    padding: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("conv", "maxpool", "avgpool"):
            raise ValueError(f"kind must be one of 'conv', 'maxpool', 'avgpool'; got {self.kind!r}")
        for name in ("kernel", "stride", "dilation"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int; got {value!r}")
        if self.kind == "avgpool" and self.dilation != 1:
            raise ValueError("dilation must be 1 for 'avgpool' (PyTorch's AvgPool2d has none); use 'maxpool' or 'conv'")
        if self.padding is not None and (not isinstance(self.padding, int) or self.padding < 0):
            raise ValueError(f"padding must be None or a non-negative int; got {self.padding!r}")
        if self.kind != "conv" and self.padding is not None and self.padding > self.kernel // 2:
            raise ValueError(f"padding of a pool must be at most kernel // 2 = {self.kernel // 2} (PyTorch's rule); "
                             f"got {self.padding}")

    @property
    def pad(self) -> int:
        """The padding used: ``padding``, or by default ``d (k - 1) // 2`` (at most ``k // 2`` for pools)."""
        if self.padding is not None:
            return self.padding
        same = self.dilation * (self.kernel - 1) // 2
        return same if self.kind == "conv" else min(same, self.kernel // 2)


def build_stack(layers: Sequence[LayerSpec], *, channels: int = 1, in_channels: int | None = None,
                activation: str | None = "relu", bias: bool = False) -> nn.Sequential:
    """An ``nn.Sequential`` of the given layers, named ``conv1, relu1, pool2, ...``.

    Convolutions map ``channels`` to ``channels`` (the first one from ``in_channels``,
    default ``channels``), without bias by default so a ``k x k`` conv has ``k^2 C^2``
    weights; ``activation`` is ``"relu"`` or ``None`` (a linear stack).
    """
    if activation not in ("relu", None):
        raise ValueError(f"activation must be 'relu' or None; got {activation!r}")
    if not layers:
        raise ValueError("layers must hold at least one LayerSpec")
    modules: OrderedDict[str, nn.Module] = OrderedDict()
    c_in = channels if in_channels is None else in_channels
    for i, spec in enumerate(layers, start=1):
        if not isinstance(spec, LayerSpec):
            raise TypeError(f"layers[{i - 1}] must be a LayerSpec; got {type(spec).__name__}")
        if spec.kind == "conv":
            modules[f"conv{i}"] = nn.Conv2d(c_in, channels, spec.kernel, spec.stride, spec.pad, spec.dilation,
                                            bias=bias)
            c_in = channels
            if activation == "relu":
                modules[f"relu{i}"] = nn.ReLU()
        elif spec.kind == "maxpool":
            modules[f"pool{i}"] = nn.MaxPool2d(spec.kernel, spec.stride, spec.pad, spec.dilation)
        else:
            modules[f"pool{i}"] = nn.AvgPool2d(spec.kernel, spec.stride, spec.pad)
    return nn.Sequential(modules)


def conv_stack(depth: int, kernel: int = 3, *, stride: int = 1, dilation: int = 1, channels: int = 1,
               in_channels: int | None = None, activation: str | None = "relu", bias: bool = False) -> nn.Sequential:
    """``depth`` identical ``kernel x kernel`` convolutions (see ``build_stack``)."""
    if not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth must be a positive int; got {depth!r}")
    spec = LayerSpec("conv", kernel, stride, dilation)
    return build_stack([spec] * depth, channels=channels, in_channels=in_channels, activation=activation, bias=bias)


