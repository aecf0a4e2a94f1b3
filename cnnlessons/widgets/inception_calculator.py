"""An Inception-module cost calculator: branch widths and a bottleneck width in, per-branch
multiply-add bars and the output depth out.

The logic is ``calculate(...)`` (plain numbers, from ``cnnlessons.models.inception.branch_costs``)
and ``render_html(...)`` (the bars as HTML); ``InceptionCalculator`` only wires sliders to
them. ``plot_branch_costs`` draws the same bars with matplotlib for a static figure.

Where no kernel runs (the website, the slide decks), ``js/inception_calculator.js`` is the
same calculator in JavaScript (``cnnlessons.widgets.static``): ``render_html`` rounds with
integer arithmetic so that both give the same text to the character.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ..models.inception import BRANCHES, InceptionCost, branch_costs

COLORS = {"1x1": "#4c72b0", "3x3": "#dd8452", "5x5": "#c44e52", "pool": "#55a868"}


@dataclass(frozen=True)
class Calculation:
    """The calculator's answer: the chosen module, and the naive module of the same widths."""

    chosen: InceptionCost
    naive: InceptionCost
    bottleneck: int | None

    @property
    def saving(self) -> float:
        """Multiply-adds of the chosen module as a fraction of the naive one."""
        return self.chosen.macs / self.naive.macs


def calculate(in_channels: int = 256, c1x1: int = 128, c3x3: int = 192, c5x5: int = 96,
              bottleneck: int | None = 64, size: int = 28) -> Calculation:
    """Costs of the module with ``bottleneck`` (``None`` or 0: no bottleneck) next to the
    naive module with the same branch widths, on a ``size x size`` input."""
    if bottleneck == 0:
        bottleneck = None
    chosen = branch_costs(in_channels, c1x1, c3x3, c5x5, bottleneck, size)
    naive = branch_costs(in_channels, c1x1, c3x3, c5x5, None, size)
    return Calculation(chosen, naive, bottleneck)


def _millions(n: int) -> str:
    """``n`` in millions with one decimal, rounded half up (exact integer arithmetic)."""
    tenths = (n + 50_000) // 100_000
    return f"{tenths // 10:,}.{tenths % 10}"


def render_html(calc: Calculation, width_px: int = 360) -> str:
    """Per-branch bars (chosen module; bar lengths relative to the naive module's largest
    branch), the totals and the output depth, as an HTML fragment. Every rounding is half up
    on exact integers, as the JavaScript copy does it."""
    scale = max(calc.naive.branch_macs().values())
    rows = []
    chosen, naive = calc.chosen.branch_macs(), calc.naive.branch_macs()
    for branch in BRANCHES:
        px = (2 * width_px * chosen[branch] + scale) // (2 * scale)
        rows.append(
            f"<tr><td>{branch}</td><td><div style='background:{COLORS[branch]};width:{px}px;height:14px'></div></td>"
            f"<td style='text-align:right'>{_millions(chosen[branch])} M</td>"
            f"<td style='text-align:right;color:#777'>naive {_millions(naive[branch])} M</td>"
            f"<td style='text-align:right'>+{calc.chosen.depths[branch]} ch</td></tr>")
    label = "no bottleneck" if calc.bottleneck is None else f"bottleneck {calc.bottleneck}"
    permille = (2000 * calc.chosen.macs + calc.naive.macs) // (2 * calc.naive.macs)
    summary = (f"<p><b>{label}</b>: {calc.chosen.macs:,} multiply-adds "
               f"({permille // 10}.{permille % 10}% of the naive {calc.naive.macs:,}); "
               f"{calc.chosen.params:,} parameters; output depth <b>{calc.chosen.out_channels}</b> "
               f"(naive {calc.naive.out_channels})</p>")
    return f"<table>{''.join(rows)}</table>{summary}"


def plot_branch_costs(costs: Mapping[str, InceptionCost], ax: Any = None) -> Any:
    """Grouped bars: multiply-adds (millions) per branch for each labelled module."""
    import matplotlib.pyplot as plt
    import numpy as np

    ax = ax if ax is not None else plt.subplots(figsize=(7, 3.5))[1]
    x = np.arange(len(BRANCHES))
    width = 0.8 / max(len(costs), 1)
    for i, (label, cost) in enumerate(costs.items()):
        values = [cost.branch_macs()[b] / 1e6 for b in BRANCHES]
        ax.bar(x + (i - (len(costs) - 1) / 2) * width, values, width,
               label=f"{label}: {cost.macs / 1e6:,.0f} M total, depth {cost.out_channels}")
    ax.set_xticks(x, [f"{b} branch" for b in BRANCHES])
    ax.set_ylabel("multiply-adds (millions)")
    ax.set_title("Inception module cost per branch")
    ax.set_ylim(0, 1.3 * ax.get_ylim()[1])  # room for the legend above the bars
    ax.legend(loc="upper left")
    return ax


LIMITS = {"in_channels": (1, 1024), "size": (1, 112), "c1x1": (1, 512), "c3x3": (1, 512),
          "c5x5": (1, 512), "bottleneck": (0, 512)}  # the sliders' ranges (the JavaScript copy has the same)


class InceptionCalculator:
    """Sliders for the input depth, map size, branch widths and bottleneck (0 = none);
    ``widget`` is the box to display (with a static copy for pages without a kernel)."""

    def __init__(self, **initial: int) -> None:
        import ipywidgets as w

        start = {"in_channels": 256, "size": 28, "c1x1": 128, "c3x3": 192, "c5x5": 96, "bottleneck": 64}
        unknown = sorted(set(initial) - set(start))
        if unknown:
            raise ValueError(f"unknown calculator setting(s) {unknown}; valid: {sorted(start)}")
        start.update(initial)
        from .static import static_box

        self.sliders = {name: w.IntSlider(value=start[name], min=lo, max=hi, description=name,
                                          continuous_update=False, style={"description_width": "initial"})
                        for name, (lo, hi) in LIMITS.items()}
        self.output = w.HTML()
        for slider in self.sliders.values():
            slider.observe(lambda _change: self.update(), names="value")
        self.widget = static_box([w.HBox([w.VBox(list(self.sliders.values())[:3]),
                                          w.VBox(list(self.sliders.values())[3:])]), self.output],
                                 "inception_calculator", self.values)
        self.update()

    def values(self) -> dict[str, int]:
        return {name: slider.value for name, slider in self.sliders.items()}

    def update(self) -> Calculation:
        calc = calculate(**self.values())
        self.output.value = render_html(calc)
        return calc
