"""The collector against an API that misbehaves on purpose (tools/hostile_api), through the CLI
and through the built modular input as splunkd runs it: every failure issue 15 reproduced. Each
test asserts what the data allows (nothing lost, nothing sent twice), bounded time, bounded memory
where the server tries to exhaust it, and the log line an admin acts on."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

from ta_openai_audit.checkpoint import CHECKPOINT_VERSION
from ta_openai_audit.settings import DEFAULT_BACKFILL_CONCURRENCY
from tools.hostile_api import FORGED_LINE, KEY, HostileApi, make_event, spread
from tools.modinput import Run, watch

REPO = Path(__file__).resolve().parents[2]
COLLECTION = "ta_openai_audit_checkpoints"
INPUT_KEY = "openai_audit_logs://main"
CLI_BUDGET = 5  # --time-budget of the CLI runs; the built input's is page_time_budget(30) = 15 s
INPUT_BUDGET = 15


class Route:
    """One way of running the collector (``cli`` or the built ``modinput``) with its own state,
    output and log, run after run."""

    def __init__(self, kind: str, harness: Any, tmp_path: Path):
        self.kind = kind
        self.harness = harness
        self.state_file = tmp_path / "state.json"
        self.output = tmp_path / "events.jsonl"
        self.cli_log = ""
        self.modinput_ids: List[str] = []
        self.runs: List[Run] = []

    @property
    def budget(self) -> int:
        return CLI_BUDGET if self.kind == "cli" else INPUT_BUDGET

    @property
    def key(self) -> str:
        return "main" if self.kind == "cli" else INPUT_KEY

    def start(self, api: HostileApi, tenant: bool = False, start: str = "2",
              python: Optional[str] = None, overlap: int = 900) -> "subprocess.Popen[bytes]":
        if self.kind == "cli":
            env = dict(os.environ, OPENAI_ADMIN_KEY=KEY, PYTHONPATH=str(REPO / "package" / "bin"))
            args = [sys.executable, "-m", "ta_openai_audit", "collect", "--base-url", api.base_url, "--state-file",
                    str(self.state_file), "--output", str(self.output), "--name", "main", "--once", "--start", start,
                    "--lag", "0", "--overlap", str(overlap), "--interval", "30", "--time-budget", str(CLI_BUDGET)]
            args.append("--tenant-scoped" if tenant else "--no-tenant-scoped")
            return subprocess.Popen(args, env=env, cwd=str(REPO), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.harness.splunkd.add_account("main", KEY, base_url=api.base_url)
        params = {"account": "main", "index": "openai", "interval": "30", "start": start,
                  "tenant_scoped": "1" if tenant else "0", "lag_seconds": "0", "overlap_seconds": str(overlap)}
        return self.harness.start_input({"main": params}, python=python)

    def finish(self, proc: "subprocess.Popen[bytes]", started: Optional[float] = None, timeout: float = 120) -> Run:
        run = watch(proc, timeout, started)
        self.runs.append(run)
        if self.kind == "cli":
            self.cli_log += run.stderr
        else:
            assert run.returncode == 0, run.stderr[-2000:]  # the input never fails: it logs
            self.modinput_ids += [json.loads(e["data"])["id"] for e in run.events]
        return run

    def run(self, api: HostileApi, **kwargs: Any) -> Run:
        return self.finish(self.start(api, **kwargs))

    def ids(self) -> List[str]:
        if self.kind == "modinput":
            return list(self.modinput_ids)
        if not self.output.exists():
            return []
        return [json.loads(line)["id"] for line in self.output.read_text().splitlines()]

    def log(self) -> str:
        return self.cli_log if self.kind == "cli" else self.harness.input_log("main")

    def everything(self) -> str:
        """Every byte the runs wrote: output, stdout, stderr, log files."""
        parts = [r.stdout + r.stderr for r in self.runs] + [self.log()]
        if self.output.exists():
            parts.append(self.output.read_text())
        return "\n".join(parts)

    def record(self, key: Optional[str] = None) -> Optional[Dict[str, Any]]:
        key = key or self.key
        if self.kind == "cli":
            return json.loads(self.state_file.read_text()).get(key) if self.state_file.exists() else None
        stored = self.harness.splunkd.kv_records(COLLECTION).get(key)
        return json.loads(stored["state"]) if stored else None

    def put_record(self, record: Dict[str, Any]) -> None:
        if self.kind == "cli":
            self.state_file.write_text(json.dumps({self.key: record}))
        else:
            self.harness.splunkd.kv_put(COLLECTION, {"_key": self.key, "state": json.dumps(record)})


@pytest.fixture(params=["cli", "modinput"])
def route(request, harness, tmp_path) -> Route:
    return Route(request.param, harness, tmp_path)


def once_each(route: Route, expected: List[Dict[str, Any]]) -> None:
    ids = route.ids()
    assert len(ids) == len(set(ids)), "sent twice: %s" % sorted({i for i in ids if ids.count(i) > 1})[:5]
    assert set(ids) == {e["id"] for e in expected}, "lost: %s" % sorted({e["id"] for e in expected} - set(ids))[:5]


def log_lines(route: Route, *words: str) -> List[str]:
    return [line for line in route.log().splitlines() if all(w in line for w in words)]


# -- 1. a wrong clock delays events, never loses them ------------------------------------------------


def test_local_clock_ahead_of_the_api_loses_nothing(route):
    with HostileApi("clock", clock_offset=-3600) as api:  # the API's clock: an hour behind this host
        now = int(api.now())
        events = spread(300, now - 7200, now - 5)
        api.add_events(events)
        route.run(api, overlap=3)
        # Late events (inside the 3 s overlap) and events of the next seconds, on the API's clock.
        now = int(api.now())
        later = spread(50, now - 2, now + 2, first=1000)
        api.add_events(later)
        time.sleep(3.5)  # the sweep reads a second again once it is 3 s older than the window end
        route.run(api, overlap=3)
        once_each(route, events + later)
        assert route.record()["high_water"] <= api.now()
        skew = log_lines(route, "clock skew", "3600s ahead of the API's", "Fix NTP")
        assert skew and ("ERROR" in skew[0] or "log_level=ERROR" in skew[0])
        summaries = log_lines(route, "checkpoint_summary input=main stream=all")
        skews = [float(re.search(r"clock_skew=(-?[\d.]+)", line).group(1)) for line in summaries]
        assert len(skews) == 2 and all(abs(skew - 3600) < 5 for skew in skews)


def test_checkpoint_ahead_of_now_is_rewound_and_loses_nothing(route):
    with HostileApi() as api:
        now = int(time.time())
        events = spread(200, now - 7200, now - 10)
        api.add_events(events)
        route.run(api)
        record = route.record()
        record["high_water"] += 7200  # written by a run whose clock was two hours ahead
        route.put_record(record)
        later = spread(40, now - 8, now, first=1000)
        api.add_events(later)
        time.sleep(1.1)
        route.run(api)
        once_each(route, events + later)
        jump = log_lines(route, "clock jump", "rewound to")
        assert jump and "ERROR" in jump[0]
        assert route.record()["high_water"] <= time.time()


# -- 2. every request and wait has a deadline, and a stop request ends them ----------------------------


@pytest.mark.parametrize("behaviour", ["drip", "drip_headers", "silent"])
def test_a_server_that_holds_the_request_cannot_hold_the_run(route, behaviour):
    with HostileApi(behaviour, spread(50, int(time.time()) - 3000, int(time.time()) - 5), max_hold=90) as api:
        run = route.run(api)
        assert run.seconds < route.budget + 10, "the run took %.1fs (budget %ds)" % (run.seconds, route.budget)
        assert log_lines(route, "no complete response within")
        assert route.ids() == [] and route.record()["high_water"] is None  # nothing claimed
        if route.kind == "cli":
            assert run.returncode == 1
        print("\n%s %s: run ended after %.1fs (budget %ds)" % (route.kind, behaviour, run.seconds, route.budget))


@pytest.mark.parametrize("behaviour", ["drip", "silent", "retry_after_zero"])
def test_sigterm_ends_the_run_promptly_with_the_checkpoint_consistent(route, behaviour):
    with HostileApi(behaviour, spread(50, int(time.time()) - 3000, int(time.time()) - 5), max_hold=90) as api:
        proc = route.start(api)
        started = time.monotonic()
        deadline = started + 30
        while not api.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.5)  # well inside a request (drip, silent) or between 429s
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        run = route.finish(proc, started)
        after_signal = time.monotonic() - signalled
        assert after_signal < 3, "%.1fs after SIGTERM" % after_signal
        record = route.record()
        assert record["walk"] is None and record["high_water"] is None and route.ids() == []
        if behaviour == "retry_after_zero":  # Retry-After: 0 is raised to a 1 s floor
            assert len(api.requests) <= signalled - started + 2
        print("\n%s %s: ended %.2fs after SIGTERM (%d requests)" % (route.kind, behaviour, after_signal,
                                                                     len(api.requests)))


def test_deadline_and_stop_work_under_the_pythons_splunk_ships(harness, tmp_path, splunk_pythons):
    for python in splunk_pythons:
        route = Route("modinput", harness, tmp_path)
        with HostileApi("drip_headers", spread(5, int(time.time()) - 300, int(time.time()) - 5), max_hold=90) as api:
            run = route.finish(route.start(api, python=python))  # the deadline cuts the headers' drip
            assert run.seconds < INPUT_BUDGET + 10 and log_lines(route, "no complete response within")
            proc = route.start(api, python=python)
            started = time.monotonic()
            while len(api.requests) < 2 and time.monotonic() < started + 30:
                time.sleep(0.05)
            time.sleep(1)
            signalled = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            route.finish(proc, started)
            assert time.monotonic() - signalled < 3, python


# -- 3. pagination that goes backwards stops loudly, before anything of the page is sent ---------------


@pytest.mark.parametrize("behaviour,words", [("cycle", "newer than the slice's position"),
                                             ("oldest_first", "not ordered newest first")])
def test_pagination_going_backwards_stops_before_sending_and_loses_nothing(route, behaviour, words):
    now = int(time.time())
    events = spread(1000, now - 5000, now - 5)
    with HostileApi(behaviour, events) as api:
        route.run(api)
        first = route.ids()
        assert len(first) == len(set(first))
        # No slice's walk loops: each query (one per slice) stops at its first page that goes back
        # (page 1, page 2, page 1 again: refused; one more may be on its way, fetched ahead).
        per_slice: Dict[Any, int] = {}
        for query in api.requests:
            bounds = (query["effective_at[gte]"], query["effective_at[lte]"])
            per_slice[bounds] = per_slice.get(bounds, 0) + 1
        assert max(per_slice.values()) <= 4, per_slice
        assert log_lines(route, words, "nothing of", "was sent")
        api.behaviour = "normal"
        route.run(api)
        once_each(route, events)


# -- 4. bodies are bounded ----------------------------------------------------------------------------


@pytest.mark.parametrize("behaviour,options", [("huge", {"huge_length": True}), ("huge", {}),
                                               ("gzip_bomb", {"bomb_bytes": 512 * 1024 * 1024})])
def test_an_unbounded_body_is_a_malformed_page_read_in_bounded_memory(route, behaviour, options):
    with HostileApi(behaviour, **options) as api:
        if behaviour == "gzip_bomb":
            api.bomb()  # built before the clock starts
        run = route.run(api)
        assert log_lines(route, "malformed page", "bytes a page may have")
        assert route.ids() == [] and route.record()["high_water"] is None
        assert run.peak_rss_kb is not None and run.peak_rss_kb < 200 * 1024, run.peak_rss_kb
        assert run.seconds < route.budget + 15
        print("\n%s %s %s: peak RSS %.0f MB, %.1fs, %d requests" % (
            route.kind, behaviour, options, run.peak_rss_kb / 1024, run.seconds, len(api.requests)))


# -- 5. no progress, no endless walk ------------------------------------------------------------------


def test_pages_older_than_the_window_end_the_walk(route):
    with HostileApi("stale_forever") as api:
        run = route.run(api)
        assert len(api.requests) <= 2 and run.seconds < 30  # the page after it may be on its way (prefetch)
        assert log_lines(route, "older than its slice's start", "the slice ends here", "audit_log-hostile")
        assert route.record()["high_water"] is not None  # the window is complete


def test_fresh_ids_at_one_second_forever_stop_with_a_bounded_checkpoint(route):
    with HostileApi("one_second_forever") as api:
        route.run(api)
        # 100 pages reach the bound; a split re-reads a page, and each fetcher may have one on its way
        assert len(api.requests) <= 10_000 // 100 + 2 + 2 * DEFAULT_BACKFILL_CONCURRENCY
        assert log_lines(route, "more than 10000 audit log ids at the one second")
        assert len(json.dumps(route.record())) < 1_000_000


# -- 6. one process per state file --------------------------------------------------------------------


def test_a_second_cli_process_on_the_same_state_file_is_refused(harness, tmp_path):
    first, second = Route("cli", harness, tmp_path), Route("cli", harness, tmp_path)
    with HostileApi("silent", max_hold=60) as api:
        proc = first.start(api)
        deadline = time.monotonic() + 20
        while not api.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        refused = second.run(api)
        proc.send_signal(signal.SIGTERM)
        first.finish(proc)
    assert refused.returncode == 1
    assert "is in use by another collect process (pid %d)" % proc.pid in refused.stderr
    assert len(api.requests) == 1  # the refused one asked nothing


# -- 7. corrupt state: every stream recovers, a record unreadable only by its version keeps its place ---


def test_every_stream_of_a_corrupt_state_recovers_without_rereading_history(route):
    now = int(time.time())
    history = spread(20, now - 20 * 86400, now - 10 * 86400)
    history += [make_event(500 + i, now - 15 * 86400, "tenant.updated") for i in range(5)]
    recent = spread(30, now - 3600, now - 5, first=1000)
    recent += [make_event(1500 + i, now - 600 + i, "tenant.updated") for i in range(5)]
    keys = [route.key, route.key + ":tenant"]
    if route.kind == "cli":
        route.state_file.write_text('{"main": {"version": 1, "high_wa')  # cut by a crash or a full disk
    else:
        for key in keys:
            route.harness.splunkd.kv_put(COLLECTION, {"_key": key, "state": "{not json"})
    with HostileApi("normal", history + recent) as api:
        route.run(api, tenant=True, start="30")
    once_each(route, recent)
    for key in keys:
        assert log_lines(route, "checkpoint %r cannot be used" % key, "re-reading")
    if route.kind == "cli":
        assert list(route.state_file.parent.glob("state.json.corrupt-*"))


def test_a_record_unreadable_only_by_its_version_keeps_its_position(route):
    now = int(time.time())
    events = spread(150, now - 86400, now - 10)
    with HostileApi("normal", events) as api:
        route.run(api, overlap=3)
        record = route.record()
        record["version"] = 0
        route.put_record(record)
        # late at the seconds the first run read (inside the 3 s overlap), and new ones
        later = spread(20, record["high_water"] - 2, record["high_water"] + 1, first=1000)
        api.add_events(later)
        time.sleep(3.5)  # the sweep reads a second again once it is 3 s older than the window end
        route.run(api, overlap=3)
    once_each(route, events + later)
    assert log_lines(route, "it is format 0", "continues from its position")
    assert route.record()["version"] == CHECKPOINT_VERSION


# -- 8. what the server sends is cleaned before it reaches a log, and a bad page is refused ------------


@pytest.mark.parametrize("behaviour", ["reflect_auth", "forged_log"])
def test_server_strings_neither_leak_the_key_nor_forge_log_lines(route, behaviour):
    with HostileApi(behaviour, spread(150, int(time.time()) - 3000, int(time.time()) - 5)) as api:
        route.run(api)
        written = route.everything()
        assert KEY not in written and KEY[9:30] not in written
        assert not any(line.startswith(FORGED_LINE[:30]) for line in written.splitlines())
        if behaviour == "reflect_auth":
            assert log_lines(route, "malformed page", "object is", "[REDACTED]")
        else:
            assert log_lines(route, "HTTP 500", "upstream failed\\n2026-12-01", "events=424242")


def test_nan_in_an_event_makes_the_page_malformed(route):
    now = int(time.time())
    events = spread(60, now - 3000, now - 5)
    with HostileApi("nan", events) as api:
        route.run(api)
        assert route.ids() == [] and log_lines(route, "malformed page", "NaN is not a JSON value")
        api.behaviour = "normal"
        route.run(api)
    once_each(route, events)


def test_events_with_impossible_times_are_logged_by_id(route):
    now = int(time.time())
    events = spread(60, now - 3000, now - 5)
    with HostileApi("impossible_time", events) as api:
        route.run(api)
    once_each(route, events)
    lines = log_lines(route, "outside the requested slice", "audit_log-hostile000000990001 at -5",
                      "audit_log-hostile000000990002 at 1000000000000")
    assert lines
