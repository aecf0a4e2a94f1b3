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
``einsum`` (as the matrix products they run) and scaled-dot-product attention, i.e. what
``torch.utils.flop_counter.FlopCounterMode`` counts (FLOPs = 2 x MACs), plus the fused
attention kernels it has no formula for (``ATTENTION_KERNELS``: the CPU's flash kernel,
``nn.MultiheadAttention``'s inference fast path, ...). So attention costs the same on every
device and dtype: on ``meta`` it decomposes into the two matrix products, on a CPU or GPU it
runs as one fused kernel, and both count ``2 * L_q * L_k * d`` per head. Biases, batch
norm, activations, softmax and pooling are not counted (they are cheap next to these terms,
and the published figures leave them out too). With this, every torchvision classification
model, transformers included, gets torchvision's published ``_ops`` to within rounding.

``count(model, input_size)`` runs one forward pass under ``FlopCounterMode`` with a forward
hook on every ``nn.Conv*d`` and ``nn.Linear`` (the readable per-layer rows; matrix products
outside such layers, e.g. attention, get one row per module that runs them), so a layer
that runs twice counts twice and a layer that never runs (GoogLeNet's auxiliary heads in
eval mode) costs nothing. ``Cost.calls`` has the same for every module call, containers
included (a ResNet stage, an Inception module: the numbers ``cnnlessons.analysis.diagram``
draws). No arithmetic is done: a model on a real device runs on fake tensors (PyTorch's
``FakeTensorMode``: the same shapes, dtypes, device and kernel choices, no data), and models
built on ``torch.device("meta")`` have no data anyway; the counts are exactly those of a
real pass (parameters and MACs only depend on shapes), at any size, in milliseconds.

The same pass also measures **depth**: the largest number of weighted layers (conv or
linear) on any path from the input to the output, the way "VGG-16", "GoogLeNet's 22 layers"
and "ResNet-50" are counted (ResNet's 1x1 projection shortcuts lie on a shorter path).

``time_forward(module, x)`` measures forward time honestly: warm-up runs, then ``repeats``
timed runs (synchronising the GPU), reporting the median; ``compare_forward`` does the same
for several modules, interleaved so that they share the machine's ups and downs.
"""
from __future__ import annotations

import contextlib
import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import torch
from torch import nn
from torch._subclasses.fake_tensor import FakeTensorMode
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
class ModuleCall:
    """One call of any module (containers included), per input image."""

    name: str                       # module path in the model ("" for the model itself)
    kind: str                       # class name, e.g. "Sequential", "BasicBlock", "ReLU"
    call: int                       # 0 for this module's first call, 1 for its second, ...
    params: int                     # parameters of the module and its submodules, each tensor once
    macs: int                       # multiply-adds of this call, its submodules' included


@dataclass(frozen=True)
class Cost:
    """The result of ``count``: totals, the per-layer breakdown (in call order) and the cost
    of every module call (in the order the calls start)."""

    params: int                      # every parameter of the model, each tensor counted once
    macs: int                        # multiply-adds of one forward pass, per image
    depth: int                       # longest input-to-output chain of weighted layers
    input_size: tuple[int, ...]      # (C, H, W) of one image
    layers: tuple[LayerCost, ...] = field(repr=False)
    calls: tuple[ModuleCall, ...] = field(repr=False, default=())

    def call_of(self, name: str, call: int = 0) -> ModuleCall:
        """The ``call``-th call of the module at path ``name``."""
        for c in self.calls:
            if c.name == name and c.call == call:
                return c
        raise KeyError(f"no call {call} of a module named {name!r}")

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
    the device and in the floating dtype of its parameters, under ``torch.no_grad()``.
    Nothing is computed: on a real device the pass runs under ``FakeTensorMode`` (tensors
    with the shapes, dtypes and device of the real ones but no data, so every operation
    dispatches to the same kernel as for real and VGG-16 costs no arithmetic), and on
    ``meta`` there is no data anyway. The model's parameters and buffers are left as they
    were (batch-norm statistics included). A model that fake tensors cannot run (an
    operation that reads data) is run for real instead.

    Raises ``ValueError`` naming ``input_size`` when the model cannot take it (wrong number
    of channels or of dimensions, a map smaller than a kernel), ``TypeError`` if ``model``
    is not an ``nn.Module``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module; got {type(model).__name__}")
    shape = _input_shape(input_size)
    device, dtype = _device_and_dtype(model)
    if device.type != "meta":
        try:
            return _measure(model, shape, device, dtype, fake=True)
        except _InputSizeError as exc:
            raise ValueError(str(exc)) from None
        except Exception:  # an operation fake tensors cannot run: measure for real below
            pass
    try:
        return _measure(model, shape, device, dtype, fake=False)
    except _InputSizeError as exc:
        raise ValueError(str(exc)) from None
    except RuntimeError as exc:
        raise ValueError(f"input_size={shape}: the model fails on one input of this shape: "
                         f"{str(exc).splitlines()[0]}") from exc


class _InputSizeError(Exception):
    """``input_size`` does not fit the model's first convolution."""


def _measure(model: nn.Module, shape: tuple[int, ...], device: torch.device, dtype: torch.dtype,
             fake: bool) -> Cost:
    """One forward pass of ``model`` on a zero ``(1, *shape)`` input, with every count recorded."""
    names = {module: name for name, module in model.named_modules()}
    layers: list[LayerCost] = []
    first_weighted: list[nn.Module] = []
    flops = flop_counter()
    calls: list[ModuleCall | None] = []
    open_calls: list[tuple[int, int, int]] = []
    times_called: dict[nn.Module, int] = {}
    params_of: dict[nn.Module, int] = {}

    def check(module: nn.Module, inputs: tuple[Any, ...]) -> None:
        if first_weighted or not isinstance(module, nn.modules.conv._ConvNd):
            first_weighted.append(module)
            return
        first_weighted.append(module)
        x, n = inputs[0], len(module.kernel_size)
        if x.dim() != n + 2:
            raise _InputSizeError(f"input_size={shape} has {len(shape)} entries, but layer {names[module]!r} "
                                  f"({type(module).__name__}) needs (channels, {n} spatial sizes)")
        if x.shape[1] != module.in_channels:
            raise _InputSizeError(
                f"input_size={shape} gives layer {names[module]!r} {x.shape[1]} input channels, "
                f"but it takes {module.in_channels}: use input_size=({module.in_channels}, "
                f"{', '.join(str(s) for s in shape[1:])})")

    def hook(module: nn.Module, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
        layers.append(LayerCost(
            name=names[module], kind=type(module).__name__,
            input_shape=tuple(inputs[0].shape[1:]), output_shape=tuple(output.shape[1:]),
            params=sum(p.numel() for p in module.parameters(recurse=False)),
            macs=layer_macs(module, output), depth=getattr(output, "_cnnlessons_depth", 0)))

    def enter(module: nn.Module, inputs: tuple[Any, ...]) -> None:
        calls.append(None)
        open_calls.append((len(calls) - 1, times_called.get(module, 0), flops.get_total_flops()))
        times_called[module] = times_called.get(module, 0) + 1

    def leave(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        slot, call, start = open_calls.pop()
        if module not in params_of:
            params_of[module] = count_parameters(module)
        calls[slot] = ModuleCall(names[module], type(module).__name__, call, params_of[module],
                                 (flops.get_total_flops() - start) // 2)

    weighted = [m for m in model.modules() if isinstance(m, WEIGHTED)]
    handles = [m.register_forward_pre_hook(check) for m in weighted]
    handles += [m.register_forward_hook(hook) for m in weighted]
    handles += [m.register_forward_pre_hook(enter) for m in model.modules()]
    handles += [m.register_forward_hook(leave) for m in model.modules()]
    no_data = FakeTensorMode(allow_non_fake_inputs=True) if fake else contextlib.nullcontext()
    buffers = [(b, b.clone()) for b in model.buffers()]   # batch-norm statistics, counters
    try:
        with torch.no_grad(), no_data, _DepthMode(), flops:
            output = model(torch.zeros((1, *shape), device=device, dtype=dtype))
    finally:
        for handle in handles:
            handle.remove()
        with torch.no_grad():
            for buffer, saved in buffers:
                buffer.copy_(saved)
    layers += _other_products(flops, type(model).__name__, {layer.name for layer in layers})
    outputs = _tensors(output)
    return Cost(
        params=count_parameters(model),
        macs=flops.get_total_flops() // 2,
        depth=max((getattr(t, "_cnnlessons_depth", 0) for t in outputs), default=0),
        input_size=shape, layers=tuple(layers), calls=tuple(c for c in calls if c is not None))


def _device_and_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    """Where a model's input goes: the device of its first parameter (or buffer) and the dtype
    of its first floating-point one (float32 for a model without any)."""
    tensors = [*model.parameters(), *model.buffers()]
    device = tensors[0].device if tensors else torch.device("cpu")
    dtype = next((t.dtype for t in tensors if t.is_floating_point()), torch.float32)
    return device, dtype


def attention_macs(query: Sequence[int], key: Sequence[int], value: Sequence[int]) -> int:
    """Multiply-adds of scaled-dot-product attention on tensors of these shapes,
    ``(..., L_q, d)``, ``(..., L_k, d)`` and ``(..., L_k, d_v)`` (leading dims: batch, heads)::

        scores  = Q K^T      L_q * L_k * d     per batch and head
        output  = scores V   L_q * L_k * d_v

    Grouped-query attention (fewer key/value heads) broadcasts them: the query's leading
    dimensions count."""
    *lead, l_q, d = query
    l_k, d_v = key[-2], value[-1]
    return math.prod(lead) * l_q * l_k * (d + d_v)


def _sdpa_flops(query, key, value, *args, out_shape=None, **kwargs) -> int:  # type: ignore[no-untyped-def]
    return 2 * attention_macs(query, key, value)


def _native_mha_flops(query, key, value, embed_dim, num_head, *args, out_shape=None,  # type: ignore[no-untyped-def]
                      **kwargs) -> int:
    """``nn.MultiheadAttention``'s fused inference kernel: its input projections of the query
    (L x E) and of the key and value (S x E each), attention over ``num_head`` heads of
    ``E / num_head`` (together ``2 * L * S * E``) and the output projection, per batch item."""
    *lead, l_q, e = query
    s = key[-2]
    return 2 * math.prod(lead) * e * (l_q * e + 2 * s * e + 2 * l_q * s + l_q * e)


ATTENTION_KERNELS: dict[str, Any] = {
    # fused attention kernels FlopCounterMode has no formula for (its registry covers CUDA's
    # flash, memory-efficient and cuDNN kernels)
    "_scaled_dot_product_flash_attention_for_cpu": _sdpa_flops,
    "_scaled_dot_product_fused_attention_overrideable": _sdpa_flops,
    "_scaled_dot_product_attention_math_for_mps": _sdpa_flops,
    "_native_multi_head_attention": _native_mha_flops,
}


def flop_counter() -> FlopCounterMode:
    """``FlopCounterMode`` with formulas for the fused attention kernels (``ATTENTION_KERNELS``)
    of this torch build, so that attention counts the same on every device."""
    from torch.utils.flop_counter import flop_registry
    mapping = {}
    for name, formula in ATTENTION_KERNELS.items():
        op = getattr(torch.ops.aten, name, None)
        if op is not None and op not in flop_registry:
            mapping[op] = formula
    return FlopCounterMode(display=False, custom_mapping=mapping)


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
