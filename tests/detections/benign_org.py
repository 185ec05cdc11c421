"""One ordinary working day of a 300-user organisation, as the OpenAI audit log records it.

Built from what the seed article calls normal work, so that a detection firing on it is noise:
- people log in from the corporate offices (San Francisco, New York) or from home, during their
  working hours, one to three times a day; a few mistype a password once; they log out;
- browsers are Chrome/Edge/Firefox/Safari that randomise the TLS extension order, so the JA3 of
  each connection differs while the JA4 of a device stays the same; some people use a second device;
- the twelve organisation owners do routine administration from the office or from home: invite new
  hires at the corporate domain, change members' roles, create and archive development projects,
  add a non-sensitive permission to a role and assign people to the production projects (changes
  the article asks to see), create a member service account, adjust a rate limit, rename the
  organisation, reaffirm the corporate IP allowlist;
- people create API keys for their projects; the provisioning service account (on the automation
  list) rotates keys through the day.
Events reach the index one to seven minutes after they happen (the input polls).

No baseline is seeded: the detections are enabled at install, with the test lookups
(tests/detections/lookups) as the admin filled them.
"""
from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import List

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from build_samples import AUTOMATION_SA, NOW, PROD_CHAT, PROD_SEARCH  # noqa: E402
from tools.openai_api_sim.generator import (  # noqa: E402
    ROLE_PERMISSIONS, Org, fingerprint, home_site, make_event, office_ip, service_account_actor,
    session_actor)

DAY_START = NOW - 15 * 3600 - 86400  # Tuesday 2026-11-24 00:00 UTC
USERS = 300
# when the working day starts, in UTC (the simulated day is one UTC day: the offices keep hours
# that fit in it)
WORKDAY_UTC = {"hq": 13 * 3600, "nyc": 10 * 3600}
HOME = {"hq": "192.0.2.%d", "nyc": "192.0.2.%d"}
HOME_RANGE = {"hq": (10, 120), "nyc": (140, 250)}


def _home_ip(rng: random.Random, site: str) -> str:
    return HOME[site] % rng.randint(*HOME_RANGE[site])


def _browser_session(rng: random.Random, user: dict, ip: str, device: int) -> dict:
    """A session whose JA4 is the device's own and whose JA3 is new on every connection."""
    fp = dict(fingerprint(user["email"], device))
    fp["ja3"] = "%032x" % rng.getrandbits(128)
    return session_actor(user, ip, device=device, fp=fp)


class _Day:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.org = Org(users=USERS)
        self.events: List[dict] = []

    def add(self, event_type: str, at: int, actor, payload=None, project=None) -> None:
        kwargs = {"rng": self.rng, "effective_at": at, "actor": actor, "org": self.org}
        if payload is not None:
            kwargs["payload"] = payload
        if project is not None:
            kwargs["project"] = project
        obj = make_event(event_type, **kwargs)
        obj["_indextime"] = at + self.rng.randint(60, 420)
        self.events.append(obj)

    def where(self, user: dict, at_home: bool) -> str:
        site = home_site(user)
        return _home_ip(self.rng, site) if at_home else office_ip(self.rng, user)

    def people(self) -> None:
        rng = self.rng
        for user in self.org.users:
            site = home_site(user)
            start = DAY_START + WORKDAY_UTC[site] + rng.randint(-3600, 5400)
            # a day at the office, at home, or at home in the morning and at the office later
            plan = rng.choices(("office", "home", "mixed"), weights=(6, 2, 2))[0]
            devices = [0, 1] if rng.random() < 0.15 else [0]
            t = start
            for n in range(rng.randint(1, 3)):
                device = rng.choice(devices)
                ip = self.where(user, plan == "home" or (plan == "mixed" and n == 0))
                if rng.random() < 0.05:
                    self.add("login.failed", t - 40, _browser_session(rng, user, ip, device),
                             payload={"error_code": "invalid_credentials",
                                      "error_message": "Wrong email or password."})
                self.add("login.succeeded", t, _browser_session(rng, user, ip, device), payload={})
                t += rng.randint(3, 6) * 1800
                self.add("logout.succeeded", t - 600,
                         _browser_session(rng, user, ip, device), payload={})

    def admins(self) -> None:
        rng = self.rng
        org = self.org
        admins = org.admins

        def admin_session(at_home=None):
            user = rng.choice(admins)
            home = rng.random() < 0.25 if at_home is None else at_home
            return _browser_session(rng, user, self.where(user, home), 0)

        def workday(lo=1, hi=7):
            return DAY_START + 13 * 3600 + rng.randint(lo * 1800, hi * 3600)

        for i in range(6):
            self.add("invite.sent", workday(), admin_session(),
                     payload={"id": "invite-benign%04d" % i,
                              "data": {"email": "new.hire%d@%s" % (i, org.domain), "role": "member"}})
        for i in range(3):
            self.add("user.updated", workday(), admin_session(),
                     payload={"id": rng.choice(org.users)["id"], "changes_requested": {"role": "reader"}})
        dev = org.project("dev-benign-sandbox")
        self.add("project.created", workday(1, 3), admin_session(),
                 payload={"id": dev["id"], "data": {"name": dev["name"], "title": dev["name"]}})
        self.add("project.archived", workday(5, 7), admin_session(), payload={"id": org.projects[3]["id"]})
        for i in range(2):  # the article: every role that gains permissions is shown
            self.add("role.updated", workday(), admin_session(False), payload={
                "id": "role_benign%017d" % i, "changes_requested": {
                    "permissions_added": [ROLE_PERMISSIONS[1]], "permissions_removed": [],
                    "resource_id": org.projects[3]["id"], "resource_type": "api.project"}})
        for i, proj in enumerate((PROD_CHAT, PROD_SEARCH)):  # the article: assignments on production
            self.add("role.assignment.created", workday(), admin_session(False), payload={
                "id": "ra_benign%017d" % i, "principal_id": rng.choice(org.users)["id"],
                "principal_type": "user", "resource_id": proj["id"], "resource_type": "api.project"})
        self.add("service_account.created", workday(), admin_session(False),
                 payload={"id": "svc_acct_benign000000000000001", "data": {"role": "member"}},
                 project=org.projects[3])
        self.add("rate_limit.updated", workday(), admin_session(False), payload={
            "id": "rl-gpt-4.1-mini-%s" % org.projects[3]["id"][5:13],
            "changes_requested": {"max_requests_per_1_minute": 600}})
        self.add("organization.updated", workday(), admin_session(False), payload={
            "id": "org-benign", "changes_requested": {"title": "Acme Corp"}})
        self.add("ip_allowlist.updated", workday(), admin_session(False), payload={
            "id": "ipal_office0000000000000001", "allowed_ips": ["203.0.113.0/24", "198.51.100.0/24"]})
        for i in range(14):  # people create keys for their projects, a few from home
            user = rng.choice(org.users)
            self.add("api_key.created", workday(), _browser_session(rng, user, self.where(user, i % 5 == 0), 0),
                     payload={"id": "key_benign%06d" % i, "data": {"scopes": ["api.model.request"]}},
                     project=rng.choice(org.projects[1:12]))
        for i in range(6):  # the provisioning account rotates keys
            self.add("api_key.created", DAY_START + i * 4 * 3600 + rng.randint(0, 3000),
                     service_account_actor(AUTOMATION_SA),
                     payload={"id": "key_rotation%04d" % i, "data": {"scopes": ["api.model.request"]}},
                     project=rng.choice(org.projects[1:12]))


def benign_day(seed: int = 20261124) -> List[dict]:
    """The day's audit log objects, each with the `_indextime` it is indexed at."""
    day = _Day(seed)
    day.people()
    day.admins()
    return sorted(day.events, key=lambda e: e["effective_at"])
