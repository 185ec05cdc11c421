"""Input settings: parse and validate the fields of an ``openai_audit_logs://`` stanza.

The one source of every input limit and default: the modular input, the input REST handler
(server-side validation) and the command line use this parser, so an admin sees the same message
wherever a value is wrong, and globalConfig.json (the UI's early checks) repeats the constants
below, which tests/package/test_settings_single_source.py compares field by field.
"""
from __future__ import annotations

import datetime as _dt
import ipaddress
import re
import time
from typing import Any, Dict, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from .errors import ConfigurationError

DEFAULT_INTERVAL = 60
MIN_INTERVAL = 30
MAX_INTERVAL = 86400
DEFAULT_START_DAYS = 7
MAX_START_DAYS = 3650
DEFAULT_LAG = 60
MAX_LAG = 3600
DEFAULT_OVERLAP = 900
MAX_OVERLAP = 86400
# Collect everything by default: the tenant-scoped types (role bindings, tenant.*) come only on a
# second query (tenant_only=true), and leaving them out by default would hide permission changes.
DEFAULT_TENANT_SCOPED = True
# Time slices of a large window (the first run's history, or the backlog after an outage) walked at
# once; 429 answers shrink it for the rest of the run.
DEFAULT_BACKFILL_CONCURRENCY = 4
MAX_BACKFILL_CONCURRENCY = 8
# The time one page may spend being retried: a share of the interval, so a run facing a struggling
# API ends (checkpoint kept) before the next one is due, within bounds that leave room for a few
# backoffs on a short interval and do not hold a page for more than 5 minutes on a long one.
TIME_BUDGET_SHARE = 0.5
MIN_TIME_BUDGET = 5
MAX_TIME_BUDGET = 300


def time_budget_for(interval: float) -> float:
    """The one rule for the retry time budget of one page: TIME_BUDGET_SHARE of the input's interval,
    within MIN_TIME_BUDGET..MAX_TIME_BUDGET seconds."""
    return float(max(MIN_TIME_BUDGET, min(TIME_BUDGET_SHARE * interval, MAX_TIME_BUDGET)))


# Regular expressions of one value, in the syntax Python and JavaScript share (globalConfig.json
# wraps them with list_pattern / value_pattern for the UI's validators).
EVENT_TYPE_PATTERN = r"[a-z0-9_]+(?:\.[a-z0-9_]+)*"
PROJECT_ID_PATTERN = r"[A-Za-z0-9_-]{1,128}"
# start: days back (up to 4 digits), Unix seconds (10 digits, i.e. 2001-09-09 to 2286), a UTC date,
# or a date and time with an optional offset (no offset: UTC).
START_DAYS_PATTERN = r"\d{1,4}"
START_EPOCH_PATTERN = r"\d{10}"
START_DATE_PATTERN = r"(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?(Z|[+-]\d{2}:?\d{2})?)?"
START_PATTERN = "%s|%s|%s" % (START_DAYS_PATTERN, START_EPOCH_PATTERN, START_DATE_PATTERN)

_EVENT_TYPE_RE = re.compile(EVENT_TYPE_PATTERN)
_PROJECT_ID_RE = re.compile(PROJECT_ID_PATTERN)
# ASCII: \d must mean [0-9], as in the UI's JavaScript regexes (Python's \d also matches other scripts' digits)
_START_DAYS_RE = re.compile(START_DAYS_PATTERN, re.ASCII)
_START_EPOCH_RE = re.compile(START_EPOCH_PATTERN, re.ASCII)
_START_DATE_RE = re.compile(START_DATE_PATTERN, re.ASCII)
_LOOPBACK_HOSTS = ("localhost",)


def value_pattern(pattern: str) -> str:
    """The UI's regex for a field holding one value (spaces around it allowed, as the parser strips them)."""
    return r"^\s*(?:%s)\s*$" % pattern


def list_pattern(pattern: str) -> str:
    """The UI's regex for a comma-separated list of values (the form parse_list accepts)."""
    return r"^\s*(?:%s)(?:\s*,\s*(?:%s))*\s*$" % (pattern, pattern)


def is_tenant_scoped(event_type: str) -> bool:
    """Tenant-scoped types are only returned with ``tenant_only=true`` (docs/api/CONTRACT.md)."""
    return event_type in ("role.bound_to_resource", "role.unbound_from_resource") or (
        event_type.startswith("tenant.")
    )


def validate_base_url(url: Any) -> str:
    """Return the base URL without a trailing slash, or raise ConfigurationError.

    https for any host; plain http only for the loopback interface (the stand-ins used in tests),
    because the admin key must never cross a network in clear text.
    """
    if not isinstance(url, str) or not url.strip():
        raise ConfigurationError("base_url is empty: use https://api.openai.com/v1")
    url = url.strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # raises ValueError on a bad port
    except ValueError:
        raise ConfigurationError("base_url %r is not a valid URL" % (url,)) from None
    if parts.scheme not in ("https", "http") or not host:
        raise ConfigurationError(
            "base_url %r must be an https:// URL such as https://api.openai.com/v1" % (url,)
        )
    if parts.username is not None or parts.password is not None:
        # Do not echo the URL: it may hold a password.
        raise ConfigurationError("base_url must not contain a user name or password")
    if parts.query or parts.fragment:
        raise ConfigurationError("base_url %r must not have a query string or fragment" % (url,))
    if parts.scheme == "http" and not _is_loopback(host):
        raise ConfigurationError(
            "base_url %r uses plain http: only https is allowed (http is accepted for "
            "127.0.0.1, ::1 and localhost only)" % (url,)
        )
    return url.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_HOSTS:
        return True
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return False
    return str(addr) in ("127.0.0.1", "::1")


def parse_bool(value: Any, field: str, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "t", "y", "on"):
        return True
    if text in ("0", "false", "no", "f", "n", "off"):
        return False
    raise ConfigurationError("%s: %r is not a yes/no value (use 1 or 0)" % (field, value))


def parse_int(value: Any, field: str, default: int, minimum: int, maximum: int, unit: str) -> int:
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if isinstance(value, bool):
        raise ConfigurationError("%s: %r is not a whole number of %s" % (field, value, unit))
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ConfigurationError(
            "%s: %r is not a whole number of %s" % (field, value, unit)
        ) from None
    if not minimum <= number <= maximum:
        raise ConfigurationError(
            "%s: %d is out of range: use %d to %d %s" % (field, number, minimum, maximum, unit)
        )
    return number


def parse_start(value: Any, now: float) -> int:
    """``start`` -> Unix seconds. Accepts the forms of START_PATTERN: a number of days back from
    now, Unix seconds, a date (UTC midnight), or a date and time (UTC when no offset is given).
    The same forms on every Python (no fromisoformat, whose accepted forms grew in 3.11)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return int(now) - DEFAULT_START_DAYS * 86400
    text = str(value).strip()
    help_text = (
        "start: %r is not a date (2026-11-01), a date and time (2026-11-01T08:00:00Z), "
        "a number of days (0 to %d) or Unix seconds (10 digits)" % (value, MAX_START_DAYS)
    )
    if _START_DAYS_RE.fullmatch(text):
        if int(text) > MAX_START_DAYS:
            raise ConfigurationError("start: %s days is out of range: use 0 to %d days" % (text, MAX_START_DAYS))
        return int(now) - int(text) * 86400
    if _START_EPOCH_RE.fullmatch(text):
        start = int(text)
    else:
        match = _START_DATE_RE.fullmatch(text)
        if not match:
            raise ConfigurationError(help_text)
        start = _date_time(match, help_text)
    if start > now:
        raise ConfigurationError("start: %r is in the future" % (value,))
    return start


def _date_time(match: "re.Match[str]", help_text: str) -> int:
    date, hour, minute, second, offset = match.groups()
    try:
        tz = _dt.timezone.utc
        if offset and offset != "Z":
            sign = -1 if offset[0] == "-" else 1
            digits = offset[1:].replace(":", "")
            tz = _dt.timezone(sign * _dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
        day = _dt.date.fromisoformat(date)
        parsed = _dt.datetime(day.year, day.month, day.day, int(hour or 0), int(minute or 0),
                              int(second or 0), tzinfo=tz)
    except ValueError:  # month 13, hour 24, an offset of a day or more
        raise ConfigurationError(help_text) from None
    return int(parsed.timestamp())


def parse_list(value: Any, field: str, pattern: "re.Pattern[str]", what: str) -> Tuple[str, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    seen = []
    for item in items:
        item = str(item).strip()
        if not item:
            continue
        if not pattern.fullmatch(item):
            raise ConfigurationError("%s: %r is not %s" % (field, item, what))
        if item not in seen:
            seen.append(item)
    return tuple(seen)


class InputSettings:
    """The validated fields of one input. Build it with ``from_stanza``."""

    __slots__ = (
        "account",
        "index",
        "interval",
        "start",
        "event_types",
        "project_ids",
        "tenant_scoped",
        "lag_seconds",
        "overlap_seconds",
        "backfill_concurrency",
    )

    def __init__(
        self,
        *,
        start: int,
        account: str = "",
        index: str = "",
        interval: int = DEFAULT_INTERVAL,
        event_types: Tuple[str, ...] = (),
        project_ids: Tuple[str, ...] = (),
        tenant_scoped: bool = DEFAULT_TENANT_SCOPED,
        lag_seconds: int = DEFAULT_LAG,
        overlap_seconds: int = DEFAULT_OVERLAP,
        backfill_concurrency: int = DEFAULT_BACKFILL_CONCURRENCY,
    ):
        self.account = account
        self.index = index
        self.interval = interval
        self.start = start  # Unix seconds: where the first run begins
        self.event_types = tuple(event_types)
        self.project_ids = tuple(project_ids)
        self.tenant_scoped = tenant_scoped
        self.lag_seconds = lag_seconds
        self.overlap_seconds = overlap_seconds
        self.backfill_concurrency = backfill_concurrency

    @classmethod
    def from_stanza(
        cls, stanza: Mapping[str, Any], now: Optional[float] = None, *, min_interval: int = MIN_INTERVAL
    ) -> "InputSettings":
        """Validate an input stanza (as splunkd or the REST handler passes it; other keys such as
        ``disabled`` or ``host`` are ignored). Raises ConfigurationError naming the field."""
        if now is None:
            now = time.time()
        get = stanza.get
        event_types = parse_list(
            get("event_types"),
            "event_types",
            _EVENT_TYPE_RE,
            "an event type (lower-case words separated by dots, e.g. api_key.created)",
        )
        tenant_scoped = parse_bool(get("tenant_scoped"), "tenant_scoped", DEFAULT_TENANT_SCOPED)
        tenant_types = [t for t in event_types if is_tenant_scoped(t)]
        if tenant_types and not tenant_scoped:
            raise ConfigurationError(
                "event_types: %s %s tenant-scoped: the API returns them only to a tenant-scoped "
                "query, so also tick tenant_scoped (or remove them)"
                % (", ".join(tenant_types), "is" if len(tenant_types) == 1 else "are")
            )
        return cls(
            account=str(get("account") or "").strip(),
            index=str(get("index") or "").strip(),
            interval=parse_int(
                get("interval"), "interval", DEFAULT_INTERVAL, min_interval, MAX_INTERVAL, "seconds"
            ),
            start=parse_start(get("start"), now),
            event_types=event_types,
            project_ids=parse_list(
                get("project_ids"),
                "project_ids",
                _PROJECT_ID_RE,
                "a project id (up to 128 letters, digits, _ and -; e.g. proj_abc123)",
            ),
            tenant_scoped=tenant_scoped,
            lag_seconds=parse_int(get("lag_seconds"), "lag_seconds", DEFAULT_LAG, 0, MAX_LAG, "seconds"),
            overlap_seconds=parse_int(
                get("overlap_seconds"), "overlap_seconds", DEFAULT_OVERLAP, 0, MAX_OVERLAP, "seconds"
            ),
            backfill_concurrency=parse_int(
                get("backfill_concurrency"), "backfill_concurrency", DEFAULT_BACKFILL_CONCURRENCY, 1,
                MAX_BACKFILL_CONCURRENCY, "requests at once"
            ),
        )

    @property
    def time_budget(self) -> float:
        """Seconds the client may spend retrying one page (TIME_BUDGET_SHARE of the interval,
        MIN_TIME_BUDGET to MAX_TIME_BUDGET): what the modular input and the command line use."""
        return time_budget_for(self.interval)

    def as_dict(self) -> Dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __repr__(self) -> str:
        return "InputSettings(%s)" % ", ".join("%s=%r" % kv for kv in self.as_dict().items())
