"""Summaries of transfer results over seeds, and the form a record stores them in.

``summarise`` groups runs by (target, labels per class, strategy) into a ``Summary`` (mean, std,
min and max over seeds); ``best_strategy`` reads the winner off it; ``record_summary`` and
``rows_from_record`` turn runs into a record's ``summary`` and back.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch

from .transfer_strategies import ALL, STRATEGIES, LabelCount


@dataclass(frozen=True)
class Summary:
    """One number of one (target, labels per class, strategy) over seeds."""

    mean: float
    std: float
    low: float
    high: float
    n: int

    @property
    def spread(self) -> float:
        """``high - low``: how far apart the seeds landed."""
        return self.high - self.low


def summarise(rows: Sequence[Any], key: str = "accuracy") -> dict[tuple, Summary]:
    """Group results (``Result`` or its ``row()``) by (target, labels_per_class, strategy): mean, std
    (population), min and max of ``key`` over the seeds."""
    groups: dict[tuple, list[float]] = {}
    for r in rows:
        d = r.row() if hasattr(r, "row") else r  # a Result, or its row()
        groups.setdefault((d["target"], d["labels_per_class"], d["strategy"]), []).append(float(d[key]))
    out = {}
    for group, values in groups.items():
        t = torch.tensor(values, dtype=torch.float64)
        out[group] = Summary(t.mean().item(), t.std(unbiased=False).item(), t.min().item(), t.max().item(), len(values))
    return out


def best_strategy(summary: dict[tuple, Summary], target: str, labels_per_class: LabelCount,
                  among: tuple[str, ...] = STRATEGIES) -> str:
    """The strategy with the highest mean accuracy on ``target`` at ``labels_per_class``."""
    candidates = [s for s in among if (target, labels_per_class, s) in summary]
    if not candidates:
        ran = sorted({(t, n) for t, n, _ in summary}, key=str)
        raise KeyError(f"no results for target {target!r} at {labels_per_class} labels/class among {list(among)}; "
                       f"the summary has (target, labels_per_class): {ran}")
    return max(candidates, key=lambda s: summary[(target, labels_per_class, s)].mean)


#: The numbers a record keeps of each run, by the name they have in ``Result``.
RECORDED = {"accuracy": "accuracy", "train error": "train_error", "lr": "lr", "converged": "converged"}


def record_summary(results: Sequence[Any], variant: str = "") -> dict[str, list[float]]:
    """A record's ``summary``: ``"<target> <n>/class <strategy>[ <variant>] <number>"`` -> one value per
    seed (in seed order), for every number of ``RECORDED``; ``variant`` is one word (``frozen_bn``)."""
    if " " in variant:
        raise ValueError(f"variant must be one word; got {variant!r}")
    out: dict[str, list[float]] = {}
    for r in sorted(results, key=lambda r: r.seed):
        name = f"{r.target} {r.labels_per_class}/class {r.strategy}" + (f" {variant}" if variant else "")
        for label, attr in RECORDED.items():
            out.setdefault(f"{name} {label}", []).append(round(float(getattr(r, attr)), 4))
    return out


def rows_from_record(summary: dict[str, list[float]], seeds: Sequence[int], variant: str = "") -> list[dict]:
    """The inverse of ``record_summary``: one row per run (``Result.row()``'s keys that a record keeps)."""
    rows: dict[tuple, dict] = {}
    for key, values in summary.items():
        label = next((lab for lab in RECORDED if key.endswith(" " + lab)), None)
        parts = key[:-len(label) - 1].split(" ") if label else []
        if len(parts) != (4 if variant else 3) or (variant and parts[3] != variant):
            continue
        target, n, strategy = parts[:3]
        n = n.removesuffix("/class")
        labels: LabelCount = ALL if n == ALL else int(n)
        attr = RECORDED[label]  # type: ignore[index]
        for seed, value in zip(seeds, values):
            row = rows.setdefault((target, labels, strategy, seed),
                                  {"target": target, "labels_per_class": labels, "strategy": strategy, "seed": seed})
            row[attr] = bool(value) if attr == "converged" else value
    return list(rows.values())
