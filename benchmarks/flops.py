"""Multiply-adds of a network and the bf16 peak of known GPUs.

Convention: one multiply-add (MAC) is two floating-point operations. NVIDIA quotes tensor-core
rates in FLOPS, so a peak of 989 TFLOPS is 494.5 T MAC/s. Training costs about three times the
forward pass (forward, gradient with respect to the inputs, gradient with respect to the
weights, each one matrix product of the same size), so a training step does ~3x the forward
MACs per image.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

TRAINING_MACS_PER_FORWARD_MAC = 3

# Dense (no 2:4 sparsity) BF16 tensor-core peak, TFLOPS, from NVIDIA's datasheets. Order
# matters: the first key contained in the device name wins ("A100" before "A10", "L40S"
# before "L40" before "L4", the NVL/PCIe variants before the plain names, which are SXM).
BF16_DENSE_TFLOPS: tuple[tuple[str, float], ...] = (
    ("H200 NVL", 835.5),
    ("H200", 989.5),        # H200 SXM: 1,979 TFLOPS with sparsity
    ("H100 NVL", 835.5),
    ("H100 PCIe", 756.5),
    ("H100", 989.5),        # H100 SXM ("NVIDIA H100 80GB HBM3"): 1,979 with sparsity
    ("A100", 312.0),        # SXM and PCIe
    ("L40S", 362.05),
    ("L40", 181.05),
    ("L4", 121.0),
    ("A10", 125.0),
    ("RTX 4090", 165.2),    # with FP32 accumulate (Ada whitepaper)
)


def bf16_peak_tflops(device_name: str) -> float | None:
    """Dense bf16 tensor-core peak (TFLOPS) of the GPU called ``device_name``; ``None`` if unknown."""
    for key, tflops in BF16_DENSE_TFLOPS:
        if key.lower() in device_name.lower():
            return tflops
    return None


def forward_macs(model: nn.Module, input_shape: tuple[int, ...]) -> tuple[int, str]:
    """Forward multiply-adds per item of ``input_shape`` (batch first), counted by the course's
    counter (``cnnlessons.analysis.count``) in eval mode, so no BN statistics move; and its name."""
    from cnnlessons.analysis import count

    was_training = model.training
    try:
        model.eval()
        return int(count(model, tuple(input_shape[1:])).macs), "cnnlessons.analysis.count"
    finally:
        model.train(was_training)
