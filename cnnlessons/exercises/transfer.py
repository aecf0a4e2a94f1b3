"""Exercises of lesson 05 (transfer learning)."""
from __future__ import annotations

from typing import Any

import torch

from . import Exercise, equals


def _fresh(num_classes: int = 8):
    from ..models.cifar_resnet import cifar_resnet

    torch.manual_seed(0)
    return cifar_resnet(8, num_classes=num_classes)


def _freezes_backbone(freeze: Any) -> bool:
    model = _fresh()
    freeze(model)
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    return trainable == {"fc.weight", "fc.bias"}


def _pools_last_stage(features: Any) -> bool:
    from ..experiments.transfer import extract

    model = _fresh().eval()
    x = torch.randn(6, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    got = torch.as_tensor(features(model, x))
    return got.shape == (6, 64) and torch.allclose(got, extract(model, x).pooled[-1], atol=1e-5)


probe_parameters = Exercise(
    name="probe_parameters",
    question="How many numbers does the linear probe learn on the similar target (8 classes) on top of the "
             "shipped ResNet-8, whose last stage has 64 channels?",
    is_correct=equals(64 * 8 + 8),
    hint="A linear classifier W f + b: W has one row per class and one column per feature; b one entry per class.",
)

freeze_backbone = Exercise(
    name="freeze_backbone",
    question="Write `freeze(model)` that leaves only the classifier `model.fc` trainable (requires_grad) in a "
             "CIFAR ResNet.",
    is_correct=_freezes_backbone,
    hint="Loop over model.parameters() setting requires_grad = False, then set it back to True for model.fc's.",
)

pooled_features = Exercise(
    name="pooled_features",
    question="Write `features(model, x)` returning the linear probe's input: the last stage's output, averaged "
             "over height and width, shape (N, 64).",
    is_correct=_pools_last_stage,
    hint="Run the stem (conv1, bn1, relu) and layer1..layer3 by hand, then .mean(dim=(2, 3)); no gradient needed.",
)

running_mean_step = Exercise(
    name="running_mean_step",
    question="Predict, then check: in train mode a BatchNorm layer normalises with its batch's own statistics and "
             "moves its running mean m towards the batch's mean b: m_new = m + f * (b - m). What is f? Predict it, "
             "then measure it on a copy of the shipped model's first BatchNorm (model.bn1) with a batch of 20 digits.",
    is_correct=equals(0.1, rel_tol=1e-3),
    hint="Work on copy.deepcopy(model). Keep m = bn1.running_mean.clone() and b = conv1(x).mean(dim=(0, 2, 3)) "
         "(what bn1 normalises), run the model once in train mode, then fit f to all channels at once: "
         "((m_new - m) * (b - m)).sum() / ((b - m) ** 2).sum(). Compare with nn.BatchNorm2d's arguments.",
)

ALL = (probe_parameters, freeze_backbone, pooled_features, running_mean_step)
