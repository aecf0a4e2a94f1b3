"""Worked solutions to lesson 06's exercises (``cnnlessons.exercises.tour``)."""
from __future__ import annotations

import torch
import torchvision

from cnnlessons.analysis import count


def seven_vs_three() -> int:
    c = 256
    return 7 * 7 * c * c - 3 * (3 * 3 * c * c)  # 49 C^2 - 27 C^2 = 22 C^2


def vgg16_fc_fraction() -> float:
    with torch.device("meta"):
        cost = count(torchvision.models.vgg16(weights=None).eval(), 224)
    fc = sum(layer.params for layer in cost.layers if layer.kind == "Linear")
    return round(fc / cost.params, 2)


def se_params() -> int:
    r = 8
    total = 0
    for blocks, c in ((3, 256), (4, 512), (6, 1024), (3, 2048)):
        total += blocks * (c * (c // r) + c // r + (c // r) * c + c)  # fc1 and fc2 with biases
    return total


def vgg16_at_448() -> float:
    # Every convolution sees 4x the pixels, but the adaptive pool hands the classifier 7x7 maps at
    # any size, so the three fully connected layers (0.12 G of 15.47 G) cost the same: a bit under 4x.
    with torch.device("meta"):
        model = torchvision.models.vgg16(weights=None).eval()
    return round(count(model, 448).macs / count(model, 224).macs, 2)


def resnet50_recipe_gain() -> float:
    # Same network, same multiply-adds: the whole gain is the training recipe (torchvision's 2021 one).
    weights = torchvision.models.ResNet50_Weights
    v1 = weights.IMAGENET1K_V1.meta["_metrics"]["ImageNet-1K"]["acc@1"]
    v2 = weights.IMAGENET1K_V2.meta["_metrics"]["ImageNet-1K"]["acc@1"]
    return round(v2 - v1, 2)


SOLUTIONS = {"seven_vs_three": seven_vs_three, "vgg16_fc_fraction": vgg16_fc_fraction, "se_params": se_params,
             "vgg16_at_448": vgg16_at_448, "resnet50_recipe_gain": resnet50_recipe_gain}
