"""Receptive fields: which input pixels one unit of a feature map can see.

``receptive_field(model)`` traces the model's real graph with ``torch.fx`` and applies the
recurrence (Araujo et al., Distill 2019; see ``cnnlessons.analysis.fields``)::

    r_l = r_{l-1} + (k'_l - 1) j_{l-1},   j_l = j_{l-1} s_l,   P_l = P_{l-1} + p_l j_{l-1}

node by node (``cnnlessons.analysis.graph_rules`` says what each kind of node does), so it
handles every torchvision classification CNN without a hand-written layer list: AlexNet,
VGG, ResNets, GoogLeNet, DenseNets, SE gates (EfficientNet, MobileNetV3, RegNetY: ignored by
the usual convention, and listed in the result), ShuffleNet's channel shuffle, ConvNeXt's
channels-last LayerNorm. Shapes come from ``torch.fx.passes.shape_prop.ShapeProp`` on a copy
of the model on the ``meta`` device: nothing is computed on real numbers.
"""
from __future__ import annotations

import copy
import itertools
import re
from typing import Any, Sequence

import torch
import torch.fx as fx
from torch import nn
from torch.fx.passes.shape_prop import ShapeProp

from .fields import (LAST_FEATURE_MAP, Field, LayerStep, ReceptiveField, ReceptiveFieldError, as_pair,
                     check_input_size)
from .graph_rules import Invalid, NoMap, Propagator, describe

__all__ = ["LAST_FEATURE_MAP", "LayerStep", "ReceptiveField", "ReceptiveFieldError", "feature_extractor",
           "receptive_field"]


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


def _on_meta(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose parameters and buffers live on ``meta`` (no data is copied)."""
    memo: dict[int, Any] = {}
    for t in itertools.chain(model.parameters(), model.buffers()):
        meta = t.detach().to("meta")
        memo[id(t)] = nn.Parameter(meta, requires_grad=t.requires_grad) if isinstance(t, nn.Parameter) else meta
    return copy.deepcopy(model, memo)


class _InputSizeError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message  # torch.fx appends the graph to args[0]; this stays clean


class _Shapes(ShapeProp):
    """``ShapeProp`` that turns shape errors into messages about ``input_size``."""

    def __init__(self, gm: fx.GraphModule, input_size: tuple[int, int, int]) -> None:
        super().__init__(gm)
        self.input_size = input_size
        self.modules = dict(gm.named_modules())
        self.first_conv = True

    def propagate(self, *args: Any) -> Any:
        try:
            return super().propagate(*args)
        except _InputSizeError as exc:
            raise ValueError(exc.message) from None

    def run_node(self, n: fx.Node) -> Any:
        if n.op == "call_module" and isinstance(self.modules[n.target], nn.modules.conv._ConvNd):
            m = self.modules[n.target]
            x = self.env[n.all_input_nodes[0]]
            if self.first_conv and x.dim() >= 3 and x.shape[1] != m.in_channels:
                raise _InputSizeError(f"input_size={self.input_size} gives layer {n.target!r} {x.shape[1]} input "
                                 f"channels, but it takes {m.in_channels}: use input_size=({m.in_channels}, "
                                 f"{self.input_size[1]}, {self.input_size[2]})")
            self.first_conv = False
        try:
            return super().run_node(n)
        except _InputSizeError:
            raise
        except Exception as exc:
            text = str(exc)
            while isinstance(exc.__cause__, Exception):  # ShapeProp wraps the real error
                exc = exc.__cause__
                text = str(exc)
            if re.search(r"too small|can't be greater|greater than|smaller than|kernel size", text, re.I):
                ins = [self.env[a] for a in n.all_input_nodes if isinstance(self.env.get(a), torch.Tensor)]
                got = "x".join(str(s) for s in ins[0].shape[-2:]) if ins else "?"
                raise _InputSizeError(f"input_size={self.input_size} is too small: the {got} map reaching layer "
                                 f"{describe(n)!r} is smaller than its kernel; use a larger input_size") from None
            raise _InputSizeError(f"input_size={self.input_size}: the model fails on an input of this shape at layer "
                             f"{describe(n)!r}: {text.splitlines()[0] if text else type(exc).__name__}") from None


def _wanted(target: fx.Node) -> set[fx.Node]:
    seen, todo = set(), [target]
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(n.all_input_nodes)
    return seen


def _output_node(gm: fx.GraphModule) -> fx.Node:
    """The node ``gm`` returns; a model returning several values has no single map to measure."""
    target = next(n for n in gm.graph.nodes if n.op == "output").args[0]
    if not isinstance(target, fx.Node):
        raise ReceptiveFieldError(f"the model returns {type(target).__name__}, not one feature map; "
                                  "pass at=<module name> to choose one")
    return target


def _propagate(gm: fx.GraphModule, size: tuple[int, int, int], ignore_global_context: bool,
               target: fx.Node | None = None, last_map: bool = False) -> tuple[Propagator, fx.Node]:
    """Record the shape of every node of ``gm`` (a graph on the meta device) for one ``size``
    image, then propagate fields up to ``target`` (the output when None); with ``last_map``,
    return the last feature map before it instead of ``target``."""
    c, h, w = size
    _Shapes(gm, size).propagate(torch.zeros(1, c, h, w, device="meta"))
    prop = Propagator(gm, (h, w), ignore_global_context)
    target = _output_node(gm) if target is None else target
    prop.run(_wanted(target))
    return prop, (_last_feature_map(prop, target) if last_map else target)


def _trace(model: nn.Module, input_size: tuple[int, int, int], at: str | None,
           ignore_global_context: bool) -> tuple[fx.GraphModule, Propagator, fx.Node]:
    """Trace ``model`` (a meta copy), record every node's shape, and propagate fields up to the
    node ``at`` names (the output for ``None`` and ``LAST_FEATURE_MAP``)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module; got {type(model).__name__}")
    size = check_input_size(input_size)
    names = {name for name, _ in model.named_modules() if name}
    if at is not None and at != LAST_FEATURE_MAP and at not in names:
        some = sorted(names, key=len)[:12]
        raise ValueError(f"at={at!r} is not a module of this model; use None, {LAST_FEATURE_MAP!r} or a module name "
                         f"such as {some}")
    tracer = _Tracer(at if at != LAST_FEATURE_MAP else None)
    shadow = _on_meta(model).eval()
    gm = fx.GraphModule(shadow, tracer.trace(shadow))
    target = None
    if at is not None and at != LAST_FEATURE_MAP:
        if tracer.at_node is None:
            raise ReceptiveFieldError(f"at={at!r}: that module is never called in forward()")
        target = tracer.at_node
    prop, target = _propagate(gm, size, ignore_global_context, target, last_map=at == LAST_FEATURE_MAP)
    return gm, prop, target


def receptive_field(model: nn.Module, input_size: Sequence[int] = (3, 224, 224), *, at: str | None = None,
                    ignore_global_context: bool = True) -> ReceptiveField:
    """Theoretical receptive field of ``model``'s output units (or of another feature map).

    Applies the recurrence ``r_l = r_{l-1} + (d_l (k_l - 1)) j_{l-1}``, ``j_l = j_{l-1} s_l``,
    ``P_l = P_{l-1} + p_l j_{l-1}`` (Araujo et al., Distill 2019) to the ``torch.fx`` graph of
    ``model``, node by node; merges (``add``, ``cat``) take the union of their inputs' fields.

    Args:
        model: an ``nn.Module`` made of convolutions, pools, norms, activations, dropout,
            reshapes of the channel axes and add/mul/cat merges (e.g. the feature extractor
            of any torchvision classification CNN: ``model.features``).
        input_size: ``(channels, height, width)`` of one input image.
        at: which feature map: ``None`` for the model's output, a module name such as
            ``"layer4"`` or ``"features.10"`` for that module's output, or
            ``"last_feature_map"`` for the last map before a classifier's global pooling,
            flattening or Linear layers.
        ignore_global_context: squeeze-and-excitation gates multiply a map by numbers
            pooled over the whole image, so strictly every later unit sees everything.
            ``True`` (the usual convention) ignores them and lists them in
            ``ReceptiveField.ignored_gates``; ``False`` raises.

    Raises ``ReceptiveFieldError`` naming the layer when the field is not defined (the
    output is a vector after global pooling or a Linear layer, an unknown layer), and
    ``ValueError`` naming ``input_size`` when the model cannot run on that input.
    """
    c, h, w = check_input_size(input_size)
    gm, prop, target = _trace(model, (c, h, w), at, ignore_global_context)
    state = prop.states[target]
    if isinstance(state, Invalid):
        raise state.error
    if isinstance(state, NoMap):
        source = state.source
        suggestion = f" (at={source.target!r})" if source is not None and source.op == "call_module" else ""
        raise ReceptiveFieldError(
            f"{'the output' if at is None else f'at={at!r}'} has no feature map: layer {state.layer!r} {state.why}. "
            f"Measure a feature map instead: at={LAST_FEATURE_MAP!r}, the module before it{suggestion}, "
            "or the convolutional part alone (e.g. model.features)")
    if not isinstance(state, Field):
        raise ReceptiveFieldError("the chosen output does not depend on the input image")
    wanted = _wanted(target)
    steps: tuple[LayerStep, ...] = tuple(prop.steps[n] for n in gm.graph.nodes if n in prop.steps and n in wanted)
    gates = tuple(name for n, name in prop.gates.items() if n in wanted)
    return ReceptiveField(state.size, state.jump, state.padding, (h, w), state.map_size, steps, gates)


def feature_extractor(model: nn.Module, input_size: Sequence[int] = (3, 224, 224)) -> fx.GraphModule:
    """``model`` cut at its last feature map (before global pooling and the classifier): a
    ``torch.fx.GraphModule`` sharing ``model``'s parameters, whose output is that map.

    (``torchvision.models.feature_extraction.create_feature_extractor`` does the same given
    a node name, but its tracer keeps ``torchvision.ops`` blocks such as
    ``Conv2dNormActivation`` opaque, so we cut our own trace.)"""
    size = check_input_size(input_size)
    graph = _Tracer(None).trace(model)
    gm = fx.GraphModule(model, graph)
    shadow = fx.GraphModule(_on_meta(model), copy.deepcopy(graph))  # the same graph, for shapes and fields
    last = _propagate(shadow, size, True, last_map=True)[1].name
    node = next(n for n in gm.graph.nodes if n.name == last)
    old = next(n for n in gm.graph.nodes if n.op == "output")
    gm.graph.erase_node(old)
    gm.graph.output(node)
    gm.graph.eliminate_dead_code()
    gm.delete_all_unused_submodules()
    gm.recompile()
    return gm


def _last_feature_map(prop: Propagator, output: fx.Node) -> fx.Node:
    """Walk back from the output to the nodes that still have a map; there must be one."""
    frontier, seen, todo = [], set(), [output]
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        state = prop.states.get(n)
        if isinstance(state, (Field, Invalid)):
            frontier.append(n)
        else:
            todo.extend(n.all_input_nodes)
    for n in frontier:
        if isinstance(prop.states[n], Invalid):
            raise prop.states[n].error
    if len(frontier) != 1:
        raise ReceptiveFieldError(f"expected one last feature map before the classifier, found "
                                  f"{[describe(n) for n in frontier]}; pass at=<module name>")
    return frontier[0]
