"""Every detection runs over its samples through the SPL evaluator, as `python -m tools.spl detect`.

True positives: the exact rows that fire, compared on their key fields. Near misses: nothing fires.
Continuous operation: the search runs at every tick of its schedule around NOW, and every alert
fires in exactly one run, late events included. The samples are written by build_samples.py.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SAMPLES = HERE / "samples"
LOOKUPS = HERE / "lookups"
APP = ROOT / "package"
sys.path.insert(0, str(HERE))

from build_samples import (  # noqa: E402
    ALICE, BOB, CAROL, DAVE, DEV_CHAT, ERIN, NOW, OTHER_SA, PROD_CHAT, PROD_SEARCH, STAGING_CHAT, USERS)
from tools.spl import App  # noqa: E402

A, B, C, D, E = (u["email"] for u in (ALICE, BOB, CAROL, DAVE, ERIN))
SVC = OTHER_SA["id"]

DETECTIONS = {p.stem: yaml.safe_load(p.read_text()) for p in sorted((ROOT / "detections").glob("*.yml"))}

# The rows each true-positive sample set must produce, on the fields named here (one dict per row).
EXPECTED = {
    "openai_scim_provisioning_disabled": [
        # bob re-enabled SCIM two hours earlier: a toggle
        {"user": A, "signature": "scim.disabled", "scim_enables_in_window": "1", "scim_disables_in_window": "2",
         "severity": "critical", "src": "185.220.101.7"},
        {"user": "unknown", "signature": "scim.disabled", "scim_enables_in_window": "0", "scim_disables_in_window": "1",
         "severity": "high", "src": None},
        # three days late: a disable and its re-enable 20 minutes later
        {"user": C, "signature": ["scim.disabled", "scim.enabled"], "scim_enables_in_window": "1",
         "scim_disables_in_window": "1", "severity": "critical"},
    ],
    "openai_ip_allowlist_disabled_or_deleted": [
        {"user": A, "signature": "ip_allowlist.config.deactivated", "allowlist_name": "office-egress",
         "allowed_ips": ["198.51.100.0/24", "203.0.113.0/24"]},
        {"user": SVC, "signature": "ip_allowlist.deleted", "allowlist_name": "vpn-egress", "allowed_ips": "198.51.100.0/24"},
    ],
    "openai_ip_allowlist_broadened": [
        {"user": A, "allowlist_id": "ipal_A00000000000000000000001", "broad_ranges": "0.0.0.0/0",
         "reason": "any_address", "severity": "critical"},
        {"user": B, "allowlist_id": "ipal_B00000000000000000000002", "broad_ranges": "::/0",
         "reason": "any_address", "severity": "critical"},
        {"user": C, "allowlist_id": "ipal_C00000000000000000000003", "broad_ranges": ["10.0.0.0/8", "192.0.2.0/24"],
         "reason": ["ipv4_prefix_too_short", "outside_corporate_ranges"], "severity": "high"},
        {"user": D, "allowlist_id": "ipal_F00000000000000000000006", "broad_ranges": ["0.0.0.0/1", "128.0.0.0/1"],
         "reason": "half_address_space", "severity": "critical", "previous_allowed_ips": "203.0.113.0/24"},
        {"user": E, "allowlist_id": "ipal_P00000000000000000000008", "broad_ranges": "89.248.165.0/24",
         "reason": "outside_corporate_ranges", "severity": "high"},
        {"user": SVC, "allowlist_id": "ipal_V00000000000000000000010", "broad_ranges": ["185.220.101.0/24", "::/0"],
         "reason": ["any_address", "outside_corporate_ranges"], "severity": "critical"},
        {"user": "frank.smith@example.com", "allowlist_id": "ipal_H00000000000000000000009", "change_ticket": "CHG0003",
         "severity": "informational"},
    ],
    "openai_role_granted_additional_permissions": [
        {"user": A, "role_id": "role_ops000000000000000000001",
         "permissions_added": ["api.files.read", "api.organization.projects.api_keys.write"],
         "sensitive_category": "api_keys", "severity": "high"},
        {"user": B, "role_id": "role_ml0000000000000000000002", "permissions_added": "api.fine_tuning.jobs.write",
         "sensitive_category": "fine_tuning", "severity": "medium"},
        {"user": C, "role_id": "role_rd0000000000000000000003", "permissions_added": "api.files.read",
         "sensitive_category": None, "severity": "low"},
    ],
    "openai_role_assigned_on_production_project": [
        {"user": A, "resource_id": PROD_CHAT["id"], "production_project": "prod-chat", "principal_type": "user"},
        {"user": "unknown", "resource_id": PROD_SEARCH["id"], "production_project": "prod-search",
         "principal_id": "group_0000000000000000000007", "principal_type": "group"},
    ],
    "openai_api_call_logging_reduced": [
        {"user": A, "api_call_logging": "disabled", "unlogged_production_projects": None, "severity": "critical"},
        # the project list given as a string: prod-search is left out
        {"user": B, "api_call_logging": "enabled_for_selected_projects",
         "logged_projects": sorted([PROD_CHAT["id"], "proj_WaJg6U4Ztg0a54SYms7XUZwT"]),
         "unlogged_production_projects": PROD_SEARCH["id"], "severity": "high"},
        # given as an array naming both production projects
        {"user": C, "api_call_logging": "enabled_for_selected_projects",
         "logged_projects": sorted([PROD_CHAT["id"], PROD_SEARCH["id"]]),
         "unlogged_production_projects": None, "severity": "medium"},
        {"user": D, "api_call_logging": "enabled_per_call", "severity": "high"},
        # an update of the project list alone that removes a production project
        {"user": E, "api_call_logging": "enabled_for_selected_projects", "list_only": "1",
         "removed_projects": sorted([PROD_SEARCH["id"], STAGING_CHAT["id"]]),
         "unlogged_production_projects": PROD_SEARCH["id"], "severity": "high"},
        {"user": "frank.smith@example.com", "organization_id": "org-Beta0000000000000000000", "list_only": "1",
         "removed_projects": PROD_SEARCH["id"], "severity": "high"},
    ],
    "openai_owner_service_account_created": [
        {"user": SVC, "service_account_id": "svc_acct_evil00000000000000001", "service_account_role": "owner",
         "actor_is_api_key": "1", "off_hours": "0", "severity": "critical"},
        {"user": A, "service_account_id": "svc_acct_old000000000000000003", "service_account_role": "owner",
         "actor_is_api_key": "0", "off_hours": "1", "severity": "critical"},
        {"user": C, "service_account_id": "svc_acct_new000000000000000004", "service_account_role": "owner",
         "actor_is_api_key": "0", "off_hours": "0", "production_project": None, "elevation": None, "severity": "high"},
        {"user": E, "service_account_id": "svc_acct_erin00000000000000006", "actor_team": "research",
         "elevation": "outside_platform_team", "severity": "critical"},
        {"user": "frank.smith@example.com", "service_account_id": "svc_acct_frank0000000000000007",
         "elevation": "unexpected_project", "severity": "critical"},
        {"user": D, "service_account_id": "svc_acct_prod00000000000000005", "production_project": "prod-chat",
         "severity": "critical"},
    ],
    "openai_service_account_created": [
        {"user": B, "service_account_id": "svc_acct_ci000000000000000000002", "service_account_role": "member",
         "actor_is_api_key": "0", "severity": "low"},
        {"user": C, "service_account_id": "svc_acct_ci000000000000000000006", "actor_is_api_key": "1",
         "severity": "low"},
    ],
    "openai_byok_key_changed_by_unauthorized_actor": [
        {"user": A, "signature": "external_key.removed", "key_id": "ekey_prod0000000000000000001", "severity": "critical",
         "reason": ["expected_key_removed", "unauthorized_actor"], "change_ticket": None},
        {"user": "unknown", "signature": "external_storage.registered", "provider": "s3", "severity": "high",
         "reason": "unauthorized_actor"},
        {"user": C, "signature": "external_key.registered", "key_id": "ekey_rogue0000000000000000006", "severity": "high",
         "reason": "unexpected_key"},
        {"user": B, "key_id": "ekey_prod0000000000000000005", "change_ticket": "CHG0001", "severity": "informational"},
        {"user": D, "signature": "external_storage.removed", "change_ticket": None, "severity": "critical"},
    ],
    "openai_burst_of_api_key_creation": [
        {"user": A, "keys_created": "5", "firstTime": str(NOW - 55 * 60),
         "api_key_id": ["key_alice%07d" % i for i in range(5)]},
        # the fifth key of 10:40 was indexed late, in this run's window
        {"user": B, "keys_created": "5", "firstTime": str(NOW - 5 * 3600)},
    ],
    "openai_api_key_created_by_api_key_or_external_source": [
        {"user": A, "reason": "created_by_api_key", "api_key_id": "key_minted000000001", "src": None,
         "severity": "medium"},
        {"user": B, "reason": "non_corporate_source", "api_key_id": "key_external0000002", "src": "45.155.205.10",
         "severity": "medium"},
        {"user": E, "reason": "non_corporate_source", "api_key_id": "key_home00000000005", "severity": "low"},
    ],
    "openai_api_key_granted_sensitive_scope": [
        {"user": A, "api_key_id": "key_scope0000000001", "sensitive_scopes": "api.files.write",
         "scope_category": "data_upload"},
        {"user": B, "api_key_id": "key_scope0000000002", "sensitive_scopes": "api.fine_tuning.jobs.write",
         "scope_category": "model_training"},
        {"user": C, "api_key_id": "key_scope0000000003", "sensitive_scopes": "api.files.write",
         "scope_category": "data_upload"},
    ],
    "openai_sensitive_change_from_unseen_tls_fingerprint": [
        {"user": A, "signature": "ip_allowlist.updated", "ja3": None},
        {"user": B, "signature": "rate_limit.deleted", "ja4": None},
    ],
    "openai_multiple_tls_fingerprints_for_one_user": [
        {"user": A, "ja4_count": "3", "firstTime": str(NOW - 50 * 60)},
    ],
    "openai_rate_limit_raised_or_removed": [
        {"user": A, "rate_limit_id": "rl-gpt-4.1-Ku2HXqDs", "change": "max_requests_per_1_minute 500 -> 5000"},
        {"user": C, "rate_limit_id": "rl-o3-bktGrfFb", "change": "max_tokens_per_1_minute 200000 -> 1000000"},
        {"user": D, "rate_limit_id": "rl-o3-WaJg6U4Z", "change": "rate limit deleted"},
        {"user": E, "rate_limit_id": "rl-gpt-4.1-Unseen01",
         "change": "max_requests_per_1_minute set to 50000 (no known previous value; above 10000)"},
    ],
    "openai_production_project_archived_or_deleted": [
        {"user": A, "removed_project_id": PROD_CHAT["id"], "production_project": "prod-chat",
         "signature": "project.archived"},
        {"user": "unknown", "removed_project_id": PROD_SEARCH["id"], "production_project": "prod-search",
         "signature": "project.deleted"},
    ],
    "openai_multiple_projects_archived_or_deleted": [
        {"user": A, "projects_removed": "3", "signature": ["project.archived", "project.deleted"]},
    ],
    "openai_bulk_or_external_invitations": [
        {"user": A, "invites": "10", "external_invites": "0", "reason": "bulk_invitations",
         "owner_external_invitees": None},
        {"user": B, "invites": "3", "external_invites": "3", "reason": "external_invitations",
         "external_invitees": ["friend0@gmail.com", "friend1@gmail.com", "friend2@gmail.com"]},
        {"user": C, "invites": "1", "reason": "owner_invitation_to_external_domain",
         "owner_external_invitees": "boss@outsider.net"},
    ],
    "openai_tunnel_changed_by_non_network_admin": [
        {"user": A, "signature": "tunnel.created", "tunnel_id": "tunnel_000000000000000001"},
        {"user": "unknown", "signature": "tunnel.deleted", "tunnel_id": "tunnel_000000000000000002"},
    ],
    "openai_checkpoint_shared_with_unknown_project": [
        {"user": A, "target_project_id": "proj_Foreign00000000000000001", "signature": "checkpoint.permission.created"},
        {"user": B, "target_project_id": "proj_Foreign00000000000000002", "signature": "checkpoint_permission.created"},
    ],
    "openai_certificate_deactivated_or_deleted": [
        {"user": A, "signature": "certificates.deactivated", "certificate_name": ["mtls-edge", "mtls-gateway"]},
        {"user": B, "signature": "certificate.deleted", "certificate_name": "mtls-ci"},
    ],
    "openai_certificate_added_by_unexpected_actor": [
        {"user": A, "signature": "certificate.created", "certificate_name": "mtls-backdoor"},
        {"user": SVC, "signature": "certificates.activated", "certificate_name": "mtls-backdoor"},
    ],
    "openai_authentication_failure_burst_for_user": [
        {"user": A, "failures": "10", "firstTime": str(NOW - 29 * 60), "src": "45.155.205.10"},
        {"user": B, "failures": "10", "firstTime": str(NOW - 6 * 3600)},
    ],
    "openai_password_spray_from_single_source": [
        {"src": "45.155.205.10", "users": "5", "failures": "5",
         "user": ["%s.smith@example.com" % n for n in ("ursula", "victor", "wendy", "xavier", "yolanda")]},
    ],
    "openai_credential_stuffing_against_single_user": [
        {"user": A, "sources": "5", "failures": "5"},
    ],
    "openai_successful_login_after_repeated_failures": [
        {"user": A, "failures": "5", "src": "45.155.205.10"},
        {"user": B, "failures": "5", "src": "103.251.167.9"},
    ],
    "openai_login_from_new_country_or_asn": [
        {"user": A, "new_country": "DE", "new_asn": "60729", "severity": "medium"},
        {"user": C, "new_country": "DE", "new_asn": "60729", "severity": "medium"},
        {"user": E, "new_country": None, "new_asn": "7922", "severity": "low"},
    ],
    "openai_impossible_travel_between_logins": [
        {"user": A, "previous_country": "US", "src_country": "RU", "count": "1"},
        # the late Singapore login makes two new pairs: San Francisco -> Singapore -> San Francisco
        {"user": B, "previous_country": ["SG", "US"], "src_country": ["SG", "US"], "count": "2"},
    ],
    "openai_sensitive_change_from_outside_corporate_network": [
        {"user": A, "signature": "ip_allowlist.updated", "reason": "non_corporate_source"},
        {"user": B, "signature": "invite.sent", "reason": "non_corporate_source"},
        {"user": SVC, "signature": "rate_limit.updated", "reason": "api_key_not_on_automation_list"},
    ],
    "openai_risk_threshold_exceeded_for_user": [
        {"user": A, "risk_score": "164", "risk_score_before": "92", "detection_count": "3"},
        {"user": B, "risk_score": "60", "detection_count": "3", "detection_count_before": "2"},
        {"user": C, "risk_score": "150", "risk_score_before": "60", "detection_count": "2"},
    ],
    "openai_activity_by_departed_or_inactive_employee": [
        {"user": USERS[50]["email"], "reason": "employment_status_terminated", "end_date": "2026-11-20",
         "signature": "login.succeeded", "manager": A},
        {"user": USERS[51]["email"], "reason": "end_date_passed", "signature": "api_key.created", "actor_type": "api_key"},
    ],
    "openai_organization_owner_granted": [
        {"user": A, "reason": "organization_role_assigned", "principal": USERS[60]["id"], "severity": "critical",
         "principal_roles": "api.project:%s membership=member" % DEV_CHAT["id"].lower()},
        {"user": B, "reason": "organization_owner_granted", "principal": USERS[61]["id"], "severity": "critical",
         "signature": "user.updated"},
        {"user": C, "reason": "project_owner_granted", "production_project": "prod-chat", "severity": "critical"},
        {"user": D, "reason": "organization_owner_granted", "principal": "new.owner@example.com", "severity": "critical"},
        {"user": E, "reason": "sensitive_role_created", "permission_category": "api_keys", "severity": "high",
         "sensitive_permissions": "api.organization.projects.api_keys.write"},
        {"user": "frank.smith@example.com", "reason": "sensitive_role_created", "permission_category": "fine_tuning",
         "severity": "medium"},
    ],
    "openai_audit_log_collection_gap": [
        {"source": "openai_audit:acme", "gap_hours": "6.5", "gap_state": "open", "firstTime": str(NOW - 6 * 3600 - 1800)},
        {"source": "openai_audit:delta", "gap_hours": "6.3", "gap_state": "closed", "gap_end": str(NOW - 1800)},
    ],
}

# Extra facts checked on one row each, beyond the key fields.
RISK_AND_THREAT = {
    "openai_sensitive_change_from_unseen_tls_fingerprint": ("user", A, "ja4"),
    "openai_impossible_travel_between_logins": ("user", A, "ja4"),
}


def stanza(stem: str) -> str:
    return "TA-openai-audit - %s - Rule" % DETECTIONS[stem]["name"]


def detect(stem: str, kind: str, now: int = NOW, lookups: Path = LOOKUPS) -> list:
    cmd = [sys.executable, "-m", "tools.spl", "detect", "--app", str(APP),
           "--events", str(SAMPLES / ("%s.%s.jsonl" % (stem, kind))), "--now", str(now),
           "--lookups", str(lookups), "--search", stanza(stem)]
    baseline = SAMPLES / ("%s.baseline.jsonl" % stem)
    if baseline.exists():
        cmd += ["--baseline", str(baseline)]
    proc = subprocess.run(cmd, cwd=str(ROOT), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert all(o["search_name"] == stanza(stem) for o in out)
    return [o["row"] for o in out]


def _norm(v):
    return sorted(v) if isinstance(v, list) else v


def match_rows(rows: list, expected: list) -> list:
    """Pair every expected row with one actual row that has the same value (None: absent) in each
    field the expected row names; return the problems (empty when the rows are exactly these)."""
    problems, unused = [], list(rows)
    for want in expected:
        hit = next((r for r in unused if all(_norm(r.get(k)) == _norm(v) for k, v in want.items())), None)
        if hit is None:
            problems.append("no row like %s" % want)
        else:
            unused.remove(hit)
    problems += ["unexpected row %s" % r for r in unused]
    return problems


def test_every_detection_has_expectations():
    assert set(EXPECTED) == set(DETECTIONS)


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_true_positives_fire_exactly(stem):
    rows = detect(stem, "tp")
    assert match_rows(rows, EXPECTED[stem]) == []
    # every row carries what the notable and the risk action need
    det = DETECTIONS[stem]
    for row in rows:
        for ro in (det.get("rba") or {}).get("risk_objects", []):
            assert row.get(ro["field"]), (ro, row)
        for f in (det["tags"].get("throttling") or {}).get("fields", []):
            assert row.get(f) is not None, (f, row)
        if "severity" in row and det.get("rba"):
            # an elevated row adds more risk than the detection's default score, a lesser row less
            base = det["rba"]["risk_objects"][0]["score"]
            want = {"critical": max(base, 90), "high": max(base, 70), "medium": min(base, 50),
                    "low": min(base, 30), "informational": min(base, 10)}[row["severity"]]
            assert row["risk_score"] == str(want), row


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_near_misses_fire_nothing(stem):
    assert detect(stem, "fp") == []


@pytest.mark.parametrize("stem", sorted(RISK_AND_THREAT))
def test_threat_objects_are_filled(stem):
    field, value, threat = RISK_AND_THREAT[stem]
    row = next(r for r in detect(stem, "tp") if r.get(field) == value)
    assert row.get(threat)


def test_shipped_example_lookups_match_nothing(tmp_path):
    """With the admin lists empty (as they are before an admin fills them; their shipped commented
    examples match nothing either, see tests/package/test_upgrade.py), lookup-driven detections see
    no listed value."""
    empty = tmp_path / "lookups"
    empty.mkdir()
    # no production projects: the production-only detections stay silent on their true positives
    assert detect("openai_production_project_archived_or_deleted", "tp", lookups=empty) == []
    assert detect("openai_role_assigned_on_production_project", "tp", lookups=empty) == []
    # no corporate or approved ranges: even the office ranges are outside them; the vendor range that
    # ipal_G already held is still not judged again (only what an update adds is)
    rows = detect("openai_ip_allowlist_broadened", "fp", lookups=empty)
    assert {r["allowlist_id"] for r in rows} == {"ipal_D00000000000000000000004", "ipal_E00000000000000000000005",
                                                 "ipal_F00000000000000000000006", "ipal_G00000000000000000000007"}
    assert next(r for r in rows if r["allowlist_id"] == "ipal_G00000000000000000000007")["broad_ranges"] == \
        "198.51.100.0/25"
    # no network admins: the network team's own change is reported
    rows = detect("openai_tunnel_changed_by_non_network_admin", "fp", lookups=empty)
    assert [r["user"] for r in rows] == [D]


def test_lookup_rows_starting_with_hash_are_inert(tmp_path):
    """A commented row in the corporate CIDR lookup is not a corporate range."""
    lookups = tmp_path / "lookups"
    shutil.copytree(LOOKUPS, lookups)
    (lookups / "openai_corporate_cidrs.csv").write_text(
        "cidr,description\n# 185.220.101.0/24,commented\n203.0.113.0/24,hq\n", encoding="utf-8")
    rows = detect("openai_sensitive_change_from_outside_corporate_network", "tp", lookups=lookups)
    assert any(r["user"] == A and r["reason"] == "non_corporate_source" for r in rows)


def _app_with_local_macros(tmp_path, macros: str) -> Path:
    """A copy of the add-on with a local/macros.conf, as an admin tunes it."""
    app_dir = tmp_path / "TA-openai-audit"
    shutil.copytree(APP, app_dir)
    (app_dir / "local").mkdir(exist_ok=True)
    (app_dir / "local" / "macros.conf").write_text(macros, encoding="utf-8")
    return app_dir


def test_shipped_sensitive_scopes_work_out_of_the_box(tmp_path):
    """The shipped openai_sensitive_scopes.csv is a real default list (README and docs say so): on a
    fresh install, the list's Admin List search seeds the KV store from it when splunkd starts."""
    stem = "openai_api_key_granted_sensitive_scope"

    def fresh_install(kind):
        kvstore = tmp_path / kind
        kvstore.mkdir()
        app = App.load(str(APP), lookups_dir=str(kvstore))
        assert "TA-openai-audit - Admin List openai_sensitive_scopes" in app.run_startup_searches(NOW)
        app.index_events(_load_events(SAMPLES / ("%s.%s.jsonl" % (stem, kind))))
        return app.run_saved_search(stanza(stem), now=NOW)
    rows = fresh_install("tp")
    assert {(r["api_key_id"], r["sensitive_scopes"]) for r in rows} == {
        ("key_scope0000000001", "api.files.write"), ("key_scope0000000002", "api.fine_tuning.jobs.write"),
        ("key_scope0000000003", "api.files.write")}
    assert fresh_install("fp") == []


@pytest.mark.parametrize("utc, offset, off_hours", [
    ("2026-11-25 15:00", "0", "0"),     # Wednesday 15:00
    ("2026-11-25 06:59", "0", "1"),
    ("2026-11-25 19:00", "0", "1"),
    ("2026-11-28 12:00", "0", "1"),     # Saturday
    ("2026-11-25 15:00", "-9", "1"),    # 06:00 in Anchorage
    ("2026-11-25 23:00", "-5", "0"),    # 18:00 in New York
    ("2026-11-30 04:30", "5.5", "0"),   # Monday 10:00 in India
    ("2026-11-29 23:30", "5.5", "1"),   # Monday 05:00 in India
    ("2026-11-27 23:30", "5.5", "1"),   # Saturday 05:00 in India
])
def test_off_hours_follow_the_organization_time_zone(tmp_path, utc, offset, off_hours):
    """openai_audit_is_off_hours judges the organization's local time (macro openai_org_utc_offset_hours),
    from the epoch value, whatever the time zone of the user running the search."""
    import calendar
    import time
    app_dir = _app_with_local_macros(tmp_path, "[openai_org_utc_offset_hours]\ndefinition = %s\n" % offset)
    t = calendar.timegm(time.strptime(utc, "%Y-%m-%d %H:%M"))
    rows = App.load(str(app_dir)).search("| makeresults | eval off=`openai_audit_is_off_hours(%d)`" % t, now=t)
    assert rows[0]["off"] == off_hours


def test_approved_changes_can_be_suppressed_instead_of_downgraded(tmp_path):
    """Redefining openai_audit_approved_change_outcome as the docs say drops the ticketed rows only."""
    app_dir = _app_with_local_macros(
        tmp_path, "[openai_audit_approved_change_outcome]\ndefinition = where isnull(change_ticket)\n")
    app = App.load(str(app_dir), lookups_dir=str(LOOKUPS))
    app.index_events(_load_events(SAMPLES / "openai_byok_key_changed_by_unauthorized_actor.tp.jsonl"))
    rows = app.run_saved_search(stanza("openai_byok_key_changed_by_unauthorized_actor"), now=NOW)
    assert sorted(r["key_id"] for r in rows) == sorted(
        r["key_id"] for r in detect("openai_byok_key_changed_by_unauthorized_actor", "tp")
        if r.get("change_ticket") is None)
    assert len(rows) == len(EXPECTED["openai_byok_key_changed_by_unauthorized_actor"]) - 1


def test_departed_employee_reads_es_identities_with_the_documented_macro(tmp_path):
    """With ES, openai_audit_identity(1) is redefined as its description says, to read ES's identity
    lookup (bunit, category, endDate, managedBy) instead of openai_identities."""
    import re
    desc = yaml.safe_load((ROOT / "detections" / "macros" / "openai_audit_identity.yml").read_text())["description"]
    es_definition = re.search(r"is on\): (lookup identity_lookup_expanded .*)$", desc).group(1)
    app_dir = _app_with_local_macros(tmp_path, "[openai_audit_identity(1)]\nargs = user\ndefinition = %s\n"
                                     % es_definition)
    (app_dir / "local" / "transforms.conf").write_text(
        "[identity_lookup_expanded]\nfilename = identity_lookup_expanded.csv\ncase_sensitive_match = false\n",
        encoding="utf-8")
    (app_dir / "lookups" / "identity_lookup_expanded.csv").write_text(
        "identity,bunit,category,endDate,managedBy\n%s,sales,contractor,%d,%s\n"
        % (USERS[51]["email"], NOW - 86400, A), encoding="utf-8")
    app = App.load(str(app_dir))
    app.index_events(_load_events(SAMPLES / "openai_activity_by_departed_or_inactive_employee.tp.jsonl"))
    rows = app.run_saved_search(stanza("openai_activity_by_departed_or_inactive_employee"), now=NOW)
    assert [(r["user"], r["reason"], r["team"], r["manager"]) for r in rows] == [
        (USERS[51]["email"], "end_date_passed", "sales", A)]


# the control-plane detections the article pairs with change management
CHANGE_MANAGED = {"openai_scim_provisioning_disabled", "openai_ip_allowlist_broadened",
                  "openai_ip_allowlist_disabled_or_deleted", "openai_api_call_logging_reduced",
                  "openai_byok_key_changed_by_unauthorized_actor", "openai_role_granted_additional_permissions",
                  "openai_role_assigned_on_production_project", "openai_organization_owner_granted"}


def test_change_managed_detections_look_up_approved_changes_and_apply_the_outcome():
    uses = {stem for stem, det in DETECTIONS.items() if "`openai_audit_approved_change(" in det["search"]}
    assert uses == CHANGE_MANAGED
    for stem in CHANGE_MANAGED:
        search = DETECTIONS[stem]["search"]
        # per event (before the rows are aggregated), and the outcome after the row's severity is set
        assert search.index("`openai_audit_approved_change(") < search.rindex("| stats ")
        assert search.rindex("`openai_audit_approved_change_outcome`") > search.rindex("eval severity=")
        assert "values(change_ticket) as change_ticket" in search


# ----------------------------------------------------------------------------- continuous operation

def _period(det: dict) -> int:
    cron = det["deployment"]["scheduling"]["cron_schedule"]
    return {"*/5 * * * *": 300, "*/15 * * * *": 900}.get(cron, 3600)


def _key(det: dict, row: dict) -> tuple:
    # an aggregate alert is its time bucket; a per-event alert is its events (first event time)
    fields = ["user", "src", "source"] + ["_time" if "_time" in row else "firstTime"]
    for extra in ("service_account_id", "allowlist_id", "role_id", "resource_id", "api_key_id",
                  "rate_limit_id", "removed_project_id", "target_project_id"):
        if extra in row:
            fields.append(extra)
    return tuple(json.dumps(row.get(f), sort_keys=True) for f in fields)


def _load_events(path: Path) -> list:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_each_alert_fires_in_exactly_one_scheduled_run(stem):
    """Run the search at every tick of its schedule from 8 hours before NOW to 2 hours after,
    over the true positives and the near misses: no alert fires twice, and each expected one
    fires in the run at NOW (late events included)."""
    det = DETECTIONS[stem]
    name = stanza(stem)
    period = _period(det)
    for kind in ("tp", "fp"):
        app = App.load(str(APP), lookups_dir=str(LOOKUPS))
        baseline = SAMPLES / ("%s.baseline.jsonl" % stem)
        if baseline.exists():
            app.index_events(_load_events(baseline))
            for b in [n for n in app.saved_searches if app.is_baseline(n)]:
                app.seed_baseline(b, now=NOW)
            app.clear_events()
        app.index_events(_load_events(SAMPLES / ("%s.%s.jsonl" % (stem, kind))))
        seen = {}
        for tick in range(NOW - 8 * 3600, NOW + 2 * 3600 + 1, period):
            for row in app.run_saved_search(name, now=tick):
                key = _key(det, row)
                assert key not in seen, "%s fired again at %d (first at %d): %s" % (kind, tick, seen[key], row)
                seen[key] = tick
        if kind == "tp":
            assert sorted(seen.values()) == [NOW] * len(EXPECTED[stem]), seen


# ----------------------------------------------------------------------------- baselines

def run_baseline(name: str, history: list, lookups: Path, tmp_path: Path) -> list:
    hist = tmp_path / "history.jsonl"
    hist.write_text("".join(json.dumps(e) + "\n" for e in history), encoding="utf-8")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "tools.spl", "detect", "--app", str(APP), "--events", str(empty),
                           "--baseline", str(hist), "--now", str(NOW), "--lookups", str(lookups),
                           "--search", "TA-openai-audit - %s" % name], cwd=str(ROOT), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line)["row"] for line in proc.stdout.splitlines() if line.strip()]


def test_geography_baseline_merges_with_the_kv_store_and_ages_out(tmp_path):
    from build_samples import DE_IP, HQ_IP, succeeded
    lookups = tmp_path / "lookups"
    shutil.copytree(LOOKUPS, lookups)
    # what the KV store already holds (lower case: case_sensitive_match = false only works on a KV
    # store whose data is all lower case): a pair seen 100 days ago (drops out) and one 10 days ago
    (lookups / "openai_user_geography_baseline.csv").write_text(
        "user,attribute,value,firstTime,lastTime\n"
        "%s,country,br,%d,%d\n%s,country,us,%d,%d\n" % (A, NOW - 200 * 86400, NOW - 100 * 86400,
                                                      A, NOW - 300 * 86400, NOW - 10 * 86400), encoding="utf-8")
    rows = run_baseline("OpenAI Baseline User Login Geography",
                        [succeeded(ALICE, -2 * 86400, HQ_IP), succeeded(BOB, -3600, DE_IP)], lookups, tmp_path)
    got = {(r["user"], r["attribute"], r["value"]): (r["firstTime"], r["lastTime"]) for r in rows}
    # countries are stored lower-cased; one login=any row per user carries the history
    assert got == {
        (A, "country", "us"): (str(NOW - 300 * 86400), str(NOW - 2 * 86400)),
        (A, "asn", "64500"): (str(NOW - 2 * 86400), str(NOW - 2 * 86400)),
        (A, "login", "any"): (str(NOW - 2 * 86400), str(NOW - 2 * 86400)),
        (B, "country", "de"): (str(NOW - 3600), str(NOW - 3600)),
        (B, "asn", "60729"): (str(NOW - 3600), str(NOW - 3600)),
        (B, "login", "any"): (str(NOW - 3600), str(NOW - 3600)),
    }
    assert {(r["user"], r["value"]): r["logins"] for r in rows if r["attribute"] == "login"} == {(A, "any"): "1",
                                                                                                (B, "any"): "1"}


def test_fingerprint_baseline_learns_the_actor_not_the_account_changed(tmp_path):
    """On account-management events `user` is the account changed; the baseline keys on the actor."""
    from build_samples import HQ_IP, ev, sess
    history = [ev("invite.sent", -3600, actor=sess(ALICE, HQ_IP),
                  payload={"id": "invite-z", "data": {"email": "new.hire@example.com", "role": "member"}})]
    rows = run_baseline("OpenAI Baseline User TLS Fingerprints", history, LOOKUPS, tmp_path)
    assert {r["user"] for r in rows} == {A}
    assert sorted(r["fingerprint_type"] for r in rows) == ["ja3", "ja4", "session"]


def test_fingerprint_baseline_stores_lower_case_and_counts_sessions(tmp_path):
    """KV store lookups match case-sensitively (transforms.conf.spec): the baseline stores lower case,
    folds old mixed-case rows into the lower-case ones, and counts the user's sessions."""
    from build_samples import HQ_IP, ev, sess
    lookups = tmp_path / "lookups"
    shutil.copytree(LOOKUPS, lookups)
    actor = sess(ALICE, HQ_IP)
    ja4 = actor["session"]["ja4"]
    actor["session"]["ja4"] = ja4.upper()
    (lookups / "openai_user_tls_fingerprints.csv").write_text(
        "user,fingerprint_type,fingerprint,sessions,firstTime,lastTime\n"
        "%s,ja4,%s,,%d,%d\n%s,session,any,4,%d,%d\n" % (A.upper(), ja4, NOW - 9 * 86400, NOW - 9 * 86400,
                                                        A, NOW - 9 * 86400, NOW - 9 * 86400), encoding="utf-8")
    history = [ev("login.succeeded", -3600, actor=actor, no_payload=True)]
    rows = run_baseline("OpenAI Baseline User TLS Fingerprints", history, lookups, tmp_path)
    got = {(r["user"], r["fingerprint_type"], r["fingerprint"]): (r.get("sessions"), r["firstTime"]) for r in rows}
    assert got[(A, "ja4", ja4)] == ("1", str(NOW - 9 * 86400))
    assert got[(A, "session", "any")] == ("5", str(NOW - 9 * 86400))
    assert all(k[0] == k[0].lower() and k[2] == k[2].lower() for k in got)


def test_rate_limit_baseline_keeps_the_latest_value(tmp_path):
    from build_samples import HQ_IP, ev, sess
    lookups = tmp_path / "lookups"
    shutil.copytree(LOOKUPS, lookups)
    (lookups / "openai_rate_limit_baseline.csv").write_text(
        "rate_limit_id,limit_name,limit_value,lastTime\nrl-x,max_requests_per_1_minute,100,%d\n"
        "rl-x,max_tokens_per_1_minute,9000,%d\n" % (NOW - 86400, NOW - 86400), encoding="utf-8")
    history = [ev("rate_limit.updated", -7200, actor=sess(ALICE, HQ_IP),
                  payload={"id": "rl-x", "changes_requested": {"max_requests_per_1_minute": 300}}),
               ev("rate_limit.updated", -3600, actor=sess(ALICE, HQ_IP),
                  payload={"id": "rl-x", "changes_requested": {"max_requests_per_1_minute": 200}})]
    rows = run_baseline("OpenAI Baseline Rate Limit Values", history, lookups, tmp_path)
    got = {(r["rate_limit_id"], r["limit_name"]): r["limit_value"] for r in rows}
    assert got == {("rl-x", "max_requests_per_1_minute"): "200", ("rl-x", "max_tokens_per_1_minute"): "9000"}


def test_known_projects_baseline(tmp_path):
    from build_samples import DEV_CHAT, HQ_IP, ev, sess
    history = [ev("api_key.created", -3600, actor=sess(ALICE, HQ_IP), project=DEV_CHAT,
                  payload={"id": "key_k", "data": {"scopes": []}}),
               ev("project.created", -1800, actor=sess(ALICE, HQ_IP), project=None,
                  payload={"id": "proj_New0000000000000000001", "data": {"name": "n", "title": "n"}})]
    rows = run_baseline("OpenAI Baseline Known Projects", history, LOOKUPS, tmp_path)
    assert {r["project_id"] for r in rows} == {DEV_CHAT["id"], "proj_New0000000000000000001"}


def test_ip_allowlist_baseline_keeps_the_last_list_read_whole_from_raw(tmp_path):
    """The last list per allowlist id, lower-cased and joined, however long; the name survives
    updates that do not carry it; a deleted list is kept (deactivation alerts show it)."""
    from build_samples import HQ_IP, ev, sess
    padding = ["203.0.113.%d/32" % i for i in range(256)] + ["198.51.100.%d/32" % i for i in range(200)]
    history = [ev("ip_allowlist.created", -7200, actor=sess(ALICE, HQ_IP),
                  payload={"id": "ipal_x", "name": "office", "allowed_ips": ["203.0.113.0/24"]}),
               ev("ip_allowlist.updated", -3600, actor=sess(ALICE, HQ_IP),
                  payload={"id": "ipal_x", "allowed_ips": padding + ["2001:DB8::/32"]}),
               ev("ip_allowlist.deleted", -1800, actor=sess(ALICE, HQ_IP),
                  payload={"id": "ipal_y", "name": "old", "allowed_ips": ["198.51.100.0/24"]})]
    rows = {r["allowlist_id"]: r for r in run_baseline("OpenAI Baseline IP Allowlists", history, LOOKUPS, tmp_path)}
    assert rows["ipal_x"]["allowlist_name"] == "office"
    assert rows["ipal_x"]["allowed_ips"].split(",") == padding + ["2001:db8::/32"]
    assert rows["ipal_y"]["allowed_ips"] == "198.51.100.0/24"


def test_role_assignment_baseline_keeps_the_latest_grant(tmp_path):
    from build_samples import HQ_IP, ev, sess
    who = USERS[70]["id"]
    history = [ev("user.added", -7200, actor=sess(ALICE, HQ_IP), project=DEV_CHAT,
                  payload={"id": who, "data": {"role": "member"}}),
               ev("user.updated", -3600, actor=sess(ALICE, HQ_IP), project=DEV_CHAT,
                  payload={"id": who, "changes_requested": {"role": "owner"}}),
               ev("role.assignment.created", -3000, actor=sess(ALICE, HQ_IP),
                  payload={"id": "ra_1", "principal_id": who, "principal_type": "user",
                           "resource_id": PROD_CHAT["id"], "resource_type": "api.project"}),
               ev("role.assignment.deleted", -2000, actor=sess(ALICE, HQ_IP),
                  payload={"id": "ra_1", "principal_id": who, "principal_type": "user",
                           "resource_id": PROD_CHAT["id"], "resource_type": "api.project"})]
    rows = run_baseline("OpenAI Baseline Role Assignments", history, LOOKUPS, tmp_path)
    got = {(r["principal_id"], r["scope"], r["grant"]): r["value"] for r in rows}
    assert got == {
        (who.lower(), "api.project:" + DEV_CHAT["id"].lower(), "membership"): "owner",
        (who.lower(), "api.project:" + PROD_CHAT["id"].lower(), "assignment:ra_1"): "removed",
    }
