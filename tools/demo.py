"""`make demo`: the add-on's main job end to end, on loopback stand-ins (never shipped).

1. The OpenAI API stand-in serves a scenario (default ``attack-story``: two days of benign admin
   work, then an intrusion in the last five hours) and the splunkd stand-in holds the account.
2. The BUILT modular input runs as splunkd runs it, once per interval: a process, the input XML
   on stdin, events on stdout, its checkpoint in the (stand-in) KV store. Between intervals new
   events arrive, one of them late (its second was read before it showed up), to show the
   late-event sweep at work.
3. Every detection of the built app runs over what was collected, in the offline SPL evaluator,
   with lookups filled the way the scenario's organization would fill them; baselines learn from
   the history before the intrusion first. Risk from the detections that fired feeds the risk
   threshold correlation, as Enterprise Security's risk action would.
4. A summary is printed; events and results are kept in output/demo/.

    .venv/bin/python -m tools.demo [--scenario attack-story] [--intervals 3] [--app output/TA-openai-audit]
"""
from __future__ import annotations

import argparse
import collections
import csv
import json
import os
import sys
import tempfile
import time
from typing import Any, Dict, List

from tools.modinput import APP, SplunkHome
from tools.openai_api_sim import DEFAULT_KEY, ApiSim
from tools.openai_api_sim.generator import Org, make_event
from tools.openai_api_sim.scenarios import load_scenario
from tools.spl import App
from tools.splunkd_sim import SplunkdSim

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHECKPOINTS = "ta_openai_audit_checkpoints"
RISK_SEARCH = "TA-openai-audit - OpenAI Risk Threshold Exceeded for User - Rule"
HISTORY = 21 * 3600        # baselines learn from what happened before the last 21 hours
LAG = 2                    # the input's lag: short, so that the demo's intervals can be seconds apart
OVERLAP = 5                # and its overlap, scaled down alike: the sweep comes within the demo
KEY_FIELDS = ("user", "src", "signature", "object_id", "project_id", "severity", "count")


def write_scenario_lookups(spec: Dict[str, Any], folder: str) -> None:
    """The detection lookups as the scenario's organization would fill them (its `lookups`)."""
    lk = spec["lookups"]
    tables = {
        "openai_corporate_cidrs.csv": (["cidr", "description"], [[c, ""] for c in lk["corporate_cidrs"]]),
        "openai_corporate_domains.csv": (["domain", "description"], [[d, ""] for d in lk["corporate_domains"]]),
        "openai_production_projects.csv": (["project_id", "project_name", "owner", "description"],
                                           [[Org.project(n)["id"], n, "", ""] for n in lk["production_projects"]]),
        "openai_byok_managers.csv": (["user", "description"], [[u, ""] for u in lk["authorized_byok_managers"]]),
        "openai_network_admins.csv": (["user", "description"], [[u, ""] for u in lk["authorized_network_admins"]]),
        "openai_automation_actors.csv": (["actor", "description"], [[Org.service_account(n)["id"], ""]
                                                                     for n in lk["automation_service_accounts"]]),
        "openai_sensitive_scopes.csv": (["scope", "category", "description"],
                                        [[s, "scenario", ""] for s in lk["sensitive_scopes"]]),
        "openai_sensitive_permissions.csv": (["permission", "category", "description"],
                                             [[p, "scenario", ""] for p in lk["sensitive_permissions"]]),
    }
    for name, (header, rows) in tables.items():
        with open(os.path.join(folder, name), "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows([header] + rows)


def collect(app_dir: str, scenario: str, intervals: int, seed: int, workdir: str) -> Dict[str, Any]:
    """Run the built input over `intervals` intervals; what it wrote, per interval, and its checkpoint."""
    anchor = int(time.time())
    with ApiSim(scenario=scenario, seed=seed, anchor=anchor) as api, SplunkdSim(app=APP) as splunkd:
        splunkd.set_log_level("INFO")
        splunkd.add_account("demo", DEFAULT_KEY, base_url=api.base_url)
        home = SplunkHome(app_dir, os.path.join(workdir, "splunk"), splunkd)
        stanza = {"account": "demo", "index": "main", "interval": "60", "start": "7",
                  "tenant_scoped": "1", "lag_seconds": str(LAG), "overlap_seconds": str(OVERLAP)}
        per_interval, indexed = [], []
        for i in range(intervals):
            if i > 0:
                # new activity since the last poll, and one event that shows up late, at a second
                # the last poll read: the sweep reads it again once it is OVERLAP seconds older
                # than the window end, which it is by the next poll
                now = int(time.time())
                api.add_events([make_event("login.succeeded", seed=seed * 100 + i, effective_at=now - 1)])
                api.add_events([make_event("api_key.updated", seed=seed * 100 + 50 + i, effective_at=now - LAG)])
                time.sleep(OVERLAP)
            run = home.run_input({"demo": stanza})
            if run.returncode != 0:
                raise SystemExit("the modular input failed (exit %d):\n%s" % (run.returncode, run.stderr[-2000:]))
            indexed_at = int(time.time())
            for event in run.events:
                indexed.append((json.loads(event["data"]), indexed_at, event))
            per_interval.append((len(run.events), run.seconds))
        served = api.served_ids()
        requests = api.stats()["requests"]
        records = splunkd.kv_records(CHECKPOINTS)
    return {"anchor": anchor, "indexed": indexed, "per_interval": per_interval, "served": served,
            "requests": requests, "checkpoints": records, "log": home.input_log("demo")}


def detect(app_dir: str, spec: Dict[str, Any], indexed: List[Any], anchor: int, workdir: str):
    """Rows of every detection that fires ({search name: rows}), and how many detections ran."""
    lookups = os.path.join(workdir, "lookups")
    os.makedirs(lookups)
    write_scenario_lookups(spec, lookups)
    app = App.load(app_dir, lookups_dir=lookups)
    history_end = anchor - HISTORY
    app.index_events([dict(obj, _indextime=obj["effective_at"]) for obj, _, _ in indexed
                      if obj["effective_at"] < history_end], source="openai_audit:demo")
    for name in sorted(n for n in app.saved_searches if app.is_baseline(n)):
        app.seed_baseline(name, now=history_end)
    app.clear_events()
    app.index_events([dict(obj, _indextime=at) for obj, at, _ in indexed], source="openai_audit:demo")
    last_indexed = max(at for _, at, _ in indexed)
    # the scheduled searches' next run: late enough that every event is inside their index window
    now = last_indexed + 420
    fired = {}
    detections = [n for n in sorted(app.saved_searches) if not app.is_baseline(n)]
    for name in detections:
        if name == RISK_SEARCH:
            continue
        rows = app.run_saved_search(name, now=now)
        if rows:
            fired[name] = rows
    # what ES's risk action would write for those rows, then the risk correlation over it
    risk_events = []
    for name, rows in fired.items():
        risk = json.loads(app.saved_searches[name].get("action.risk.param._risk", "[]"))
        for spec_item in (r for r in risk if "risk_object_field" in r):
            for row in rows:
                objects = row.get(spec_item["risk_object_field"])
                for obj in objects if isinstance(objects, list) else [objects]:
                    if obj:
                        raw = {"risk_object": obj, "risk_object_type": spec_item["risk_object_type"],
                               "risk_score": spec_item["risk_score"], "risk_message": name}
                        risk_events.append({"_raw": json.dumps(raw), "_time": now, "_indextime": now + 60,
                                            "index": "risk", "sourcetype": "stash", "source": name,
                                            "host": "sh1"})
    if RISK_SEARCH in app.saved_searches:
        app.index_events(risk_events)
        rows = app.run_saved_search(RISK_SEARCH, now=now + 600)
        if rows:
            fired[RISK_SEARCH] = rows
    return fired, len(detections)


def short(value: Any, width: int = 60) -> str:
    text = ", ".join(value) if isinstance(value, list) else str(value)
    return text if len(text) <= width else text[:width - 3] + "..."


def main(argv: List[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--app", default=os.path.join(ROOT, "output", APP), help="the built add-on")
    parser.add_argument("--scenario", default="attack-story")
    parser.add_argument("--intervals", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=os.path.join(ROOT, "output", "demo"), help="where events and results are kept")
    args = parser.parse_args(argv)
    started = time.monotonic()
    spec = load_scenario(args.scenario)

    with tempfile.TemporaryDirectory(prefix="ta-openai-audit-demo-") as workdir:
        got = collect(args.app, args.scenario, args.intervals, args.seed, workdir)
        indexed = got["indexed"]
        if not indexed:
            raise SystemExit("the input collected nothing")
        fired, got["detections"] = detect(args.app, spec, indexed, got["anchor"], workdir)

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "events.jsonl"), "w", encoding="utf-8") as fh:
        for obj, at, _ in indexed:
            fh.write(json.dumps(dict(obj, _indextime=at), separators=(",", ":"), ensure_ascii=False) + "\n")
    with open(os.path.join(args.out, "detections.jsonl"), "w", encoding="utf-8") as fh:
        for name, rows in fired.items():
            for row in rows:
                fh.write(json.dumps({"search_name": name, "row": row}, ensure_ascii=False) + "\n")

    ids = [obj["id"] for obj, _, _ in indexed]
    duplicates = len(ids) - len(set(ids))
    missing = got["served"] - set(ids)
    print("== Collection: scenario %s, %d intervals of the built modular input" % (args.scenario, args.intervals))
    for i, (n, seconds) in enumerate(got["per_interval"], 1):
        print("   interval %d: %5d events in %.1f s" % (i, n, seconds))
    print("   %d events, %d distinct ids, %d duplicates, %d served but not collected; %d API requests"
          % (len(ids), len(set(ids)), duplicates, len(missing), got["requests"]))
    by_type = collections.Counter(obj["type"] for obj, _, _ in indexed)
    print("== Events by type (%d types; top 15)" % len(by_type))
    for event_type, n in by_type.most_common(15):
        print("   %6d  %s" % (n, event_type))
    print("== Checkpoints (KV store collection %s)" % CHECKPOINTS)
    for key, record in sorted(got["checkpoints"].items()):
        state = json.loads(record["state"])
        state = state if isinstance(state, dict) else {}
        hw = state.get("high_water")
        print("   %-32s high_water=%s (%s)  ids kept in overlap=%d  walk in progress=%s"
              % (key, hw, time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(hw)) if hw else "-",
                 len(state.get("overlap_ids") or {}), "yes" if state.get("walk") else "no"))
    print("== Detections that fired: %d of %d saved searches (baselines excluded)" % (len(fired), got["detections"]))
    for name, rows in sorted(fired.items()):
        print("   %s  (%d row%s)" % (name.replace("TA-openai-audit - ", "").replace(" - Rule", ""),
                                    len(rows), "" if len(rows) == 1 else "s"))
        for row in rows[:3]:
            fields = ["%s=%s" % (k, short(row[k], 40)) for k in KEY_FIELDS if row.get(k) not in (None, "")]
            print("      " + "  ".join(fields))
        if len(rows) > 3:
            print("      ... %d more" % (len(rows) - 3))
    print("== Kept in %s: events.jsonl, detections.jsonl (%.0f s in all)"
          % (os.path.relpath(args.out, ROOT), time.monotonic() - started))
    if duplicates or missing:
        print("FAILED: the input lost or duplicated events")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
