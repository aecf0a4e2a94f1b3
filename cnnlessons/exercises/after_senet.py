"""Exercises of lesson 07 (after SENet). Expected answers are computed from real modules or by a run,
never typed in."""
from __future__ import annotations

from functools import cache
from typing import Any, Callable

import torch
from torch import nn

from . import Exercise, equals


def _lazy(expected: Callable[[], Any], rel_tol: float = 0.0) -> Callable[[Any], bool]:
    """A checker that computes the expected answer (once) on the first check, not at import."""
    return lambda answer: equals(_cached(expected), rel_tol=rel_tol)(answer)


@cache
def _cached(expected: Callable[[], Any]) -> Any:
    return expected()


def _weights(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _separable_5x5() -> int:
    return _weights(nn.Sequential(nn.Conv2d(96, 96, 5, groups=96, bias=False), nn.Conv2d(96, 192, 1, bias=False)))


def _grouped() -> int:
    return _weights(nn.Conv2d(256, 256, 3, groups=64, bias=False))


def _compound_phi3() -> float:
    from ..experiments.scaling import ALPHA, BETA, GAMMA

    return round((ALPHA * BETA ** 2 * GAMMA ** 2) ** 3, 2)


def _convnext_192() -> int:
    from ..models.convnext import ConvNeXtBlock

    return _weights(ConvNeXtBlock(192))


POSITION_RUN = {"images": 2000, "steps": 200, "seed": 0}  # the run exercise 5 asks for


@cache
def position_effect(images: int = POSITION_RUN["images"], steps: int = POSITION_RUN["steps"],
                    seed: int = POSITION_RUN["seed"]) -> float:
    """Held-out error of the lesson's ViT without position embeddings minus with them, both trained
    with the lesson's recipe on the same ``images`` procedural images for ``steps`` steps (CPU)."""
    from ..experiments.degradation import shapes_task
    from ..experiments.modern_recipe import train
    from ..models.vit import vit_tiny

    data, held_out = shapes_task(images, 1000, size=16, classes=20)
    errors = {}
    for position in (False, True):
        torch.manual_seed(seed)
        model = vit_tiny(depth=5, position=position)
        errors[position] = train(f"position={position}", model, data, held_out, steps=steps, seed=seed,
                                 device="cpu").val_error
    return round(errors[False] - errors[True], 3)


separable_5x5 = Exercise(
    name="separable_5x5",
    question="A 5x5 depthwise-separable convolution from 96 to 192 channels (no biases): how many weights?",
    is_correct=equals(_separable_5x5()),
    hint="The depthwise part has one k x k filter per input channel; the pointwise part is a 1x1 conv "
         "from C to C' channels.",
)

grouped = Exercise(
    name="grouped",
    question="ResNeXt-101 64x4d's first grouped convolution is 3x3 with 256 channels in and out in 64 groups "
             "(cardinality 64). How many weights does it have (no bias)?",
    is_correct=equals(_grouped()),
    hint="Each group is an ordinary 3x3 conv from 256/64 input channels to 256/64 output channels.",
)

compound_phi3 = Exercise(
    name="compound_phi3",
    question="With EfficientNet's alpha = 1.2, beta = 1.1, gamma = 1.15, by what factor does the formula "
             "multiply-adds ~ d w^2 r^2 say the cost grows from phi = 0 to phi = 3? (2 decimals)",
    is_correct=_lazy(_compound_phi3, rel_tol=0.001),
    hint="d = alpha^phi, w = beta^phi, r = gamma^phi; put them into d * w^2 * r^2.",
)

convnext_192 = Exercise(
    name="convnext_192",
    question="How many parameters does a ConvNeXt block of 192 channels have (7x7 depthwise conv with bias, "
             "LayerNorm, 1x1 to 4 x 192 and back, both with biases, and the layer-scale vector)?",
    is_correct=_lazy(_convnext_192),
    hint="Add the parts: 49 C + C for the depthwise conv, 2 C for LayerNorm, (C * 4C + 4C) + (4C * C + C) for "
         "the two 1x1 layers, C for gamma.",
)

position_run = Exercise(
    name="position_run",
    question="Predict first, then measure: without its position embedding (VisionTransformer(depth=5, "
             "position=False), from cnnlessons.models.vit) the ViT cannot tell where a patch was. Will it end with a "
             "higher held-out error on the shapes than vit_tiny(depth=5), which has one? Train both with the "
             "lesson's recipe on 2,000 images for 200 steps, seed 0 (cnnlessons.exercises.after_senet.POSITION_RUN), "
             "and answer True if the one without the embedding ends with the higher held-out error, False if not.",
    is_correct=lambda answer: isinstance(answer, bool) and answer == (position_effect() > 0),  # trains on first check
    hint="shapes_task(2000, 1000, size=16, classes=20) gives the data; for each model, torch.manual_seed(0), build it, "
         "then cnnlessons.experiments.modern_recipe.train(name, model, data, held_out, steps=200, seed=0, "
         "device='cpu').val_error. Compare the two errors.",
    giveaways=(r"without[^\n]{0,30}position[^\n]{0,80}(higher|lower|above|below|worse|better)",
               r"position embedding[^\n]{0,60}(lowers|raises|helps|hurts)"),
)

ALL = (separable_5x5, grouped, compound_phi3, convnext_192, position_run)
