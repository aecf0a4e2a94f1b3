"""Worked solutions to lesson 04's exercises (``cnnlessons.exercises.residual``)."""
from __future__ import annotations


def bottleneck_weights() -> int:
    return 1024 * 256 * 1 * 1 + 256 * 256 * 3 * 3 + 256 * 1024 * 1 * 1


def se_params() -> int:
    c, h = 2048, 2048 // 16
    return c * h + h + h * c + c


def open_paths() -> float:
    import torch
    from torch import nn

    from cnnlessons.models.cifar_resnet import BasicBlock, init_weights
    from cnnlessons.models.preact import open_identity_paths

    torch.manual_seed(0)
    x = torch.relu(torch.randn(16, 16, 8, 8))
    blocks = nn.Sequential(*[BasicBlock(16, 16) for _ in range(9)])
    init_weights(blocks)
    return round(open_identity_paths(blocks, x), 2)


def smoothing_loss() -> bool:
    from cnnlessons.experiments import shapes_task
    from cnnlessons.experiments.recipe import PAPER, run_recipe

    train, val = shapes_task(2000, 500)
    recipe = PAPER.with_(batch_size=64)
    final_loss = {}
    for smoothing in (0.0, 0.1):
        run = run_recipe(recipe.with_(label_smoothing=smoothing), train, val, depth=8, steps=200, seed=0,
                         widths=(8, 16, 32), device="cpu", show_progress=False)
        final_loss[smoothing] = sum(run.history.loss[-20:]) / 20
    # The smoothed target has entropy > 0, so its loss cannot fall to 0: it ends higher.
    return final_loss[0.1] > final_loss[0.0]


SOLUTIONS = {"bottleneck_weights": bottleneck_weights, "se_params": se_params, "open_paths": open_paths,
             "smoothing_loss": smoothing_loss}
