"""Drawing receptive fields over an image: the box ``[u j - P, u j - P + r - 1]`` of the
centre unit of each feature map (see ``fields`` for the recurrence giving ``r``, ``j``, ``P``)."""
from __future__ import annotations

from typing import Any

from .erf import centre_unit
from .fields import ReceptiveField

__all__ = ["plot_fields_on_image"]


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


