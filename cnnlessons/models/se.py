"""Squeeze-and-excitation (Hu, Shen, Sun, "Squeeze-and-Excitation Networks", CVPR 2018).

Given a feature map ``x`` of C channels::

    s = mean over H, W of x             (squeeze: one number per channel)
    z = sigmoid(W2 relu(W1 s))          (excitation: W1 is C -> C/r, W2 is C/r -> C)
    out = x * z                         (rescale each channel)

With reduction ``r = 16`` it adds ``2 C^2 / r`` weights (plus ``C/r + C`` biases) per block.
"""
from __future__ import annotations

import torch
from torch import nn


class SEBlock(nn.Module):
    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        if channels < 1 or reduction < 1:
            raise ValueError(f"channels and reduction must be >= 1; got {channels}, {reduction}")
        hidden = max(1, channels // reduction)
        self.squeeze = nn.AdaptiveAvgPool2d(1)
        self.excitation = nn.Sequential(
            nn.Linear(channels, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, channels),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c = x.shape[:2]
        scale = self.excitation(self.squeeze(x).view(n, c)).view(n, c, 1, 1)
        return x * scale
