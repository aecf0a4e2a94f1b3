"""Worked solutions to lesson 04's exercises (``cnnlessons.exercises.residual``)."""
from __future__ import annotations


def bottleneck_weights() -> int:
    return 256 * 64 * 1 * 1 + 64 * 64 * 3 * 3 + 64 * 256 * 1 * 1


def se_params() -> int:
    c, h = 2048, 2048 // 16
    return c * h + h + h * c + c


def open_paths() -> float:
    import torch
    from torch import nn

    from cnnlessons.models.cifar_resnet import BasicBlock, init_weights
    from cnnlessons.models.preact import open_identity_paths

    torch.manual_seed(0)
    x = torch.relu(torch.randn(16, 16, 8, 8))
    blocks = nn.Sequential(*[BasicBlock(16, 16) for _ in range(9)])
    init_weights(blocks)
    return round(open_identity_paths(blocks, x), 2)


SOLUTIONS = {"bottleneck_weights": bottleneck_weights, "se_params": se_params, "open_paths": open_paths}
