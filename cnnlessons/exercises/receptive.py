"""Exercises for lesson 01, receptive fields. Answer each in code with ``cnnlessons.analysis``.

The expected answers are computed with the library (never typed in) where a function computes them.
"""
from __future__ import annotations

from ..analysis.composition import kernel_family_rank
from ..analysis.erf import dependency_map
from ..analysis.stacks import LayerSpec, build_stack
from . import Exercise, equals, lazily


def _reached(dilations: tuple[int, ...]) -> int:
    """How many input pixels can change the centre unit of 3x3 convolutions with these dilations."""
    return int(dependency_map(build_stack([LayerSpec("conv", 3, dilation=d) for d in dilations]), (1, 32, 32)).sum())


weights_saved = Exercise(
    name="weights_saved",
    question="With C = 256 channels in and out and no bias, how many weights do three stacked 3x3 "
             "convolutions save compared with one 7x7 convolution that sees the same 7x7 field?",
    is_correct=equals(22 * 256 ** 2, rel_tol=0.0),
    hint="Count the weights of real modules: sum(p.numel() for p in module.parameters()) for "
         "nn.Conv2d(256, 256, 7, bias=False) and for conv_stack(3, 3, channels=256).",
    giveaways=(r"22\s*(C|×\s*256|x\s*256)\s*(\^?2|²)",),
)

dilated_field = Exercise(
    name="dilated_field",
    question="Four 3x3 convolutions with stride 1 and dilations 1, 2, 4 and 8 (as in dilated "
             "context modules): what is the receptive field of the last one?",
    is_correct=equals(31, rel_tol=0.0),
    hint="A dilated 3x3 kernel spans d * (3 - 1) + 1 pixels; build the stack with "
         "build_stack([LayerSpec('conv', 3, 1, d) for d in ...]) and measure it.",
    giveaways=(r"1,\s*2,\s*4(,| and)\s*8[^\n]{0,80}\b31\b", r"\b31\b[^\n]{0,80}dilations?\s*1,\s*2,\s*4"),
)

alexnet_conv5_jump = Exercise(
    name="alexnet_conv5_jump",
    question="In torchvision's AlexNet, how many input pixels apart are the centres of two "
             "neighbouring units of conv5 (the jump, module 'features.10')?",
    is_correct=equals(16, rel_tol=0.0),
    hint="receptive_field(torchvision.models.alexnet(), at='features.10').stride; the jump is "
         "the product of all strides before it.",
    # the review found it in a table of "r / j" per stage ("conv5 163 / 16") and a legend ("conv5: r = 163, j = 16")
    giveaways=(r"conv5\s*:?\s*\d+\s*/\s*16\b", r"conv5[^\n]{0,30}\bj\s*=\s*16\b", r"jump[^\n.]{0,30}\b16\b",
               r"\b16\b[^\n.]{0,20}\bjump"),
)

two_layer_family = Exercise(
    name="two_layer_family",
    question="Predict, then compute: two 3x3 convolutions with no ReLU between them (one channel) collapse "
             "into one 5x5 kernel: 25 entries, made from 18 weights. How many dimensions does the family of "
             "5x5 kernels they can reach have?",
    is_correct=equals(kernel_family_rank((3, 3), channels=1), rel_tol=0.0),
    hint="kernel_family_rank((3, 3), channels=1) computes it. If it differs from the weight count, look "
         "for a change of the two kernels that leaves their composition the same.",
    praise="Right: scaling one kernel up by a and the other down by a changes nothing, so one of the 18 "
           "weights is free. Every 5x5 kernel outside that family is out of reach of the linear stack.",
    giveaways=(r"\b17\b[^\n.]{0,40}dimension", r"two[^.\n]{0,40}3x3[^.\n]{0,80}\b17\b"),
)

filled_grid = Exercise(
    name="filled_grid",
    question="Predict, then compute: three 3x3 convolutions with stride 1 and dilations 1, 2 and 2 see an 11x11 "
             "window. How many of its 121 pixels can change the centre output unit?",
    is_correct=lazily(lambda: _reached((1, 2, 2))),
    hint="dependency_map(build_stack([LayerSpec('conv', 3, dilation=d) for d in (1, 2, 2)]), (1, 32, 32)) marks "
         "the pixels that reach the centre unit; count them. Which offsets can the first, undilated layer add?",
    praise="Right: the undilated first layer reaches offsets -1, 0 and 1, which fill the gaps the dilation-2 "
           "layers leave. Dilations that grow from 1 cover their window; a stack of dilation 2 alone would "
           "reach only the even offsets.",
    giveaways=(r"1,\s*2(,| and)\s*2\b[^\n]{0,80}\b121\b",),
)

ALL = (weights_saved, dilated_field, alexnet_conv5_jump, two_layer_family, filled_grid)
