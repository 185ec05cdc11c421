"""The add-on's search-time knowledge, run offline through the SPL evaluator (tools/spl).

Every pytest-splunk-addon sample yields its expected CIM fields and data models; every event of
every type (and an unknown one) lands in exactly one data model with all its required fields.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.knowledge.knowledge_support import (APP_DIR, RECOMMENDED, ROOT, cim_violations, leaf_datasets,
                                              load_samples, models_of, values)

SAMPLES = load_samples()


def sample_event(s):
    obj = json.loads(s["raw"])
    return {"_raw": s["raw"], "_time": obj["effective_at"], "source": s["source"]}


@pytest.mark.parametrize("s", SAMPLES, ids=lambda s: "%s#%d" % (s["file"], s["index"]))
def test_sample_yields_its_expected_fields(app, s):
    row = app.extract(sample_event(s))
    expected = {k: v for k, v in {**s["cim"], **s["other"]}.items() if k not in s["exceptions"]}
    wrong = {k: (row.get(k), v) for k, v in expected.items() if row.get(k) != v}
    assert wrong == {}, "field: (extracted, expected)"
    # Exceptions are the multivalue fields a sample cannot state as one value.
    for k, v in s["exceptions"].items():
        assert sorted(values(row.get(k))) == sorted(v.split(",")), k


@pytest.mark.parametrize("s", SAMPLES, ids=lambda s: "%s#%d" % (s["file"], s["index"]))
def test_sample_maps_to_its_data_models_and_nothing_else(app, s):
    row = app.extract(sample_event(s))
    assert leaf_datasets(row) == {m.replace(":", "_").replace(" ", "_") for m in s["models"]}
    assert len(models_of(row)) == (1 if s["models"] else 0)  # a logout is in no data model
    assert cim_violations(row) == []


@pytest.mark.parametrize("s", SAMPLES, ids=lambda s: "%s#%d" % (s["file"], s["index"]))
def test_sample_accounts_for_every_recommended_field(s):
    covered = set(s["cim"]) | set(s["missing"]) | set(s["exceptions"])
    for model in s["models"]:
        name = model.replace(":", "_")
        base = name.split("_")[0]
        need = set(RECOMMENDED[base]) | set(RECOMMENDED.get(name, []))
        assert need <= covered, "%s: %s" % (model, sorted(need - covered))


def test_samples_cover_every_dataset_the_add_on_maps():
    mapped = {m for s in SAMPLES for m in s["models"]}
    assert mapped == {"Authentication", "Change:Auditing_Changes", "Change:Account_Management",
                      "Change:Network_Changes"}


def test_every_generated_event_lands_in_exactly_one_model_with_its_required_fields(
        app, generated_events, exact_map):
    events, reordered = generated_events
    seen_types = set()
    for ev in events:
        row = app.extract(ev)
        t = ev["type"]
        seen_types.add(t)
        models = models_of(row)
        expected_model = exact_map[t]["cim_model"] if t in exact_map else "Change"
        assert models == ({expected_model} if expected_model else set()), (t, models, row.get("tag"))
        assert cim_violations(row) == [], (t, ev.get("actor"))
    assert len(seen_types) == 150  # 149 known types + 1 unknown
    for ev, obj in reordered:
        assert cim_violations(app.extract(ev)) == [], obj["type"]


def _payload(ev):
    p = ev.get(ev["type"])
    return p if isinstance(p, dict) else None


def test_normalized_fields_follow_the_documented_rules(app, generated_events, exact_map):
    events, _ = generated_events
    for ev in events:
        row = app.extract(ev)
        t, actor, payload = ev["type"], ev.get("actor") or {}, _payload(ev)
        session = actor.get("session") or {}
        key = actor.get("api_key") or {}
        actor_name = ((session.get("user") or {}).get("email") or (key.get("user") or {}).get("email")
                      or (key.get("service_account") or {}).get("id"))
        assert row["src_user"] == (actor_name or "unknown"), t
        account = exact_map.get(t, {}).get("cim_dataset") == "Account_Management"
        actor_is_account = t.endswith((".accepted", ".declined"))
        if account and not actor_is_account:
            target = ((payload or {}).get("data") or {}).get("email") or (payload or {}).get("id")
            assert row["user"] == (target or "unknown"), t
        else:
            assert row["user"] == (actor_name or "unknown"), t
        assert row["actor_type"] == {"session": "session", None: "none"}.get(
            actor.get("type"), "api_key_%s" % key.get("type")), t
        assert row["src"] == session.get("ip_address", "unknown")
        assert row.get("src_ip") == session.get("ip_address")
        details = session.get("ip_address_details") or {}
        for field, k in (("src_country", "country"), ("src_city", "city"), ("src_region", "region"),
                         ("src_asn", "asn"), ("src_lat", "latitude"), ("src_lon", "longitude")):
            assert row.get(field) == details.get(k), (t, field)
        for field in ("user_agent", "ja3", "ja4"):
            assert row.get(field) == session.get(field)
        assert row.get("project_id") == (ev.get("project") or {}).get("id")
        assert row.get("project_name") == (ev.get("project") or {}).get("name")
        assert row["signature"] == row["command"] == t
        assert row["dest"] == ("api.openai.com" if actor.get("type") == "api_key" else "platform.openai.com")
        assert (row["app"], row["dvc"], row["vendor_product"]) == ("openai", "api.openai.com", "OpenAI Audit Logs")
        failed = t.endswith(".failed")
        assert row["status"] == row["result"] == ("failure" if failed else "success")
        assert row.get("reason") == ((payload or {}).get("error_message") if failed else None), t
        if payload and "id" in payload:
            assert row["object_id"] == payload["id"], t
        # object_attrs: keys of changes_requested, else of data, else of the payload.
        cr, data = (payload or {}).get("changes_requested"), (payload or {}).get("data")
        attrs = (list(cr) if isinstance(cr, dict) else []) or (list(data) if isinstance(data, dict) else []) \
            or list(payload or {})
        assert sorted(values(row["object_attrs"])) == sorted(attrs or ["unknown"]), t
        assert (row["object_category"] == "user") == (exact_map.get(t, {}).get("cim_dataset") == "Account_Management"), t
        if t in exact_map:
            for col in ("cim_model", "cim_dataset", "action", "change_type", "severity"):
                assert row.get(col) == (exact_map[t][col] or None), (t, col)


def test_payload_keys_in_any_order_give_the_same_fields(app, generated_events):
    _, reordered = generated_events
    assert reordered
    for ev, obj in reordered:
        compact = app.extract(obj)
        sorted_keys = app.extract(ev)
        for field in ("object_id", "object", "user", "src_user", "src", "action", "cim_dataset"):
            assert sorted_keys.get(field) == compact.get(field), (obj["type"], field)
        assert sorted(values(sorted_keys["object_attrs"])) == sorted(values(compact["object_attrs"]))


@pytest.mark.parametrize("event_type,action,dataset,category", [
    ("vector_store.retention_policy.updated", "modified", "Auditing_Changes", "vector_store"),
    ("vector_store.created", "created", "Auditing_Changes", "vector_store"),
    ("model.weights.removed", "deleted", "Auditing_Changes", "model"),
    ("something_new", "modified", "Auditing_Changes", "something_new"),
    ("tenant.billing.tax_id.updated", "modified", "Auditing_Changes", "billing"),
    ("user.suspended", "modified", "Account_Management", "user"),
    ("tenant.user.reactivated", "modified", "Account_Management", "user"),
    ("ip_allowlist.config.paused", "modified", "Network_Changes", "ip_allowlist"),
    ("login.mfa_enrolled", "modified", "Auditing_Changes", "session"),
])
def test_unknown_future_types_get_change_defaults(app, event_type, action, dataset, category):
    from tools.openai_api_sim.generator import make_event
    row = app.extract(make_event(event_type, seed=3, effective_at=1764100800))
    assert (row["cim_model"], row["action"], row["cim_dataset"], row["object_category"]) == (
        "Change", action, dataset, category)
    assert models_of(row) == {"Change"}
    assert cim_violations(row) == []


def test_eventtypes_and_tags_through_a_search(app, generated_events):
    events, _ = generated_events
    rows = app.search('sourcetype="openai:audit" | stats count by eventtype', events=events, all_time=True)
    counts = {r["eventtype"]: int(r["count"]) for r in rows}
    auth = sum(1 for e in events if e["type"].startswith("login."))
    logouts = sum(1 for e in events if e["type"].startswith("logout."))
    assert counts["openai_audit_authentication"] == auth
    assert counts["openai_audit_logout"] == logouts
    assert counts["openai_audit_change"] + counts["openai_audit_account_management"] == len(events) - auth - logouts
    rows = app.search('sourcetype="openai:audit" type="logout.*" tag=* | stats count', events=events, all_time=True)
    assert rows[0]["count"] == "0"
    network = sum(1 for e in events if e["type"].startswith(("ip_allowlist.", "tunnel.")))
    assert counts["openai_audit_network_change"] == network
    rows = app.search('sourcetype="openai:audit" tag=authentication tag=change | stats count',
                      events=events, all_time=True)
    assert rows[0]["count"] == "0"


def test_command_line_run_sees_the_same_fields(tmp_path):
    from tools.openai_api_sim.generator import make_event
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(make_event(t, seed=1, effective_at=1764100800 + i))
                              for i, t in enumerate(["login.failed", "invite.sent", "tunnel.deleted"])) + "\n")
    out = subprocess.run(
        [sys.executable, "-m", "tools.spl", "run", "--app", str(APP_DIR), "--events", str(path), "--all-time",
         'sourcetype="openai:audit" | table type eventtype tag action cim_model'],
        cwd=str(ROOT), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    rows = {r["type"]: r for r in map(json.loads, out.stdout.splitlines())}
    assert rows["login.failed"]["action"] == "failure" and rows["login.failed"]["tag"] == "authentication"
    assert rows["invite.sent"]["eventtype"] == "openai_audit_account_management"
    assert sorted(rows["tunnel.deleted"]["tag"]) == ["audit", "change", "network"]


def test_large_and_deep_payloads_keep_their_fields(app):
    """The payload is read with JSON functions, not regexes: a role with hundreds of permissions,
    a certificate with its PEM and a payload nested ten levels deep keep object_id, object and
    object_attrs (the regexes they replace stopped at PCRE's depth limit, ~550 bytes)."""
    from tools.openai_api_sim.generator import make_event
    perms = ["api.project.%s.%d" % (verb, i) for i in range(100) for verb in ("read", "write")]
    role = make_event("role.updated", seed=1, effective_at=1764100800, payload={
        "id": "role_big", "changes_requested": {"role_name": "platform-admin", "permissions_added": perms,
                                                "permissions_removed": perms[:50], "description": "x" * 2000}})
    pem = "-----BEGIN CERTIFICATE-----\n" + "\n".join(["MIIB" + "A" * 60] * 120) + "\n-----END CERTIFICATE-----\n"
    cert = make_event("certificate.deleted", seed=1, effective_at=1764100800,
                      payload={"id": "cert_big", "name": "mtls-edge", "certificate": pem})
    deep = {"leaf": "x"}
    for level in range(10):
        deep = {"level%d" % level: deep}
    nested = make_event("workload_identity_provider.updated", seed=1, effective_at=1764100800,
                        payload={"id": "wip_deep", "changes_requested": {"name": "gh", "claims": deep}})
    assert len(json.dumps(role)) > 8000 and len(json.dumps(cert)) > 7000
    row = app.extract(role)
    assert (row["object_id"], row["object"]) == ("role_big", "platform-admin")
    assert sorted(values(row["object_attrs"])) == ["description", "permissions_added", "permissions_removed",
                                                  "role_name"]
    row = app.extract(cert)
    assert (row["object_id"], row["object"]) == ("cert_big", "mtls-edge")
    assert sorted(values(row["object_attrs"])) == ["certificate", "id", "name"]
    row = app.extract(nested)
    assert (row["object_id"], row["object"]) == ("wip_deep", "wip_deep")
    assert sorted(values(row["object_attrs"])) == ["claims", "name"]
