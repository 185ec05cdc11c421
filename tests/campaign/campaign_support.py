"""The fault campaign's machinery: the event set, the collector as a process that gets killed and
restarted, and the accounting of what it wrote.

Clock scaling. The campaign runs in real time against the real CLI, so the production settings
are scaled down 60x: lag 60 s -> 1 s, overlap 900 s -> 15 s, "visible up to 15 minutes after
effective_at" -> up to 15 s. (The interval, 60 s in production, is 2 s here rather than 1 s, so
the overlap re-read each poll costs fewer requests.) The client's backoff base goes from 1 s to
0.05 s (see cli_with_backoff.py); Retry-After is 0 or 1 s as the server sends it.
"""
from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from typing import Any, Dict, List, Set, Tuple

from tools.openai_api_sim import DEFAULT_KEY, ApiSim
from tools.openai_api_sim.generator import EVENT_TYPES, is_tenant_scoped, make_event

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAUNCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cli_with_backoff.py")
PAGE = 100

# Scaled settings (see the module docstring).
LAG = 1
OVERLAP = 15
INTERVAL = 2
LATE_MAX = 15.0
BACKOFF_BASE = 0.05

# 10% 5xx, 5% 429 (half of them with Retry-After, 0 or 1 s), 2% resets, 1% truncated bodies.
FAULTS = [
    "500@0.04", "502@0.03", "503@0.03",
    "429@0.025", "429-retry-after@0.0125:0", "429-retry-after@0.0125:1",
    "reset@0.02",
    "truncate@0.01",
]


class EventPlan:
    """``total`` events: most of them a backfill of the past two days, the rest "live" (their
    effective_at during the first ``live_span`` seconds of the run); ``late`` of the live ones
    become visible only up to LATE_MAX seconds after their effective_at."""

    def __init__(self, seed: int, t0: int, total: int = 100_000, live: int = 4_500, late: int = 3_000,
                 live_span: int = 30):
        rng = random.Random(seed)
        types = [t for t in EVENT_TYPES if not is_tenant_scoped(t)]  # one stream: tenant_only=false
        self.t0 = t0
        self.live_span = live_span
        self.on_time: List[Dict[str, Any]] = []
        self.late: List[Tuple[Dict[str, Any], float]] = []  # (event, wall time it becomes visible)
        for i in range(total):
            if i < total - live:
                at = t0 - 31 - rng.randint(0, 2 * 86400)
            else:
                at = t0 + rng.randint(0, live_span)
            event = make_event(rng.choice(types), rng=rng, effective_at=at)
            if i >= total - late:
                self.late.append((event, at + rng.uniform(0, LATE_MAX)))
            else:
                self.on_time.append(event)
        self.by_id = {e["id"]: e for e in self.on_time}
        self.by_id.update((e["id"], e) for e, _ in self.late)
        assert len(self.by_id) == total, "generated ids collide"
        self.last_visible = max([v for _, v in self.late] + [t0 + live_span])

    def load(self, sim: ApiSim) -> None:
        # Events after their effective_at are only ever asked for once now - lag reaches them, so
        # on-time events can be visible from the start. Late ones are added in 0.25 s buckets of
        # visibility (small batches keep the stand-in's sorted insert cheap).
        sim.add_events(self.on_time)
        buckets: Dict[int, List[Dict[str, Any]]] = {}
        for event, visible in self.late:
            buckets.setdefault(int(visible * 4), []).append(event)
        for key in sorted(buckets):
            sim.add_events(buckets[key], visible_after=max(0.0, key / 4.0 - time.time()))

    def expected_line(self, event_id: str) -> str:
        return json.dumps(self.by_id[event_id], separators=(",", ":"), ensure_ascii=False)


class CampaignResult:
    def __init__(self) -> None:
        self.kills = 0
        self.starts = 0
        self.boundaries: List[int] = []  # output size when each process ended (killed or stopped)
        self.stdout: List[str] = []
        self.stderr: List[str] = []
        self.returncodes: List[int] = []
        self.wall = 0.0
        self.sim_stats: Dict[str, Any] = {}
        self.served: Set[str] = set()
        self.segments: List[List[str]] = []  # ids of complete lines, per process, in order
        self.partial_lines = 0
        self.bad_lines: List[str] = []  # complete lines that are not the served JSON
        self.timed_out = False


def _start(state: str, output: str, base_url: str, log_path: str) -> subprocess.Popen:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.path.join(REPO, "package", "bin"),
        "OPENAI_ADMIN_KEY": DEFAULT_KEY,
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    args = [
        sys.executable, LAUNCHER, str(BACKOFF_BASE), "collect",
        "--base-url", base_url, "--state-file", state, "--output", output,
        "--start", "3", "--lag", str(LAG), "--overlap", str(OVERLAP), "--interval", str(INTERVAL),
        "--no-tenant-scoped",  # one stream, as the campaign's figures assume
    ]
    log = open(log_path, "ab")
    try:
        return subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    finally:
        log.close()


def _complete_ids(path: str) -> Set[str]:
    ids = set()
    with open(path, "rb") as fh:
        for line in fh:
            if line.endswith(b"\n"):
                try:
                    ids.add(json.loads(line)["id"])
                except ValueError:
                    pass
    return ids


def run_campaign(plan: EventPlan, workdir: str, kills: int, seed: int, deadline: float) -> CampaignResult:
    """Serve ``plan`` with FAULTS, run the CLI until everything is written (killing it ``kills``
    times with SIGKILL at moments drawn from ``seed``), then stop it with SIGTERM and account."""
    rng = random.Random(seed)
    result = CampaignResult()
    state = os.path.join(workdir, "state.json")
    output = os.path.join(workdir, "events.jsonl")
    log_path = os.path.join(workdir, "cli.log")
    started = time.monotonic()
    with ApiSim(seed=seed, faults=FAULTS) as sim:
        plan.load(sim)
        proc = _start(state, output, sim.base_url, log_path)
        result.starts = 1
        try:
            kill_at = time.monotonic() + rng.uniform(0.5, 3.0) if kills else None
            while True:
                time.sleep(0.1)
                now = time.monotonic()
                if kill_at is not None and now >= kill_at:
                    proc.send_signal(signal.SIGKILL)
                    result.returncodes.append(proc.wait(timeout=30))
                    result.kills += 1
                    result.boundaries.append(os.path.getsize(output) if os.path.exists(output) else 0)
                    proc = _start(state, output, sim.base_url, log_path)
                    result.starts += 1
                    kill_at = now + rng.uniform(0.5, 3.0) if result.kills < kills else None
                    continue
                if proc.poll() is not None:
                    raise AssertionError("the collector exited by itself (rc %s); see %s" % (proc.returncode, log_path))
                if kill_at is None and time.time() > plan.last_visible + LAG + INTERVAL + 1:
                    if os.path.exists(output) and len(_complete_ids(output)) >= len(plan.by_id):
                        break
                if time.time() > deadline:
                    result.timed_out = True
                    break
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    result.returncodes.append(proc.wait(timeout=30))
                except subprocess.TimeoutExpired:
                    proc.kill()
                    result.returncodes.append(proc.wait())
            result.boundaries.append(os.path.getsize(output) if os.path.exists(output) else 0)
        result.sim_stats = sim.stats()
        result.served = sim.served_ids()
    result.wall = time.monotonic() - started
    with open(log_path, encoding="utf-8", errors="replace") as fh:
        result.stderr.append(fh.read())
    _account(plan, output, result)
    return result


def _account(plan: EventPlan, output: str, result: CampaignResult) -> None:
    """Split the output into the lines each process wrote (by the file size at each kill)."""
    with open(output, "rb") as fh:
        data = fh.read()
    segments: List[List[str]] = [[] for _ in result.boundaries]
    offset = 0
    segment = 0
    for raw in data.split(b"\n")[:-1] if data.endswith(b"\n") else data.split(b"\n"):
        while segment < len(result.boundaries) - 1 and offset >= result.boundaries[segment]:
            segment += 1
        line_start = offset
        offset += len(raw) + 1
        if not raw:
            continue
        text = raw.decode("utf-8")
        try:
            event_id = json.loads(text)["id"]
        except ValueError:
            # A line cut by SIGKILL: it must be the last line that process wrote.
            result.partial_lines += 1
            assert offset - 1 == result.boundaries[segment], (
                "an unparseable line that is not the last one of a killed process, at byte %d" % line_start
            )
            continue
        if event_id not in plan.by_id or text != plan.expected_line(event_id):
            result.bad_lines.append(text[:300])
        segments[segment].append(event_id)
    result.segments = segments


def duplicate_report(result: CampaignResult) -> Dict[str, Any]:
    """Per restarted process: the ids it wrote that an earlier process had written, and whether
    they all belong to the last page (<= 100 complete lines) written before it started."""
    seen: Set[str] = set()
    written_order: List[str] = []
    per_process = []
    within_process = 0
    for index, ids in enumerate(result.segments):
        counts = Counter(ids)
        within_process += sum(c - 1 for c in counts.values() if c > 1)
        repeated = [i for i in counts if i in seen]
        tail = set(written_order[-PAGE:])
        per_process.append({
            "process": index,
            "repeated": len(repeated),
            "outside_last_page": sorted(i for i in repeated if i not in tail)[:5],
        })
        seen.update(ids)
        written_order.extend(ids)
    total = Counter(i for ids in result.segments for i in ids)
    return {
        "within_process": within_process,
        "per_process": per_process,
        "total_duplicates": sum(c - 1 for c in total.values()),
        "written": total,
    }


def figures(name: str, plan: EventPlan, result: CampaignResult, dups: Dict[str, Any]) -> str:
    stats = result.sim_stats
    log = "".join(result.stderr)
    polls = re.findall(r"^events=(\d+) requests=(\d+) pages=(\d+) skipped_duplicates=(\d+)$", log, re.M)
    reread = sum(int(p[3]) for p in polls)
    hidden = sum(1 for event, visible in plan.late if visible > event["effective_at"] + LAG + INTERVAL)
    lines = [
        "fault campaign: %s" % name,
        "  events in the stand-in   %d (late: %d, visible up to %.0f s after effective_at)"
        % (len(plan.by_id), len(plan.late), LATE_MAX),
        "  requests                 %d  by status %s" % (stats.get("requests", 0), dict(sorted(stats.get("by_status", {}).items()))),
        "  faults injected          %s" % dict(sorted(stats.get("faults", {}).items())),
        "  late by more than lag + interval (a poll passed their second before they showed): %d" % hidden,
        "  polls completed          %d (events seen again in an overlap and skipped: %d)" % (len(polls), reread),
        "  ids served / written     %d / %d distinct" % (len(result.served), len(dups["written"])),
        "  kills (SIGKILL)          %d  (processes started: %d)" % (result.kills, result.starts),
        "  duplicates               %d  (max per restart: %d; cut lines: %d)"
        % (dups["total_duplicates"], max([p["repeated"] for p in dups["per_process"]] or [0]), result.partial_lines),
        "  wall time                %.1f s" % result.wall,
    ]
    return "\n".join(lines)
