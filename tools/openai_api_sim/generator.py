"""Realistic OpenAI audit log events, deterministic for a seed.

Shapes follow docs/api/CONTRACT.md and the spec extract beside it:
payload under a key spelled like the type, session actors with the live-only fields
(user_agent, ja3, ja4, ip_address_details with string asn/latitude/longitude), api_key
actors of both kinds, null actors, org-level events without ``project``.

Entity ids (users, projects, service accounts, keys) are derived from their names, not
from the seed, so lookups written by hand (production projects, corporate users) stay
valid whatever seed a scenario runs with.
"""
from __future__ import annotations

import hashlib
import random
import time
from typing import Any, Dict, List, Optional, Sequence

ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# The 145 types of the spec extract (openai-openapi f85dbe22), in spec order.
SPEC_EVENT_TYPES = tuple("""
api_key.created api_key.updated api_key.deleted certificate.created certificate.updated
certificate.deleted certificates.activated certificates.deactivated
checkpoint.permission.created checkpoint.permission.deleted external_key.registered
external_key.removed group.created group.updated group.deleted invite.sent invite.accepted
invite.deleted ip_allowlist.created ip_allowlist.updated ip_allowlist.deleted
ip_allowlist.config.activated ip_allowlist.config.deactivated login.succeeded login.failed
logout.succeeded logout.failed organization.updated project.created project.updated
project.archived project.deleted rate_limit.updated rate_limit.deleted resource.deleted
tunnel.created tunnel.updated tunnel.deleted workload_identity_provider.created
workload_identity_provider.updated workload_identity_provider.deleted
workload_identity_provider_mapping.created workload_identity_provider_mapping.updated
workload_identity_provider_mapping.deleted role.created role.updated role.deleted
role.assignment.created role.assignment.deleted role.bound_to_resource
role.unbound_from_resource scim.enabled scim.disabled service_account.created
service_account.updated service_account.deleted user.added user.updated user.deleted
tenant.metadata.updated tenant.microsoft_entra_mapping.upserted
tenant.microsoft_entra_mapping.deleted tenant.workload_identity.provider.created
tenant.workload_identity.provider.updated tenant.workload_identity.provider.archived
tenant.workload_identity.mapping.created tenant.workload_identity.mapping.updated
tenant.workload_identity.mapping.archived tenant.workload_identity.binding.created
tenant.workload_identity.principal.provisioned tenant.workload_identity.access_token.issued
tenant.admin_api_key.created tenant.admin_api_key.updated tenant.admin_api_key.deleted
tenant.project_api_key.created tenant.chatgpt_access_token.revoked tenant.migration.completed
tenant.sso.migrated tenant.domains.migrated tenant.sso_connection.created
tenant.sso_connection.updated tenant.sso_connection.deleted tenant.sso_connection.setup.started
tenant.policy.created tenant.policy.updated tenant.policy.deleted tenant.policy.attached
tenant.policy.detached tenant.principal_authentication_policy.resolved tenant.scim.setup.started
tenant.scim.deletion.requested tenant.scim.directory.created
tenant.product_access_policy.updated tenant.resource_share_grant.created
tenant.resource_share_grant.updated tenant.resource_share_grant.accepted
tenant.resource_share_grant.declined tenant.resource_share_grant.revoked
tenant.resource_share_grant.deleted tenant.service_account.updated
tenant.service_account.deleted tenant.service_account.token.revoked
tenant.billing.overage_limit.updated tenant.billing.alerts.updated tenant.billing.info.updated
tenant.usage_limit.workspace.updated tenant.usage_limit.group.updated
tenant.usage_limit.user.updated tenant.usage_limit.increase_request.updated
tenant.usage_limit.increase_request.resolved tenant.group.created tenant.group.updated
tenant.group.deleted tenant.group.member.added tenant.group.member.removed
tenant.migration_rollout.status.updated tenant.migration_rollout.tier.updated
tenant.role.metadata.updated tenant.custom_role.created tenant.custom_role.updated
tenant.custom_role.deleted tenant.role_assignment.created tenant.role_assignment.deleted
tenant.resource_role_assignment.created tenant.resource_role_assignment.deleted
tenant.resource_access.updated tenant.resource_access.deleted
tenant.ads_account.onboarding.redemption tenant.session_policy.created
tenant.session_policy.updated tenant.session_policy.deleted tenant.session_revocation.started
tenant.third_party_app_policy.updated tenant.user.added tenant.user.updated tenant.user.removed
tenant.user.looked_up tenant.user.invited tenant.membership.revoked
tenant.api_organization_invite.upserted tenant.api_organization_invite.deleted
tenant.chatgpt_workspace_invite.upserted tenant.membership.accepted tenant.membership.declined
tenant.workspace_invite_email_settings.updated
""".split())

# Added by openai-python 3.57.0 after the spec commit.
NEWER_EVENT_TYPES = (
    "external_storage.registered",
    "external_storage.removed",
    "tenant.trusted_access.business_verification.started",
    "tenant.trusted_access.application.submitted",
)

# A type no SDK knows yet: consumers must keep it, never drop or reject it.
UNKNOWN_EVENT_TYPE = "vector_store.retention_policy.updated"

KNOWN_EVENT_TYPES = SPEC_EVENT_TYPES + NEWER_EVENT_TYPES
EVENT_TYPES = KNOWN_EVENT_TYPES + (UNKNOWN_EVENT_TYPE,)


def is_tenant_scoped(event_type: str) -> bool:
    """Types the API returns only with tenant_only=true (CONTRACT.md, spec tenant_only)."""
    return event_type.startswith("tenant.") or event_type in (
        "role.bound_to_resource",
        "role.unbound_from_resource",
    )


TENANT_EVENT_TYPES = tuple(t for t in EVENT_TYPES if is_tenant_scoped(t))

CORPORATE_DOMAIN = "example.com"

# Egress ranges (documentation ranges, RFC 5737). 203.0.113.0/24 (San Francisco) and
# 198.51.100.0/24 (New York) are the corporate offices; 192.0.2.0/24 stands for employees' home
# connections (benign, not corporate): .0-.127 near San Francisco, .128-.255 near New York, so a
# user's office and home are never an impossible trip apart.
SITES = {
    "hq": {
        "prefix": "203.0.113.", "low": 0, "high": 255,
        "geo": {"country": "US", "city": "San Francisco", "region": "California",
                "region_code": "CA", "asn": "64500", "latitude": "37.77490",
                "longitude": "-122.41940"},
    },
    "nyc": {
        "prefix": "198.51.100.", "low": 0, "high": 255,
        "geo": {"country": "US", "city": "New York", "region": "New York",
                "region_code": "NY", "asn": "64501", "latitude": "40.71280",
                "longitude": "-74.00600"},
    },
    "home": {
        "prefix": "192.0.2.", "low": 0, "high": 127,
        "geo": {"country": "US", "city": "Oakland", "region": "California",
                "region_code": "CA", "asn": "7922", "latitude": "37.80440",
                "longitude": "-122.27110"},
    },
    "home_nyc": {
        "prefix": "192.0.2.", "low": 128, "high": 255,
        "geo": {"country": "US", "city": "Brooklyn", "region": "New York",
                "region_code": "NY", "asn": "701", "latitude": "40.67820",
                "longitude": "-73.94420"},
    },
}

# Geography for addresses outside the sites above (attack scenarios), by /24 prefix.
EXTERNAL_GEO = {
    "185.220.101.": {"country": "DE", "city": "Frankfurt am Main", "region": "Hesse",
                     "region_code": "HE", "asn": "60729", "latitude": "50.11090",
                     "longitude": "8.68210"},
    "45.155.205.": {"country": "RU", "city": "Moscow", "region": "Moscow",
                    "region_code": "MOW", "asn": "49505", "latitude": "55.75580",
                    "longitude": "37.61730"},
    "103.251.167.": {"country": "SG", "city": "Singapore", "region": "Singapore",
                     "region_code": "01", "asn": "135377", "latitude": "1.35210",
                     "longitude": "103.81980"},
    "89.248.165.": {"country": "NL", "city": "Amsterdam", "region": "North Holland",
                    "region_code": "NH", "asn": "202425", "latitude": "52.36760",
                    "longitude": "4.90410"},
}

USER_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/141.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/141.0.0.0 Safari/537.36 Edg/141.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.6; rv:144.0) Gecko/20100101 Firefox/144.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.6 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/140.0.0.0 Safari/537.36",
)

FIRST_NAMES = (
    "alice bob carol dave erin frank grace heidi ivan judy karl laura mike nina oscar peggy "
    "quinn rupert sybil trent ursula victor wendy xavier yolanda zoe aaron bianca carlos diana "
    "elena felix gina hugo irene jonas kira liam maya noah olga pablo rosa sam tara uma vera "
    "wade yusuf zara"
).split()
LAST_NAMES = (
    "smith jones garcia miller davis lopez wilson anderson thomas taylor moore jackson martin "
    "lee perez thompson white harris sanchez clark ramirez lewis robinson walker young allen "
    "king wright scott torres nguyen hill flores green adams nelson baker hall rivera campbell "
    "mitchell carter roberts"
).split()

API_KEY_SCOPES = (
    "api.model.request", "api.model.read", "api.files.read", "api.files.write",
    "api.fine_tuning.jobs.read", "api.fine_tuning.jobs.write", "api.assistants.read",
    "api.assistants.write", "api.threads.write", "api.vector_stores.write", "api.batch.write",
)
ROLE_PERMISSIONS = (
    "api.model.request", "api.files.read", "api.files.write", "api.fine_tuning.jobs.write",
    "api.organization.projects.read", "api.organization.projects.write",
    "api.organization.projects.service_accounts.write", "api.organization.projects.api_keys.write",
    "api.organization.ip_allowlist.write", "api.organization.rate_limits.write",
    "api.organization.settings.write", "api.organization.users.read",
)


def stable_id(prefix: str, name: str, length: int = 24) -> str:
    """An id that looks random but depends only on (prefix, name)."""
    digest = hashlib.sha256((prefix + "\0" + name).encode("utf-8")).digest()
    n = int.from_bytes(digest, "big")
    chars = []
    for _ in range(length):
        n, r = divmod(n, 62)
        chars.append(ALNUM[r])
    return prefix + "".join(chars)


def random_id(rng: random.Random, prefix: str, length: int = 24) -> str:
    return prefix + "".join(rng.choice(ALNUM) for _ in range(length))


def audit_log_id(rng: random.Random) -> str:
    return random_id(rng, "audit_log-", 24)


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


class Org:
    """A made-up organisation: users, projects, service accounts, with stable ids."""

    def __init__(self, users: int = 2000, projects: int = 40, service_accounts: int = 30,
                 domain: str = CORPORATE_DOMAIN):
        self.domain = domain
        self.users = []  # type: List[Dict[str, str]]
        for i in range(users):
            first = FIRST_NAMES[i % len(FIRST_NAMES)]
            last = LAST_NAMES[(i // len(FIRST_NAMES)) % len(LAST_NAMES)]
            n = i // (len(FIRST_NAMES) * len(LAST_NAMES))
            email = "%s.%s%s@%s" % (first, last, n or "", domain)
            self.users.append(self.user(email))
        # The first 12 users are org owners; they make most configuration changes.
        self.admins = self.users[:12]
        self.projects = [self.project("Default project")]
        envs = ("prod", "staging", "dev", "research")
        teams = ("chat", "search", "payments", "support-bot", "analytics", "docs", "sales",
                 "fraud", "eval", "voice")
        for i in range(max(0, projects - 1)):
            self.projects.append(self.project("%s-%s" % (envs[i % 4], teams[(i // 4) % 10])
                                              + ("" if i < 40 else "-%d" % (i // 40))))
        self.service_accounts = [
            self.service_account("%s-automation-%d" % (p["name"], i))
            for i, p in enumerate(self.projects[1:service_accounts + 1])
        ]

    @staticmethod
    def user(email: str) -> Dict[str, str]:
        return {"id": stable_id("user-", email), "email": email}

    @staticmethod
    def project(name: str) -> Dict[str, str]:
        return {"id": stable_id("proj_", name), "name": name}

    @staticmethod
    def service_account(name: str) -> Dict[str, str]:
        return {"id": stable_id("svc_acct_", name), "name": name}

    @staticmethod
    def api_key_id(owner_id: str) -> str:
        return stable_id("key_", owner_id, 16)


DEFAULT_ORG = None  # type: Optional[Org]


def default_org() -> Org:
    global DEFAULT_ORG
    if DEFAULT_ORG is None:
        DEFAULT_ORG = Org()
    return DEFAULT_ORG


def geo_for_ip(ip: str) -> Dict[str, str]:
    for site in SITES.values():
        if ip.startswith(site["prefix"]):
            try:
                last = int(ip[len(site["prefix"]):])
            except ValueError:
                continue
            if site["low"] <= last <= site["high"]:
                return dict(site["geo"])
    for prefix, geo in EXTERNAL_GEO.items():
        if ip.startswith(prefix):
            return dict(geo)
    return {"country": "US", "city": "Ashburn", "region": "Virginia", "region_code": "VA",
            "asn": "14618", "latitude": "39.04370", "longitude": "-77.48750"}


def fingerprint(email: str, device: int = 0) -> Dict[str, str]:
    """A user's browser: the same (email, device) always gives the same UA/JA3/JA4."""
    h = hashlib.sha256(("%s#%d" % (email, device)).encode()).hexdigest()
    ua = USER_AGENTS[int(h[:4], 16) % len(USER_AGENTS)]
    ja4 = "t13d%02d%02dh2_%s_%s" % (15 + int(h[4], 16) % 3, 14 + int(h[5], 16) % 4, h[6:18],
                                    h[18:30])
    return {"user_agent": ua, "ja3": h[32:64], "ja4": ja4}


def session_actor(user: Dict[str, str], ip: str, device: int = 0,
                  fp: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    f = fp or fingerprint(user["email"], device)
    return {
        "type": "session",
        "session": {
            "user": {"id": user["id"], "email": user["email"]},
            "ip_address": ip,
            "user_agent": f["user_agent"],
            "ja3": f["ja3"],
            "ja4": f["ja4"],
            "ip_address_details": geo_for_ip(ip),
        },
    }


def user_key_actor(user: Dict[str, str]) -> Dict[str, Any]:
    return {"type": "api_key", "api_key": {
        "id": Org.api_key_id(user["id"]), "type": "user",
        "user": {"id": user["id"], "email": user["email"]}}}


def service_account_actor(sa: Dict[str, str]) -> Dict[str, Any]:
    return {"type": "api_key", "api_key": {
        "id": Org.api_key_id(sa["id"]), "type": "service_account",
        "service_account": {"id": sa["id"]}}}


def random_actor(rng: random.Random, org: Org, event_type: str,
                 exclude: Optional[set] = None) -> Optional[Dict[str, Any]]:
    """Mostly admin sessions from the offices; some keys, a few null actors.

    exclude: emails never used for login/logout actors (users a story gives its own timeline).
    """
    r = rng.random()
    if r < 0.03:
        return None
    if event_type.startswith(("login.", "logout.")):
        user = rng.choice(org.users)
        while exclude and user["email"] in exclude:
            user = rng.choice(org.users)
        return session_actor(user, user_ip(rng, user), device=int(rng.random() < 0.2))
    if r < 0.10:
        return service_account_actor(rng.choice(org.service_accounts or [org.service_account("x")]))
    if r < 0.18:
        return user_key_actor(rng.choice(org.admins))
    user = rng.choice(org.admins)
    return session_actor(user, office_ip(rng, user), device=int(rng.random() < 0.2))


def home_site(user: Dict[str, str]) -> str:
    """Each user works from one office: a third of them in New York."""
    return "nyc" if int(hashlib.sha256(user["email"].encode()).hexdigest()[:4], 16) % 3 == 0 else "hq"


def _site_ip(rng: random.Random, site: Dict[str, Any]) -> str:
    return site["prefix"] + str(rng.randint(site["low"] + 10, site["high"] - 5))


def office_ip(rng: random.Random, user: Dict[str, str]) -> str:
    return _site_ip(rng, SITES[home_site(user)])


def user_ip(rng: random.Random, user: Dict[str, str]) -> str:
    """Where a user logs in from: their office, or a quarter of the time from home nearby."""
    if rng.random() < 0.25:
        return _site_ip(rng, SITES["home" if home_site(user) == "hq" else "home_nyc"])
    return office_ip(rng, user)


# -- payloads, one builder per type with a schema (others: see _generic_payload) --------------

def _pick(rng: random.Random, seq: Sequence[Any], k: int) -> List[Any]:
    return rng.sample(list(seq), min(k, len(seq)))


def _payload(event_type: str, rng: random.Random, org: Org) -> Optional[Dict[str, Any]]:
    proj = rng.choice(org.projects)
    user = rng.choice(org.users)
    role = "owner" if rng.random() < 0.1 else "member"
    rid = lambda prefix, n=24: random_id(rng, prefix, n)  # noqa: E731
    t = event_type
    if t == "api_key.created":
        return {"id": rid("key_", 16), "data": {"scopes": _pick(rng, API_KEY_SCOPES, rng.randint(1, 3))}}
    if t == "api_key.updated":
        cr = {"scopes": _pick(rng, API_KEY_SCOPES, rng.randint(1, 3))}  # type: Dict[str, Any]
        if rng.random() < 0.3:
            cr["expires_in_seconds"] = rng.choice([86400, 2592000, 7776000])
        return {"id": rid("key_", 16), "changes_requested": cr}
    if t in ("api_key.deleted", "checkpoint.permission.deleted", "external_key.removed",
             "external_storage.removed", "group.deleted", "invite.accepted", "invite.deleted",
             "rate_limit.deleted", "role.deleted", "service_account.deleted", "user.deleted",
             "project.archived", "project.deleted", "scim.enabled", "scim.disabled"):
        prefixes = {"api_key": "key_", "checkpoint": "cp_", "external_key": "ekey_",
                    "external_storage": "estore_", "group": "group_", "invite": "invite-",
                    "rate_limit": "rl-", "role": "role_", "service_account": "svc_acct_",
                    "user": "user-", "project": "proj_", "scim": "org-"}
        family = t.split(".")[0]
        if family == "project":
            return {"id": proj["id"]}
        if family == "user":
            return {"id": user["id"]}
        return {"id": rid(prefixes[family])}
    if t in ("certificate.created", "certificate.updated"):
        return {"id": rid("cert_"), "name": "mtls-%s" % rng.choice(["gateway", "edge", "ci"])}
    if t == "certificate.deleted":
        return {"id": rid("cert_"), "name": "mtls-edge",
                "certificate": "-----BEGIN CERTIFICATE-----\nMIIB" + rid("", 60)
                + "\n-----END CERTIFICATE-----\n"}
    if t in ("certificates.activated", "certificates.deactivated"):
        return {"certificates": [{"id": rid("cert_"), "name": "mtls-%d" % i}
                                 for i in range(rng.randint(1, 2))]}
    if t == "checkpoint.permission.created":
        return {"id": rid("cp_"), "data": {
            "project_id": proj["id"],
            "fine_tuned_model_checkpoint": "ft:gpt-4.1-mini-2025-04-14:acme::%s:ckpt-step-%d"
            % (rid("", 8), rng.randint(1, 9) * 100)}}
    if t == "external_key.registered":
        return {"id": rid("ekey_"), "data": {
            "provider": "aws_kms", "key_arn": "arn:aws:kms:us-east-1:111122223333:key/%s"
            % _hex(rng, 32)}}
    if t == "external_storage.registered":
        return {"id": rid("estore_"), "data": {"geography": rng.choice(["us", "eu"]),
                                               "provider": rng.choice(["s3", "gcs", "azure_blob"])}}
    if t == "group.created":
        return {"id": rid("group_"), "data": {"group_name": "team-%s" % rng.choice(FIRST_NAMES)}}
    if t == "group.updated":
        return {"id": rid("group_"), "changes_requested": {"group_name": "team-%s" % rng.choice(LAST_NAMES)}}
    if t == "invite.sent":
        return {"id": rid("invite-"), "data": {"email": "new.hire%d@%s" % (rng.randint(1, 999), org.domain),
                                               "role": role}}
    if t in ("ip_allowlist.created", "ip_allowlist.deleted"):
        return {"id": rid("ipal_"), "name": "office-egress",
                "allowed_ips": ["203.0.113.0/24", "198.51.100.0/24"]}
    if t == "ip_allowlist.updated":
        return {"id": rid("ipal_"), "allowed_ips": ["203.0.113.0/24", "198.51.100.0/24"]}
    if t in ("ip_allowlist.config.activated", "ip_allowlist.config.deactivated"):
        return {"configs": [{"id": rid("ipal_"), "name": "office-egress"}]}
    if t in ("login.succeeded", "logout.succeeded"):
        return {}
    if t in ("login.failed", "logout.failed"):
        code, msg = rng.choice([("invalid_credentials", "Wrong email or password."),
                                ("mfa_failed", "Multi-factor authentication failed."),
                                ("sso_required", "Your organization requires SSO.")])
        return {"error_code": code, "error_message": msg}
    if t == "organization.updated":
        options = {
            "title": "Acme Corp", "description": "Acme — production workloads (Zürich & São Paulo)",
            "name": "acme",
            "threads_ui_visibility": rng.choice(["ANY_ROLE", "OWNERS", "NONE"]),
            "usage_dashboard_visibility": rng.choice(["ANY_ROLE", "OWNERS"]),
            "api_call_logging": rng.choice(["enabled_for_all_projects", "enabled_per_call"]),
        }
        keys = _pick(rng, sorted(options), rng.randint(1, 2))
        cr = {k: options[k] for k in keys}
        if cr.get("api_call_logging") == "enabled_for_selected_projects":
            cr["api_call_logging_project_ids"] = proj["id"]
        return {"id": stable_id("org-", org.domain), "changes_requested": cr}
    if t == "project.created":
        name = "%s-%s" % (rng.choice(["dev", "research"]), rid("", 6).lower())
        return {"id": Org.project(name)["id"], "data": {"name": name, "title": name}}
    if t == "project.updated":
        return {"id": proj["id"], "changes_requested": {"title": proj["name"] + " (renamed)"}}
    if t == "rate_limit.updated":
        cr = {"max_requests_per_1_minute": rng.choice([500, 1000, 5000]),
              "max_tokens_per_1_minute": rng.choice([200000, 1000000, 2000000])}
        if rng.random() < 0.3:
            cr["max_requests_per_1_day"] = 100000
        if rng.random() < 0.2:
            cr["batch_1_day_max_input_tokens"] = 50000000
        if rng.random() < 0.1:
            cr["max_images_per_1_minute"] = 50
            cr["max_audio_megabytes_per_1_minute"] = 100
        return {"id": "rl-%s-%s" % (rng.choice(["gpt-4.1", "gpt-4.1-mini", "o3"]), proj["id"][5:13]),
                "changes_requested": cr}
    if t == "role.created":
        return {"id": rid("role_"), "role_name": "%s-operator" % rng.choice(LAST_NAMES),
                "permissions": _pick(rng, ROLE_PERMISSIONS, rng.randint(1, 4)),
                "resource_type": "api.project", "resource_id": proj["id"]}
    if t == "role.updated":
        cr = {"permissions_added": _pick(rng, ROLE_PERMISSIONS[:4], 1), "permissions_removed": [],
              "resource_id": proj["id"], "resource_type": "api.project"}  # type: Dict[str, Any]
        if rng.random() < 0.3:
            cr["description"] = "Adjusted for quarterly access review"
        if rng.random() < 0.2:
            cr["role_name"] = "%s-reader" % rng.choice(LAST_NAMES)
            cr["metadata"] = {"ticket": "CHG-%d" % rng.randint(1000, 9999)}
        return {"id": rid("role_"), "changes_requested": cr}
    if t in ("role.assignment.created", "role.assignment.deleted"):
        group = rng.random() < 0.3
        return {"id": rid("ra_"), "principal_id": rid("group_") if group else user["id"],
                "principal_type": "group" if group else "user",
                "resource_id": proj["id"], "resource_type": "api.project"}
    if t in ("role.bound_to_resource", "role.unbound_from_resource"):
        ws, conn = rid("ws_"), rng.choice(["github", "google_drive", "sharepoint", "slack"])
        return {"id": "%s__%s" % (ws, conn), "role_id": rid("role_"),
                "resource_id": "%s__%s" % (ws, conn), "resource_type": "chatgpt.workspace_connector",
                "permissions": ["connector.use"], "workspace_id": ws, "connector_id": conn,
                "connector_name": conn.replace("_", " ").title(),
                "enabled": t == "role.bound_to_resource",
                "source": rng.choice(["role_toggle", "role_connector_update", "workspace_permissions"])}
    if t == "service_account.created":
        return {"id": rid("svc_acct_"), "data": {"role": role}}
    if t == "service_account.updated":
        return {"id": rng.choice(org.service_accounts)["id"] if org.service_accounts else rid("svc_acct_"),
                "changes_requested": {"role": role}}
    if t == "user.added":
        return {"id": user["id"], "data": {"role": role}}
    if t == "user.updated":
        return {"id": proj["id"], "changes_requested": {"role": role}}
    if t in ("workload_identity_provider.created",):
        return {"id": rid("wip_"), "data": {"issuer": "https://token.actions.githubusercontent.com",
                                           "name": "github-actions"}}
    if t == "workload_identity_provider.updated":
        return {"id": rid("wip_"), "changes_requested": {"name": "github-actions-prod"}}
    if t == "workload_identity_provider.deleted":
        return {"id": rid("wip_"), "name": "github-actions"}
    if t == "workload_identity_provider_mapping.created":
        return {"id": rid("wipm_"), "identity_provider_id": rid("wip_"),
                "data": {"subject": "repo:acme/chat:ref:refs/heads/main", "project_id": proj["id"]}}
    if t == "workload_identity_provider_mapping.updated":
        return {"id": rid("wipm_"), "identity_provider_id": rid("wip_"),
                "changes_requested": {"subject": "repo:acme/chat:environment:prod"}}
    if t == "workload_identity_provider_mapping.deleted":
        sa = org.service_accounts[0]["id"] if org.service_accounts else rid("svc_acct_")
        return {"id": rid("wipm_"), "identity_provider_id": rid("wip_"),
                "project_id": proj["id"], "service_account_id": sa}
    return _generic_payload(t, rng)


def _generic_payload(event_type: str, rng: random.Random) -> Dict[str, Any]:
    """Types with no payload schema (tunnel.*, resource.deleted, tenant.*, future types).

    The spec says nothing about them, so this stays minimal: the id of the object acted on.
    """
    family = event_type.split(".")[1 if event_type.startswith("tenant.") else 0]
    return {"id": random_id(rng, family.replace("_", "")[:8] + "_")}


# Types that are scoped to a project (they carry `project`); the rest are org-level.
PROJECT_SCOPED = (
    "api_key.", "service_account.", "user.added", "user.updated", "user.deleted", "rate_limit.",
    "project.", "checkpoint.permission.", "role.assignment.", "workload_identity_provider_mapping.",
)

_MISSING = object()


def make_event(event_type: str, *, rng: Optional[random.Random] = None, seed: int = 0,
               effective_at: Optional[int] = None, actor: Any = _MISSING,
               project: Any = _MISSING, payload: Any = _MISSING,
               org: Optional[Org] = None, event_id: Optional[str] = None) -> Dict[str, Any]:
    """One audit log object of ``event_type``.

    actor: omitted -> a realistic random actor (sometimes null); None -> ``"actor": null``;
    a dict -> used as is (see session_actor/user_key_actor/service_account_actor).
    project: omitted -> chosen for project-scoped types, absent for org-level ones;
    None -> absent; a dict {id, name} -> used.  payload: omitted -> generated (for
    ``login.succeeded`` sometimes absent, as in live data); None -> no payload key.
    """
    rng = rng if rng is not None else random.Random(seed)
    org = org or default_org()
    ev = {
        "id": event_id or audit_log_id(rng),
        "object": "organization.audit_log",
        "type": event_type,
        "effective_at": int(effective_at if effective_at is not None else time.time()),
    }  # type: Dict[str, Any]
    if project is _MISSING:
        scoped = event_type.startswith(PROJECT_SCOPED) and event_type != "project.created"
        project = rng.choice(org.projects) if scoped else None
    if project is not None:
        ev["project"] = {"id": project["id"], "name": project["name"]}
    ev["actor"] = random_actor(rng, org, event_type) if actor is _MISSING else actor
    if payload is _MISSING:
        payload = _payload(event_type, rng, org)
        # Live login.succeeded often has no payload key at all.
        if event_type == "login.succeeded" and rng.random() < 0.5:
            payload = None
    if payload is not None:
        ev[event_type] = payload
    return ev


def corpus(seed: int = 0, effective_at: Optional[int] = None) -> List[Dict[str, Any]]:
    """Every type at least four times, covering each actor kind and missing project/payload."""
    rng = random.Random(seed)
    org = default_org()
    now = int(effective_at if effective_at is not None else time.time())
    user = org.admins[0]
    actors = [
        session_actor(user, SITES["hq"]["prefix"] + "20"),
        user_key_actor(user),
        service_account_actor(org.service_accounts[0]),
        None,
    ]
    out = []
    for i, t in enumerate(EVENT_TYPES):
        for j, actor in enumerate(actors):
            out.append(make_event(t, rng=rng, org=org, effective_at=now - i * 7 - j, actor=actor))
    return out
