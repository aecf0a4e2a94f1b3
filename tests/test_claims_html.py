"""The claims table as JupyterLab and the website show it: a summary line, folded when long,
and the counts attached to the output as data (what the website reads)."""
from __future__ import annotations

import re

import pytest

from cnnlessons.claims import FOLD_ROWS, OUTPUT_METADATA_KEY, ClaimFailed, Claims, below


def claims_with(n: int, failed: int = 0, skipped: int = 0) -> Claims:
    c = Claims()
    for i in range(n - failed - skipped):
        c.check(f"claim {i}", i, i)
    for i in range(failed):
        c.check(f"bad {i}", 1.0, below(0.5))
    for i in range(skipped):
        c.skip(f"later {i}", "asserted at the full preset")
    return c


def test_summary_line_says_how_many_claims_and_how_they_came_out():
    assert claims_with(56).summary() == "56 claims checked, all hold"
    assert claims_with(1).summary() == "1 claim checked, it holds"
    assert claims_with(8, skipped=1).summary() == "8 claims checked: 7 hold, 1 skipped"
    assert claims_with(5, failed=2, skipped=1).summary() == "5 claims checked: 2 hold, 1 skipped, 2 FAILED"
    assert claims_with(5, failed=2, skipped=1).counts() == {"claims": 5, "hold": 2, "skipped": 1, "failed": 2}


def rows(html: str) -> int:
    return len(re.findall(r"<tr><td", html))


def test_a_long_table_is_folded_under_its_summary_a_short_or_failing_one_is_open():
    long = claims_with(FOLD_ROWS + 1)._repr_html_()
    assert long.startswith("<details class='claims'><summary>13 claims checked, all hold</summary><table")
    assert long.endswith("</table></details>") and rows(long) == FOLD_ROWS + 1
    short = claims_with(FOLD_ROWS)._repr_html_()
    assert short.startswith("<details class='claims' open><summary>") and rows(short) == FOLD_ROWS
    failing = claims_with(FOLD_ROWS + 5, failed=1)._repr_html_()
    assert failing.startswith("<details class='claims' open>") and "1 FAILED" in failing


def test_the_nbval_rule_strips_only_the_wrapper():
    """tests/sanitize.cfg removes the summary and fold, leaving the compared rows as they were."""
    from pathlib import Path

    cfg = (Path(__file__).parent / "sanitize.cfg").read_text()
    rules = re.findall(r"^regex: (.*)$\n^replace: (.*)$", cfg, flags=re.M)  # as nbval reads them
    c = claims_with(20, skipped=2)
    text = c._repr_html_()
    for regex, replace in rules:
        text = re.sub(regex, replace, text)
    inner = re.search(r"<table class='claims'>.*</table>", c._repr_html_()).group(0)
    assert text == inner


def test_table_attaches_the_counts_to_its_output(monkeypatch):
    shown = []
    import IPython.display

    monkeypatch.setattr(IPython.display, "display", lambda obj, **kw: shown.append((obj, kw)))
    c = claims_with(3, skipped=1)
    c.table()
    assert shown[0][1]["metadata"] == {OUTPUT_METADATA_KEY: {"claims": 3, "hold": 2, "skipped": 1, "failed": 0}}
    with pytest.raises(ClaimFailed):
        claims_with(3, failed=1).table()
    assert shown[1][1]["metadata"][OUTPUT_METADATA_KEY]["failed"] == 1
