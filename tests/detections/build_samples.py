"""Write the detections' sample sets and test lookups (run by hand; the outputs are committed).

    python tests/detections/build_samples.py

Every sample line is an audit log object exactly as the API returns it, built with the API
stand-in's generator (tools/openai_api_sim/generator.py make_event) so the shapes match the
attack-story scenario; a line may carry "_indextime" to stand for late indexing. Per detection:
<stem>.tp.jsonl (true positives, asserted row by row in test_detections.py), <stem>.fp.jsonl
(benign near-misses: nothing may fire) and, where the detection reads a baseline,
<stem>.baseline.jsonl (history that the baseline searches fold into their KV store lookups).

All times are relative to NOW (Wednesday 2026-11-25 15:00:00 UTC), the --now the tests pass. A
15-minute detection treats events indexed in [NOW-20m, NOW-5m) as new, a 5-minute one
[NOW-10m, NOW-5m).
"""
from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tools.openai_api_sim.generator import (  # noqa: E402
    default_org, fingerprint, make_event, service_account_actor, session_actor, user_key_actor)

HERE = Path(__file__).resolve().parent
SAMPLES = HERE / "samples"
LOOKUPS = HERE / "lookups"

NOW = 1795618800  # 2026-11-25T15:00:00Z, a Wednesday
MIN = 60
HOUR = 3600
DAY = 86400

ORG = default_org()
ALICE, BOB, CAROL, DAVE, ERIN, FRANK = ORG.admins[:6]
USERS = ORG.users
PROD_CHAT = ORG.projects[1]     # prod-chat: production in the test lookup
STAGING_CHAT = ORG.projects[2]  # staging-chat: not production
DEV_CHAT = ORG.projects[3]
PROD_SEARCH = ORG.projects[5]   # prod-search: production in the test lookup
AUTOMATION_SA = ORG.service_accounts[0]  # on the automation list of the tests
OTHER_SA = ORG.service_accounts[1]       # not on it
ORG_ID = "org-" + "Acme0000000000000000000"

HQ_IP = "203.0.113.20"
NYC_IP = "198.51.100.30"
HOME_IP = "192.0.2.44"
DE_IP = "185.220.101.7"
RU_IP = "45.155.205.10"
SG_IP = "103.251.167.9"
NL_IP = "89.248.165.3"

_rng = random.Random(20261125)


def _iso(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(epoch))


def ev(event_type, at, *, actor, payload=None, project=None, indexed=None, no_payload=False):
    """One audit log object at NOW+at seconds (at is negative), indexed at NOW+indexed if given."""
    kwargs = {"rng": _rng, "effective_at": NOW + at, "actor": actor, "project": project}
    if no_payload:
        kwargs["payload"] = None
    elif payload is not None:
        kwargs["payload"] = payload
    obj = make_event(event_type, **kwargs)
    if indexed is not None:
        obj["_indextime"] = NOW + indexed
    return obj


def sess(user, ip, device=0):
    return session_actor(user, ip, device=device)


def key(user):
    return user_key_actor(user)


def sa(account):
    return service_account_actor(account)


# ----------------------------------------------------------------------------- scenarios
# Each returns (true_positives, near_misses, baseline_history_or_None).

def scim():
    tp = [
        ev("scim.enabled", -2 * HOUR, actor=sess(BOB, HQ_IP), payload={"id": ORG_ID}),
        ev("scim.disabled", -8 * MIN, actor=sess(ALICE, DE_IP, 7), payload={"id": ORG_ID}),
        # null actor, and indexed three hours late: still seen once, in this run
        ev("scim.disabled", -3 * HOUR, actor=None, payload={"id": ORG_ID}, indexed=-7 * MIN),
        # collected three days late after an outage: a disable, and the re-enable 20 minutes later
        ev("scim.disabled", -3 * DAY, actor=sess(CAROL, HQ_IP), payload={"id": ORG_ID}, indexed=-8 * MIN),
        ev("scim.enabled", -3 * DAY + 20 * MIN, actor=sess(CAROL, HQ_IP), payload={"id": ORG_ID}, indexed=-8 * MIN),
    ]
    fp = [
        # an enable with no disable in the 24 hours before it
        ev("scim.enabled", -8 * MIN, actor=sess(BOB, HQ_IP), payload={"id": ORG_ID}),
        # indexed in the previous run's window, and a disable that belongs to the next run
        ev("scim.enabled", -13 * MIN, actor=sess(CAROL, HQ_IP), payload={"id": ORG_ID}, indexed=-12 * MIN),
        ev("scim.disabled", -6 * MIN, actor=sess(CAROL, HQ_IP), payload={"id": ORG_ID}, indexed=-4 * MIN),
        # an enable 30 hours after the last disable is not a toggle
        ev("scim.disabled", -2 * DAY, actor=sess(DAVE, HQ_IP), payload={"id": ORG_ID}, indexed=-2 * DAY),
        ev("scim.enabled", -18 * HOUR, actor=sess(DAVE, HQ_IP), payload={"id": ORG_ID}, indexed=-7 * MIN),
    ]
    return tp, fp, None


def allowlist_disabled():
    history = [ev("ip_allowlist.created", -5 * DAY, actor=sess(BOB, HQ_IP),
                   payload={"id": "ipal_office0000000000000001", "name": "office-egress",
                            "allowed_ips": ["203.0.113.0/24", "198.51.100.0/24"]})]
    tp = [
        ev("ip_allowlist.config.deactivated", -7 * MIN, actor=sess(ALICE, DE_IP, 7),
           payload={"configs": [{"id": "ipal_office0000000000000001", "name": "office-egress"}]}),
        ev("ip_allowlist.deleted", -1 * DAY, actor=sa(OTHER_SA), indexed=-6 * MIN,
           payload={"id": "ipal_vpn000000000000000002", "name": "vpn-egress",
                    "allowed_ips": ["198.51.100.0/24"]}),
    ]
    fp = [
        ev("ip_allowlist.config.activated", -7 * MIN, actor=sess(BOB, HQ_IP),
           payload={"configs": [{"id": "ipal_office0000000000000001", "name": "office-egress"}]}),
        ev("ip_allowlist.updated", -7 * MIN, actor=sess(BOB, HQ_IP),
           payload={"id": "ipal_office0000000000000001", "allowed_ips": ["203.0.113.0/24"]}),
        ev("ip_allowlist.config.deactivated", -12 * MIN, actor=sess(CAROL, HQ_IP),
           payload={"configs": [{"id": "ipal_office0000000000000001", "name": "office-egress"}]}),
    ]
    return tp, fp, history


def allowlist_broadened():
    padding = ["203.0.113.%d/32" % (i % 256) if i < 256 else "198.51.100.%d/32" % (i % 256) for i in range(400)]
    history = [
        ev("ip_allowlist.created", -2 * DAY, actor=sess(BOB, HQ_IP),
           payload={"id": "ipal_F00000000000000000000006", "name": "office", "allowed_ips": ["203.0.113.0/24"]}),
        ev("ip_allowlist.created", -2 * DAY, actor=sess(BOB, HQ_IP),
           payload={"id": "ipal_G00000000000000000000007", "name": "vendor",
                    "allowed_ips": ["45.155.205.0/24", "203.0.113.0/24"]}),
        ev("ip_allowlist.created", -2 * DAY, actor=sess(BOB, HQ_IP),
           payload={"id": "ipal_P00000000000000000000008", "name": "hosts", "allowed_ips": padding}),
    ]
    tp = [
        ev("ip_allowlist.updated", -7 * MIN, actor=sess(ALICE, DE_IP, 7),
           payload={"id": "ipal_A00000000000000000000001", "allowed_ips": ["203.0.113.0/24", "0.0.0.0/0"]}),
        ev("ip_allowlist.created", -8 * MIN, actor=sess(BOB, HQ_IP),
           payload={"id": "ipal_B00000000000000000000002", "name": "ipv6-any", "allowed_ips": ["::/0"]}),
        ev("ip_allowlist.updated", -9 * MIN, actor=key(CAROL),
           payload={"id": "ipal_C00000000000000000000003",
                    "allowed_ips": ["10.0.0.0/8", "192.0.2.0/24", "203.0.113.0/24"]}),
        # two halves make the whole IPv4 space
        ev("ip_allowlist.updated", -9 * MIN, actor=sess(DAVE, HQ_IP),
           payload={"id": "ipal_F00000000000000000000006",
                    "allowed_ips": ["203.0.113.0/24", "0.0.0.0/1", "128.0.0.0/1"]}),
        # one range added after 400 known addresses: past the 5,000-byte automatic extraction limit
        ev("ip_allowlist.updated", -8 * MIN, actor=sess(ERIN, HQ_IP),
           payload={"id": "ipal_P00000000000000000000008", "allowed_ips": padding + ["89.248.165.0/24"]}),
        # IPv6 any-address beside an IPv4 /24: the /24 is judged on its own family's coverage
        ev("ip_allowlist.created", -9 * MIN, actor=sa(OTHER_SA),
           payload={"id": "ipal_V00000000000000000000010", "name": "vendor", "allowed_ips": ["185.220.101.0/24", "::/0"]}),
        # frank's change is approved (ticket CHG0003): kept, informational
        ev("ip_allowlist.updated", -7 * MIN, actor=sess(FRANK, HQ_IP),
           payload={"id": "ipal_H00000000000000000000009", "allowed_ips": ["89.248.165.0/24"]}),
    ]
    fp = [
        # inside the corporate ranges: a narrower subnet, a single address, an IPv6 /48 in the /32,
        # and the corporate /16 and IPv6 /32 themselves (containment is checked before prefix length)
        ev("ip_allowlist.updated", -7 * MIN, actor=sess(BOB, HQ_IP),
           payload={"id": "ipal_D00000000000000000000004",
                    "allowed_ips": ["203.0.113.0/24", "198.51.100.128/25", "203.0.113.7", "172.16.0.0/16"]}),
        ev("ip_allowlist.created", -8 * MIN, actor=sess(BOB, HQ_IP),
           payload={"id": "ipal_E00000000000000000000005", "name": "v6-office",
                    "allowed_ips": ["2001:db8:5::/48", "2001:DB8::/32"]}),
        # any-address, but in the previous run's window
        ev("ip_allowlist.updated", -11 * MIN, actor=sess(ALICE, DE_IP, 7),
           payload={"id": "ipal_A00000000000000000000001", "allowed_ips": ["0.0.0.0/0"]}),
        # the vendor range was already on this list: only a corporate range is added
        ev("ip_allowlist.updated", -8 * MIN, actor=sess(CAROL, HQ_IP),
           payload={"id": "ipal_G00000000000000000000007",
                    "allowed_ips": ["45.155.205.0/24", "203.0.113.0/24", "198.51.100.0/25"]}),
        # a partner range from openai_approved_allowlist_ranges
        ev("ip_allowlist.updated", -9 * MIN, actor=sess(CAROL, HQ_IP),
           payload={"id": "ipal_F00000000000000000000006", "allowed_ips": ["203.0.113.0/24", "198.18.4.0/24"]}),
    ]
    return tp, fp, history


def role_permissions():
    tp = [
        ev("role.updated", -10 * MIN, actor=sess(ALICE, HQ_IP),
           payload={"id": "role_ops000000000000000000001", "changes_requested": {
               "role_name": "ops-operator", "resource_id": PROD_CHAT["id"], "resource_type": "api.project",
               "permissions_added": ["api.organization.projects.api_keys.write", "api.files.read"],
               "permissions_removed": []}}),
        ev("role.updated", -11 * MIN, actor=sess(BOB, HQ_IP),
           payload={"id": "role_ml0000000000000000000002", "changes_requested": {
               "resource_id": DEV_CHAT["id"], "resource_type": "api.project",
               "permissions_added": ["api.fine_tuning.jobs.write"], "permissions_removed": []}}),
        ev("role.updated", -12 * MIN, actor=sess(CAROL, HQ_IP),
           payload={"id": "role_rd0000000000000000000003", "changes_requested": {
               "resource_id": DEV_CHAT["id"], "resource_type": "api.project",
               "permissions_added": ["api.files.read"], "permissions_removed": []}}),
    ]
    fp = [
        ev("role.updated", -10 * MIN, actor=sess(ALICE, HQ_IP),
           payload={"id": "role_ops000000000000000000001", "changes_requested": {
               "resource_id": PROD_CHAT["id"], "resource_type": "api.project",
               "permissions_added": [], "permissions_removed": ["api.files.write"]}}),
        ev("role.updated", -11 * MIN, actor=sess(ALICE, HQ_IP),
           payload={"id": "role_ops000000000000000000001", "changes_requested": {
               "description": "Adjusted for quarterly access review"}}),
        ev("role.created", -12 * MIN, actor=sess(BOB, HQ_IP),
           payload={"id": "role_new000000000000000000004", "role_name": "new-operator",
                    "permissions": ["api.organization.projects.api_keys.write"],
                    "resource_type": "api.project", "resource_id": DEV_CHAT["id"]}),
    ]
    return tp, fp, None


def role_assignment():
    tp = [
        ev("role.assignment.created", -10 * MIN, actor=sess(ALICE, HQ_IP), project=PROD_CHAT,
           payload={"id": "ra_000000000000000000000001", "principal_id": FRANK["id"],
                    "principal_type": "user", "resource_id": PROD_CHAT["id"], "resource_type": "api.project"}),
        ev("role.assignment.created", -2 * DAY, actor=None, project=PROD_SEARCH, indexed=-15 * MIN,
           payload={"id": "ra_000000000000000000000002", "principal_id": "group_0000000000000000000007",
                    "principal_type": "group", "resource_id": PROD_SEARCH["id"], "resource_type": "api.project"}),
    ]
    fp = [
        ev("role.assignment.created", -10 * MIN, actor=sess(ALICE, HQ_IP), project=STAGING_CHAT,
           payload={"id": "ra_000000000000000000000003", "principal_id": FRANK["id"],
                    "principal_type": "user", "resource_id": STAGING_CHAT["id"], "resource_type": "api.project"}),
        ev("role.assignment.deleted", -11 * MIN, actor=sess(ALICE, HQ_IP), project=PROD_CHAT,
           payload={"id": "ra_000000000000000000000001", "principal_id": FRANK["id"],
                    "principal_type": "user", "resource_id": PROD_CHAT["id"], "resource_type": "api.project"}),
    ]
    return tp, fp, None


def api_call_logging():
    org2 = "org-" + "Beta0000000000000000000"
    # the baseline's last project lists, from yesterday
    history = [
        ev("organization.updated", -DAY, actor=sess(ALICE, HQ_IP), payload={"id": ORG_ID, "changes_requested": {
            "api_call_logging_project_ids": [PROD_CHAT["id"], PROD_SEARCH["id"], DEV_CHAT["id"]]}}),
        ev("organization.updated", -DAY, actor=sess(ALICE, HQ_IP), payload={"id": org2, "changes_requested": {
            "api_call_logging_project_ids": [PROD_CHAT["id"], PROD_SEARCH["id"]]}}),
    ]
    tp = [
        ev("organization.updated", -7 * MIN, actor=sess(ALICE, DE_IP, 7),
           payload={"id": ORG_ID, "changes_requested": {"api_call_logging": "disabled"}}),
        # the project list as the spec types it: a string
        ev("organization.updated", -8 * MIN, actor=sess(BOB, HQ_IP),
           payload={"id": ORG_ID, "changes_requested": {
               "api_call_logging": "enabled_for_selected_projects",
               "api_call_logging_project_ids": "%s, %s" % (PROD_CHAT["id"], DEV_CHAT["id"])}}),
        # and as an array, naming both production projects
        ev("organization.updated", -9 * MIN, actor=sess(CAROL, HQ_IP),
           payload={"id": ORG_ID, "changes_requested": {
               "api_call_logging": "enabled_for_selected_projects",
               "api_call_logging_project_ids": [PROD_CHAT["id"], PROD_SEARCH["id"]]}}),
        ev("organization.updated", -9 * MIN, actor=key(DAVE),
           payload={"id": ORG_ID, "changes_requested": {"api_call_logging": "enabled_per_call"}}),
        # only the project list changes. Two hours ago staging-chat was added (not a reduction); now
        # erin drops prod-search and staging-chat: judged against the list of two hours ago
        ev("organization.updated", -2 * HOUR, actor=sess(DAVE, HQ_IP), payload={"id": ORG_ID, "changes_requested": {
            "api_call_logging_project_ids": [PROD_CHAT["id"], PROD_SEARCH["id"], DEV_CHAT["id"], STAGING_CHAT["id"]]}}),
        ev("organization.updated", -6 * MIN, actor=sess(ERIN, HQ_IP),
           payload={"id": ORG_ID, "changes_requested": {"api_call_logging_project_ids": [PROD_CHAT["id"], DEV_CHAT["id"]]}}),
        # frank drops prod-search from the second organization's list: judged against the baseline
        ev("organization.updated", -7 * MIN, actor=sess(FRANK, HQ_IP),
           payload={"id": org2, "changes_requested": {"api_call_logging_project_ids": [PROD_CHAT["id"]]}}),
    ]
    fp = [
        ev("organization.updated", -7 * MIN, actor=sess(ALICE, HQ_IP),
           payload={"id": ORG_ID, "changes_requested": {"api_call_logging": "enabled_for_all_projects"}}),
        ev("organization.updated", -8 * MIN, actor=sess(BOB, HQ_IP),
           payload={"id": ORG_ID, "changes_requested": {"title": "Acme Corp"}}),
        ev("organization.updated", -13 * MIN, actor=sess(CAROL, HQ_IP),
           payload={"id": ORG_ID, "changes_requested": {"api_call_logging": "disabled"}}),
        # a project list that only grows, compared with the baseline
        ev("organization.updated", -6 * MIN, actor=sess(DAVE, HQ_IP), payload={"id": ORG_ID, "changes_requested": {
            "api_call_logging_project_ids": [PROD_CHAT["id"], PROD_SEARCH["id"], DEV_CHAT["id"], STAGING_CHAT["id"]]}}),
    ]
    return tp, fp, history


def owner_service_account():
    # the projects the organization has shown (known-projects baseline)
    history = [ev("api_key.created", -20 * DAY, actor=sess(BOB, HQ_IP), project=DEV_CHAT,
                  payload={"id": "key_hist00000000001", "data": {"scopes": ["api.model.request"]}})]
    # carol, erin and frank have created service accounts before (baseline of service account creators)
    history += [ev("service_account.created", -5 * DAY, actor=sess(u, HQ_IP), project=DEV_CHAT,
                   payload={"id": "svc_acct_earlier%014d" % i, "data": {"role": "member"}})
                for i, u in enumerate((CAROL, ERIN, FRANK))]
    tp = [
        # created by a service account's key during working hours: critical
        ev("service_account.created", -10 * MIN, actor=sa(OTHER_SA), project=DEV_CHAT,
           payload={"id": "svc_acct_evil00000000000000001", "data": {"role": "owner"}}),
        # promoted to owner on Sunday 03:00, indexed three days later: off hours, critical
        ev("service_account.updated", -(3 * DAY + 12 * HOUR), actor=sess(ALICE, HQ_IP), project=DEV_CHAT,
           indexed=-12 * MIN,
           payload={"id": "svc_acct_old000000000000000003", "changes_requested": {"role": "owner"}}),
        # owner created by a person who has created service accounts before, working hours, a known
        # project that is not production: high
        ev("service_account.created", -13 * MIN, actor=sess(CAROL, HQ_IP), project=DEV_CHAT,
           payload={"id": "svc_acct_new000000000000000004", "data": {"role": "owner"}}),
        # the identity list puts erin in research, not the platform team
        ev("service_account.created", -13 * MIN, actor=sess(ERIN, HQ_IP), project=DEV_CHAT,
           payload={"id": "svc_acct_erin00000000000000006", "data": {"role": "owner"}}),
        # a project the organization has never shown
        ev("service_account.created", -12 * MIN, actor=sess(FRANK, HQ_IP),
           project={"id": "proj_Unknown000000000000001", "name": "side-project"},
           payload={"id": "svc_acct_frank0000000000000007", "data": {"role": "owner"}}),
        # in a production project: critical
        ev("service_account.created", -14 * MIN, actor=sess(DAVE, HQ_IP), project=PROD_CHAT,
           payload={"id": "svc_acct_prod00000000000000005", "data": {"role": "owner"}}),
    ]
    fp = [
        ev("service_account.created", -11 * MIN, actor=sess(BOB, HQ_IP), project=DEV_CHAT,
           payload={"id": "svc_acct_ci000000000000000000002", "data": {"role": "member"}}),
        ev("service_account.updated", -10 * MIN, actor=sess(ALICE, HQ_IP), project=DEV_CHAT,
           payload={"id": "svc_acct_old000000000000000003", "changes_requested": {"role": "member"}}),
        ev("service_account.deleted", -11 * MIN, actor=sess(ALICE, HQ_IP), project=DEV_CHAT,
           payload={"id": "svc_acct_old000000000000000003"}),
        ev("service_account.created", -3 * MIN, actor=sess(CAROL, HQ_IP), project=DEV_CHAT,
           payload={"id": "svc_acct_next00000000000000005", "data": {"role": "owner"}}),
    ]
    return tp, fp, history


def service_account():
    tp = [
        ev("service_account.created", -11 * MIN, actor=sess(BOB, HQ_IP), project=DEV_CHAT,
           payload={"id": "svc_acct_ci000000000000000000002", "data": {"role": "member"}}),
        ev("service_account.created", -12 * MIN, actor=key(CAROL), project=STAGING_CHAT,
           payload={"id": "svc_acct_ci000000000000000000006", "data": {"role": "member"}}),
    ]
    fp = [
        ev("service_account.created", -10 * MIN, actor=sa(OTHER_SA), project=DEV_CHAT,
           payload={"id": "svc_acct_evil00000000000000001", "data": {"role": "owner"}}),
        ev("service_account.updated", -11 * MIN, actor=sess(ALICE, HQ_IP), project=DEV_CHAT,
           payload={"id": "svc_acct_old000000000000000003", "changes_requested": {"role": "member"}}),
        ev("service_account.created", -25 * MIN, actor=sess(BOB, HQ_IP), project=DEV_CHAT,
           payload={"id": "svc_acct_ci000000000000000000007", "data": {"role": "member"}}),
    ]
    return tp, fp, None


def byok():
    tp = [
        ev("external_key.removed", -7 * MIN, actor=sess(ALICE, DE_IP, 7), payload={"id": "ekey_prod0000000000000000001"}),
        ev("external_storage.registered", -8 * MIN, actor=None,
           payload={"id": "estore_0000000000000000000002", "data": {"geography": "us", "provider": "s3"}}),
        # a custodian registers a key that is not on the expected list
        ev("external_key.registered", -6 * MIN, actor=sess(CAROL, HQ_IP),
           payload={"id": "ekey_rogue0000000000000000006", "data": {"provider": "aws_kms"}}),
        # bob removes an expected key inside an approved change window: kept, with its ticket, informational
        ev("external_key.removed", -9 * MIN, actor=sess(BOB, HQ_IP), payload={"id": "ekey_prod0000000000000000005"}),
        # dave's approved window for external storage ended two days ago: full severity
        ev("external_storage.removed", -9 * MIN, actor=sess(DAVE, HQ_IP), payload={"id": "estore_0000000000000000000007"}),
    ]
    fp = [
        # an expected key registered, and an unlisted old key removed, by the custodian
        ev("external_key.registered", -7 * MIN, actor=sess(CAROL, HQ_IP),
           payload={"id": "ekey_new00000000000000000003", "data": {"provider": "aws_kms"}}),
        ev("external_key.removed", -8 * MIN, actor=sess(CAROL, HQ_IP), payload={"id": "ekey_old00000000000000000004"}),
    ]
    return tp, fp, None


def key_burst():
    tp = []
    # alice: 3 keys indexed earlier this hour, 2 in this run's window -> the 5th crosses now
    for i, at in enumerate((-55, -50, -40, -18, -15)):
        tp.append(ev("api_key.created", at * MIN, actor=sess(ALICE, HQ_IP), project=DEV_CHAT,
                     payload={"id": "key_alice%07d" % i, "data": {"scopes": ["api.model.request"]}}))
    # bob: 4 keys at 10:xx indexed then, a 5th of 10:40 indexed late in this window
    for i, at in enumerate((-5 * HOUR + 0, -5 * HOUR + 300, -5 * HOUR + 600, -5 * HOUR + 900)):
        tp.append(ev("api_key.created", at, actor=key(BOB), project=DEV_CHAT,
                     payload={"id": "key_bob%09d" % i, "data": {"scopes": ["api.model.request"]}}))
    tp.append(ev("api_key.created", -5 * HOUR + 2400, actor=key(BOB), project=DEV_CHAT, indexed=-10 * MIN,
                 payload={"id": "key_bob%09d" % 4, "data": {"scopes": ["api.model.request"]}}))
    fp = []
    # carol: 6 keys in the 13:00 hour, all indexed before this window (reported by an earlier run)
    for i in range(6):
        fp.append(ev("api_key.created", -2 * HOUR + i * 300, actor=sess(CAROL, HQ_IP), project=DEV_CHAT,
                     payload={"id": "key_carol%07d" % i, "data": {"scopes": ["api.model.request"]}}))
    # dave: 4 keys, under the threshold
    for i in range(4):
        fp.append(ev("api_key.created", (-19 + i) * MIN, actor=sess(DAVE, HQ_IP), project=DEV_CHAT,
                     payload={"id": "key_dave%08d" % i, "data": {"scopes": ["api.model.request"]}}))
    # erin: 5 keys within 75 minutes, but never 5 within 60
    for i, at in enumerate((-90, -88, -86, -19, -17)):
        fp.append(ev("api_key.created", at * MIN, actor=sess(ERIN, HQ_IP), project=DEV_CHAT,
                     payload={"id": "key_erin%08d" % i, "data": {"scopes": ["api.model.request"]}}))
    return tp, fp, None


def key_by_key_or_external():
    # erin logs in from home (ASN 7922) regularly: the login geography baseline knows that network
    history = [succeeded(ERIN, -d * DAY, HOME_IP) for d in (20, 9, 2)]
    tp = [
        ev("api_key.created", -10 * MIN, actor=key(ALICE), project=DEV_CHAT,
           payload={"id": "key_minted000000001", "data": {"scopes": ["api.model.request"]}}),
        ev("api_key.created", -11 * MIN, actor=sess(BOB, RU_IP, 3), project=DEV_CHAT,
           payload={"id": "key_external0000002", "data": {"scopes": ["api.model.request"]}}),
        # from her home network: low severity (risk only)
        ev("api_key.created", -12 * MIN, actor=sess(ERIN, HOME_IP), project=DEV_CHAT,
           payload={"id": "key_home00000000005", "data": {"scopes": ["api.model.request"]}}),
    ]
    fp = [
        ev("api_key.created", -10 * MIN, actor=sess(CAROL, HQ_IP), project=DEV_CHAT,
           payload={"id": "key_office000000003", "data": {"scopes": ["api.model.request"]}}),
        ev("api_key.created", -11 * MIN, actor=None, project=DEV_CHAT,
           payload={"id": "key_noactor00000004", "data": {"scopes": ["api.model.request"]}}),
        ev("api_key.updated", -12 * MIN, actor=key(ALICE), project=DEV_CHAT,
           payload={"id": "key_minted000000001", "changes_requested": {"scopes": ["api.model.read"]}}),
        # the automation list's service account rotates keys with its own key
        ev("api_key.created", -13 * MIN, actor=sa(AUTOMATION_SA), project=PROD_CHAT,
           payload={"id": "key_rotated00000006", "data": {"scopes": ["api.model.request"]}}),
    ]
    return tp, fp, history


def sensitive_scope():
    tp = [
        ev("api_key.created", -10 * MIN, actor=sess(ALICE, HQ_IP), project=DEV_CHAT,
           payload={"id": "key_scope0000000001", "data": {"scopes": ["api.model.read", "api.files.write"]}}),
        # the schema's spelling
        ev("api_key.updated", -11 * MIN, actor=sess(BOB, HQ_IP), project=DEV_CHAT,
           payload={"id": "key_scope0000000002", "changes_requested": {
               "scopes": ["api.fine_tuning.jobs.write"], "expires_in_seconds": 86400}}),
        # the API reference example's spelling
        ev("api_key.updated", -12 * MIN, actor=sess(CAROL, HQ_IP), project=DEV_CHAT,
           payload={"id": "key_scope0000000003", "data": {"scopes": ["api.files.write"]}}),
    ]
    fp = [
        ev("api_key.created", -10 * MIN, actor=sess(ALICE, HQ_IP), project=DEV_CHAT,
           payload={"id": "key_scope0000000004", "data": {"scopes": ["api.model.read", "api.files.read"]}}),
        ev("api_key.updated", -11 * MIN, actor=sess(BOB, HQ_IP), project=DEV_CHAT,
           payload={"id": "key_scope0000000002", "changes_requested": {"expires_in_seconds": 86400}}),
        ev("api_key.updated", -21 * MIN, actor=sess(CAROL, HQ_IP), project=DEV_CHAT,
           payload={"id": "key_scope0000000003", "changes_requested": {"scopes": ["api.files.write"]}}),
    ]
    return tp, fp, None


def unseen_fingerprint():
    history = [ev("login.succeeded", -d * DAY, actor=sess(u, HQ_IP), no_payload=True)
               for d in (20, 10, 2) for u in (ALICE, BOB, CAROL)]
    # dave's history is two days old: still in the learning period
    history += [ev("login.succeeded", -d * DAY, actor=sess(DAVE, HQ_IP), no_payload=True) for d in (2, 1.5, 1)]
    # frank: 20 days ago, but a single session
    history += [ev("login.succeeded", -20 * DAY, actor=sess(FRANK, HQ_IP), no_payload=True)]
    usual = fingerprint(CAROL["email"], 0)
    no_ja4 = sess(BOB, HOME_IP, 9)
    del no_ja4["session"]["ja4"]
    tp = [
        # alice's account, a TLS client never seen for her, from home, changing the allowlist
        ev("ip_allowlist.updated", -8 * MIN, actor=sess(ALICE, HOME_IP, 7),
           payload={"id": "ipal_office0000000000000001", "allowed_ips": ["203.0.113.0/24"]}),
        # a client without JA4: judged on its JA3
        ev("rate_limit.deleted", -9 * MIN, actor=no_ja4,
           payload={"id": "rl-o3-prodchat"}),
    ]
    fp = [
        # her usual client, from home
        ev("ip_allowlist.updated", -8 * MIN, actor=sess(ALICE, HOME_IP),
           payload={"id": "ipal_office0000000000000001", "allowed_ips": ["203.0.113.0/24"]}),
        # carol's usual browser with a shuffled JA3 (Chrome >= 110) and her JA4 upper-cased: same JA4
        ev("role.updated", -9 * MIN, actor=session_actor(CAROL, HOME_IP, fp=dict(
            usual, ja3="0" * 32, ja4=usual["ja4"].upper())),
           payload={"id": "role_ops000000000000000000001", "changes_requested": {"permissions_added": ["api.files.read"]}}),
        # bob's new laptop logged in an hour ago (already indexed), then made a change
        ev("login.succeeded", -60 * MIN, actor=sess(BOB, HOME_IP, 5), no_payload=True),
        ev("rate_limit.deleted", -9 * MIN, actor=sess(BOB, HOME_IP, 5), payload={"id": "rl-o3-prodchat"}),
        # carol's new client, but only logging in (not a sensitive change)
        ev("login.succeeded", -10 * MIN, actor=sess(CAROL, HOME_IP, 4), no_payload=True),
        # a new client on the corporate network (HQ range), and one behind the corporate VPN's ASN
        ev("invite.sent", -10 * MIN, actor=sess(ALICE, HQ_IP, 6),
           payload={"id": "invite-fp01", "data": {"email": "new.hire@example.com", "role": "member"}}),
        ev("invite.sent", -10 * MIN, actor=sess(ALICE, NL_IP, 8),
           payload={"id": "invite-fp02", "data": {"email": "new.hire2@example.com", "role": "member"}}),
        # no history at all, too young a history, too few sessions: not judged yet
        ev("role.updated", -9 * MIN, actor=sess(ERIN, HOME_IP),
           payload={"id": "role_ops000000000000000000001", "changes_requested": {"permissions_added": ["api.files.read"]}}),
        ev("role.updated", -9 * MIN, actor=sess(DAVE, HOME_IP, 3),
           payload={"id": "role_ops000000000000000000001", "changes_requested": {"permissions_added": ["api.files.read"]}}),
        ev("role.updated", -9 * MIN, actor=sess(FRANK, HOME_IP, 3),
           payload={"id": "role_ops000000000000000000001", "changes_requested": {"permissions_added": ["api.files.read"]}}),
        # an API key has no TLS fingerprint
        ev("scim.disabled", -11 * MIN, actor=key(DAVE), payload={"id": ORG_ID}),
    ]
    return tp, fp, history


def many_fingerprints():
    tp = [
        ev("login.succeeded", -50 * MIN, actor=sess(ALICE, HQ_IP, 0), no_payload=True),
        ev("login.succeeded", -45 * MIN, actor=sess(ALICE, HOME_IP, 1), no_payload=True),
        ev("api_key.created", -10 * MIN, actor=sess(ALICE, DE_IP, 7), project=DEV_CHAT,
           payload={"id": "key_fp0000000000001", "data": {"scopes": ["api.model.read"]}}),
    ]
    fp = [
        ev("login.succeeded", -50 * MIN, actor=sess(BOB, HQ_IP, 0), no_payload=True),
        ev("login.succeeded", -10 * MIN, actor=sess(BOB, HOME_IP, 1), no_payload=True),
        ev("login.succeeded", -9 * MIN, actor=sess(BOB, HQ_IP, 0), no_payload=True),
        # three clients, but all indexed before this window (an earlier run reported it)
        ev("login.succeeded", -55 * MIN, actor=sess(CAROL, HQ_IP, 0), no_payload=True),
        ev("login.succeeded", -50 * MIN, actor=sess(CAROL, HQ_IP, 1), no_payload=True),
        ev("login.succeeded", -45 * MIN, actor=sess(CAROL, HQ_IP, 2), no_payload=True),
        ev("login.succeeded", -10 * MIN, actor=sess(CAROL, HQ_IP, 2), no_payload=True),
    ]
    return tp, fp, None


def rate_limit():
    rl_chat = "rl-gpt-4.1-Ku2HXqDs"
    rl_search = "rl-o3-bktGrfFb"
    history = [
        ev("rate_limit.updated", -2 * DAY, actor=sess(BOB, HQ_IP), project=PROD_SEARCH,
           payload={"id": rl_search, "changes_requested": {"max_tokens_per_1_minute": 200000}}),
    ]
    tp = [
        ev("rate_limit.updated", -2 * HOUR, actor=sess(BOB, HQ_IP), project=PROD_CHAT,
           payload={"id": rl_chat, "changes_requested": {"max_requests_per_1_minute": 500}}),
        ev("rate_limit.updated", -10 * MIN, actor=sess(ALICE, DE_IP, 7), project=PROD_CHAT,
           payload={"id": rl_chat, "changes_requested": {"max_requests_per_1_minute": 5000,
                                                         "max_tokens_per_1_minute": 2000000}}),
        # compared with the baseline (an update two days ago)
        ev("rate_limit.updated", -11 * MIN, actor=key(CAROL), project=PROD_SEARCH,
           payload={"id": rl_search, "changes_requested": {"max_tokens_per_1_minute": 1000000}}),
        ev("rate_limit.deleted", -12 * MIN, actor=sess(DAVE, HQ_IP), project=DEV_CHAT,
           payload={"id": "rl-o3-WaJg6U4Z"}),
        # never seen before, and above the absolute threshold (10,000 requests a minute)
        ev("rate_limit.updated", -13 * MIN, actor=sess(ERIN, HQ_IP), project=DEV_CHAT,
           payload={"id": "rl-gpt-4.1-Unseen01", "changes_requested": {"max_requests_per_1_minute": 50000}}),
    ]
    fp = [
        ev("rate_limit.updated", -2 * HOUR, actor=sess(BOB, HQ_IP), project=PROD_CHAT,
           payload={"id": rl_chat, "changes_requested": {"max_requests_per_1_minute": 500}}),
        ev("rate_limit.updated", -10 * MIN, actor=sess(BOB, HQ_IP), project=PROD_CHAT,
           payload={"id": rl_chat, "changes_requested": {"max_requests_per_1_minute": 1000}}),
        ev("rate_limit.updated", -11 * MIN, actor=sess(BOB, HQ_IP), project=PROD_SEARCH,
           payload={"id": rl_search, "changes_requested": {"max_tokens_per_1_minute": 100000}}),
        # a limit never seen before, set below the absolute threshold (1,000,000 a day)
        ev("rate_limit.updated", -12 * MIN, actor=sess(BOB, HQ_IP), project=DEV_CHAT,
           payload={"id": "rl-o3-WaJg6U4Z", "changes_requested": {"max_requests_per_1_day": 100000}}),
    ]
    return tp, fp, history


def prod_project_removed():
    tp = [
        ev("project.archived", -7 * MIN, actor=sess(ALICE, DE_IP, 7), project=PROD_CHAT,
           payload={"id": PROD_CHAT["id"]}),
        ev("project.deleted", -6 * HOUR, actor=None, project=PROD_SEARCH, indexed=-8 * MIN,
           payload={"id": PROD_SEARCH["id"]}),
    ]
    fp = [
        ev("project.archived", -7 * MIN, actor=sess(BOB, HQ_IP), project=DEV_CHAT, payload={"id": DEV_CHAT["id"]}),
        ev("project.updated", -8 * MIN, actor=sess(BOB, HQ_IP), project=PROD_CHAT,
           payload={"id": PROD_CHAT["id"], "changes_requested": {"title": "prod-chat (renamed)"}}),
    ]
    return tp, fp, None


def many_projects_removed():
    dev = [p for p in ORG.projects if p["name"].startswith(("dev-", "research-"))]
    tp = [
        ev("project.archived", -40 * MIN, actor=sess(ALICE, HQ_IP), project=dev[0], payload={"id": dev[0]["id"]}),
        ev("project.archived", -15 * MIN, actor=sess(ALICE, HQ_IP), project=dev[1], payload={"id": dev[1]["id"]}),
        ev("project.deleted", -14 * MIN, actor=sess(ALICE, HQ_IP), project=dev[2], payload={"id": dev[2]["id"]}),
    ]
    fp = [
        ev("project.archived", -15 * MIN, actor=sess(BOB, HQ_IP), project=dev[3], payload={"id": dev[3]["id"]}),
        ev("project.archived", -14 * MIN, actor=sess(BOB, HQ_IP), project=dev[4], payload={"id": dev[4]["id"]}),
        # the same project archived and deleted counts once
        ev("project.archived", -15 * MIN, actor=sess(CAROL, HQ_IP), project=dev[5], payload={"id": dev[5]["id"]}),
        ev("project.deleted", -14 * MIN, actor=sess(CAROL, HQ_IP), project=dev[5], payload={"id": dev[5]["id"]}),
        ev("project.archived", -13 * MIN, actor=sess(CAROL, HQ_IP), project=dev[6], payload={"id": dev[6]["id"]}),
    ]
    return tp, fp, None


def invitations():
    tp = []
    for i in range(8):  # alice: 8 earlier this hour ...
        tp.append(ev("invite.sent", (-58 + i * 4) * MIN, actor=sess(ALICE, HQ_IP),
                     payload={"id": "invite-a%02d" % i, "data": {"email": "hire%02d@example.com" % i, "role": "member"}}))
    for i in range(8, 10):  # ... and 2 in this window: 10 in the hour
        tp.append(ev("invite.sent", (-19 + i) * MIN, actor=sess(ALICE, HQ_IP),
                     payload={"id": "invite-a%02d" % i, "data": {"email": "hire%02d@example.com" % i, "role": "member"}}))
    for i in range(3):  # bob: 3 to outside domains
        tp.append(ev("invite.sent", (-15 + i) * MIN, actor=sess(BOB, HQ_IP),
                     payload={"id": "invite-b%02d" % i, "data": {"email": "friend%d@gmail.com" % i, "role": "member"}}))
    tp.append(ev("invite.sent", -10 * MIN, actor=sess(CAROL, HQ_IP),
                 payload={"id": "invite-c00", "data": {"email": "Boss@Outsider.NET", "role": "owner"}}))
    fp = []
    for i in range(2):
        fp.append(ev("invite.sent", (-15 + i) * MIN, actor=sess(DAVE, HQ_IP),
                     payload={"id": "invite-d%02d" % i, "data": {"email": "partner%d@gmail.com" % i, "role": "member"}}))
    for i in range(5):
        fp.append(ev("invite.sent", (-13 + i) * MIN, actor=sess(DAVE, HQ_IP),
                     payload={"id": "invite-d1%d" % i, "data": {"email": "new%d@example.com" % i, "role": "member"}}))
    fp.append(ev("invite.sent", -10 * MIN, actor=sess(ERIN, HQ_IP),
                 payload={"id": "invite-e00", "data": {"email": "cfo@eu.example.com", "role": "owner"}}))
    fp.append(ev("invite.sent", -25 * MIN, actor=sess(FRANK, HQ_IP),
                 payload={"id": "invite-f00", "data": {"email": "boss@outsider.net", "role": "owner"}}))
    return tp, fp, None


def tunnel():
    tp = [
        ev("tunnel.created", -10 * MIN, actor=sess(ALICE, HQ_IP), payload={"id": "tunnel_000000000000000001"}),
        ev("tunnel.deleted", -11 * MIN, actor=None, payload={"id": "tunnel_000000000000000002"}),
    ]
    fp = [
        ev("tunnel.updated", -10 * MIN, actor=sess(DAVE, HQ_IP), payload={"id": "tunnel_000000000000000001"}),
        ev("tunnel.created", -25 * MIN, actor=sess(ALICE, HQ_IP), payload={"id": "tunnel_000000000000000003"}),
    ]
    return tp, fp, None


def checkpoint():
    known = ORG.projects[7]
    history = [ev("api_key.created", -5 * DAY, actor=sess(BOB, HQ_IP), project=known,
                  payload={"id": "key_hist00000000001", "data": {"scopes": ["api.model.read"]}})]
    ckpt = "ft:gpt-4.1-mini-2025-04-14:acme::Xy12AbCd:ckpt-step-300"
    tp = [
        ev("checkpoint.permission.created", -10 * MIN, actor=sess(ALICE, DE_IP, 7), project=DEV_CHAT,
           payload={"id": "cp_000000000000000000000001", "data": {
               "project_id": "proj_Foreign00000000000000001", "fine_tuned_model_checkpoint": ckpt}}),
        # the older spelling of the type
        ev("checkpoint_permission.created", -11 * MIN, actor=key(BOB), project=DEV_CHAT,
           payload={"id": "cp_000000000000000000000002", "data": {
               "project_id": "proj_Foreign00000000000000002", "fine_tuned_model_checkpoint": ckpt}}),
    ]
    fp = [
        # a project the baseline knows
        ev("checkpoint.permission.created", -10 * MIN, actor=sess(CAROL, HQ_IP), project=DEV_CHAT,
           payload={"id": "cp_000000000000000000000003", "data": {
               "project_id": known["id"], "fine_tuned_model_checkpoint": ckpt}}),
        # a project created an hour ago (not yet in the baseline, but in the context)
        ev("project.created", -60 * MIN, actor=sess(CAROL, HQ_IP), project=None,
           payload={"id": "proj_Brandnew000000000000001", "data": {"name": "dev-new", "title": "dev-new"}}),
        ev("checkpoint.permission.created", -11 * MIN, actor=sess(CAROL, HQ_IP), project=DEV_CHAT,
           payload={"id": "cp_000000000000000000000004", "data": {
               "project_id": "proj_Brandnew000000000000001", "fine_tuned_model_checkpoint": ckpt}}),
        # a production project
        ev("checkpoint.permission.created", -12 * MIN, actor=sess(CAROL, HQ_IP), project=DEV_CHAT,
           payload={"id": "cp_000000000000000000000005", "data": {
               "project_id": PROD_SEARCH["id"], "fine_tuned_model_checkpoint": ckpt}}),
    ]
    return tp, fp, history


def cert_removed():
    tp = [
        ev("certificates.deactivated", -7 * MIN, actor=sess(ALICE, DE_IP, 7),
           payload={"certificates": [{"id": "cert_000000000000000000000001", "name": "mtls-gateway"},
                                     {"id": "cert_000000000000000000000002", "name": "mtls-edge"}]}),
        ev("certificate.deleted", -8 * MIN, actor=sess(BOB, HQ_IP),
           payload={"id": "cert_000000000000000000000003", "name": "mtls-ci",
                    "certificate": "-----BEGIN CERTIFICATE-----\nMIIBexample\n-----END CERTIFICATE-----\n"}),
    ]
    fp = [
        ev("certificates.activated", -7 * MIN, actor=sess(ALICE, HQ_IP),
           payload={"certificates": [{"id": "cert_000000000000000000000001", "name": "mtls-gateway"}]}),
        ev("certificate.updated", -8 * MIN, actor=sess(BOB, HQ_IP),
           payload={"id": "cert_000000000000000000000003", "name": "mtls-ci-2"}),
    ]
    return tp, fp, None


def cert_added():
    tp = [
        ev("certificate.created", -10 * MIN, actor=sess(ALICE, DE_IP, 7),
           payload={"id": "cert_000000000000000000000009", "name": "mtls-backdoor"}),
        ev("certificates.activated", -11 * MIN, actor=sa(OTHER_SA),
           payload={"certificates": [{"id": "cert_000000000000000000000009", "name": "mtls-backdoor"}]}),
    ]
    fp = [
        ev("certificate.created", -10 * MIN, actor=sess(DAVE, HQ_IP),
           payload={"id": "cert_000000000000000000000010", "name": "mtls-edge-2027"}),
        ev("certificates.activated", -11 * MIN, actor=sess(DAVE, HQ_IP),
           payload={"certificates": [{"id": "cert_000000000000000000000010", "name": "mtls-edge-2027"}]}),
    ]
    return tp, fp, None


def failed(user, at, ip, indexed=None, device=0):
    return ev("login.failed", at, actor=sess(user, ip, device), indexed=indexed,
              payload={"error_code": "invalid_credentials", "error_message": "Wrong email or password."})


def succeeded(user, at, ip, indexed=None, device=0):
    return ev("login.succeeded", at, actor=sess(user, ip, device), indexed=indexed, no_payload=True)


def failure_burst():
    # bucket 14:30-14:45: 9 failures indexed before the window, the 10th in it
    tp = [failed(ALICE, (-29 + i) * MIN, RU_IP) for i in range(9)] + [failed(ALICE, -19 * MIN, RU_IP)]
    # bob: 10 failures at 09:00-09:09, one of them indexed late in this window
    tp += [failed(BOB, -6 * HOUR + i * MIN, SG_IP) for i in range(9)]
    tp += [failed(BOB, -6 * HOUR + 9 * MIN, SG_IP, indexed=-12 * MIN)]
    fp = [failed(CAROL, (-29 + i) * MIN, HOME_IP) for i in range(9)]
    # dave: 10 failures, one every 2 minutes: never 10 within 15 minutes
    fp += [failed(DAVE, (-30 + 2 * i) * MIN, HOME_IP) for i in range(10)]
    return tp, fp, None


def password_spray():
    victims = USERS[20:25]
    tp = [failed(victims[i], (-50 + i) * MIN, RU_IP) for i in range(3)]
    tp += [failed(victims[i], (-15 + i) * MIN, RU_IP) for i in range(3, 5)]
    fp = [failed(USERS[30 + i], (-15 + i) * MIN, HQ_IP) for i in range(6)]      # corporate NAT
    fp += [failed(USERS[40 + i], (-15 + i) * MIN, NL_IP) for i in range(4)]     # 4 users only
    return tp, fp, None


def credential_stuffing():
    ips = ["45.155.205.%d" % n for n in (21, 22, 23)] + ["89.248.165.%d" % n for n in (31, 32)]
    tp = [failed(ALICE, (-29 + i) * MIN, ips[i]) for i in range(3)]
    tp += [failed(ALICE, (-18 + i) * MIN, ips[3 + i]) for i in range(2)]
    fp = [failed(BOB, (-18 + i) * MIN, ip) for i, ip in enumerate(["45.155.205.41", "45.155.205.42",
                                                                   "203.0.113.41", "203.0.113.42",
                                                                   "198.51.100.43"])]
    fp += [failed(CAROL, (-18 + i) * MIN, "89.248.165.%d" % (50 + i)) for i in range(4)]
    return tp, fp, None


def success_after_failures():
    tp = [failed(ALICE, (-19 + i) * MIN, RU_IP) for i in range(5)] + [succeeded(ALICE, -14 * MIN, RU_IP)]
    # bob: success at 13:00 indexed then; the 5 failures before it arrive late, in this window
    tp += [failed(BOB, -2 * HOUR - (10 - i) * MIN, SG_IP, indexed=-10 * MIN) for i in range(5)]
    tp += [succeeded(BOB, -2 * HOUR, SG_IP)]
    fp = [failed(CAROL, (-19 + i) * MIN, HOME_IP) for i in range(4)] + [succeeded(CAROL, -14 * MIN, HOME_IP)]
    # dave: the success comes 40 minutes after the first of the failures
    fp += [failed(DAVE, (-55 + i) * MIN, HOME_IP) for i in range(5)] + [succeeded(DAVE, -15 * MIN, HOME_IP)]
    # erin: 5 failures, a success, all indexed before this window (reported by an earlier run)
    fp += [failed(ERIN, (-40 + i) * MIN, HOME_IP) for i in range(5)] + [succeeded(ERIN, -34 * MIN, HOME_IP)]
    # frank: 5 failures, a success in between
    fp += [failed(FRANK, (-19 + i) * MIN, HOME_IP) for i in range(2)] + [succeeded(FRANK, -17 * MIN, HOME_IP)]
    fp += [failed(FRANK, (-16 + i) * MIN, HOME_IP) for i in range(3)] + [succeeded(FRANK, -12 * MIN, HOME_IP)]
    return tp, fp, None


def new_country():
    history = [succeeded(u, -d * DAY, HQ_IP) for d in (25, 12, 3) for u in (ALICE, BOB, CAROL, ERIN)]
    history += [succeeded(CAROL, -40 * DAY, DE_IP)]  # older than 30 days
    # dave's history is two days old: still in the learning period
    history += [succeeded(DAVE, -d * DAY, HQ_IP) for d in (2, 1.5, 1)]
    tp = [
        succeeded(ALICE, -10 * MIN, DE_IP, device=7),
        # carol was in Germany 40 days ago: that no longer counts
        succeeded(CAROL, -11 * MIN, DE_IP),
        # erin at home: a new ASN in a known country, low severity
        succeeded(ERIN, -12 * MIN, HOME_IP),
    ]
    fp = [
        succeeded(ALICE, -10 * MIN, HQ_IP),
        # a first login ever (no history): not reported
        succeeded(USERS[100], -11 * MIN, DE_IP),
        # too young a history
        succeeded(DAVE, -11 * MIN, DE_IP),
        # bob logged in from Germany an hour ago (already indexed): not new anymore
        succeeded(BOB, -70 * MIN, DE_IP),
        succeeded(BOB, -12 * MIN, DE_IP),
        # the corporate VPN's exit (its ASN is in openai_corporate_asns)
        succeeded(ERIN, -13 * MIN, NL_IP),
    ]
    return tp, fp, history


def impossible_travel():
    tp = [
        succeeded(ALICE, -40 * MIN, HOME_IP),
        succeeded(ALICE, -15 * MIN, RU_IP, device=7),
        # bob: Singapore at 10:00 indexed late (in this window), between two logins from home (Oakland)
        succeeded(BOB, -6 * HOUR, HOME_IP),
        succeeded(BOB, -5 * HOUR, SG_IP, indexed=-10 * MIN, device=3),
        succeeded(BOB, -4 * HOUR, HOME_IP),
    ]
    fp = [
        succeeded(CAROL, -7 * HOUR, HOME_IP),
        succeeded(CAROL, -15 * MIN, "192.0.2.200"),  # Brooklyn, 4,100 km in 6.75 h: 600 km/h
        succeeded(DAVE, -20 * MIN, HQ_IP),
        succeeded(DAVE, -15 * MIN, HOME_IP),      # 13 km
        succeeded(ERIN, -3 * HOUR, HOME_IP),
        succeeded(ERIN, -2 * HOUR, RU_IP),        # impossible, but judged by an earlier run
        # frank at home in Oakland, then through the corporate VPN in New York 5 minutes later
        succeeded(FRANK, -20 * MIN, HOME_IP),
        succeeded(FRANK, -15 * MIN, NYC_IP),
    ]
    return tp, fp, None


def outside_network():
    tp = [
        ev("ip_allowlist.updated", -10 * MIN, actor=sess(ALICE, DE_IP, 7),
           payload={"id": "ipal_office0000000000000001", "allowed_ips": ["203.0.113.0/24"]}),
        ev("rate_limit.updated", -11 * MIN, actor=sa(OTHER_SA), project=PROD_CHAT,
           payload={"id": "rl-gpt-4.1-Ku2HXqDs", "changes_requested": {"max_requests_per_1_minute": 600}}),
        ev("invite.sent", -12 * MIN, actor=sess(BOB, HOME_IP),
           payload={"id": "invite-x01", "data": {"email": "hire99@example.com", "role": "member"}}),
    ]
    fp = [
        ev("role.updated", -10 * MIN, actor=sa(AUTOMATION_SA),
           payload={"id": "role_ops000000000000000000001", "changes_requested": {"permissions_added": ["api.files.read"]}}),
        ev("ip_allowlist.updated", -11 * MIN, actor=sess(CAROL, HQ_IP),
           payload={"id": "ipal_office0000000000000001", "allowed_ips": ["203.0.113.0/24"]}),
        ev("login.succeeded", -12 * MIN, actor=sess(ALICE, DE_IP, 7), no_payload=True),
        ev("scim.disabled", -13 * MIN, actor=None, payload={"id": ORG_ID}),
        # through the corporate VPN provider's network (openai_corporate_asns)
        ev("ip_allowlist.updated", -12 * MIN, actor=sess(CAROL, NL_IP),
           payload={"id": "ipal_office0000000000000001", "allowed_ips": ["203.0.113.0/24"]}),
    ]
    return tp, fp, None


def owner_granted():
    target, newbie = USERS[60], USERS[61]
    # what the role assignment baseline knows: the target is a member of dev-chat and was assigned a
    # role on prod-chat that was later removed
    history = [
        ev("user.added", -10 * DAY, actor=sess(BOB, HQ_IP), project=DEV_CHAT,
           payload={"id": target["id"], "data": {"role": "member"}}),
        ev("role.assignment.created", -9 * DAY, actor=sess(BOB, HQ_IP),
           payload={"id": "ra_old0000000000000000001", "principal_id": target["id"], "principal_type": "user",
                    "resource_id": PROD_CHAT["id"], "resource_type": "api.project"}),
        ev("role.assignment.deleted", -8 * DAY, actor=sess(BOB, HQ_IP),
           payload={"id": "ra_old0000000000000000001", "principal_id": target["id"], "principal_type": "user",
                    "resource_id": PROD_CHAT["id"], "resource_type": "api.project"}),
    ]
    tp = [
        ev("role.assignment.created", -10 * MIN, actor=sess(ALICE, DE_IP, 7),
           payload={"id": "ra_org0000000000000000001", "principal_id": target["id"], "principal_type": "user",
                    "resource_id": ORG_ID, "resource_type": "api.organization"}),
        ev("user.updated", -11 * MIN, actor=sess(BOB, HQ_IP),
           payload={"id": newbie["id"], "changes_requested": {"role": "owner"}}),
        ev("user.added", -12 * MIN, actor=sess(CAROL, HQ_IP), project=PROD_CHAT,
           payload={"id": target["id"], "data": {"role": "owner"}}),
        ev("invite.sent", -12 * MIN, actor=sess(DAVE, HQ_IP),
           payload={"id": "invite-own01", "data": {"email": "new.owner@example.com", "role": "owner"}}),
        ev("role.created", -13 * MIN, actor=sess(ERIN, HQ_IP),
           payload={"id": "role_keys000000000000000001", "role_name": "key-admin", "resource_type": "api.organization",
                    "resource_id": ORG_ID, "permissions": ["api.organization.projects.api_keys.write", "api.files.read"]}),
        ev("role.created", -14 * MIN, actor=sess(FRANK, HQ_IP),
           payload={"id": "role_tune000000000000000001", "role_name": "tuner", "resource_type": "api.project",
                    "resource_id": DEV_CHAT["id"], "permissions": ["api.fine_tuning.jobs.write"]}),
    ]
    fp = [
        ev("role.assignment.created", -10 * MIN, actor=sess(ALICE, HQ_IP),
           payload={"id": "ra_proj000000000000000001", "principal_id": target["id"], "principal_type": "user",
                    "resource_id": DEV_CHAT["id"], "resource_type": "api.project"}),
        ev("user.added", -11 * MIN, actor=sess(BOB, HQ_IP), project=DEV_CHAT,
           payload={"id": newbie["id"], "data": {"role": "member"}}),
        ev("user.updated", -11 * MIN, actor=sess(BOB, HQ_IP),
           payload={"id": newbie["id"], "changes_requested": {"role": "member"}}),
        ev("invite.sent", -12 * MIN, actor=sess(DAVE, HQ_IP),
           payload={"id": "invite-mem01", "data": {"email": "new.member@example.com", "role": "member"}}),
        ev("role.created", -13 * MIN, actor=sess(ERIN, HQ_IP),
           payload={"id": "role_read000000000000000001", "role_name": "reader", "resource_type": "api.project",
                    "resource_id": DEV_CHAT["id"], "permissions": ["api.files.read", "api.model.read"]}),
    ]
    return tp, fp, history


def departed_employee():
    leaver, expired, future, active = USERS[50], USERS[51], USERS[52], USERS[53]
    tp = [
        # status terminated: a login from home
        succeeded(leaver, -10 * MIN, HOME_IP),
        # still "active" in the list, but the end date has passed: their user API key creates a key
        ev("api_key.created", -11 * MIN, actor=key(expired), project=DEV_CHAT,
           payload={"id": "key_leftover0000001", "data": {"scopes": ["api.model.request"]}}),
    ]
    fp = [
        # the terminated user fails to log in (no access gained) and logs out
        failed(leaver, -12 * MIN, HOME_IP),
        ev("logout.succeeded", -11 * MIN, actor=sess(leaver, HOME_IP), no_payload=True),
        # leaving tomorrow: still employed today
        succeeded(future, -10 * MIN, HQ_IP),
        # active, no end date; and someone the identity list does not know
        succeeded(active, -10 * MIN, HQ_IP),
        succeeded(USERS[54], -10 * MIN, HQ_IP),
    ]
    return tp, fp, None


def collection_gap():
    def indexed(at, user, source):
        e = ev("login.succeeded", at, actor=sess(user, HQ_IP), no_payload=True)
        return {"_raw": json.dumps(e, separators=(",", ":")), "_time": e["effective_at"],
                "_indextime": e["effective_at"], "source": source}
    tp = [
        # acme: nothing indexed for 6.5 hours -> "open", in the first hourly run past 6 hours
        indexed(-20 * HOUR, ALICE, "openai_audit:acme"), indexed(-(6 * HOUR + 30 * MIN), BOB, "openai_audit:acme"),
        # delta: 6h20m without events, ended 30 minutes ago, before any run saw it open -> "closed"
        indexed(-9 * HOUR, CAROL, "openai_audit:delta"), indexed(-(6 * HOUR + 50 * MIN), CAROL, "openai_audit:delta"),
        indexed(-30 * MIN, CAROL, "openai_audit:delta"),
    ]
    fp = [
        indexed(-2 * HOUR, CAROL, "openai_audit:acme"),                      # quiet for 2 hours
        indexed(-(5 * HOUR + 30 * MIN), DAVE, "openai_audit:beta"),          # 5.5 hours
        indexed(-20 * HOUR, ERIN, "openai_audit:gamma"),                     # reported 14 hours ago
        # a 6h40m gap that ended 50 minutes ago: the run an hour ago already reported it open
        indexed(-(7 * HOUR + 30 * MIN), FRANK, "openai_audit:epsilon"), indexed(-50 * MIN, FRANK, "openai_audit:epsilon"),
    ]
    return tp, fp, None


def risk_threshold():
    """Risk events as ES's risk action writes them (index=risk), not audit logs."""
    def risk(at, source, score, user, indexed=None):
        t = NOW + at
        raw = {"search_name": source, "risk_object": user, "risk_object_type": "user", "risk_score": score,
               "risk_message": "%s from %s" % (source, user), "threat_object": "185.220.101.7"}
        return {"_raw": json.dumps(raw, separators=(",", ":")), "_time": t,
                "_indextime": NOW + indexed if indexed is not None else t, "index": "risk",
                "source": source, "sourcetype": "stash", **{k: str(v) for k, v in raw.items()}}
    rule = "TA-openai-audit - %s - Rule"
    a, b, c = (rule % "OpenAI IP Allowlist Broadened", rule % "OpenAI API Call Logging Reduced",
               rule % "OpenAI Login from New Country or ASN")
    tp = [
        # alice: 72 + 20 earlier, 72 now: 164 crosses 100, and a third detection crosses 3
        risk(-3 * HOUR, a, 72, ALICE["email"]), risk(-2 * HOUR, c, 20, ALICE["email"]),
        risk(-10 * MIN, b, 72, ALICE["email"]),
        # bob: three different low-score detections, the third now
        risk(-5 * HOUR, rule % "OpenAI Burst of API Key Creation", 20, BOB["email"]),
        risk(-4 * HOUR, rule % "OpenAI Multiple TLS Fingerprints for One User", 20, BOB["email"]),
        risk(-12 * MIN, c, 20, BOB["email"]),
        # carol: a noisy anomaly repeated (3 x 40, capped at 60) and a critical row (90) now: 150, 2 detections
        *[risk(-h * HOUR, c, 40, CAROL["email"]) for h in (2, 3, 4)],
        risk(-10 * MIN, a, 90, CAROL["email"]),
    ]
    fp = [
        risk(-3 * HOUR, a, 72, ERIN["email"]), risk(-10 * MIN, c, 20, ERIN["email"]),        # 92, 2 detections
        risk(-3 * HOUR, a, 72, DAVE["email"]), risk(-2 * HOUR, b, 72, DAVE["email"]),         # crossed earlier
        risk(-10 * MIN, a, 72, DAVE["email"]),
        # frank: one detection repeated five times (200 in all) is one detection, capped at 60
        *[risk(-h * HOUR - 10 * MIN, c, 40, FRANK["email"]) for h in range(5)],
        # the terraform service account on the automation list: 72 + 72 counts 72
        risk(-3 * HOUR, a, 72, AUTOMATION_SA["id"]), risk(-10 * MIN, b, 72, AUTOMATION_SA["id"]),
        # risk of another app's searches does not count
        {"_raw": "{}", "_time": NOW - 600, "_indextime": NOW - 600, "index": "risk",
         "source": "ESCU - Some Other Detection - Rule", "sourcetype": "stash", "risk_object": ERIN["email"],
         "risk_object_type": "user", "risk_score": "500"},
    ]
    return tp, fp, None


SCENARIOS = {
    "openai_scim_provisioning_disabled": scim,
    "openai_ip_allowlist_disabled_or_deleted": allowlist_disabled,
    "openai_ip_allowlist_broadened": allowlist_broadened,
    "openai_role_granted_additional_permissions": role_permissions,
    "openai_role_assigned_on_production_project": role_assignment,
    "openai_api_call_logging_reduced": api_call_logging,
    "openai_owner_service_account_created": owner_service_account,
    "openai_service_account_created": service_account,
    "openai_byok_key_changed_by_unauthorized_actor": byok,
    "openai_burst_of_api_key_creation": key_burst,
    "openai_api_key_created_by_api_key_or_external_source": key_by_key_or_external,
    "openai_api_key_granted_sensitive_scope": sensitive_scope,
    "openai_sensitive_change_from_unseen_tls_fingerprint": unseen_fingerprint,
    "openai_multiple_tls_fingerprints_for_one_user": many_fingerprints,
    "openai_rate_limit_raised_or_removed": rate_limit,
    "openai_production_project_archived_or_deleted": prod_project_removed,
    "openai_multiple_projects_archived_or_deleted": many_projects_removed,
    "openai_bulk_or_external_invitations": invitations,
    "openai_tunnel_changed_by_non_network_admin": tunnel,
    "openai_checkpoint_shared_with_unknown_project": checkpoint,
    "openai_certificate_deactivated_or_deleted": cert_removed,
    "openai_certificate_added_by_unexpected_actor": cert_added,
    "openai_authentication_failure_burst_for_user": failure_burst,
    "openai_password_spray_from_single_source": password_spray,
    "openai_credential_stuffing_against_single_user": credential_stuffing,
    "openai_successful_login_after_repeated_failures": success_after_failures,
    "openai_login_from_new_country_or_asn": new_country,
    "openai_impossible_travel_between_logins": impossible_travel,
    "openai_sensitive_change_from_outside_corporate_network": outside_network,
    "openai_audit_log_collection_gap": collection_gap,
    "openai_risk_threshold_exceeded_for_user": risk_threshold,
    "openai_activity_by_departed_or_inactive_employee": departed_employee,
    "openai_organization_owner_granted": owner_granted,
}

TEST_LOOKUPS = {
    "openai_corporate_cidrs.csv": [["cidr", "description"],
                                   ["# 192.0.2.0/24", "commented rows never match"],
                                   ["203.0.113.0/24", "HQ egress"], ["198.51.100.0/24", "NYC egress"],
                                   ["2001:db8::/32", "IPv6 egress"], ["172.16.0.0/16", "data centre"]],
    "openai_approved_allowlist_ranges.csv": [["cidr", "description"], ["198.18.0.0/15", "benchmark partner"]],
    "openai_production_projects.csv": [["project_id", "project_name", "owner", "description"],
                                       [PROD_CHAT["id"], PROD_CHAT["name"], ALICE["email"], "chat service"],
                                       [PROD_SEARCH["id"], PROD_SEARCH["name"], BOB["email"], "search service"],
                                       ["# proj_EXAMPLEonlyReplaceMe0000", "example", "", "commented"]],
    "openai_byok_managers.csv": [["user", "description"], [CAROL["email"], "key custodian"]],
    "openai_sensitive_permissions.csv": [["permission", "category", "description"],
                                         ["*.fine_tuning.*", "fine_tuning", "model training"]],
    "openai_sensitive_scopes.csv": [["scope", "category", "description"],
                                    ["api.files.write", "data_upload", "uploads"],
                                    ["api.fine_tuning.*", "model_training", "training"]],
    "openai_corporate_domains.csv": [["domain", "description"], ["example.com", "corporate"],
                                     ["*.example.com", "subdomains"]],
    "openai_network_admins.csv": [["user", "description"], [DAVE["email"], "network team"]],
    # the KV store list holds ids in lower case (its "Admin List" search lowercases what admins type)
    "openai_automation_actors.csv": [["actor", "description"], [AUTOMATION_SA["id"].lower(), "terraform"]],
    "openai_corporate_asns.csv": [["asn", "description"], ["202425", "VPN provider"]],
    "openai_identities.csv": [["email", "team", "employment_status", "end_date", "manager"],
                              [USERS[50]["email"], "sales", "Terminated", "2026-11-20", ALICE["email"]],
                              [USERS[51]["email"], "research", "active", "2026-11-24", BOB["email"]],
                              [USERS[52]["email"], "research", "active", "2026-11-26", BOB["email"]],
                              [USERS[53]["email"], "platform", "active", "", BOB["email"]],
                              [DAVE["email"], "platform", "active", "", BOB["email"]],
                              [CAROL["email"], "Platform", "active", "", BOB["email"]],
                              [ERIN["email"], "research", "active", "", BOB["email"]]],
    "openai_byok_expected_keys.csv": [["key_id", "description"],
                                      ["ekey_prod0000000000000000001", "production KMS key"],
                                      ["ekey_prod0000000000000000005", "EU KMS key"],
                                      ["ekey_new00000000000000000003", "2027 rotation"]],
    "openai_approved_changes.csv": [["actor", "event_type", "object_id", "start", "end", "ticket_id", "description"],
                                    [BOB["email"], "external_key.*", "ekey_prod0000000000000000005",
                                     _iso(NOW - HOUR), _iso(NOW), "CHG0001", "retire the EU key"],
                                    [DAVE["email"], "external_storage.*", "*", str(NOW - 3 * DAY), str(NOW - 2 * DAY),
                                     "CHG0002", "storage migration"],
                                    [FRANK["email"], "ip_allowlist.updated", "ipal_H*", _iso(NOW - HOUR), _iso(NOW + HOUR),
                                     "CHG0003", "vendor onboarding"]],
    "openai_vpn_egress_cidrs.csv": [["cidr", "description"], ["198.51.100.0/24", "NYC VPN concentrator"]],
}


def write_jsonl(path: Path, items) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for obj in items:
            fh.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n")


def main() -> None:
    import csv
    SAMPLES.mkdir(exist_ok=True)
    LOOKUPS.mkdir(exist_ok=True)
    for stem, scenario in SCENARIOS.items():
        tp, fp, history = scenario()
        write_jsonl(SAMPLES / (stem + ".tp.jsonl"), tp)
        write_jsonl(SAMPLES / (stem + ".fp.jsonl"), fp)
        if history is not None:
            write_jsonl(SAMPLES / (stem + ".baseline.jsonl"), history)
    for name, rows in TEST_LOOKUPS.items():
        with (LOOKUPS / name).open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh, lineterminator="\n").writerows(rows)
    print("wrote %d sample sets to %s" % (len(SCENARIOS), SAMPLES))


if __name__ == "__main__":
    main()
