"""Compound scaling (Tan & Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural
Networks", ICML 2019), checked on torchvision's EfficientNet-B0 to B7.

A convolution's multiply-adds grow linearly with the network's depth d (more layers) and with the
square of its width w (both C_in and C_out grow) and of the image's resolution r (H and W grow)::

    multiply-adds  ~  d * w^2 * r^2          parameters  ~  d * w^2   (resolution adds none)

EfficientNet scales all three together from a searched baseline, B0: ``d = alpha^phi``,
``w = beta^phi``, ``r = gamma^phi`` with ``alpha = 1.2, beta = 1.1, gamma = 1.15`` found by a small
grid search at ``phi = 1`` under ``alpha * beta^2 * gamma^2 ~ 2``, so that each step of phi about
doubles the multiply-adds. The released B1-B7 use rounded coefficients (``COEFFICIENTS``, from the
authors' code), and a real network rounds again: each stage gets ``ceil(d * layers)`` blocks and
each width is rounded to a multiple of 8. ``efficientnet_scaling`` counts each network and sets the
formula's prediction beside it, with the nominal coefficients and with the network's realised ones.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass

import torch
import torchvision
from torchvision.models import get_model_weights

from ..analysis import count

ALPHA, BETA, GAMMA = 1.2, 1.1, 1.15   # depth, width, resolution per step of phi (Tan & Le 2019, section 3.3)

# (width, depth, resolution) of B0-B7: the authors' code (tensorflow/tpu efficientnet_builder.py, params_dict)
COEFFICIENTS: dict[str, tuple[float, float, int]] = {
    "efficientnet_b0": (1.0, 1.0, 224), "efficientnet_b1": (1.0, 1.1, 240), "efficientnet_b2": (1.1, 1.2, 260),
    "efficientnet_b3": (1.2, 1.4, 300), "efficientnet_b4": (1.4, 1.8, 380), "efficientnet_b5": (1.6, 2.2, 456),
    "efficientnet_b6": (1.8, 2.6, 528), "efficientnet_b7": (2.0, 3.1, 600),
}

# The paper's Table 2: ImageNet top-1 %, parameters (M) and FLOPs (B, multiply-adds) of B0-B7.
PAPER_TABLE2: dict[str, tuple[float, float, float]] = {
    "efficientnet_b0": (77.1, 5.3, 0.39), "efficientnet_b1": (79.1, 7.8, 0.70), "efficientnet_b2": (80.1, 9.2, 1.0),
    "efficientnet_b3": (81.6, 12, 1.8), "efficientnet_b4": (82.9, 19, 4.2), "efficientnet_b5": (83.6, 30, 9.9),
    "efficientnet_b6": (84.0, 43, 19), "efficientnet_b7": (84.3, 66, 37),
}


@dataclass(frozen=True)
class ScaledNet:
    """One EfficientNet: its coefficients (nominal and realised) and its counts."""

    name: str
    width: float                 # nominal width multiplier w
    depth: float                 # nominal depth multiplier d
    resolution: int              # the paper's image side
    blocks: int                  # MBConv blocks the network really has
    stage_widths: tuple[int, ...]  # output channels of its seven stages
    macs: int                    # counted at the paper's resolution
    params: int                  # counted
    crop: int                    # torchvision's evaluation crop of its default weights
    macs_at_crop: int            # counted at that crop
    published_gmacs: float       # torchvision's metadata, at its crop
    published_params: int
    acc1: float                  # torchvision's default weights, ImageNet top-1 %
    weights: str                 # which default weights (B1's are torchvision's own V2 recipe)


def _stages(model: torch.nn.Module) -> list[torch.nn.Sequential]:
    return list(model.features[1:-1])  # features: stem, seven stages of MBConv blocks, 1x1 head conv


def efficientnet_scaling() -> list[ScaledNet]:
    """Build B0-B7 on the ``meta`` device (no weights, no arithmetic) and count each."""
    rows = []
    for name, (width, depth, resolution) in COEFFICIENTS.items():
        with torch.device("meta"):
            model = torchvision.models.get_model(name, weights=None).eval()
        stages = _stages(model)
        weights = get_model_weights(name).DEFAULT
        crop = weights.transforms().crop_size[0]
        at_res, at_crop = count(model, resolution), count(model, crop)
        rows.append(ScaledNet(
            name, width, depth, resolution, sum(len(s) for s in stages),
            tuple(s[-1].block[-1][0].out_channels for s in stages), at_res.macs, at_res.params, crop, at_crop.macs,
            weights.meta["_ops"], weights.meta["num_params"], weights.meta["_metrics"]["ImageNet-1K"]["acc@1"],
            weights.name))
    return rows


@dataclass(frozen=True)
class Prediction:
    """The formula against the count for one network, relative to B0."""

    name: str
    counted: float         # multiply-adds / B0's (both at the paper's resolutions)
    nominal: float         # d w^2 r^2 with the released coefficients
    realised: float        # d w^2 r^2 with the network's own block count and mean stage width

    @property
    def nominal_error(self) -> float:
        return self.nominal / self.counted - 1

    @property
    def realised_error(self) -> float:
        return self.realised / self.counted - 1


def predictions(rows: list[ScaledNet]) -> list[Prediction]:
    """``d w^2 r^2`` for each network relative to the first (B0), with the nominal coefficients and with
    the realised ones (depth: blocks / B0's blocks; width: the mean over stages of channels / B0's)."""
    base = rows[0]
    out = []
    for row in rows:
        r = row.resolution / base.resolution
        d = row.blocks / base.blocks
        w = statistics.fmean(a / b for a, b in zip(row.stage_widths, base.stage_widths))
        out.append(Prediction(row.name, row.macs / base.macs, row.depth * row.width ** 2 * r ** 2, d * w ** 2 * r ** 2))
    return out


__all__ = ["ALPHA", "BETA", "COEFFICIENTS", "GAMMA", "PAPER_TABLE2", "Prediction", "ScaledNet", "efficientnet_scaling",
           "predictions"]
