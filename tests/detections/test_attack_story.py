"""End to end: the API stand-in's attack-story scenario, read over HTTP as the collector reads it,
runs through every scheduled detection tick by tick. Every detection must trip on the intrusion,
no near miss the scenario names may trip the detections it is meant to miss, and the risk the
detections write (as ES's risk action would) must raise the risk threshold correlation for the two
intruders only.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import requests
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "tools" / "openai_api_sim" / "scenarios" / "attack-story.json"

from tools.demo import write_scenario_lookups  # noqa: E402
from tools.openai_api_sim import DEFAULT_KEY, ApiSim  # noqa: E402
from tools.openai_api_sim.generator import Org  # noqa: E402
from tools.spl import App  # noqa: E402

NOW = 1795618800
START = NOW - 48 * 3600           # the scenario covers two days
DETECT_FROM = NOW - 21 * 3600     # the near misses and the intrusion; older events seed the baselines
DETECTIONS = {yaml.safe_load(p.read_text())["name"]: yaml.safe_load(p.read_text())
              for p in sorted((ROOT / "detections").glob("*.yml"))}
RISK_SEARCH = "OpenAI Risk Threshold Exceeded for User"
GAP_SEARCH = "OpenAI Audit Log Collection Gap"
JUDY, MALLORY = "judy.smith@example.com", "mallory@example.net"

# catalog row -> the searches that implement it
ROWS = {
    "1": ["OpenAI SCIM Provisioning Disabled"],
    "2a": ["OpenAI IP Allowlist Disabled or Deleted"], "2b": ["OpenAI IP Allowlist Broadened"],
    "3a": ["OpenAI Role Granted Additional Permissions"], "3b": ["OpenAI Role Assigned on Production Project"],
    "4": ["OpenAI API Call Logging Reduced"],
    "5": ["OpenAI Owner Service Account Created", "OpenAI Service Account Created"],
    "6": ["OpenAI BYOK Key Changed by Unauthorized Actor"],
    "7": ["OpenAI Burst of API Key Creation", "OpenAI API Key Created by API Key or External Source"],
    "8": ["OpenAI API Key Granted Sensitive Scope"],
    "9": ["OpenAI Sensitive Change from Unseen TLS Fingerprint", "OpenAI Multiple TLS Fingerprints for One User"],
    "10": ["OpenAI Rate Limit Raised or Removed"],
    "11": ["OpenAI Production Project Archived or Deleted", "OpenAI Multiple Projects Archived or Deleted"],
    "12": ["OpenAI Bulk or External Invitations"], "13": ["OpenAI Tunnel Changed by Non-Network Admin"],
    "14": ["OpenAI Checkpoint Shared with Unknown Project"],
    "15": ["OpenAI Certificate Deactivated or Deleted", "OpenAI Certificate Added by Unexpected Actor"],
    "16": ["OpenAI Authentication Failure Burst for User", "OpenAI Password Spray from Single Source",
           "OpenAI Credential Stuffing Against Single User", "OpenAI Successful Login After Repeated Failures"],
    "17": ["OpenAI Login from New Country or ASN", "OpenAI Impossible Travel Between Logins"],
    "18": ["OpenAI Sensitive Change from Outside Corporate Network"],
    "19": [RISK_SEARCH], "20": [GAP_SEARCH],
    "22": ["OpenAI Organization Owner Granted"],
}


def _fetch(sim) -> list:
    """Both streams the collector reads: the organization's events and the tenant-scoped ones."""
    return _fetch_stream(sim, False) + _fetch_stream(sim, True)


def _fetch_stream(sim, tenant_only: bool) -> list:
    events, after = [], None
    with requests.Session() as http:
        while True:
            params = {"limit": 100, "tenant_only": "true" if tenant_only else "false"}
            if after:
                params["after"] = after
            resp = http.get(sim.base_url + "/organization/audit_logs", params=params, timeout=10,
                            headers={"Authorization": "Bearer " + DEFAULT_KEY})
            resp.raise_for_status()
            page = resp.json()
            events += page["data"]
            if not page["has_more"]:
                return events
            after = page["last_id"]


def _period(det: dict) -> int:
    cron = det["deployment"]["scheduling"]["cron_schedule"]
    return {"*/5 * * * *": 300, "*/15 * * * *": 900}.get(cron, 3600)


def _actors(row: dict) -> list:
    who = row.get("user") if row.get("user") is not None else row.get("src", row.get("source"))
    return who if isinstance(who, list) else [who]


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    if not SCENARIO.exists():
        pytest.skip("the API stand-in has no attack-story scenario")
    spec = json.loads(SCENARIO.read_text(encoding="utf-8"))
    with ApiSim(scenario="attack-story", seed=1, anchor=NOW, latency_ms=0, key=DEFAULT_KEY) as sim:
        events = _fetch(sim)
    lookups = tmp_path_factory.mktemp("lookups")
    write_scenario_lookups(spec, str(lookups))
    # the story's baselines hold 26 hours of history: the admin of such a young deployment shortens
    # the first-seen learning period (7 days and 3 logins by default) in local/macros.conf
    app_dir = tmp_path_factory.mktemp("app") / "TA-openai-audit"
    shutil.copytree(ROOT / "package", app_dir)
    (app_dir / "local").mkdir(exist_ok=True)
    (app_dir / "local" / "macros.conf").write_text(
        "[openai_first_seen_min_history_days]\ndefinition = 1\n\n"
        "[openai_first_seen_min_history_logins]\ndefinition = 2\n", encoding="utf-8")
    app = App.load(str(app_dir), lookups_dir=str(lookups))
    # the baselines learn from the history before the detections start
    app.index_events([e for e in events if e["effective_at"] < DETECT_FROM])
    for name in [n for n in app.saved_searches if app.is_baseline(n)]:
        app.seed_baseline(name, now=DETECT_FROM)
    app.clear_events()
    app.index_events(events)
    fired = {}
    for name, det in DETECTIONS.items():
        if name == RISK_SEARCH:
            continue
        period = _period(det)
        first = START if name == GAP_SEARCH else DETECT_FROM
        for tick in range(first - first % period, NOW + 3600 + 1, period):
            for row in app.run_saved_search("TA-openai-audit - %s - Rule" % name, now=tick):
                fired.setdefault(name, []).append((tick, row))
    return spec, events, fired


def test_the_scenario_is_read_whole(story):
    spec, events, _ = story
    assert len(events) >= spec["params"]["background_events"] + len(spec["story"])
    assert len({e["id"] for e in events}) == len(events)


def test_every_detection_trips_on_the_attack(story):
    spec, _, fired = story
    missing = [name for names in ROWS.values() for name in names
               if name != RISK_SEARCH and not fired.get(name)]
    assert missing == []
    intruders = {JUDY, MALLORY}
    for name in ("OpenAI SCIM Provisioning Disabled", "OpenAI IP Allowlist Broadened",
                 "OpenAI API Call Logging Reduced", "OpenAI BYOK Key Changed by Unauthorized Actor",
                 "OpenAI Sensitive Change from Unseen TLS Fingerprint", "OpenAI Impossible Travel Between Logins",
                 "OpenAI Successful Login After Repeated Failures", "OpenAI Burst of API Key Creation",
                 "OpenAI Tunnel Changed by Non-Network Admin", "OpenAI Rate Limit Raised or Removed",
                 "OpenAI Organization Owner Granted", "OpenAI IP Allowlist Disabled or Deleted"):
        assert intruders & {a for _, row in fired[name] for a in _actors(row)}, name
    broadened = [row for _, row in fired["OpenAI IP Allowlist Broadened"] if row.get("severity") == "critical"]
    assert broadened, "0.0.0.0/0 and ::/0 are critical"
    # the deleted office allowlist is reported with what it allowed
    removed = [row for _, row in fired["OpenAI IP Allowlist Disabled or Deleted"] if "0.0.0.0/0" in row.get("allowed_ips", [])]
    assert removed
    # judy invites mallory as an owner
    owners = [row for _, row in fired["OpenAI Organization Owner Granted"] if row.get("user") == JUDY]
    assert [(r["principal"], r["reason"], r["severity"]) for r in owners] == [
        (MALLORY, "organization_owner_granted", "critical")]


def test_no_near_miss_trips_what_it_should_miss(story):
    spec, _, fired = story
    problems = []
    # a low-severity hit the scenario expects (bob's member service account) is not a near miss
    expected_low = {(name, json.dumps((step.get("actor") or {}).get("session")))
                    for step in spec["story"] if step["role"] == "low_severity"
                    for row_id in step.get("detection", []) for name in ROWS[row_id]
                    if name != "OpenAI Owner Service Account Created"}
    for step in spec["story"]:
        if step["role"] != "near_miss":
            continue
        actor = step.get("actor") or {}
        who = actor.get("session") or actor.get("user_key")
        if actor.get("service_account"):
            who = Org.service_account(actor["service_account"])["id"]
        whos = who if isinstance(who, list) else [who]
        at = NOW + step["at"]
        for row_id in step.get("detection", []):
            for name in ROWS[row_id]:
                for tick, row in fired.get(name, []):
                    if (name, json.dumps(who)) in expected_low:
                        continue
                    if at <= tick <= at + 3600 and set(whos) & set(_actors(row)):
                        problems.append("%s (%s at %d) tripped %s" % (whos, step["type"], step["at"], name))
    assert problems == []


def test_risk_adds_up_to_the_correlation_for_the_intruders_only(story):
    """Turn every result row into the risk events ES's risk action writes (risk_object = each user,
    the detection's score, source = the correlation search), then run the risk threshold search."""
    _, _, fired = story
    risk = []
    for name, hits in fired.items():
        det = DETECTIONS[name]
        if not det.get("rba"):
            continue
        score = det["rba"]["risk_objects"][0]["score"]
        for tick, row in hits:
            for user in _actors(row):
                raw = {"risk_object": user, "risk_object_type": "user", "risk_score": score}
                risk.append({"_raw": json.dumps(raw), "_time": tick, "_indextime": tick, "index": "risk",
                             "sourcetype": "stash", "source": "TA-openai-audit - %s - Rule" % name,
                             "risk_object": user, "risk_object_type": "user", "risk_score": str(score)})
    app = App.load(str(ROOT / "package"))
    app.index_events(risk)
    notable_users = []
    for tick in range(DETECT_FROM, NOW + 3600 + 1, 900):
        for row in app.run_saved_search("TA-openai-audit - %s - Rule" % RISK_SEARCH, now=tick):
            notable_users.append(row["user"])
    assert JUDY in notable_users and MALLORY in notable_users
    assert "bob.smith@example.com" not in notable_users
    for user in (JUDY, MALLORY):
        # at most once per threshold (score and number of detections), each crossed once
        assert 1 <= notable_users.count(user) <= 2, notable_users
