"""The collector: walks fixed time windows of the audit log and records, after every page, exactly
where it stands, so that every event is sent once even across crashes, late arrivals and pages that
split a second.

The walk (DESIGN.md, "The collector, in one paragraph")
-------------------------------------------------------
Each poll works a fixed window ``[max(high_water - overlap, start), now - lag]`` with
``effective_at[gte]/[lte]``. The API pages newest first, so after each page: every event not sent
before is emitted, then the checkpoint records the walk's position: the oldest effective_at
processed so far (``oldest``) and the ids processed at that second (``oldest_ids``). A restart
re-queries ``[window start, oldest]`` and skips ``oldest_ids``: no cursor has to survive, and at
most the page in flight is sent again. When the window drains, ``high_water`` becomes the window's
end and the ids sent in the overlap below it are kept (``overlap_ids``; "below it" means below the
newest event sent when that is older, see Clock): the next window starts ``overlap`` seconds back,
so an event that shows up late is caught and one that was already sent is dropped.

Checkpoint record (format version 1), one per stream, JSON:
    {
      "version": 1,
      "start": 1732000000,          # first run's start setting, resolved; no window goes below it
      "high_water": 1732550000,     # end of the last drained window, or null before the first
      "overlap_ids": {"audit_log-...": 1732549990},  # sent, effective_at >= min(high_water, newest) - overlap
      "walk": null | {              # the window being walked, when one is under way
        "start": 1732549100, "end": 1732553000,
        "oldest": 1732551000,       # oldest effective_at processed so far, null before the first page
        "oldest_ids": ["audit_log-..."],             # ids processed at that second
        "recent_ids": {"audit_log-...": 1732552990}  # sent in this walk, effective_at >= min(end, newest) - overlap
      },
      "updated_at": 1732553061      # informational
    }
Only ids inside an overlap (plus one second's worth, at most MAX_IDS_AT_ONE_SECOND) are kept, so
the record does not grow with the backlog.

Clock (the window end is a promise that nothing older is still to come, so it must not run ahead of
the API's clock): every response's Date header measures the local clock's skew (client.clock_skew).
The window end is ``now - lag`` with ``now`` the local clock, or the API's when the local clock is
ahead: a local clock ahead of the API only delays events, never loses them. The first response of a
run that shows the local clock ahead by more than CLOCK_STEP_TOLERANCE restarts the walk with the
corrected now before anything of that page is sent. A high_water (or a walk's end) ahead of the
window end is a clock jump (an earlier run had a clock ahead): logged at ERROR and rewound to the
newest event actually sent (every id kept in the overlap stays, so nothing is sent twice from it),
or, when no id was kept, to a day back (RECOVERY_WINDOW); an initial walk keeps its position and
only its end comes back. Skew beyond CLOCK_SKEW_WARNING is logged at WARNING, beyond the overlap at
ERROR, and every run's summary carries it (``clock_skew``).

Pagination the collector does not trust blindly: a page with an event newer than the walk's
position (pages must come newest first), an id seen twice, more than MAX_IDS_AT_ONE_SECOND ids at
one second, stop the walk with a PaginationError/RepeatedIdError before anything of that page is
sent. A page entirely older than the window ends the walk (the rest can only be older still). A run
stops (and the next continues) after MAX_PAGES_PER_RUN pages or run_time_limit() seconds.

A record whose only problem is its ``version`` (missing, older or newer) but whose fields read as
format 1 is used as it is (logged at ERROR, rewritten in format 1): it has a position, so keep it.

Recovery policy for a checkpoint that cannot be used (undecodable, not an object, a field of the
wrong type or an implausible time): it is logged at ERROR with what was found, then
  1. if a plausible ``high_water`` can be read from it (an integer Unix time between 2020 and 2100;
     one ahead of now is then rewound as a clock jump), collection resumes from there: window ``[high_water - overlap, now - lag]``. Nothing
     is lost; the ids already sent were lost with the record, so events in the re-read overlap (and
     a walk in progress above high_water) may be sent twice. The log names that interval.
  2. otherwise the window is ``[max(configured start, now - lag - overlap - 24 h), now - lag]``: at
     most a day plus the overlap is read again (never months), and the log names the exact interval
     and says that anything older and not yet collected needs a backfill input.
The recovered state is written back at once, in the current format (the old record is in the log).

Changing an input's settings keeps its checkpoint: new event_types/project_ids apply from the
current position on (no backfill of history); a larger overlap re-sends, once, the events between
the old and the new overlap; a start change has no effect after the first run (the resolved start
is pinned in the checkpoint, so "7 days" does not slide forward with every run).

Cost: every poll re-reads the overlap (default 900 s) to catch late events, so with the default
60 s interval each event is fetched about 15 times and skipped (``skipped_duplicates``) 14 times.
"""
from __future__ import annotations

import datetime as _dt
import json
import logging
import re
import time
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from .errors import (
    CheckpointError,
    CollectorError,
    ConfigurationError,
    PaginationError,
    RepeatedIdError,
    StopRequested,
)
from .settings import InputSettings, is_tenant_scoped

CHECKPOINT_VERSION = 1
RECOVERY_WINDOW = 24 * 3600
_MIN_PLAUSIBLE_TIME = 1577836800  # 2020-01-01: older than any OpenAI audit log
# 2100-01-01: a later time is garbage; an earlier one ahead of now is a clock jump (rewound).
_MAX_PLAUSIBLE_TIME = 4102444800
# A high_water or window end this far ahead of now (seconds) is a clock jump; the Date header's
# one-second resolution and the request's duration make smaller differences noise.
CLOCK_STEP_TOLERANCE = 2
# Local clock skew (seconds) worth a WARNING; beyond the overlap it is an ERROR.
CLOCK_SKEW_WARNING = 30
# Ids at one effective_at second that one walk may hold (100 full pages): beyond it the API is
# handing out fresh ids without the walk moving, and the checkpoint would grow without bound.
MAX_IDS_AT_ONE_SECOND = 10_000
# Pages one run walks before it stops and leaves the rest to the next run (a million events).
MAX_PAGES_PER_RUN = 10_000
# Ids of out-of-window events quoted in the log line that reports them.
_IDS_QUOTED = 10

Emit = Callable[[str, int, Dict[str, Any]], Any]


TENANT_KEY_SUFFIX = ":tenant"


def checkpoint_keys(key: str) -> List[str]:
    """Every checkpoint key an input may own (for deleting them with the input)."""
    return [key, key + TENANT_KEY_SUFFIX]


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


def run_time_limit(settings: InputSettings) -> float:
    """Seconds one run may walk before it stops with its checkpoint and leaves the rest to the
    next run: five intervals, at least five minutes (a backfill goes on run after run)."""
    return float(max(300, 5 * settings.interval))


class StreamSummary:
    """What one stream did in one run."""

    def __init__(self, name: str, key: str):
        self.name = name  # "all" or "tenant"
        self.key = key
        self.window_start: Optional[int] = None
        self.window_end: Optional[int] = None
        self.resumed_at: Optional[int] = None  # set when the run continued a walk from `oldest`
        self.events = 0
        self.pages = 0
        self.skipped_duplicates = 0
        self.out_of_window = 0
        self.drained = False
        self.stopped = False
        self.recovery: Optional[str] = None  # what the recovery policy did, if it ran
        self.clock_jump: Optional[str] = None  # what the clock-jump rewind did, if it ran
        self.error: Optional[str] = None
        self.high_water: Optional[int] = None  # the checkpoint's high_water when the run ended
        self.requests = 0

    def as_dict(self) -> Dict[str, Any]:
        return dict(self.__dict__)

    def line(self) -> str:
        window = "[%s, %s]" % (_iso(self.window_start), _iso(self.window_end))
        return "stream=%s window=%s events=%d pages=%d skipped_duplicates=%d state=%s" % (
            self.name,
            window,
            self.events,
            self.pages,
            self.skipped_duplicates,
            self.state(),
        )


    def checkpoint_line(self, now: float, clock_skew: Optional[float], overlap_seconds: int) -> str:
        """The stream's part of the per-run checkpoint summary line (key=value, read by the Input
        Health dashboard): window, high_water and how far it is behind now (seconds), what the run
        did, the measured clock skew (local minus the API's, seconds)."""
        lag = "-" if self.high_water is None else "%d" % max(0, int(now) - self.high_water)
        return (
            "stream=%s window_start=%s window_end=%s high_water=%s lag_behind_now=%s "
            "events=%d pages=%d requests=%d errors=%d clock_skew=%s overlap=%d state=%s"
            % (
                self.name,
                "-" if self.window_start is None else self.window_start,
                "-" if self.window_end is None else self.window_end,
                "-" if self.high_water is None else self.high_water,
                lag,
                self.events,
                self.pages,
                self.requests,
                1 if self.error else 0,
                "-" if clock_skew is None else "%.1f" % clock_skew,
                overlap_seconds,
                self.state(),
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


class RunSummary:
    def __init__(self) -> None:
        self.events = 0
        self.requests = 0
        self.pages = 0
        self.skipped_duplicates = 0
        self.clock_skew: Optional[float] = None  # local clock minus the API's, when measured
        self.streams: List[StreamSummary] = []

    def line(self) -> str:
        return "events=%d requests=%d pages=%d skipped_duplicates=%d" % (
            self.events,
            self.requests,
            self.pages,
            self.skipped_duplicates,
        )

    def as_dict(self) -> Dict[str, Any]:
        return {
            "events": self.events,
            "requests": self.requests,
            "pages": self.pages,
            "skipped_duplicates": self.skipped_duplicates,
            "clock_skew": self.clock_skew,
            "streams": [s.as_dict() for s in self.streams],
        }

    def __repr__(self) -> str:
        return "RunSummary(%s)" % self.line()


class _BadRecord(Exception):
    pass


class _VersionOnly(Exception):
    """A record whose fields read as format 1 although its version says otherwise."""

    def __init__(self, problem: str, state: "_State"):
        super().__init__(problem)
        self.state = state


class _ClockAhead(Exception):
    """The first response showed the local clock ahead of the API's: walk again with its now."""


class _Walk:
    __slots__ = ("start", "end", "oldest", "oldest_ids", "recent_ids")

    def __init__(self, start: int, end: int, oldest: Optional[int] = None, oldest_ids=(), recent_ids=None):
        self.start = start
        self.end = end
        self.oldest = oldest
        self.oldest_ids: Set[str] = set(oldest_ids)
        self.recent_ids: Dict[str, int] = dict(recent_ids or {})


class _State:
    __slots__ = ("start", "high_water", "overlap_ids", "walk")

    def __init__(self, start: int, high_water: Optional[int] = None, overlap_ids=None, walk: Optional[_Walk] = None):
        self.start = start
        self.high_water = high_water
        self.overlap_ids: Dict[str, int] = dict(overlap_ids or {})
        self.walk = walk

    def to_record(self, now: int) -> Dict[str, Any]:
        walk = None
        if self.walk is not None:
            walk = {
                "start": self.walk.start,
                "end": self.walk.end,
                "oldest": self.walk.oldest,
                "oldest_ids": sorted(self.walk.oldest_ids),
                "recent_ids": self.walk.recent_ids,
            }
        return {
            "version": CHECKPOINT_VERSION,
            "start": self.start,
            "high_water": self.high_water,
            "overlap_ids": self.overlap_ids,
            "walk": walk,
            "updated_at": now,
        }

    @classmethod
    def from_record(cls, record: Any, now: float) -> "_State":
        """Strict reader for format 1; raises _BadRecord saying what is wrong, or _VersionOnly
        (with the state read) when only the version is not 1."""
        if not isinstance(record, dict):
            raise _BadRecord("it is a %s, not a JSON object" % type(record).__name__)
        version = record.get("version")
        problem = None
        if "version" not in record:
            problem = "it has no version field (an older format)"
        elif not _is_int(version):
            problem = "its version %r is not a number" % (version,)
        elif version < CHECKPOINT_VERSION:
            problem = "it is format %d, an older format (this add-on writes %d)" % (version, CHECKPOINT_VERSION)
        elif version > CHECKPOINT_VERSION:
            problem = "it is format %d, written by a newer version of the add-on (this one reads %d)" % (
                version, CHECKPOINT_VERSION)
        try:
            state = cls._fields(record, now)
        except _BadRecord as why:
            raise _BadRecord("%s; %s" % (problem, why) if problem else str(why)) from None
        if problem:
            raise _VersionOnly(problem, state)
        return state

    @classmethod
    def _fields(cls, record: Dict[str, Any], now: float) -> "_State":
        start = _time_field(record, "start", now)
        high_water = record.get("high_water")
        if high_water is not None:
            high_water = _time_field(record, "high_water", now)
        overlap_ids = _id_map(record.get("overlap_ids"), "overlap_ids")
        walk_record = record.get("walk")
        walk = None
        if walk_record is not None:
            if not isinstance(walk_record, dict):
                raise _BadRecord("walk is not an object")
            w_start = _time_field(walk_record, "start", now, "walk.")
            w_end = _time_field(walk_record, "end", now, "walk.")
            oldest = walk_record.get("oldest")
            if oldest is not None:
                oldest = _time_field(walk_record, "oldest", now, "walk.")
            if w_start > w_end or (oldest is not None and not w_start <= oldest <= w_end):
                raise _BadRecord("walk times are inconsistent (start %r, oldest %r, end %r)" % (w_start, oldest, w_end))
            oldest_ids = walk_record.get("oldest_ids")
            if not isinstance(oldest_ids, list) or not all(isinstance(i, str) for i in oldest_ids):
                raise _BadRecord("walk.oldest_ids is not a list of ids")
            walk = _Walk(w_start, w_end, oldest, oldest_ids, _id_map(walk_record.get("recent_ids"), "walk.recent_ids"))
        return cls(start, high_water, overlap_ids, walk)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _plausible_time(value: Any, now: float) -> bool:
    # ``now`` is not a bound: a time ahead of it is a clock jump, which the walk rewinds.
    return _is_int(value) and _MIN_PLAUSIBLE_TIME <= value < _MAX_PLAUSIBLE_TIME


def _time_field(record: Dict[str, Any], name: str, now: float, prefix: str = "") -> int:
    value = record.get(name)
    if not _plausible_time(value, now):
        raise _BadRecord("%s%s is %r, not a Unix time between 2020 and 2100" % (prefix, name, value))
    return value


def _id_map(value: Any, name: str) -> Dict[str, int]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and _is_int(v) for k, v in value.items()):
        raise _BadRecord("%s is not an object of id -> effective_at" % name)
    return value


def _describe_record(record: Any) -> str:
    try:
        text = json.dumps(record, sort_keys=True, default=repr)
    except (TypeError, ValueError):
        text = repr(record)
    return text if len(text) <= 500 else text[:500] + "... (%d characters)" % len(text)


class _Stream:
    def __init__(self, name: str, key: str, params: Dict[str, Any]):
        self.name = name
        self.key = key
        self.params = params


class Collector:
    """``Collector(client, store, key, settings).run(emit) -> RunSummary``.

    ``emit(raw_json, effective_at, event)`` is called for every new event of a page before the
    checkpoint records that page; if it raises, the run stops at once and the checkpoint still
    describes the previous page. While it runs, ``in_initial_window`` tells the sink whether the
    event belongs to the input's initial window (the first window of a stream: the checkpoint has
    no high_water yet; that walk may span several runs), which the add-on writes as a backfill.
    ``should_stop()`` (optional) is asked after every page; when it returns true the run ends there,
    with the checkpoint consistent; ``client.stop()`` ends a wait or request in flight as well.

    Errors of one stream (CollectorError) do not stop the other stream; after all streams ran the
    first error is raised again with ``.summary`` set to the run's summary.
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
        self.in_initial_window = False
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

    def run(self, emit: Emit) -> RunSummary:
        summary = RunSummary()
        first_request = self.client.requests_made
        self._run_started = self._clock()
        self._run_pages = 0
        errors: List[CollectorError] = []
        try:
            for stream in self.streams():
                if self._stopping():
                    break
                stream_summary = StreamSummary(stream.name, stream.key)
                summary.streams.append(stream_summary)
                stream_first_request = self.client.requests_made
                try:
                    self._run_stream(stream, emit, stream_summary)
                except CollectorError as exc:
                    stream_summary.error = "%s: %s" % (exc.category, exc)
                    self.logger.error(
                        "stream %s (%s) stopped, %s error: %s", stream.name, stream.key, exc.category, exc
                    )
                    errors.append(exc)
                finally:
                    self.in_initial_window = False
                    stream_summary.requests = self.client.requests_made - stream_first_request
                    summary.events += stream_summary.events
                    summary.pages += stream_summary.pages
                    summary.skipped_duplicates += stream_summary.skipped_duplicates
                    self.logger.info("%s", stream_summary.line())
        finally:
            summary.requests = self.client.requests_made - first_request
            summary.clock_skew = self.client.clock_skew
            self._report_skew(summary.clock_skew)
        if errors:
            errors[0].summary = summary
            raise errors[0]
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

    def _run_stream(self, stream: _Stream, emit: Emit, summary: StreamSummary) -> None:
        try:
            try:
                self._walk(stream, emit, summary, may_restart=True)
            except _ClockAhead:
                # Nothing of the first page was sent and nothing was saved after it: walk again with
                # the API's now (the measured skew is used from here on).
                self._walk(stream, emit, summary, may_restart=False)
        except StopRequested:
            summary.stopped = True
            self.logger.info("stream %s: stop requested during a request or a wait; the walk continues "
                             "next run from its checkpoint", stream.name)

    def _walk(self, stream: _Stream, emit: Emit, summary: StreamSummary, may_restart: bool) -> None:
        settings = self.settings
        overlap = settings.overlap_seconds
        now, skew_used = self._now()
        window_end = now - settings.lag_seconds
        state = self._load(stream, now, window_end, summary)
        self._check_clock(stream, state, window_end, summary)
        summary.high_water = state.high_water  # what the summary reports if the walk fails

        walk = state.walk
        if walk is None:
            if state.high_water is None:
                window_start = state.start
            else:
                window_start = max(state.high_water - overlap, state.start)
                if window_end <= state.high_water:
                    self.logger.debug(
                        "stream %s: nothing new (high_water %s, window end %s)", stream.name, _iso(state.high_water), _iso(window_end)
                    )
                    return
            if window_end < window_start:
                self.logger.info(
                    "stream %s: window [%s, %s] has not begun yet (lag %ds)",
                    stream.name, _iso(window_start), _iso(window_end), settings.lag_seconds,
                )
                return
            walk = state.walk = _Walk(window_start, window_end)
        else:
            summary.resumed_at = walk.oldest
        initial = state.high_water is None
        summary.window_start, summary.window_end = walk.start, walk.end
        upper = walk.oldest if walk.oldest is not None else walk.end
        self.logger.info(
            "stream %s: window [%s, %s]%s%s",
            stream.name, _iso(walk.start), _iso(walk.end),
            " resuming at %s (%d ids already sent there)" % (_iso(walk.oldest), len(walk.oldest_ids))
            if walk.oldest is not None else "",
            " (initial window: events are written as a backfill)" if initial else "",
        )
        params = dict(stream.params)
        params["effective_at[gte]"] = walk.start
        params["effective_at[lte]"] = upper
        # Ids are kept for the overlap below the walk's newest event (normally the window end, give
        # or take a quiet spell): if the window end was ahead of the API's clock, they still date
        # the collection, and a rewind (_check_clock) sends none of them twice.
        newest = max(walk.recent_ids.values()) if walk.recent_ids else None

        # Repeated-id guard for this walk, in bounded memory: with newest-first pages (which the
        # position check below enforces) an id can only come back on the page right after or at
        # the boundary second, so the previous page's ids and this process's ids at the current
        # oldest second are enough.
        previous_page: Set[str] = set()
        boundary_second: Optional[int] = None
        boundary_ids: Set[str] = set()
        run_limit = run_time_limit(settings)

        for page in self.client.pages(params):
            data = page["data"]
            if summary.pages == 0 and may_restart:
                skew = self.client.clock_skew
                if skew is not None and skew - skew_used > CLOCK_STEP_TOLERANCE:
                    self.logger.warning(
                        "stream %s: the local clock is %.0fs ahead of the API's (Date header): the window "
                        "ends at the API's now minus the lag instead; walking again", stream.name, skew,
                    )
                    raise _ClockAhead()
            self._check_page(data, walk, upper, summary, previous_page, boundary_second, boundary_ids)
            page_ids = {event["id"] for event in data}

            if data and all(event["effective_at"] < walk.start for event in data):
                # Newest first: every later page is older still, so the window is complete.
                self.logger.warning(
                    "stream %s: page %d holds only events older than the window start %s although has_more "
                    "is true: the walk ends here (the API paged past the window); ids %s",
                    stream.name, summary.pages + 1, _iso(walk.start), _quote_ids(data),
                )
                summary.out_of_window += len(data)
                summary.pages += 1
                self._drain(state, overlap)
                self._save(stream, state)
                summary.drained = True
                break

            out_of_window: List[Dict[str, Any]] = []
            if newest is None:
                newest = max((e["effective_at"] for e in data if walk.start <= e["effective_at"] <= upper), default=None)
            recent_floor = (walk.end if newest is None else min(walk.end, newest)) - overlap
            self.in_initial_window = initial
            for event in data:
                event_id = event["id"]
                effective_at = event["effective_at"]
                if not walk.start <= effective_at <= upper:
                    out_of_window.append(event)
                    continue
                if event_id in state.overlap_ids or (effective_at == walk.oldest and event_id in walk.oldest_ids):
                    summary.skipped_duplicates += 1
                else:
                    emit(compact_json(event), effective_at, event)
                    summary.events += 1
                    if effective_at >= recent_floor:
                        walk.recent_ids[event_id] = effective_at
                if walk.oldest is None or effective_at < walk.oldest:
                    walk.oldest = effective_at
                    walk.oldest_ids = {event_id}
                else:  # equal: the position check let nothing newer through
                    walk.oldest_ids.add(event_id)
                if effective_at != boundary_second:
                    boundary_second, boundary_ids = effective_at, set()
                boundary_ids.add(event_id)
            summary.pages += 1
            self._run_pages += 1
            if out_of_window:
                summary.out_of_window += len(out_of_window)
                self.logger.warning(
                    "stream %s: page %d holds %d events outside the requested window [%s, %s] (not sent by "
                    "this window): %s", stream.name, summary.pages, len(out_of_window), _iso(walk.start),
                    _iso(upper), _quote_ids(out_of_window),
                )
            previous_page = page_ids
            if not page["has_more"]:
                self._drain(state, overlap)
            self._save(stream, state)
            self.logger.debug(
                "stream %s: page %d: %d events, walk at %s", stream.name, summary.pages, len(data), _iso(walk.oldest)
            )
            if not page["has_more"]:
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
        summary.high_water = state.high_water

    def _check_page(self, data: List[Dict[str, Any]], walk: _Walk, upper: int, summary: StreamSummary,
                    previous_page: Set[str], boundary_second: Optional[int], boundary_ids: Set[str]) -> None:
        """Raise before anything of a page is sent when it cannot follow the pages before it."""
        where = "page %d of window [%s, %s]" % (summary.pages + 1, _iso(walk.start), _iso(walk.end))
        page_ids: Set[str] = set()
        for event in data:
            event_id = event["id"]
            if event_id in page_ids or event_id in previous_page or (
                event["effective_at"] == boundary_second and event_id in boundary_ids
            ):
                raise RepeatedIdError(
                    "the API returned audit log id %s twice in one walk (%s): pagination is not behaving as "
                    "the collector relies on, so the walk stops here; nothing of this page was sent and the "
                    "checkpoint still holds the last complete page" % (event_id, where)
                )
            page_ids.add(event_id)
        times = [e["effective_at"] for e in data if walk.start <= e["effective_at"] <= upper]
        for earlier, later in zip(times, times[1:]):
            if later > earlier:
                # The resume position is the oldest event written: with a page in any other order,
                # a walk cut after it would resume below events it never wrote.
                raise PaginationError(
                    "%s is not ordered newest first (%s comes after %s): the collector's resume position "
                    "relies on that order, so nothing of this page was sent; the checkpoint still holds the "
                    "last complete page" % (where, _iso(later), _iso(earlier))
                )
        position = walk.oldest
        if position is None:
            return
        newer = [t for t in times if t > position]
        if newer:
            raise PaginationError(
                "%s holds %d events newer than the walk's position %s (the newest at %s): the API is expected to "
                "page newest first, so this page cannot follow the one before it (a cursor that went back or "
                "cycles); nothing of it was sent, the checkpoint still holds the last complete page and the "
                "next run retries from there" % (where, len(newer), _iso(position), _iso(max(newer)))
            )
        at_position = len(walk.oldest_ids) + sum(1 for e in data if e["effective_at"] == position)
        if at_position > MAX_IDS_AT_ONE_SECOND:
            raise PaginationError(
                "%s: more than %d audit log ids at the one second %s: the walk cannot make progress (the API "
                "keeps handing out events of that second), so it stops here with the checkpoint at the last "
                "complete page" % (where, MAX_IDS_AT_ONE_SECOND, _iso(position))
            )

    def _check_clock(self, stream: _Stream, state: _State, window_end: int, summary: StreamSummary) -> None:
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
        if state.high_water is not None and state.high_water > window_end:
            floor = min(state.start, window_end)
            if sent:
                target, why = max(sent.values()), "the newest event already sent"
            else:
                target, why = max(window_end - RECOVERY_WINDOW, floor), "a day back, as no event was kept to date it"
            state.high_water = max(min(target, window_end), floor)
            state.start = min(state.start, state.high_water)
            # The new window starts below the old walk's start: the walk is read again in full.
            state.walk = None
            state.overlap_ids = sent
            action = ("high_water rewound to %s (%s): window [%s, %s] is read again; the %d ids kept are "
                      "not sent twice, other events already sent in it may be"
                      % (_iso(state.high_water), why, _iso(max(state.high_water - self.settings.overlap_seconds,
                                                                state.start)), _iso(window_end), len(sent)))
        else:
            assert walk is not None
            walk.end = max(window_end, walk.oldest if walk.oldest is not None else walk.start)
            action = "the walk under way now ends at %s; its position %s is kept" % (_iso(walk.end), _iso(walk.oldest))
        self.logger.error(
            "stream %s: clock jump: the checkpoint %r is ahead of now minus the lag (%s; window end %s): an "
            "earlier run's clock was ahead, or this host's clock went back. Events after the real collection "
            "time would be lost, so %s. Check NTP on this host", stream.name, stream.key, before,
            _iso(window_end), action,
        )
        summary.clock_jump = action
        self._save(stream, state)

    @staticmethod
    def _drain(state: _State, overlap: int) -> None:
        walk = state.walk
        assert walk is not None
        high_water = walk.end if state.high_water is None else max(state.high_water, walk.end)
        kept = dict(state.overlap_ids)
        kept.update(walk.recent_ids)
        # As in the walk: the overlap below the newest event sent, when that is below high_water.
        floor = min([high_water] + ([max(kept.values())] if kept else [])) - overlap
        state.overlap_ids = {i: at for i, at in kept.items() if at >= floor}
        state.high_water = high_water
        state.walk = None

    # -- checkpoint -------------------------------------------------------------------------

    def _save(self, stream: _Stream, state: _State) -> None:
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

    def _load(self, stream: _Stream, now: int, window_end: int, summary: StreamSummary) -> _State:
        try:
            record = self.store.get(stream.key)
        except ValueError as exc:
            # Undecodable record (CorruptCheckpointError, or json's error from solnlib).
            return self._recover(stream, "cannot be decoded", "%s: %s" % (type(exc).__name__, exc), None, now, window_end, summary)
        except Exception as exc:
            raise CheckpointError(
                "cannot read the checkpoint %r (%s: %s); nothing was collected, the next run retries"
                % (stream.key, type(exc).__name__, exc)
            ) from None
        if record is None:
            state = _State(start=min(self.settings.start, window_end))
            self.logger.info(
                "stream %s: no checkpoint under %r: first run, starting at %s", stream.name, stream.key, _iso(state.start)
            )
            # Pin the start now, so a start given in days does not move with every run.
            self._save(stream, state)
            return state
        try:
            return _State.from_record(record, now)
        except _VersionOnly as version:
            state = version.state
            action = "its fields read as format %d, so collection continues from its position (high_water %s%s)" % (
                CHECKPOINT_VERSION, _iso(state.high_water),
                "" if state.walk is None else ", walk at %s" % _iso(state.walk.oldest))
            self.logger.error("checkpoint %r: %s; %s. It is rewritten in format %d. Found: %s",
                              stream.key, version, action, CHECKPOINT_VERSION, _describe_record(record))
            summary.recovery = action
            self._save(stream, state)
            return state
        except _BadRecord as why:
            return self._recover(stream, str(why), _describe_record(record), record, now, window_end, summary)

    def _recover(
        self, stream: _Stream, problem: str, found: str, record: Any, now: int, window_end: int, summary: StreamSummary
    ) -> _State:
        overlap = self.settings.overlap_seconds
        high_water = record.get("high_water") if isinstance(record, dict) else None
        if _plausible_time(high_water, now):
            state = _State(start=high_water - overlap, high_water=high_water)
            action = (
                "resuming from its high_water %d (%s): window [%s, %s]; events in [%s, %s] and any walk "
                "that was under way above it may be sent twice, because the ids already sent were lost"
                % (high_water, _iso(high_water), _iso(high_water - overlap), _iso(window_end),
                   _iso(high_water - overlap), _iso(high_water))
            )
        else:
            start = max(self.settings.start, window_end - overlap - RECOVERY_WINDOW)
            start = min(start, window_end)
            state = _State(start=start)
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
        self._save(stream, state)
        return state


def _quote_ids(events: List[Dict[str, Any]]) -> str:
    """The ids (and times) of some events, for a log line an admin can search the API with."""
    quoted = ", ".join("%s at %s" % (e["id"], e["effective_at"]) for e in events[:_IDS_QUOTED])
    return quoted + (" and %d more" % (len(events) - _IDS_QUOTED) if len(events) > _IDS_QUOTED else "")
