"""Exercises of lesson 05 (transfer learning).

Each declares ``giveaways``: what the lesson must not print before its exercises, beyond the
answer's own spellings (see ``cnnlessons.exercises``).
"""
from __future__ import annotations

from functools import cache
from typing import Any

import torch

from . import Exercise, equals, lazily

#: The shipped source network the exercises ask about.
SOURCE = "glyphs_resnet14"


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


@cache
def _source():
    from ..zoo import load

    return load(SOURCE)[0]


def probe_size() -> int:
    """Weights and biases of a linear probe for 8 classes on the source's last stage."""
    return _source().fc.in_features * 8 + 8


def random_head_accuracy() -> float:
    """Test accuracy on the digits of ``finetune_all`` from a randomly initialised head (seed 1, 5 labels
    a class, lr 0.001, frozen statistics, the lesson's budget of 3 passes, at least 100 steps)."""
    from ..data import load_target
    from ..experiments import transfer
    from ..zoo import scratch_builder

    model = _source()
    digits = transfer.Experiment(model, scratch_builder(SOURCE), load_target("digits", size=16),
                                 transfer.Budget(epochs=3, lr_grids=transfer.lr_grids("one")))
    idx = digits.labelled(5, seed=1)
    x, y = digits.target.x_train[idx], digits.target.y_train[idx]
    torch.manual_seed(1)
    head = transfer.Probe(digits.features.pooled[-1][idx], 10)
    net, _ = transfer.finetune_all(model, head, x, y, lr=0.001, steps=digits.budget.steps(len(idx)),
                                   batch_size=digits.budget.batch(len(idx)), bn="frozen", seed=1)
    return (transfer.predict(net, digits.target.x_test) == digits.target.y_test).float().mean().item()


probe_parameters = Exercise(
    name="probe_parameters",
    question="How many numbers does the linear probe learn on the similar target (8 classes) on top of the shipped "
             "source network?",
    is_correct=lazily(probe_size),
    hint="A linear classifier W z + b: W has one row per class and one column per feature (the last stage's "
         "channels, model.fc.in_features); b one entry per class.",
    giveaways=(r"\(8,\s*\d{2,3}\)", r"\b8\s*[x×]\s*\d{2,3}\b", r"in_features"),
)

freeze_backbone = Exercise(
    name="freeze_backbone",
    question="Write `freeze(model)` that leaves only the classifier `model.fc` trainable (requires_grad) in a "
             "CIFAR ResNet.",
    is_correct=_freezes_backbone,
    hint="Loop over model.parameters() setting requires_grad = False, then set it back to True for model.fc's.",
    giveaways=(r"requires_grad\s*=\s*False", r"requires_grad_\(\s*False"),
)

pooled_features = Exercise(
    name="pooled_features",
    question="Write `features(model, x)` returning the linear probe's input: the last stage's output, averaged "
             "over height and width, shape (N, C) with C the last stage's channels.",
    is_correct=_pools_last_stage,
    hint="Run the stem (conv1, bn1, relu) and layer1..layer3 by hand, then .mean(dim=(2, 3)); no gradient needed.",
    giveaways=(r"layer3\(\s*model\.layer2", r"bn1\(\s*model\.conv1"),
)

running_mean_step = Exercise(
    name="running_mean_step",
    question="In train mode a BatchNorm layer moves its running mean m towards the batch's mean b: "
             "m_new = m + f * (b - m). What is f? Predict it, then measure it on a copy of the source network's "
             "first BatchNorm (model.bn1) with a batch of 20 digits.",
    is_correct=equals(0.1, rel_tol=1e-3),
    hint="Work on copy.deepcopy(model). Keep m = bn1.running_mean.clone() and b = conv1(x).mean(dim=(0, 2, 3)) "
         "(what bn1 normalises), run the model once in train mode, then fit f to all channels at once: "
         "((m_new - m) * (b - m)).sum() / ((b - m) ** 2).sum(). Compare with nn.BatchNorm2d's arguments.",
    giveaways=(r"momentum\s*=\s*0\.1\b", r"a tenth of the way", r"batch\s*norm[^\n]{0,80}\bmomentum\b",
               r"running[^\n]{0,60}\b0\.1\b"),
)

random_head = Exercise(
    name="random_head",
    question="Fine-tune everything on the digits at 5 (+20) labels a class, seed 1, as finetune_all does at learning "
             "rate 0.001 with frozen statistics, but from a new, randomly initialised head instead of the fitted "
             "probe. What test accuracy does it reach?",
    is_correct=lazily(random_head_accuracy, rel_tol=0.03),
    hint="With digits = experiments['digits']: idx = digits.labelled(5, seed=1); torch.manual_seed(1); "
         "head = transfer.Probe(digits.features.pooled[-1][idx], 10); then transfer.finetune_all(source, head, x, y, "
         "lr=0.001, steps=budget.steps(len(idx)), batch_size=budget.batch(len(idx)), bn='frozen', seed=1) on the "
         "labelled images, and transfer.predict on digits.target.x_test.",
    giveaways=(r"random(ly initiali[sz]ed)? head[^\n]{0,80}\b0\.\d{3}\b",),
)

ALL = (probe_parameters, freeze_backbone, pooled_features, running_mean_step, random_head)
