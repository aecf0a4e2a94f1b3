"""Worked solutions to lesson 04's exercises (``cnnlessons.exercises.residual``)."""
from __future__ import annotations


def bottleneck_weights() -> int:
    return 256 * 64 * 1 * 1 + 64 * 64 * 3 * 3 + 64 * 256 * 1 * 1


def se_params() -> int:
    c, h = 2048, 2048 // 16
    return c * h + h + h * c + c


SOLUTIONS = {"bottleneck_weights": bottleneck_weights, "se_params": se_params}
