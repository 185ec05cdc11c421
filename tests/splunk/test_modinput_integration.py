"""The built modular input, run exactly as splunkd runs it, against the splunkd stand-in and the
OpenAI API stand-in: one process per interval, the input XML on stdin, events read back from
the XML stream on stdout, the checkpoint in the (stand-in) KV store.
"""
from __future__ import annotations

import collections
import json
import random
import re
import time
from typing import Any, Dict, List

import pytest

from tools.openai_api_sim import DEFAULT_KEY, NO_PERMISSION_KEY, ApiSim
from tools.openai_api_sim.generator import EVENT_TYPES, make_event

COLLECTION = "ta_openai_audit_checkpoints"
KEY = "openai_audit_logs://main"
TENANT_KEY = KEY + ":tenant"
RH_INPUT = "ta_openai_audit_rh_openai_audit_logs.py"


def make_events(n: int, now: int, rng: random.Random, span: int = 2 * 86400) -> List[Dict[str, Any]]:
    events = []
    for _ in range(n):
        event_type = rng.choice(EVENT_TYPES)
        events.append(make_event(event_type, rng=rng, effective_at=now - rng.randint(60, span)))
    return events


def input_params(**overrides: Any) -> Dict[str, Any]:
    params = {
        "account": "main", "index": "openai", "interval": "60", "start": "3", "tenant_scoped": "1",
        "lag_seconds": "0", "overlap_seconds": "900",
    }
    params.update(overrides)
    return params


def summary_lines(log: str) -> List[Dict[str, float]]:
    """The shim's per-run line: input=main events=N requests=N pages=N skipped_duplicates=N seconds=S."""
    found = []
    for m in re.finditer(r"input=\S+ events=(\d+) requests=(\d+) pages=(\d+) skipped_duplicates=(\d+) seconds=([\d.]+)", log):
        found.append({"events": int(m.group(1)), "requests": int(m.group(2)), "pages": int(m.group(3)),
                      "seconds": float(m.group(5))})
    return found


def assert_event_shape(event: Dict[str, Any], source_events: Dict[str, Dict[str, Any]],
                       source: str = "openai_audit:main") -> None:
    obj = json.loads(event["data"])
    original = source_events[obj["id"]]
    assert obj == original
    assert event["data"] == json.dumps(original, separators=(",", ":"), ensure_ascii=False)
    assert int(event["time"]) == original["effective_at"]
    assert event["sourcetype"] == "openai:audit"
    assert event["source"] == source
    assert event["index"] == "openai"
    assert event["stanza"] == KEY


def test_every_event_arrives_once_over_several_intervals(harness):
    rng = random.Random(4)
    now = int(time.time())
    initial = make_events(450, now, rng)
    # 130 events in one second: a second that straddles a page boundary.
    initial += [make_event("login.succeeded", rng=rng, effective_at=now - 3600) for _ in range(130)]
    source = {e["id"]: e for e in initial}
    assert len(source) == len(initial)
    with ApiSim(events=initial, seed=4) as api:
        harness.splunkd.add_account("main", DEFAULT_KEY, base_url=api.base_url)
        # time scaled down: a 5 s overlap, so that the sweep of a late event comes within the test
        stanza = {"main": input_params(overlap_seconds="5")}
        received: List[Dict[str, Any]] = []

        first = harness.run_input(stanza)
        assert first.returncode == 0, first.stderr
        received += first.events
        assert len(first.events) == len(initial)
        high_water = json.loads(harness.splunkd.kv_records(COLLECTION)[KEY]["state"])["high_water"]

        # Between intervals: new events, and a late one inside the overlap (at a second the first
        # run read, visible only now): the sweep reads that second again once it is 5 s older than
        # the window end. Real intervals are >= 30 s apart; with lag 0 the next poll must at least
        # start in a later second, or its window ends where the last one ended.
        time.sleep(4.1)
        later = [make_event(rng.choice(EVENT_TYPES), rng=rng, effective_at=int(time.time()) - 1) for _ in range(40)]
        later.append(make_event("api_key.created", rng=rng, effective_at=high_water - 1))
        api.add_events(later)
        source.update({e["id"]: e for e in later})
        second = harness.run_input(stanza)
        assert second.returncode == 0, second.stderr
        received += second.events
        assert sorted(e["id"] for e in later) == sorted(json.loads(e["data"])["id"] for e in second.events)

        # A flaky API in the third interval: retried inside the run, or left for the next one;
        # either way nothing is lost or doubled.
        served = api.served_ids()
        requests_before = api.stats()["requests"]
        api.reset()  # restarts the seeded fault draws: the same faults on every test run
        api.set_faults(["429-retry-after@0.5:0.2"])
        time.sleep(3.1)
        more = [make_event(rng.choice(EVENT_TYPES), rng=rng, effective_at=int(time.time()) - i % 2) for i in range(250)]
        api.add_events(more)
        source.update({e["id"]: e for e in more})
        third = harness.run_input(stanza)
        assert third.returncode == 0, third.stderr
        received += third.events
        faults_fired = sum(api.stats()["faults"].values())
        assert faults_fired > 0
        api.set_faults([])
        fourth = harness.run_input(stanza)
        assert fourth.returncode == 0, fourth.stderr
        received += fourth.events
        assert len(third.events) + len(fourth.events) == len(more)

        fifth = harness.run_input(stanza)  # nothing new
        assert fifth.returncode == 0 and fifth.events == []

        counts = collections.Counter(json.loads(e["data"])["id"] for e in received)
        assert [i for i, c in counts.items() if c > 1] == []
        assert set(counts) == set(source)
        assert set(counts) <= served | api.served_ids()
        # The initial window (the first run here) is a backfill; every later window, the late event
        # caught in the overlap included, has the normal source.
        for event in first.events:
            assert_event_shape(event, source, "openai_audit:main:backfill")
        for event in received[len(first.events):]:
            assert_event_shape(event, source)

        records = harness.splunkd.kv_records(COLLECTION)
        assert set(records) == {KEY, TENANT_KEY}
        for key in (KEY, TENANT_KEY):
            state = json.loads(records[key]["state"])
            assert state["high_water"] >= now and state["walk"] is None

        log = harness.input_log("main")
        assert log.count("action=started") == 5 and log.count("action=ended") == 5
        ingested = [int(n) for n in re.findall(r"action=events_ingested .*?n_events=(\d+)", log)]
        assert ingested == [len(r.events) for r in (first, second, third, fourth, fifth)]
        checkpoint_lines = re.findall(r"checkpoint_summary input=main stream=(\w+) .*high_water=(\d+) "
                                      r"lag_behind_now=(\d+) .*clock_skew=(\S+)", log)
        assert [stream for stream, *_ in checkpoint_lines] == ["all", "tenant"] * 5
        assert all(int(hw) >= now and int(lag) < 120 for _, hw, lag, _ in checkpoint_lines)
        # runs 1-3 always ask the API, so they measured the skew ("-" when a run needed no request)
        assert all(skew != "-" and abs(float(skew)) < 5 for *_, skew in checkpoint_lines[:6])
        runs = summary_lines(log)
        figures = {
            "events": len(received), "requests": requests_before + api.stats()["requests"], "pages": sum(r["pages"] for r in runs),
            "seconds": round(sum(r.seconds for r in harness.runs), 2), "runs": len(runs),
            "faults_fired": faults_fired,
        }
        assert figures["requests"] == sum(r["requests"] for r in runs)
        print("\nintegration figures: %s" % json.dumps(figures))


def test_kv_store_503_is_retried_then_the_run_continues(harness):
    now = int(time.time())
    events = make_events(120, now, random.Random(5))
    with ApiSim(events=events, seed=5) as api:
        harness.splunkd.add_account("main", DEFAULT_KEY, base_url=api.base_url)
        harness.splunkd.fail_kv_requests(1)  # the KV store is still starting
        run = harness.run_input({"main": input_params(index="default")})
        assert run.returncode == 0, run.stderr
        assert len(run.events) == len(events)
        # index=default means the default index: no <index> element, splunkd applies the input's.
        assert all("index" not in e for e in run.events)
        assert harness.splunkd.request_count("storage/collections", status=503) == 1
        assert set(harness.splunkd.kv_records(COLLECTION)) == {KEY, TENANT_KEY}
        assert "log_level=ERROR" not in harness.input_log("main")


@pytest.mark.slow  # waits out solnlib's KV store retries (about 7 s)
def test_kv_store_that_stays_down_ends_the_run_cleanly(harness):
    now = int(time.time())
    events = make_events(60, now, random.Random(6))
    with ApiSim(events=events, seed=6) as api:
        harness.splunkd.add_account("main", DEFAULT_KEY, base_url=api.base_url)
        harness.splunkd.set_kv_unavailable(True)
        down = harness.run_input({"main": input_params()})
        assert down.returncode == 0, down.stderr
        assert down.events == []
        assert api.stats()["requests"] == 0  # nothing is read that could not be checkpointed
        log = harness.input_log("main")
        assert 'exc_l="Checkpoint Error"' in log and "KV store is not ready" in log
        assert "action=ended" in log
        # Retried with backoff (solnlib: 4 attempts), not once and not forever.
        assert harness.splunkd.request_count("storage/collections", status=503) == 4

        harness.splunkd.set_kv_unavailable(False)
        up = harness.run_input({"main": input_params()})
        assert up.returncode == 0, up.stderr
        assert len(up.events) == len(events)


@pytest.mark.parametrize("key, label", [
    ("sk-admin-CanaryWrongKey-0123456789abcdefghijklmnopqrstuv", "Authentication Error"),
    (NO_PERMISSION_KEY, "Permission Error"),
])
def test_rejected_key_is_logged_in_its_category_and_never_written(harness, key, label):
    events = make_events(30, int(time.time()), random.Random(7))
    with ApiSim(events=events, seed=7) as api:
        harness.splunkd.add_account("main", key, base_url=api.base_url)
        run = harness.run_input({"main": input_params()})
        assert run.returncode == 0, run.stderr
        assert run.events == []
        log = harness.input_log("main")
        assert 'exc_l="%s"' % label in log
        assert "events_ingested" in log and "action=ended" in log
        assert key not in harness.everything_written()


def test_canary_key_appears_nowhere(harness):
    """The admin key is a canary: after runs that succeed, retry, are refused and fail, at DEBUG
    level, not one process output or log file under $SPLUNK_HOME contains it (or a long piece)."""
    canary = "sk-admin-CANARY-" + "".join(random.Random(8).choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(40))
    proxy_canary = "proxy-CANARY-pass-7f3a9c"
    events = make_events(150, int(time.time()), random.Random(8))
    with ApiSim(events=events, seed=8, key=canary) as api:
        harness.splunkd.set_log_level("DEBUG")
        harness.splunkd.set_proxy(proxy_enabled="0", proxy_type="http", proxy_url="proxy.example", proxy_port="3128",
                                  proxy_username="svc", proxy_password=proxy_canary)
        harness.splunkd.add_account("main", canary, base_url=api.base_url)
        api.set_faults(["500@0.1", "nonjson@0.1", "truncate@0.05"])
        ok = harness.run_input({"main": input_params()})
        assert ok.returncode == 0 and len(ok.events) == len(events), ok.stderr
        assert sum(api.stats()["faults"].values()) > 0
        api.set_faults([])
        with ApiSim(events=events, seed=9) as other_org:  # a server that rejects the key (401)
            harness.splunkd.add_account("main", canary, base_url=other_org.base_url)
            time.sleep(1.1)  # a poll in the same second as the last one has nothing to ask for
            rejected = harness.run_input({"main": input_params()})
            assert 'exc_l="Authentication Error"' in harness.input_log("main") and rejected.events == []
        harness.splunkd.add_account("main", canary, base_url=api.base_url + "/nope")  # 404
        time.sleep(1.1)
        harness.run_input({"main": input_params()})
        # The account check of the REST handler sees the key too.
        response = harness.rest("ta_openai_audit_rh_account.py", "create", "second",
                                {"api_key": canary + "x", "base_url": api.base_url})
        assert response["status"] == 400
        assert canary not in json.dumps(response)
    written = harness.everything_written()
    assert "log_level=DEBUG" in written  # the DEBUG level was in force
    for secret in (canary, proxy_canary):
        assert secret not in written
        pieces = {secret[i:i + 12] for i in range(0, len(secret) - 12)}
        assert [p for p in pieces if p in written and not p.startswith("sk-admin-")] == []


def test_validate_arguments_uses_the_engine_parser(harness):
    good = harness.validate("openai_audit_logs://x", input_params())
    assert good.returncode == 0, good.stdout
    bad = harness.validate("openai_audit_logs://x", input_params(start="yesterday"))
    assert bad.returncode == 1
    assert b"<error><message>" in bad.stdout and b"start" in bad.stdout


def test_deleting_an_input_deletes_its_checkpoint(harness):
    events = make_events(80, int(time.time()), random.Random(10))
    with ApiSim(events=events, seed=10) as api:
        harness.splunkd.add_account("main", DEFAULT_KEY, base_url=api.base_url)
        # Created through the input's REST handler, as the Inputs page does.
        refused = harness.rest(RH_INPUT, "create", "main", input_params(start="yesterday"))
        assert refused["status"] == 400 and "start" in refused["message"]
        assert harness.splunkd.inputs("openai_audit_logs") == {}
        created = harness.rest(RH_INPUT, "create", "main", input_params())
        assert created["status"] == 200, created
        stanza = harness.splunkd.inputs("openai_audit_logs")["main"]
        assert stanza["account"] == "main" and stanza["tenant_scoped"] == "1"

        run = harness.run_input({"main": stanza})
        assert len(run.events) == len(events)
        harness.splunkd.kv_put(COLLECTION, {"_key": "openai_audit_logs://other", "state": "{}"})
        assert set(harness.splunkd.kv_records(COLLECTION)) == {KEY, TENANT_KEY, "openai_audit_logs://other"}

        removed = harness.rest(RH_INPUT, "remove", "main")
        assert removed["status"] == 200, removed
        assert harness.splunkd.inputs("openai_audit_logs") == {}
        assert set(harness.splunkd.kv_records(COLLECTION)) == {"openai_audit_logs://other"}

        # A new input of the same name starts afresh: it sends everything again.
        harness.rest(RH_INPUT, "create", "main", input_params())
        again = harness.run_input({"main": harness.splunkd.inputs("openai_audit_logs")["main"]})
        assert len(again.events) == len(events)


@pytest.mark.slow  # waits out solnlib's KV store retries (about 7 s)
def test_input_is_kept_while_its_checkpoint_cannot_be_deleted(harness):
    assert harness.rest(RH_INPUT, "create", "main", input_params())["status"] == 200
    harness.splunkd.kv_put(COLLECTION, {"_key": KEY, "state": "{}"})
    harness.splunkd.set_kv_unavailable(True)
    kept = harness.rest(RH_INPUT, "remove", "main")
    assert kept["status"] == 503 and "not deleted" in kept["message"]
    harness.splunkd.set_kv_unavailable(False)
    assert "main" in harness.splunkd.inputs("openai_audit_logs")
    assert KEY in harness.splunkd.kv_records(COLLECTION)
    assert 'exc_l="Checkpoint Error"' in harness.log_files().get("var/log/splunk/ta-openai-audit_rest_handler.log", "")


def test_input_edit_is_validated_with_the_stored_fields(harness):
    assert harness.rest(RH_INPUT, "create", "main", input_params())["status"] == 200
    refused = harness.rest(RH_INPUT, "edit", "main", {"lag_seconds": "-5"})
    assert refused["status"] == 400 and "lag_seconds" in refused["message"]
    assert harness.splunkd.inputs("openai_audit_logs")["main"]["lag_seconds"] == "0"
    refused = harness.rest(RH_INPUT, "edit", "main", {"event_types": "tenant.user.added", "tenant_scoped": "0"})
    assert refused["status"] == 400 and "tenant" in refused["message"]
    accepted = harness.rest(RH_INPUT, "edit", "main", {"lag_seconds": "120"})
    assert accepted["status"] == 200, accepted
    assert harness.splunkd.inputs("openai_audit_logs")["main"]["lag_seconds"] == "120"


def test_input_account_cannot_be_changed_on_edit(harness):
    """Its checkpoint is a position in one organization's audit log: another account's org would
    resume from it and skip or re-read events."""
    assert harness.rest(RH_INPUT, "create", "main", input_params())["status"] == 200
    refused = harness.rest(RH_INPUT, "edit", "main", {"account": "other", "lag_seconds": "120"})
    assert refused["status"] == 400 and "account cannot be changed from main to other" in refused["message"], refused
    assert harness.splunkd.inputs("openai_audit_logs")["main"]["account"] == "main"
    assert harness.splunkd.inputs("openai_audit_logs")["main"]["lag_seconds"] == "0"
    # the edit form sends the unchanged account back with the other fields
    accepted = harness.rest(RH_INPUT, "edit", "main", {"account": "main", "lag_seconds": "120"})
    assert accepted["status"] == 200, accepted


def test_runs_under_the_pythons_splunk_ships(harness, splunk_pythons):
    """Splunk 9 runs the input with Python 3.9, Splunk 10 with 3.13 (the Makefile needs both too)."""
    events = make_events(40, int(time.time()), random.Random(11))
    with ApiSim(events=events, seed=11) as api:
        harness.splunkd.add_account("main", DEFAULT_KEY, base_url=api.base_url)
        for i, python in enumerate(splunk_pythons):
            name = "py%d" % i
            run = harness.run_input({name: input_params()}, python=python)
            assert run.returncode == 0, run.stderr
            assert len(run.events) == len(events), (python, run.stderr[-2000:], harness.input_log(name)[-2000:])
            assert {e["stanza"] for e in run.events} == {"openai_audit_logs://" + name}
