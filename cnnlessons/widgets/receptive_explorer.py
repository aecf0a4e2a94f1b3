"""Receptive-field explorer: stack layers, watch the field size, jump and weights change.

The logic is ``ReceptiveExplorer`` (plain Python, unit-tested without a browser): it holds a
list of ``LayerSpec`` layers, builds the real ``nn.Sequential``, and reports what
``cnnlessons.analysis.receptive`` computes on it. ``explorer.widget()`` wires ipywidgets controls to
it; ``explorer.draw()`` makes the same picture as a static matplotlib figure. Where no kernel
runs (the website, the slide decks), ``js/receptive_explorer.js`` computes the same summary,
centre unit and dependency mask from the recurrence (``cnnlessons.widgets.static``).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Sequence

import torch
from torch import nn

from ..analysis import (LayerSpec, ReceptiveField, build_stack, centre_unit, count_parameters, dependency_maps,
                        receptive_field)

MAX_DRAWN_INPUT = 72  # larger inputs are drawn as the field's outline only (impulses cost H*W passes)
KINDS = ("conv", "maxpool", "avgpool")
PROBE_INPUT = 2 ** 20  # run on the meta device, so its size costs nothing


@dataclass(frozen=True)
class ExplorerSummary:
    """What the explorer shows for the current stack."""

    size: int
    jump: int
    parameters: int
    layers: int
    nonlinearities: int
    field: ReceptiveField

    def text(self) -> str:
        return (f"{self.layers} layer(s): receptive field {self.size}x{self.size}, jump {self.jump}, "
                f"{self.parameters:,} weights, {self.nonlinearities} ReLU(s)")


class ReceptiveExplorer:
    """A plain stack of convolutions and pools, ``channels`` wide, and its receptive field.

    Convolutions have no bias, so a ``k x k`` conv has ``k^2 C^2`` weights; each is followed
    by a ReLU. Padding is ``d (k - 1) // 2`` ("same" for odd kernels).
    """

    def __init__(self, layers: Sequence[LayerSpec] | None = None, channels: int = 64) -> None:
        if not isinstance(channels, int) or isinstance(channels, bool) or channels < 1:
            raise ValueError(f"channels must be a positive int; got {channels!r}")
        self.layers: list[LayerSpec] = list(layers) if layers is not None else [LayerSpec("conv", 3)] * 3
        if not self.layers:
            raise ValueError("layers must hold at least one LayerSpec")
        self.channels = channels

    # editing ---------------------------------------------------------------
    def _index(self, index: int) -> int:
        if not isinstance(index, int) or not -len(self.layers) <= index < len(self.layers):
            raise IndexError(f"index must be a layer index in [0, {len(self.layers) - 1}]; got {index!r}")
        return index % len(self.layers)

    def set_layer(self, index: int, **changes: Any) -> LayerSpec:
        """Change ``kind``, ``kernel``, ``stride`` or ``dilation`` of one layer (validated).

        Switching to ``avgpool`` resets the dilation to 1 (average pooling has none)."""
        unknown = set(changes) - {"kind", "kernel", "stride", "dilation"}
        if unknown:
            raise ValueError(f"unknown layer setting(s) {sorted(unknown)}; valid: kind, kernel, stride, dilation")
        i = self._index(index)
        if changes.get("kind") == "avgpool":
            changes.setdefault("dilation", 1)
        self.layers[i] = replace(self.layers[i], **changes)
        return self.layers[i]

    def add_layer(self, spec: LayerSpec | None = None) -> None:
        self.layers.append(spec if spec is not None else LayerSpec("conv", 3))

    def remove_layer(self, index: int = -1) -> None:
        if len(self.layers) == 1:
            raise ValueError("the stack must keep at least one layer")
        del self.layers[self._index(index)]

    # what it computes ------------------------------------------------------
    def model(self, channels: int | None = None) -> nn.Sequential:
        c = self.channels if channels is None else channels
        return build_stack(self.layers, channels=c, in_channels=c)

    def input_size(self) -> int:
        """A square input on which the centre unit's field lies inside the image, with a margin."""
        rf = receptive_field(self.model(channels=1), (1, PROBE_INPUT, PROBE_INPUT))  # shapes only: free
        return rf.size_hw[0] + 2 * max(2, rf.stride_hw[0])

    def summary(self) -> ExplorerSummary:
        model = self.model()
        n = self.input_size()
        rf = receptive_field(model, (self.channels, n, n))
        return ExplorerSummary(
            size=rf.size_hw[0], jump=rf.stride_hw[0],
            parameters=count_parameters(model),
            layers=len(self.layers), nonlinearities=sum(isinstance(m, nn.ReLU) for m in model.modules()),
            field=rf)

    def centre_dependencies(self) -> tuple[tuple[int, int], torch.Tensor | None, ReceptiveField]:
        """The unit nearest the centre of the output map, the input pixels it depends on (or
        ``None`` when the input is too large to probe pixel by pixel) and the field."""
        n = self.input_size()
        model = self.model(channels=1)
        rf = receptive_field(model, (1, n, n))
        unit = centre_unit(rf)
        if n > MAX_DRAWN_INPUT:
            return unit, None, rf
        return unit, dependency_maps(model, (1, n, n))[unit], rf

    def draw(self, ax: Any = None) -> Any:
        """Draw the input grid, the pixels the centre unit depends on and its field's box."""
        import matplotlib.pyplot as plt
        from matplotlib.patches import Rectangle

        if ax is None:
            _, ax = plt.subplots(figsize=(4.5, 4.5))
        summary = self.summary()
        unit, mask, rf = self.centre_dependencies()
        n = rf.input_size[0]
        image = mask.float().numpy() if mask is not None else torch.zeros(n, n).numpy()
        ax.imshow(image, cmap="Blues", vmin=0, vmax=1.4, extent=(-0.5, n - 0.5, n - 0.5, -0.5))
        top, left, bottom, right = rf.region(*unit)
        ax.add_patch(Rectangle((left - 0.5, top - 0.5), right - left + 1, bottom - top + 1,
                               fill=False, edgecolor="crimson", linewidth=2, label=f"field {summary.size}"))
        if n <= 48:
            ax.set_xticks([x - 0.5 for x in range(n + 1)], minor=True)
            ax.set_yticks([y - 0.5 for y in range(n + 1)], minor=True)
            ax.grid(which="minor", color="0.85", linewidth=0.5)
        ax.set_xlim(-0.5, n - 0.5)
        ax.set_ylim(n - 0.5, -0.5)
        ax.set_title(f"r = {summary.size}, jump = {summary.jump}, {summary.parameters:,} weights"
                     + ("" if mask is not None else "\n(input too large to shade the pixels)"), fontsize=10)
        ax.set_xlabel("input column")
        ax.set_ylabel("input row")
        ax.legend(loc="upper right", fontsize=8)
        return ax.figure

    def table(self) -> list[dict[str, Any]]:
        return self.summary().field.table()

    def state(self) -> dict[str, Any]:
        """The stack as plain data (what the static copy starts from)."""
        return {"channels": self.channels,
                "layers": [{"kind": s.kind, "kernel": s.kernel, "stride": s.stride, "dilation": s.dilation,
                            "padding": s.padding} for s in self.layers]}

    def widget(self) -> Any:
        """An ipywidgets panel: pick a layer, set kind / kernel / stride / dilation, add or
        remove layers; the summary line and the drawing update at once."""
        import ipywidgets as w
        import matplotlib.pyplot as plt
        from IPython.display import display

        from .static import static_box

        wide = {"description_width": "initial"}  # labels in full
        layer = w.Dropdown(description="layer", style=wide)
        kind = w.ToggleButtons(options=KINDS, description="kind", style=wide)
        kernel = w.IntSlider(min=1, max=7, description="kernel", style=wide)
        stride = w.IntSlider(min=1, max=3, description="stride", style=wide)
        dilation = w.IntSlider(min=1, max=4, description="dilation", style=wide)
        add, remove = w.Button(description="add layer"), w.Button(description="remove layer")
        info, out = w.HTML(), w.Output()
        busy = {"syncing": False}

        def sync_controls() -> None:
            busy["syncing"] = True
            current = layer.value
            layer.options = [(f"{i + 1}: {s.kind} {s.kernel}x{s.kernel}/{s.stride} d{s.dilation}", i)
                             for i, s in enumerate(self.layers)]
            i = current if isinstance(current, int) and 0 <= current < len(self.layers) else 0
            layer.value = i
            spec = self.layers[i]
            kind.value, kernel.value, stride.value, dilation.value = spec.kind, spec.kernel, spec.stride, spec.dilation
            dilation.disabled = spec.kind == "avgpool"
            busy["syncing"] = False

        def redraw() -> None:
            info.value = f"<b>{self.summary().text()}</b>"
            with out:
                out.clear_output(wait=True)
                fig, ax = plt.subplots(figsize=(4.5, 4.5))
                self.draw(ax)
                display(fig)
                plt.close(fig)

        def on_setting(change: Any) -> None:
            if busy["syncing"]:
                return
            try:
                self.set_layer(layer.value, kind=kind.value, kernel=kernel.value, stride=stride.value,
                               dilation=1 if kind.value == "avgpool" else dilation.value)
            except ValueError as exc:
                info.value = f"<span style='color:crimson'>{exc}</span>"
                return
            sync_controls()
            redraw()

        def on_layer(change: Any) -> None:
            if not busy["syncing"]:
                sync_controls()

        def on_add(_: Any) -> None:
            self.add_layer()
            layer.options = list(layer.options) + [("new", len(self.layers) - 1)]
            layer.value = len(self.layers) - 1
            sync_controls()
            redraw()

        def on_remove(_: Any) -> None:
            if len(self.layers) > 1:
                self.remove_layer(layer.value)
                layer.value = 0
                sync_controls()
                redraw()

        for control in (kind, kernel, stride, dilation):
            control.observe(on_setting, names="value")
        layer.observe(on_layer, names="value")
        add.on_click(on_add)
        remove.on_click(on_remove)
        sync_controls()
        redraw()
        return static_box([w.HBox([layer, add, remove]), kind, w.HBox([kernel, stride, dilation]), info, out],
                          "receptive_explorer", self.state)
