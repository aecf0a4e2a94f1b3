"""Reading results over seeds: summaries, paired comparisons, and choosing the best on validation.

Two strategies run on the same seeds see the same labelled images, so the fair comparison is
**paired**: for each seed ``s`` the difference ``d_s = acc_A(s) - acc_B(s)``. Over ``n`` seeds,
with ``m`` the mean of the ``d_s`` and ``sd`` their standard deviation (``n - 1`` in the
denominator), the **spread** is the half-width of a 95% confidence interval for the mean
difference (Student's t with ``n - 1`` degrees of freedom):

    spread = t_{0.975, n-1} * sd / sqrt(n)

A is **better** when ``m > spread`` (the interval lies above 0), **worse** when ``m < -spread``,
and the comparison is **undecided** otherwise: the seeds disagree more than the gap between the
strategies. With few seeds ``t`` is large (4.30 for 3 seeds, 2.78 for 5): more seeds, sharper
verdicts. Alongside: "better on k of n seeds".
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch
from scipy.stats import t as student_t

CONFIDENCE = 0.95
OUTCOMES: tuple[str, ...] = ("better", "worse", "undecided")


def _row(r: Any) -> Mapping[str, Any]:
    """A ``Result``'s row, or a row as it is (a dict, as a record stores it)."""
    return r.row() if hasattr(r, "row") else r


def select_rows(rows: Sequence[Any], **where: Any) -> list[Mapping[str, Any]]:
    """The rows whose fields equal ``where`` (``target="digits", labels_per_class=5``), in order;
    a field no row has is an error, never an empty selection."""
    rows = [_row(r) for r in rows]
    fields = {k for r in rows for k in r}
    unknown = sorted(set(where) - fields)
    if rows and unknown:
        raise KeyError(f"no row has the field(s) {unknown}; the rows' fields are {sorted(fields)}")
    return [r for r in rows if all(r.get(k) == v for k, v in where.items())]


@dataclass(frozen=True)
class Summary:
    """One number of one group of runs over its seeds: mean, standard deviation (``n - 1``), range."""

    mean: float
    std: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> "Summary":
        if not values:
            raise ValueError("a summary needs at least one value")
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        return cls(statistics.fmean(values), std, min(values), max(values), len(values))


def summarise(rows: Sequence[Any], key: str = "accuracy") -> dict[tuple, Summary]:
    """``key`` over seeds per (target, labels_per_class, strategy)."""
    groups: dict[tuple, list[float]] = {}
    for r in map(_row, rows):
        groups.setdefault((r["target"], r["labels_per_class"], r["strategy"]), []).append(float(r[key]))
    return {group: Summary.of(values) for group, values in groups.items()}


@dataclass(frozen=True)
class Paired:
    """Strategy ``a`` against ``b`` on the same seeds: per-seed differences ``a - b`` and what they say."""

    a: str
    b: str
    seeds: tuple[int, ...]
    differences: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.differences)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.differences)

    @property
    def spread(self) -> float:
        """Half-width of the 95% t-interval of the mean difference (infinite with one seed)."""
        if self.n < 2:
            return math.inf
        sd = statistics.stdev(self.differences)
        return float(student_t.ppf(0.5 + CONFIDENCE / 2, self.n - 1)) * sd / math.sqrt(self.n)

    @property
    def wins(self) -> int:
        """On how many seeds ``a`` is ahead (strictly)."""
        return sum(d > 0 for d in self.differences)

    @property
    def outcome(self) -> str:
        """``"better"`` (``a`` ahead beyond the spread), ``"worse"`` or ``"undecided"``."""
        if self.mean > self.spread:
            return "better"
        if self.mean < -self.spread:
            return "worse"
        return "undecided"

    def words(self) -> str:
        """``better on 5 of 5 seeds (mean +0.061, spread 0.020)``."""
        return f"better on {self.wins} of {self.n} seeds (mean {self.mean:+.3f}, spread {self.spread:.3f})"


def paired(rows: Sequence[Any], a: str, b: str, key: str = "accuracy", **where: Any) -> Paired:
    """``a`` against ``b`` (strategies) on the rows matching ``where``, paired by seed.

    Every seed must have one row of each: a seed that only one strategy ran is an error (a
    comparison quietly made on fewer seeds would say more than it knows)."""
    runs = {s: {r["seed"]: float(r[key]) for r in select_rows(rows, strategy=s, **where)} for s in (a, b)}
    for s in (a, b):
        if not runs[s]:
            raise KeyError(f"no runs of {s!r} where {where}")
        if len(runs[s]) != len(select_rows(rows, strategy=s, **where)):
            raise ValueError(f"{s!r} has several runs of one seed where {where}: narrow the selection")
    if set(runs[a]) != set(runs[b]):
        raise ValueError(f"{a!r} ran seeds {sorted(runs[a])} but {b!r} ran {sorted(runs[b])} where {where}")
    seeds = tuple(sorted(runs[a]))
    return Paired(a, b, seeds, tuple(runs[a][s] - runs[b][s] for s in seeds))


def best_by_validation(rows: Sequence[Any], among: Sequence[str], **where: Any) -> str:
    """The strategy of ``among`` with the best mean *validation* accuracy on the rows matching
    ``where`` (the first of equals in ``among``'s order). The test split never chooses."""
    means = {s: statistics.fmean([r["val_accuracy"] for r in found])
             for s in among if (found := select_rows(rows, strategy=s, **where))}
    if not means:
        raise KeyError(f"no runs of {list(among)} where {where}")
    return max(means, key=lambda s: (means[s], -list(among).index(s)))


def confusion(y_true: torch.Tensor, y_pred: torch.Tensor, num_classes: int) -> torch.Tensor:
    """The confusion matrix: ``[i, j]`` counts images of class ``i`` predicted as ``j`` (scikit-learn's)."""
    from sklearn.metrics import confusion_matrix

    return torch.as_tensor(confusion_matrix(y_true.cpu().numpy(), y_pred.cpu().numpy(), labels=range(num_classes)))


def top_confusions(matrix: torch.Tensor, classes: Sequence[str], k: int = 3) -> list[tuple[str, str, int]]:
    """The ``k`` most frequent mistakes, ``(true class, predicted class, count)``, most frequent first."""
    off = matrix.clone()
    off.fill_diagonal_(0)
    order = sorted(((int(off[i, j]), i, j) for i in range(len(classes)) for j in range(len(classes)) if off[i, j] > 0),
                   key=lambda c: (-c[0], c[1], c[2]))
    return [(classes[i], classes[j], count) for count, i, j in order[:k]]
