"""Checkpoint stores.

A store is any object with ``get(key) -> dict | None``, ``update(key, dict)`` and ``delete(key)``;
solnlib's KVStoreCheckpointer fits as is. ``get`` raises ValueError (CorruptCheckpointError here,
json's error in solnlib) for a record it cannot decode; the collector treats that as a corrupt
checkpoint and recovers, while any other exception stops the run without touching the record.
The record itself is described in collector.py (CHECKPOINT_VERSION).
"""
from __future__ import annotations

import copy
import json
import os
import tempfile
import threading
import time
from typing import Any, Dict, Optional

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt

from .errors import CheckpointError, CorruptCheckpointError

# The key, in a state file started after a corrupt one was moved aside, that names where it went.
RECOVERED_MARK = "#recovered_from"


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
