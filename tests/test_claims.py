import json

import pytest

from cnnlessons.claims import ClaimFailed, Claims


def test_table_passes_when_all_claims_hold(capsys):
    c = Claims()
    assert c.check("exact", 7, 7)
    assert c.check("close", 0.1 + 0.2, 0.3, rel_tol=1e-9)
    assert c.check("custom", 3, "< 5", ok=3 < 5)
    c.table()
    assert "| exact | 7 | 7 | yes |" in c.markdown()


def test_table_raises_naming_the_failed_claim():
    c = Claims()
    c.check("fine", 1, 1)
    assert not c.check("broken", 2, 3)
    with pytest.raises(ClaimFailed, match="broken"):
        c.table()
    assert "NO" in c.markdown()


def test_report_is_written_when_asked(tmp_path, monkeypatch):
    path = tmp_path / "report.json"
    monkeypatch.setenv("CNNLESSONS_REPORT", str(path))
    c = Claims()
    c.check("seven", 7, 7)
    c.table()
    report = json.loads(path.read_text())
    assert report["all_hold"] is True
    assert report["claims"][0]["claim"] == "seven"
