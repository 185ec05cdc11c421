"""HTTP client for ``GET /v1/organization/audit_logs``.

One requests.Session per run. Every page is validated before it is handed on; 429, 5xx, network
errors and malformed bodies are retried with exponential backoff and full jitter (Retry-After
wins when the server sends it, never less than RETRY_AFTER_FLOOR) until the time budget for that
page runs out. 401/403/TLS errors are never retried. TLS verification is always on. The API key
lives only in the session's Authorization header: it is not logged, and anything the server
echoes back is redacted and has its control characters escaped.

Bounds against a server that misbehaves:
- every attempt has a wall-clock deadline, min(read timeout, what is left of the page's budget):
  a timer cuts the connection when it passes, so a server that drips one byte a second or sends
  nothing cannot hold a run (the socket timeouts alone apply to each read, not to the request);
- ``stop()`` (a signal handler may call it) cuts the request in flight and ends any wait at once:
  the caller gets StopRequested and nothing of that page;
- a body is read in chunks and decompressed by the client itself, never beyond MAX_BODY_BYTES
  (Content-Length is checked first): a larger page, or a compressed one inflating beyond it, is
  a malformed page;
- NaN and Infinity, which Python's json accepts but JSON does not, make a page malformed;
- every response's Date header measures the local clock's skew (``clock_skew``), which the
  collector uses to keep its window end behind the server's now.
"""
from __future__ import annotations

import email.utils
import json
import logging
import os
import random
import re
import socket
import threading
import time
import zlib
from typing import Any, Callable, Dict, Iterator, List, Mapping, NamedTuple, Optional, Tuple

import requests
from requests.adapters import HTTPAdapter

from . import __version__
from .errors import (
    ApiUnavailableError,
    AuthenticationError,
    CollectorError,
    ConfigurationError,
    MalformedPageError,
    PermissionDeniedError,
    StopRequested,
    TLSVerificationError,
    escape_controls,
)
from .proxy import redact_proxy_url
from .settings import DEFAULT_INTERVAL, time_budget_for, validate_base_url

PAGE_LIMIT = 100
# A client built without a budget (a library caller) gets the input's rule at the default interval.
DEFAULT_TIME_BUDGET = time_budget_for(DEFAULT_INTERVAL)
BACKOFF_BASE = 1.0
BACKOFF_CAP = 30.0
MAX_ATTEMPTS = 12
# A Retry-After below this is raised to it: "Retry-After: 0" from a struggling server would
# otherwise turn the retries into a burst.
RETRY_AFTER_FLOOR = 1.0
# A page holds at most 100 events of a few KB each; 16 MiB (decompressed) leaves a wide margin
# and bounds the memory one page can take.
MAX_BODY_BYTES = 16 * 1024 * 1024
_READ_CHUNK = 64 * 1024
_MAX_SERVER_TEXT = 300
MIN_KEY_LENGTH = 20
_RETRY_STATUSES = frozenset([408, 429, 500, 502, 503, 504])
_USER_AGENT = "TA-openai-audit/%s (+requests %s)" % (__version__, requests.__version__)
_URL_CREDENTIALS_RE = re.compile(r"(?<=://)[^/@\s:]*:[^/@\s]*@")
_BEARER_RE = re.compile(r"(?i)(bearer\s+)\S+")


def _never() -> bool:
    return False


class _ConnectionTracker(HTTPAdapter):
    """requests' HTTP adapter that remembers the connection each thread's request in flight uses,
    so that a deadline timer, a cancelled walk or a stop request (another thread, or a signal
    handler) can cut it: shutting a socket down ends a blocked read at once on every platform."""

    def __init__(self) -> None:
        self.current: Dict[int, Any] = {}  # thread ident -> its connection
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self._track(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        self._track(manager)
        return manager

    def _track(self, manager: Any) -> None:
        if getattr(manager, "_ta_tracked", False):
            return
        new_pool = manager._new_pool

        def tracked_pool(*args: Any, **kwargs: Any) -> Any:
            pool = new_pool(*args, **kwargs)
            get_conn = pool._get_conn

            def tracked_conn(*a: Any, **k: Any) -> Any:
                conn = self.current[threading.get_ident()] = get_conn(*a, **k)
                return conn

            pool._get_conn = tracked_conn
            return pool

        manager._new_pool = tracked_pool
        manager._ta_tracked = True

    def cut(self, ident: Optional[int] = None) -> None:
        """Cut the connection of one thread's request, or of every thread's."""
        connections = list(self.current.values()) if ident is None else [self.current.get(ident)]
        for conn in connections:
            sock = getattr(conn, "sock", None)
            if isinstance(sock, socket.socket):
                try:
                    # The base class's shutdown: the TLS layer's would also tear down its state
                    # under the reading thread's feet.
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
                except OSError:
                    pass


class ProbeResult(NamedTuple):
    status: int
    server_date: Optional[float]  # the Date header as Unix seconds
    local_time: float  # local clock at the middle of the request
    elapsed: float
    events: int


class _Retry(Exception):
    """A failure worth another attempt (internal)."""

    def __init__(self, reason: str, retry_after: Optional[float] = None, category: str = "server"):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.category = category


class AuditLogClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        proxy_url: Optional[str] = None,
        ca_bundle: Optional[str] = None,
        connect_timeout: float = 10,
        read_timeout: float = 60,
        time_budget: Optional[float] = None,
        logger: Optional[logging.Logger] = None,
        sleep: Optional[Callable[[float], Any]] = None,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Callable[[], float] = time.time,
        rng: Optional[random.Random] = None,
    ):
        self.base_url = validate_base_url(base_url)
        self.url = self.base_url + "/organization/audit_logs"
        if not isinstance(api_key, str) or not api_key.strip():
            raise ConfigurationError("the account has no API key: enter the admin key (sk-admin-...)")
        if not all(33 <= ord(c) <= 126 for c in api_key):
            # Also keeps the key out of encoding errors, whose repr would carry the header value.
            raise ConfigurationError(
                "the API key contains spaces, line breaks or characters no key has (a pasted "
                "quote?): paste it again"
            )
        if len(api_key) < MIN_KEY_LENGTH:
            # Admin keys are longer than 50 characters; a short value is a paste error (and
            # redacting a two-letter "key" from messages would garble them).
            raise ConfigurationError(
                "the API key is %d characters long: an admin key (sk-admin-...) is longer than 50; "
                "paste the whole key" % len(api_key)
            )
        self._secrets = [api_key]
        if ca_bundle:
            if not os.path.isfile(ca_bundle):
                raise ConfigurationError(
                    "CA bundle %r does not exist or is not a file: give the path of a PEM file "
                    "readable by Splunk" % (ca_bundle,)
                )
        self.verify = ca_bundle or True  # never False
        self.proxy_url = proxy_url
        self.timeout = (float(connect_timeout), float(read_timeout))
        self.time_budget = DEFAULT_TIME_BUDGET if time_budget is None else float(time_budget)
        self.logger = logger or logging.getLogger("ta_openai_audit.client")
        self._stop_requested = False
        # Waits end as soon as stop() is called (a test may inject a fake sleep).
        self._sleep = sleep
        self._monotonic = monotonic
        self._clock = clock
        self._rng = rng or random.Random()
        # Several threads may page at once (a walk's slices): counters change under this lock.
        self._lock = threading.Lock()
        self.requests_made = 0
        self.throttled = 0  # HTTP 429 answers
        # Called (from the requesting thread) on every HTTP 429 answer: the collector walks fewer
        # slices at once.
        self.on_throttle: Optional[Callable[[], Any]] = None
        # Local clock minus the server's (from the last Date header), None before any response.
        self.clock_skew: Optional[float] = None

        session = requests.Session()
        # Only our settings decide the proxy, CA bundle and credentials: with trust_env a
        # ~/.netrc entry would replace the Authorization header and REQUESTS_CA_BUNDLE would
        # override the account's CA bundle.
        session.trust_env = False
        session.verify = self.verify
        session.proxies = {"http": proxy_url, "https": proxy_url} if proxy_url else {}
        session.headers.update(
            {
                "Authorization": "Bearer " + api_key,
                "Accept": "application/json",
                # Only what _read_body can decompress within its bound.
                "Accept-Encoding": "gzip, deflate",
                "User-Agent": _USER_AGENT,
            }
        )
        self._transport = _ConnectionTracker()
        session.mount("https://", self._transport)
        session.mount("http://", self._transport)
        self.session = session

    def __repr__(self) -> str:
        return "AuditLogClient(base_url=%r, proxy=%r, ca_bundle=%r)" % (
            self.base_url,
            redact_proxy_url(self.proxy_url),
            None if self.verify is True else self.verify,
        )

    def close(self) -> None:
        self.session.close()

    def stop(self) -> None:
        """Ask the run to end: the waits and requests in flight end at once with StopRequested.
        Safe to call from a signal handler or another thread: it takes no lock (a handler that
        waited for a lock the interrupted main thread holds would never return)."""
        self._stop_requested = True
        self._transport.cut()

    def interrupt(self, ident: int) -> None:
        """Cut the request in flight of one thread (a walk cancelling a fetcher whose pages it no
        longer wants); that fetcher's ``cancelled()`` must already return true."""
        self._transport.cut(ident)

    def forget_thread(self) -> None:
        """A thread that pages no more: its connection is not tracked any longer."""
        self._transport.current.pop(threading.get_ident(), None)

    @property
    def stopped(self) -> bool:
        return self._stop_requested

    def _pause(self, seconds: float, cancelled: Callable[[], bool]) -> None:
        """Sleep in short steps, so that stop() or a cancellation ends the wait within a tenth of a second."""
        if self._sleep is not None:
            self._sleep(seconds)
            return
        end = self._monotonic() + seconds
        while not (self._stop_requested or cancelled()):
            left = end - self._monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 0.1))

    def __enter__(self) -> "AuditLogClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- public ---------------------------------------------------------------------------

    def pages(self, params: Mapping[str, Any], cancelled: Optional[Callable[[], bool]] = None) -> Iterator[Dict[str, Any]]:
        """Yield validated pages for ``params`` (``limit`` defaults to 100), following
        ``after=<id of the last item>`` while ``has_more`` (as the official SDKs do). The next
        page is requested only when the caller asks for it, so nothing accumulates. Several
        threads may page at once. ``cancelled()`` true ends a retry wait, and the next attempt,
        with StopRequested (as stop() does for every thread)."""
        query = dict(params)
        query.setdefault("limit", PAGE_LIMIT)
        after: Optional[str] = None
        while True:
            if after is not None:
                query["after"] = after
            page = self._get_page(query, cancelled or _never)
            yield page
            if not page["has_more"]:
                return
            after = page["data"][-1]["id"]

    def probe(self) -> ProbeResult:
        """One ``limit=1`` request, no retries: for the account check and ``check``.
        Raises AuthenticationError, PermissionDeniedError, TLSVerificationError,
        ApiUnavailableError (network, 429, 5xx) or MalformedPageError."""
        started = self._monotonic()
        wall = self._clock()
        try:
            response, page = self._attempt({"limit": 1}, self.timeout[1])
        except _Retry as failure:
            raise ApiUnavailableError(failure.reason, category=failure.category) from None
        elapsed = self._monotonic() - started
        return ProbeResult(
            status=response.status_code,
            server_date=_http_date(response),
            local_time=wall + elapsed / 2,
            elapsed=elapsed,
            events=len(page["data"]),
        )

    # -- internals --------------------------------------------------------------------------

    def _get_page(self, query: Mapping[str, Any], cancelled: Callable[[], bool]) -> Dict[str, Any]:
        started = self._monotonic()
        attempt = 0
        while True:
            attempt += 1
            if self.stopped or cancelled():
                raise StopRequested()
            # The attempt's wall-clock deadline: never past the page's budget.
            deadline = min(self.timeout[1], max(1.0, self.time_budget - (self._monotonic() - started)))
            try:
                _, page = self._attempt(query, deadline, cancelled)
                if attempt > 1:
                    self.logger.info("request succeeded after %d attempts", attempt)
                return page
            except _Retry as failure:
                elapsed = self._monotonic() - started
                if failure.retry_after is not None:
                    delay = max(failure.retry_after, RETRY_AFTER_FLOOR)
                else:
                    delay = self._rng.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1)))
                if attempt >= MAX_ATTEMPTS or elapsed + delay > self.time_budget:
                    waited = "" if failure.retry_after is None else " (server asked to wait %gs)" % delay
                    raise ApiUnavailableError(
                        "audit log API unavailable: gave up after %d attempt%s in %.0fs "
                        "(time budget %.0fs)%s; last failure: %s"
                        % (attempt, "" if attempt == 1 else "s", elapsed, self.time_budget, waited, failure.reason),
                        category=failure.category,
                    ) from None
                self.logger.info(
                    "attempt %d failed (%s); retrying in %.1fs", attempt, failure.reason, delay
                )
                self._pause(delay, cancelled)
                if self.stopped or cancelled():
                    raise StopRequested()

    def _attempt(self, query: Mapping[str, Any], deadline: float,
                 cancelled: Callable[[], bool] = _never) -> Tuple[requests.Response, Dict[str, Any]]:
        """One HTTP request, cut when ``deadline`` seconds have passed or stop() is called.
        Returns (response, validated page); raises _Retry for what is worth retrying,
        StopRequested, and a CollectorError for what is not."""
        with self._lock:
            self.requests_made += 1
        ident = threading.get_ident()
        passed = threading.Event()

        def deadline_reached() -> None:
            passed.set()
            self._transport.cut(ident)

        timer = threading.Timer(deadline, deadline_reached)
        timer.daemon = True
        timer.start()
        try:
            return self._request(query, deadline)
        except _Retry as failure:
            if self.stopped or cancelled():
                raise StopRequested() from None
            if passed.is_set():
                raise _Retry(
                    "no complete response within %.0fs (the request's deadline: read timeout or what "
                    "was left of the time budget); last error: %s" % (deadline, failure.reason),
                    category="connection",
                ) from None
            raise
        finally:
            timer.cancel()

    def _request(self, query: Mapping[str, Any], deadline: float) -> Tuple[requests.Response, Dict[str, Any]]:
        connect_timeout, read_timeout = self.timeout
        sent_at = self._clock()
        try:
            response = self.session.get(
                self.url,
                params=query,
                timeout=(min(connect_timeout, deadline), min(read_timeout, deadline)),
                verify=self.verify,
                allow_redirects=False,
                stream=True,
            )
            self._measure_skew(response, sent_at)
            try:
                body = self._read_body(response)  # inside this try: a cut-off body is retried
            finally:
                response.close()
        except requests.exceptions.SSLError as exc:
            if _looks_like_verification_failure(exc):
                raise TLSVerificationError(
                    "TLS certificate verification failed for %s: %s. If a proxy or gateway "
                    "re-signs TLS, set the account's CA bundle to its CA certificate"
                    % (self.base_url, self._clean(exc))
                ) from None
            raise _Retry("TLS error: %s" % self._clean(exc), category="connection") from None
        except requests.exceptions.ProxyError as exc:
            raise _Retry("proxy error: %s" % self._clean(exc), category="connection") from None
        except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema) as exc:
            # InvalidSchema: e.g. a socks proxy without PySocks installed.
            raise ConfigurationError("cannot make the request: %s" % self._clean(exc)) from None
        except requests.exceptions.Timeout as exc:
            raise _Retry("timeout: %s" % self._clean(exc), category="connection") from None
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
            raise _Retry("truncated or undecodable response body: %s" % self._clean(exc)) from None
        except requests.exceptions.ConnectionError as exc:
            raise _Retry("connection error: %s" % self._clean(exc), category="connection") from None
        except requests.exceptions.RequestException as exc:
            raise _Retry("request failed: %s" % self._clean(exc), category="connection") from None
        except OSError as exc:  # a socket cut by the deadline or stop() while urllib3 reads
            raise _Retry("connection error: %s" % self._clean(exc), category="connection") from None
        except MalformedPageError as exc:  # a body larger than MAX_BODY_BYTES
            raise _Retry("malformed page: %s" % self._clean(exc.message), category="data") from None

        status = response.status_code
        if status == 200:
            try:
                page = validate_page(_decode_json(body))
            except MalformedPageError as exc:
                # Its text quotes the server's values: clean them like any server message.
                raise _Retry("malformed page: %s" % self._clean(exc.message), category="data") from None
            self.logger.debug(
                "GET audit_logs %s -> 200: %d events, has_more=%s",
                _describe(query),
                len(page["data"]),
                page["has_more"],
            )
            return response, page

        detail = self._server_message(body)
        self.logger.debug("GET audit_logs %s -> HTTP %d", _describe(query), status)
        error: Optional[CollectorError] = None
        if status == 401:
            error = AuthenticationError(
                "authentication failed (HTTP 401): the API key was rejected; use an admin key "
                "(sk-admin-...) of this organization%s" % detail
            )
        elif status == 403:
            error = PermissionDeniedError(
                "permission denied (HTTP 403): the admin key lacks the \"Audit Logs: Read\" "
                "permission%s" % detail
            )
        elif status in _RETRY_STATUSES or 500 <= status <= 599:
            if status == 429:
                with self._lock:
                    self.throttled += 1
                if self.on_throttle is not None:
                    self.on_throttle()
            raise _Retry("HTTP %d%s" % (status, detail), retry_after=_retry_after(response))
        elif 300 <= status <= 399:
            error = ConfigurationError(
                "unexpected redirect (HTTP %d) to %s: check the base URL"
                % (status, self._clean(response.headers.get("Location", "?")))
            )
        elif status == 404:
            error = ConfigurationError(
                "HTTP 404 for %s: check the base URL (it should end in /v1)%s" % (self.url, detail)
            )
        else:
            error = CollectorError(
                "the API refused the request (HTTP %d)%s: check event_types and project_ids"
                % (status, detail),
                category="configuration" if 400 <= status <= 499 else "server",
            )
        error.server_date = _http_date(response)
        raise error

    def _measure_skew(self, response: requests.Response, sent_at: float) -> None:
        server_date = _http_date(response)
        if server_date is not None:
            # The Date header is truncated to the second: its middle is the best estimate.
            self.clock_skew = (sent_at + self._clock()) / 2 - (server_date + 0.5)

    def _read_body(self, response: requests.Response) -> bytes:
        """The body, decompressed, never more than MAX_BODY_BYTES (MalformedPageError beyond)."""
        length = response.headers.get("Content-Length")
        if length is not None and length.strip().isdigit() and int(length) > MAX_BODY_BYTES:
            raise MalformedPageError(
                "the response announces %s bytes, more than the %d bytes a page may have"
                % (length.strip(), MAX_BODY_BYTES)
            )
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding in ("gzip", "x-gzip"):
            inflater: Any = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            inflater = zlib.decompressobj()
        elif encoding in ("identity", ""):
            inflater = None
        else:
            raise MalformedPageError("the response uses Content-Encoding %r, which was not asked for" % encoding)
        body = bytearray()
        received = 0
        try:
            for chunk in response.raw.stream(_READ_CHUNK, decode_content=False):
                received += len(chunk)
                if inflater is None:
                    body += chunk
                else:
                    while chunk:
                        body += inflater.decompress(chunk, MAX_BODY_BYTES + 1 - len(body))
                        chunk = inflater.unconsumed_tail
                        if len(body) > MAX_BODY_BYTES:
                            break
                if len(body) > MAX_BODY_BYTES or received > MAX_BODY_BYTES:
                    raise MalformedPageError(
                        "the body is larger than the %d bytes a page may have%s: not read further"
                        % (MAX_BODY_BYTES, "" if inflater is None else " once decompressed (%d bytes received)" % received)
                    )
            if inflater is not None:
                body += inflater.flush()
        except zlib.error as exc:
            raise MalformedPageError("the %s body cannot be decompressed (%s)" % (encoding, exc)) from None
        return bytes(body)

    def _server_message(self, body: bytes) -> str:
        try:
            message = _decode_json(body)["error"]["message"]
        except Exception:
            return ""
        if not isinstance(message, str):
            return ""
        return ": " + self._clean(message)

    def _clean(self, value: Any) -> str:
        """Text of an exception or a server-supplied string, fit for a log line or stderr:
        secrets removed, control characters escaped, shortened."""
        text = str(value)
        for secret in self._secrets:
            if secret:
                text = text.replace(secret, "[REDACTED]")
        text = _URL_CREDENTIALS_RE.sub("***:***@", text)
        text = escape_controls(_BEARER_RE.sub(r"\1[REDACTED]", text))
        return text if len(text) <= 2 * _MAX_SERVER_TEXT else text[:_MAX_SERVER_TEXT] + "... (%d characters)" % len(text)


def validate_page(body: Any) -> Dict[str, Any]:
    """Check the list envelope and every item's required fields; raise MalformedPageError."""
    if not isinstance(body, dict):
        raise MalformedPageError("the body is not a JSON object")
    if body.get("object") != "list":
        raise MalformedPageError("object is %r, not 'list'" % (body.get("object"),))
    data = body.get("data")
    if not isinstance(data, list):
        raise MalformedPageError("data is not a list")
    has_more = body.get("has_more")
    if not isinstance(has_more, bool):
        raise MalformedPageError("has_more is missing or not a boolean")
    for position, item in enumerate(data):
        if not isinstance(item, dict):
            raise MalformedPageError("data[%d] is not an object" % position)
        if not isinstance(item.get("id"), str) or not item["id"]:
            raise MalformedPageError("data[%d].id is missing or not a string" % position)
        if not isinstance(item.get("type"), str) or not item["type"]:
            raise MalformedPageError("data[%d].type is missing or not a string" % position)
        effective_at = item.get("effective_at")
        if not isinstance(effective_at, int) or isinstance(effective_at, bool):
            raise MalformedPageError("data[%d].effective_at is missing or not an integer" % position)
    if has_more and not data:
        raise MalformedPageError("has_more is true on an empty page")
    return body


def _reject_constant(name: str) -> Any:
    raise ValueError("%s is not a JSON value" % name)


def _decode_json(body: bytes) -> Any:
    try:
        # NaN/Infinity: Python reads them, but an event carrying one could not be written back
        # as valid JSON.
        return json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # RecursionError: nested deeper than the parser allows, as broken as any other body
        raise MalformedPageError(
            "the body is not valid JSON (%d bytes; %s: %s)" % (len(body), type(exc).__name__, str(exc)[:100])
        ) from None


def _retry_after(response: requests.Response) -> Optional[float]:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        # The contract documents seconds; an HTTP-date is honoured too.
        parsed = _parse_http_date(value)
        if parsed is None:
            return None
        seconds = parsed - time.time()
    if seconds != seconds or seconds < 0:  # NaN or in the past
        return 0.0
    return seconds


def _http_date(response: requests.Response) -> Optional[float]:
    value = response.headers.get("Date")
    return _parse_http_date(value) if value else None


def _parse_http_date(value: str) -> Optional[float]:
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None or parsed.tzinfo is None:
        return None
    return parsed.timestamp()


def _looks_like_verification_failure(exc: Exception) -> bool:
    text = str(exc)
    return "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text or (
        "hostname" in text and "match" in text
    )


def _describe(query: Mapping[str, Any]) -> str:
    """The query for a debug line (it holds no secrets; lists are shortened)."""
    parts: List[str] = []
    for key, value in query.items():
        if isinstance(value, (list, tuple)):
            value = "%d values" % len(value)
        parts.append("%s=%s" % (key, value))
    return " ".join(parts)
