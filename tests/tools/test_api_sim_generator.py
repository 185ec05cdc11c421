"""The generated corpus: realistic shapes, every type, valid against the spec, deterministic."""
from __future__ import annotations

import random
import re

import pytest

from tools.openai_api_sim import ApiSim, scenario_names
from tools.openai_api_sim.generator import (
    EVENT_TYPES, NEWER_EVENT_TYPES, SPEC_EVENT_TYPES, UNKNOWN_EVENT_TYPE,
    corpus, is_tenant_scoped, make_event,
)
from tests.tools.api_sim_fixtures import dumps, load_spec, validator_for

ID_RE = re.compile(r"^audit_log-[A-Za-z0-9]{24}$")


@pytest.fixture(scope="module")
def spec():
    return load_spec()


@pytest.fixture(scope="module")
def audit_log_validator(spec):
    return validator_for(spec, "AuditLog")


def assert_valid(validator, ev):
    errors = list(validator.iter_errors(ev))
    if ev["type"] in SPEC_EVENT_TYPES:
        assert not errors, (ev["type"], [e.message for e in errors])
    else:
        # Types the spec's enum does not list yet: only that enum check may fail.
        rest = [e for e in errors if not (e.validator == "enum" and list(e.path) == ["type"])]
        assert not rest, (ev["type"], [e.message for e in rest])


def test_type_lists_match_the_spec(spec):
    enum = spec["components"]["schemas"]["AuditLogEventType"]["enum"]
    assert list(SPEC_EVENT_TYPES) == enum and len(enum) == 145
    assert len(NEWER_EVENT_TYPES) == 4 and UNKNOWN_EVENT_TYPE not in enum
    assert len(set(EVENT_TYPES)) == 150


def test_every_type_validates_against_the_spec(audit_log_validator):
    events = corpus(seed=7, effective_at=1_790_000_000)
    assert {e["type"] for e in events} == set(EVENT_TYPES)
    for ev in events:
        assert_valid(audit_log_validator, ev)


def test_unknown_type_fails_only_the_enum_check(audit_log_validator):
    ev = make_event(UNKNOWN_EVENT_TYPE, seed=1)
    errors = list(audit_log_validator.iter_errors(ev))
    assert [(e.validator, list(e.path)) for e in errors] == [("enum", ["type"])]


def test_payload_under_a_key_spelled_like_the_type():
    rng = random.Random(3)
    for t in EVENT_TYPES:
        ev = make_event(t, rng=rng, effective_at=1_790_000_000)
        assert ID_RE.match(ev["id"]) and ev["object"] == "organization.audit_log"
        payload_keys = [k for k in ev if k not in ("id", "object", "type", "effective_at",
                                                   "actor", "project")]
        assert payload_keys in ([t], []), (t, payload_keys)
        if t != "login.succeeded":
            assert payload_keys == [t]


def test_realistic_variety_across_a_large_sample():
    rng = random.Random(11)
    sample = [make_event(rng.choice(EVENT_TYPES), rng=rng, effective_at=1_790_000_000)
              for _ in range(3000)]
    sample += [make_event("login.succeeded", rng=rng) for _ in range(200)]
    actors = [e["actor"] for e in sample]
    assert any(a is None for a in actors)
    kinds = {(a["type"], a.get("api_key", {}).get("type")) for a in actors if a}
    assert kinds == {("session", None), ("api_key", "user"), ("api_key", "service_account")}
    sessions = [a["session"] for a in actors if a and a["type"] == "session"]
    for s in sessions:
        assert set(s) == {"user", "ip_address", "user_agent", "ja3", "ja4", "ip_address_details"}
        details = s["ip_address_details"]
        for k in ("asn", "latitude", "longitude"):
            assert isinstance(details[k], str) and details[k]
        float(details["latitude"]), float(details["longitude"]), int(details["asn"])
    assert any("project" not in e for e in sample) and any("project" in e for e in sample)
    logins = [e for e in sample if e["type"] == "login.succeeded"]
    assert any("login.succeeded" not in e for e in logins)
    assert any("login.succeeded" in e for e in logins)


def test_contract_payload_facts():
    rng = random.Random(5)
    ev = lambda t: make_event(t, rng=rng)[t]  # noqa: E731
    assert set(ev("scim.disabled")) == {"id"}
    assert set(ev("ip_allowlist.created")) == {"id", "name", "allowed_ips"}
    assert set(ev("ip_allowlist.updated")) == {"id", "allowed_ips"}
    assert set(ev("ip_allowlist.config.deactivated")) == {"configs"}
    assert set(ev("role.created")) == {"id", "role_name", "permissions", "resource_type", "resource_id"}
    assert set(ev("role.assignment.created")) == {"id", "principal_id", "principal_type",
                                                  "resource_id", "resource_type"}
    assert "permissions_added" in ev("role.updated")["changes_requested"]
    assert ev("service_account.created")["data"]["role"] in ("owner", "member")
    assert set(ev("invite.sent")["data"]) == {"email", "role"}
    assert isinstance(ev("api_key.created")["data"]["scopes"], list)
    assert isinstance(ev("api_key.updated")["changes_requested"]["scopes"], list)
    assert set(ev("login.failed")) == {"error_code", "error_message"}
    assert set(ev("external_storage.registered")["data"]) == {"geography", "provider"}
    assert set(ev("certificates.activated")) == {"certificates"}
    assert set(ev("checkpoint.permission.created")["data"]) == {"project_id",
                                                               "fine_tuned_model_checkpoint"}
    org = ev("organization.updated")["changes_requested"]
    assert org and set(org) <= {"title", "description", "name", "threads_ui_visibility",
                                "usage_dashboard_visibility", "api_call_logging",
                                "api_call_logging_project_ids"}


def test_tenant_scoped_types():
    assert is_tenant_scoped("role.bound_to_resource") and is_tenant_scoped("tenant.user.added")
    assert is_tenant_scoped("tenant.trusted_access.application.submitted")
    assert not is_tenant_scoped("role.assignment.created") and not is_tenant_scoped("scim.disabled")


def test_deterministic_for_a_seed():
    a = dumps(corpus(seed=42, effective_at=1_790_000_000))
    assert a == dumps(corpus(seed=42, effective_at=1_790_000_000))
    assert a != dumps(corpus(seed=43, effective_at=1_790_000_000))
    for name in ("attack-story", "steady"):
        one = ApiSim(scenario=name, seed=9, anchor=1_790_000_000)
        two = ApiSim(scenario=name, seed=9, anchor=1_790_000_000)
        other = ApiSim(scenario=name, seed=10, anchor=1_790_000_000)
        ev1 = [one.store.added.entry_at(k)[0] for k in range(len(one.store.added))]
        ev2 = [two.store.added.entry_at(k)[0] for k in range(len(two.store.added))]
        ev3 = [other.store.added.entry_at(k)[0] for k in range(len(other.store.added))]
        assert dumps(ev1) == dumps(ev2) and dumps(ev1) != dumps(ev3)


@pytest.mark.parametrize("name", scenario_names())
def test_every_scenario_event_validates(name, audit_log_validator):
    sim = ApiSim(scenario=name, seed=2, anchor=1_790_000_000)
    for src in sim.store.sources:
        n = len(src)
        step = max(1, n // 2000)  # the backfill is lazy: validate a spread sample of it
        for k in range(0, n, step):
            ev = src.entry_at(k)[0]
            assert ID_RE.match(ev["id"]), ev["id"]
            assert ev["effective_at"] < 1_790_000_000
            assert_valid(audit_log_validator, ev)


def test_steady_scenario_covers_every_type_within_the_default_start():
    sim = ApiSim(scenario="steady", seed=1, anchor=1_790_000_000)
    events = [sim.store.added.entry_at(k)[0] for k in range(len(sim.store.added))]
    assert {e["type"] for e in events} == set(EVENT_TYPES)
    assert 2000 <= len(events) <= 10000
    assert min(e["effective_at"] for e in events) >= 1_790_000_000 - 7 * 86400
    emails = {e["actor"]["session"]["user"]["email"] for e in events
              if e.get("actor") and e["actor"]["type"] == "session"}
    assert len(emails) > 500  # a 2,000-person org, not a handful of users


def test_attack_story_names_a_true_positive_and_a_near_miss_for_every_detection():
    import json
    from tools.openai_api_sim.scenarios import SCENARIO_DIR
    import os
    with open(os.path.join(SCENARIO_DIR, "attack-story.json"), encoding="utf-8") as f:
        story = json.load(f)
    roles = {}
    for step in story["story"]:
        for det in step.get("detection", []):
            roles.setdefault(det, set()).add(step["role"])
    rows = ["1", "2a", "2b", "3a", "3b", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13",
            "14", "15", "16", "17", "18", "19"]
    for row in rows:
        assert "true_positive" in roles.get(row, ()), row
        if row != "19":
            assert "near_miss" in roles.get(row, ()), row
    assert "19" in story["detections"] and "20" in story["detections"]
    sim = ApiSim(scenario="attack-story", seed=1, anchor=1_790_000_000)
    events = [sim.store.added.entry_at(k)[0] for k in range(len(sim.store.added))]
    gap = [e for e in events if 1_790_000_000 - 144000 <= e["effective_at"] < 1_790_000_000 - 122400]
    assert gap == []  # row 20's collection gap
    mallory = [e for e in events if "mallory@example.net" in dumps(e)]
    assert len(mallory) >= 15
