"""`make demo` is the README's first command: it must keep working and keep telling the truth."""
import json
import os

import pytest

from tools import demo
from tools.modinput import APP

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_demo_collects_everything_once_and_the_attack_trips_the_detections(tmp_path, capsys):
    app = os.environ.get("TA_BUILD_DIR") or os.path.join(ROOT, "output", APP)
    if not os.path.isfile(os.path.join(app, "bin", "openai_audit_logs.py")):
        pytest.fail("the built add-on is not at %s: run make package first" % app)
    assert demo.main(["--app", app, "--out", str(tmp_path), "--intervals", "2"]) == 0
    out = capsys.readouterr().out
    assert "0 duplicates, 0 served but not collected" in out
    # the late event added before interval 2 and the new one are both collected on interval 2
    assert "interval 2:     2 events" in out
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert len({e["id"] for e in events}) == len(events) > 1000
    fired = {}
    for line in (tmp_path / "detections.jsonl").read_text().splitlines():
        hit = json.loads(line)
        fired.setdefault(hit["search_name"], []).append(hit["row"])
    scim = fired["TA-openai-audit - OpenAI SCIM Provisioning Disabled - Rule"]
    assert [r["user"] for r in scim] == ["judy.smith@example.com"]
    risky = {r["user"] for r in fired["TA-openai-audit - OpenAI Risk Threshold Exceeded for User - Rule"]}
    assert {"judy.smith@example.com", "mallory@example.net"} <= risky
    assert "TA-openai-audit - OpenAI Audit Log Collection Gap - Rule" not in fired
