"""CS231n's transfer-learning decision rule, quoted word for word, then judged from paired results.

The CS231n lecture's table (rows: the target's data is similar or different to the source's;
columns: the amount of it):

============  ====================================  =================================================
              very little data                      quite a lot of data
============  ====================================  =================================================
similar       "Use Linear Classifier on top layer"  "Finetune a few layers"
different     "You're in trouble... Try linear      "Finetune a larger number of layers"
              classifier from different stages"
============  ====================================  =================================================

Each cell names one strategy (``Cell.advised``). ``verdict`` judges a cell on one target at one
number of labels per class by comparing the advised strategy with every other strategy (the
control ``random_features`` aside), each comparison paired by seed (``stats.paired``):

- **fails**: some other strategy is better beyond the spread;
- **holds**: the advised strategy is better than every other one beyond the spread;
- **undecided**: neither; the seeds disagree more than the gaps, so the data cannot say;
- **not judged**: some run compared had not completed its training (early training).

**Transfer**, positive or negative, compares like with like (``transfer_effects``): fine-tuning
everything against training the same network from scratch under the same training, and the
linear probe on pretrained features against the same probe on a random network's features.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from .experiment import LabelCount
from .stats import Paired, paired, select_rows

#: The strategies a cell's advice is judged against (the control never competes).
COMPETITORS: tuple[str, ...] = ("scratch", "linear_probe", "earlier_probe", "finetune_last", "finetune_all")
VERDICTS: tuple[str, ...] = ("holds", "fails", "undecided", "not judged")


@dataclass(frozen=True)
class Cell:
    """One cell of the rule: the kind of data, the amount, the advice as the lecture words it, and
    the strategy that carries it out here."""

    data: str       # "similar" or "different"
    amount: str     # "very little data" or "quite a lot of data"
    advice: str
    advised: str


RULE: tuple[Cell, ...] = (
    Cell("similar", "very little data", "Use Linear Classifier on top layer", "linear_probe"),
    Cell("similar", "quite a lot of data", "Finetune a few layers", "finetune_last"),
    Cell("different", "very little data", "You're in trouble... Try linear classifier from different stages",
         "earlier_probe"),
    Cell("different", "quite a lot of data", "Finetune a larger number of layers", "finetune_all"),
)


def cell(data: str, amount: str) -> Cell:
    """The rule's cell for ``data`` ("similar"/"different") and ``amount`` (as the lecture words it)."""
    for c in RULE:
        if (c.data, c.amount) == (data, amount):
            return c
    raise KeyError(f"no cell ({data!r}, {amount!r}); cells: {[(c.data, c.amount) for c in RULE]}")


@dataclass(frozen=True)
class Verdict:
    """One cell judged on one target at one number of labels per class."""

    cell: Cell
    target: str
    labels: LabelCount
    comparisons: tuple[Paired, ...]   # the advised strategy against each other one
    complete: bool                    # every compared run completed its training

    @property
    def outcome(self) -> str:
        """One of ``VERDICTS`` (see the module docstring)."""
        if not self.complete:
            return "not judged"
        if any(p.outcome == "worse" for p in self.comparisons):
            return "fails"
        if all(p.outcome == "better" for p in self.comparisons):
            return "holds"
        return "undecided"

    @property
    def closest(self) -> Paired:
        """The comparison that decides the outcome: the strongest rival (the most negative lower
        end of the interval, ``mean - spread``)."""
        return min(self.comparisons, key=lambda p: p.mean - p.spread)

    def reason(self) -> str:
        """Why, in a few words: the deciding comparison."""
        if self.outcome == "not judged":
            return "a compared run had not fitted its training images"
        p = self.closest
        if self.outcome == "fails":
            p = min((q for q in self.comparisons if q.outcome == "worse"), key=lambda q: q.mean)
            return f"{p.b} beats it on {p.n - p.wins} of {p.n} seeds (mean {-p.mean:+.3f}, spread {p.spread:.3f})"
        return f"against {p.b}: {p.words()}"


def verdict(rows: Sequence[Any], c: Cell, target: str, labels: LabelCount) -> Verdict:
    """Judge cell ``c`` on ``target`` at ``labels`` labels per class from per-seed rows (``Result``
    or its ``row()``). The advised strategy and at least one other must be there; a missing one is
    an error naming what ran, never a verdict on fewer strategies than it says."""
    where = {"target": target, "labels_per_class": labels}
    ran = {r["strategy"] for r in select_rows(rows, **where)}
    if c.advised not in ran:
        raise KeyError(f"{target!r} at {labels} labels/class has no runs of the advised strategy {c.advised!r} "
                       f"(the cell {c.data}/{c.amount}); it ran {sorted(ran)}")
    rivals = [s for s in COMPETITORS if s != c.advised and s in ran]
    if not rivals:
        raise KeyError(f"{target!r} at {labels} labels/class has no strategy to compare {c.advised!r} with")
    compared = select_rows(rows, **where)
    complete = all(_complete(r) for r in compared if r["strategy"] in [c.advised, *rivals])
    return Verdict(c, target, labels, tuple(paired(rows, c.advised, s, **where) for s in rivals), complete)


def _complete(row: Any) -> bool:
    fitted, optimal = row.get("fitted"), row.get("optimal")
    return bool(fitted if fitted is not None else optimal)


#: The like-for-like comparisons that say whether pretraining transferred, ``(pretrained, baseline)``.
TRANSFER_PAIRS: dict[str, tuple[str, str]] = {
    "fine-tuning everything vs scratch": ("finetune_all", "scratch"),
    "linear probe vs random features": ("linear_probe", "random_features"),
}
TRANSFER_WORDS = {"better": "positive transfer", "worse": "negative transfer", "undecided": "undecided"}


def transfer_effects(rows: Sequence[Any], target: str, labels: LabelCount) -> dict[str, Paired]:
    """Each of ``TRANSFER_PAIRS`` on ``target`` at ``labels``: pretrained minus baseline, per seed.

    ``TRANSFER_WORDS[p.outcome]`` names the result: negative transfer is the pretrained start
    losing beyond the spread to the baseline trained the same way."""
    where = {"target": target, "labels_per_class": labels}
    return {name: paired(rows, a, b, **where) for name, (a, b) in TRANSFER_PAIRS.items()}
