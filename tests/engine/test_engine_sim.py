"""The engine against the API stand-in (tools/openai_api_sim) over real HTTP: the stand-in's
cursors, its faults (every kind, including resets and cut bodies on the wire) and late arrivals."""
from __future__ import annotations

import json
import random
import time

import pytest

from ta_openai_audit.checkpoint import MemoryCheckpointStore
from ta_openai_audit.client import RETRY_AFTER_FLOOR, AuditLogClient
from ta_openai_audit.collector import Collector
from ta_openai_audit.errors import ApiUnavailableError, AuthenticationError, PermissionDeniedError
from ta_openai_audit.settings import InputSettings
from tools.openai_api_sim import DEFAULT_KEY, NO_PERMISSION_KEY, ApiSim
from tools.openai_api_sim.generator import make_event

KEY_NAME = "openai_audit_logs://sim"


def collector_for(sim, store, now=None, sleeps=None, key=DEFAULT_KEY, budget=60, **fields):
    stanza = {"start": "7", "lag_seconds": "0", "tenant_scoped": "0"}
    stanza.update(fields)
    settings = InputSettings.from_stanza(stanza, now=now)
    client = AuditLogClient(sim.base_url, key, time_budget=budget, read_timeout=10,
                            sleep=(sleeps.append if sleeps is not None else (lambda s: None)),
                            rng=random.Random(3))
    return Collector(client, store, KEY_NAME, settings)


class Sink:
    def __init__(self):
        self.ids = []

    def emit(self, raw, effective_at, event, backfill):
        assert json.loads(raw)["id"] == event["id"]
        self.ids.append(event["id"])

    def flush(self):
        pass


def test_steady_scenario_both_streams(tmp_path, every_id):
    with ApiSim(scenario="steady", seed=4, scenario_params={"events": 800}) as sim:
        store = MemoryCheckpointStore()
        sink = Sink()
        summary = collector_for(sim, store, tenant_scoped="1").run(sink)
        assert summary.requests == sim.stats()["requests"]
        end = {"effective_at[lte]": int(time.time())}
        expected = every_id(sim, **end) + every_id(sim, tenant_only=True, **end)
        assert sorted(sink.ids) == sorted(expected)
        assert len(sink.ids) == len(set(sink.ids))
        assert [s.name for s in summary.streams] == ["all", "tenant"]
        assert summary.pages == sum(s.pages for s in summary.streams)


def test_same_second_scenario_with_a_crash_in_the_middle_of_the_second(every_id):
    with ApiSim(scenario="same-second", seed=2) as sim:
        store = MemoryCheckpointStore()
        first = Sink()

        class Crash(Exception):
            pass

        class Crashing(Sink):
            unflushed = 0  # events of the page being written when it crashes

            def emit(self, raw, effective_at, event, backfill):
                if len(first.ids) == 330:  # inside the 450 events that share one second
                    raise Crash()
                first.emit(raw, effective_at, event, backfill)
                self.unflushed += 1

            def flush(self):
                self.unflushed = 0

        crashing = Crashing()

        with pytest.raises(Crash):
            collector_for(sim, store).run(crashing)
        slices = store.get(KEY_NAME)["walk"]["slices"]
        # the checkpoint is mid-second, past a page boundary
        assert max(len(piece["oldest_ids"]) for piece in slices) > 100
        second = Sink()
        collector_for(sim, store).run(second)
        sent = first.ids + second.ids
        assert set(sent) == set(every_id(sim, **{"effective_at[lte]": int(time.time())}))
        assert 0 < crashing.unflushed < 100
        assert len(sent) - len(set(sent)) == crashing.unflushed  # the part of the page in flight


def test_every_fault_kind_is_survived_exactly_once(every_id):
    faults = ["429@0.06", "429-retry-after@0.04:0", "500@0.04", "502@0.04", "503@0.04", "reset@0.05",
              "truncate@0.05", "truncate@0.04:short", "nonjson@0.04"]
    with ApiSim(scenario="steady", seed=9, scenario_params={"events": 1500}, faults=faults) as sim:
        store = MemoryCheckpointStore()
        sink = Sink()
        sleeps = []
        summary = collector_for(sim, store, sleeps=sleeps, tenant_scoped="1").run(sink)
        stats = sim.stats()
        assert set(stats["faults"]) == {n.split("@")[0] for n in faults}  # each kind happened
        sim.set_faults([])
        end = {"effective_at[lte]": int(time.time())}
        expected = every_id(sim, **end) + every_id(sim, tenant_only=True, **end)
        assert sorted(sink.ids) == sorted(expected)
        assert summary.requests == stats["requests"] and summary.requests > summary.pages
        assert RETRY_AFTER_FLOOR in sleeps  # Retry-After: 0 was honoured, raised to the floor


def test_budget_exhaustion_against_the_stand_in_ends_the_run_and_keeps_the_checkpoint(every_id):
    with ApiSim(scenario="steady", seed=1, scenario_params={"events": 500}) as sim:
        store = MemoryCheckpointStore()
        first = Sink()

        class FailAfterTwoPages(Sink):
            def emit(self, raw, effective_at, event, backfill):
                first.emit(raw, effective_at, event, backfill)
                if len(first.ids) == 200:
                    sim.set_faults(["503@1.0"])

        # prefetch off: with it, the third page may already be on its way when the fault starts
        collector = collector_for(sim, store, budget=3, sleeps=[])
        collector.prefetch = False
        summary = collector.run(FailAfterTwoPages())
        (error,) = summary.errors
        assert isinstance(error, ApiUnavailableError) and "HTTP 503" in str(error)
        assert summary.pages == 2
        assert store.get(KEY_NAME)["walk"]["slices"][0]["oldest"] is not None
        sim.set_faults([])
        second = Sink()
        collector_for(sim, store).run(second)
        sent = first.ids + second.ids
        assert len(sent) == len(set(sent))
        assert set(sent) == set(every_id(sim, **{"effective_at[lte]": int(time.time())}))


def test_late_arrivals_are_caught_once(every_id):
    # Time scaled down: lag 0, overlap 3 s; the late events are 1 to 2 s old when the first poll
    # runs and appear a second later: within the overlap, so the sweep must catch every one of them.
    params = {"visible_after": 1.0, "count": 25, "late_from": -2, "late_to": -1}
    with ApiSim(scenario="late-arrivals", seed=5, scenario_params=params) as sim:
        store = MemoryCheckpointStore()
        polls = []
        for _ in range(5):
            polls.append(Sink())
            summary = collector_for(sim, store, tenant_scoped="1", overlap_seconds="3").run(polls[-1])
            assert summary.errors == []
            time.sleep(1.1)
        sent = [i for poll in polls for i in poll.ids]
        assert len(sent) == len(set(sent))
        end = {"effective_at[lte]": int(time.time()) - 2}
        assert set(every_id(sim, **end) + every_id(sim, tenant_only=True, **end)) <= set(sent)
        bounds = {"effective_at[gte]": sim.anchor - 2, "effective_at[lte]": sim.anchor - 1}
        late = set(every_id(sim, **bounds) + every_id(sim, tenant_only=True, **bounds)) - set(polls[0].ids)
        assert len(late) >= 25 and late <= set(sent)  # the 25 late ones (and any background there)


def test_added_events_in_the_overlap_and_repeats():
    now = int(time.time())
    base = [make_event("login.succeeded", seed=i, effective_at=now - 2 - i % 3) for i in range(120)]
    with ApiSim(events=base) as sim:
        store = MemoryCheckpointStore()
        first = Sink()
        collector_for(sim, store, overlap_seconds="4").run(first)
        high_water = store.get(KEY_NAME)["high_water"]
        # three events appear late, at a second the first poll read (within the 4 s overlap)
        late = [make_event("api_key.created", seed=1000 + i, effective_at=high_water - 1) for i in range(3)]
        sim.add_events(late)
        seconds = []
        for _ in range(6):  # the sweep reaches high_water - 1 once it is 4 s older than the window end
            time.sleep(1.1)
            sink = Sink()
            summary = collector_for(sim, store, overlap_seconds="4").run(sink)
            seconds.append((sink.ids, summary.skipped_duplicates))
        sent = [i for ids, _ in seconds for i in ids]
        assert sorted(sent) == sorted(e["id"] for e in late)  # each late event once, no old one again
        # every old event of the overlap was read once more (at least: a quiet input's polls read the
        # sweep and the new window as one range) and dropped
        assert sum(skipped for _, skipped in seconds) >= sum(1 for e in base if e["effective_at"] > high_water - 4)


@pytest.mark.parametrize("key, error", [("sk-admin-" + "w" * 60, AuthenticationError),
                                        (NO_PERMISSION_KEY, PermissionDeniedError)])
def test_auth_errors_from_the_stand_in(key, error):
    with ApiSim(scenario="steady", seed=1, scenario_params={"events": 50}) as sim:
        store = MemoryCheckpointStore()
        (failure,) = collector_for(sim, store, key=key).run(Sink()).errors
        assert isinstance(failure, error)
        assert sim.stats()["requests"] == 1
        assert store.get(KEY_NAME)["walk"] is None and store.get(KEY_NAME)["high_water"] is None
