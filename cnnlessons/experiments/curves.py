"""Training curves as the lessons draw them: the mean over seeds as a line, the seeds' range as a
band, one colour per depth (``plain-8`` and ``residual-8`` share it), dashed for plain nets; the
steps where the learning rate was divided and the chance level marked.
"""
from __future__ import annotations

import statistics
from typing import Sequence


def _net_order(name: str) -> tuple[str, int]:
    """``plain-8`` before ``plain-32`` (by depth), other names alphabetically."""
    family, _, depth = name.rpartition("-")
    return (family, int(depth)) if depth.isdigit() else (name, 0)



def plot_curves(curves: dict[str, dict[str, list]], ax=None, *, chance: float | None = None,
                ylabel: str = "training error", ylim: tuple[float, float] | None = (0, 1), log: bool = False,
                lr_drops: Sequence[int] = (), xlim: tuple[float, float] | None = None, legend: bool = True):
    """Error curves against steps (``{"name": {"step": [...], "error": [[seed 0], ...]}}``).

    One colour per depth (``plain-8`` and ``residual-8`` share one), dashed for plain nets and
    solid for residual ones; the mean over seeds as a line, the seeds' range as a band. ``chance``
    draws a dotted line, ``lr_drops`` a vertical line at each step where the lr was divided;
    ``log`` a logarithmic error axis."""
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    # Colours follow depth, not the dict's order: a record's JSON keys are sorted as strings
    # (plain-32 before plain-8), and a net must get the same colour in every plot.
    names = sorted(curves, key=_net_order)
    depths = sorted({_net_order(n)[1] for n in names})
    for i, name in enumerate(names):
        family, depth = _net_order(name)
        colour = f"C{depths.index(depth)}" if depth else f"C{i}"
        curve = curves[name]
        style = "--" if family == "plain" else "-"
        runs = curve["error"]
        mean = [statistics.fmean(v) for v in zip(*runs)]
        if len(runs) > 1:
            ax.fill_between(curve["step"], [min(v) for v in zip(*runs)], [max(v) for v in zip(*runs)],
                            color=colour, alpha=0.2, lw=0)
        ax.plot(curve["step"], mean, style, color=colour, lw=1.8, label=name)
    for i, step in enumerate(lr_drops):
        ax.axvline(step, color="black", lw=0.6, alpha=0.5, label="lr / 10" if i == 0 else None)
    if chance is not None:
        ax.axhline(chance, color="grey", lw=0.8, ls=":", label="chance")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("SGD step")
    ax.set_ylabel(ylabel)
    if ylim is not None:
        ax.set_ylim(*ylim)
    if xlim is not None:
        ax.set_xlim(*xlim)
    if legend:
        ax.legend(fontsize="small")
    return ax
