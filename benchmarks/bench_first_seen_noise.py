"""Benign noise of the first-seen detections: rows per day on a benign organization.

    python benchmarks/bench_first_seen_noise.py [--app package] [--users 300] [--days 30] [--seed 1]

A benign organization of --users people works --days days: each logs in on workdays from the office
(a corporate CIDR), from one of two home networks or, now and then, through the corporate VPN
provider's ASN, with one or two browsers whose JA4 is stable while Chrome's JA3 changes on every
connection (TLS extension order randomisation); 1 in 20 users is an admin who makes sensitive
changes, 1 user-day in 100 is a trip abroad. The baselines are seeded with every day but the last,
as docs/detections.md says; then "Login from New Country or ASN" and "Sensitive Change from Unseen
TLS Fingerprint" run at every tick of their schedule over the last day. Printed: rows per day per
search and per severity, once with the shipped learning period and once with a fresh deployment's
(no seeded baseline: the learning period keeps it silent).
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tools.openai_api_sim.generator import fingerprint, make_event, session_actor  # noqa: E402
from tools.spl import App  # noqa: E402

NOW = 1795618800  # a Wednesday, 15:00 UTC
DAY = 86400
SEARCHES = ("OpenAI Login from New Country or ASN", "OpenAI Sensitive Change from Unseen TLS Fingerprint")
LOOKUPS = {
    "openai_corporate_cidrs.csv": "cidr,description\n203.0.113.0/24,HQ\n",
    "openai_corporate_asns.csv": "asn,description\n202425,VPN provider\n",
}
SENSITIVE = ("ip_allowlist.updated", "role.updated", "rate_limit.updated", "api_key.updated")


def organization(users: int, days: int, seed: int) -> list:
    rng = random.Random(seed)
    people = [{"id": "user-%024d" % i, "email": "person%03d@example.com" % i} for i in range(users)]
    events = []
    for n, person in enumerate(people):
        homes = ["192.0.2.%d" % rng.randint(1, 120), "192.0.2.%d" % rng.randint(130, 250)]
        devices = [0] if rng.random() < 0.6 else [0, 1]
        admin = n % 20 == 0
        for d in range(days, 0, -1):
            day_start = NOW - d * DAY - (NOW % DAY)
            if time.gmtime(day_start).tm_wday >= 5:
                continue
            abroad = rng.random() < 0.01
            for _ in range(rng.randint(1, 3)):
                at = day_start + rng.randint(7 * 3600, 19 * 3600)
                if at >= NOW - 600:
                    continue
                where = rng.random()
                ip = ("185.220.101.%d" % rng.randint(1, 250) if abroad else
                      "203.0.113.%d" % rng.randint(1, 250) if where < 0.6 else
                      "89.248.165.%d" % rng.randint(1, 250) if where < 0.65 else rng.choice(homes))
                fp = dict(fingerprint(person["email"], rng.choice(devices)))
                if "Chrome" in fp["user_agent"]:
                    fp["ja3"] = "%032x" % rng.getrandbits(128)
                actor = session_actor(person, ip, fp=fp)
                events.append(make_event("login.succeeded", rng=rng, effective_at=at, actor=actor, payload=None))
                if admin and rng.random() < 0.5:
                    events.append(make_event(rng.choice(SENSITIVE), rng=rng, effective_at=at + 120, actor=actor))
    return events


def run(app_dir: str, events: list, seeded: bool, lookups_dir: str) -> dict:
    app = App.load(app_dir, lookups_dir=lookups_dir)
    if seeded:
        app.index_events([e for e in events if e["effective_at"] < NOW - DAY])
        for name in [n for n in app.saved_searches if app.is_baseline(n)]:
            app.run_saved_search(name, now=NOW - DAY, all_time=True)
        app.clear_events()
    app.index_events(events)
    out = {}
    for search in SEARCHES:
        rows = Counter()
        for tick in range(NOW - DAY, NOW, 900):
            for row in app.run_saved_search("TA-openai-audit - %s - Rule" % search, now=tick):
                rows[row.get("severity", "-")] += 1
        out[search] = rows
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--app", default=os.path.join(ROOT, "package"))
    ap.add_argument("--users", type=int, default=300)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    events = organization(args.users, args.days, args.seed)
    logins = sum(1 for e in events if e["type"] == "login.succeeded")
    print("benign organization: %d users, %d days, %d logins, %d sensitive changes"
          % (args.users, args.days, logins, len(events) - logins))
    tmp = tempfile.mkdtemp()
    try:
        for name, text in LOOKUPS.items():
            with open(os.path.join(tmp, name), "w", encoding="utf-8") as fh:
                fh.write(text)
        for label, seeded in (("baselines seeded with %d days" % (args.days - 1), True),
                              ("fresh install, baselines empty", False)):
            t0 = time.perf_counter()
            result = run(args.app, events, seeded, tmp)
            print("%s (%.0f s):" % (label, time.perf_counter() - t0))
            for search, rows in result.items():
                print("  %-55s %3d rows in the last day %s" % (search, sum(rows.values()), dict(sorted(rows.items()))))
    finally:
        shutil.rmtree(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
