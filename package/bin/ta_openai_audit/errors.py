"""Errors raised by the engine.

Every error carries a ``category`` (UCC's error categories, so the add-on's monitoring
dashboard can group them). Messages are written for a Splunk admin and never contain the
API key: the client redacts it from anything the server echoes back.
"""
from __future__ import annotations

import re
from typing import Optional

CATEGORIES = (
    "authentication",
    "permission",
    "connection",
    "server",
    "configuration",
    "data",
    "checkpoint",
)


class CollectorError(Exception):
    """Base class. ``category`` is one of CATEGORIES."""

    category = "server"

    def __init__(self, message: str, *, category: Optional[str] = None):
        super().__init__(message)
        if category is not None:
            if category not in CATEGORIES:
                raise ValueError("unknown error category %r" % (category,))
            self.category = category
        # Set by the client when the failure came with an HTTP response: the server's
        # Date header as epoch seconds (the `check` command reports clock skew from it).
        self.server_date: Optional[float] = None
        # Set by Collector.run() on the error it re-raises: what the run did before it failed.
        self.summary = None

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class AuthenticationError(CollectorError):
    """HTTP 401: the key is wrong, revoked, or not an admin key. Never retried."""

    category = "authentication"


class PermissionDeniedError(CollectorError):
    """HTTP 403: the key lacks the "Audit Logs: Read" permission. Never retried."""

    category = "permission"


class ApiUnavailableError(CollectorError):
    """Retries or the time budget ran out (429/5xx/network). The run ends; the checkpoint
    stays where it was and the next run continues from there."""

    category = "server"


class TLSVerificationError(CollectorError):
    """The server's certificate did not verify. Not retried: it is a configuration problem
    (set the account's CA bundle), and verification is never switched off."""

    category = "connection"


class MalformedPageError(CollectorError):
    """A 200 response whose body is not a valid audit-log list page. The client retries it like a
    transient error; it is never skipped."""

    category = "data"


class RepeatedIdError(CollectorError):
    """The API returned an id twice inside one walk: the pagination is not doing what the
    collector relies on, so the walk stops instead of looping or skipping."""

    category = "data"


class PaginationError(CollectorError):
    """A page that cannot follow the one before it when pages come newest first: it holds events
    newer than the walk's position, or the walk cannot make progress. Raised before anything of
    that page is sent; the checkpoint keeps the last good page."""

    category = "data"


class ConfigurationError(CollectorError):
    """A setting is invalid; the message says which and how to fix it."""

    category = "configuration"


class StopRequested(Exception):
    """splunkd (SIGTERM) or the admin (SIGINT) asked the run to end: raised out of a wait or a
    request in flight. Not an error: nothing of the page in flight was sent, so the checkpoint is
    consistent and the next run continues from it."""


class CheckpointError(CollectorError):
    """The checkpoint store could not be read or written."""

    category = "checkpoint"


class CorruptCheckpointError(CheckpointError, ValueError):
    """A stored checkpoint could not be decoded. A ValueError too, like the json error solnlib's
    KVStoreCheckpointer raises for a record it cannot decode, so the collector treats both alike."""


# C0 and C1 control characters and the Unicode line/paragraph separators: in a log line they
# could start a forged line or rewrite the terminal.
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape_controls(text: str) -> str:
    """``text`` with every control character written as a visible escape (\\n, \\x1b, ...), so
    a server-supplied string can never start a line of its own in a log."""
    return _CONTROL_RE.sub(_escape_one, text)


def _escape_one(match: "re.Match[str]") -> str:
    char = match.group()
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    if char in named:
        return named[char]
    code = ord(char)
    return "\\x%02x" % code if code <= 0xFF else "\\u%04x" % code
