"""The claims table that ends every lesson: each claim, the computed value, and a check.

    claims = Claims()
    claims.check("three 3x3 convs see 7x7", rf.size, expected=7)
    claims.check("bottleneck is cheaper", ratio, ok=ratio < 0.5, expected="< 0.5")
    claims.table()          # shows the table and raises if any claim failed

When the environment variable ``CNNLESSONS_REPORT`` names a file, ``table()`` also writes the
claims and the device facts there as JSON (used by ``cnnlessons sweep`` and the GPU test mode).
"""
from __future__ import annotations

import html
import json
import math
import os
from dataclasses import asdict, dataclass
from typing import Any

import torch

from .io import atomic_write_text

REPORT_ENV = "CNNLESSONS_REPORT"


class ClaimFailed(AssertionError):
    """At least one claim of a lesson did not hold."""


@dataclass
class Claim:
    claim: str
    value: Any
    expected: Any
    ok: bool


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


class Claims:
    """Collects checked claims; ``table()`` renders them and asserts they all hold."""

    def __init__(self) -> None:
        self.items: list[Claim] = []

    def check(self, claim: str, value: Any, expected: Any = None, *, ok: bool | None = None,
              rel_tol: float = 0.0, abs_tol: float = 0.0) -> bool:
        """Record a claim. Without ``ok``, it holds when ``value == expected`` (within the
        tolerances for numbers). Returns whether it held, so a cell can also ``assert`` it."""
        if ok is None:
            if isinstance(value, (int, float)) and isinstance(expected, (int, float)):
                ok = math.isclose(value, expected, rel_tol=rel_tol, abs_tol=abs_tol)
            else:
                ok = value == expected
        self.items.append(Claim(claim, value, expected, bool(ok)))
        return bool(ok)

    @property
    def failed(self) -> list[Claim]:
        return [c for c in self.items if not c.ok]

    def markdown(self) -> str:
        rows = ["| claim | computed | expected | holds |", "| --- | --- | --- | --- |"]
        rows += [f"| {c.claim} | {_fmt(c.value)} | {_fmt(c.expected)} | {'yes' if c.ok else 'NO'} |"
                 for c in self.items]
        return "\n".join(rows)

    def _repr_html_(self) -> str:
        head = "<tr><th>claim</th><th>computed</th><th>expected</th><th>holds</th></tr>"
        body = "".join(
            f"<tr><td style='text-align:left'>{html.escape(c.claim)}</td><td>{html.escape(_fmt(c.value))}</td>"
            f"<td>{html.escape(_fmt(c.expected))}</td><td>{'&#10003;' if c.ok else '&#10007; FAILED'}</td></tr>"
            for c in self.items)
        return f"<table>{head}{body}</table>"

    def __repr__(self) -> str:
        return self.markdown()

    def table(self) -> None:
        """Display the table, write the report if asked, and raise ``ClaimFailed`` if any claim failed.

        Returns ``None`` so that a cell ending in ``claims.table()`` shows the table once."""
        try:
            from IPython.display import display
            display(self)
        except ImportError:  # plain Python: print it
            print(self.markdown())
        self.write_report()
        if self.failed:
            raise ClaimFailed("claims that did not hold: " + "; ".join(c.claim for c in self.failed))

    def write_report(self, path: str | None = None) -> None:
        path = path or os.environ.get(REPORT_ENV)
        if not path:
            return
        cuda = torch.cuda.is_available()
        report = {
            "claims": [{**asdict(c), "value": _jsonable(c.value), "expected": _jsonable(c.expected)}
                       for c in self.items],
            "all_hold": not self.failed,
            "cuda_available": cuda,
            "cuda_max_memory_allocated": torch.cuda.max_memory_allocated() if cuda else 0,
            "devices_used": sorted(DEVICES_USED),
        }
        atomic_write_text(path, json.dumps(report, indent=2))


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except TypeError:
        return str(value)


# Filled by ``note_device``; the GPU test mode checks that every lesson really used CUDA.
DEVICES_USED: set[str] = set()


def note_device(device: torch.device) -> None:
    DEVICES_USED.add(torch.device(device).type)
