"""Collector: the window walk, exactly-once bookkeeping, crashes, recovery, tenant stream.

Runs the real client against the in-process FakeApi (see conftest.py); the clock is fake, so
"a minute later" costs nothing.
"""
from __future__ import annotations

import json
import logging
import random

import pytest

from ta_openai_audit.checkpoint import CHECKPOINT_VERSION, FileCheckpointStore, MemoryCheckpointStore, checkpoint_keys
from ta_openai_audit.collector import RECOVERY_WINDOW, Collector
from ta_openai_audit.errors import (
    ApiUnavailableError,
    AuthenticationError,
    CheckpointError,
    ConfigurationError,
    PaginationError,
    PermissionDeniedError,
    RepeatedIdError,
)

KEY_NAME = "openai_audit_logs://prod"


class Crash(Exception):
    pass


class Sink:
    """emit(): checks what it is given, records ids (and which came as a backfill); can crash after
    N events. flush(): counts, and records how many events had been emitted at each flush."""

    def __init__(self, crash_after=None):
        self.ids = []
        self.backfill = []
        self.flushed_at = []
        self.crash_after = crash_after

    def emit(self, raw, effective_at, event, backfill):
        if self.crash_after is not None and len(self.ids) >= self.crash_after:
            raise Crash("emit failed after %d events" % len(self.ids))
        assert json.loads(raw) == event
        assert raw == json.dumps(event, separators=(",", ":"), ensure_ascii=False)
        assert effective_at == event["effective_at"]
        self.ids.append(event["id"])
        self.backfill.append(backfill)

    def flush(self):
        self.flushed_at.append(len(self.ids))


def failure(summary, kind):
    """The run's one error, of the kind expected."""
    assert len(summary.errors) == 1 and isinstance(summary.errors[0], kind), summary.errors
    return summary.errors[0]


class FlakyStore(MemoryCheckpointStore):
    """A store whose update fails on chosen calls (the process 'dies' before the write)."""

    def __init__(self, fail_on=()):
        super().__init__()
        self.calls = 0
        self.fail_on = set(fail_on)
        self.history = []

    def update(self, key, state):
        self.calls += 1
        if self.calls in self.fail_on:
            raise OSError("killed before the checkpoint was written")
        self.history.append((key, json.loads(json.dumps(state))))
        super().update(key, state)


class Harness:
    def __init__(self, eng, events=(), store=None, **settings):
        self.eng = eng
        self.api = eng.FakeApi(list(events))
        self.clock = eng.FakeClock()
        self.store = store if store is not None else MemoryCheckpointStore()
        self.settings = eng.make_settings(**settings)
        self.client = eng.make_client(self.api, self.clock)

    def collector(self, **kwargs):
        return Collector(self.client, self.store, KEY_NAME, self.settings, clock=self.clock, **kwargs)

    def run(self, sink=None, **kwargs):
        sink = sink if sink is not None else Sink()
        summary = self.collector(**kwargs).run(sink)
        return sink, summary

    def later(self, seconds):
        self.clock.now += seconds

    @property
    def record(self):
        return self.store.get(KEY_NAME)


def spread(eng, n, start, end, first_id=0, event_type="login.succeeded"):
    rng = random.Random(n * 31 + start)
    return [eng.make_event(first_id + i, rng.randint(start, end), event_type) for i in range(n)]


def ids_in(events, low, high):
    return {e["id"] for e in events if low <= e["effective_at"] <= high}


# -- the ordinary walk --------------------------------------------------------------------------


def test_first_run_reads_from_start_to_now_minus_lag(eng):
    now = eng.NOW
    inside = spread(eng, 250, now - 86400, now - 61)
    edge = [eng.make_event(900, now - 86400), eng.make_event(901, now - 60)]  # both bounds inclusive
    outside = [eng.make_event(902, now - 86401), eng.make_event(903, now - 59)]
    h = Harness(eng, inside + edge + outside)
    sink, summary = h.run()
    assert sorted(sink.ids) == sorted(ids_in(inside + edge, now - 86400, now - 60))
    assert len(sink.ids) == 252
    assert (summary.events, summary.pages, summary.requests, summary.skipped_duplicates) == (252, 3, 3, 0)
    assert summary.line() == "events=252 requests=3 pages=3 skipped_duplicates=0"
    stream = summary.streams[0]
    assert (stream.window_start, stream.window_end, stream.drained) == (now - 86400, now - 60, True)
    record = h.record
    assert record["version"] == CHECKPOINT_VERSION
    assert record["high_water"] == now - 60 and record["walk"] is None and record["start"] == now - 86400
    assert set(record["overlap_ids"]) == ids_in(inside + edge, now - 60 - 900, now - 60)


def test_next_poll_reads_the_fresh_window_and_the_seconds_that_reach_the_overlap(eng):
    now = eng.NOW
    old = spread(eng, 300, now - 3000, now - 60)
    h = Harness(eng, old)
    h.run()
    assert (h.record["high_water"], h.record["swept_to"]) == (now - 60, now - 60 - 900)
    h.later(60)
    new = spread(eng, 40, now - 59, now, first_id=1000)
    h.api.add(new)
    before = len(h.api.requests)
    sink, summary = h.run()
    assert sorted(sink.ids) == sorted(e["id"] for e in new)
    # The fresh window (high_water, now - lag], and the sweep: the 60 s that became 900 s old.
    queries = sorted((r["effective_at[gte]"][0], r["effective_at[lte]"][0]) for r in h.api.requests[before:])
    assert queries == sorted([(str(now - 59), str(now)), (str(now - 959), str(now - 900))])
    assert summary.skipped_duplicates == len(ids_in(old, now - 959, now - 900))
    assert summary.fetched == len(new) + summary.skipped_duplicates  # each second read twice, no more
    assert (h.record["high_water"], h.record["swept_to"]) == (now, now - 900)
    assert set(h.record["overlap_ids"]) == ids_in(old + new, now - 899, now)


def test_empty_windows(eng):
    h = Harness(eng, [])
    sink, summary = h.run()
    assert sink.ids == [] and summary.pages == 1 and summary.requests == 1
    assert h.record["high_water"] == eng.NOW - 60
    # Same second again: nothing new to ask for.
    sink, summary = h.run()
    assert summary.requests == 0 and summary.streams[0].window_start is None
    h.later(30)
    sink, summary = h.run()
    # the 30 new seconds and the sweep of the 30 seconds that became 900 s old, in one request:
    # nothing was sent in between, so reading it again costs nothing
    assert summary.requests == 1 and sink.ids == [] and h.record["high_water"] == eng.NOW - 30
    assert h.api.requests[-1]["effective_at[gte]"] == [str(eng.NOW - 60 - 900 + 1)]


def test_unknown_types_and_odd_shapes_are_kept_as_received(eng):
    now = eng.NOW
    events = [
        eng.make_event(1, now - 100, "some.type.from.the.future", extra={"ü": "ñ", "nested": [1, {"a": None}]}),
        dict(eng.make_event(2, now - 101, "login.succeeded"), actor=None),
        {"id": "audit_log-minimal", "type": "tenant.x.y", "effective_at": now - 102},
    ]
    events[2]["type"] = "x.y"
    h = Harness(eng, events)
    sink, _ = h.run()
    assert sorted(sink.ids) == sorted(e["id"] for e in events)


def test_emit_happens_before_the_checkpoint_of_each_page(eng):
    events = spread(eng, 230, eng.NOW - 5000, eng.NOW - 100)
    sink = Sink()

    class OrderCheckingStore(MemoryCheckpointStore):
        def update(self, key, state):
            walk = state["walk"]
            for piece in walk["slices"] if walk else ():
                if piece["oldest"] is not None:
                    sent = {e["id"] for e in events if piece["oldest"] < e["effective_at"] <= piece["end"]}
                    assert sent <= set(sink.ids)
                    assert set(piece["oldest_ids"]) <= set(sink.ids)
            # and the sink was flushed after the last event it was given
            assert not sink.ids or sink.flushed_at[-1] == len(sink.ids)
            super().update(key, state)

    h = Harness(eng, events, store=OrderCheckingStore())
    h.run(sink)
    assert len(sink.ids) == 230


# -- same second, late events -------------------------------------------------------------------


def test_hundreds_of_events_in_one_second_span_pages(eng):
    now = eng.NOW
    t = now - 3600
    cluster = [eng.make_event(i, t) for i in range(450)]
    around = spread(eng, 50, t + 1, now - 61, first_id=1000) + spread(eng, 50, now - 7000, t - 1, first_id=2000)
    h = Harness(eng, cluster + around, backfill_concurrency=1)
    # Stop after the first page that reaches the cluster, and look at the checkpoint.
    pages = []
    sink = Sink()
    h.collector(should_stop=lambda: pages.append(1) or len(pages) == 2).run(sink)
    (piece,) = h.record["walk"]["slices"]
    assert piece["oldest"] == t and 0 < len(piece["oldest_ids"]) < 450
    assert set(piece["oldest_ids"]) <= set(sink.ids)
    before = len(h.api.requests)
    sink2, summary = h.run()
    all_ids = sink.ids + sink2.ids
    assert len(all_ids) == len(set(all_ids)) == 550
    assert h.api.requests[before]["effective_at[lte]"] == [str(t)]  # resumed at that second
    assert summary.skipped_duplicates == len(piece["oldest_ids"])


@pytest.mark.parametrize("age", [0, 1, 300, 899])
def test_late_event_inside_the_overlap_is_caught_exactly_once(eng, age):
    now = eng.NOW
    # busy enough (about 0.4 events/s) that the sweep and the fresh window are two requests
    h = Harness(eng, spread(eng, 2000, now - 5000, now - 60))
    first, _ = h.run()
    hw = h.record["high_water"]
    late = eng.make_event(5000, hw - age)  # happened `age` s before high water, published now
    h.api.add([late])
    polls = []
    for n in range(20):  # 20 minutes: the sweep reaches it when it is 900 s older than the window end
        h.api.add(spread(eng, 24, int(h.clock.now) - 60, int(h.clock.now) - 1, first_id=10000 + 100 * n))
        h.later(60)
        sink, summary = h.run()
        polls.append(sink.ids)
        assert summary.errors == [] and len(sink.ids) == len(set(sink.ids))
    caught = [n for n, ids in enumerate(polls) if late["id"] in ids]
    assert len(caught) == 1
    # swept at the first poll whose window end is 900 s past it (polls 60 s apart, lag 60)
    assert caught[0] == (900 - age - 1) // 60


def test_a_quiet_input_reads_the_sweep_and_the_new_window_in_one_request(eng):
    now = eng.NOW
    h = Harness(eng, spread(eng, 30, now - 5000, now - 60))  # a handful of events in the overlap
    h.run()
    late = eng.make_event(5000, now - 60 - 300)
    h.api.add([late])
    h.later(60)
    before = len(h.api.requests)
    sink, summary = h.run()
    assert sink.ids == [late["id"]] and summary.requests == 1  # caught at once, in one request
    assert h.api.requests[before]["effective_at[gte]"] == [str(now - 60 - 900 + 1)]
    assert summary.skipped_duplicates == len(ids_in(h.api.events, now - 959, now - 60)) - 1


def test_late_event_older_than_the_overlap_is_not_collected(eng):
    # The documented limit of the design: the overlap is how late an event may be published.
    now = eng.NOW
    h = Harness(eng, [eng.make_event(1, now - 100)])
    h.run()
    h.api.add([eng.make_event(2, now - 60 - 901)])
    h.later(60)
    sink, _ = h.run()
    assert sink.ids == []


def test_overlap_ids_are_bounded_by_the_overlap(eng):
    now = eng.NOW
    events = spread(eng, 3000, now - 7 * 86400, now - 60)
    store = FlakyStore()
    h = Harness(eng, events, store=store, start=str(now - 7 * 86400))
    h.run()
    for _key, record in store.history:
        walk = record["walk"]
        for piece in walk["slices"] if walk else ():
            if walk["recent_ids"]:
                floor = min(walk["sweep_to"] + 1, max(walk["recent_ids"].values()) - 900)
                assert all(at >= floor for at in walk["recent_ids"].values())
            assert len(set(piece["oldest_ids"])) == len(
                [e for e in events if e["effective_at"] == piece["oldest"]] if piece["oldest"] is not None else [])
    final = h.record
    assert set(final["overlap_ids"]) == ids_in(events, now - 60 - 900, now - 60)
    assert len(final["overlap_ids"]) < 30
    assert len(json.dumps(final)) < 5000


# -- crashes and restarts -----------------------------------------------------------------------


@pytest.mark.parametrize("crash_after", [0, 1, 99, 100, 101, 250, 699])
def test_resume_after_emit_crash_resends_at_most_one_page(eng, crash_after):
    now = eng.NOW
    events = spread(eng, 700, now - 86400, now - 61) + [eng.make_event(9000 + i, now - 4000) for i in range(150)]
    h = Harness(eng, events)
    crashed = Sink(crash_after=crash_after)
    with pytest.raises(Crash):
        h.run(crashed)
    h.later(10)
    resumed, summary = h.run()
    sent = crashed.ids + resumed.ids
    assert set(sent) == {e["id"] for e in events}
    duplicates = len(sent) - len(set(sent))
    assert duplicates <= 100
    # the part of the page in flight that was sent (emitted after the last flush)
    assert duplicates == crash_after - (crashed.flushed_at[-1] if crashed.flushed_at else 0)


def test_killed_between_emit_and_checkpoint(eng):
    now = eng.NOW
    events = spread(eng, 520, now - 86400, now - 61)
    # Write 1 pins the start, writes 2.. follow pages: die at the checkpoint of page 3.
    store = FlakyStore(fail_on={4})
    h = Harness(eng, events, store=store)
    first = Sink()
    _, summary = h.run(first)
    error = failure(summary, CheckpointError)
    assert "resends at most this page" in str(error)
    assert len(first.ids) == 300
    assert summary.events == 300
    second, _ = h.run()
    sent = first.ids + second.ids
    assert set(sent) == {e["id"] for e in events}
    assert len(sent) - len(set(sent)) == 100  # exactly the page in flight


def test_random_crashes_late_events_and_polls_never_lose_or_repeat_much(eng):
    for seed in range(20):
        rng = random.Random(seed)
        now = eng.NOW
        events = spread(eng, rng.randint(0, 400), now - 3 * 86400, now - 61)
        for burst in range(rng.randint(0, 3)):  # same-second bursts larger than a page
            at = rng.randint(now - 3 * 86400, now - 61)
            events += [eng.make_event(100000 * (burst + 1) + i, at) for i in range(rng.randint(50, 260))]
        h = Harness(eng, events, start=str(now - 3 * 86400))
        sent, crashes, next_id = [], 0, 10 ** 7
        for poll in range(8):
            sink = Sink(crash_after=rng.choice([None, None, rng.randint(0, 300)]))
            try:
                h.run(sink)
            except Crash:
                crashes += 1
            sent += sink.ids
            h.later(rng.randint(1, 120))
            t = int(h.clock.now)
            fresh = [eng.make_event(next_id + i, rng.randint(t - 200, t)) for i in range(rng.randint(0, 120))]
            # Published up to 700 s late: behind the walk's position, but within the overlap.
            fresh += [eng.make_event(next_id + 500 + i, rng.randint(t - 700, t - 100)) for i in range(rng.randint(0, 5))]
            next_id += 1000
            h.api.add(fresh)
            events += fresh
        h.later(1000)  # past the overlap: the sweep has read again every second a late event may be at
        final = Sink()
        h.run(final)
        sent += final.ids
        high_water = h.record["high_water"]
        expected = ids_in(events, now - 3 * 86400, high_water)
        assert set(sent) == expected, seed
        assert len(sent) - len(set(sent)) <= 100 * crashes, seed


# -- faults end the run with the checkpoint where it was ------------------------------------------


def test_budget_exhaustion_keeps_the_checkpoint_at_the_last_page(eng):
    def fail(request):
        return eng.response(request, 503, {"error": {"message": "overloaded"}})

    now = eng.NOW
    events = spread(eng, 250, now - 86400, now - 61)
    h = Harness(eng, events)
    h.api.script = [None] + [fail] * 50
    first = Sink()
    _, summary = h.run(first)
    failure(summary, ApiUnavailableError)
    assert len(first.ids) == 100 and summary.events == 100
    (piece,) = h.record["walk"]["slices"]
    oldest_sent = min(e["effective_at"] for e in events if e["id"] in set(first.ids))
    assert piece["oldest"] == oldest_sent
    h.api.script = []
    second, _ = h.run()
    assert len(second.ids) == 150 and not set(first.ids) & set(second.ids)


def test_should_stop_ends_after_a_page_and_the_walk_continues(eng):
    events = spread(eng, 250, eng.NOW - 86400, eng.NOW - 61)
    h = Harness(eng, events)
    asked = []  # asked once before the stream starts, then after every page
    first, summary = h.run(should_stop=lambda: asked.append(1) or len(asked) > 1)
    assert len(first.ids) == 100 and summary.streams[0].stopped and not summary.streams[0].drained
    second, _ = h.run()
    assert sorted(first.ids + second.ids) == sorted(e["id"] for e in events)


def test_start_is_pinned_at_the_first_run(eng):
    h = Harness(eng, [], start="7")
    h.api.key = "sk-admin-other"  # every request: 401
    _, summary = h.run()
    failure(summary, AuthenticationError)
    assert h.record["start"] == eng.NOW - 7 * 86400
    h.api.key = eng.KEY
    h.later(3 * 86400)
    h.settings.start = int(h.clock.now) - 86400  # "7 days" resolved later; the pinned start wins
    h.run()
    assert h.api.requests[-1]["effective_at[gte]"] == [str(eng.NOW - 7 * 86400)]


def test_high_water_left_ahead_by_a_wrong_clock_is_rewound_and_nothing_is_lost(eng, engine_logs):
    # One run with the local clock an hour ahead and no Date header to correct it: the window
    # ends an hour in the future. Then the clock is corrected and the events of that hour arrive.
    early = spread(eng, 40, eng.NOW - 3000, eng.NOW - 61)
    h = Harness(eng, early)
    h.later(3600)
    first, _ = h.run()
    assert h.record["high_water"] == eng.NOW + 3600 - 60
    h.later(-3600 + 700)
    late = spread(eng, 60, eng.NOW - 60, eng.NOW + 600, first_id=1000)
    h.api.add(late)
    second, summary = h.run()
    assert sorted(first.ids + second.ids) == sorted(e["id"] for e in early + late)
    assert len(second.ids) == len(set(second.ids)) == 60  # nothing sent twice
    jump = [r for r in engine_logs.records if "clock jump" in r.getMessage()]
    assert jump and jump[0].levelno == logging.ERROR and "rewound" in jump[0].getMessage()
    assert summary.streams[0].clock_jump and h.record["high_water"] == eng.NOW + 700 - 60


def test_local_clock_ahead_of_the_api_only_delays_events(eng, engine_logs):
    early = spread(eng, 40, eng.NOW - 3000, eng.NOW - 61)
    h = Harness(eng, early)
    h.api.server_clock = lambda: h.clock.now - 3600  # the API's Date: an hour behind this host
    h.later(3600)
    first, summary = h.run()
    assert sorted(first.ids) == sorted(e["id"] for e in early)
    # The window ends at the API's now minus the lag, not this host's.
    assert h.record["high_water"] == eng.NOW - 60 and summary.clock_skew == pytest.approx(3600, abs=1)
    skew_lines = [r for r in engine_logs.records if r.getMessage().startswith("clock skew")]
    assert skew_lines and skew_lines[0].levelno == logging.ERROR and "ahead of" in skew_lines[0].getMessage()
    late = spread(eng, 30, eng.NOW - 60, eng.NOW + 300, first_id=1000)
    h.api.add(late)
    h.later(400)
    second, _ = h.run()
    assert sorted(first.ids + second.ids) == sorted(e["id"] for e in early + late)


# -- repeated ids and pages out of order ------------------------------------------------------------


def test_a_page_not_newest_first_is_refused_before_anything_is_sent(eng):
    events = spread(eng, 50, eng.NOW - 3000, eng.NOW - 61)
    h = Harness(eng, events)

    def oldest_first(request):
        status, body = h.api.list({"limit": ["100"], "effective_at[gte]": [str(eng.NOW - 86400)]})
        body["data"].reverse()
        return eng.response(request, 200, body)

    h.api.script = [oldest_first]
    sink = Sink()
    _, summary = h.run(sink)
    error = failure(summary, PaginationError)
    assert sink.ids == [] and "not ordered newest first" in str(error)
    assert h.record["walk"] is None and h.record["high_water"] is None
    second, _ = h.run()
    assert sorted(second.ids) == sorted(e["id"] for e in events)


def test_a_record_unreadable_only_by_its_version_keeps_its_walk(eng, engine_logs):
    events = spread(eng, 250, eng.NOW - 86400, eng.NOW - 61)
    h = Harness(eng, events)
    first, _ = h.run(should_stop=lambda: True if h.api.requests else False)
    record = h.record
    assert record["walk"]["slices"][0]["oldest"] is not None
    del record["version"]
    h.store.update(KEY_NAME, record)
    second, summary = h.run()
    assert sorted(first.ids + second.ids) == sorted(e["id"] for e in events)  # none twice, none lost
    assert "continues from its position" in summary.streams[0].recovery
    assert h.record["version"] == CHECKPOINT_VERSION




def test_a_cursor_that_does_not_move_stops_the_walk(eng, engine_logs):
    events = spread(eng, 250, eng.NOW - 86400, eng.NOW - 61)
    h = Harness(eng, events)
    h.api.ignore_after = True  # page 2 repeats page 1
    first = Sink()
    _, summary = h.run(first, prefetch=False)  # with prefetch, page 3 may be on its way too
    error = failure(summary, RepeatedIdError)
    assert "twice in one walk" in str(error) and error.category == "data"
    assert len(first.ids) == 100 and h.client.requests_made == 2
    assert any(r.levelno == logging.ERROR and "twice" in r.getMessage() for r in engine_logs.records)
    # The checkpoint still describes page 1: with a working API the walk finishes cleanly.
    h.api.ignore_after = False
    second, _ = h.run()
    assert sorted(first.ids + second.ids) == sorted(e["id"] for e in events)


def test_a_cursor_that_goes_back_stops_the_walk(eng):
    now = eng.NOW
    events = spread(eng, 250, now - 86400, now - 61)
    h = Harness(eng, events)

    def before_semantics(request):
        # A server that reads after=X as "newer than X": it returns page 1 minus X again.
        status, body = h.api.list({"limit": ["100"], "effective_at[gte]": [str(now - 86400)],
                                   "effective_at[lte]": [str(now - 60)]})
        body["data"] = body["data"][:-1]
        return eng.response(request, 200, body)

    h.api.script = [None, before_semantics]
    _, summary = h.run()
    failure(summary, RepeatedIdError)


def test_an_id_repeated_within_one_page_stops_the_walk(eng):
    e = eng.make_event(1, eng.NOW - 100)

    def twice(request):
        return eng.response(request, 200, {"object": "list", "data": [e, e], "has_more": False})

    h = Harness(eng, [e])
    h.api.script = [twice]
    sink = Sink()
    _, summary = h.run(sink)
    failure(summary, RepeatedIdError)
    assert sink.ids == []  # the page is checked before anything of it is sent


# -- checkpoints that cannot be used ------------------------------------------------------------


def _error_lines(logs):
    return [r.getMessage() for r in logs.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    "record, words",
    [
        ({"high_water": "H", "seen_ids": ["a"]}, "no version field (an older format)"),
        ({"version": 0, "high_water": "H"}, "format 0, an older format"),
        ({"version": 3, "high_water": "H", "cursor": "abc"}, "format 3, written by a newer version"),
        ({"version": 1, "start": "S", "high_water": "H", "overlap_ids": ["not", "a", "map"], "walk": None},
         "overlap_ids is not an object"),
    ],
)
def test_unusable_checkpoint_resumes_from_its_high_water(eng, engine_logs, record, words):
    now = eng.NOW
    hw = now - 7200
    record = json.loads(json.dumps(record).replace('"H"', str(hw)).replace('"S"', str(now - 86400)))
    before = spread(eng, 50, now - 86400, hw - 901)
    overlap = spread(eng, 20, hw - 900, hw, first_id=1000)
    after = spread(eng, 30, hw + 1, now - 61, first_id=2000)
    h = Harness(eng, before + overlap + after, store=MemoryCheckpointStore({KEY_NAME: record}))
    sink, summary = h.run()
    assert set(sink.ids) == {e["id"] for e in overlap + after}  # nothing lost; overlap re-sent
    # the seconds after high_water - overlap: the sweep reads them again, the ids sent being lost
    assert h.api.requests[0]["effective_at[gte]"] == [str(hw - 900 + 1)]
    errors = _error_lines(engine_logs)
    assert len(errors) == 1
    assert words in errors[0] and str(hw) in errors[0] and "may be sent twice" in errors[0]
    assert summary.streams[0].recovery is not None
    assert h.record["version"] == CHECKPOINT_VERSION and h.record["high_water"] == now - 60


@pytest.mark.parametrize(
    "record, words",
    [
        ("garbage", "it is a str, not a JSON object"),
        ([1, 2], "it is a list"),
        ({"version": 1, "start": 5, "high_water": None, "overlap_ids": {}, "walk": None}, "start is 5"),
        ({"version": 1, "start": 1789000000, "high_water": 4102444800}, "high_water is 4102444800"),  # year 2100
        ({"version": "1"}, "version '1' is not a number"),
    ],
)
def test_checkpoint_without_a_position_rereads_one_day_only(eng, engine_logs, record, words):
    now = eng.NOW
    end = now - 60
    recovery_start = end - 900 - RECOVERY_WINDOW
    old = spread(eng, 40, now - 30 * 86400, recovery_start - 1)
    recent = spread(eng, 40, recovery_start, end, first_id=1000)
    h = Harness(eng, old + recent, store=MemoryCheckpointStore({KEY_NAME: record}), start="90")
    sink, _ = h.run()
    assert set(sink.ids) == {e["id"] for e in recent}
    assert h.api.requests[0]["effective_at[gte]"] == [str(recovery_start)]
    errors = _error_lines(engine_logs)
    assert len(errors) == 1 and words in errors[0]
    assert "re-reading" in errors[0] and "NOT read" in errors[0] and "Found:" in errors[0]


def test_recovery_window_never_reaches_before_the_configured_start(eng):
    now = eng.NOW
    h = Harness(eng, [], store=MemoryCheckpointStore({KEY_NAME: "garbage"}), start=str(now - 3600))
    h.run()
    assert h.api.requests[0]["effective_at[gte]"] == [str(now - 3600)]


def test_inconsistent_walk_is_reported(eng, engine_logs):
    now = eng.NOW
    record = {"version": 1, "start": now - 86400, "high_water": now - 3000, "overlap_ids": {},
              "walk": {"start": now - 3900, "end": now - 100, "oldest": now - 5000, "oldest_ids": [], "recent_ids": {}}}
    h = Harness(eng, [], store=MemoryCheckpointStore({KEY_NAME: record}))
    h.run()
    assert "walk times are inconsistent" in _error_lines(engine_logs)[0]
    assert h.api.requests[0]["effective_at[gte]"] == [str(now - 3000 - 900 + 1)]


def test_corrupt_state_file_is_recovered_and_kept_aside(eng, engine_logs, tmp_path):
    path = tmp_path / "state.json"
    path.write_bytes(b'{"openai_audit_logs://prod": {"version": 1, "high_wa')
    h = Harness(eng, spread(eng, 10, eng.NOW - 3600, eng.NOW - 61), store=FileCheckpointStore(str(path)))
    sink, _ = h.run()
    assert len(sink.ids) == 10
    assert "cannot be decoded" in _error_lines(engine_logs)[0]
    assert json.loads(path.read_text())[KEY_NAME]["high_water"] == eng.NOW - 60
    aside = list(tmp_path.glob("state.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b'{"openai_audit_logs://prod"')


def test_unreadable_store_stops_without_collecting(eng):
    class DownStore(MemoryCheckpointStore):
        def get(self, key):
            raise ConnectionError("KV store: 503 Service Unavailable")

    store = DownStore({KEY_NAME: {"keep": "me"}})
    h = Harness(eng, spread(eng, 10, eng.NOW - 3600, eng.NOW - 61), store=store)
    sink = Sink()
    _, summary = h.run(sink)
    error = failure(summary, CheckpointError)
    assert "503" in str(error) and error.category == "checkpoint"
    assert sink.ids == [] and h.api.requests == []
    assert store.records[KEY_NAME] == {"keep": "me"}


# -- the tenant-scoped stream --------------------------------------------------------------------


def tenant_mix(eng):
    now = eng.NOW
    return (spread(eng, 120, now - 5000, now - 61, 0, "login.succeeded")
            + spread(eng, 30, now - 5000, now - 61, 1000, "api_key.created")
            + spread(eng, 110, now - 5000, now - 61, 2000, "tenant.user.looked_up")
            + spread(eng, 5, now - 5000, now - 61, 3000, "role.bound_to_resource"))


def test_tenant_stream_has_its_own_query_and_checkpoint(eng):
    events = tenant_mix(eng)
    h = Harness(eng, events, tenant_scoped="1")
    sink, summary = h.run()
    assert sorted(sink.ids) == sorted(e["id"] for e in events)
    assert [s.name for s in summary.streams] == ["all", "tenant"]
    assert [s.key for s in summary.streams] == checkpoint_keys(KEY_NAME) == [KEY_NAME, KEY_NAME + ":tenant"]
    tenant_requests = [q for q in h.api.requests if q.get("tenant_only") == ["true"]]
    other_requests = [q for q in h.api.requests if "tenant_only" not in q]
    assert len(tenant_requests) == 2 and len(other_requests) == 2
    assert h.store.get(KEY_NAME)["high_water"] == h.store.get(KEY_NAME + ":tenant")["high_water"]
    assert set(h.store.get(KEY_NAME + ":tenant")["overlap_ids"]) <= {
        e["id"] for e in events if e["type"].startswith(("tenant.", "role.bound"))}


def test_requested_types_are_split_between_the_streams(eng):
    events = tenant_mix(eng)
    h = Harness(eng, events, tenant_scoped="1", event_types="api_key.created,tenant.user.looked_up",
                project_ids="proj_a,proj_b")
    for e in events:
        e["project"] = {"id": "proj_a", "name": "A"}
    sink, _ = h.run()
    assert sorted(sink.ids) == sorted(e["id"] for e in events if e["type"] in ("api_key.created", "tenant.user.looked_up"))
    for query in h.api.requests:
        if query.get("tenant_only") == ["true"]:
            assert query["event_types[]"] == ["tenant.user.looked_up"] and "project_ids[]" not in query
        else:
            assert query["event_types[]"] == ["api_key.created"] and query["project_ids[]"] == ["proj_a", "proj_b"]


def test_only_tenant_types_runs_only_the_tenant_stream(eng):
    h = Harness(eng, tenant_mix(eng), tenant_scoped="1", event_types="role.bound_to_resource")
    sink, summary = h.run()
    assert [s.name for s in summary.streams] == ["tenant"] and len(sink.ids) == 5
    assert all(q.get("tenant_only") == ["true"] for q in h.api.requests)
    assert h.store.get(KEY_NAME) is None


def test_only_other_types_skips_the_tenant_stream(eng):
    h = Harness(eng, tenant_mix(eng), tenant_scoped="1", event_types="login.succeeded")
    _, summary = h.run()
    assert [s.name for s in summary.streams] == ["all"]


def test_tenant_types_without_tenant_scoped_are_refused(eng):
    h = Harness(eng, [])
    h.settings.event_types = ("tenant.user.added",)
    _, summary = h.run()
    failure(summary, ConfigurationError)


def test_a_failing_stream_does_not_stop_the_other(eng):
    events = tenant_mix(eng)
    h = Harness(eng, events, tenant_scoped="1")

    def forbidden(request):
        return eng.response(request, 403, {"error": {"message": "tenant scope missing"}})

    h.api.script = [None, None, forbidden]  # 2 pages of the main stream, then the tenant stream fails
    sink = Sink()
    summary = h.collector().run(sink)
    failure(summary, PermissionDeniedError)
    summary = summary
    assert summary.events == 150 and len(sink.ids) == 150
    assert summary.streams[1].error.startswith("permission:")


# -- window edges -----------------------------------------------------------------------------------


def test_events_outside_the_requested_window_are_not_sent(eng, engine_logs):
    now = eng.NOW
    inside = eng.make_event(1, now - 100)
    stray = eng.make_event(2, now + 500)

    def sloppy(request):
        return eng.response(request, 200, {"object": "list", "data": [stray, inside], "has_more": False})

    h = Harness(eng, [inside])
    h.api.script = [sloppy]
    sink, summary = h.run()
    assert sink.ids == [inside["id"]] and summary.streams[0].out_of_window == 1
    assert any("outside the requested slice" in r.getMessage() for r in engine_logs.records)


def test_start_later_than_now_minus_lag(eng):
    h = Harness(eng, [eng.make_event(1, eng.NOW - 10)], start="0", lag_seconds="60")
    sink, _ = h.run()
    assert sink.ids == []
    h.later(120)
    sink, _ = h.run()
    assert sink.ids == ["audit_log-%024d" % 1]


# -- the late-event sweep: every second read twice, whatever the time scale ----------------------------


@pytest.mark.parametrize("interval, lag, overlap", [(60, 60, 900), (2, 2, 30)])
def test_steady_polls_read_each_second_twice_and_catch_every_late_event(eng, interval, lag, overlap):
    # A day (or its scaled-down twin) of polls, 1 event/s, 2% of them published up to `overlap`
    # seconds late: every event is sent once, and the API is asked for each second twice.
    rng = random.Random(interval)
    per_second = 60 // interval  # as many events per poll at both scales
    now = eng.NOW
    h = Harness(eng, [], interval=interval, lag_seconds=lag, overlap_seconds=overlap, start=str(now - 10))
    hidden, sent, fetched = [], [], 0
    next_id = 0
    polls = 3 * overlap // interval + 40
    for _ in range(polls):
        t = int(h.clock.now)
        for second in range(t - interval, t):  # 60 events a poll, most published at once
            for _ in range(per_second):
                event = eng.make_event(next_id, second)
                next_id += 1
                if rng.random() < 0.02:
                    hidden.append((second + rng.randint(lag + 1, overlap), event))  # late, within the overlap
                else:
                    h.api.add([event])
        h.api.add([e for at, e in hidden if at <= t])
        hidden = [(at, e) for at, e in hidden if at > t]
        sink, summary = h.run()
        assert summary.errors == []
        sent += sink.ids
        fetched += summary.fetched
        h.later(interval)
    assert len(sent) == len(set(sent))
    swept_to = h.record["swept_to"]
    published = {e["id"] for e in h.api.events if e["effective_at"] <= swept_to}
    assert published <= set(sent)  # every event up to the last sweep, the late ones included
    # twice (less at the edges: the last overlap's seconds are not swept yet, late events are read once)
    assert 1.7 <= fetched / len(sent) <= 2.0
    stream = summary.streams[0]
    assert stream.lateness_max is not None and lag <= stream.lateness_p99 <= stream.lateness_max


def test_the_lateness_of_a_run_is_in_its_summary_line(eng):
    now = eng.NOW
    h = Harness(eng, [eng.make_event(1, now - 100)])
    h.run()
    h.api.add([eng.make_event(2, now - 61), eng.make_event(3, now - 30)])  # late, and new
    h.later(900)
    _, summary = h.run()
    (stream,) = summary.streams
    assert (stream.events, stream.late_events) == (2, 1)
    assert (stream.lateness_max, stream.lateness_p99) == (900 + 61, 900 + 61)
    line = stream.checkpoint_line(h.clock.now, None, 900)
    assert "late_events=1 lateness_max=961 lateness_p99=961 slices=1" in line


# -- large windows: slices walked at once ----------------------------------------------------------


def answer(h, request):
    """The body the fake API would answer to ``request``."""
    from urllib.parse import parse_qs, urlsplit

    _, body = h.api.list(parse_qs(urlsplit(request.url).query, keep_blank_values=True))
    return body


def backlog(eng, n, span):
    now = eng.NOW
    return spread(eng, n, now - span, now - 61)


def test_a_backlog_is_split_into_slices_walked_at_once(eng):
    events = backlog(eng, 6000, 86400)
    h = Harness(eng, events, backfill_concurrency=4)
    sink, summary = h.run()
    assert sorted(sink.ids) == sorted(e["id"] for e in events) and all(sink.backfill)
    stream = summary.streams[0]
    assert stream.drained and stream.slices >= 4 and stream.concurrency >= 2
    # a split costs about a request per slice: the pages, and a few more
    assert summary.requests <= 60 + 2 * stream.slices
    assert h.record["walk"] is None and h.record["high_water"] == eng.NOW - 60


def test_a_small_window_is_one_slice_with_as_many_requests_as_pages(eng):
    h = Harness(eng, backlog(eng, 250, 86400), backfill_concurrency=8)
    _, summary = h.run()
    assert (summary.requests, summary.streams[0].slices) == (3, 1)


@pytest.mark.parametrize("crash_after", [150, 1234, 4000])
def test_a_crash_in_a_sliced_walk_resends_at_most_the_page_in_flight(eng, crash_after):
    events = backlog(eng, 6000, 86400)
    h = Harness(eng, events, backfill_concurrency=4)
    crashed = Sink(crash_after=crash_after)
    with pytest.raises(Crash):
        h.run(crashed)
    walk = h.record["walk"]
    assert walk is not None and len(walk["slices"]) >= 1
    before = len(h.api.requests)
    h.later(10)
    resumed, summary = h.run()
    sent = crashed.ids + resumed.ids
    assert set(sent) == {e["id"] for e in events}
    duplicates = len(sent) - len(set(sent))
    assert duplicates == crash_after - (crashed.flushed_at[-1] if crashed.flushed_at else 0) <= 100
    # every slice resumes where the checkpoint left it
    asked = {(q["effective_at[gte]"][0], q["effective_at[lte]"][0]) for q in h.api.requests[before:]}
    for piece in walk["slices"]:
        upper = piece["end"] if piece["oldest"] is None else piece["oldest"]
        assert (str(piece["start"]), str(upper)) in asked


def test_stopping_a_sliced_walk_keeps_every_slice_position(eng):
    events = backlog(eng, 6000, 86400)
    h = Harness(eng, events, backfill_concurrency=4)
    pages = []
    first, summary = h.run(should_stop=lambda: pages.append(1) or len(pages) > 20)
    assert summary.streams[0].stopped
    slices = h.record["walk"]["slices"]
    assert len(slices) >= 2
    for piece in slices:  # every event above a slice's position was sent
        if piece["oldest"] is not None:
            assert ids_in(events, piece["oldest"] + 1, piece["end"]) <= set(first.ids)
    second, _ = h.run()
    assert sorted(first.ids + second.ids) == sorted(e["id"] for e in events)  # none twice


def test_rate_limits_halve_the_requests_in_flight(eng, engine_logs):
    events = backlog(eng, 6000, 86400)
    h = Harness(eng, events, backfill_concurrency=8)

    def limited(request):
        return eng.response(request, 429, {"error": {"message": "Rate limit reached"}}, {"Retry-After": "1"})

    h.api.script = [None, None, None] + [limited] * 6
    sink, summary = h.run()
    assert sorted(sink.ids) == sorted(e["id"] for e in events)
    stream = summary.streams[0]
    assert stream.throttled == 6 and stream.drained
    halvings = [r.getMessage() for r in engine_logs.records if "rate-limited" in r.getMessage()]
    assert halvings and "at most 4 requests at once" in halvings[0]


def test_429s_to_requests_of_one_round_halve_the_concurrency_once():
    import threading

    from ta_openai_audit.collector import _Gate

    gate = _Gate(8)
    entered = threading.Barrier(4)
    halved = []

    def request_answered_429():
        gate.enter(lambda: False)
        entered.wait(5)  # all four in flight before the first 429 comes back
        halved.append(gate.shrink())
        gate.leave()

    threads = [threading.Thread(target=request_answered_429) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert sorted(halved, key=str) == [4, None, None, None] and gate.capacity == 4
    request_answered_429_later = threading.Thread(target=lambda: (gate.enter(lambda: False), halved.append(gate.shrink()), gate.leave()))
    request_answered_429_later.start()
    request_answered_429_later.join(5)
    assert halved[-1] == 2 and gate.capacity == 2  # a request let in after the halving counts again


def test_a_bad_page_in_one_slice_stops_the_walk_with_every_position_kept(eng):
    events = backlog(eng, 6000, 86400)
    h = Harness(eng, events, backfill_concurrency=4)

    def twice(request):  # the tenth answer repeats an id of its own page
        body = answer(h, request)
        body["data"] = body["data"][:1] * 2 + body["data"][2:]
        return eng.response(request, 200, body)

    h.api.script = [None] * 9 + [twice]
    first, summary = h.run()
    failure(summary, RepeatedIdError)
    assert len(first.ids) == len(set(first.ids))
    second, _ = h.run()
    sent = first.ids + second.ids
    assert sorted(sent) == sorted(e["id"] for e in events)


# -- pipelining ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("prefetch", [True, False])
def test_the_next_page_is_fetched_while_a_page_is_written(eng, prefetch):
    import time

    h = Harness(eng, backlog(eng, 500, 3000), backfill_concurrency=1)  # five pages
    asked_during_write = []

    class SlowStore(MemoryCheckpointStore):
        def update(self, key, state):
            walk = state["walk"]
            if walk and walk["slices"][0]["oldest"] is not None:  # the checkpoint of pages 1 to 4
                page = len(asked_during_write) + 1
                deadline = time.monotonic() + 0.3  # a slow KV store: does page + 1 get asked meanwhile?
                while len(h.api.requests) <= page and time.monotonic() < deadline:
                    time.sleep(0.002)
                asked_during_write.append(len(h.api.requests) > page)
            super().update(key, state)

    h.store = SlowStore()
    sink, summary = h.run(prefetch=prefetch)
    assert len(sink.ids) == 500 and summary.requests == 5
    assert asked_during_write == [prefetch] * 4


# -- format 1 records (written before slices) ------------------------------------------------------------


def test_a_format_1_walk_under_way_is_upgraded_and_continues(eng, engine_logs):
    now = eng.NOW
    events = spread(eng, 300, now - 86400, now - 61)
    ordered = sorted(events, key=lambda e: (e["effective_at"], e["id"]), reverse=True)
    sent, position = ordered[:150], ordered[149]["effective_at"]
    at_position = [e["id"] for e in sent if e["effective_at"] == position]
    record = {"version": 1, "start": now - 86400, "high_water": None, "overlap_ids": {},
              "walk": {"start": now - 86400, "end": now - 60, "oldest": position, "oldest_ids": at_position,
                       "recent_ids": {e["id"]: e["effective_at"] for e in sent if e["effective_at"] >= now - 960}},
              "updated_at": now - 10}
    h = Harness(eng, events, store=MemoryCheckpointStore({KEY_NAME: record}))
    sink, summary = h.run()
    assert sorted(sink.ids) == sorted(e["id"] for e in ordered[150:])  # the rest, none of the 150 again
    assert h.record["version"] == CHECKPOINT_VERSION and h.record["high_water"] == now - 60
    assert h.record["swept_to"] == now - 60 - 900
    assert any(r.levelno == logging.INFO and "format 1 upgraded to format 2" in r.getMessage()
               for r in engine_logs.records)
    assert not _error_lines(engine_logs)


def test_a_drained_format_1_record_gets_its_sweep_position_from_the_overlap(eng):
    now = eng.NOW
    old = spread(eng, 100, now - 3000, now - 60)
    record = {"version": 1, "start": now - 86400, "high_water": now - 60, "walk": None,
              "overlap_ids": {e["id"]: e["effective_at"] for e in old if e["effective_at"] >= now - 960}}
    h = Harness(eng, old, store=MemoryCheckpointStore({KEY_NAME: record}))
    h.later(60)
    late = eng.make_event(5000, now - 950)  # inside what format 1 had still to re-read
    h.api.add([late])
    sink, summary = h.run()
    assert sink.ids == [late["id"]] and summary.errors == []
    assert h.record["swept_to"] == now - 900
