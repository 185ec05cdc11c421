"""The detections as a SOC runs them: every saved search at its own cron ticks, with Splunk's alert
suppression and Enterprise Security's notable and risk actions emulated (tests/detections/scheduler.py).

- a benign 300-user organisation for a day: what an analyst gets (figure printed);
- the article's attack pairs: the second serious event by the same actor within the hour is a
  notable of its own;
- runs dispatched late (schedule_window) or held back (continuous scheduling) neither miss nor
  repeat an event;
- the first backfill of an input is not judged, but seeds the baselines.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from benign_org import DAY_START  # noqa: E402
from build_samples import (  # noqa: E402
    ALICE, BOB, CAROL, DE_IP, HOME_IP, HQ_IP, HOUR, MIN, NOW, PROD_CHAT, ev, sess)
from scheduler import FIRST_SEEN, Scheduler, benign_figure, cron_ticks  # noqa: E402

ROOT = HERE.parents[1]
DETECTIONS = {yaml.safe_load(p.read_text())["name"]: yaml.safe_load(p.read_text())
              for p in sorted((ROOT / "detections").glob("*.yml"))}


def rule(name: str) -> str:
    return "TA-openai-audit - %s - Rule" % name


def test_cron_ticks_follow_the_five_fields():
    day = DAY_START  # a Tuesday, 00:00 UTC
    assert len(cron_ticks("*/5 * * * *", day, day + 86400)) == 288
    assert cron_ticks("17 * * * *", day, day + 3 * 3600) == [day + 17 * 60, day + 77 * 60, day + 137 * 60]
    # 09:10 and 13:10 on weekdays; Tuesday is day 2
    assert cron_ticks("10 9-13/4 * * 1-5", day, day + 86400) == [day + 9 * 3600 + 600, day + 13 * 3600 + 600]
    assert cron_ticks("10 9 * * 0,6", day, day + 86400) == []
    with pytest.raises(ValueError):
        cron_ticks("*/5 * * *", day, day + 60)


# ----------------------------------------------------------------------------- the benign day

def test_benign_organisation_day(capsys):
    sched, report, figure = benign_figure()
    detections = [n for n in sched.searches() if not sched.app.is_baseline(n)]
    with capsys.disabled():
        print("\n" + figure)
    by_name = {rule(n): d for n, d in DETECTIONS.items()}
    for name in detections:
        det = by_name[name]
        # ESCU: only TTPs and the risk correlation raise notables; anomalies add risk only
        if det["type"] not in ("TTP", "Correlation"):
            assert report.notables[name] == 0, name
        # the article's first-seen logic never pages anyone on its own, and judges nobody without
        # history (no baseline is seeded: every user is inside the learning period)
        if det["name"] in FIRST_SEEN:
            assert report.notables[name] == 0 and report.risk_events[name] == 0, name
    # the routine changes the article wants shown do raise their notables ...
    assert report.notables[rule("OpenAI Role Assigned on Production Project")] == 2
    assert report.notables[rule("OpenAI Role Granted Additional Permissions")] == 2
    # ... and a day of benign work gives an analyst about a dozen notables, not hundreds
    assert sum(report.notables.values()) <= 15
    assert sum(report.suppressed.values()) == 0


# ----------------------------------------------------------------------------- the article's pairs

def _indexed(events, lag=2 * MIN):
    for e in events:
        e["_indextime"] = e["effective_at"] + lag
    return events


ATTACK_PAIRS = {
    # disabled, re-enabled, disabled again: the re-enable after a disable is a toggle, and so is the
    # second disable; both are critical and each is its own notable
    "scim": ("OpenAI SCIM Provisioning Disabled", lambda: [
        ev("scim.disabled", -50 * MIN, actor=sess(ALICE, HQ_IP), payload={"id": "org-acme"}),
        ev("scim.enabled", -40 * MIN, actor=sess(ALICE, HQ_IP), payload={"id": "org-acme"}),
        ev("scim.disabled", -30 * MIN, actor=sess(ALICE, HQ_IP), payload={"id": "org-acme"}),
    ], ["high", "critical", "critical"]),
    "allowlists": ("OpenAI IP Allowlist Disabled or Deleted", lambda: [
        ev("ip_allowlist.deleted", -50 * MIN, actor=sess(ALICE, HQ_IP),
           payload={"id": "ipal_office0000000000000001", "name": "office-egress", "allowed_ips": ["203.0.113.0/24"]}),
        ev("ip_allowlist.deleted", -30 * MIN, actor=sess(ALICE, HQ_IP),
           payload={"id": "ipal_vpn000000000000000002", "name": "vpn-egress", "allowed_ips": ["198.51.100.0/24"]}),
    ], [None, None]),
    "logging": ("OpenAI API Call Logging Reduced", lambda: [
        ev("organization.updated", -50 * MIN, actor=sess(ALICE, HQ_IP), payload={
            "id": "org-acme", "changes_requested": {"api_call_logging": "enabled_for_selected_projects",
                                                    "api_call_logging_project_ids": PROD_CHAT["id"]}}),
        ev("organization.updated", -30 * MIN, actor=sess(ALICE, HQ_IP), payload={
            "id": "org-acme", "changes_requested": {"api_call_logging": "disabled"}}),
    ], [None, "critical"]),
    "byok": ("OpenAI BYOK Key Changed by Unauthorized Actor", lambda: [
        ev("external_key.registered", -50 * MIN, actor=sess(ALICE, HQ_IP), payload={
            "id": "ekey_attacker000000000000001", "data": {"provider": "aws_kms",
                                                           "key_arn": "arn:aws:kms:us-east-1:999999999999:key/x"}}),
        ev("external_key.removed", -30 * MIN, actor=sess(ALICE, HQ_IP), payload={"id": "ekey_prod0000000000000000001"}),
    ], [None, "critical"]),
}


@pytest.mark.parametrize("case", sorted(ATTACK_PAIRS))
def test_the_second_serious_event_within_the_hour_is_its_own_notable(case):
    name, events, severities = ATTACK_PAIRS[case]
    report = Scheduler(_indexed(events())).run(NOW - 2 * HOUR, NOW + HOUR, only=[rule(name)])
    kept = report.kept(rule(name))
    n = len(severities)  # one notable per serious event, none suppressed
    assert report.notables[rule(name)] == n and report.suppressed[rule(name)] == 0, report.firings
    assert [f.row["user"] for f in kept] == [ALICE["email"]] * n
    assert len({f.row["firstTime"] for f in kept}) == n
    for firing, severity in zip(kept, severities):
        if severity:
            assert firing.row.get("severity") == severity
            if severity == "critical":
                # a critical row adds more risk than the first, lesser one
                assert int(firing.row["risk_score"]) > int(kept[0].row["risk_score"])


def test_actor_wide_throttling_would_hide_the_critical_follow_up():
    """What the add-on shipped before (suppression on user for an hour), through the same emulation:
    the critical second disable is suppressed. This is what the harness must catch."""
    name, events, _ = ATTACK_PAIRS["scim"]
    old = {"alert.suppress": "1", "alert.suppress.fields": "user", "alert.suppress.period": "3600s"}
    report = Scheduler(_indexed(events()), overrides={rule(name): old}).run(NOW - 2 * HOUR, NOW + HOUR,
                                                                            only=[rule(name)])
    assert report.notables[rule(name)] == 1 and report.suppressed[rule(name)] == 2
    assert [f.row["severity"] for f in report.firings if f.suppressed] == ["critical", "critical"]


def test_risk_from_two_detections_raises_one_risk_notable():
    """An anomaly (a login from a new country) and a TTP by the same actor add up in the risk index
    and the risk correlation raises one notable; the anomaly alone raises none."""
    # past the first-seen learning period: logins over more than 7 days, at least 3 of them
    history = _indexed([ev("login.succeeded", -days * 86400, actor=sess(BOB, HQ_IP), payload={}) for days in (10, 9, 8)])
    attack = _indexed([
        ev("login.succeeded", -70 * MIN, actor=sess(BOB, DE_IP, 7), payload={}),
        ev("ip_allowlist.deleted", -50 * MIN, actor=sess(BOB, DE_IP, 7),
           payload={"id": "ipal_office0000000000000001", "name": "office-egress", "allowed_ips": ["203.0.113.0/24"]}),
    ])
    names = [rule("OpenAI Login from New Country or ASN"), rule("OpenAI IP Allowlist Disabled or Deleted"),
             rule("OpenAI Risk Threshold Exceeded for User")]
    report = Scheduler(attack, history=history, seeded_at=NOW - 3 * HOUR).run(NOW - 2 * HOUR, NOW + HOUR,
                                                                               only=names)
    assert report.notables[names[0]] == 0 and report.risk_events[names[0]] == 1
    assert report.notables[names[1]] == 1 and report.risk_events[names[1]] == 1
    risk = report.kept(names[2])
    assert len(risk) == 1 and risk[0].row["user"] == BOB["email"] and risk[0].row["detection_count"] == "2"
    assert report.notables[names[2]] == 1


# ----------------------------------------------------------------------------- late and held-back runs

WINDOWED = ("OpenAI SCIM Provisioning Disabled", "OpenAI Login from New Country or ASN",
            "OpenAI Burst of API Key Creation", "OpenAI Impossible Travel Between Logins",
            "OpenAI Sensitive Change from Unseen TLS Fingerprint")


def _samples(stem: str, kind: str) -> list:
    path = HERE / "samples" / ("%s.%s.jsonl" % (stem, kind))
    if not path.exists():
        return []
    out = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    for e in out:
        e.setdefault("_indextime", e["effective_at"])
    return out


def _fired(name: str, delay=None, overrides=None) -> list:
    stem = name.lower().replace(" ", "_")
    events = _samples(stem, "tp") + _samples(stem, "fp")
    sched = Scheduler(events, history=_samples(stem, "baseline"), seeded_at=NOW - 9 * HOUR,
                      overrides=overrides)
    report = sched.run(NOW - 8 * HOUR, NOW + 2 * HOUR, only=[rule(name)], delay=delay)
    return sorted(json.dumps({k: v for k, v in f.row.items() if not k.startswith("info_")}, sort_keys=True)
                  for f in report.kept(rule(name)))


@pytest.mark.parametrize("name", WINDOWED)
def test_late_and_held_back_runs_neither_miss_nor_repeat(name):
    on_time = _fired(name)
    assert on_time and len(set(on_time)) == len(on_time)
    window = int(DETECTIONS[name]["deployment"]["scheduling"]["schedule_window"]) * 60
    # every run starts as late as its schedule window lets the scheduler start it
    assert _fired(name, delay=lambda n, t: window - 60) == on_time
    # the scheduler falls behind for an hour: continuous scheduling runs every period late, in order
    held = lambda n, t: (NOW + HOUR - t + 60) if NOW - 2 * HOUR <= t < NOW + HOUR else 0  # noqa: E731
    assert _fired(name, delay=held) == on_time


def test_a_window_on_now_misses_events_when_a_run_starts_late():
    """now() is when a run started: a late run's 'new' window no longer abuts its index-time bounds.
    The same search on now() instead of info_max_time loses alerts (why the searches use addinfo)."""
    name = "OpenAI SCIM Provisioning Disabled"
    search = DETECTIONS[name]["search"].replace("\n| addinfo", "").replace("info_max_time", "now()")
    override = {rule(name): {"search": " ".join(search.split())}}
    assert _fired(name, overrides=override) == _fired(name)
    assert _fired(name, delay=lambda n, t: 4 * MIN, overrides=override) != _fired(name)


# ----------------------------------------------------------------------------- first backfill

def test_backfill_is_not_judged_but_seeds_the_baselines():
    def backfilled(events):
        for e in events:
            e["_source"] = "openai_audit:acme:backfill"
        return events
    # the first run of the input indexes six days of history at once, ten minutes before NOW
    history = backfilled(_indexed([
        ev("scim.disabled", -6 * HOUR, actor=sess(ALICE, HQ_IP), payload={"id": "org-acme"}),
        ev("login.succeeded", -2 * 86400, actor=sess(CAROL, HQ_IP), payload={}),
        ev("login.succeeded", -1 * 86400, actor=sess(CAROL, HOME_IP), payload={}),
    ], lag=0))
    for e in history:
        e["_indextime"] = NOW - 10 * MIN
    # normal collection afterwards, including an event that happened 20 hours ago and arrives late
    live = _indexed([ev("scim.disabled", -20 * HOUR, actor=sess(BOB, HQ_IP), payload={"id": "org-acme"})], lag=0)
    live[0]["_indextime"] = NOW + 20 * MIN
    names = [rule("OpenAI SCIM Provisioning Disabled")]
    sched = Scheduler(history + live)
    report = sched.run(NOW - HOUR, NOW + 2 * HOUR, only=names)
    assert [f.row["user"] for f in report.kept(names[0])] == [BOB["email"]]
    # the geography baseline learnt Carol's backfilled logins
    learnt = {(r["user"], r["attribute"], r["value"]) for r in sched.app.lookup_rows("openai_user_geography_baseline")}
    assert {(CAROL["email"], "country", "us"), (CAROL["email"], "asn", "64500"), (CAROL["email"], "asn", "7922")} <= learnt


def test_the_macro_can_judge_backfill_too():
    """Set openai_audit_skip_backfill to source=* and backfilled events are judged like any other."""
    events = _indexed([ev("scim.disabled", -30 * MIN, actor=sess(ALICE, HQ_IP), payload={"id": "org-acme"})])
    events[0]["_source"] = "openai_audit:acme:backfill"
    name = rule("OpenAI SCIM Provisioning Disabled")
    assert Scheduler(events).run(NOW - HOUR, NOW, only=[name]).notables[name] == 0
    sched = Scheduler(events)
    sched.app.macros["openai_audit_skip_backfill"]["definition"] = "source=*"
    assert sched.run(NOW - HOUR, NOW, only=[name]).notables[name] == 1


def test_addinfo_gives_the_scheduled_range_and_now_the_start():
    """What the windows rely on, in the evaluator: a run scheduled at T and started later keeps T as
    its time range (addinfo info_max_time, the _index_* modifiers), while now() is its start."""
    from tools.spl import App
    app = App.load(str(ROOT / "package"))
    row = app.search('| makeresults | addinfo | eval n=now(), boundary=relative_time(info_max_time, "-20m@m")',
                     now=NOW, earliest="-24h", latest="now", started=NOW + 240)[0]
    assert (row["info_min_time"], row["info_max_time"], row["info_search_time"]) == (
        "%d.000" % (NOW - 86400), "%d.000" % NOW, "%d.000" % (NOW + 240))
    assert row["n"] == str(NOW + 240) and row["boundary"] == str(NOW - 20 * 60)
    # all time: Splunk reports +Infinity, and a boundary relative to it is null
    row = app.search("| makeresults | addinfo | eval b=relative_time(info_max_time, \"-1h\")", now=NOW,
                     all_time=True)[0]
    assert row["info_max_time"] == "+Infinity" and "b" not in row


def test_the_backfill_source_is_the_accounts_own_for_the_collection_gap():
    """The backfill ends as normal collection starts: the account is not silent, so no gap."""
    backfill = _indexed([ev("login.succeeded", -8 * HOUR, actor=sess(CAROL, HQ_IP), payload={})], lag=0)
    backfill[0]["_indextime"] = NOW - 7 * HOUR
    backfill[0]["_source"] = "openai_audit:acme:backfill"
    live = _indexed([ev("login.succeeded", -7 * HOUR + 1800 * i, actor=sess(CAROL, HQ_IP), payload={})
                     for i in range(14)], lag=60)
    name = rule("OpenAI Audit Log Collection Gap")
    report = Scheduler(backfill + live).run(NOW - HOUR, NOW + HOUR, only=[name])
    assert report.kept(name) == []
    # while an account that really stopped is reported
    report = Scheduler(backfill).run(NOW - HOUR, NOW + HOUR, only=[name])
    assert [f.row["source"] for f in report.kept(name)] == ["openai_audit:acme"]
