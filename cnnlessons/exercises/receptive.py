"""Exercises for lesson 01, receptive fields. Answer each in code with ``cnnlessons.analysis``.

The expected answers are computed with the library (never typed in) where a function computes them.
"""
from __future__ import annotations

from ..analysis.composition import kernel_family_rank
from . import Exercise, equals

stacked_field = Exercise(
    name="stacked_field",
    question="What is the receptive field of five stacked 3x3 convolutions with stride 1?",
    is_correct=equals(11, rel_tol=0.0),
    hint="Each stride-1 3x3 layer adds (3 - 1) * jump = 2 pixels to r, starting from r = 1; "
         "or build conv_stack(5, 3) and ask receptive_field.",
)

weights_saved = Exercise(
    name="weights_saved",
    question="With C = 256 channels in and out and no bias, how many weights do three stacked 3x3 "
             "convolutions save compared with one 7x7 convolution that sees the same 7x7 field?",
    is_correct=equals(22 * 256 ** 2, rel_tol=0.0),
    hint="Count the weights of real modules: sum(p.numel() for p in module.parameters()) for "
         "nn.Conv2d(256, 256, 7, bias=False) and for conv_stack(3, 3, channels=256).",
)

dilated_field = Exercise(
    name="dilated_field",
    question="Four 3x3 convolutions with stride 1 and dilations 1, 2, 4 and 8 (as in dilated "
             "context modules): what is the receptive field of the last one?",
    is_correct=equals(31, rel_tol=0.0),
    hint="A dilated 3x3 kernel spans d * (3 - 1) + 1 pixels; build the stack with "
         "build_stack([LayerSpec('conv', 3, 1, d) for d in ...]) and measure it.",
)

alexnet_conv5_jump = Exercise(
    name="alexnet_conv5_jump",
    question="In torchvision's AlexNet, how many input pixels apart are the centres of two "
             "neighbouring units of conv5 (the jump, module 'features.10')?",
    is_correct=equals(16, rel_tol=0.0),
    hint="receptive_field(torchvision.models.alexnet(), at='features.10').stride; the jump is "
         "the product of all strides before it.",
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
)

ALL = (stacked_field, weights_saved, dilated_field, alexnet_conv5_jump, two_layer_family)
