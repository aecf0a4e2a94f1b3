"""Worked solutions for lesson 01 (receptive fields), one function per exercise."""
from __future__ import annotations

import torch
import torchvision
from torch import nn

from cnnlessons.analysis import LayerSpec, build_stack, conv_stack, dependency_map, receptive_field
from cnnlessons.analysis.composition import kernel_family_rank


def n_weights(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def weights_saved() -> int:
    c = 256
    return n_weights(nn.Conv2d(c, c, 7, bias=False)) - n_weights(conv_stack(3, 3, channels=c))


def dilated_field() -> int:
    stack = build_stack([LayerSpec("conv", 3, 1, d) for d in (1, 2, 4, 8)])
    return receptive_field(stack, input_size=(1, 64, 64)).size


def alexnet_conv5_jump() -> int:
    with torch.device("meta"):  # no weights needed
        alexnet = torchvision.models.alexnet()
    return receptive_field(alexnet, at="features.10").stride


def two_layer_family() -> int:
    # Predicted: 18 (one per weight) or 25 (every 5x5 kernel). Computed: 17, since (a W1, W2 / a)
    # composes to the same kernel as (W1, W2) for every a != 0, one direction the map cannot see.
    return kernel_family_rank((3, 3), channels=1)


def filled_grid() -> int:
    # Predicted by many after the gridding figure: holes, e.g. 49. Computed: all 121, because the
    # first layer (dilation 1) reaches offsets -1, 0, 1 and fills the gaps of the dilation-2 layers.
    stack = build_stack([LayerSpec("conv", 3, dilation=d) for d in (1, 2, 2)])
    return int(dependency_map(stack, (1, 32, 32)).sum())


SOLUTIONS = {
    "weights_saved": weights_saved,
    "dilated_field": dilated_field,
    "alexnet_conv5_jump": alexnet_conv5_jump,
    "two_layer_family": two_layer_family,
    "filled_grid": filled_grid,
}
