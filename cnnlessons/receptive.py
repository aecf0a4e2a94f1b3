"""Receptive fields: which input pixels one unit of a feature map can see.

Theoretical receptive field (Araujo, Norris, Sim, "Computing Receptive Fields of
Convolutional Neural Networks", Distill 2019). Going forward through layers ``l = 1..L``
with kernel ``k_l``, stride ``s_l``, dilation ``d_l`` and padding ``p_l``, per axis::

    k'_l = d_l (k_l - 1) + 1              effective kernel of a dilated layer
    r_l  = r_{l-1} + (k'_l - 1) j_{l-1}   field size        (r_0 = 1)
    j_l  = j_{l-1} s_l                    jump ("stride"): input pixels between
                                          neighbouring units of layer l (j_0 = 1)
    P_l  = P_{l-1} + p_l j_{l-1}          effective padding (P_0 = 0)

Unit ``u`` (0-based) of layer ``L`` sees input pixels ``u j_L - P_L`` to
``u j_L - P_L + r_L - 1`` (coordinates below 0 or past the image are padding). Padding
moves the field; it never changes its size. Where paths merge (a residual ``add``, an
Inception ``cat``) the field is the union over the inputs; when the paths are centred
alike (as in ResNets and GoogLeNet) that is simply the largest field.

``receptive_field(model)`` traces the model's real graph with ``torch.fx`` and applies the
recurrence node by node, so it handles torchvision's AlexNet, VGG, ResNets, GoogLeNet and
SE-Nets without a hand-written layer list.

Effective receptive field (Luo, Li, Urtasun, Zemel, "Understanding the Effective
Receptive Field in Deep Convolutional Neural Networks", NeurIPS 2016): set the gradient of
one output unit to 1, all others to 0, back-propagate to the input and look at the
magnitude map. ``effective_receptive_field`` returns that map; for ``n`` stacked uniform
linear ``k``-kernels it is the n-fold convolution of a box, whose variance per axis is
exactly ``n (k^2 - 1) / 12``: the width grows like ``sqrt(n)`` while ``r`` grows like ``n``.
"""
from __future__ import annotations

import copy
import itertools
import math
import operator
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Literal, Sequence, Union

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn

Pair = tuple[int, int]
IntOrPair = Union[int, Pair]

LAST_FEATURE_MAP = "last_feature_map"

__all__ = [
    "LAST_FEATURE_MAP", "LayerSpec", "LayerStep", "ReceptiveField", "ReceptiveFieldError",
    "build_stack", "centre_unit", "conv_stack", "dependency_map", "dependency_maps",
    "effective_receptive_field", "erf_std", "plot_fields_on_image", "support_box",
    "receptive_field",
]


class ReceptiveFieldError(ValueError):
    """The receptive field cannot be computed (a layer mixes all positions, an unknown layer)."""


# --------------------------------------------------------------------------- results

def _collapse(pair: Pair) -> IntOrPair:
    return pair[0] if pair[0] == pair[1] else pair


@dataclass(frozen=True)
class LayerStep:
    """One row of the recurrence: a layer and the field after it, per axis as ``(h, w)``."""

    name: str
    kind: str  # "input", "conv", "maxpool", "avgpool", "pad", "merge"
    kernel: Pair
    stride: Pair
    dilation: Pair
    padding: Pair
    size: Pair
    jump: Pair
    effective_padding: Pair
    map_size: Pair

    def row(self) -> dict[str, Any]:
        """The step as a flat dict, square pairs collapsed to one number."""
        return {"layer": self.name, "kind": self.kind, "kernel": _collapse(self.kernel),
                "stride": _collapse(self.stride), "dilation": _collapse(self.dilation),
                "padding": _collapse(self.padding), "size r": _collapse(self.size),
                "jump j": _collapse(self.jump), "eff. padding P": _collapse(self.effective_padding),
                "map": f"{self.map_size[0]}x{self.map_size[1]}"}


@dataclass(frozen=True)
class ReceptiveField:
    """The receptive field of the units of one feature map.

    ``size``, ``stride`` (the jump) and ``padding`` (effective padding) are ints when both
    axes agree, ``(h, w)`` pairs otherwise; the ``*_hw`` fields are always pairs.
    ``layers`` lists the recurrence step by step (convolutions, pools and merges).
    """

    size_hw: Pair
    stride_hw: Pair
    padding_hw: Pair
    input_size: Pair
    map_size: Pair
    layers: tuple[LayerStep, ...] = field(default=(), repr=False)

    @property
    def size(self) -> IntOrPair:
        return _collapse(self.size_hw)

    @property
    def stride(self) -> IntOrPair:
        return _collapse(self.stride_hw)

    @property
    def jump(self) -> IntOrPair:
        return self.stride

    @property
    def padding(self) -> IntOrPair:
        return _collapse(self.padding_hw)

    def region(self, row: int, col: int) -> tuple[int, int, int, int]:
        """Input pixels ``(top, left, bottom, right)`` (inclusive) seen by unit ``(row, col)``;
        they may reach past the image into the padding."""
        top = row * self.stride_hw[0] - self.padding_hw[0]
        left = col * self.stride_hw[1] - self.padding_hw[1]
        return top, left, top + self.size_hw[0] - 1, left + self.size_hw[1] - 1

    def centre(self, row: int, col: int) -> tuple[float, float]:
        """Centre of unit ``(row, col)``'s field in input coordinates: ``u j - P + (r - 1)/2``."""
        top, left, bottom, right = self.region(row, col)
        return (top + bottom) / 2, (left + right) / 2

    def table(self) -> list[dict[str, Any]]:
        return [step.row() for step in self.layers]

    def markdown(self) -> str:
        rows = self.table()
        if not rows:
            return ""
        head = list(rows[0])
        lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
        lines += ["| " + " | ".join(str(r[h]) for h in head) + " |" for r in rows]
        return "\n".join(lines)

    def __str__(self) -> str:
        return (f"receptive field {self.size}, jump {self.stride}, effective padding {self.padding} "
                f"({self.map_size[0]}x{self.map_size[1]} map on a {self.input_size[0]}x{self.input_size[1]} input)")


# --------------------------------------------------------------------------- graph states

@dataclass(frozen=True)
class _Field:
    """A tensor with a spatial map: every unit sees ``size`` pixels, ``jump`` apart."""

    size: Pair
    jump: Pair
    padding: Pair
    map_size: Pair


@dataclass(frozen=True)
class _NoMap:
    """A tensor computed from a feature map that has no spatial map any more."""

    layer: str  # the layer that removed the map
    why: str
    source: fx.Node | None = None  # the last node that still had a map


@dataclass(frozen=True)
class _Invalid:
    error: ReceptiveFieldError


_CONST = None  # tensors or values that do not depend on the input

_POINTWISE_MODULES: tuple[type[nn.Module], ...] = (
    nn.Identity, nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU,
    nn.SiLU, nn.Mish, nn.Hardswish, nn.Hardsigmoid, nn.Hardtanh, nn.Sigmoid, nn.Tanh, nn.Softplus,
    nn.Dropout, nn.Dropout2d, nn.AlphaDropout, nn.BatchNorm2d, nn.LocalResponseNorm,
)
_POINTWISE_FUNCTIONS = {
    F.relu, F.relu_, F.relu6, F.leaky_relu, F.elu, F.selu, F.gelu, F.silu, F.mish, F.hardswish,
    F.hardsigmoid, F.hardtanh, F.sigmoid, F.tanh, F.dropout, F.dropout2d, F.batch_norm,
    F.local_response_norm, torch.relu, torch.relu_, torch.sigmoid, torch.tanh, torch.clamp,
    torch.neg, torch.exp, torch.abs, torch.sqrt, operator.neg,
}
_POINTWISE_METHODS = {
    "relu", "relu_", "sigmoid", "sigmoid_", "tanh", "tanh_", "clamp", "clamp_", "contiguous",
    "float", "double", "half", "to", "type_as", "detach", "clone", "neg", "exp", "abs", "sqrt",
}
_ELEMENTWISE = {
    operator.add, operator.sub, operator.mul, operator.truediv, operator.iadd, operator.isub,
    operator.imul, operator.itruediv, torch.add, torch.sub, torch.mul, torch.div,
}
_ELEMENTWISE_METHODS = {"add", "add_", "sub", "sub_", "mul", "mul_", "div", "div_"}
_CONCAT = {torch.cat, torch.concat}
# Shape ops that may only move batch/channel data; checked against the shapes they produce.
_SHAPE_FUNCTIONS = {torch.flatten, torch.reshape, torch.squeeze, torch.unsqueeze, torch.transpose,
                    torch.permute, operator.getitem, torch.chunk, torch.split}
_SHAPE_METHODS = {"flatten", "view", "reshape", "squeeze", "unsqueeze", "transpose", "permute",
                  "chunk", "split", "expand_as", "expand"}
_SIZE_METHODS = {"size", "dim"}


def _pair(value: Any) -> Pair:
    if isinstance(value, int):
        return value, value
    value = tuple(value)
    return (value[0], value[0]) if len(value) == 1 else (int(value[0]), int(value[1]))


def _describe(node: fx.Node) -> str:
    """A layer name for messages: the module path, or the enclosing module and the op."""
    if node.op == "call_module":
        return str(node.target)
    stack = node.meta.get("nn_module_stack") or {}
    where = list(stack.values())[-1][0] if stack else ""
    return f"{where} ({node.name})" if where else node.name


class _Tracer(fx.Tracer):
    """``torch.fx`` tracer that remembers the output node of the module named ``at``."""

    def __init__(self, at: str | None) -> None:
        super().__init__()
        self.at = at
        self.at_node: fx.Node | None = None

    def call_module(self, m: nn.Module, forward: Any, args: Any, kwargs: Any) -> Any:
        out = super().call_module(m, forward, args, kwargs)
        if self.at is not None and self.path_of_module(m) == self.at:
            if not isinstance(out, fx.Proxy):
                raise ReceptiveFieldError(f"at={self.at!r}: that module returns {type(out).__name__}, "
                                          "not one feature map")
            self.at_node = out.node
        return out


class _MetaShapes(fx.Interpreter):
    """Runs the graph on the ``meta`` device (no arithmetic) to learn every tensor's shape."""

    def call_module(self, target: Any, args: Any, kwargs: Any) -> Any:
        mod = self.fetch_attr(target)
        if isinstance(mod, _POINTWISE_MODULES) and isinstance(args[0], torch.Tensor):
            return args[0]  # same shape; skipping them keeps tracing fast
        state = {n: t.to("meta") for n, t in itertools.chain(mod.named_parameters(), mod.named_buffers())}
        return torch.func.functional_call(mod, state, args, kwargs)

    def call_function(self, target: Any, args: Any, kwargs: Any) -> Any:
        if target in _POINTWISE_FUNCTIONS and args and isinstance(args[0], torch.Tensor):
            return args[0]
        return super().call_function(target, args, kwargs)

    def get_attr(self, target: Any, args: Any, kwargs: Any) -> Any:
        value = super().get_attr(target, args, kwargs)
        return value.to("meta") if isinstance(value, torch.Tensor) else value

    def run_node(self, n: fx.Node) -> Any:
        out = super().run_node(n)
        n.meta["rf_value_is_tensor"] = isinstance(out, torch.Tensor)
        if isinstance(out, torch.Tensor):
            n.meta["rf_shape"] = tuple(out.shape)
        return out


# --------------------------------------------------------------------------- the recurrence

def _step(f: _Field, kernel: Pair, stride: Pair, dilation: Pair, padding: Pair, map_size: Pair) -> _Field:
    """One layer of the Distill recurrence, per axis."""
    size, jump, pad = [], [], []
    for a in range(2):
        k_eff = dilation[a] * (kernel[a] - 1) + 1
        size.append(f.size[a] + (k_eff - 1) * f.jump[a])
        pad.append(f.padding[a] + padding[a] * f.jump[a])
        jump.append(f.jump[a] * stride[a])
    return _Field(tuple(size), tuple(jump), tuple(pad), map_size)  # type: ignore[arg-type]


def _merge(fields: list[_Field], name: str) -> _Field:
    """Union of the inputs' fields (all inputs must step over the input with the same jump)."""
    jumps = {f.jump for f in fields}
    if len(jumps) > 1:
        raise ReceptiveFieldError(f"layer {name!r} merges feature maps with different jumps {sorted(jumps)}; "
                                  "their units do not line up, so no single receptive field exists")
    pad = tuple(max(f.padding[a] for f in fields) for a in range(2))
    right = tuple(max(f.size[a] - 1 - f.padding[a] for f in fields) for a in range(2))
    size = tuple(right[a] + pad[a] + 1 for a in range(2))
    return _Field(size, fields[0].jump, pad, fields[0].map_size)  # type: ignore[arg-type]


def _conv_padding(m: nn.Conv2d) -> Pair:
    if isinstance(m.padding, str):
        if m.padding == "valid":
            return 0, 0
        k, d = _pair(m.kernel_size), _pair(m.dilation)  # "same": PyTorch pads total d(k-1), left half
        return tuple(d[a] * (k[a] - 1) // 2 for a in range(2))  # type: ignore[return-value]
    return _pair(m.padding)


class _Propagator:
    def __init__(self, gm: fx.GraphModule, input_size: Pair, ignore_global_context: bool) -> None:
        self.gm = gm
        self.modules = dict(gm.named_modules())
        self.ignore_global_context = ignore_global_context
        self.states: dict[fx.Node, Any] = {}
        self.steps: dict[fx.Node, LayerStep] = {}
        self.input_size = input_size

    # helpers ----------------------------------------------------------------
    def shape(self, node: fx.Node) -> tuple[int, ...] | None:
        return node.meta.get("rf_shape")

    def map_size(self, node: fx.Node) -> Pair:
        shape = self.shape(node)
        assert shape is not None and len(shape) >= 2
        return shape[-2], shape[-1]

    def inputs(self, node: fx.Node) -> list[tuple[fx.Node, Any]]:
        return [(n, self.states[n]) for n in node.all_input_nodes]

    def record(self, node: fx.Node, kind: str, f: _Field, kernel: Pair = (1, 1), stride: Pair = (1, 1),
               dilation: Pair = (1, 1), padding: Pair = (0, 0)) -> _Field:
        name = "input" if kind == "input" else _describe(node)
        self.steps[node] = LayerStep(name, kind, kernel, stride, dilation, padding,
                                     f.size, f.jump, f.padding, f.map_size)
        return f

    def error(self, node: fx.Node, text: str) -> ReceptiveFieldError:
        return ReceptiveFieldError(f"layer {_describe(node)!r}: {text}")

    # the walk ---------------------------------------------------------------
    def run(self, wanted: set[fx.Node]) -> None:
        for node in self.gm.graph.nodes:
            if node not in wanted:
                continue
            ins = [self.states[n] for n in node.all_input_nodes]
            bad = [s for s in ins if isinstance(s, _Invalid)]
            if bad:
                self.states[node] = bad[0]
                continue
            try:
                self.states[node] = self.visit(node)
            except ReceptiveFieldError as exc:
                self.states[node] = _Invalid(exc)

    def visit(self, node: fx.Node) -> Any:
        if node.op == "placeholder":
            if not self.states:  # the first input is the image
                f = _Field((1, 1), (1, 1), (0, 0), self.input_size)
                return self.record(node, "input", f)
            return _CONST
        if node.op in ("get_attr", "output"):
            return _CONST
        ins = self.inputs(node)
        fields = [s for _, s in ins if isinstance(s, _Field)]
        nomaps = [s for _, s in ins if isinstance(s, _NoMap)]
        if not fields and not nomaps:
            return _CONST
        if node.op == "call_module":
            return self.visit_module(node, self.modules[node.target], fields, nomaps)
        return self.visit_function(node, fields, nomaps)

    def visit_module(self, node: fx.Node, m: nn.Module, fields: list[_Field], nomaps: list[_NoMap]) -> Any:
        if not fields:  # e.g. the Linear layers of a classifier or an SE gate
            return nomaps[0]
        (f,) = fields
        src = node.all_input_nodes[0]
        if isinstance(m, _POINTWISE_MODULES):
            return f
        if isinstance(m, nn.Conv2d):
            k, s, d, p = _pair(m.kernel_size), _pair(m.stride), _pair(m.dilation), _conv_padding(m)
            return self.record(node, "conv", _step(f, k, s, d, p, self.map_size(node)), k, s, d, p)
        if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
            kind = "maxpool" if isinstance(m, nn.MaxPool2d) else "avgpool"
            k, p = _pair(m.kernel_size), _pair(m.padding)
            s = _pair(m.stride if m.stride is not None else m.kernel_size)
            d = _pair(getattr(m, "dilation", 1))
            return self.record(node, kind, _step(f, k, s, d, p, self.map_size(node)), k, s, d, p)
        if isinstance(m, (nn.ZeroPad2d, nn.ConstantPad2d)):  # (left, right, top, bottom)
            left, _, top, _ = m.padding
            f = _Field(f.size, f.jump, (f.padding[0] + top * f.jump[0], f.padding[1] + left * f.jump[1]),
                       self.map_size(node))
            return self.record(node, "pad", f, padding=(top, left))
        if isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
            return self.adaptive_pool(node, f, src, "avgpool" if isinstance(m, nn.AdaptiveAvgPool2d) else "maxpool")
        if isinstance(m, nn.Flatten):
            return self.reshape(node, f, src)
        if isinstance(m, nn.Linear):
            raise self.error(node, f"a Linear layer applied to a {f.map_size[0]}x{f.map_size[1]} feature map mixes "
                                   "along its last axis (the width); a receptive field is only defined for "
                                   "convolutions, pooling and pointwise layers")
        raise self.error(node, f"receptive_field does not know how {type(m).__name__} moves pixels; supported "
                               "layers: Conv2d, MaxPool2d, AvgPool2d, adaptive pools, BatchNorm2d, activations, "
                               "dropout, add/mul/cat of feature maps, reshapes of the batch/channel axes")

    def adaptive_pool(self, node: fx.Node, f: _Field, src: fx.Node, kind: str) -> Any:
        (h_in, w_in), (h_out, w_out) = self.map_size(src), self.map_size(node)
        if (h_in, w_in) == (h_out, w_out):
            return f  # nothing pooled (AlexNet's and VGG's avgpool at 224x224)
        if (h_out, w_out) == (1, 1):
            return _NoMap(_describe(node), f"pools the whole {h_in}x{w_in} map to 1x1 (global pooling)", src)
        if h_in % h_out or w_in % w_out:
            raise self.error(node, f"adaptive pooling from {h_in}x{w_in} to {h_out}x{w_out} uses windows of "
                                   "varying size; use an input size that is a multiple of the output size")
        k = (h_in // h_out, w_in // w_out)
        return self.record(node, kind, _step(f, k, k, (1, 1), (0, 0), (h_out, w_out)), k, k)

    def visit_function(self, node: fx.Node, fields: list[_Field], nomaps: list[_NoMap]) -> Any:
        target = node.target
        method = node.op == "call_method"
        if (method and target in _SIZE_METHODS) or (target is getattr and node.args[1] in ("shape", "ndim")):
            return _CONST
        if (method and target in _POINTWISE_METHODS) or (not method and target in _POINTWISE_FUNCTIONS):
            return fields[0] if fields else nomaps[0]
        if (method and target in _ELEMENTWISE_METHODS) or (not method and target in _ELEMENTWISE):
            return self.elementwise(node, fields, nomaps)
        if not method and target in _CONCAT:
            return self.concat(node, fields, nomaps)
        if not method and target in (F.max_pool2d, F.avg_pool2d, F.adaptive_avg_pool2d, F.adaptive_max_pool2d):
            return self.functional_pool(node, fields, nomaps)
        if (not method and target in (torch.mean, torch.amax, torch.sum)) or \
                (method and target in ("mean", "amax", "sum")):
            return self.reduce(node, fields, nomaps)
        if (method and target in _SHAPE_METHODS) or (not method and target in _SHAPE_FUNCTIONS):
            if not fields:
                return nomaps[0]
            return self.reshape(node, fields[0], node.all_input_nodes[0])
        name = target if method else getattr(target, "__name__", str(target))
        raise self.error(node, f"receptive_field does not know how {name!r} moves pixels")

    def elementwise(self, node: fx.Node, fields: list[_Field], nomaps: list[_NoMap]) -> Any:
        if not fields:
            return nomaps[0]
        if nomaps and not self.ignore_global_context:
            g = nomaps[0]
            raise self.error(node, f"combines the feature map with the output of {g.layer!r}, which {g.why} "
                                   "(a squeeze-and-excitation style gate): every unit then depends on the whole "
                                   "input. Pass ignore_global_context=True to report the field of the convolutional "
                                   "path, the usual convention for SE-Nets")
        if len(fields) == 1:
            return fields[0]
        return self.record(node, "merge", _merge(fields, _describe(node)))

    def concat(self, node: fx.Node, fields: list[_Field], nomaps: list[_NoMap]) -> Any:
        shape = self.shape(node)
        dim = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else 0)
        if fields and (shape is None or len(shape) < 3 or dim % len(shape) >= len(shape) - 2):
            raise self.error(node, f"concatenates along dim {dim}, a spatial axis; only channel concatenation "
                                   "keeps a receptive field")
        return self.elementwise(node, fields, nomaps)  # same rules as an addition: the union

    def functional_pool(self, node: fx.Node, fields: list[_Field], nomaps: list[_NoMap]) -> Any:
        if not fields:
            return nomaps[0]
        f, src = fields[0], node.all_input_nodes[0]
        if node.target in (F.adaptive_avg_pool2d, F.adaptive_max_pool2d):
            return self.adaptive_pool(node, f, src, "avgpool" if node.target is F.adaptive_avg_pool2d else "maxpool")
        names = ["input", "kernel_size", "stride", "padding"]
        values = dict(zip(names, node.args))
        values.update(node.kwargs)
        k = _pair(values["kernel_size"])
        s = _pair(values.get("stride") or values["kernel_size"])
        p = _pair(values.get("padding", 0))
        d = _pair(values.get("dilation", 1)) if node.target is F.max_pool2d else (1, 1)
        kind = "maxpool" if node.target is F.max_pool2d else "avgpool"
        return self.record(node, kind, _step(f, k, s, d, p, self.map_size(node)), k, s, d, p)

    def reduce(self, node: fx.Node, fields: list[_Field], nomaps: list[_NoMap]) -> Any:
        if not fields:
            return nomaps[0]
        src = node.all_input_nodes[0]
        in_shape, out_shape = self.shape(src), self.shape(node)
        if out_shape is not None and in_shape is not None and len(out_shape) >= 2 and \
                out_shape[-2:] == in_shape[-2:] and len(out_shape) == len(in_shape):
            return fields[0]  # reduced over channels only
        return _NoMap(_describe(node), "reduces over the spatial axes (global pooling)", src)

    def reshape(self, node: fx.Node, f: _Field, src: fx.Node) -> Any:
        """Reshapes keep the field if the last two axes are still the map, untouched."""
        if not node.meta.get("rf_value_is_tensor", False):
            return f  # tuples from split/chunk: their items are checked when indexed
        in_shape, out_shape = self.shape(src), self.shape(node)
        moves = node.target in ("permute", "transpose", torch.permute, torch.transpose)
        if in_shape is not None and out_shape is not None and len(out_shape) >= 3 and \
                tuple(out_shape[-2:]) == f.map_size and not moves:
            return f
        if moves and out_shape is not None and tuple(out_shape[-2:]) == f.map_size and self.keeps_last_axes(node):
            return f
        if out_shape is not None and len(out_shape) <= 2:
            return _NoMap(_describe(node), f"flattens the {f.map_size[0]}x{f.map_size[1]} map into a vector", src)
        raise self.error(node, f"reshapes the {f.map_size[0]}x{f.map_size[1]} map into shape {out_shape}; "
                               "only reshapes of the batch and channel axes keep a receptive field")

    @staticmethod
    def keeps_last_axes(node: fx.Node) -> bool:
        args = [a for a in node.args[1:] if isinstance(a, int)]
        if node.target in ("transpose", torch.transpose):
            return all(a not in (-1, -2) and a < 2 for a in args)  # only batch/channel swapped
        return False


def _wanted(target: fx.Node) -> set[fx.Node]:
    seen, todo = set(), [target]
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(n.all_input_nodes)
    return seen


def _check_input_size(input_size: Any) -> tuple[int, int, int]:
    if (not isinstance(input_size, (tuple, list)) or len(input_size) != 3
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in input_size)):
        raise ValueError(f"input_size must be (channels, height, width) of positive ints; got {input_size!r}")
    return tuple(input_size)  # type: ignore[return-value]


def receptive_field(model: nn.Module, input_size: Sequence[int] = (3, 224, 224), *, at: str | None = None,
                    ignore_global_context: bool = False) -> ReceptiveField:
    """Theoretical receptive field of ``model``'s output units (or of another feature map).

    Applies the recurrence in this module's docstring to the ``torch.fx`` graph of
    ``model`` (Araujo et al., Distill 2019), node by node; merges take the union of their
    inputs' fields. Nothing is computed on real numbers: shapes come from a run on the
    ``meta`` device, so a model built under ``torch.device("meta")`` works too.

    Args:
        model: an ``nn.Module`` made of convolutions, pools, BN, activations, dropout and
            add/mul/cat merges (e.g. ``torchvision.models.vgg16().features``).
        input_size: ``(channels, height, width)`` of one input image.
        at: which feature map: ``None`` for the model's output, a module name such as
            ``"layer4"`` or ``"features.10"`` for that module's output, or
            ``"last_feature_map"`` for the last map before a classifier's global pooling,
            flattening or Linear layers.
        ignore_global_context: squeeze-and-excitation gates multiply a map by numbers
            pooled over the whole image, so strictly every later unit sees everything;
            ``True`` ignores such gates (the usual convention), ``False`` raises.

    Raises ``ReceptiveFieldError`` naming the layer when the field is not defined (the
    output is a vector after global pooling or a Linear layer, an unknown layer, a gate).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module; got {type(model).__name__}")
    c, h, w = _check_input_size(input_size)
    names = {name for name, _ in model.named_modules() if name}
    if at is not None and at != LAST_FEATURE_MAP and at not in names:
        some = sorted(names, key=len)[:12]
        raise ValueError(f"at={at!r} is not a module of this model; use None, {LAST_FEATURE_MAP!r} or a module name "
                         f"such as {some}")
    tracer = _Tracer(at if at != LAST_FEATURE_MAP else None)
    graph = tracer.trace(model)
    gm = fx.GraphModule(tracer.root, graph)
    _MetaShapes(gm).run(torch.zeros(1, c, h, w, device="meta"))
    output = next(n for n in gm.graph.nodes if n.op == "output")
    prop = _Propagator(gm, (h, w), ignore_global_context)
    if at is None or at == LAST_FEATURE_MAP:
        target = output.args[0]
        if not isinstance(target, fx.Node):
            raise ReceptiveFieldError(f"the model returns {type(target).__name__}, not one feature map; "
                                      "pass at=<module name> to choose one")
    else:
        if tracer.at_node is None:
            raise ReceptiveFieldError(f"at={at!r}: that module is never called in forward()")
        target = tracer.at_node
    prop.run(_wanted(target))
    if at == LAST_FEATURE_MAP:
        target = _last_feature_map(prop, target)
    state = prop.states[target]
    if isinstance(state, _Invalid):
        raise state.error
    if isinstance(state, _NoMap):
        source = state.source
        suggestion = f" (at={source.target!r})" if source is not None and source.op == "call_module" else ""
        raise ReceptiveFieldError(
            f"{'the output' if at is None else f'at={at!r}'} has no feature map: layer {state.layer!r} {state.why}. "
            f"Measure a feature map instead: at={LAST_FEATURE_MAP!r}, the module before it{suggestion}, "
            "or the convolutional part alone (e.g. model.features)")
    if not isinstance(state, _Field):
        raise ReceptiveFieldError("the chosen output does not depend on the input image")
    steps = tuple(prop.steps[n] for n in gm.graph.nodes if n in prop.steps and n in _wanted(target))
    return ReceptiveField(state.size, state.jump, state.padding, (h, w), state.map_size, steps)


def _last_feature_map(prop: _Propagator, output: fx.Node) -> fx.Node:
    """Walk back from the output to the nodes that still have a map; there must be one."""
    frontier, seen, todo = [], set(), [output]
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        state = prop.states.get(n)
        if isinstance(state, (_Field, _Invalid)):
            frontier.append(n)
        else:
            todo.extend(n.all_input_nodes)
    for n in frontier:
        if isinstance(prop.states[n], _Invalid):
            raise prop.states[n].error
    if len(frontier) != 1:
        raise ReceptiveFieldError(f"expected one last feature map before the classifier, found "
                                  f"{[_describe(n) for n in frontier]}; pass at=<module name>")
    return frontier[0]


# --------------------------------------------------------------------------- building stacks

@dataclass(frozen=True)
class LayerSpec:
    """One layer of a plain stack: ``kind`` is ``"conv"``, ``"maxpool"`` or ``"avgpool"``.

    ``padding=None`` pads ``d (k - 1) // 2`` ("same" size for odd kernels at stride 1).
    """

    kind: Literal["conv", "maxpool", "avgpool"] = "conv"
    kernel: int = 3
    stride: int = 1
    dilation: int = 1
    padding: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("conv", "maxpool", "avgpool"):
            raise ValueError(f"kind must be one of 'conv', 'maxpool', 'avgpool'; got {self.kind!r}")
        for name in ("kernel", "stride", "dilation"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int; got {value!r}")
        if self.kind == "avgpool" and self.dilation != 1:
            raise ValueError("dilation must be 1 for 'avgpool' (PyTorch's AvgPool2d has none); use 'maxpool' or 'conv'")
        if self.padding is not None and (not isinstance(self.padding, int) or self.padding < 0):
            raise ValueError(f"padding must be None or a non-negative int; got {self.padding!r}")
        if self.kind != "conv" and self.padding is not None and self.padding > self.kernel // 2:
            raise ValueError(f"padding of a pool must be at most kernel // 2 = {self.kernel // 2} (PyTorch's rule); "
                             f"got {self.padding}")

    @property
    def pad(self) -> int:
        """The padding used: ``padding``, or by default ``d (k - 1) // 2`` (at most ``k // 2`` for pools)."""
        if self.padding is not None:
            return self.padding
        same = self.dilation * (self.kernel - 1) // 2
        return same if self.kind == "conv" else min(same, self.kernel // 2)


def build_stack(layers: Sequence[LayerSpec], *, channels: int = 1, in_channels: int | None = None,
                activation: str | None = "relu", bias: bool = False) -> nn.Sequential:
    """An ``nn.Sequential`` of the given layers, named ``conv1, relu1, pool2, ...``.

    Convolutions map ``channels`` to ``channels`` (the first one from ``in_channels``,
    default ``channels``), without bias by default so a ``k x k`` conv has ``k^2 C^2``
    weights; ``activation`` is ``"relu"`` or ``None`` (a linear stack).
    """
    if activation not in ("relu", None):
        raise ValueError(f"activation must be 'relu' or None; got {activation!r}")
    if not layers:
        raise ValueError("layers must hold at least one LayerSpec")
    modules: OrderedDict[str, nn.Module] = OrderedDict()
    c_in = channels if in_channels is None else in_channels
    for i, spec in enumerate(layers, start=1):
        if not isinstance(spec, LayerSpec):
            raise TypeError(f"layers[{i - 1}] must be a LayerSpec; got {type(spec).__name__}")
        if spec.kind == "conv":
            modules[f"conv{i}"] = nn.Conv2d(c_in, channels, spec.kernel, spec.stride, spec.pad, spec.dilation,
                                            bias=bias)
            c_in = channels
            if activation == "relu":
                modules[f"relu{i}"] = nn.ReLU()
        elif spec.kind == "maxpool":
            modules[f"pool{i}"] = nn.MaxPool2d(spec.kernel, spec.stride, spec.pad, spec.dilation)
        else:
            modules[f"pool{i}"] = nn.AvgPool2d(spec.kernel, spec.stride, spec.pad)
    return nn.Sequential(modules)


def conv_stack(depth: int, kernel: int = 3, *, stride: int = 1, dilation: int = 1, channels: int = 1,
               in_channels: int | None = None, activation: str | None = "relu", bias: bool = False) -> nn.Sequential:
    """``depth`` identical ``kernel x kernel`` convolutions (see ``build_stack``)."""
    if not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth must be a positive int; got {depth!r}")
    spec = LayerSpec("conv", kernel, stride, dilation)
    return build_stack([spec] * depth, channels=channels, in_channels=in_channels, activation=activation, bias=bias)


# --------------------------------------------------------------------------- gradients

def _centre_unit(out: torch.Tensor, unit: tuple[int, int] | None) -> tuple[int, int]:
    if out.dim() != 4:
        raise ReceptiveFieldError(f"the model's output has shape {tuple(out.shape)}; an (N, C, H, W) feature map "
                                  "is needed (pass the convolutional part, e.g. model.features)")
    h, w = out.shape[-2:]
    row, col = unit if unit is not None else (h // 2, w // 2)
    if not (0 <= row < h and 0 <= col < w):
        raise ValueError(f"unit must index the {h}x{w} output map; got {unit!r}")
    return row, col


def _uniform_(model: nn.Module) -> None:
    """Every conv averages its window (weights 1/fan_in, no bias); BN becomes the identity."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            fan_in = m.weight[0].numel()
            nn.init.constant_(m.weight, 1.0 / fan_in)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            m.reset_parameters()


def _reinit_(model: nn.Module) -> None:
    for m in model.modules():
        if hasattr(m, "reset_parameters") and m is not model:
            m.reset_parameters()


def effective_receptive_field(model: nn.Module, input_size: Sequence[int] = (1, 64, 64), *,
                              weights: Literal["random", "uniform", "as_is"] = "random", n_inputs: int = 1,
                              n_inits: int = 1, unit: tuple[int, int] | None = None, seed: int = 0,
                              device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Luo et al.'s effective receptive field: ``|d y_unit / d x|`` as an ``(H, W)`` map.

    The gradient of one output position (default: the centre; all its channels) is set to
    1, every other to 0, and back-propagated to the input; the magnitude is summed over
    input channels and averaged over ``n_inputs`` standard-normal inputs and ``n_inits``
    initialisations. ``weights``: ``"random"`` re-initialises a copy with PyTorch's
    default init (seeded), ``"uniform"`` makes every conv average its window (the box
    kernels of Luo et al.'s analysis; pair it with a linear model), ``"as_is"`` keeps the
    model's weights (e.g. trained ones). The model is copied and put in eval mode; the
    caller's model is not changed.
    """
    c, h, w = _check_input_size(input_size)
    if weights not in ("random", "uniform", "as_is"):
        raise ValueError(f"weights must be one of 'random', 'uniform', 'as_is'; got {weights!r}")
    for name, value in (("n_inputs", n_inputs), ("n_inits", n_inits)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int; got {value!r}")
    device = torch.device(device)
    total = torch.zeros(h, w, dtype=dtype, device=device)
    n_inits = 1 if weights != "random" else n_inits
    with torch.random.fork_rng(devices=[]):
        for i in range(n_inits):
            torch.manual_seed(seed + i)
            net = copy.deepcopy(model).to(device=device, dtype=dtype).eval()
            if weights == "random":
                _reinit_(net)
            elif weights == "uniform":
                _uniform_(net)
            x = torch.randn(n_inputs, c, h, w, dtype=dtype, device=device).requires_grad_(True)
            out = net(x)
            row, col = _centre_unit(out, unit)
            grad_out = torch.zeros_like(out)
            grad_out[:, :, row, col] = 1.0
            (grad,) = torch.autograd.grad(out, x, grad_out)
            total += grad.abs().sum(dim=1).mean(dim=0)
    return (total / n_inits).detach()


def erf_std(erf: torch.Tensor) -> tuple[float, float]:
    """Standard deviation (in pixels) of the ERF along rows and columns: the map, normalised
    to sum to 1, is read as a distribution and its two marginals' spreads are returned."""
    if erf.dim() != 2 or float(erf.sum()) <= 0:
        raise ValueError("erf must be a non-negative 2-D map with a positive sum")
    p = (erf / erf.sum()).double()
    out = []
    for marginal in (p.sum(dim=1), p.sum(dim=0)):
        pos = torch.arange(marginal.numel(), dtype=torch.float64)
        mean = (marginal * pos).sum()
        out.append(math.sqrt(float((marginal * (pos - mean) ** 2).sum())))
    return out[0], out[1]


def dependency_maps(model: nn.Module, input_size: Sequence[int] = (1, 32, 32), *, batch: int = 1024) -> torch.Tensor:
    """Which input pixels can change each output unit: a bool ``(out_h, out_w, H, W)`` tensor.

    Exact for stacks of convolutions, max/avg pooling, BN and ReLU: a copy of the model gets
    all-ones weights and identity BN, so every path is non-negative; each input pixel is
    switched on alone (an impulse, all channels) and every output unit is read. Unlike a
    gradient it also sees through max pooling. The bounding box of a unit's map is its
    theoretical field clipped to the image; dilation and strides can leave holes inside it.
    """
    c, h, w = _check_input_size(input_size)
    net = copy.deepcopy(model).float().cpu().eval()
    responses = []
    with torch.no_grad():
        _uniform_(net)
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.fill_(1.0)
        for start in range(0, h * w, batch):
            idx = torch.arange(start, min(start + batch, h * w))
            x = torch.zeros(len(idx), c, h * w)
            x[torch.arange(len(idx)), :, idx] = 1.0
            out = net(x.view(len(idx), c, h, w))
            _centre_unit(out, None)  # checks that the output is a feature map
            responses.append(out.sum(dim=1) > 0)
    seen = torch.cat(responses)  # (H*W, out_h, out_w)
    return seen.permute(1, 2, 0).reshape(seen.shape[1], seen.shape[2], h, w)


def dependency_map(model: nn.Module, input_size: Sequence[int] = (1, 32, 32), *,
                   unit: tuple[int, int] | None = None) -> torch.Tensor:
    """Which input pixels can change output unit ``unit`` (default: the centre): a bool
    ``(H, W)`` map; see ``dependency_maps``."""
    maps = dependency_maps(model, input_size)
    out_h, out_w = maps.shape[:2]
    row, col = unit if unit is not None else (out_h // 2, out_w // 2)
    if not (0 <= row < out_h and 0 <= col < out_w):
        raise ValueError(f"unit must index the {out_h}x{out_w} output map; got {unit!r}")
    return maps[row, col]


# --------------------------------------------------------------------------- drawing

def centre_unit(rf: ReceptiveField) -> tuple[int, int]:
    """The output unit whose field centre ``u j - P + (r - 1)/2`` is nearest the image centre."""
    unit = []
    for a in range(2):
        u = round(((rf.input_size[a] - 1) / 2 + rf.padding_hw[a] - (rf.size_hw[a] - 1) / 2) / rf.stride_hw[a])
        unit.append(min(max(u, 0), rf.map_size[a] - 1))
    return unit[0], unit[1]


def plot_fields_on_image(image: Any, fields: dict[str, ReceptiveField], ax: Any = None, *,
                         title: str = "") -> Any:
    """Draw the receptive field of the centre unit of each feature map over ``image`` (an
    ``(H, W[, 3])`` array the size of the networks' input). Fields reaching past the image
    are drawn in full: the grey frame is the image, the rest is padding."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    h, w = image.shape[:2]
    ax.imshow(image, extent=(-0.5, w - 0.5, h - 0.5, -0.5))
    ax.add_patch(Rectangle((-0.5, -0.5), w, h, fill=False, edgecolor="0.5", linewidth=1))
    colours = plt.cm.viridis([i / max(1, len(fields) - 1) for i in range(len(fields))])
    lo, hi = 0.0, float(max(h, w))
    for (label, rf), colour in zip(fields.items(), colours):
        if rf.input_size != (h, w):
            raise ValueError(f"field {label!r} was computed for a {rf.input_size} input, the image is {(h, w)}")
        top, left, bottom, right = rf.region(*centre_unit(rf))
        ax.add_patch(Rectangle((left - 0.5, top - 0.5), right - left + 1, bottom - top + 1, fill=False,
                               edgecolor=colour, linewidth=2, label=f"{label}: r = {rf.size}"))
        lo, hi = min(lo, top, left), max(hi, bottom + 1, right + 1)
    margin = 0.03 * (hi - lo)
    ax.set_xlim(lo - margin, hi + margin)
    ax.set_ylim(hi + margin, lo - margin)
    ax.set_title(title)
    ax.legend(loc="lower left", fontsize=7, framealpha=0.8)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax.figure


def support_box(values: torch.Tensor) -> tuple[int, int, int, int]:
    """``(top, left, bottom, right)`` (inclusive) of the non-zero entries of a 2-D map."""
    mask = values != 0
    if mask.dim() != 2 or not bool(mask.any()):
        raise ValueError("values must be a 2-D map with at least one non-zero entry")
    rows = torch.nonzero(mask.any(dim=1)).flatten()
    cols = torch.nonzero(mask.any(dim=0)).flatten()
    return int(rows[0]), int(cols[0]), int(rows[-1]), int(cols[-1])
