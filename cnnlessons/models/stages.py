"""Reading a torchvision ResNet's architecture table back from its modules."""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn


@dataclass(frozen=True)
class StageInfo:
    """One stage of a torchvision ResNet: block type, count, widths and the first block's stride."""

    name: str
    block: str              # "BasicBlock" (two 3x3 convs) or "Bottleneck" (1x1, 3x3, 1x1)
    blocks: int
    kernel_sizes: tuple[int, ...]   # of one block's convs, in order
    width: int              # filters of the 3x3 convs
    out_channels: int
    first_stride: int


def residual_stages(model: nn.Module) -> list[nn.Sequential]:
    """The residual stages ``layer1, layer2, ...`` of a ResNet (the CIFAR ones or torchvision's)."""
    found, i = [], 1
    while hasattr(model, f"layer{i}"):
        found.append(getattr(model, f"layer{i}"))
        i += 1
    if not found:
        raise ValueError(f"{type(model).__name__} has no stages layer1, layer2, ...; expected a ResNet")
    return found


def resnet_stages(model: nn.Module) -> list[StageInfo]:
    """Describe the stages (``layer1..layer4``) of a torchvision ResNet, read from its modules."""
    stages = []
    for i, layer in enumerate(residual_stages(model), 1):
        name = f"layer{i}"
        first = layer[0]
        shortcut = set(first.downsample.modules()) if first.downsample is not None else set()
        convs = [m for m in first.modules() if isinstance(m, nn.Conv2d) and m not in shortcut]
        kernels = tuple(c.kernel_size[0] for c in convs)
        widths = [c.out_channels for c in convs if c.kernel_size == (3, 3)]
        stride = max(c.stride[0] for c in convs)
        stages.append(StageInfo(name, type(first).__name__, len(layer), kernels, widths[0],
                                convs[-1].out_channels, stride))
    return stages
