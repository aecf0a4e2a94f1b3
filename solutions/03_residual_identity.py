"""Worked solutions to lesson 03's exercises (``cnnlessons.exercises.residual``)."""
from __future__ import annotations

import math


def resnet32_params() -> int:
    n, widths = 5, (16, 32, 64)
    total = 3 * 16 * 9 + 2 * 16                      # stem conv + BN
    c_in = 16
    for c in widths:
        for i in range(n):
            total += (c_in if i == 0 else c) * c * 9 + 2 * c   # first conv + BN
            total += c * c * 9 + 2 * c                         # second conv + BN
        c_in = c
    return total + 64 * 10 + 10                      # FC


def identity_blocks() -> int:
    n_shallow, n_deep = (8 - 2) // 6, (32 - 2) // 6
    return 3 * (n_deep - n_shallow)


def plain_bn_gamma() -> float:
    return math.sqrt(1 + 1e-5)   # gamma / sqrt(1 + eps) must be 1


def train_mode_drift() -> int:
    import torch

    from cnnlessons.experiments import deepen, shapes_task
    from cnnlessons.models import cifar_resnet
    from cnnlessons.seeding import seed_everything

    seed_everything(0)
    small = cifar_resnet(8, residual=False, num_classes=10).eval()
    big = deepen(small, 20)
    x = shapes_task(64, 1)[0][0]
    small.train(), big.train()          # BN now uses each batch's own statistics
    with torch.no_grad():
        moved = (small(x) - big(x)).abs() > 1e-3
    return int(moved.any(dim=0).sum())  # classes whose logit moved for some image


def plain_depth_run() -> bool:
    from cnnlessons.experiments import degradation_experiment
    from cnnlessons.experiments.degradation import SCHEDULE_STEPS

    # the first 200 steps of lesson 03's schedule (lr 0.1 throughout), plain nets only, seed 0
    result = degradation_experiment((8, 20), (0,), steps=200, schedule_steps=SCHEDULE_STEPS, n_train=2000,
                                    families=("plain",), device="cpu", show_progress=False)
    return result.mean("plain", 20, "final_train_error") > result.mean("plain", 8, "final_train_error")


SOLUTIONS = {"resnet32_params": resnet32_params, "identity_blocks": identity_blocks,
             "plain_bn_gamma": plain_bn_gamma, "train_mode_drift": train_mode_drift,
             "plain_depth_run": plain_depth_run}
