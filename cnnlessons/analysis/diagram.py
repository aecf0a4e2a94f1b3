"""Architecture diagrams drawn from a module's definition.

``diagram(model, input_size)`` draws the graph a forward pass of ``model`` runs: one box per
module at the chosen nesting ``depth`` (``depth=1``: the model's direct children, e.g. a
ResNet's stem, its four stages and the classifier; ``depth=2``: one level further in), one
small node per operation the model's own code runs (the residual ``add``, Inception's ``cat``),
and arrows where tensors flow. Each box shows the module's path and what it is, the tensor
shape going in and out (per image, without the batch dimension), and the part's
**multiply-adds** and **parameters**, the numbers of ``cnnlessons.analysis.cost.count``
(``Cost.calls``: every module call, containers included, so a box's numbers are its whole
subtree's). The title line gives the totals.

With ``fold=True`` (the default) a layer that has no multiply-adds of its own (batch norm,
activations, pooling, dropout, flattening) and follows a single other box on a single
path is drawn inside that box ("conv 3x3 + BN + ReLU"), so the diagram shows the weighted
layers and the joins that matter.

How it works:

- the graph: ``cnnlessons.analysis.module_graph``, with ``torchview``'s tracer, records
  modules, torch functions and tensors while the model runs on a copy of itself on the
  ``meta`` device (no arithmetic, and the model itself is not touched);
- the numbers: ``count`` (one pass on fake tensors), matched to the graph's boxes by module
  path and call order;
- the layout: Graphviz's ``dot`` algorithm, run by ``graphviz-pure`` (a self-contained
  Graphviz installed by pip with the course, same bytes on every platform) or, where that is
  missing, a Graphviz ``dot`` on the ``PATH``.

The result displays itself in JupyterLab and on the course website (SVG, with a PNG for
viewers that do not show SVG) and can be saved with ``Diagram.save("name.svg" | "name.png")``.
``side_by_side(a, b, ...)`` draws several diagrams next to each other in one picture.
"""
from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Mapping, Sequence

from torch import nn

from ..io import atomic_write_bytes, atomic_write_text
from .cost import Cost, _input_shape, count
from .module_graph import DiagramNode, fold as fold_light_layers, module_graph, stages as merge_stages

__all__ = ["Diagram", "DiagramError", "DiagramNode", "diagram", "graphviz_program", "side_by_side"]


class DiagramError(RuntimeError):
    """The graph could not be traced or laid out."""


@dataclass(frozen=True)
class Diagram:
    """A drawn architecture: ``nodes`` and ``edges`` (pairs of node ids), the totals of
    ``cost``, and the DOT ``source``; displays as SVG (``svg()``) or PNG (``png()``)."""

    title: str
    nodes: tuple[DiagramNode, ...]
    edges: tuple[tuple[str, str], ...]
    cost: Cost | None = field(default=None, repr=False)
    rankdir: str = "TB"
    labels: tuple[tuple[str, str], ...] = ()  # (module path, the box's heading), see ``diagram``

    @property
    def macs(self) -> int:
        return self.cost.macs if self.cost else sum(n.macs for n in self.nodes)

    @property
    def params(self) -> int:
        return self.cost.params if self.cost else sum(n.params for n in self.nodes)

    def node(self, name: str) -> DiagramNode:
        """The box that draws the module at path ``name``."""
        for n in self.nodes:
            if name in n.names:
                return n
        raise KeyError(f"no box draws a module named {name!r}; boxes: {[n.name for n in self.nodes]}")

    @property
    def boxes(self) -> list[DiagramNode]:
        """The module boxes, in the order the modules ran."""
        return [n for n in self.nodes if n.role == "module"]

    @cached_property
    def source(self) -> str:
        """The diagram in Graphviz's DOT language."""
        return _dot([self], self.rankdir)

    def svg(self) -> str:
        return _render_svg(self.source)

    def png(self) -> bytes:
        return _render(self.source, "png")

    def save(self, path: str | Path) -> Path:
        """Write the diagram to ``path`` (atomically); its suffix (``.svg``, ``.png`` or ``.gv``)
        picks the format."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".svg":
            atomic_write_text(path, self.svg())
        elif suffix == ".png":
            atomic_write_bytes(path, self.png())
        elif suffix in (".gv", ".dot"):
            atomic_write_text(path, self.source)
        else:
            raise ValueError(f"save: use a .svg, .png or .gv file name, not {path.name!r}")
        return path

    def _repr_svg_(self) -> str:
        return self.svg()

    def _repr_png_(self) -> bytes:
        return self.png()

    def __str__(self) -> str:
        return (f"{self.title}: {len(self.boxes)} boxes, {_si(self.macs)} multiply-adds, "
                f"{_si(self.params)} parameters")

    def __repr__(self) -> str:
        return f"<Diagram {self}>"


def diagram(model: nn.Module, input_size: int | Sequence[int] = (3, 224, 224), depth: int = 1, *,
            fold: bool = True, stages: bool = False, title: str | None = None, rankdir: str = "TB",
            labels: Mapping[str, str] | None = None) -> Diagram:
    """Draw ``model`` as it runs on one input of ``input_size`` (``(C, H, W)``, or an int
    ``s`` for ``(3, s, s)``; any shape without the batch dimension, e.g. ``(197, 768)`` for a
    transformer block), in its current mode (call ``.eval()`` for inference).

    ``depth``: how far into the module tree to draw boxes (1: the model's children).
    ``fold``: draw weight-free layers that follow a box on a single path inside that box.
    ``stages``: also draw consecutive boxes on a single path that work at the same resolution
    (the input's spatial size) as one box, e.g. VGG's five stages; a box that stands for an
    ``nn.Sequential`` is a stage already and is kept as it is (a ResNet's ``layer1``).
    ``rankdir``: ``"TB"`` (top to bottom) or ``"LR"`` (left to right).
    ``labels``: ``{module path: heading}`` to name boxes in words ("1x1 reduce, 64") instead of by
    their module path and kind ("branch2.0.0-1  conv 1x1 + ReLU"); a box takes the heading of the
    first of its modules that has one, the others keep theirs. Every path must name a module.
    Raises ``ValueError`` for a bad ``input_size`` or ``depth``, ``TypeError`` if ``model`` is
    not an ``nn.Module``."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module; got {type(model).__name__}")
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
        raise ValueError(f"depth must be an integer >= 1; got {depth!r}")
    if rankdir not in ("TB", "LR"):
        raise ValueError(f"rankdir must be 'TB' or 'LR'; got {rankdir!r}")
    labels = dict(labels or {})
    unknown = sorted(set(labels) - {name for name, _ in model.named_modules()})
    if unknown:
        raise ValueError(f"labels name modules the model does not have: {unknown}")
    shape = _input_shape(input_size)
    cost = count(model, shape)
    nodes, edges = module_graph(model, shape, depth, cost)
    if fold or stages:
        nodes, edges = fold_light_layers(nodes, edges)
    if stages:
        nodes, edges = merge_stages(nodes, edges)
    if title is None:
        title = type(model).__name__
    return Diagram(title, tuple(nodes), tuple(edges), cost, rankdir, tuple(labels.items()))


def side_by_side(*diagrams: Diagram, title: str | None = None) -> Diagram:
    """Several diagrams next to each other in one picture, each under its own title."""
    if not diagrams or not all(isinstance(d, Diagram) for d in diagrams):
        raise TypeError("side_by_side takes one or more Diagram objects")
    return _Group(title or " | ".join(d.title for d in diagrams), (), (), None, "TB", parts=tuple(diagrams))


@dataclass(frozen=True, repr=False)
class _Group(Diagram):
    parts: tuple[Diagram, ...] = ()

    @cached_property
    def source(self) -> str:
        return _dot(list(self.parts), self.rankdir, title=self.title)

    @property
    def macs(self) -> int:
        return sum(p.macs for p in self.parts)

    @property
    def params(self) -> int:
        return sum(p.params for p in self.parts)

    @property
    def boxes(self) -> list[DiagramNode]:
        return [n for p in self.parts for n in p.boxes]


# --------------------------------------------------------------------------- drawing

_FONT = "Helvetica"
_COLOURS = {"weighted": "#dbe8f7", "container": "#e3f1dc", "light": "#f1f1f1", "function": "#ffffff",
            "input": "#fff2cc", "output": "#fff2cc"}


def _si(n: float) -> str:
    """3 significant digits with a k/M/G suffix: 1814073344 -> '1.81 G'."""
    for factor, suffix in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if abs(n) >= factor:
            value = n / factor
            return f"{value:.3g}{suffix}" if value < 1000 else f"{value:.0f}{suffix}"
    return f"{n:g}"


def _shape(shape: Sequence[int]) -> str:
    return "x".join(str(s) for s in shape) if shape else "?"


def _names(names: Sequence[str]) -> str:
    names = [n for n in names if n] or [""]
    if len(names) == 1:
        return names[0]
    prefix = names[0].rsplit(".", 1)[0]
    tails = [n.rsplit(".", 1)[-1] for n in names]
    if all(n.rsplit(".", 1)[0] == prefix and "." in n for n in names) and all(t.isdigit() for t in tails):
        return f"{prefix}.{tails[0]}-{tails[-1]}"
    return f"{names[0]} .. {names[-1]}"


def _label(node: DiagramNode, labels: Mapping[str, str] | None = None) -> str:
    esc = html.escape
    if node.role in ("input", "output"):
        return f"<<b>{node.role}</b> {esc(_shape(node.output_shape))}>"
    if node.role == "function":
        return f"<{esc(node.kind)}<br/><font point-size=\"8\">{esc(_shape(node.output_shape))}</font>>"
    given = next((labels[n] for n in node.names if labels and n in labels), None)
    name = _names(node.names) or "model"
    if given is not None:
        head = f"<b>{esc(given)}</b>"
    else:
        head = f"<b>{esc(name)}</b>" + ("" if name == node.kind else f"  {esc(node.kind)}")
    rows = [head,
            f"{esc(_shape(node.input_shape))} -&gt; {esc(_shape(node.output_shape))}"]
    if node.macs or node.params:
        rows.append(f"<font point-size=\"9\">{_si(node.macs)} MACs, {_si(node.params)} params</font>")
    return "<" + "<br/>".join(rows) + ">"


def _style(node: DiagramNode) -> str:
    if node.role in ("input", "output"):
        return f'shape=box, style="rounded,filled", fillcolor="{_COLOURS["input"]}"'
    if node.role == "function":
        return f'shape=ellipse, style=filled, fillcolor="{_COLOURS["function"]}", margin="0.02,0.01"'
    colour = _COLOURS["weighted"] if node.macs else _COLOURS["container"] if node.subtree else _COLOURS["light"]
    return f'shape=box, style="rounded,filled", fillcolor="{colour}"'


def _title(d: Diagram) -> str:
    inputs = [n for n in d.nodes if n.role == "input"]
    outputs = [n for n in d.nodes if n.role == "output"]
    shapes = ""
    if inputs and outputs:
        shapes = f"{_shape(inputs[0].output_shape)} -> {_shape(outputs[0].output_shape)}, "
    return f"{d.title}: {shapes}{_si(d.macs)} MACs, {_si(d.params)} params"


def _dot(parts: list[Diagram], rankdir: str, title: str | None = None) -> str:
    lines = ["digraph model {",
             f'  graph [rankdir={rankdir}, fontname="{_FONT}", fontsize=12, nodesep=0.25, ranksep=0.3, '
             f'labelloc=t];',
             f'  node [fontname="{_FONT}", fontsize=10, penwidth=0.8, margin="0.12,0.05"];',
             '  edge [arrowsize=0.6, penwidth=0.8, color="#555555"];']
    single = len(parts) == 1 and title is None
    if single:
        lines.append(f'  label="{_quote(_title(parts[0]))}";')
    elif title:
        lines.append(f'  label="{_quote(title)}";')
    for i, part in enumerate(parts):
        prefix, indent = ("", "  ") if single else (f"p{i}_", "    ")
        if not single:
            lines.append(f"  subgraph cluster_{i} {{")
            lines.append(f'    label="{_quote(_title(part))}"; style="rounded"; color="#bbbbbb";')
        names = dict(part.labels)
        for node in part.nodes:
            tooltip = _quote(", ".join(n for n in node.names if n) or node.kind)
            lines.append(f"{indent}{prefix}{node.id} [label={_label(node, names)}, {_style(node)}, "
                         f"tooltip=\"{tooltip}\"];")
        for a, b in part.edges:
            lines.append(f"{indent}{prefix}{a} -> {prefix}{b};")
        if not single:
            lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


# --------------------------------------------------------------------------- rendering


def graphviz_program() -> str:
    """The layout program: ``graphviz-pure`` installed with the course (next to this Python,
    or on the ``PATH``), else Graphviz's ``dot``. Raises ``DiagramError`` if there is neither."""
    scripts = Path(sysconfig.get_path("scripts"))
    for candidate in (scripts / "graphviz-pure", scripts / "graphviz-pure.exe",
                      Path(sys.executable).parent / "graphviz-pure"):
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("graphviz-pure") or shutil.which("dot")
    if found:
        return found
    raise DiagramError("no Graphviz layout program found: install the course's dependencies "
                       "(pip install graphviz-pure) or Graphviz (https://graphviz.org, the `dot` command)")


def _render(source: str, fmt: str) -> bytes:
    try:
        done = subprocess.run([graphviz_program(), f"-T{fmt}"], input=source.encode("utf-8"),
                              capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DiagramError(f"Graphviz could not lay out the diagram: {exc}") from exc
    if done.returncode != 0:
        raise DiagramError(f"Graphviz failed ({done.returncode}): {done.stderr.decode(errors='replace')[-500:]}")
    return done.stdout


def _render_svg(source: str) -> str:
    svg = _render(source, "svg").decode("utf-8")
    # The renderer's name and version would make the same drawing differ between installs.
    return re.sub(r"<!-- Generated by .*?-->\n", "", svg, flags=re.S)
