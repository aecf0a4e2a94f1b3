"""CS231n's transfer-learning decision rule: stated as a hypothesis, then judged from results.

The rule (CS231n notes, "Transfer Learning"), for a target with little or lots of labelled data,
similar to the pretraining data or different from it:

==============  ======================================================  ==========================
data            little data                                             lots of data
==============  ======================================================  ==========================
similar         a linear classifier on the top features                 fine-tune more layers
different       a linear classifier on features from an earlier stage   fine-tune many layers
==============  ======================================================  ==========================

``verdict`` judges one cell from the per-seed results of ``transfer.compare``: the winner is the
strategy with the best mean test accuracy; a strategy is *tied* with it when their means differ
by no more than the seed spread (the larger of the two strategies' max - min over seeds); the
advice holds when an advised strategy wins or ties. A cell is judged only when every run in it
*finished* training (``finished``); otherwise it is early training and says so.

``versus_scratch`` is the same comparison against training from scratch: a pretrained strategy
shows **negative transfer** only when it finished training and loses to scratch by more than
the seed spread.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .transfer import FIT_ERROR, PRETRAINED, STRATEGIES, TRAINS_WEIGHTS, LabelCount, Result, Summary, summarise

NAMES = {"scratch": "training from scratch", "linear_probe": "the linear probe (last stage)",
         "earlier_probe": "the linear probe on an earlier stage", "finetune_last": "fine-tuning the last stage",
         "finetune_all": "fine-tuning everything", "random_features": "the probe on random features"}


@dataclass(frozen=True)
class Cell:
    """One cell of the rule: the kind of data, the amount, the advice and the strategies it names."""

    data: str        # "similar" or "different"
    amount: str      # "little" or "lots"
    advice: str
    advised: tuple[str, ...]


RULE: tuple[Cell, ...] = (
    Cell("similar", "little", "a linear classifier on the top features", ("linear_probe",)),
    Cell("similar", "lots", "fine-tune more layers", ("finetune_last", "finetune_all")),
    Cell("different", "little", "a linear classifier on an earlier stage's features", ("earlier_probe",)),
    Cell("different", "lots", "fine-tune many layers", ("finetune_all",)),
)


def cell(data: str, amount: str) -> Cell:
    return next(c for c in RULE if (c.data, c.amount) == (data, amount))


def finished(rows: Sequence[Result | dict]) -> dict[tuple, bool]:
    """Per (target, labels_per_class, strategy): did every seed's run finish training?

    Finished, as ``transfer.finished`` says of one run: converged by ``cnnlessons.train.Convergence``
    and, for a strategy that trains weights, a final training error of at most ``FIT_ERROR``."""
    worst = summarise(rows, "train_error")
    converged = summarise(rows, "converged")
    return {key: converged[key].low == 1.0 and (key[2] not in TRAINS_WEIGHTS or worst[key].high <= FIT_ERROR)
            for key in worst}


def _gap(acc: dict[tuple, Summary], a: tuple, b: tuple) -> tuple[float, float]:
    """``(mean of a - mean of b, the larger seed spread of the two)``."""
    return acc[a].mean - acc[b].mean, max(acc[a].spread, acc[b].spread)


@dataclass(frozen=True)
class Verdict:
    """One cell of the rule judged on one target at one number of labels per class."""

    cell: Cell
    target: str
    labels: LabelCount
    finished: bool
    winner: str
    winner_accuracy: float
    tied: tuple[str, ...]
    advised: str             # the best of the advised strategies
    advised_accuracy: float
    spread: float            # between the winner and the advised strategy

    @property
    def holds(self) -> bool:
        return self.finished and (self.advised == self.winner or self.advised in self.tied)

    def sentence(self) -> str:
        amount = "little data" if self.cell.amount == "little" else "lots of data"
        where = f"{self.cell.data} data ({self.target}), {amount} ({self.labels} labels/class)"
        if not self.finished:
            return (f"{where}: early training, not judged (some run there had not fit its training images); "
                    f"the recorded full run judges it.")
        said = f"the rule says {self.cell.advice} ({NAMES[self.advised]})"
        if self.advised == self.winner:
            others = f", tied within the seed spread with {', '.join(NAMES[s] for s in self.tied)}" if self.tied else ""
            return f"{where}: {said}, and it wins with {self.winner_accuracy:.3f}{others}. The advice holds."
        if self.advised in self.tied:
            return (f"{where}: {said}: {self.advised_accuracy:.3f}, level with the winner, {NAMES[self.winner]} "
                    f"({self.winner_accuracy:.3f}), within the seed spread ({self.spread:.3f}). The advice holds.")
        return (f"{where}: {said}: {self.advised_accuracy:.3f}, but {NAMES[self.winner]} wins with "
                f"{self.winner_accuracy:.3f}, by {self.winner_accuracy - self.advised_accuracy:.3f}, more than the "
                f"seed spread ({self.spread:.3f}). The advice does not hold here.")


def verdict(c: Cell, target: str, labels: LabelCount, acc: dict[tuple, Summary], done: dict[tuple, bool],
            strategies: Sequence[str] = STRATEGIES) -> Verdict:
    """Judge cell ``c`` on ``target`` at ``labels`` from test accuracies ``acc`` (``summarise``) and
    ``done`` (``finished``); only ``strategies`` compete (the control ``random_features`` never does)."""
    keys = [(target, labels, s) for s in strategies if s != "random_features" and (target, labels, s) in acc]
    win = max(keys, key=lambda k: acc[k].mean)
    tied = tuple(k[2] for k in keys if k != win and abs(_gap(acc, win, k)[0]) <= _gap(acc, win, k)[1])
    advised = max((k for k in keys if k[2] in c.advised), key=lambda k: acc[k].mean)
    return Verdict(c, target, labels, all(done[k] for k in keys), win[2], acc[win].mean, tied, advised[2],
                   acc[advised].mean, _gap(acc, win, advised)[1])


@dataclass(frozen=True)
class VersusScratch:
    """A pretrained strategy against training from scratch, on one target and number of labels."""

    target: str
    labels: LabelCount
    strategy: str
    accuracy: float
    scratch_accuracy: float
    spread: float
    finished: bool

    @property
    def gap(self) -> float:
        """Pretrained minus scratch (positive: pretraining helped)."""
        return self.accuracy - self.scratch_accuracy

    @property
    def negative(self) -> bool:
        """Negative transfer: both finished training and scratch is ahead by more than the seed spread."""
        return self.finished and -self.gap > self.spread

    def sentence(self) -> str:
        where = f"{self.target}, {self.labels} labels/class"
        if not self.finished:
            return f"{where}: early training ({NAMES[self.strategy]} or scratch had not fit its training images)."
        if self.negative:
            verdict = "negative transfer: scratch is ahead by more than the seed spread"
        elif self.gap > self.spread:
            verdict = "pretraining helps: ahead of scratch by more than the seed spread"
        else:
            verdict = "level with scratch within the seed spread: no negative transfer"
        return (f"{where}: {NAMES[self.strategy]} {self.accuracy:.3f} vs scratch {self.scratch_accuracy:.3f} "
                f"({self.gap:+.3f}, seed spread {self.spread:.3f}): {verdict}.")


def versus_scratch(target: str, labels: LabelCount, acc: dict[tuple, Summary], done: dict[tuple, bool],
                   strategy: str | None = None) -> VersusScratch:
    """``strategy`` (default: the pretrained strategy with the best mean) against scratch."""
    pretrained = [s for s in PRETRAINED if (target, labels, s) in acc]
    s = strategy or max(pretrained, key=lambda k: acc[(target, labels, k)].mean)
    a, b = (target, labels, s), (target, labels, "scratch")
    gap, spread = _gap(acc, a, b)
    return VersusScratch(target, labels, s, acc[a].mean, acc[b].mean, spread, done[a] and done[b])
