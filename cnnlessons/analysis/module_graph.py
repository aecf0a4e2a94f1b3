"""The graph a forward pass runs, at one depth of the module tree: what a diagram draws.

``module_graph(model, shape, depth, cost)`` records, with ``torchview``'s tracer, the modules
at nesting ``depth`` that run (one node per call), the torch functions the model's own code
runs between them (a residual ``add``, Inception's ``cat``), the input and output tensors, and
the edges between them; each module node gets its input and output shapes and, from
``cost.calls`` (``cnnlessons.analysis.cost.count``), its multiply-adds and parameters. The
model runs as a copy on the ``meta`` device (no arithmetic; the model is not touched), or as
itself if it cannot run there.

``fold`` and ``stages`` simplify the graph: a weight-free layer that follows a single node on
a single path joins it ("conv 3x3 + BN + ReLU"), and runs of nodes that work at the same
resolution become one stage node ("2 x conv 3x3 + max pool 2x2/2").
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Sequence

import torch
from torch import nn

from .cost import Cost, _device_and_dtype
from .receptive import _on_meta

__all__ = ["DiagramNode", "describe", "fold", "module_graph", "stages"]


@dataclass(frozen=True)
class DiagramNode:
    """One box (or operation, or tensor) of a diagram."""

    id: str                            # node name in the DOT source
    role: str                          # "input", "output", "module" or "function"
    names: tuple[str, ...]             # module paths drawn in this box ("" is the model itself)
    kinds: tuple[str, ...]             # what each is: "conv 3x3/2", "BN", "ReLU", "add", "Sequential", ...
    input_shape: tuple[int, ...]       # per image (first input)
    output_shape: tuple[int, ...]      # per image
    macs: int = 0                      # multiply-adds of the box (its submodules included)
    params: int = 0                    # parameters of the box (each tensor once)
    subtree: bool = False              # the box stands for a module with submodules (a stage, a block)

    @property
    def name(self) -> str:
        return self.names[0] if self.names else ""

    @property
    def kind(self) -> str:
        return " + ".join(self.kinds)


def module_graph(model: nn.Module, shape: tuple[int, ...], depth: int,
                 cost: Cost) -> tuple[list[DiagramNode], list[tuple[str, str]]]:
    """The graph torchview records while a meta copy of ``model`` runs (the model itself if
    it cannot run on ``meta``), with each module box's numbers taken from ``cost``."""
    from torchview.computation_node import FunctionNode, ModuleNode, TensorNode

    device, dtype = _device_and_dtype(model)
    try:
        shadow = _on_meta(model)
        graph = _record(shadow, shape, depth, torch.device("meta"), dtype)
    except Exception:  # an operation that needs real data: trace the model itself
        shadow = model
        graph = _record(model, shape, depth, device, dtype)
    names = {id(m): name for name, m in shadow.named_modules()}
    calls = _call_numbers(graph.node_hierarchy, names)
    by_call = {(c.name, c.call): c for c in cost.calls}

    nodes: dict[int, DiagramNode] = {}
    for number, node in sorted(graph.captured.items()):
        nid = f"n{number}"
        if isinstance(node, TensorNode):
            role = "input" if node.is_root() else "output"
            out = _per_image(node.tensor_shape)
            nodes[number] = DiagramNode(nid, role, (), (role,), out, out)
        elif isinstance(node, ModuleNode):
            name = names.get(node.compute_unit_id, "?")
            module = _module_at(shadow, name)
            numbers = by_call.get((name, calls.get(id(node), 0)))
            nodes[number] = DiagramNode(
                nid, "module", (name,), (describe(module),), _first_shape(node.input_shape),
                _first_shape(node.output_shape), numbers.macs if numbers else 0, numbers.params if numbers else 0,
                subtree=module is not None and any(True for _ in module.children()))
        elif isinstance(node, FunctionNode):
            nodes[number] = DiagramNode(nid, "function", (), (_function_name(node.name),),
                                        _first_shape(node.input_shape), _first_shape(node.output_shape))
    edges = [(f"n{a}", f"n{b}") for a, b in graph.captured_edges if a in nodes and b in nodes]
    return [nodes[k] for k in sorted(nodes)], list(dict.fromkeys(edges))


def _record(model: nn.Module, shape: tuple[int, ...], depth: int, device: torch.device,
            dtype: torch.dtype | None) -> Any:
    """Run ``model`` once on zeros under torchview's recorder; the filled graph."""
    from torchview.computation_graph import ComputationGraph
    from torchview.recorder_tensor import Recorder, _orig_module_forward, module_forward_wrapper
    from torchview.torchview import process_input

    class Captured(ComputationGraph):
        """torchview's graph, kept as data instead of written to a graphviz object."""

        def reset_graph_history(self) -> None:
            super().reset_graph_history()
            self.captured: dict[int, Any] = {}
            self.captured_edges: list[tuple[int, int]] = []

        def add_node(self, node: Any, subgraph: Any = None) -> None:
            if node.node_id not in self.id_dict:
                self.id_dict[node.node_id] = self.running_node_id
                self.running_node_id += 1
            self.captured[self.id_dict[node.node_id]] = node
            self.node_set.add(id(node))

        def add_edge(self, edge_ids: tuple[int, int], edg_cnt: int) -> None:
            self.captured_edges.append(edge_ids)

        def resize_graph(self, *args: Any, **kwargs: Any) -> None:
            pass

    x = torch.zeros((1, *shape), device=device, dtype=dtype)
    inputs, kwargs, roots = process_input(x, None, {}, device, None, False)
    graph = Captured(None, roots, show_shapes=True, expand_nested=False, hide_inner_tensors=True,
                     hide_module_functions=True, roll=False, depth=depth)
    with Recorder(_orig_module_forward, module_forward_wrapper(graph), graph), torch.no_grad():
        model(*inputs, **kwargs)
    graph.fill_visual_graph()
    return graph


def _call_numbers(hierarchy: Any, names: dict[int, str]) -> dict[int, int]:
    """For each torchview module node (by ``id``): which call of its module it records, read
    from the module tree in the order calls start (as ``Cost.calls`` numbers them)."""
    from torchview.computation_node import ModuleNode

    seen: dict[str, int] = {}
    numbers: dict[int, int] = {}

    def walk(item: Any) -> None:
        if isinstance(item, dict):
            for key, children in item.items():
                if isinstance(key, ModuleNode) and key.depth >= 0:
                    name = names.get(key.compute_unit_id, "?")
                    numbers[id(key)] = seen.get(name, 0)
                    seen[name] = seen.get(name, 0) + 1
                for child in children:
                    walk(child)

    walk(hierarchy)
    return numbers


def _module_at(model: nn.Module, name: str) -> nn.Module | None:
    try:
        return model.get_submodule(name) if name else model
    except AttributeError:
        return None


def _per_image(shape: Sequence[int]) -> tuple[int, ...]:
    return tuple(shape[1:]) if len(shape) > 1 else tuple(shape)


def _first_shape(shapes: Sequence[Any]) -> tuple[int, ...]:
    for s in shapes:
        if isinstance(s, (tuple, list, torch.Size)) and all(isinstance(v, int) for v in s):
            return _per_image(s)
    return ()


def _function_name(name: str) -> str:
    """torchview's function names, as a reader says them: ``__iadd__``/``add_`` -> ``add``."""
    name = name.strip("_")
    name = {"iadd": "add", "radd": "add", "imul": "mul", "rmul": "mul", "relu": "ReLU"}.get(name, name)
    return name[:-1] if name.endswith("_") else name


def describe(module: nn.Module | None) -> str:
    """A short name for what ``module`` does: ``"conv 3x3/2"``, ``"fc"``, ``"BN"``, ``"ReLU"``,
    ``"max pool 3x3/2"``, or its class name."""
    if module is None:
        return "?"
    if isinstance(module, nn.modules.conv._ConvNd):
        k = "x".join(str(s) for s in module.kernel_size)
        stride = max(module.stride)
        text = f"conv {k}" + (f"/{stride}" if stride > 1 else "")
        if module.groups > 1:
            text = ("depthwise " if module.groups == module.in_channels else f"{module.groups}-group ") + text
        return text
    if isinstance(module, nn.Linear):
        return "fc"
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return "BN"
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        k = module.kernel_size if isinstance(module.kernel_size, int) else module.kernel_size[0]
        s = module.stride if isinstance(module.stride, int) else module.stride[0]
        kind = "max" if isinstance(module, nn.MaxPool2d) else "avg"
        return f"{kind} pool {k}x{k}" + (f"/{s}" if s and s > 1 else "")
    if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        size = module.output_size if isinstance(module.output_size, int) else module.output_size[0]
        kind = "avg" if isinstance(module, nn.AdaptiveAvgPool2d) else "max"
        return f"global {kind} pool" if module.output_size in (1, (1, 1)) else f"adaptive {kind} pool to {size}x{size}"
    if isinstance(module, nn.Dropout):
        return "dropout"
    if isinstance(module, nn.Sequential) and len(module) > 1:
        kinds = {type(m).__name__ for m in module}
        if len(kinds) == 1:  # a stage of repeated blocks
            return f"{len(module)} x {kinds.pop()}"
    return type(module).__name__


# --------------------------------------------------------------------------- folding

# Functions the model's own code may run that only reshape or activate.
_LIGHT_FUNCTIONS = {"flatten", "ReLU", "view", "reshape", "contiguous", "dropout", "sigmoid", "permute",
                    "transpose", "squeeze", "unsqueeze"}


def _light(node: DiagramNode) -> bool:
    if node.role == "function":
        return node.kinds[0] in _LIGHT_FUNCTIONS
    return node.role == "module" and node.macs == 0 and len(node.names) == 1 and not node.subtree


def fold(nodes: list[DiagramNode], edges: list[tuple[str, str]]) -> tuple[list[DiagramNode], list[tuple[str, str]]]:
    """Merge each light node into its predecessor when the two form a single path."""
    order = [n.id for n in nodes]
    by_id = {n.id: n for n in nodes}
    edges = list(edges)
    changed = True
    while changed:
        changed = False
        for nid in order:
            node = by_id.get(nid)
            if node is None or not _light(node):
                continue
            ins = [a for a, b in edges if b == nid]
            if len(ins) != 1 or by_id[ins[0]].role not in ("module", "function"):
                continue
            parent = by_id[ins[0]]
            if [b for a, b in edges if a == parent.id] != [nid] or parent.subtree:
                continue
            by_id[parent.id] = replace(parent, names=parent.names + node.names, kinds=parent.kinds + node.kinds,
                                       output_shape=node.output_shape, macs=parent.macs + node.macs,
                                       params=parent.params + node.params)
            del by_id[nid]
            edges = [(parent.id if a == nid else a, b) for a, b in edges if b != nid]
            changed = True
    return [by_id[i] for i in order if i in by_id], list(dict.fromkeys(edges))


_QUIET = {"BN", "ReLU", "dropout", "flatten", "relu", "sigmoid", "view", "reshape"}


def stages(nodes: list[DiagramNode], edges: list[tuple[str, str]]) -> tuple[list[DiagramNode], list[tuple[str, str]]]:
    """Merge runs of boxes on a single path with the same input resolution into one box per
    run; boxes that stand for an ``nn.Sequential`` (stages already) are left alone."""
    outs: dict[str, list[str]] = {}
    ins: dict[str, list[str]] = {}
    for a, b in edges:
        outs.setdefault(a, []).append(b)
        ins.setdefault(b, []).append(a)
    by_id = {n.id: n for n in nodes}

    def groupable(n: DiagramNode) -> bool:
        return n.role == "module" and not (n.subtree and (n.kinds[0] == "Sequential" or " x " in n.kinds[0]))

    runs: list[list[str]] = []
    for n in nodes:
        prev = ins.get(n.id, [])
        if (runs and groupable(n) and len(prev) == 1 and prev[0] == runs[-1][-1] and outs.get(prev[0]) == [n.id]
                and groupable(by_id[prev[0]]) and by_id[prev[0]].input_shape[1:] == n.input_shape[1:]):
            runs[-1].append(n.id)
        else:
            runs.append([n.id])
    merged: dict[str, DiagramNode] = {}
    rename: dict[str, str] = {}
    for run in runs:
        first, last = by_id[run[0]], by_id[run[-1]]
        if len(run) == 1:
            merged[first.id] = first
            continue
        kinds = [k for i in run for k in by_id[i].kinds if k not in _QUIET] or list(first.kinds)
        merged[first.id] = replace(first, names=tuple(n for i in run for n in by_id[i].names),
                                   kinds=tuple(_run_lengths(kinds)), output_shape=last.output_shape,
                                   macs=sum(by_id[i].macs for i in run), params=sum(by_id[i].params for i in run),
                                   subtree=True)
        rename.update({i: first.id for i in run})
    new_edges = [(rename.get(a, a), rename.get(b, b)) for a, b in edges]
    return list(merged.values()), list(dict.fromkeys((a, b) for a, b in new_edges if a != b))


def _run_lengths(kinds: list[str]) -> list[str]:
    """``["conv 3x3", "conv 3x3", "max pool"]`` -> ``["2 x conv 3x3", "max pool"]``."""
    out: list[tuple[str, int]] = []
    for k in kinds:
        if out and out[-1][0] == k:
            out[-1] = (k, out[-1][1] + 1)
        else:
            out.append((k, 1))
    return [k if n == 1 else f"{n} x {k}" for k, n in out]
