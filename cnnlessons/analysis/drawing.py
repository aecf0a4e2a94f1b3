"""Drawing receptive fields: one unit of the last feature map and, inside it, its ancestors.

Given the fields of a network's feature maps in forward order (the last one is the unit we
follow), ``ancestor_regions`` picks a unit of the last map (default: the one nearest the
image centre) and, for every earlier map, its *central ancestor*: of the earlier units in the
bounding box of those that feed it (``ReceptiveField.ancestors``), the one whose field is
centred nearest it (in a stack of odd kernels it is the one its centre tap reads). Each
square is that unit's field ``[u j - P, u j - P + r - 1]`` (see ``fields``), so the squares
nest inside the last one and share its centre (to within half a jump).

The followed unit itself need not sit at the image centre: an even-sized last map has no
middle unit (AlexNet's 6x6), and a stride-2 layer with symmetric padding on an even map
shifts its grid half an input jump up and left (``field_offset`` measures it).
"""
from __future__ import annotations

from typing import Any, Mapping

from .erf import centre_unit
from .fields import ReceptiveField

__all__ = ["ancestor_regions", "draw_field_squares", "field_offset", "plot_fields_on_image"]

Region = tuple[int, int, int, int]


def ancestor_regions(fields: Mapping[str, ReceptiveField], unit: tuple[int, int] | None = None) -> dict[str, Region]:
    """``{label: (top, left, bottom, right)}``: the field of the last map's ``unit`` (default
    ``centre_unit``) and, for each earlier map, the field of that unit's central ancestor."""
    if not fields:
        raise ValueError("fields must name at least one feature map")
    labels = list(fields)
    last = fields[labels[-1]]
    unit = centre_unit(last) if unit is None else unit
    regions = {}
    for label in labels[:-1]:
        earlier = fields[label]
        regions[label] = earlier.region(*last.central_ancestor(earlier, *unit))
    regions[labels[-1]] = last.region(*unit)
    return regions


def field_offset(rf: ReceptiveField, unit: tuple[int, int] | None = None) -> tuple[float, float]:
    """How far the field of ``unit`` (default ``centre_unit``) is centred from the image
    centre ``((H - 1) / 2, (W - 1) / 2)``, in pixels (row, column; positive: down, right)."""
    unit = centre_unit(rf) if unit is None else unit
    centre = rf.centre(*unit)
    return centre[0] - (rf.input_size[0] - 1) / 2, centre[1] - (rf.input_size[1] - 1) / 2


def draw_field_squares(ax: Any, fields: Mapping[str, ReceptiveField], unit: tuple[int, int] | None = None, *,
                       linewidth: float = 2, cmap: str = "viridis", jumps: bool = True) -> dict[str, Region]:
    """Draw ``ancestor_regions`` as squares on ``ax`` (pixel coordinates), coloured along
    ``cmap`` from the first map to the last, one legend entry per map (its field ``r`` and,
    with ``jumps``, its jump ``j``); returns the regions."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    regions = ancestor_regions(fields, unit)
    colours = plt.get_cmap(cmap)([i / max(1, len(regions) - 1) * 0.9 for i in range(len(regions))])
    for (label, (top, left, bottom, right)), colour in zip(regions.items(), colours):
        rf = fields[label]
        ax.add_patch(Rectangle((left - 0.5, top - 0.5), right - left + 1, bottom - top + 1, fill=False,
                               edgecolor=colour, linewidth=linewidth,
                               label=f"{label}: r = {rf.size}" + (f", j = {rf.stride}" if jumps else "")))
    return regions


def plot_fields_on_image(image: Any, fields: Mapping[str, ReceptiveField], ax: Any = None, *,
                         title: str = "", unit: tuple[int, int] | None = None, jumps: bool = True) -> Any:
    """Draw over ``image`` (an ``(H, W[, 3])`` array the size of the networks' input) the field
    of one unit of the last map and of its central ancestor in every earlier map (see
    ``ancestor_regions``). Fields reaching past the image are drawn in full: the grey frame
    is the image, the rest is padding. A white cross marks the image centre, a dot the
    followed unit's field centre. ``jumps``: give each map's jump in the legend too."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    h, w = image.shape[:2]
    for label, rf in fields.items():
        if rf.input_size != (h, w):
            raise ValueError(f"field {label!r} was computed for a {rf.input_size} input, the image is {(h, w)}")
    ax.imshow(image, extent=(-0.5, w - 0.5, h - 0.5, -0.5))
    ax.add_patch(Rectangle((-0.5, -0.5), w, h, fill=False, edgecolor="0.5", linewidth=1))
    regions = draw_field_squares(ax, fields, unit, jumps=jumps)
    last = list(fields.values())[-1]
    centre = last.centre(*(centre_unit(last) if unit is None else unit))
    ax.plot([(w - 1) / 2], [(h - 1) / 2], marker="+", color="white", markersize=14, markeredgewidth=2)
    ax.plot([centre[1]], [centre[0]], marker="o", color="red", markersize=4)
    lo = min(0.0, *(min(t, l) for t, l, _, _ in regions.values()))
    hi = max(float(max(h, w)), *(max(b, r) + 1 for _, _, b, r in regions.values()))
    margin = 0.03 * (hi - lo)
    ax.set_xlim(lo - margin, hi + margin)
    ax.set_ylim(hi + margin, lo - margin)
    ax.set_title(title)
    ax.legend(loc="lower left", fontsize=7, framealpha=0.8)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax.figure
