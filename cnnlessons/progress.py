"""Progress bars for anything slow: ``tqdm.auto`` (a widget in Jupyter, text in a terminal).

Set ``TQDM_DISABLE=1`` to switch them off; the execute command and the notebook tests do, so
committed notebooks hold no timings and nbval has nothing volatile to compare. (tqdm honours
that variable itself in a terminal, but its notebook widget ignores it, hence the check here.)
"""
from __future__ import annotations

import os
from typing import Iterable, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress_disabled() -> bool:
    return os.environ.get("TQDM_DISABLE", "").strip().lower() in ("1", "true", "yes")


def progress(iterable: Iterable[T], desc: str = "", total: int | None = None, disable: bool = False,
             leave: bool = True) -> Iterable[T]:
    """Wrap ``iterable`` in a progress bar; ``disable=True`` or ``TQDM_DISABLE=1`` hides it."""
    if disable or progress_disabled():
        return iterable
    return tqdm(iterable, desc=desc, total=total, leave=leave)
