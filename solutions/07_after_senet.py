"""Worked solutions to lesson 07's exercises (``cnnlessons.exercises.after_senet``)."""
from __future__ import annotations

import torch


def separable_5x5() -> int:
    k, c_in, c_out = 5, 96, 192
    return k * k * c_in + c_in * c_out  # depthwise 2,400 + pointwise 18,432 (a dense 5x5 conv: 460,800)


def grouped() -> int:
    k, c, g = 3, 256, 64
    return k * k * (c // g) * (c // g) * g  # 64 groups of a 4 -> 4 channel 3x3 conv: k^2 C C' / g


def compound_phi3() -> float:
    alpha, beta, gamma = 1.2, 1.1, 1.15
    per_step = alpha * beta ** 2 * gamma ** 2  # 1.92: each step of phi about doubles the cost
    return round(per_step ** 3, 2)


def convnext_192() -> int:
    c = 192
    depthwise = 7 * 7 * c + c
    layer_norm = 2 * c
    mlp = (c * 4 * c + 4 * c) + (4 * c * c + c)
    layer_scale = c
    return depthwise + layer_norm + mlp + layer_scale


def position_run() -> bool:
    # The prediction: higher. Without position embeddings self-attention treats the 16 patches as a set,
    # so a shape whose patches are rearranged looks the same; the shapes differ by where their parts are.
    from cnnlessons.experiments.degradation import shapes_task
    from cnnlessons.experiments.modern_recipe import train
    from cnnlessons.models.vit import vit_tiny

    data, held_out = shapes_task(2000, 1000, size=16, classes=20)
    errors = {}
    for position in (False, True):
        torch.manual_seed(0)
        model = vit_tiny(depth=5, position=position)
        errors[position] = train(f"position={position}", model, data, held_out, steps=200, seed=0,
                                 device="cpu").val_error
    return errors[False] > errors[True]


SOLUTIONS = {"separable_5x5": separable_5x5, "grouped": grouped, "compound_phi3": compound_phi3,
             "convnext_192": convnext_192, "position_run": position_run}
