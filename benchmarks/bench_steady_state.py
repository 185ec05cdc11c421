"""Steady-state cost of the collector: a simulated day of polling, in process (figures printed,
nothing asserted).

    .venv/bin/python benchmarks/bench_steady_state.py               # 1 and 10 events/s, both time scales
    .venv/bin/python benchmarks/bench_steady_state.py --hours 2     # a shorter "day"

What runs: the engine's Collector (package/bin/ta_openai_audit, the source tree), a fresh
Collector and AuditLogClient for every poll (splunkd starts the input anew each interval), one
checkpoint store across the polls (records go through JSON both ways, as in the KV store), and
the real client over tools/openai_api_sim's in-process transport, which answers with the API
stand-in's own code (newest first, effective_at bounds, limit, after=<id>, tenant_only). The clock
is injected into the collector, the client and the API: nothing sleeps, a day takes seconds.

The day: ``rate`` events every second (one stream: tenant_scoped off). Each event becomes visible
to the API some time after its effective_at: most within a tenth of the lag, a share (2%) late,
uniformly between the lag and the overlap (an event later than the overlap is out of the
collector's promise). A query sees only the events visible at the injected now. Polls run every
``interval`` from the start of the day until lag + overlap + 2 intervals after its end, so every
event has had its chance.

Time scaled down: the same day with interval 2 s, lag 2 s, overlap 30 s (30x shorter periods, 30x
the events per second, visibility delays derived from the same settings): every period the
collector uses must come from the input's settings, so the figures must match the default run's.

Per run: polls, requests (per poll, per hour), events new, events fetched (every event of every
page the API served), read amplification = fetched / new (goal <= 2.0), late events injected and
caught (goal: all, each within lag + overlap + interval of its effective_at), duplicates sent
(goal 0), lost (goal 0), the engine's own lateness figures, the largest checkpoint record; and,
computed rather than run, what the previous design cost: every poll re-read
[high_water - overlap, now - lag], i.e. about (interval + overlap) / interval reads per event.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
import time
from array import array
from typing import Any, Dict, List, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "package", "bin"))

from benchmarks.figures import Figures, machine_line  # noqa: E402
from ta_openai_audit.client import AuditLogClient  # noqa: E402
from ta_openai_audit.collector import Collector  # noqa: E402
from ta_openai_audit.settings import InputSettings  # noqa: E402
from tools.openai_api_sim import DEFAULT_KEY  # noqa: E402
from tools.openai_api_sim.server import SimState  # noqa: E402
from tools.openai_api_sim.store import EventStore  # noqa: E402
from tools.openai_api_sim.transport import InProcessApi  # noqa: E402

T0 = 1_790_000_000  # the day's first second (any time in the past of the real clock would do)
BASE_URL = "https://api.openai.invalid/v1"  # never resolved: the in-process transport answers
EVENT_TYPE = "login.succeeded"
ID_PREFIX = "audit_log-"
LATE_SHARE = 0.02
AMPLIFICATION_GOAL = 2.0


class Clock:
    """The one clock of a simulated day: the collector's wall clock, the client's monotonic clock
    and the API's now. Only the poll loop and the client's waits move it."""

    def __init__(self, now: float):
        self.now = float(now)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class DaySource:
    """A day of events for the API stand-in's EventStore (its source protocol: ascending
    (effective_at, id) keys, entries built on demand): event k is at t0 + k // per_second and
    becomes visible at ``visible[k]``. Nothing is stored per event but that time."""

    types = (EVENT_TYPE,)

    def __init__(self, t0: int, seconds: int, per_second: int, lag: int, overlap: int, seed: int):
        self.t0, self.per_second = t0, per_second
        self.n = seconds * per_second
        rng = random.Random(seed)
        self.visible = array("d", bytes(8 * self.n))
        self.late: List[int] = []
        for k in range(self.n):
            effective_at = t0 + k // per_second
            if rng.random() < LATE_SHARE:
                self.late.append(k)
                delay = lag + rng.random() * (overlap - lag)
            else:
                delay = rng.random() * lag / 10.0
            self.visible[k] = effective_at + delay

    def __len__(self) -> int:
        return self.n

    def key_at(self, k: int) -> Tuple[int, str]:
        return self.t0 + k // self.per_second, "%s%024d" % (ID_PREFIX, k)

    def entry_at(self, k: int) -> Tuple[Dict[str, Any], float]:
        event = {"id": "%s%024d" % (ID_PREFIX, k), "object": "organization.audit_log", "type": EVENT_TYPE,
                 "effective_at": self.t0 + k // self.per_second,
                 "actor": {"type": "session", "session": {"user": {"id": "user-%d" % (k % 997)},
                                                          "ip_address": "203.0.113.%d" % (k % 250)}}}
        return event, self.visible[k]

    def type_at(self, k: int) -> str:
        return EVENT_TYPE

    def key_of(self, event_id: str) -> Optional[Tuple[int, str]]:
        k = index_of(event_id)
        return None if k is None or k >= self.n else self.key_at(k)

    def count_between(self, lo: int, hi: int) -> int:
        """Events with lo <= effective_at <= hi (visible or not)."""
        first = max(lo, self.t0)
        last = min(hi, self.t0 + self.n // self.per_second - 1)
        return max(0, last - first + 1) * self.per_second


def index_of(event_id: str) -> Optional[int]:
    digits = event_id[len(ID_PREFIX):]
    return int(digits) if event_id.startswith(ID_PREFIX) and digits.isdigit() else None


class JsonStore:
    """Checkpoint store: records go through JSON both ways, as in the KV store."""

    def __init__(self) -> None:
        self.records: Dict[str, str] = {}
        self.largest = 0
        self.writes = 0
        self.bytes_written = 0

    def get(self, key: str) -> Optional[Dict[str, Any]]:
        text = self.records.get(key)
        return None if text is None else json.loads(text)

    def update(self, key: str, record: Dict[str, Any]) -> None:
        text = json.dumps(record, separators=(",", ":"))
        self.largest = max(self.largest, len(text))
        self.writes += 1
        self.bytes_written += len(text)
        self.records[key] = text

    def delete(self, key: str) -> None:
        self.records.pop(key, None)


class CountingSink:
    """The collector's sink: counts what is sent per event and when each was first sent."""

    def __init__(self, source: DaySource, clock: Clock):
        self.source = source
        self.clock = clock
        self.sent = bytearray(source.n)  # times each event was sent (capped at 255)
        self.first_sent = array("d", bytes(8 * source.n))

    def emit(self, raw_json: str, effective_at: int, event: Dict[str, Any], backfill: bool) -> None:
        k = index_of(event["id"])
        if k is None or k >= self.source.n:
            raise AssertionError("the collector sent an event the API never served: %r" % event["id"])
        if self.sent[k] == 0:
            self.first_sent[k] = self.clock()
        if self.sent[k] < 255:
            self.sent[k] += 1

    def flush(self) -> None:
        pass


def simulate(per_second: int, seconds: int, interval: int, lag: int, overlap: int, seed: int) -> Dict[str, Any]:
    source = DaySource(T0, seconds, per_second, lag, overlap, seed)
    clock = Clock(T0)
    state = SimState(EventStore([source], clock=clock), key=DEFAULT_KEY, track_ids=False)
    api = InProcessApi(state, date_clock=clock)
    settings = InputSettings(start=T0, interval=interval, lag_seconds=lag, overlap_seconds=overlap,
                             tenant_scoped=False)
    store = JsonStore()
    sink = CountingSink(source, clock)
    quiet = logging.getLogger("bench_steady_state.engine")
    quiet.setLevel(logging.ERROR)
    end = T0 + seconds + lag + overlap + 2 * interval
    polls = requests = late_by_sweep = 0
    lateness_max: List[float] = []
    lateness_p99: List[float] = []
    previous_design_reads = 0
    high_water: Optional[int] = None
    started = time.monotonic()
    now = T0 + interval
    while now <= end:
        clock.now = now
        client = AuditLogClient(BASE_URL, DEFAULT_KEY, time_budget=settings.time_budget, sleep=clock.sleep,
                                monotonic=clock, clock=clock, rng=random.Random(polls), logger=quiet)
        client.session.mount("https://", api)
        try:
            summary = Collector(client, store, "steady", settings, logger=quiet, clock=clock).run(sink)
        finally:
            client.close()
        if summary.errors:
            raise RuntimeError("poll %d at +%ds: %s" % (polls, now - T0, summary.error))
        polls += 1
        requests += summary.requests
        for stream in summary.streams:
            late_by_sweep += stream.late_events
            if stream.lateness_max is not None:
                lateness_max.append(stream.lateness_max)
                lateness_p99.append(stream.lateness_p99)
        # The previous design's window for this poll: [high_water - overlap, now - lag].
        window_end = now - lag
        window_start = T0 if high_water is None else max(high_water - overlap, T0)
        previous_design_reads += source.count_between(window_start, window_end)
        high_water = window_end
        now += interval
    seconds_taken = time.monotonic() - started

    stats = state.stats()
    sent = sink.sent
    lost = sent.count(0)
    duplicates = sum(sent) - (source.n - lost)
    late_caught = sum(1 for k in source.late if sent[k])
    bound = lag + overlap + interval
    worst_late = max((sink.first_sent[k] - (T0 + k // per_second) for k in source.late if sent[k]), default=0.0)
    late_beyond = sum(1 for k in source.late if sent[k] and sink.first_sent[k] - (T0 + k // per_second) > bound)
    return {
        "per_second": per_second, "interval": interval, "lag": lag, "overlap": overlap, "seconds": seconds,
        "polls": polls, "requests": requests, "api_requests": stats["requests"],
        "hours": (end - T0) / 3600.0, "new": source.n, "fetched": stats["ids_served_total"],
        "late": len(source.late), "late_caught": late_caught, "late_by_sweep": late_by_sweep,
        "worst_late": worst_late, "late_beyond": late_beyond, "bound": bound,
        "engine_lateness_max": max(lateness_max, default=None),
        "engine_lateness_p99": max(lateness_p99, default=None),
        "duplicates": duplicates, "lost": lost, "previous_design_reads": previous_design_reads,
        "checkpoint_bytes": store.largest, "checkpoint_writes": store.writes,
        "checkpoint_written": store.bytes_written, "wall": seconds_taken,
    }


def report(figures: Figures, label: str, r: Dict[str, Any], reference: Optional[Dict[str, Any]] = None) -> float:
    amplification = r["fetched"] / float(r["new"])
    previous = r["previous_design_reads"] / float(r["new"])
    name = "%s, " % label
    figures.add(name + "polls", "%d (every %d s over %.2f h: the day and a tail of lag + overlap + 2 intervals)"
                % (r["polls"], r["interval"], r["hours"]))
    per_poll = r["requests"] / float(r["polls"])
    figures.add(name + "requests", "%d = %.2f per poll%s" % (
        r["requests"], per_poll, "" if reference else " = %.0f per hour" % (r["requests"] / r["hours"])))
    figures.add(name + "events new", "{:,}".format(r["new"]))
    figures.add(name + "events fetched (every event of every page served)", "{:,}".format(r["fetched"]))
    figures.add(name + "read amplification (fetched / new)", "%.2f" % amplification,
                "<= %.1f" % AMPLIFICATION_GOAL, amplification <= AMPLIFICATION_GOAL)
    if reference is not None:
        same = reference["fetched"] / float(reference["new"])
        figures.add(name + "amplification vs the unscaled run", "%.2f vs %.2f" % (amplification, same),
                    "the same within 5%", abs(amplification - same) <= 0.05 * same)
    figures.add(name + "late events (visible lag..overlap after effective_at) caught",
                "%d of %d (%d first sent by the late-event sweep)" % (r["late_caught"], r["late"], r["late_by_sweep"]),
                "all", r["late_caught"] == r["late"])
    figures.add(name + "late events: longest effective_at -> first sent", "%.0f s (%d beyond the bound)"
                % (r["worst_late"], r["late_beyond"]),
                "<= lag + overlap + interval = %d s" % r["bound"], r["late_beyond"] == 0)
    figures.add(name + "lateness the engine logged (max / worst p99 of a run)", "%s / %s s" % (
        "-" if r["engine_lateness_max"] is None else "%.0f" % r["engine_lateness_max"],
        "-" if r["engine_lateness_p99"] is None else "%.0f" % r["engine_lateness_p99"]))
    figures.add(name + "duplicates sent", "%d" % r["duplicates"], "0", r["duplicates"] == 0)
    figures.add(name + "events lost", "%d" % r["lost"], "0", r["lost"] == 0)
    figures.add(name + "checkpoint", "largest record %.1f KB; %.1f writes and %.0f KB written per poll" % (
        r["checkpoint_bytes"] / 1024.0, r["checkpoint_writes"] / float(r["polls"]),
        r["checkpoint_written"] / 1024.0 / r["polls"]))
    figures.add(name + "previous design, computed (every poll re-reads [high_water - overlap, now - lag])",
                "amplification %.2f, %s events fetched (about (interval + overlap) / interval = %.0f)"
                % (previous, "{:,}".format(r["previous_design_reads"]), (r["interval"] + r["overlap"]) / r["interval"]))
    print("   (simulated in %.1f s)" % r["wall"], flush=True)
    return amplification


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=24.0, help="length of the simulated day (default 24)")
    parser.add_argument("--rates", default="1,10", help="events per second, comma-separated (default 1,10)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rates = [int(r) for r in args.rates.split(",") if r.strip()]
    print(machine_line())
    print("command: .venv/bin/python benchmarks/bench_steady_state.py --hours %g --rates %s"
          % (args.hours, ",".join(map(str, rates))), flush=True)
    figures = Figures()
    default = InputSettings(start=T0)
    interval, lag, overlap = default.interval, default.lag_seconds, default.overlap_seconds
    scale = 30  # interval 60 -> 2, lag 60 -> 2, overlap 900 -> 30
    day = int(args.hours * 3600)
    for rate in rates:
        label = "steady %d/s" % rate
        print("== %s: %g h at %d event%s/s, interval %d s, lag %d s, overlap %d s"
              % (label, args.hours, rate, "" if rate == 1 else "s", interval, lag, overlap), flush=True)
        normal = simulate(rate, day, interval, lag, overlap, args.seed)
        report(figures, label, normal)
        scaled_label = "steady %d/s time/%d" % (rate, scale)
        print("== %s: the same day %dx shorter: %d events/s, interval %d s, lag %d s, overlap %d s"
              % (scaled_label, scale, rate * scale, interval // scale, lag // scale, overlap // scale), flush=True)
        scaled = simulate(rate * scale, day // scale, interval // scale, lag // scale, overlap // scale, args.seed)
        report(figures, scaled_label, scaled, reference=normal)
    figures.summary()
    return 0


if __name__ == "__main__":
    sys.exit(main())
