"""The claims table that ends every lesson: each claim, the computed value, and its check.

A claim pairs a computed value with a *predicate*; the predicate both decides whether the
claim holds and writes the "expected" column, so what a row says and what it checks cannot
drift apart::

    claims = Claims()
    claims.check("three 3x3 convs see 7x7", rf.size, 7)                    # equality
    claims.check("bottleneck is cheaper", ratio, below(0.5))
    claims.check("(a) deep plain trains worse", gaps, on_every_seed(above(0)))
    claims.require("deepened net gives the same outputs", diff, below(1e-4))  # raise now if not
    claims.skip("(c) deep residual <= shallow residual", "asserted at the full preset")
    claims.table()    # shows the table; raises ClaimFailed naming every claim that failed

In JupyterLab and on the course website the table sits under a one-line summary ("56 claims
checked, all hold"), folded when it is long; ``table()`` also attaches the counts to its output
as data (metadata ``"cnnlessons/claims"``), which the website reads.

When the environment variable ``CNNLESSONS_REPORT`` names a file, ``table()`` also writes the
claims and the devices used there as JSON (read by ``cnnlessons sweep`` and the GPU test mode).
"""
from __future__ import annotations

import html
import json
import math
import os
import statistics
from dataclasses import dataclass
from typing import Any, Callable

import torch

from .device import devices_used
from .io import atomic_write_text, markdown_table

REPORT_ENV = "CNNLESSONS_REPORT"
FOLD_ROWS = 12  # a longer table is shown folded under its summary line
OUTPUT_METADATA_KEY = "cnnlessons/claims"  # table()'s output metadata: Claims.counts()


class ClaimFailed(AssertionError):
    """A claim of a lesson did not hold; the message names it and its numbers."""


def fmt(value: Any) -> str:
    """A value as the table shows it: thousands separators, 4 significant digits for floats."""
    if isinstance(value, bool):
        return str(value)
    value = getattr(value, "convergence", value)  # a trained run shows its convergence numbers
    if hasattr(value, "summary"):
        return value.summary()
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(fmt(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {fmt(v)}" for k, v in value.items()) + "}"
    return str(value)


@dataclass(frozen=True)
class Predicate:
    """A test on a computed value that can say, in words, what it expects."""

    text: str
    test: Callable[[Any], bool]

    def __call__(self, value: Any) -> bool:
        return bool(self.test(value))

    def __str__(self) -> str:
        return self.text


def equals(expected: Any, *, rel_tol: float = 0.0, abs_tol: float = 0.0) -> Predicate:
    """``value == expected`` (numbers within the tolerances, like ``math.isclose``)."""
    def test(value: Any) -> bool:
        if isinstance(value, (int, float)) and isinstance(expected, (int, float)):
            return math.isclose(value, expected, rel_tol=rel_tol, abs_tol=abs_tol)
        return value == expected
    tol = f" (rel. tol. {rel_tol:g})" if rel_tol else f" (+- {fmt(abs_tol)})" if abs_tol else ""
    return Predicate(fmt(expected) + tol, test)


def above(bound: float) -> Predicate:
    """``value > bound``."""
    return Predicate(f"> {fmt(bound)}", lambda v: v > bound)


def at_least(bound: float) -> Predicate:
    """``value >= bound``."""
    return Predicate(f">= {fmt(bound)}", lambda v: v >= bound)


def below(bound: float) -> Predicate:
    """``value < bound``."""
    return Predicate(f"< {fmt(bound)}", lambda v: v < bound)


def at_most(bound: float) -> Predicate:
    """``value <= bound``."""
    return Predicate(f"<= {fmt(bound)}", lambda v: v <= bound)


def between(low: float, high: float) -> Predicate:
    """``low <= value <= high``."""
    return Predicate(f"in [{fmt(low)}, {fmt(high)}]", lambda v: low <= v <= high)


def on_every_seed(predicate: Predicate) -> Predicate:
    """The value is one number per seed (a list); each must satisfy ``predicate``."""
    return Predicate(f"{predicate} on every seed", lambda vs: len(vs) > 0 and all(predicate(v) for v in vs))


def on_mean(predicate: Predicate) -> Predicate:
    """The value is one number per seed (a list); their mean must satisfy ``predicate``."""
    return Predicate(f"mean {predicate}", lambda vs: len(vs) > 0 and predicate(statistics.fmean(vs)))


def _convergences(value: Any) -> list[Any]:
    """A run's ``Convergence`` (from a ``History`` or as it is), or each of a list/dict of them."""
    if isinstance(value, dict):
        value = list(value.values())
    items = value if isinstance(value, (list, tuple)) else [value]
    return [getattr(v, "convergence", v) for v in items]


converged = Predicate(
    "converged: finished its schedule, training error flat over the last fifth (|change| <= 0.02), "
    "losses finite, not at chance",
    lambda v: len(_convergences(v)) > 0 and all(c.converged for c in _convergences(v)))
"""The value is a trained run (its ``History`` or ``Convergence``) or a list/dict of them; each must
have converged by the rule of ``cnnlessons.train.Convergence``."""


def as_predicate(expected: Any) -> Predicate:
    """A predicate as it is, anything else as ``equals(expected)``."""
    return expected if isinstance(expected, Predicate) else equals(expected)


@dataclass
class Claim:
    claim: str
    value: Any
    expected: str  # the predicate's words
    status: str  # "holds", "FAILED" or "skipped: <reason>"

    @property
    def ok(self) -> bool:
        return self.status != "FAILED"

    def failure(self) -> str:
        return f"{self.claim!r}: computed {fmt(self.value)}, expected {self.expected}"


class Claims:
    """Collects checked claims; ``table()`` renders them and raises if any failed."""

    def __init__(self) -> None:
        self.items: list[Claim] = []

    def check(self, claim: str, value: Any, expected: Any) -> None:
        """Record whether ``value`` satisfies ``expected`` (a ``Predicate``, or a value it must equal).

        A failed check is reported, with every other failure, when ``table()`` runs."""
        predicate = as_predicate(expected)
        self.items.append(Claim(claim, value, str(predicate), "holds" if predicate(value) else "FAILED"))

    def require(self, claim: str, value: Any, expected: Any) -> None:
        """``check``, and raise ``ClaimFailed`` at once if it failed (for claims later cells rely on)."""
        self.check(claim, value, expected)
        if not self.items[-1].ok:
            raise ClaimFailed("claim did not hold: " + self.items[-1].failure())

    def check_trained(self, claim: str, value: Any, expected: Any, *, runs: dict[str, Any]) -> None:
        """``check`` a comparison between trained runs, which only counts between converged runs.

        ``runs`` maps a name to each run's ``History`` (or ``Convergence``). If any of them had not
        converged (``cnnlessons.train.Convergence``: finished, plateaued, finite, not at chance), the
        claim is recorded as FAILED and names those runs with the reason, whatever the numbers say:
        a comparison of unfinished runs is about the speed of training, so word it as such and use
        ``check`` instead."""
        if not runs:
            raise ValueError("check_trained needs the runs the claim compares (runs={name: history})")
        unfinished = []
        for name, run in runs.items():
            c = getattr(run, "convergence", run)
            if not c.converged:
                why = getattr(c, "reason", "")
                unfinished.append(f"{name} ({why})" if why else name)
        self.check(claim, value, expected)
        if unfinished:
            last = self.items[-1]
            last.expected += f" (between converged runs; NOT converged: {', '.join(unfinished)})"
            last.status = "FAILED"

    def skip(self, claim: str, reason: str) -> None:
        """List a claim that this run does not check, and why (it shows in the table)."""
        self.items.append(Claim(claim, None, "", f"skipped: {reason}"))

    @property
    def failed(self) -> list[Claim]:
        return [c for c in self.items if not c.ok]

    def rows(self) -> list[tuple[str, str, str, str]]:
        return [(c.claim, "" if c.value is None and c.status != "FAILED" else fmt(c.value), c.expected,
                 "yes" if c.status == "holds" else c.status) for c in self.items]

    def markdown(self) -> str:
        return markdown_table(["claim", "computed", "expected", "holds"], self.rows())

    def counts(self) -> dict[str, int]:
        """``{"claims", "hold", "skipped", "failed"}``: how many claims the table lists, and how
        they came out. ``table()`` attaches this to its output (metadata key
        ``OUTPUT_METADATA_KEY``), so tools such as the course website read the numbers as data."""
        failed = len(self.failed)
        skipped = sum(c.status.startswith("skipped") for c in self.items)
        return {"claims": len(self.items), "hold": len(self.items) - failed - skipped, "skipped": skipped,
                "failed": failed}

    def summary(self) -> str:
        """One line: "56 claims checked, all hold", "8 claims checked: 7 hold, 1 skipped", or
        "... 1 FAILED"."""
        n = self.counts()
        noun = "claim" if n["claims"] == 1 else "claims"
        if n["hold"] == n["claims"]:
            return f"{n['claims']} {noun} checked, " + ("it holds" if n["claims"] == 1 else "all hold")
        parts = [f"{n['hold']} hold"] + [f"{n[k]} {word}" for k, word in (("skipped", "skipped"), ("failed", "FAILED"))
                                         if n[k]]
        return f"{n['claims']} {noun} checked: " + ", ".join(parts)

    def _repr_html_(self) -> str:
        """The table under its summary line, in a ``<details>`` element: folded when it has more
        than ``FOLD_ROWS`` rows and none failed (a click on the summary unfolds it), open otherwise."""
        head = "<tr><th>claim</th><th>computed</th><th>expected</th><th>holds</th></tr>"
        marks = {"yes": "&#10003;", "FAILED": "&#10007; FAILED"}
        body = "".join(
            f"<tr><td style='text-align:left'>{html.escape(claim)}</td><td>{html.escape(value)}</td>"
            f"<td>{html.escape(expected)}</td><td>{marks.get(status, html.escape(status))}</td></tr>"
            for claim, value, expected, status in self.rows())
        is_open = "" if len(self.items) > FOLD_ROWS and not self.failed else " open"
        return (f"<details class='claims'{is_open}><summary>{html.escape(self.summary())}</summary>"
                f"<table class='claims'>{head}{body}</table></details>")

    def __repr__(self) -> str:
        return self.markdown()

    def table(self) -> None:
        """Display the table, write the report if asked, and raise ``ClaimFailed`` if any claim failed.

        Returns ``None`` so that a cell ending in ``claims.table()`` shows the table once."""
        try:
            from IPython.display import display
            display(self, metadata={OUTPUT_METADATA_KEY: self.counts()})
        except ImportError:  # plain Python: print it
            print(self.markdown())
        self.write_report()
        if self.failed:
            raise ClaimFailed(f"{len(self.failed)} claim(s) did not hold: "
                              + "; ".join(c.failure() for c in self.failed))

    def write_report(self, path: str | None = None) -> None:
        path = path or os.environ.get(REPORT_ENV)
        if not path:
            return
        cuda = torch.cuda.is_available()
        report = {
            "claims": [{"claim": c.claim, "value": _jsonable(c.value), "expected": c.expected, "status": c.status,
                        "ok": c.ok} for c in self.items],
            "all_hold": not self.failed,
            "cuda_available": cuda,
            "cuda_max_memory_allocated": torch.cuda.max_memory_allocated() if cuda else 0,
            "devices_used": devices_used(),
        }
        atomic_write_text(path, json.dumps(report, indent=2))


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except TypeError:
        return str(value)


__all__ = ["FOLD_ROWS", "OUTPUT_METADATA_KEY", "ClaimFailed", "Claims", "Predicate", "above", "at_least", "at_most", "below", "between", "converged",
           "equals",
           "on_every_seed", "on_mean", "fmt"]
