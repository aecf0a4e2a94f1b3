"""How each node of a ``torch.fx`` graph moves the receptive field (used by ``receptive``).

Every node gets a state: a ``Field`` (a tensor with a spatial map, and the field of its
units), ``NoMap`` (computed from a map that was pooled or flattened away), ``None`` (does
not depend on the image) or ``Invalid`` (an error, raised only if the chosen output needs it).

- convolutions and pools apply one step of the recurrence (``fields.step``);
- pointwise layers (activations, batch norm, dropout, stochastic depth: identities in
  eval mode or per-pixel maps) keep the field;
- ``add``/``mul``/``cat`` of maps take the union (``fields.merge``); a map multiplied by a
  vector pooled from the whole image (a squeeze-and-excitation gate) keeps the field of
  the convolutional path when ``ignore_global_context`` (the usual convention, recorded
  in the result) and is an error otherwise;
- reshapes, permutes and transposes are followed as long as the two spatial axes survive
  unchanged (channel shuffles, ConvNeXt's channels-last ``LayerNorm`` and ``Linear``).
"""
from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn

from .fields import Field, LayerStep, Pair, ReceptiveFieldError, as_pair, merge, step

try:  # torchvision's stochastic depth is wrapped by torch.fx: one call_function node
    from torchvision.ops import stochastic_depth as _stochastic_depth
except ImportError:  # pragma: no cover
    _stochastic_depth = None


@dataclass(frozen=True)
class NoMap:
    """A tensor computed from a feature map that has no spatial map any more."""

    layer: str  # the layer that removed the map
    why: str
    source: fx.Node | None = None  # the last node that still had a map


@dataclass(frozen=True)
class Invalid:
    error: ReceptiveFieldError


POINTWISE_MODULES: tuple[type[nn.Module], ...] = (
    nn.Identity, nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU,
    nn.SiLU, nn.Mish, nn.Hardswish, nn.Hardsigmoid, nn.Hardtanh, nn.Sigmoid, nn.Tanh, nn.Softplus,
    nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout,
    nn.BatchNorm2d, nn.LocalResponseNorm,
)
POINTWISE_FUNCTIONS = {
    F.relu, F.relu_, F.relu6, F.leaky_relu, F.elu, F.selu, F.gelu, F.silu, F.mish, F.hardswish,
    F.hardsigmoid, F.hardtanh, F.sigmoid, F.tanh, F.dropout, F.dropout1d, F.dropout2d, F.dropout3d,
    F.alpha_dropout, F.feature_alpha_dropout, F.batch_norm, F.local_response_norm, torch.relu, torch.relu_,
    torch.sigmoid, torch.tanh, torch.clamp, torch.neg, torch.exp, torch.abs, torch.sqrt, operator.neg,
} | ({_stochastic_depth} if _stochastic_depth is not None else set())
POINTWISE_METHODS = {
    "relu", "relu_", "sigmoid", "sigmoid_", "tanh", "tanh_", "clamp", "clamp_", "contiguous",
    "float", "double", "half", "to", "type_as", "detach", "clone", "neg", "exp", "abs", "sqrt",
}
ELEMENTWISE = {
    operator.add, operator.sub, operator.mul, operator.truediv, operator.iadd, operator.isub,
    operator.imul, operator.itruediv, torch.add, torch.sub, torch.mul, torch.div,
}
ELEMENTWISE_METHODS = {"add", "add_", "sub", "sub_", "mul", "mul_", "div", "div_"}
CONCAT = {torch.cat, torch.concat}
SHAPE_FUNCTIONS = {torch.flatten, torch.reshape, torch.squeeze, torch.unsqueeze, torch.transpose,
                   torch.permute, operator.getitem, torch.chunk, torch.split}
SHAPE_METHODS = {"flatten", "view", "reshape", "squeeze", "unsqueeze", "transpose", "permute",
                 "chunk", "split", "expand_as", "expand"}
MOVES = {"permute", "transpose", torch.permute, torch.transpose}
SIZE_METHODS = {"size", "dim"}


def describe(node: fx.Node) -> str:
    """A layer name for messages: the module path, or the enclosing module and the op."""
    if node.op == "call_module":
        return str(node.target)
    stack = node.meta.get("nn_module_stack") or {}
    where = list(stack.values())[-1][0] if stack else ""
    return f"{where} ({node.name})" if where else node.name


def shape_of(node: fx.Node) -> tuple[int, ...] | None:
    """The shape ``ShapeProp`` recorded for a node whose value is one tensor."""
    meta = node.meta.get("tensor_meta")
    return tuple(meta.shape) if hasattr(meta, "shape") else None


def conv_padding(m: nn.Conv2d) -> Pair:
    if isinstance(m.padding, str):
        if m.padding == "valid":
            return 0, 0
        k, d = as_pair(m.kernel_size), as_pair(m.dilation)  # "same": PyTorch pads total d(k-1), left half
        return tuple(d[a] * (k[a] - 1) // 2 for a in range(2))  # type: ignore[return-value]
    return as_pair(m.padding)


class Propagator:
    """Walks the graph in order, giving every wanted node its state (see the module docstring)."""

    def __init__(self, gm: fx.GraphModule, input_size: Pair, ignore_global_context: bool) -> None:
        self.gm = gm
        self.modules = dict(gm.named_modules())
        self.ignore_global_context = ignore_global_context
        self.states: dict[fx.Node, Any] = {}
        self.steps: dict[fx.Node, LayerStep] = {}
        self.gates: dict[fx.Node, str] = {}  # nodes where a global-context gate was ignored
        self.input_size = input_size

    # helpers ----------------------------------------------------------------
    def map_size(self, node: fx.Node, f: Field | None = None) -> Pair:
        shape = shape_of(node)
        axes = f.axes if f is not None else (-2, -1)
        assert shape is not None and len(shape) >= 2
        return shape[axes[0]], shape[axes[1]]

    def record(self, node: fx.Node, kind: str, f: Field, kernel: Pair = (1, 1), stride: Pair = (1, 1),
               dilation: Pair = (1, 1), padding: Pair = (0, 0)) -> Field:
        name = "input" if kind == "input" else describe(node)
        self.steps[node] = LayerStep(name, kind, kernel, stride, dilation, padding,
                                     f.size, f.jump, f.padding, f.map_size)
        return f

    def error(self, node: fx.Node, text: str) -> ReceptiveFieldError:
        return ReceptiveFieldError(f"layer {describe(node)!r}: {text}")

    def spatial(self, node: fx.Node, f: Field) -> None:
        if f.axes != (-2, -1):
            raise self.error(node, f"needs an (N, C, H, W) map but the spatial axes are at {f.axes}")

    # the walk ---------------------------------------------------------------
    def run(self, wanted: set[fx.Node]) -> None:
        for node in self.gm.graph.nodes:
            if node not in wanted:
                continue
            bad = [s for s in (self.states[n] for n in node.all_input_nodes) if isinstance(s, Invalid)]
            if bad:
                self.states[node] = bad[0]
                continue
            try:
                self.states[node] = self.visit(node)
            except ReceptiveFieldError as exc:
                self.states[node] = Invalid(exc)

    def visit(self, node: fx.Node) -> Any:
        if node.op == "placeholder":
            if not self.states:  # the first input is the image
                return self.record(node, "input", Field((1, 1), (1, 1), (0, 0), self.input_size))
            return None
        if node.op in ("get_attr", "output"):
            return None
        ins = [self.states[n] for n in node.all_input_nodes]
        fields = [s for s in ins if isinstance(s, Field)]
        nomaps = [s for s in ins if isinstance(s, NoMap)]
        if not fields and not nomaps:
            return None
        if node.op == "call_module":
            return self.visit_module(node, self.modules[node.target], fields, nomaps)
        return self.visit_function(node, fields, nomaps)

    def visit_module(self, node: fx.Node, m: nn.Module, fields: list[Field], nomaps: list[NoMap]) -> Any:
        if not fields:  # e.g. the Linear layers of a classifier or an SE gate
            return nomaps[0]
        (f,) = fields
        src = node.all_input_nodes[0]
        if isinstance(m, POINTWISE_MODULES):
            return f
        if isinstance(m, (nn.Linear, nn.LayerNorm)):
            return self.last_axis(node, f, type(m).__name__,
                                  len(m.normalized_shape) if isinstance(m, nn.LayerNorm) else 1)
        self.spatial(node, f)
        if isinstance(m, nn.Conv2d):
            k, s, d, p = as_pair(m.kernel_size), as_pair(m.stride), as_pair(m.dilation), conv_padding(m)
            return self.record(node, "conv", step(f, k, s, d, p, self.map_size(node)), k, s, d, p)
        if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
            kind = "maxpool" if isinstance(m, nn.MaxPool2d) else "avgpool"
            k, p = as_pair(m.kernel_size), as_pair(m.padding)
            s = as_pair(m.stride if m.stride is not None else m.kernel_size)
            d = as_pair(getattr(m, "dilation", 1))
            return self.record(node, kind, step(f, k, s, d, p, self.map_size(node)), k, s, d, p)
        if isinstance(m, (nn.ZeroPad2d, nn.ConstantPad2d)):  # (left, right, top, bottom)
            left, _, top, _ = m.padding
            f = Field(f.size, f.jump, (f.padding[0] + top * f.jump[0], f.padding[1] + left * f.jump[1]),
                      self.map_size(node))
            return self.record(node, "pad", f, padding=(top, left))
        if isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
            return self.adaptive_pool(node, f, src, "avgpool" if isinstance(m, nn.AdaptiveAvgPool2d) else "maxpool")
        if isinstance(m, nn.Flatten):
            return self.reshape(node, f, src)
        raise self.error(node, f"receptive_field does not know how {type(m).__name__} moves pixels; supported "
                               "layers: Conv2d, MaxPool2d, AvgPool2d, adaptive pools, BatchNorm2d, activations, "
                               "dropout, add/mul/cat of feature maps, reshapes of the batch/channel axes")

    def last_axis(self, node: fx.Node, f: Field, what: str, n_axes: int) -> Field:
        """``Linear``/``LayerNorm`` act on the last ``n_axes`` axes: fine if those are channels."""
        shape = shape_of(node)
        rank = len(shape) if shape is not None else 4
        if any(a >= rank - n_axes for a in (rank + f.axes[0], rank + f.axes[1])):
            raise self.error(node, f"a {what} applied to the {f.map_size[0]}x{f.map_size[1]} feature map mixes "
                                   "along a spatial axis (the width); a receptive field is only defined for "
                                   "convolutions, pooling and pointwise layers")
        return f

    def adaptive_pool(self, node: fx.Node, f: Field, src: fx.Node, kind: str) -> Any:
        (h_in, w_in), (h_out, w_out) = self.map_size(src), self.map_size(node)
        if (h_in, w_in) == (h_out, w_out):
            return f  # nothing pooled (AlexNet's and VGG's avgpool at 224x224)
        if (h_out, w_out) == (1, 1):
            return NoMap(describe(node), f"pools the whole {h_in}x{w_in} map to 1x1 (global pooling)", src)
        if h_in % h_out or w_in % w_out:
            raise self.error(node, f"adaptive pooling from {h_in}x{w_in} to {h_out}x{w_out} uses windows of "
                                   "varying size; use an input size that is a multiple of the output size")
        k = (h_in // h_out, w_in // w_out)
        return self.record(node, kind, step(f, k, k, (1, 1), (0, 0), (h_out, w_out)), k, k)

    def visit_function(self, node: fx.Node, fields: list[Field], nomaps: list[NoMap]) -> Any:
        target = node.target
        method = node.op == "call_method"
        if (method and target in SIZE_METHODS) or (target is getattr and node.args[1] in ("shape", "ndim")):
            return None
        if (method and target in POINTWISE_METHODS) or (not method and target in POINTWISE_FUNCTIONS):
            return fields[0] if fields else nomaps[0]
        if (method and target in ELEMENTWISE_METHODS) or (not method and target in ELEMENTWISE):
            return self.elementwise(node, fields, nomaps)
        if not method and target in CONCAT:
            return self.concat(node, fields, nomaps)
        if not method and target is F.layer_norm:
            if not fields:
                return nomaps[0]
            shape = node.kwargs.get("normalized_shape", node.args[1] if len(node.args) > 1 else ())
            return self.last_axis(node, fields[0], "layer_norm", len(shape))
        if not method and target is F.linear:
            return self.last_axis(node, fields[0], "linear", 1) if fields else nomaps[0]
        if not method and target in (F.max_pool2d, F.avg_pool2d, F.adaptive_avg_pool2d, F.adaptive_max_pool2d):
            return self.functional_pool(node, fields, nomaps)
        if (not method and target in (torch.mean, torch.amax, torch.sum)) or \
                (method and target in ("mean", "amax", "sum")):
            return self.reduce(node, fields, nomaps)
        if (method and target in SHAPE_METHODS) or (not method and target in SHAPE_FUNCTIONS):
            if not fields:
                return nomaps[0]
            return self.reshape(node, fields[0], node.all_input_nodes[0])
        name = target if method else getattr(target, "__name__", str(target))
        raise self.error(node, f"receptive_field does not know how {name!r} moves pixels")

    def elementwise(self, node: fx.Node, fields: list[Field], nomaps: list[NoMap]) -> Any:
        if not fields:
            return nomaps[0]
        if nomaps:
            g = nomaps[0]
            if not self.ignore_global_context:
                raise self.error(node, f"combines the feature map with the output of {g.layer!r}, which {g.why} "
                                       "(a squeeze-and-excitation style gate): every unit then depends on the whole "
                                       "input. Pass ignore_global_context=True (the default) to report the field of "
                                       "the convolutional path, the usual convention for SE-Nets")
            self.gates[node] = describe(node)
        if len(fields) == 1:
            return fields[0]
        return self.record(node, "merge", merge(fields, describe(node)))

    def concat(self, node: fx.Node, fields: list[Field], nomaps: list[NoMap]) -> Any:
        shape = shape_of(node)
        dim = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else 0)
        if fields and (shape is None or len(shape) < 3 or dim % len(shape) in
                       {fields[0].axes[0] % len(shape), fields[0].axes[1] % len(shape)}):
            raise self.error(node, f"concatenates along dim {dim}, a spatial axis; only channel concatenation "
                                   "keeps a receptive field")
        return self.elementwise(node, fields, nomaps)  # same rules as an addition: the union

    def functional_pool(self, node: fx.Node, fields: list[Field], nomaps: list[NoMap]) -> Any:
        if not fields:
            return nomaps[0]
        f, src = fields[0], node.all_input_nodes[0]
        self.spatial(node, f)
        if node.target in (F.adaptive_avg_pool2d, F.adaptive_max_pool2d):
            return self.adaptive_pool(node, f, src, "avgpool" if node.target is F.adaptive_avg_pool2d else "maxpool")
        values = dict(zip(["input", "kernel_size", "stride", "padding"], node.args))
        values.update(node.kwargs)
        k = as_pair(values["kernel_size"])
        s = as_pair(values.get("stride") or values["kernel_size"])
        p = as_pair(values.get("padding", 0))
        d = as_pair(values.get("dilation", 1)) if node.target is F.max_pool2d else (1, 1)
        kind = "maxpool" if node.target is F.max_pool2d else "avgpool"
        return self.record(node, kind, step(f, k, s, d, p, self.map_size(node)), k, s, d, p)

    def reduce(self, node: fx.Node, fields: list[Field], nomaps: list[NoMap]) -> Any:
        if not fields:
            return nomaps[0]
        src = node.all_input_nodes[0]
        in_shape, out_shape = shape_of(src), shape_of(node)
        if out_shape is not None and in_shape is not None and len(out_shape) >= 2 and \
                out_shape[-2:] == in_shape[-2:] and len(out_shape) == len(in_shape) and fields[0].axes == (-2, -1):
            return fields[0]  # reduced over channels only
        return NoMap(describe(node), "reduces over the spatial axes (global pooling)", src)

    def reshape(self, node: fx.Node, f: Field, src: fx.Node) -> Any:
        """Reshapes keep the field while the spatial axes survive untouched: the axes from the
        map's rows to the end keep their sizes (a view of the batch/channel axes), or a
        permute/transpose moves them as whole axes (tracked in ``Field.axes``)."""
        if "tensor_meta" not in node.meta or shape_of(node) is None:
            return f  # tuples from split/chunk: their items are checked when indexed
        in_shape, out_shape = shape_of(src), shape_of(node)
        assert out_shape is not None
        if in_shape is None:  # an item of a split/chunk tuple: the map must still be there
            if len(out_shape) > -f.axes[0] and (out_shape[f.axes[0]], out_shape[f.axes[1]]) == f.map_size:
                return f
            raise self.error(node, f"takes a part of the {f.map_size[0]}x{f.map_size[1]} map along a spatial axis")
        if node.target in MOVES:
            axes = self.moved_axes(node, f, len(in_shape))
            if axes is not None:
                return Field(f.size, f.jump, f.padding, f.map_size, axes)
        else:
            tail = -f.axes[0]  # the rows axis and everything after it
            if len(out_shape) > tail and out_shape[-tail:] == in_shape[-tail:]:
                return f
        if len(out_shape) <= 2:
            return NoMap(describe(node), f"flattens the {f.map_size[0]}x{f.map_size[1]} map into a vector", src)
        raise self.error(node, f"reshapes the {f.map_size[0]}x{f.map_size[1]} map into shape {out_shape}; "
                               "only reshapes of the batch and channel axes keep a receptive field")

    @staticmethod
    def moved_axes(node: fx.Node, f: Field, rank: int) -> Pair | None:
        """Where a permute or transpose puts the rows and columns axes (negative indices)."""
        args = list(node.args[1:])  # after the tensor: x.permute(*dims), torch.transpose(x, a, b)
        dims = node.kwargs.get("dims", args[0] if len(args) == 1 and isinstance(args[0], (list, tuple)) else args)
        dims = [d % rank for d in dims if isinstance(d, int)]
        old = [a % rank for a in f.axes]
        if node.target in ("transpose", torch.transpose):
            if len(dims) != 2:
                return None
            a, b = dims
            swap = {a: b, b: a}
            new = [swap.get(o, o) for o in old]
        else:
            if sorted(dims) != list(range(rank)):
                return None
            new = [dims.index(o) for o in old]
        if new[0] >= new[1]:  # rows must stay before columns
            return None
        return new[0] - rank, new[1] - rank
