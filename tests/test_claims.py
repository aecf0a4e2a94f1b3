import json

import pytest

from cnnlessons.claims import (ClaimFailed, Claims, above, at_least, at_most, below, between, equals, fmt,
                               on_every_seed, on_mean)


def test_table_passes_when_all_claims_hold(capsys):
    c = Claims()
    c.check("exact", 7, 7)
    c.check("close", 0.1 + 0.2, equals(0.3, rel_tol=1e-9))
    c.check("bounded", 3, below(5))
    c.table()
    assert "| exact | 7 | 7 | yes |" in c.markdown()
    assert "| bounded | 3 | < 5 | yes |" in c.markdown()
    assert "| close | 0.3 | 0.3 (rel. tol. 1e-09) | yes |" in c.markdown()


@pytest.mark.parametrize("predicate, good, bad, text", [
    (above(1), 2, 1, "> 1"), (at_least(1), 1, 0.5, ">= 1"), (below(1), 0.5, 1, "< 1"),
    (at_most(1), 1, 1.5, "<= 1"), (between(1, 2), 1.5, 3, "in [1, 2]"),
    (equals(10, abs_tol=1), 10.5, 12, "10 (+- 1)"),
    (on_every_seed(above(0)), [0.1, 0.2], [0.1, -0.1], "> 0 on every seed"),
    (on_mean(above(0)), [0.3, -0.1], [0.1, -0.2], "mean > 0"),
])
def test_predicates_check_what_they_say(predicate, good, bad, text):
    assert predicate(good) and not predicate(bad)
    assert str(predicate) == text


def test_every_seed_of_nothing_does_not_hold():
    assert not on_every_seed(above(0))([]) and not on_mean(above(0))([])


def test_table_raises_naming_the_failed_claim_and_its_numbers():
    c = Claims()
    c.check("fine", 1, 1)
    c.check("broken", 2.5, below(2))
    with pytest.raises(ClaimFailed, match=r"'broken': computed 2.5, expected < 2"):
        c.table()
    assert "FAILED" in c.markdown()


def test_require_raises_at_once_with_the_numbers():
    c = Claims()
    c.require("holds", [0.1, 0.2], on_every_seed(above(0)))
    with pytest.raises(ClaimFailed, match=r"'gap': computed \[0.1, -0.2\], expected > 0 on every seed"):
        c.require("gap", [0.1, -0.2], on_every_seed(above(0)))


def test_skipped_claims_show_their_reason_and_do_not_fail():
    c = Claims()
    c.skip("(c) deep residual <= shallow residual", "asserted at the full preset")
    c.table()
    assert "| (c) deep residual <= shallow residual |  |  | skipped: asserted at the full preset |" in c.markdown()
    assert "skipped: asserted at the full preset" in c._repr_html_()


def test_fmt():
    assert fmt(1234567) == "1,234,567" and fmt(0.123456) == "0.1235" and fmt([1, 0.5]) == "[1, 0.5]"
    assert fmt(True) == "True" and fmt((1, 2)) == "(1, 2)"


def test_report_is_written_when_asked(tmp_path, monkeypatch):
    path = tmp_path / "report.json"
    monkeypatch.setenv("CNNLESSONS_REPORT", str(path))
    c = Claims()
    c.check("seven", 7, 7)
    c.skip("later", "not now")
    c.table()
    report = json.loads(path.read_text())
    assert report["all_hold"] is True
    assert report["claims"][0] == {"claim": "seven", "value": 7, "expected": "7", "status": "holds", "ok": True}
    assert report["claims"][1]["status"] == "skipped: not now"


def test_converged_predicate_and_check_trained_refuse_unfinished_runs():
    from cnnlessons.claims import converged
    from cnnlessons.train import convergence

    done, running = convergence([0.5] * 50 + [0.1] * 50), convergence([1 - i / 100 for i in range(100)])
    assert converged(done) and not converged(running) and not converged([done, running]) and converged({"a": done})
    claims = Claims()
    claims.check_trained("deep minus shallow", 0.02, above(0), runs={"deep": done, "shallow": done})
    claims.check_trained("deep minus shallow, unfinished", 0.02, above(0), runs={"deep": done, "shallow": running})
    assert [c.status for c in claims.items] == ["holds", "FAILED"]
    assert "NOT converged: shallow" in claims.items[1].expected
    with pytest.raises(ClaimFailed, match="unfinished"):
        claims.table()
    with pytest.raises(ValueError, match="runs"):
        Claims().check_trained("x", 1, above(0), runs={})
    assert fmt(done) == "final 0.100, change +0.000"
