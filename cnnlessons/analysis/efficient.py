"""Cheaper convolutions, counted and timed: depthwise-separable and grouped convolutions, and the
memory traffic that decides how fast they actually run.

A k x k convolution from C to C' channels with ``groups = g`` has, per output position::

    weights = multiply-adds = k^2 (C / g) C'

- dense (g = 1): k^2 C C'
- grouped (ResNeXt's cardinality g): k^2 C C' / g
- depthwise (g = C = C'): k^2 C
- depthwise-separable (depthwise k x k, then pointwise 1 x 1 to C'): k^2 C + C C', a fraction
  ``1/C' + 1/k^2`` of the dense convolution's (Howard et al. 2017, section 3.1)

Multiply-adds are not time. A layer also moves its input, its weights and its output through
memory; its **arithmetic intensity** (multiply-adds per byte moved) says which of the two limits
it: a 1 x 1 convolution reuses each input value C' times, a depthwise one only k^2 times, so the
depthwise layer is limited by memory traffic long before arithmetic (Ma et al. 2018, ShuffleNet V2,
"FLOPs is an indirect metric"; Liu et al. 2022, ConvNeXt, "models with depthwise convolutions are
known to be slower ... than ConvNets with only dense convolutions" at similar FLOPs).
``separable_vs_dense`` times a depthwise-separable block against a dense convolution with exactly
the same multiply-adds.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .cost import Timing, compare_forward, count

BYTES_PER_VALUE = 4  # float32


def _positive(**values: int) -> None:
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer; got {value!r}")


def conv_weights(kernel: int, c_in: int, c_out: int, groups: int = 1) -> int:
    """Weights of a ``kernel`` x ``kernel`` convolution from ``c_in`` to ``c_out`` channels in
    ``groups`` groups (no bias): ``k^2 (c_in / groups) c_out``; also its multiply-adds per output position."""
    _positive(kernel=kernel, c_in=c_in, c_out=c_out, groups=groups)
    if c_in % groups or c_out % groups:
        raise ValueError(f"groups ({groups}) must divide c_in ({c_in}) and c_out ({c_out})")
    return kernel * kernel * (c_in // groups) * c_out


def separable_weights(kernel: int, c_in: int, c_out: int) -> int:
    """Weights of a depthwise-separable convolution (no bias): depthwise ``k^2 c_in`` plus pointwise
    ``c_in c_out``; also its multiply-adds per output position."""
    return conv_weights(kernel, c_in, c_in, groups=c_in) + conv_weights(1, c_in, c_out)


def separable_ratio(kernel: int, c_out: int) -> float:
    """Separable over dense cost, ``1/c_out + 1/k^2`` (the same for weights and multiply-adds)."""
    _positive(kernel=kernel, c_out=c_out)
    return 1 / c_out + 1 / kernel ** 2


@dataclass(frozen=True)
class Traffic:
    """What one call of a layer computes and the least it must move through memory (per image)."""

    name: str
    macs: int
    bytes: int        # input read once + weights read once + output written once, float32

    @property
    def intensity(self) -> float:
        """Multiply-adds per byte moved."""
        return self.macs / self.bytes


def traffic(conv: nn.Conv2d, input_shape: tuple[int, int, int], name: str = "") -> Traffic:
    """The ``Traffic`` of ``conv`` on one ``(C, H, W)`` input: its multiply-adds (``count``) and the
    bytes of its input, weights and output (each moved once: the least any implementation moves)."""
    cost = count(conv, input_shape)
    (layer,) = cost.layers
    values = (torch.Size(input_shape).numel() + sum(p.numel() for p in conv.parameters())
              + torch.Size(layer.output_shape).numel())
    return Traffic(name or type(conv).__name__, cost.macs, values * BYTES_PER_VALUE)


def equal_macs_blocks(channels: int, kernel: int = 3) -> dict[str, nn.Module]:
    """A depthwise-separable block and a dense convolution with exactly its multiply-adds, both on
    ``channels`` input channels: ``"separable"`` is a k x k depthwise conv then a 1 x 1 conv to
    ``channels`` (``k^2 C + C^2`` per position), ``"dense"`` one 1 x 1 conv to ``channels + k^2``
    (``C (C + k^2)``, the same number). Also returns the separable block's two layers alone
    (``"depthwise"``, ``"pointwise"``: the same modules, so timing them splits the block's time)."""
    _positive(channels=channels, kernel=kernel)
    depthwise = nn.Conv2d(channels, channels, kernel, padding=kernel // 2, groups=channels, bias=False)
    pointwise = nn.Conv2d(channels, channels, 1, bias=False)
    dense = nn.Conv2d(channels, channels + kernel * kernel, 1, bias=False)
    return {"separable": nn.Sequential(depthwise, pointwise), "dense": dense, "depthwise": depthwise,
            "pointwise": pointwise}


@dataclass(frozen=True)
class SeparableTiming:
    """``separable_vs_dense``'s measurements (forward time per batch, medians of interleaved runs)."""

    channels: int
    size: int
    batch: int
    macs: dict[str, int]            # per image, counted
    traffic: dict[str, Traffic]     # depthwise, pointwise, dense
    timings: dict[str, Timing]      # separable, dense, depthwise, pointwise

    def seconds(self, name: str) -> float:
        return self.timings[name].median

    @property
    def slowdown(self) -> float:
        """Separable block time over dense time, at equal multiply-adds."""
        return self.seconds("separable") / self.seconds("dense")

    @property
    def depthwise_mac_share(self) -> float:
        """The depthwise layer's share of the separable block's multiply-adds, ``k^2 / (k^2 + C)``."""
        return self.macs["depthwise"] / self.macs["separable"]

    @property
    def depthwise_time_share(self) -> float:
        """The depthwise layer's share of the time of its two layers run one after the other."""
        return self.seconds("depthwise") / (self.seconds("depthwise") + self.seconds("pointwise"))

    def macs_per_second(self, name: str) -> float:
        """Multiply-adds per second the layer achieved (whole batch)."""
        return self.macs[name] * self.batch / self.seconds(name)


def separable_vs_dense(channels: int = 128, size: int = 56, *, batch: int = 8, kernel: int = 3, repeats: int = 15,
                       warmup: int = 3, device: torch.device | str = "cpu", seed: int = 0) -> SeparableTiming:
    """Time a depthwise-separable block against a dense convolution of the same multiply-adds
    (``equal_macs_blocks``) on a ``(batch, channels, size, size)`` input, and each of the separable
    block's two layers alone: ``repeats`` interleaved rounds after ``warmup`` (``compare_forward``),
    medians. The default is a MobileNet layer: 128 channels at 56 x 56."""
    _positive(channels=channels, size=size, batch=batch, repeats=repeats)
    blocks = equal_macs_blocks(channels, kernel)
    shape = (channels, size, size)
    macs = {name: count(block, shape).macs for name, block in blocks.items()}
    if macs["separable"] != macs["dense"]:
        raise AssertionError(f"the two blocks' multiply-adds differ: {macs}")
    flows = {name: traffic(blocks[name], shape, name) for name in ("depthwise", "pointwise", "dense")}
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, *shape, generator=generator).to(device)
    for block in blocks.values():
        block.to(device).eval()
    timings = compare_forward(blocks, x, repeats=repeats, warmup=warmup)
    return SeparableTiming(channels, size, batch, macs, flows, timings)


__all__ = ["BYTES_PER_VALUE", "SeparableTiming", "Traffic", "conv_weights", "equal_macs_blocks", "separable_ratio",
           "separable_vs_dense", "separable_weights", "traffic"]
