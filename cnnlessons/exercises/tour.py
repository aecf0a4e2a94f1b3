"""Exercises of lesson 06 (architecture tour). Expected answers are computed from the models
with ``cnnlessons.analysis.cost.count``, never typed in."""
from __future__ import annotations

from functools import cache
from typing import Any, Callable

import torch
import torchvision
from torch import nn

from ..analysis import count
from ..models.se_resnet import se_resnet50
from . import Exercise, equals


def _lazy(expected: Callable[[], Any], rel_tol: float = 0.0) -> Callable[[Any], bool]:
    """A checker that computes the expected answer (once) on the first check, not at import."""
    return lambda answer: equals(_cached(expected), rel_tol=rel_tol)(answer)


@cache
def _cached(expected: Callable[[], Any]) -> Any:
    return expected()


def _seven_vs_three(channels: int = 256) -> int:
    one = nn.Conv2d(channels, channels, 7, bias=False)
    three = nn.Sequential(*[nn.Conv2d(channels, channels, 3, bias=False) for _ in range(3)])
    return sum(p.numel() for p in one.parameters()) - sum(p.numel() for p in three.parameters())


def _vgg16_fc_fraction() -> float:
    with torch.device("meta"):
        cost = count(torchvision.models.vgg16(weights=None).eval(), 224)
    fc = sum(layer.params for layer in cost.layers if layer.kind == "Linear")
    return round(fc / cost.params, 2)


def _vgg16_at_448() -> float:
    with torch.device("meta"):
        model = torchvision.models.vgg16(weights=None).eval()
    return round(count(model, 448).macs / count(model, 224).macs, 2)


def _se_params(reduction: int = 8) -> int:
    with torch.device("meta"):
        plain = torchvision.models.resnet50(weights=None)
        se = se_resnet50(reduction=reduction)
    return sum(p.numel() for p in se.parameters()) - sum(p.numel() for p in plain.parameters())


def _resnet50_recipe_gain() -> float:
    weights = torchvision.models.ResNet50_Weights
    v1, v2 = (w.meta["_metrics"]["ImageNet-1K"]["acc@1"] for w in (weights.IMAGENET1K_V1, weights.IMAGENET1K_V2))
    return round(v2 - v1, 2)


seven_vs_three = Exercise(
    name="seven_vs_three",
    question="With 256 channels in and out and no biases, how many more weights does one 7x7 convolution "
             "have than a stack of three 3x3 convolutions (which sees the same 7x7 window)?",
    is_correct=equals(_seven_vs_three(), rel_tol=0),
    hint="A k x k conv from C to C channels has k * k * C * C weights.",
)

vgg16_fc_fraction = Exercise(
    name="vgg16_fc_fraction",
    question="What fraction of VGG-16's parameters sit in its three fully connected layers? "
             "(a number between 0 and 1, rounded to 2 decimals)",
    is_correct=_lazy(_vgg16_fc_fraction, rel_tol=0.006),  # 2 decimals, or unrounded
    hint="count(model, 224).layers lists every layer with its kind ('Conv2d' or 'Linear') and params.",
)

se_params = Exercise(
    name="se_params",
    question="How many parameters do the SE gates add to ResNet-50 with reduction r = 8 instead of 16?",
    is_correct=_lazy(_se_params),
    hint="Per block of C output channels: two FC layers, C -> C/r and C/r -> C, with biases; "
         "or build se_resnet50(reduction=8) and compare with torchvision's resnet50.",
)

vgg16_at_448 = Exercise(
    name="vgg16_at_448",
    question="Predict first: VGG-16 on a 448x448 image instead of 224x224. Twice the side, four times the "
             "pixels: exactly 4x the multiply-adds, more, or less? Write your prediction down, then compute "
             "the ratio with count (2 decimals) and explain the difference.",
    # 3.98 is the answer; the tolerance keeps the naive 4.00 wrong.
    is_correct=_lazy(_vgg16_at_448, rel_tol=0.0015),
    hint="Build VGG-16 on the meta device and divide count(model, 448).macs by count(model, 224).macs. "
         "Which layers see the same input at any image size? (Look at the adaptive pool before the classifier.)",
)

resnet50_recipe_gain = Exercise(
    name="resnet50_recipe_gain",
    question="torchvision ships two sets of ImageNet weights for the same ResNet-50 (same layers, same "
             "4.09 G multiply-adds): V1, trained with the 2015 recipe, and V2, trained in 2021 with a modern "
             "recipe (longer training, stronger augmentation, label smoothing, ...). Predict first how many "
             "top-1 points the recipe alone is worth, then read both accuracies from the weights' metadata "
             "(2 decimals).",
    is_correct=equals(_resnet50_recipe_gain(), rel_tol=0.002),
    hint="torchvision.models.ResNet50_Weights.IMAGENET1K_V1.meta['_metrics'] holds the ImageNet-1K accuracies; "
         "do the same for IMAGENET1K_V2 and subtract.",
)

ALL = (seven_vs_three, vgg16_fc_fraction, se_params, vgg16_at_448, resnet50_recipe_gain)
