"""Exercises of lesson 02 (Inception module and bottlenecks). The expected answers are
computed with ``cnnlessons.models.inception``, never typed in."""
from __future__ import annotations

from torch import nn

from ..analysis.cost import count
from ..models.inception import GOOGLENET_TABLE1, branch_costs, break_even_bottleneck, conv_relu
from . import Exercise, equals

# Inception (4a)'s input: 14x14 maps of 480 channels; its 1x1, 3x3 and 5x5 widths (Table 1).
_SIZE, _IN, _WIDTHS_4A = 14, 480, (192, 208, 48)
# The CS231n slide's module: 28x28x256 in; 128, 192, 96 filters; bottleneck 64.
_SLIDE = dict(c1x1=128, c3x3=192, c5x5=96)


def _five_by_five_macs() -> int:
    cost = branch_costs(_IN, *_WIDTHS_4A, bottleneck=16, size=_SIZE)
    return sum(t.macs for t in cost.terms if t.branch == "5x5")


def _factorised_ratio(module: str = "4e", size: int = 14) -> float:
    """Multiply-adds of module's 5x5 branch (reducer included) with two 3x3 convolutions (reduce -> c5 -> c5)
    in place of its 5x5, over the branch as the paper builds it."""
    c_in, _, _, _, reduce, c5, _ = GOOGLENET_TABLE1[module]
    five = nn.Sequential(conv_relu(c_in, reduce, 1), conv_relu(reduce, c5, 5))
    two = nn.Sequential(conv_relu(c_in, reduce, 1), conv_relu(reduce, c5, 3), conv_relu(c5, c5, 3))
    return count(two, (c_in, size, size)).macs / count(five, (c_in, size, size)).macs


def _doubled_input_growth() -> float:
    return branch_costs(512, **_SLIDE, bottleneck=64).macs / branch_costs(256, **_SLIDE, bottleneck=64).macs


five_by_five = Exercise(
    name="five_by_five",
    question=f"A {_SIZE}x{_SIZE}x{_IN} input; the 5x5 branch has a 1x1 bottleneck of 16 filters, then 48 "
             "5x5 filters. How many multiply-adds does this branch cost (both convolutions)?",
    is_correct=equals(_five_by_five_macs(), rel_tol=0),
    hint="Each conv costs H * W * C_out * k * k * C_in; the 5x5 conv's C_in is the bottleneck width.",
)

factorised_5x5 = Exercise(
    name="factorised_5x5",
    question="Predict, then compute: module 4e reads 14x14x528; its 5x5 branch is a 1x1 reducer to 32 channels, then "
             "128 5x5 filters. Replace the 5x5 convolution by two 3x3 convolutions, 32 -> 128 -> 128. By what factor do "
             "the branch's multiply-adds (reducer included) change? Answer to 3 decimals.",
    is_correct=equals(_factorised_ratio(), rel_tol=1e-3),
    hint="A k x k conv costs H * W * C_out * k * k * C_in; the second 3x3 reads 128 channels, not 32. Or build both "
         "branches from conv_relu and count them.",
    praise="Right: dearer, not cheaper. Two 3x3 layers save 28% only when every layer has the same width; here the "
           "second one reads the 128 channels the first one wrote, four times the 5x5's 32.",
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

ALL = (five_by_five, factorised_5x5, break_even, doubled_input)
