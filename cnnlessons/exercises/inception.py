"""Exercises of lesson 02 (Inception module and bottlenecks). The expected answers are
computed with ``cnnlessons.models.inception``, never typed in."""
from __future__ import annotations

from ..models.inception import branch_costs, break_even_bottleneck
from . import Exercise, equals

# Inception (4a)'s input: 14x14 maps of 480 channels; its 1x1, 3x3 and 5x5 widths (Table 1).
_SIZE, _IN, _WIDTHS_4A = 14, 480, (192, 208, 48)
# The CS231n slide's module: 28x28x256 in; 128, 192, 96 filters; bottleneck 64.
_SLIDE = dict(c1x1=128, c3x3=192, c5x5=96)


def _five_by_five_macs() -> int:
    cost = branch_costs(_IN, *_WIDTHS_4A, bottleneck=16, size=_SIZE)
    return sum(t.macs for t in cost.terms if t.branch == "5x5")


def _stacked_depth(modules: int = 3, in_channels: int = 256) -> int:
    depth = in_channels
    for _ in range(modules):
        depth = branch_costs(depth, **_SLIDE).out_channels
    return depth


def _doubled_input_growth() -> float:
    return branch_costs(512, **_SLIDE, bottleneck=64).macs / branch_costs(256, **_SLIDE, bottleneck=64).macs


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
    question=f"Inception (4a)'s widths on its {_SIZE}x{_SIZE}x{_IN} input: 192 1x1, 208 3x3 and 48 5x5 filters. "
             "What is the widest bottleneck b (the same b before the 3x3, before the 5x5 and after the pool) "
             "whose module still costs no more multiply-adds than the naive module?",
    is_correct=equals(break_even_bottleneck(_IN, *_WIDTHS_4A, size=_SIZE), rel_tol=0),
    hint="The bottleneck module's cost grows linearly in b: write it as a + b * slope and compare it with the "
         "naive cost, or try branch_costs(..., bottleneck=b, size=14) for increasing b.",
)

doubled_input = Exercise(
    name="doubled_input",
    question="Predict, then compute: the slide's module reads 256 channels. Give it 512 input channels (same "
             "filters, same 28x28 maps). The naive module's multiply-adds double. By what factor do the "
             "bottleneck-64 module's multiply-adds grow? Answer to 3 decimals.",
    is_correct=equals(_doubled_input_growth(), rel_tol=1e-3),
    hint="Only the convolutions that read the input grow with its depth; the 3x3 and 5x5 filters read the "
         "64 reduced channels. Compare branch_costs(512, ...).macs with branch_costs(256, ...).macs.",
    praise="Right: only the 1x1 convolutions read the input, so most of the cost does not grow at all. "
           "This is why GoogLeNet's modules could take ever deeper inputs.",
)

ALL = (five_by_five, stacked_depth, break_even, doubled_input)
