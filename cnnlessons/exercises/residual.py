"""Exercises of lessons 03 (the residual identity argument) and 04 (ResNet in practice).

Expected answers are computed from the library's and torchvision's modules, never typed in.
"""
from __future__ import annotations

import math

from torch import nn
from torchvision.models.resnet import Bottleneck

from ..analysis.cost import count_parameters
from ..models.cifar_resnet import cifar_resnet
from ..models.se import SEBlock
from . import Exercise, equals


def _conv_weights(module: nn.Module) -> int:
    return sum(m.weight.numel() for m in module.modules() if isinstance(m, nn.Conv2d))


resnet32_params = Exercise(
    name="resnet32_params",
    question="How many parameters does the CIFAR ResNet-32 (n = 5, 10 classes, option-A shortcuts) have? "
             "Count conv weights (no biases), two BN parameters per channel and the final FC layer.",
    is_correct=equals(count_parameters(cifar_resnet(32)), rel_tol=0),
    hint="Stem 3*16*9 + 2*16; each block: two 3x3 convs C_in*C*9 and C*C*9, plus 2*C per BN; "
         "FC 64*10 + 10. Only the first block of stages 2 and 3 has C_in = C / 2.",
)

identity_blocks = Exercise(
    name="identity_blocks",
    question="deepen(resnet8, 32): how many identity blocks does it insert in the whole network?",
    is_correct=equals((32 - 8) // 6 * 3, rel_tol=0),
    hint="depth = 6n + 2 and each stage has n blocks; count the new blocks per stage, times the stages.",
)

plain_bn_gamma = Exercise(
    name="plain_bn_gamma",
    question="An eval-mode BatchNorm with running mean 0, running variance 1, beta 0 and eps = 1e-5: "
             "which gamma makes it the identity (to float precision)?",
    is_correct=equals(math.sqrt(1 + nn.BatchNorm2d(1).eps), rel_tol=1e-7),
    hint="Eval-mode BN computes gamma * (x - mean) / sqrt(var + eps) + beta.",
)

bottleneck_weights = Exercise(
    name="bottleneck_weights",
    question="A ResNet-50 bottleneck block with 256 channels in and out (1x1 to 64, 3x3 64->64, 1x1 to "
             "256): how many conv weights? (No BN, no biases.)",
    is_correct=equals(_conv_weights(Bottleneck(256, 64)), rel_tol=0),
    hint="A k x k conv from C_in to C_out has C_out * C_in * k * k weights; add the three convs.",
)

se_params = Exercise(
    name="se_params",
    question="How many parameters does an SE block (reduction 16) add on 2048 channels, biases included?",
    is_correct=equals(count_parameters(SEBlock(2048, 16)), rel_tol=0),
    hint="Two fully connected layers: C -> C/16 and C/16 -> C, each with weights and biases.",
)

LESSON_03 = (resnet32_params, identity_blocks, plain_bn_gamma)
LESSON_04 = (bottleneck_weights, se_params)
ALL = LESSON_03 + LESSON_04
