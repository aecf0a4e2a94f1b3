"""Where a network's parameters and multiply-adds sit: per named part, and stage by stage.

``parameters_by(model, {"fc6": "classifier.0", ...})`` sums the parameters under each module
path; ``stage_shapes(model, input_size)`` runs one forward pass (the ``meta`` device is
enough: only shapes are needed) and records, for every direct child of the model that ran,
its output shape, its parameters and its multiply-adds (``cnnlessons.analysis.cost.count``).
``stage_table`` shows the result as a ``cnnlessons.io.Table``.

A fully connected layer from a flattened ``C x H x W`` map to ``F`` outputs has
``C H W F + F`` parameters (VGG-16's fc6: 512 x 7 x 7 x 4096 + 4096 = 102,764,544);
global average pooling first (``C x H x W -> C``, no parameters) divides the weights by
``H W`` (GoogLeNet's classifier: 1024 x 1000 + 1000 = 1,025,000).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import torch
from torch import nn

from ..io import Table
from ..train import _model_device
from .cost import Cost, count, count_parameters

__all__ = ["Stage", "layer_table", "parameters_by", "stage_shapes", "stage_table"]


def _under(name: str, prefix: str) -> bool:
    return prefix == "" or name == prefix or name.startswith(prefix + ".")


def parameters_by(model: nn.Module, parts: Mapping[str, str]) -> dict[str, int]:
    """Parameters under each module path: ``{label: sum of numel}`` for ``{label: path}``
    (``""`` is the whole model). Raises ``KeyError`` for a path that names no module."""
    modules = dict(model.named_modules())
    out = {}
    for label, prefix in parts.items():
        if prefix not in modules:
            raise KeyError(f"{label!r}: the model has no module {prefix!r}")
        out[label] = count_parameters(modules[prefix])
    return out


@dataclass(frozen=True)
class Stage:
    """One direct child of a model, as one forward pass saw it (per image)."""

    name: str
    kind: str                         # the module's class name
    output_shape: tuple[int, ...]     # without the batch dimension
    params: int
    macs: int


def stage_shapes(model: nn.Module, input_size: Sequence[int]) -> list[Stage]:
    """Run ``model`` on one ``input_size`` image and describe each direct child that ran, in
    call order: output shape, parameters and multiply-adds. Children that do not run (an
    auxiliary head in eval mode) are left out. The model's device is used (``meta`` works)."""
    cost = count(model, tuple(input_size))
    seen: dict[str, tuple[int, ...]] = {}
    hooks = []
    for name, child in model.named_children():
        def hook(_m: nn.Module, _i: object, out: object, name: str = name) -> None:
            if isinstance(out, torch.Tensor):
                seen[name] = tuple(out.shape[1:])
        hooks.append(child.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(torch.zeros(1, *input_size, device=_model_device(model)))
    finally:
        for h in hooks:
            h.remove()
    children = dict(model.named_children())
    return [Stage(name, type(children[name]).__name__, shape,
                  count_parameters(children[name]),
                  sum(layer.macs for layer in cost.layers if _under(layer.name, name)))
            for name, shape in seen.items()]


def stage_table(stages: Sequence[Stage], *, caption: str = "") -> Table:
    """The stages as a table: output shape as ``C x H x W``, parameters and multiply-adds."""
    rows = [[s.name, s.kind, " x ".join(str(d) for d in s.output_shape), f"{s.params:,}", f"{s.macs:,}"]
            for s in stages]
    rows.append(["total", "", "", f"{sum(s.params for s in stages):,}", f"{sum(s.macs for s in stages):,}"])
    return Table(["stage", "kind", "output", "parameters", "multiply-adds"], rows, caption=caption)


def layer_table(cost: Cost, *, caption: str = "") -> Table:
    """``count``'s per-layer breakdown as a table: each weighted layer's output shape,
    parameters and multiply-adds, with the model's totals."""
    rows = [[layer.name, layer.kind, " x ".join(str(d) for d in layer.output_shape), f"{layer.params:,}",
             f"{layer.macs:,}"] for layer in cost.layers]
    rows.append(["total", "", "", f"{cost.params:,}", f"{cost.macs:,}"])
    return Table(["layer", "kind", "output", "parameters", "multiply-adds"], rows, caption=caption)
