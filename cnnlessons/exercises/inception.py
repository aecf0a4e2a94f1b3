"""Exercises of lesson 02 (Inception module and bottlenecks). The expected answers are
computed with ``cnnlessons.models.inception.branch_costs``, never typed in."""
from __future__ import annotations

from ..models.inception import branch_costs
from . import Exercise, equals

# Inception (4a)-like input: 14x14 maps of 480 channels.
_SIZE, _IN = 14, 480


def _five_by_five_macs() -> int:
    cost = branch_costs(_IN, 192, 208, 48, bottleneck=16, size=_SIZE)
    return sum(t.macs for t in cost.terms if t.branch == "5x5")


def _stacked_depth(modules: int = 3, in_channels: int = 256) -> int:
    depth = in_channels
    for _ in range(modules):
        depth = branch_costs(depth, 128, 192, 96).out_channels
    return depth


def _break_even_bottleneck() -> int:
    naive = branch_costs(256, 128, 192, 96).macs
    b = 1
    while branch_costs(256, 128, 192, 96, bottleneck=b + 1).macs <= naive:
        b += 1
    return b


five_by_five = Exercise(
    name="five_by_five",
    question=f"A {_SIZE}x{_SIZE}x{_IN} input; the 5x5 branch has a 1x1 bottleneck of 16 filters, then 48 "
             "5x5 filters. How many multiply-adds does this branch cost (both convolutions)?",
    is_correct=equals(_five_by_five_macs(), rel_tol=0),
    hint="Each conv costs H * W * C_out * k * k * C_in; the 5x5 conv's C_in is the bottleneck width.",
)

stacked_depth = Exercise(
    name="stacked_depth",
    question="Stack three naive modules (128 1x1, 192 3x3, 96 5x5 filters each) on a 256-channel input. "
             "What is the output depth of the third one?",
    is_correct=equals(_stacked_depth(), rel_tol=0),
    hint="The pool branch passes every input channel through, so each module adds 128 + 192 + 96.",
)

break_even = Exercise(
    name="break_even",
    question="For the slide's module (256 in; 128, 192, 96 filters), what is the widest bottleneck b whose "
             "module still costs no more multiply-adds than the naive module?",
    is_correct=equals(_break_even_bottleneck(), rel_tol=0),
    hint="The bottleneck module's cost grows linearly in b: write it as a + b * slope, or try "
         "branch_costs(..., bottleneck=b) for increasing b.",
)

ALL = (five_by_five, stacked_depth, break_even)
