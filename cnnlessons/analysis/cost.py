"""What a network costs: parameters, multiply-adds and depth, counted from a real forward pass.

The unit is the **multiply-accumulate** (MAC, "multiply-add") of convolutions and matrix
products, per input image. It is the unit the papers call "FLOPs" or "ops" (VGG-16
"15.3 G", ResNet-50 "3.8 G") and that torchvision's weights metadata calls ``GFLOPS``. For
one layer::

    convolution:  MACs = H_out * W_out * C_out * (C_in / groups) * k_h * k_w
    linear:       MACs = C_out * C_in          (per output position, if the input has more dims)
    matmul:       MACs = n * m * p             for an (n x m) @ (m x p) product (bmm: per batch)
    attention:    MACs = 2 * L_q * L_k * d     per head (Q K^T, then the weights times V)

Counted: convolutions, ``nn.Linear`` and functional ``linear``, ``matmul``/``mm``/``bmm``/
``einsum`` (as the matrix products they run) and scaled-dot-product attention, i.e. exactly
what ``torch.utils.flop_counter.FlopCounterMode`` counts (FLOPs = 2 x MACs). Biases, batch
norm, activations, softmax and pooling are not counted (they are cheap next to these terms,
and the published figures leave them out too). With this, every torchvision classification
model, transformers included, gets torchvision's published ``_ops`` to within rounding.

``count(model, input_size)`` runs one forward pass under ``FlopCounterMode`` with a forward
hook on every ``nn.Conv*d`` and ``nn.Linear`` (the readable per-layer rows; matrix products
outside such layers, e.g. attention, get one row per module that runs them), so a layer
that runs twice counts twice and a layer that
never runs (GoogLeNet's auxiliary heads in eval mode) costs nothing. Models built on
``torch.device("meta")`` work too: shapes propagate without any arithmetic, and the counts
are exactly the same (parameters and MACs only depend on shapes).

The same pass also measures **depth**: the largest number of weighted layers (conv or
linear) on any path from the input to the output, the way "VGG-16", "GoogLeNet's 22 layers"
and "ResNet-50" are counted (ResNet's 1x1 projection shortcuts lie on a shorter path).

``time_forward(module, x)`` measures forward time honestly: warm-up runs, then ``repeats``
timed runs (synchronising the GPU), reporting the median; ``compare_forward`` does the same
for several modules, interleaved so that they share the machine's ups and downs.
"""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils.flop_counter import FlopCounterMode

WEIGHTED = (nn.modules.conv._ConvNd, nn.Linear)


@dataclass(frozen=True)
class LayerCost:
    """One call of one weighted layer (per input image)."""

    name: str                       # module path in the model, e.g. "features.0"
    kind: str                       # "Conv2d", "Linear", ..., or "matmul" (products outside such layers)
    input_shape: tuple[int, ...]    # without the batch dimension
    output_shape: tuple[int, ...]   # without the batch dimension
    params: int                     # weights + biases of this layer
    macs: int                       # multiply-adds of this call
    depth: int                      # weighted layers on the longest path up to and including this one


@dataclass(frozen=True)
class Cost:
    """The result of ``count``: totals and the per-layer breakdown (in call order)."""

    params: int                      # every parameter of the model, each tensor counted once
    macs: int                        # multiply-adds of one forward pass, per image
    depth: int                       # longest input-to-output chain of weighted layers
    input_size: tuple[int, ...]      # (C, H, W) of one image
    layers: tuple[LayerCost, ...] = field(repr=False)

    @property
    def gmacs(self) -> float:
        """Multiply-adds in billions (torchvision's "GFLOPS")."""
        return self.macs / 1e9

    @property
    def weighted_layers(self) -> int:
        """How many distinct conv/linear modules ran (GoogLeNet: far more than its depth)."""
        return len({layer.name for layer in self.layers})

    @property
    def params_used(self) -> int:
        """Parameters of the weighted layers that ran (excludes e.g. unused auxiliary heads
        and batch-norm scales)."""
        seen: dict[str, int] = {}
        for layer in self.layers:
            seen[layer.name] = layer.params
        return sum(seen.values())

    def macs_by(self, prefix: str) -> int:
        """Multiply-adds of the layers whose module path starts with ``prefix``."""
        return sum(layer.macs for layer in self.layers if layer.name.startswith(prefix))

    def table(self, top: int | None = None) -> str:
        """The breakdown as aligned text, largest first when ``top`` is given."""
        rows = sorted(self.layers, key=lambda layer: -layer.macs)[:top] if top else self.layers
        width = max([len(r.name) for r in rows] + [5])
        lines = [f"{'layer':<{width}}  {'kind':<7} {'output':>16} {'params':>12} {'MACs':>15}"]
        for r in rows:
            shape = "x".join(str(s) for s in r.output_shape)
            lines.append(f"{r.name:<{width}}  {r.kind:<7} {shape:>16} {r.params:>12,} {r.macs:>15,}")
        lines.append(f"{'total':<{width}}  {'':<7} {'':>16} {self.params:>12,} {self.macs:>15,}")
        return "\n".join(lines)


def layer_macs(module: nn.Module, output: torch.Tensor) -> int:
    """Multiply-adds of one call of a conv or linear ``module`` producing ``output`` (batch 1)."""
    per_image = output[0].numel() if output.dim() > 1 else output.numel()
    if isinstance(module, nn.modules.conv._ConvNd):
        return per_image * (module.in_channels // module.groups) * math.prod(module.kernel_size)
    if isinstance(module, nn.Linear):
        return per_image * module.in_features
    raise TypeError(f"layer_macs: expected a conv or linear module, got {type(module).__name__}")


def _input_shape(input_size: int | Sequence[int]) -> tuple[int, ...]:
    if isinstance(input_size, int) and not isinstance(input_size, bool):
        input_size = (3, input_size, input_size)
    if not isinstance(input_size, (tuple, list, torch.Size)) or not input_size or not all(
            isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in input_size):
        raise ValueError(f"input_size must be an image side (int) or a shape like (3, 224, 224) of "
                         f"positive ints, without the batch dimension; got {input_size!r}")
    return tuple(input_size)


class _DepthMode(TorchFunctionMode):
    """Tags every tensor a torch function returns with the longest chain of weighted layers
    behind it: ``max`` over its tensor inputs, plus one for a convolution or linear map."""

    WEIGHTED_FUNCTIONS = {torch.conv1d, torch.conv2d, torch.conv3d, torch.nn.functional.linear,
                          torch.conv_transpose1d, torch.conv_transpose2d, torch.conv_transpose3d}

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[override]
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        depth = max((getattr(t, "_cnnlessons_depth", 0) for t in _tensors((args, kwargs))), default=0)
        if func in self.WEIGHTED_FUNCTIONS:
            depth += 1
        for out in _tensors(result):
            if not isinstance(out, nn.Parameter):
                out._cnnlessons_depth = depth  # type: ignore[attr-defined]
        return result


def _tensors(value: Any) -> list[torch.Tensor]:
    """The tensors inside nested tuples, lists and dicts."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for item in value for t in _tensors(item)]
    if isinstance(value, dict):
        return [t for item in value.values() for t in _tensors(item)]
    return []


def count(model: nn.Module, input_size: int | Sequence[int] = (3, 224, 224)) -> Cost:
    """Count parameters, multiply-adds and depth of ``model`` on one input of ``input_size``.

    ``input_size`` is ``(C, H, W)`` (or an int ``s`` for ``(3, s, s)``). The model runs once,
    in its current mode (call ``.eval()`` first for inference costs), on a zero tensor on
    the device of its parameters (``meta`` included), under ``torch.no_grad()``. Raises
    ``ValueError`` naming ``input_size`` when the model cannot take it (wrong number of
    channels or of dimensions, a map smaller than a kernel), ``TypeError`` if ``model`` is
    not an ``nn.Module``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module; got {type(model).__name__}")
    shape = _input_shape(input_size)
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    names = {module: name for name, module in model.named_modules()}
    layers: list[LayerCost] = []
    first_weighted: list[nn.Module] = []

    def check(module: nn.Module, inputs: tuple[Any, ...]) -> None:
        if first_weighted or not isinstance(module, nn.modules.conv._ConvNd):
            first_weighted.append(module)
            return
        first_weighted.append(module)
        x, n = inputs[0], len(module.kernel_size)
        if x.dim() != n + 2:
            raise ValueError(f"input_size={shape} has {len(shape)} entries, but layer {names[module]!r} "
                             f"({type(module).__name__}) needs (channels, {n} spatial sizes)")
        if x.shape[1] != module.in_channels:
            raise ValueError(f"input_size={shape} gives layer {names[module]!r} {x.shape[1]} input channels, "
                             f"but it takes {module.in_channels}: use input_size=({module.in_channels}, "
                             f"{', '.join(str(s) for s in shape[1:])})")

    def hook(module: nn.Module, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
        layers.append(LayerCost(
            name=names[module], kind=type(module).__name__,
            input_shape=tuple(inputs[0].shape[1:]), output_shape=tuple(output.shape[1:]),
            params=sum(p.numel() for p in module.parameters(recurse=False)),
            macs=layer_macs(module, output), depth=getattr(output, "_cnnlessons_depth", 0)))

    weighted = [m for m in model.modules() if isinstance(m, WEIGHTED)]
    handles = [m.register_forward_pre_hook(check) for m in weighted]
    handles += [m.register_forward_hook(hook) for m in weighted]
    flops = FlopCounterMode(display=False)
    try:
        with torch.no_grad(), _DepthMode(), flops:
            output = model(torch.zeros((1, *shape), device=device))
    except RuntimeError as exc:
        raise ValueError(f"input_size={shape}: the model fails on one input of this shape: "
                         f"{str(exc).splitlines()[0]}") from exc
    finally:
        for handle in handles:
            handle.remove()
    layers += _other_products(flops, type(model).__name__, {layer.name for layer in layers})
    outputs = _tensors(output)
    return Cost(
        params=sum(p.numel() for p in model.parameters()),
        macs=flops.get_total_flops() // 2,
        depth=max((getattr(t, "_cnnlessons_depth", 0) for t in outputs), default=0),
        input_size=shape, layers=tuple(layers))


def _other_products(flops: FlopCounterMode, root: str, hooked: set[str]) -> list[LayerCost]:
    """One ``matmul`` row per module whose own code (not its submodules') runs matrix
    products, e.g. an attention block's ``Q K^T``; conv/linear modules are already rows."""
    totals = {key: sum(ops.values()) for key, ops in flops.get_flop_counts().items() if key != "Global"}
    own = dict(totals)
    for key in totals:
        parents = [k for k in totals if key.startswith(k + ".")]
        if parents:
            own[max(parents, key=len)] -= totals[key]
    rows = []
    for key, value in own.items():
        name = "" if key == root else key[len(root) + 1:]
        if value > 0 and name not in hooked:
            rows.append(LayerCost(name or "(model)", "matmul", (), (), 0, value // 2, 0))
    return rows


def count_parameters(model: nn.Module) -> int:
    """Every parameter of ``model`` (weights, biases, batch-norm scales), each tensor once."""
    return sum(p.numel() for p in model.parameters())


@dataclass(frozen=True)
class Timing:
    """Forward-time measurements in seconds; ``median`` is the figure to report."""

    times: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def spread(self) -> tuple[float, float]:
        """(fastest, slowest) of the timed runs."""
        return min(self.times), max(self.times)


def time_forward(module: nn.Module, x: torch.Tensor, repeats: int = 10, warmup: int = 3) -> Timing:
    """Time ``module(x)`` under ``torch.no_grad()``: ``warmup`` untimed calls (allocator,
    kernel selection, caches), then ``repeats`` timed calls. On CUDA the device is
    synchronised before and after each call, since kernels run asynchronously."""
    return compare_forward({"module": module}, x, repeats=repeats, warmup=warmup)["module"]


def compare_forward(modules: Mapping[str, nn.Module], x: torch.Tensor, repeats: int = 10,
                    warmup: int = 3) -> dict[str, Timing]:
    """Time several modules on the same input, **interleaved**: each round runs every module
    once, so a machine that gets busier or quieter during the measurement affects them all
    alike. Same warm-up, synchronisation and median as ``time_forward``.

    Not ``torch.utils.benchmark.Timer``: it times one statement at a time, with its own warm-up
    on every call, so it cannot interleave; and importing it imports ``torch.utils.cpp_extension``,
    which logs a warning on CUDA builds of torch running without a CUDA runtime."""
    if not isinstance(repeats, int) or isinstance(repeats, bool) or repeats < 1:
        raise ValueError(f"repeats must be an integer >= 1; got {repeats!r}")
    if not isinstance(warmup, int) or isinstance(warmup, bool) or warmup < 0:
        raise ValueError(f"warmup must be an integer >= 0; got {warmup!r}")
    sync = torch.cuda.synchronize if x.device.type == "cuda" else (lambda: None)
    times: dict[str, list[float]] = {name: [] for name in modules}
    with torch.no_grad():
        for i in range(warmup + repeats):
            for name, module in modules.items():
                sync()
                start = time.perf_counter()
                module(x)
                sync()
                if i >= warmup:
                    times[name].append(time.perf_counter() - start)
    return {name: Timing(tuple(t)) for name, t in times.items()}
