"""The activation memory a forward pass keeps for the backward pass.

To compute gradients, autograd saves tensors during the forward pass: a convolution saves
its input (for the weight gradient), a ReLU its output (for its mask). A stack of three
3x3 conv-ReLU layers on a ``C x H x W`` map therefore keeps four ``C H W`` maps (the input
and three ReLU outputs, each shared with the next convolution) where one 7x7 conv-ReLU
keeps two: the practical cost of depth that the CS231n notes point out ("we might need
more memory to hold all the intermediate CONV layer results if we plan to do
backpropagation").

``saved_activations(model, x)`` measures it with ``torch.autograd.graph.saved_tensors_hooks``:
every tensor autograd saves, counted once per storage, parameters left out.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["SavedActivations", "saved_activations"]


@dataclass(frozen=True)
class SavedActivations:
    """What one forward pass saved for backward (parameters excluded)."""

    tensors: int      # distinct storages saved
    elements: int     # their elements
    bytes: int        # their size in bytes


def saved_activations(model: nn.Module, x: torch.Tensor) -> SavedActivations:
    """Run ``model(x)`` with gradients on and count what autograd saves for the backward
    pass: each storage once (a ReLU's output that the next convolution also saves counts
    once), the model's parameters not at all. The input is counted when a layer saves it."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, tuple[int, int]] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            saved[storage.data_ptr()] = (storage.nbytes() // t.element_size(), storage.nbytes())
        return t

    with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x)
    return SavedActivations(len(saved), sum(e for e, _ in saved.values()), sum(b for _, b in saved.values()))
