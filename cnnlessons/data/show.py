"""Looking at a target: a few training images per class, and a confusion matrix.

Both return a matplotlib ``Figure`` (a notebook shows it with ``plt.show()``).
"""
from __future__ import annotations

import torch

from .targets import TargetData


def as_image(x: torch.Tensor) -> torch.Tensor:
    """One ``[-1, 1]`` image (3, H, W) as a NumPy (H, W, 3) array in ``[0, 1]`` for ``imshow``."""
    return ((x.permute(1, 2, 0) + 1) / 2).clamp(0, 1).numpy()


def show_examples(target: TargetData, per_class: int = 4, max_classes: int = 10):
    """A grid: one row per class (the first ``max_classes``), its first ``per_class`` training images."""
    import matplotlib.pyplot as plt

    classes = list(range(min(target.num_classes, max_classes)))
    fig, axes = plt.subplots(len(classes), per_class, figsize=(1.1 * per_class + 1.4, 1.1 * len(classes)),
                             squeeze=False)
    for row, c in zip(axes, classes):
        members = (target.y_train == c).nonzero(as_tuple=True)[0][:per_class]
        for i, ax in enumerate(row):
            ax.set_xticks([]), ax.set_yticks([])
            if i < len(members):
                ax.imshow(as_image(target.x_train[members[i]]))
            else:
                ax.axis("off")
        row[0].set_ylabel(str(target.classes[c])[:16], rotation=0, ha="right", va="center", fontsize=8)
    more = f" (first {len(classes)} of {target.num_classes} classes)" if target.num_classes > len(classes) else ""
    fig.suptitle(f"{target.name}: {per_class} training images per class{more}", fontsize=9)
    fig.tight_layout()
    return fig


def show_confusion(matrix: torch.Tensor, classes: tuple[str, ...] | list[str], title: str, max_classes: int = 20):
    """A confusion matrix (rows: true class, columns: predicted), counts written in the cells."""
    import matplotlib.pyplot as plt

    k = min(len(classes), max_classes)
    m = matrix[:k, :k].cpu().numpy()  # matplotlib takes arrays, not tensors
    fig, ax = plt.subplots(figsize=(1.2 + 0.45 * k, 1.0 + 0.45 * k))
    ax.imshow(m, cmap="Blues")
    names = [str(c)[:12] for c in classes[:k]]
    ax.set_xticks(range(k), names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(k), names, fontsize=8)
    ax.set_xlabel("predicted"), ax.set_ylabel("true")
    if k <= 20:
        for i in range(k):
            for j in range(k):
                v = int(m[i, j])
                ax.text(j, i, str(v), ha="center", va="center", fontsize=7,
                        color="white" if v > m.max() / 2 else "black")
    ax.set_title(title + (f" (first {k} classes)" if len(classes) > k else ""), fontsize=9)
    fig.tight_layout()
    return fig
