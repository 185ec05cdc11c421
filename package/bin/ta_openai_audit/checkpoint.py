"""Checkpoints: the record each stream keeps (format, reader, validation) and the stores that hold it.

Record, format 2, one per stream, JSON:
    {
      "version": 2,
      "start": 1732000000,         # the first run's start setting, resolved; no window goes below it
      "high_water": 1732550000,    # end of the last drained window, null before the first
      "swept_to": 1732549100,      # every second up to here has had its late-event sweep, null before
      "overlap_ids": {"audit_log-...": 1732549990},  # ids sent that a later sweep may read again
      "walk": null | {             # the window being walked, when one is under way
        "end": 1732553000,         # the window end: high_water once every slice is drained
        "sweep_to": 1732552100,    # swept_to once every slice is drained
        "slices": [                # the time slices still to walk, newest first
          {"start": 1732550001, "end": 1732553000,
           "oldest": 1732551000,   # oldest effective_at processed in the slice, null before its first page
           "oldest_ids": ["audit_log-..."]}   # ids processed at that second
        ],
        "recent_ids": {"audit_log-...": 1732552990}  # sent by this walk, kept for later sweeps
      },
      "updated_at": 1732553061     # informational
    }
Format 1 (one slice per walk, ``walk.start``, no ``swept_to``) is read and upgraded: its walk becomes
one slice and its sweep position is its high_water minus the overlap, which is what it had re-read.

A store is any object with ``get(key) -> dict | None``, ``update(key, dict)`` and ``delete(key)``;
solnlib's KVStoreCheckpointer fits as is. ``get`` raises ValueError (CorruptCheckpointError here,
json's error in solnlib) for a record it cannot decode; the collector treats that as a corrupt
checkpoint and recovers, while any other exception stops the run without touching the record.
"""
from __future__ import annotations

import copy
import json
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Set

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt

from .errors import CheckpointError, CorruptCheckpointError

# The key, in a state file started after a corrupt one was moved aside, that names where it went.
RECOVERED_MARK = "#recovered_from"

CHECKPOINT_VERSION = 2
TENANT_KEY_SUFFIX = ":tenant"
_MIN_PLAUSIBLE_TIME = 1577836800  # 2020-01-01: older than any OpenAI audit log
# 2100-01-01: a later time is garbage; an earlier one ahead of now is a clock jump (the collector rewinds it).
_MAX_PLAUSIBLE_TIME = 4102444800


def checkpoint_keys(key: str) -> List[str]:
    """Every checkpoint key an input may own: its own and its tenant stream's (the input's
    delete handler removes both)."""
    return [key, key + TENANT_KEY_SUFFIX]


# -- the record ---------------------------------------------------------------------------


@dataclass
class Slice:
    """A time slice ``[start, end]`` of a walk, walked newest first; ``oldest``/``oldest_ids`` say
    how far it got (a resumed slice re-reads ``[start, oldest]`` and skips ``oldest_ids``)."""

    start: int
    end: int
    oldest: Optional[int] = None
    oldest_ids: Set[str] = field(default_factory=set)

    @property
    def upper(self) -> int:
        """The upper bound of what is left to read."""
        return self.end if self.oldest is None else self.oldest


@dataclass
class Walk:
    end: int
    sweep_to: int
    slices: List[Slice]
    recent_ids: Dict[str, int] = field(default_factory=dict)

    @property
    def start(self) -> int:
        return min(s.start for s in self.slices)


@dataclass
class StreamState:
    start: int
    high_water: Optional[int] = None
    swept_to: Optional[int] = None
    overlap_ids: Dict[str, int] = field(default_factory=dict)
    walk: Optional[Walk] = None

    def to_record(self, now: int) -> Dict[str, Any]:
        walk = None
        if self.walk is not None:
            walk = {
                "end": self.walk.end,
                "sweep_to": self.walk.sweep_to,
                "slices": [{"start": s.start, "end": s.end, "oldest": s.oldest, "oldest_ids": sorted(s.oldest_ids)}
                           for s in self.walk.slices],
                "recent_ids": self.walk.recent_ids,
            }
        return {
            "version": CHECKPOINT_VERSION,
            "start": self.start,
            "high_water": self.high_water,
            "swept_to": self.swept_to,
            "overlap_ids": self.overlap_ids,
            "walk": walk,
            "updated_at": now,
        }


class BadRecord(Exception):
    """A record that cannot be used; the message says what is wrong with it."""


class VersionMismatch(Exception):
    """A record whose version is missing, unknown or newer, but whose fields read as the current
    format: it has a position, so the collector keeps it (``state``)."""

    def __init__(self, problem: str, state: StreamState):
        super().__init__(problem)
        self.state = state


def read_record(record: Any, overlap: int) -> StreamState:
    """The state a record describes. Format 1 is upgraded (``overlap``: the input's, the width of
    what format 1 re-read). Raises BadRecord saying what is wrong, or VersionMismatch."""
    if not isinstance(record, dict):
        raise BadRecord("it is a %s, not a JSON object" % type(record).__name__)
    version = record.get("version")
    if version == 1 and not isinstance(version, bool):
        return _format_1(record, overlap)
    problem = None
    if "version" not in record:
        problem = "it has no version field (an older format)"
    elif not _is_int(version):
        problem = "its version %r is not a number" % (version,)
    elif version < 1:
        problem = "it is format %d, an older format (this add-on writes %d)" % (version, CHECKPOINT_VERSION)
    elif version > CHECKPOINT_VERSION:
        problem = "it is format %d, written by a newer version of the add-on (this one reads %d)" % (
            version, CHECKPOINT_VERSION)
    if not problem:
        return _format_2(record)
    # A version that says nothing usable: keep the position if the fields read as either format.
    try:
        state = _format_2(record)
    except BadRecord as why:
        if _is_int(version) and version > CHECKPOINT_VERSION:
            raise BadRecord("%s; %s" % (problem, why)) from None
        try:
            state = _format_1(record, overlap)
        except BadRecord:
            raise BadRecord("%s; %s" % (problem, why)) from None
    raise VersionMismatch(problem, state)


def _format_2(record: Dict[str, Any]) -> StreamState:
    start = _time_field(record, "start")
    high_water = _optional_time(record, "high_water")
    swept_to = _optional_time(record, "swept_to")
    if high_water is not None and swept_to is None:
        raise BadRecord("swept_to is missing although high_water is set")
    overlap_ids = _id_map(record.get("overlap_ids"), "overlap_ids")
    walk_record = record.get("walk")
    walk = None
    if walk_record is not None:
        if not isinstance(walk_record, dict):
            raise BadRecord("walk is not an object")
        slices_record = walk_record.get("slices")
        if not isinstance(slices_record, list) or not slices_record:
            raise BadRecord("walk.slices is not a list of slices")
        walk = Walk(_time_field(walk_record, "end", "walk."), _time_field(walk_record, "sweep_to", "walk."),
                    [_slice(item, "walk.slices[%d]." % n) for n, item in enumerate(slices_record)],
                    _id_map(walk_record.get("recent_ids"), "walk.recent_ids"))
        if any(s.end > walk.end for s in walk.slices):
            raise BadRecord("a slice of the walk ends after the walk (%r)" % walk.end)
    return StreamState(start, high_water, swept_to, overlap_ids, walk)


def _format_1(record: Dict[str, Any], overlap: int) -> StreamState:
    start = _time_field(record, "start")
    high_water = _optional_time(record, "high_water")
    overlap_ids = _id_map(record.get("overlap_ids"), "overlap_ids")
    walk_record = record.get("walk")
    walk = None
    if walk_record is not None:
        if not isinstance(walk_record, dict):
            raise BadRecord("walk is not an object")
        one = _slice(walk_record, "walk.")
        walk = Walk(one.end, one.end - overlap, [one], _id_map(walk_record.get("recent_ids"), "walk.recent_ids"))
    swept_to = None if high_water is None else high_water - overlap
    return StreamState(start, high_water, swept_to, overlap_ids, walk)


def _slice(record: Any, prefix: str) -> Slice:
    if not isinstance(record, dict):
        raise BadRecord("%s is not an object" % prefix.rstrip("."))
    start = _time_field(record, "start", prefix)
    end = _time_field(record, "end", prefix)
    oldest = _optional_time(record, "oldest", prefix)
    if start > end or (oldest is not None and not start <= oldest <= end):
        raise BadRecord("%s times are inconsistent (start %r, oldest %r, end %r)" % (prefix.rstrip("."), start, oldest, end))
    oldest_ids = record.get("oldest_ids")
    if not isinstance(oldest_ids, list) or not all(isinstance(i, str) for i in oldest_ids):
        raise BadRecord("%soldest_ids is not a list of ids" % prefix)
    return Slice(start, end, oldest, set(oldest_ids))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def plausible_time(value: Any) -> bool:
    """An integer Unix time between 2020 and 2100 (one ahead of now is a clock jump, not garbage)."""
    return _is_int(value) and _MIN_PLAUSIBLE_TIME <= value < _MAX_PLAUSIBLE_TIME


def _time_field(record: Dict[str, Any], name: str, prefix: str = "") -> int:
    value = record.get(name)
    if not plausible_time(value):
        raise BadRecord("%s%s is %r, not a Unix time between 2020 and 2100" % (prefix, name, value))
    return value


def _optional_time(record: Dict[str, Any], name: str, prefix: str = "") -> Optional[int]:
    return None if record.get(name) is None else _time_field(record, name, prefix)


def _id_map(value: Any, name: str) -> Dict[str, int]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and _is_int(v) for k, v in value.items()):
        raise BadRecord("%s is not an object of id -> effective_at" % name)
    return value


def describe_record(record: Any) -> str:
    """A record for a log line, shortened."""
    try:
        text = json.dumps(record, sort_keys=True, default=repr)
    except (TypeError, ValueError):
        text = repr(record)
    return text if len(text) <= 500 else text[:500] + "... (%d characters)" % len(text)


# -- stores -------------------------------------------------------------------------------


class MemoryCheckpointStore:
    """Checkpoints in a dict (tests, one-off runs). Values are deep-copied both ways so a caller
    cannot change a stored record by mutating what it passed or got."""

    def __init__(self, records: Optional[Dict[str, Any]] = None):
        self.records: Dict[str, Any] = copy.deepcopy(records) if records else {}
        self.writes = 0

    def get(self, key: str) -> Optional[Dict[str, Any]]:
        value = self.records.get(key)
        return copy.deepcopy(value) if value is not None else None

    def update(self, key: str, state: Dict[str, Any]) -> None:
        self.records[key] = copy.deepcopy(state)
        self.writes += 1

    def delete(self, key: str) -> None:
        self.records.pop(key, None)


class FileCheckpointStore:
    """All checkpoints of one state file: a JSON object ``{key: record}``.

    Writes are atomic: a temporary file in the same directory is written and fsync'ed, then
    os.replace()d over the old file and the directory fsync'ed, so a crash or a kill leaves either
    the old or the new file, never a mix. A file that cannot be decoded is reported by get()
    (CorruptCheckpointError); the next update() moves it aside to ``<path>.corrupt-<time>`` so the
    admin keeps it, and starts a fresh file that remembers it (``RECOVERED_MARK``): every key asked
    for later that the fresh file does not hold is reported as corrupt too, so each stream of the
    file goes through the collector's recovery instead of looking like a first run.

    ``lock()`` takes an exclusive lock on ``<path>.lock`` for the life of a run (one process per
    state file); a second process is refused with a CheckpointError naming the holder.
    """

    def __init__(self, path: str):
        self.path = os.path.abspath(path)
        self._lock = threading.Lock()
        self._lock_file: Any = None

    def lock(self) -> None:
        lock_path = self.path + ".lock"
        try:
            handle = open(lock_path, "a+")
        except OSError as exc:
            raise CheckpointError("cannot open the lock file %s: %s" % (lock_path, exc)) from None
        try:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            else:
                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise CheckpointError(
                "state file %s is in use by another collect process (pid %s): two processes on one state "
                "file would write every event twice. Stop the other one, or give this one its own "
                "--state-file and --output" % (self.path, holder)
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock_file = handle

    def unlock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()  # closing releases the lock
            self._lock_file = None

    def _read_all(self) -> Dict[str, Any]:
        try:
            with open(self.path, "rb") as handle:
                raw = handle.read()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise CheckpointError("cannot read state file %s: %s" % (self.path, exc)) from None
        try:
            records = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise CorruptCheckpointError(
                "state file %s is not valid JSON (%d bytes, starts %r)" % (self.path, len(raw), raw[:80])
            ) from None
        if not isinstance(records, dict):
            raise CorruptCheckpointError(
                "state file %s holds a JSON %s, not an object of checkpoints"
                % (self.path, type(records).__name__)
            )
        return records

    def get(self, key: str) -> Optional[Dict[str, Any]]:
        with self._lock:
            records = self._read_all()
        if key not in records and RECOVERED_MARK in records:
            raise CorruptCheckpointError(
                "state file %s was corrupt (kept at %s) and holds no record for %r yet"
                % (self.path, records[RECOVERED_MARK], key)
            )
        return records.get(key)

    def update(self, key: str, state: Dict[str, Any]) -> None:
        with self._lock:
            records = self._read_for_write()
            records[key] = state
            self._write_all(records)

    def delete(self, key: str) -> None:
        with self._lock:
            records = self._read_for_write()
            if records.pop(key, None) is not None:
                self._write_all(records)

    def _read_for_write(self) -> Dict[str, Any]:
        try:
            return self._read_all()
        except CorruptCheckpointError:
            aside = "%s.corrupt-%d" % (self.path, int(time.time()))
            try:
                os.replace(self.path, aside)
            except OSError as exc:
                raise CheckpointError("cannot move corrupt state file %s aside: %s" % (self.path, exc)) from None
            return {RECOVERED_MARK: aside}

    def _write_all(self, records: Dict[str, Any]) -> None:
        directory = os.path.dirname(self.path)
        data = json.dumps(records, separators=(",", ":"), sort_keys=True).encode("utf-8")
        try:
            fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(self.path), suffix=".tmp", dir=directory)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
            _fsync_directory(directory)
        except OSError as exc:
            raise CheckpointError("cannot write state file %s: %s" % (self.path, exc)) from None


def _fsync_directory(directory: str) -> None:
    # Makes the rename itself durable on POSIX; not possible (nor needed) on Windows.
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
