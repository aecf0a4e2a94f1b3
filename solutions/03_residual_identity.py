"""Worked solutions to lesson 03's exercises (``cnnlessons.exercises.residual``)."""
from __future__ import annotations

import math


def resnet32_params() -> int:
    n, widths = 5, (16, 32, 64)
    total = 3 * 16 * 9 + 2 * 16                      # stem conv + BN
    c_in = 16
    for c in widths:
        for i in range(n):
            total += (c_in if i == 0 else c) * c * 9 + 2 * c   # first conv + BN
            total += c * c * 9 + 2 * c                         # second conv + BN
        c_in = c
    return total + 64 * 10 + 10                      # FC


def identity_blocks() -> int:
    n_shallow, n_deep = (8 - 2) // 6, (32 - 2) // 6
    return 3 * (n_deep - n_shallow)


def plain_bn_gamma() -> float:
    return math.sqrt(1 + 1e-5)   # gamma / sqrt(1 + eps) must be 1


SOLUTIONS = {"resnet32_params": resnet32_params, "identity_blocks": identity_blocks,
             "plain_bn_gamma": plain_bn_gamma}
