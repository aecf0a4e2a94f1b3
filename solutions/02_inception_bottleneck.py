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


def factorised_5x5() -> float:
    # Predicted by many: cheaper (lesson 01: two 3x3 cost 18/25 of one 5x5). Computed: dearer, because the second
    # 3x3 reads the 128 channels the first writes, while the 5x5 read the 32 reduced ones.
    size, c_in, reduce, c5 = 14, 528, 32, 128
    reducer = size * size * reduce * c_in
    five = size * size * c5 * 25 * reduce
    two = size * size * (c5 * 9 * reduce + c5 * 9 * c5)
    return round((reducer + two) / (reducer + five), 3)


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


SOLUTIONS = {"five_by_five": five_by_five, "factorised_5x5": factorised_5x5, "break_even": break_even,
             "doubled_input": doubled_input}
