"""The collector: walks time windows of the audit log newest first and records, after every page,
exactly where it stands, so that every event is sent once even across crashes, late arrivals and
pages that split a second. The record it keeps is described in checkpoint.py.

What one poll reads
-------------------
The API only filters on ``effective_at``, so an event that appears late (after its second was
read) can only be caught by reading its second again. Each poll, with ``E = now - lag``, reads:
- the fresh window ``(high_water, E]``: every second once, as soon as the lag has passed;
- the late-event sweep ``(swept_to, min(E - overlap, high_water)]``: every second once more, when it
  has become ``overlap`` seconds older than the window end. An event that appears up to
  ``overlap + lag`` seconds after its effective_at is caught, by the sweep at the latest; the
  ids sent at seconds a later sweep reads (``overlap_ids``) are kept so none is sent twice.
Every second is thus read twice in steady state (read amplification 2, whatever the overlap: the
floor for catching events up to ``overlap`` late), where re-reading the whole overlap on every poll
read it about (interval + lag + overlap) / interval times (16 at the defaults). When the two are
adjacent (the first poll after a pause of more than the overlap) they are one range; a second read
at least ``overlap`` after its first needs no sweep. They are one range too when the seconds between
them held fewer than MERGE_BELOW events (the ids kept say how many): a quiet input makes one request
a poll, and re-reads less than half a page. Every period derives from the input's own
interval, lag and overlap, so the behaviour scales with them.

How a window is walked
----------------------
A window is one or more time slices (``Slice``), each walked newest first with
``effective_at[gte]/[lte]`` and cursor pagination, by up to ``backfill_concurrency`` fetcher
threads; each fetcher keeps one page ahead (it fetches the next page while the page before is
written). While fewer slices are under way than fetchers may run, a slice whose pages so far say
that many more remain below its position (the first run's history, the backlog after an outage) is
split there: the part above resumes from the position, the parts below are walked at once. Idle
fetchers thus take work from busy ones however unevenly events are spread, and a small window is
one slice, as many requests as pages. An HTTP 429 halves the number of requests in flight, once
per round, for the rest of the walk. Only the walk's own thread writes: for every page, in the order each slice's pages come,
it checks the page, emits its new events, flushes the sink, then records in the checkpoint the
slice's position: its oldest effective_at processed (``oldest``) and the ids processed at that
second (``oldest_ids``). A restart re-queries ``[slice start, oldest]`` and skips ``oldest_ids``: no
cursor has to survive, nothing is written past what the checkpoint can resume from, and a kill
re-sends at most the one page being written. When every slice is drained, high_water becomes the
window's end and swept_to its sweep end.

Clock (the window end is a promise that nothing older is still to come, so it must not run ahead of
the API's clock): every response's Date header measures the local clock's skew (client.clock_skew).
The window end is ``now - lag`` with ``now`` the local clock, or the API's when the local clock is
ahead: a local clock ahead of the API only delays events, never loses them. The first page of a
run that shows the local clock ahead by more than CLOCK_STEP_TOLERANCE restarts the walk with the
corrected now before anything of it is sent. A high_water (or a walk's end) ahead of the window end
is a clock jump (an earlier run had a clock ahead): logged at ERROR and rewound to the newest event
actually sent (the ids kept stay, so none of them is sent twice; the ids of the overlap below the
walk's newest event are kept for this, even when the window end was later), or, when no id was
kept, to a day back (RECOVERY_WINDOW); a walk from before any high_water keeps its positions and
only its end comes back. Skew beyond CLOCK_SKEW_WARNING is logged at WARNING, beyond the overlap at
ERROR, and every run's summary carries it (``clock_skew``).

Pagination the collector does not trust blindly: a page with an event newer than its slice's
position (pages must come newest first), an id seen twice, more than MAX_IDS_AT_ONE_SECOND ids at
one second, stop the walk with a PaginationError/RepeatedIdError before anything of that page is
sent. A page entirely older than its slice ends the slice (the rest can only be older still). A
run stops (and the next continues) after MAX_PAGES_PER_RUN pages or run_time_limit() seconds.

Recovery policy for a checkpoint that cannot be used (undecodable, not an object, a field of the
wrong type or an implausible time): it is logged at ERROR with what was found, then
  1. if a plausible ``high_water`` can be read from it (an integer Unix time between 2020 and 2100;
     one ahead of now is then rewound as a clock jump), collection resumes from there; the ids
     already sent were lost with the record, so the events of the overlap below it (and of a walk
     in progress above it) may be sent twice. The log names that interval.
  2. otherwise the window is ``[max(configured start, now - lag - overlap - 24 h), now - lag]``: at
     most a day plus the overlap is read again (never months), and the log names the exact interval
     and says that anything older and not yet collected needs a backfill input.
A record whose only problem is its version, but whose fields read as a known format, keeps its
position (logged at ERROR). The recovered state is written back at once, in the current format.

Changing an input's settings keeps its checkpoint: new event_types/project_ids apply from the
current position on (no backfill of history); a start change has no effect after the first run
(the resolved start is pinned in the checkpoint, so "7 days" does not slide forward with every run).
"""
from __future__ import annotations

import datetime as _dt
import json
import logging
import math
import queue
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from .checkpoint import (
    CHECKPOINT_VERSION,
    TENANT_KEY_SUFFIX,
    BadRecord,
    Slice,
    StreamState,
    VersionMismatch,
    Walk,
    describe_record,
    plausible_time,
    read_record,
)
from .client import PAGE_LIMIT
from .errors import (
    CheckpointError,
    CollectorError,
    ConfigurationError,
    PaginationError,
    RepeatedIdError,
    StopRequested,
)
from .settings import InputSettings, is_tenant_scoped

RECOVERY_WINDOW = 24 * 3600
# A high_water or window end this far ahead of now (seconds) is a clock jump; the Date header's
# one-second resolution and the request's duration make smaller differences noise.
CLOCK_STEP_TOLERANCE = 2
# Local clock skew (seconds) worth a WARNING; beyond the overlap it is an ERROR.
CLOCK_SKEW_WARNING = 30
# Ids at one effective_at second that the slices of a walk may hold at their positions (100 full
# pages): beyond it the API is handing out fresh ids without the walk moving, and the checkpoint
# would grow without bound.
MAX_IDS_AT_ONE_SECOND = 10_000
# Pages one run walks before it stops and leaves the rest to the next run (a million events).
MAX_PAGES_PER_RUN = 10_000
# A slice is split for an idle fetcher only when each part would still hold about this many pages
# (a split costs one request: the part above re-reads its first page from the position), and only
# once this many of its pages show how dense it is.
MIN_PAGES_PER_SLICE = 8
PAGES_BEFORE_SPLIT = 2
# The sweep and the fresh window are read as one range when the seconds between them held fewer
# events than this (half a page): a quiet input makes one request a poll, not two.
MERGE_BELOW = PAGE_LIMIT // 2
# Ids of out-of-window events quoted in the log line that reports them.
_IDS_QUOTED = 10
# Seconds a cancelled fetcher may take to notice (its request is cut; a retry wait polls).
_FETCHER_JOIN_SECONDS = 10.0


def run_time_limit(settings: InputSettings) -> float:
    """Seconds one run may walk before it stops with its checkpoint and leaves the rest to the
    next run: five intervals (a backfill goes on run after run)."""
    return float(5 * settings.interval)


# Code points that JSON strings may hold but XML 1.0 (the modular input stream) and UTF-8 files
# cannot: lone surrogates, U+FFFE and U+FFFF.
_NOT_XML_CHARS = re.compile("[\ud800-\udfff\ufffe\uffff]")


def compact_json(event: Dict[str, Any]) -> str:
    """The event as compact JSON, non-ASCII kept as is, except the few code points above, which
    are written as \\uXXXX escapes: still valid JSON that parses back to the same value."""
    text = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    return _NOT_XML_CHARS.sub(lambda m: "\\u%04x" % ord(m.group()), text)


def _iso(ts: Optional[int]) -> str:
    if ts is None:
        return "-"
    try:
        return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return "%d (not a date)" % ts


def _dash(value: Optional[int]) -> str:
    return "-" if value is None else "%d" % value


@dataclass
class StreamSummary:
    """What one stream did in one run."""

    name: str  # "all" or "tenant"
    key: str
    window_start: Optional[int] = None
    window_end: Optional[int] = None
    resumed_at: Optional[int] = None  # the newest position a resumed walk continued from
    events: int = 0
    pages: int = 0
    requests: int = 0
    fetched: int = 0  # events the API returned, sent or not
    skipped_duplicates: int = 0
    out_of_window: int = 0
    late_events: int = 0  # events sent at a second an earlier window had read already
    lateness_max: Optional[int] = None  # seconds from effective_at to first read, outside the initial window
    lateness_p99: Optional[int] = None
    slices: int = 0
    concurrency: int = 0  # most requests in flight at once
    throttled: int = 0  # HTTP 429 answers
    drained: bool = False
    stopped: bool = False
    recovery: Optional[str] = None  # what the recovery policy did, if it ran
    clock_jump: Optional[str] = None  # what the clock-jump rewind did, if it ran
    error: Optional[str] = None
    high_water: Optional[int] = None  # the checkpoint's high_water when the run ended
    lateness: Counter = field(default_factory=Counter, repr=False)  # seconds -> events

    def as_dict(self) -> Dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "lateness"}

    def note_lateness(self) -> None:
        """lateness_max and lateness_p99 from the counts gathered during the run."""
        if not self.lateness:
            return
        total = sum(self.lateness.values())
        rank = math.ceil(0.99 * total)
        seen = 0
        for seconds in sorted(self.lateness):
            seen += self.lateness[seconds]
            if seen >= rank:
                self.lateness_p99 = seconds
                break
        self.lateness_max = max(self.lateness)

    def line(self) -> str:
        window = "[%s, %s]" % (_iso(self.window_start), _iso(self.window_end))
        return "stream=%s window=%s events=%d pages=%d skipped_duplicates=%d state=%s" % (
            self.name, window, self.events, self.pages, self.skipped_duplicates, self.state(),
        )

    def checkpoint_line(self, now: float, clock_skew: Optional[float], overlap_seconds: int) -> str:
        """The stream's part of the per-run checkpoint summary line (key=value, read by the Input
        Health dashboard): window, high_water and how far it is behind now (seconds), what the run
        did, the measured clock skew (local minus the API's, seconds), the late events caught and
        how late the events sent outside the initial window were first read (seconds), the slices
        walked, the most requests in flight at once and the 429 answers."""
        lag = "-" if self.high_water is None else "%d" % max(0, int(now) - self.high_water)
        return (
            "stream=%s window_start=%s window_end=%s high_water=%s lag_behind_now=%s "
            "events=%d pages=%d requests=%d errors=%d clock_skew=%s overlap=%d state=%s "
            "late_events=%d lateness_max=%s lateness_p99=%s slices=%d concurrency=%d throttled=%d"
            % (
                self.name, _dash(self.window_start), _dash(self.window_end), _dash(self.high_water), lag,
                self.events, self.pages, self.requests, 1 if self.error else 0,
                "-" if clock_skew is None else "%.1f" % clock_skew, overlap_seconds, self.state(),
                self.late_events, _dash(self.lateness_max), _dash(self.lateness_p99), self.slices,
                self.concurrency, self.throttled,
            )
        )

    def state(self) -> str:
        if self.error:
            return "error"
        if self.drained:
            return "drained"
        if self.stopped:
            return "stopped"
        return "nothing_new" if self.window_start is None else "in_progress"


@dataclass
class RunSummary:
    events: int = 0
    requests: int = 0
    pages: int = 0
    fetched: int = 0
    skipped_duplicates: int = 0
    clock_skew: Optional[float] = None  # local clock minus the API's, when measured
    streams: List[StreamSummary] = field(default_factory=list)
    errors: List[CollectorError] = field(default_factory=list)  # one per stream that failed

    @property
    def error(self) -> Optional[CollectorError]:
        return self.errors[0] if self.errors else None

    def line(self) -> str:
        return "events=%d requests=%d pages=%d skipped_duplicates=%d" % (
            self.events, self.requests, self.pages, self.skipped_duplicates,
        )

    def as_dict(self) -> Dict[str, Any]:
        return {
            "events": self.events,
            "requests": self.requests,
            "pages": self.pages,
            "fetched": self.fetched,
            "skipped_duplicates": self.skipped_duplicates,
            "clock_skew": self.clock_skew,
            "streams": [s.as_dict() for s in self.streams],
            "errors": ["%s: %s" % (e.category, e) for e in self.errors],
        }


class _ClockAhead(Exception):
    """The first response showed the local clock ahead of the API's: walk again with its now."""


@dataclass
class _Stream:
    name: str
    key: str
    params: Dict[str, Any]


@dataclass
class _Job:
    """One slice as a fetcher walks it: the query's upper bound, and the repeated-id guard (with
    newest-first pages, which the position check enforces, an id can only come back on the next
    page or at the boundary second, so the previous page's ids and the ids at the current oldest
    second are enough)."""

    slice: Slice
    upper: int
    turn: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(1))
    finished: bool = False
    pages: int = 0
    previous_page: Set[str] = field(default_factory=set)
    boundary_second: Optional[int] = None
    boundary_ids: Set[str] = field(default_factory=set)


class _Gate:
    """At most ``capacity`` requests in flight. An HTTP 429 halves the capacity, once per round:
    a 429 to a request that was let in before the last halving does not halve it again."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.in_use = 0
        self.peak = 0
        self._round = 0
        self._condition = threading.Condition()
        self._local = threading.local()

    def enter(self, cancelled: Callable[[], bool]) -> None:
        with self._condition:
            while self.in_use >= self.capacity:
                if cancelled():
                    raise StopRequested()
                self._condition.wait(0.1)
            self.in_use += 1
            self.peak = max(self.peak, self.in_use)
            self._local.round = self._round

    def leave(self) -> None:
        with self._condition:
            self.in_use -= 1
            self._condition.notify_all()

    def shrink(self) -> Optional[int]:
        """Halve the capacity (the new one), or None when this 429 does not count."""
        with self._condition:
            if self.capacity == 1 or getattr(self._local, "round", None) != self._round:
                return None
            self.capacity = max(1, self.capacity // 2)
            self._round += 1
            return self.capacity


class _Fetchers:
    """The fetcher threads of one walk, at most ``concurrency``. Each takes the next job (slice)
    still to walk and pages through it, handing every page to ``pages`` (a queue the walk's thread
    reads). A fetcher keeps at most one page the walk has not written yet: with prefetch it fetches
    the next page meanwhile, without it waits. A fetcher with no job left ends by putting ("done",);
    the walk's thread counts those (``running``) and calls add() for new jobs."""

    def __init__(self, client: Any, params: Callable[[_Job], Dict[str, Any]], concurrency: int,
                 prefetch: bool, gate: _Gate):
        self.client = client
        self.pages: "queue.Queue[Tuple[Any, ...]]" = queue.Queue()
        self.running = 0
        self._todo: List[_Job] = []
        self._params = params
        self._concurrency = concurrency
        self._prefetch = prefetch
        self._gate = gate
        self._lock = threading.Lock()
        self._cancelled = threading.Event()
        self._threads: List[threading.Thread] = []

    def add(self, jobs: List[_Job]) -> None:
        """Queue jobs (newest first) and start fetchers for them, up to the concurrency."""
        with self._lock:
            self._todo.extend(jobs)
            todo = len(self._todo)
        while todo and self.running < self._concurrency:
            thread = threading.Thread(target=self._run, name="openai-audit-fetcher-%d" % len(self._threads),
                                      daemon=True)
            self._threads.append(thread)
            self.running += 1
            thread.start()
            todo -= 1

    def done(self) -> None:
        """A fetcher ended: start another if jobs were queued since it looked."""
        self.running -= 1
        self.add([])

    def cancel(self) -> List[str]:
        """Stop every fetcher (their requests in flight are cut) and wait for them; the names of
        any still running after _FETCHER_JOIN_SECONDS."""
        self._cancelled.set()
        for thread in self._threads:
            if thread.is_alive() and thread.ident is not None:
                self.client.interrupt(thread.ident)
        deadline = time.monotonic() + _FETCHER_JOIN_SECONDS
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return [t.name for t in self._threads if t.is_alive()]

    def _run(self) -> None:
        try:
            while not self._cancelled.is_set():
                with self._lock:
                    if not self._todo:
                        break
                    job = self._todo.pop(0)
                self._walk(job)
        except StopRequested:
            self.pages.put(("stopped",))
        except BaseException as exc:  # handed to the walk's thread, which raises it
            self.pages.put(("error", exc))
        finally:
            self.client.forget_thread()
            self.pages.put(("done",))

    def _walk(self, job: _Job) -> None:
        cancelled = self._cancelled.is_set
        pages = self.client.pages(self._params(job), cancelled)
        while not job.finished:
            if not self._prefetch:
                self._wait_turn(job)
            self._gate.enter(cancelled)
            try:
                page = next(pages, None)
            finally:
                self._gate.leave()
            if page is None:
                return
            if self._prefetch:
                self._wait_turn(job)
            self.pages.put(("page", job, page))
            if not page["has_more"]:
                return

    def _wait_turn(self, job: _Job) -> None:
        """Wait until the walk has written the slice's page before (it releases job.turn)."""
        while not job.turn.acquire(timeout=0.1):
            if self._cancelled.is_set():
                raise StopRequested()


class Collector:
    """``Collector(client, store, key, settings).run(sink) -> RunSummary``.

    ``sink.emit(raw_json, effective_at, event, backfill)`` is called for every new event of a page,
    then ``sink.flush()``, then the checkpoint records the page: flush must hand the events on (to
    splunkd, to disk) before it returns. If either raises, the run stops at once and the checkpoint
    still describes the page before. ``backfill`` is true for the events of the input's initial
    window (the first window of a stream, from the start setting: the checkpoint has no high_water
    yet; that walk may span several runs), which the add-on writes with a backfill source.
    ``should_stop()`` (optional) is asked after every page; when it returns true the run ends there,
    with the checkpoint consistent; ``client.stop()`` ends the waits and requests in flight as well.
    ``prefetch=False`` fetches each page only after the one before is checkpointed.

    An error of one stream (CollectorError) does not stop the other stream; every error is in the
    summary (``summary.errors``), which run() returns. Other exceptions (the sink's) propagate.
    """

    def __init__(
        self,
        client: Any,
        store: Any,
        key: str,
        settings: InputSettings,
        *,
        logger: Optional[logging.Logger] = None,
        clock: Callable[[], float] = time.time,
        should_stop: Optional[Callable[[], bool]] = None,
        prefetch: bool = True,
    ):
        if not key:
            raise ConfigurationError("the checkpoint key is empty")
        self.client = client
        self.store = store
        self.key = key
        self.settings = settings
        self.logger = logger or logging.getLogger("ta_openai_audit.collector")
        self._clock = clock
        self._should_stop = should_stop or (lambda: False)
        self.prefetch = prefetch
        self._run_started = 0.0
        self._run_pages = 0

    # -- streams ------------------------------------------------------------------------

    def streams(self) -> List[_Stream]:
        """The query streams this input needs. Requested event types are split between the
        ordinary stream and the tenant-scoped one (``tenant_only=true`` accepts only
        tenant-scoped types); a stream left with no types is not run at all, because an empty
        filter would mean every type."""
        settings = self.settings
        types = list(settings.event_types)
        tenant_types = [t for t in types if is_tenant_scoped(t)]
        other_types = [t for t in types if not is_tenant_scoped(t)]
        if tenant_types and not settings.tenant_scoped:
            raise ConfigurationError(
                "event_types %s are tenant-scoped: enable tenant_scoped" % ", ".join(tenant_types)
            )
        result = []
        if not types or other_types:
            params: Dict[str, Any] = {}
            if other_types:
                params["event_types[]"] = other_types
            if settings.project_ids:
                params["project_ids[]"] = list(settings.project_ids)
            result.append(_Stream("all", self.key, params))
        if settings.tenant_scoped and (not types or tenant_types):
            # Tenant-scoped events belong to no project, so project_ids is not sent here.
            params = {"tenant_only": "true"}
            if tenant_types:
                params["event_types[]"] = tenant_types
            result.append(_Stream("tenant", self.key + TENANT_KEY_SUFFIX, params))
        return result

    # -- run ------------------------------------------------------------------------------

    def run(self, sink: Any) -> RunSummary:
        summary = RunSummary()
        first_request = self.client.requests_made
        self._run_started = self._clock()
        self._run_pages = 0
        try:
            for stream in self.streams():
                if self._stopping():
                    break
                stream_summary = StreamSummary(stream.name, stream.key)
                summary.streams.append(stream_summary)
                stream_first_request, throttled = self.client.requests_made, self.client.throttled
                try:
                    self._run_stream(stream, sink, stream_summary)
                except CollectorError as exc:
                    stream_summary.error = "%s: %s" % (exc.category, exc)
                    self.logger.error(
                        "stream %s (%s) stopped, %s error: %s", stream.name, stream.key, exc.category, exc
                    )
                    summary.errors.append(exc)
                finally:
                    stream_summary.requests = self.client.requests_made - stream_first_request
                    stream_summary.throttled = self.client.throttled - throttled
                    stream_summary.note_lateness()
                    for name in ("events", "pages", "fetched", "skipped_duplicates"):
                        setattr(summary, name, getattr(summary, name) + getattr(stream_summary, name))
                    self.logger.info("%s", stream_summary.line())
        except ConfigurationError as exc:  # from streams(): no stream can run
            self.logger.error("no stream can run, %s error: %s", exc.category, exc)
            summary.errors.append(exc)
        finally:
            summary.requests = self.client.requests_made - first_request
            summary.clock_skew = self.client.clock_skew
            self._report_skew(summary.clock_skew)
        return summary

    def _stopping(self) -> bool:
        return self._should_stop() or self.client.stopped

    def _report_skew(self, skew: Optional[float]) -> None:
        if skew is None or abs(skew) <= CLOCK_SKEW_WARNING:
            return
        overlap = self.settings.overlap_seconds
        if skew > 0:
            effect = ("the collector keeps its windows behind the API's clock, so events are delayed, not lost, "
                      "but a run after the clock is corrected finds its checkpoint ahead and rewinds it")
        else:
            effect = "events are collected %.0fs later than they could be" % -skew
        self.logger.log(
            logging.ERROR if abs(skew) > overlap else logging.WARNING,
            "clock skew: the local clock is %.0fs %s the API's (Date header)%s: %s. Fix NTP on this host",
            abs(skew), "ahead of" if skew > 0 else "behind",
            ", more than the overlap (%ds)" % overlap if abs(skew) > overlap else "", effect,
        )

    def _now(self) -> Tuple[int, float]:
        """(now, skew used): the local clock, or the API's when the local clock is ahead of it."""
        skew = self.client.clock_skew
        used = skew if skew is not None and skew > 0 else 0.0
        return int(self._clock() - used), used

    def _run_stream(self, stream: _Stream, sink: Any, summary: StreamSummary) -> None:
        try:
            try:
                self._walk(stream, sink, summary, may_restart=True)
            except _ClockAhead:
                # Nothing of the first page was sent and nothing was saved after it: walk again with
                # the API's now (the measured skew is used from here on).
                self._walk(stream, sink, summary, may_restart=False)
        except StopRequested:
            summary.stopped = True
            self.logger.info("stream %s: stop requested during a request or a wait; the walk continues "
                             "next run from its checkpoint", stream.name)

    # -- the walk -------------------------------------------------------------------------

    def _plan(self, stream: _Stream, state: StreamState, window_end: int) -> Optional[Walk]:
        """The walk of this poll (see the module's docstring), or None when there is nothing to read."""
        settings = self.settings
        sweep_to = window_end - settings.overlap_seconds
        high_water = state.high_water
        if high_water is None:
            ranges = [(state.start, window_end)]
        elif window_end <= high_water:
            self.logger.debug("stream %s: nothing new (high_water %s, window end %s)",
                              stream.name, _iso(high_water), _iso(window_end))
            return None
        else:
            swept_to = high_water - settings.overlap_seconds if state.swept_to is None else state.swept_to
            sweep_to = max(swept_to, sweep_to)
            sweep_end = min(sweep_to, high_water)
            between = sum(1 for at in state.overlap_ids.values() if sweep_end < at <= high_water)
            if sweep_end == high_water or (swept_to < sweep_end and between < MERGE_BELOW):
                # One range: the sweep reaches the fresh window, or the seconds between them held
                # so few events that reading them again costs less than a second request.
                ranges = [(swept_to + 1, window_end)]
            else:
                ranges = [(high_water + 1, window_end)]
                if swept_to < sweep_end:
                    ranges.append((swept_to + 1, sweep_end))
            ranges = [(max(low, state.start), high) for low, high in ranges]
        ranges = [(low, high) for low, high in ranges if low <= high]
        if not ranges:
            self.logger.info("stream %s: window [%s, %s] has not begun yet (lag %ds)", stream.name,
                             _iso(state.start), _iso(window_end), settings.lag_seconds)
            return None
        return Walk(window_end, sweep_to, [Slice(low, high) for low, high in ranges])

    def _split(self, stream: _Stream, walk: Walk, job: _Job, capacity: int) -> List[_Job]:
        """Split the slice of ``job`` at its position when fetchers are idle and its pages so far
        say enough remain below it; the jobs of the new slices (the caller's job is finished)."""
        piece = job.slice
        idle = capacity - len(walk.slices)
        if idle < 1 or piece.oldest is None or job.pages < PAGES_BEFORE_SPLIT:
            return []
        below = piece.oldest - piece.start  # seconds left under the position's second
        estimate = below * job.pages / (job.upper - piece.oldest + 1)  # pages, at this slice's density so far
        count = min(idle + 1, int(estimate // MIN_PAGES_PER_SLICE), below)
        if count < 2:
            return []
        edges = [piece.start + below * k // count for k in range(count)] + [piece.end + 1]
        top = Slice(edges[-2], piece.end, piece.oldest, set(piece.oldest_ids))
        parts = [top] + [Slice(edges[k], edges[k + 1] - 1) for k in reversed(range(count - 1))]
        job.finished = True
        at = walk.slices.index(piece)
        walk.slices[at:at + 1] = parts
        self.logger.info("stream %s: slice [%s, %s] split at its position %s into %d slices walked at once "
                         "(about %.0f pages left)", stream.name, _iso(piece.start), _iso(piece.end),
                         _iso(piece.oldest), count, estimate)
        return [_Job(part, part.upper) for part in parts]

    def _walk(self, stream: _Stream, sink: Any, summary: StreamSummary, may_restart: bool) -> None:
        now, skew_used = self._now()
        window_end = now - self.settings.lag_seconds
        state = self._load(stream, now, window_end, summary)
        self._check_clock(stream, state, window_end, summary)
        summary.high_water = state.high_water  # what the summary reports if the walk fails
        walk = state.walk
        if walk is None:
            walk = self._plan(stream, state, window_end)
            if walk is None:
                return
            state.walk = walk
        else:
            summary.resumed_at = max((s.oldest for s in walk.slices if s.oldest is not None), default=None)
        initial = state.high_water is None
        summary.window_start, summary.window_end, summary.slices = walk.start, walk.end, len(walk.slices)
        resumed = [s for s in walk.slices if s.oldest is not None]
        self.logger.info(
            "stream %s: window [%s, %s] in %d slice%s%s%s", stream.name, _iso(walk.start), _iso(walk.end),
            len(walk.slices), "" if len(walk.slices) == 1 else "s",
            "; resuming %s" % ", ".join("at %s (%d ids already sent there)" % (_iso(s.oldest), len(s.oldest_ids))
                                       for s in resumed) if resumed else "",
            " (initial window: events are written as a backfill)" if initial else "",
        )
        self._walk_slices(stream, state, sink, summary, initial, may_restart, skew_used)
        summary.high_water = state.high_water

    def _walk_slices(self, stream: _Stream, state: StreamState, sink: Any, summary: StreamSummary,
                     initial: bool, may_restart: bool, skew_used: float) -> None:
        walk = state.walk
        assert walk is not None
        # Ids are kept for later sweeps, and for the overlap below the walk's newest event: if the
        # window end was ahead of the API's clock, they still date the collection, and a rewind
        # (_check_clock) sends none of them twice.
        newest = max(walk.recent_ids.values()) if walk.recent_ids else None

        def params(job: _Job) -> Dict[str, Any]:
            query = dict(stream.params)
            query["effective_at[gte]"] = job.slice.start
            query["effective_at[lte]"] = job.upper
            return query

        gate = _Gate(self.settings.backfill_concurrency)

        def throttled() -> None:
            capacity = gate.shrink()
            if capacity is not None:
                self.logger.warning("stream %s: the API rate-limited a request (HTTP 429): at most %d request%s "
                                    "at once for the rest of this walk", stream.name, capacity,
                                    "" if capacity == 1 else "s")

        fetchers = _Fetchers(self.client, params, self.settings.backfill_concurrency, self.prefetch, gate)
        self.client.on_throttle = throttled
        run_limit = run_time_limit(self.settings)
        fetchers.add([_Job(s, s.upper) for s in walk.slices])
        try:
            while fetchers.running:
                item = fetchers.pages.get()
                if item[0] == "done":
                    fetchers.done()
                    continue
                if item[0] == "stopped":
                    if self.client.stopped:
                        raise StopRequested()
                    continue
                if item[0] == "error":
                    raise item[1]
                job, page = item[1], item[2]
                if job.finished:
                    continue
                if summary.pages == 0 and may_restart:
                    skew = self.client.clock_skew
                    if skew is not None and skew - skew_used > CLOCK_STEP_TOLERANCE:
                        self.logger.warning(
                            "stream %s: the local clock is %.0fs ahead of the API's (Date header): the window "
                            "ends at the API's now minus the lag instead; walking again", stream.name, skew,
                        )
                        raise _ClockAhead()
                newest = self._take_page(stream, state, job, page, sink, summary, initial, newest)
                parts = [] if job.finished else self._split(stream, walk, job, gate.capacity)
                if not walk.slices:
                    self._finish(state)
                self._save(stream, state, sink)
                job.turn.release()  # the slice's next page may come (without prefetch: be fetched)
                if parts:
                    summary.slices += len(parts) - 1
                    fetchers.add(parts)
                if not walk.slices:
                    summary.drained = True
                    break
                if self._stopping():
                    summary.stopped = True
                    self.logger.info("stream %s: stop requested; the walk continues next run", stream.name)
                    break
                if self._run_pages >= MAX_PAGES_PER_RUN or self._clock() - self._run_started >= run_limit:
                    summary.stopped = True
                    self.logger.info(
                        "stream %s: this run walked %d pages in %.0fs (limits %d pages, %.0fs): it stops here and "
                        "the next run continues the walk", stream.name, self._run_pages,
                        self._clock() - self._run_started, MAX_PAGES_PER_RUN, run_limit,
                    )
                    break
        finally:
            self.client.on_throttle = None
            summary.concurrency = max(summary.concurrency, gate.peak)
            stuck = fetchers.cancel()
            if stuck:
                self.logger.warning("stream %s: fetchers %s did not end within %.0fs; their pages are not used",
                                    stream.name, ", ".join(stuck), _FETCHER_JOIN_SECONDS)

    def _take_page(self, stream: _Stream, state: StreamState, job: _Job, page: Dict[str, Any], sink: Any,
                   summary: StreamSummary, initial: bool, newest: Optional[int]) -> Optional[int]:
        """Check one page, emit its new events and move its slice's position (nothing is saved
        here). Returns the walk's newest event time."""
        walk = state.walk
        assert walk is not None
        piece = job.slice
        data = page["data"]
        summary.fetched += len(data)
        self._check_page(data, job, walk, summary)
        overlap = self.settings.overlap_seconds
        if data and all(event["effective_at"] < piece.start for event in data):
            # Newest first: every later page of the slice is older still, so it is complete.
            self.logger.warning(
                "stream %s: page %d holds only events older than its slice's start %s although has_more "
                "is true: the slice ends here (the API paged past it); ids %s",
                stream.name, summary.pages + 1, _iso(piece.start), _quote_ids(data),
            )
            summary.out_of_window += len(data)
            summary.pages += 1
            self._run_pages += 1
            self._end_slice(walk, job)
            return newest

        inside = [e["effective_at"] for e in data if piece.start <= e["effective_at"] <= job.upper]
        if inside and (newest is None or max(inside) > newest):
            newest = max(inside)
            # Ids below both the sweep and the overlap under the newest event are not needed.
            floor = min(walk.sweep_to + 1, newest - overlap)
            walk.recent_ids = {i: at for i, at in walk.recent_ids.items() if at >= floor}
        keep_from = walk.sweep_to + 1 if newest is None else min(walk.sweep_to + 1, newest - overlap)
        read_at = int(self._clock() - max(self.client.clock_skew or 0.0, 0.0))
        out_of_window: List[Dict[str, Any]] = []
        for event in data:
            event_id = event["id"]
            effective_at = event["effective_at"]
            if not piece.start <= effective_at <= job.upper:
                out_of_window.append(event)
                continue
            if event_id in state.overlap_ids or (effective_at == piece.oldest and event_id in piece.oldest_ids):
                summary.skipped_duplicates += 1
            else:
                sink.emit(compact_json(event), effective_at, event, initial)
                summary.events += 1
                if not initial:
                    summary.lateness[max(0, read_at - effective_at)] += 1
                    if effective_at <= state.high_water:  # type: ignore[operator]
                        summary.late_events += 1
                if effective_at >= keep_from:
                    walk.recent_ids[event_id] = effective_at
            if piece.oldest is None or effective_at < piece.oldest:
                piece.oldest = effective_at
                piece.oldest_ids = {event_id}
            else:  # equal: the position check let nothing newer through
                piece.oldest_ids.add(event_id)
            if effective_at != job.boundary_second:
                job.boundary_second, job.boundary_ids = effective_at, set()
            job.boundary_ids.add(event_id)
        summary.pages += 1
        self._run_pages += 1
        job.pages += 1
        if out_of_window:
            summary.out_of_window += len(out_of_window)
            self.logger.warning(
                "stream %s: page %d holds %d events outside the requested slice [%s, %s] (not sent by "
                "this slice): %s", stream.name, summary.pages, len(out_of_window), _iso(piece.start),
                _iso(job.upper), _quote_ids(out_of_window),
            )
        job.previous_page = {event["id"] for event in data}
        if not page["has_more"]:
            self._end_slice(walk, job)
        self.logger.debug("stream %s: page %d: %d events, slice [%s, %s] at %s", stream.name, summary.pages,
                          len(data), _iso(piece.start), _iso(piece.end), _iso(piece.oldest))
        return newest

    @staticmethod
    def _end_slice(walk: Walk, job: _Job) -> None:
        job.finished = True
        walk.slices = [s for s in walk.slices if s is not job.slice]

    def _check_page(self, data: List[Dict[str, Any]], job: _Job, walk: Walk, summary: StreamSummary) -> None:
        """Raise before anything of a page is sent when it cannot follow the pages before it."""
        piece = job.slice
        where = "page %d (slice [%s, %s])" % (summary.pages + 1, _iso(piece.start), _iso(piece.end))
        page_ids: Set[str] = set()
        for event in data:
            event_id = event["id"]
            if event_id in page_ids or event_id in job.previous_page or (
                event["effective_at"] == job.boundary_second and event_id in job.boundary_ids
            ):
                raise RepeatedIdError(
                    "the API returned audit log id %s twice in one walk (%s): pagination is not behaving as "
                    "the collector relies on, so the walk stops here; nothing of this page was sent and the "
                    "checkpoint still holds the last complete page" % (event_id, where)
                )
            page_ids.add(event_id)
        times = [e["effective_at"] for e in data if piece.start <= e["effective_at"] <= job.upper]
        for earlier, later in zip(times, times[1:]):
            if later > earlier:
                # The resume position is the oldest event written: with a page in any other order,
                # a walk cut after it would resume below events it never wrote.
                raise PaginationError(
                    "%s is not ordered newest first (%s comes after %s): the collector's resume position "
                    "relies on that order, so nothing of this page was sent; the checkpoint still holds the "
                    "last complete page" % (where, _iso(later), _iso(earlier))
                )
        position = piece.oldest
        if position is None:
            return
        newer = [t for t in times if t > position]
        if newer:
            raise PaginationError(
                "%s holds %d events newer than the slice's position %s (the newest at %s): the API is expected "
                "to page newest first, so this page cannot follow the one before it (a cursor that went back or "
                "cycles); nothing of it was sent, the checkpoint still holds the last complete page and the "
                "next run retries from there" % (where, len(newer), _iso(position), _iso(max(newer)))
            )
        # Counted over every slice: the ids at the slices' positions are what the checkpoint holds.
        at_position = sum(len(s.oldest_ids) for s in walk.slices) + sum(1 for e in data if e["effective_at"] == position)
        if at_position > MAX_IDS_AT_ONE_SECOND:
            raise PaginationError(
                "%s: more than %d audit log ids at the one second %s: the walk cannot make progress (the API "
                "keeps handing out events of that second), so it stops here with the checkpoint at the last "
                "complete page" % (where, MAX_IDS_AT_ONE_SECOND, _iso(position))
            )

    def _check_clock(self, stream: _Stream, state: StreamState, window_end: int, summary: StreamSummary) -> None:
        """A high_water or a walk's end ahead of the window end: an earlier run had a clock ahead
        (or this host's clock went back). Rewind so that nothing it skipped is lost."""
        walk = state.walk
        ahead_of = [t for t in (state.high_water, walk.end if walk else None) if t is not None]
        if not ahead_of or max(ahead_of) - window_end <= CLOCK_STEP_TOLERANCE:
            return
        before = "high_water %s, walk %s" % (
            _iso(state.high_water), "-" if walk is None else "[%s, %s]" % (_iso(walk.start), _iso(walk.end)))
        sent = dict(state.overlap_ids)
        if walk is not None:
            sent.update(walk.recent_ids)
        overlap = self.settings.overlap_seconds
        if state.high_water is not None and state.high_water > window_end:
            floor = min(state.start, window_end)
            if sent:
                target, why = max(sent.values()), "the newest event already sent"
            else:
                target, why = max(window_end - RECOVERY_WINDOW, floor), "a day back, as no event was kept to date it"
            state.high_water = max(min(target, window_end), floor)
            state.start = min(state.start, state.high_water)
            # Every id kept stays: the sweep below the new high_water skips them.
            state.swept_to = min(state.high_water - overlap, state.swept_to if state.swept_to is not None
                                 else state.high_water)
            # The new window starts below the old walk's slices: they are read again in full.
            state.walk = None
            state.overlap_ids = sent
            action = ("high_water rewound to %s (%s): window [%s, %s] is read again; the %d ids kept are "
                      "not sent twice, other events already sent in it may be"
                      % (_iso(state.high_water), why, _iso(max(state.swept_to + 1, state.start)), _iso(window_end),
                         len(sent)))
        else:
            assert walk is not None
            for piece in walk.slices:
                piece.end = max(min(piece.end, window_end), piece.upper if piece.oldest is not None else piece.start)
            walk.end = max([window_end] + [s.end for s in walk.slices])
            walk.sweep_to = min(walk.sweep_to, walk.end - overlap)
            action = "the walk under way now ends at %s; its slices keep their positions" % _iso(walk.end)
        self.logger.error(
            "stream %s: clock jump: the checkpoint %r is ahead of now minus the lag (%s; window end %s): an "
            "earlier run's clock was ahead, or this host's clock went back. Events after the real collection "
            "time would be lost, so %s. Check NTP on this host", stream.name, stream.key, before,
            _iso(window_end), action,
        )
        summary.clock_jump = action
        self._save(stream, state, None)

    def _finish(self, state: StreamState) -> None:
        """Every slice is drained: the window is collected up to its end."""
        walk = state.walk
        assert walk is not None
        overlap = self.settings.overlap_seconds
        state.high_water = walk.end if state.high_water is None else max(state.high_water, walk.end)
        state.swept_to = walk.sweep_to if state.swept_to is None else max(state.swept_to, walk.sweep_to)
        kept = dict(state.overlap_ids)
        kept.update(walk.recent_ids)
        # Ids a later sweep reads again, and, as in the walk, the overlap below the newest event sent.
        floor = state.swept_to + 1
        if kept:
            floor = min(floor, max(kept.values()) - overlap)
        state.overlap_ids = {i: at for i, at in kept.items() if at >= floor}
        state.walk = None

    # -- checkpoint -------------------------------------------------------------------------

    def _save(self, stream: _Stream, state: StreamState, sink: Any) -> None:
        """Flush the sink (the events of the page are handed on), then write the checkpoint."""
        if sink is not None:
            sink.flush()
        record = state.to_record(int(self._clock()))
        try:
            self.store.update(stream.key, record)
        except CollectorError:
            raise
        except Exception as exc:
            raise CheckpointError(
                "cannot write the checkpoint %r (%s: %s); the next run resends at most this page"
                % (stream.key, type(exc).__name__, exc)
            ) from None

    def _load(self, stream: _Stream, now: int, window_end: int, summary: StreamSummary) -> StreamState:
        try:
            record = self.store.get(stream.key)
        except ValueError as exc:
            # Undecodable record (CorruptCheckpointError, or json's error from solnlib).
            return self._recover(stream, "cannot be decoded", "%s: %s" % (type(exc).__name__, exc), None, window_end,
                                 summary)
        except Exception as exc:
            raise CheckpointError(
                "cannot read the checkpoint %r (%s: %s); nothing was collected, the next run retries"
                % (stream.key, type(exc).__name__, exc)
            ) from None
        if record is None:
            state = StreamState(start=min(self.settings.start, window_end))
            self.logger.info(
                "stream %s: no checkpoint under %r: first run, starting at %s", stream.name, stream.key, _iso(state.start)
            )
            # Pin the start now, so a start given in days does not move with every run.
            self._save(stream, state, None)
            return state
        try:
            state = read_record(record, self.settings.overlap_seconds)
        except VersionMismatch as mismatch:
            state = mismatch.state
            action = "its fields read as a known format, so collection continues from its position (high_water %s)" % (
                _iso(state.high_water))
            self.logger.error("checkpoint %r: %s; %s. It is rewritten in format %d. Found: %s",
                              stream.key, mismatch, action, CHECKPOINT_VERSION, describe_record(record))
            summary.recovery = action
            self._save(stream, state, None)
            return state
        except BadRecord as why:
            return self._recover(stream, str(why), describe_record(record), record, window_end, summary)
        if record.get("version") != CHECKPOINT_VERSION:
            self.logger.info("checkpoint %r: format %s upgraded to format %d", stream.key, record.get("version"),
                             CHECKPOINT_VERSION)
            self._save(stream, state, None)
        return state

    def _recover(
        self, stream: _Stream, problem: str, found: str, record: Any, window_end: int, summary: StreamSummary
    ) -> StreamState:
        overlap = self.settings.overlap_seconds
        high_water = record.get("high_water") if isinstance(record, dict) else None
        if plausible_time(high_water):
            state = StreamState(start=high_water - overlap, high_water=high_water, swept_to=high_water - overlap)
            action = (
                "resuming from its high_water %d (%s): window [%s, %s]; events in [%s, %s] and any walk "
                "that was under way above it may be sent twice, because the ids already sent were lost"
                % (high_water, _iso(high_water), _iso(high_water - overlap), _iso(window_end),
                   _iso(high_water - overlap), _iso(high_water))
            )
        else:
            start = max(self.settings.start, window_end - overlap - RECOVERY_WINDOW)
            start = min(start, window_end)
            state = StreamState(start=start)
            action = (
                "no position could be recovered from it: re-reading [%s, %s] (the last 24 h plus the "
                "overlap, or from the configured start if later); events before %s that had not been "
                "collected are NOT read: to backfill them, add an input whose start is the date "
                "of the last complete collection" % (_iso(start), _iso(window_end), _iso(start))
            )
        self.logger.error(
            "checkpoint %r cannot be used: %s. Found: %s. Recovery: %s", stream.key, problem, found, action
        )
        summary.recovery = action
        self._save(stream, state, None)
        return state


def _quote_ids(events: List[Dict[str, Any]]) -> str:
    """The ids (and times) of some events, for a log line an admin can search the API with."""
    quoted = ", ".join("%s at %s" % (e["id"], e["effective_at"]) for e in events[:_IDS_QUOTED])
    return quoted + (" and %d more" % (len(events) - _IDS_QUOTED) if len(events) > _IDS_QUOTED else "")
