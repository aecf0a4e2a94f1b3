"""Worked solutions to lesson 02's exercises (``cnnlessons.exercises.inception``).

Each function returns the answer a student would compute in the notebook.
"""
from __future__ import annotations

from cnnlessons.models.inception import branch_costs


def five_by_five() -> int:
    # 1x1 reducer on 480 channels, then 5x5 on the 16 reduced channels, 14x14 maps.
    reduce = 14 * 14 * 16 * 1 * 1 * 480
    conv5 = 14 * 14 * 48 * 5 * 5 * 16
    return reduce + conv5


def stacked_depth() -> int:
    depth = 256
    for _ in range(3):
        depth += 128 + 192 + 96  # the pool branch keeps all `depth` input channels
    return depth


def break_even() -> int:
    # cost(b) = 1x1 branch + b * (H*W*(3*C_in + 9*208 + 25*48)), linear in b; Inception (4a)'s widths.
    size, c_in = 14, 480
    naive = branch_costs(c_in, 192, 208, 48, size=size).macs
    fixed = size * size * 192 * c_in
    slope = size * size * (3 * c_in + 9 * 208 + 25 * 48)
    return (naive - fixed) // slope


def doubled_input() -> float:
    # Predicted by many: 2x, like the naive module. Only the 1x1 convolutions read the input.
    before = branch_costs(256, 128, 192, 96, bottleneck=64).macs
    after = branch_costs(512, 128, 192, 96, bottleneck=64).macs
    return round(after / before, 3)


SOLUTIONS = {"five_by_five": five_by_five, "stacked_depth": stacked_depth, "break_even": break_even,
             "doubled_input": doubled_input}
