"""HTTP server: the audit log endpoint, injected faults, and the /_sim control surface."""
from __future__ import annotations

import json
import os
import random
import socket
import struct
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple
from urllib.parse import parse_qsl, unquote, urlsplit

from .store import EventStore, Query, QueryError

DEFAULT_KEY = "sk-admin-" + "SimDefaultKey0123456789abcdefghijklmnopqrstuvwxyzABCD"
NO_PERMISSION_KEY = "sk-admin-" + "SimNoAuditPermission0123456789abcdefghijklmnopqrstu"

FAULT_NAMES = ("429", "429-retry-after", "500", "502", "503", "reset", "truncate", "nonjson", "slow")

GATEWAY_502_HTML = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
    "</body>\r\n</html>\r\n"
)


class FaultSpec:
    """``NAME@RATE[:ARG]``: see README.md for what each NAME does and what ARG means."""

    def __init__(self, name: str, rate: float, arg: Optional[str] = None):
        self.name, self.rate, self.arg = name, rate, arg

    @classmethod
    def parse(cls, text: str) -> "FaultSpec":
        if not isinstance(text, str) or "@" not in text:
            raise ValueError("fault spec %r: expected NAME@RATE[:ARG]" % (text,))
        name, rest = text.split("@", 1)
        rate_s, _, arg = rest.partition(":")
        if name not in FAULT_NAMES:
            raise ValueError("fault spec %r: unknown fault %r (one of %s)"
                             % (text, name, ", ".join(FAULT_NAMES)))
        try:
            rate = float(rate_s)
        except ValueError:
            raise ValueError("fault spec %r: rate %r is not a number" % (text, rate_s))
        if not 0.0 <= rate <= 1.0:
            raise ValueError("fault spec %r: rate must be between 0 and 1" % (text,))
        arg = arg or None
        if name in ("429-retry-after", "slow"):
            if arg is None:
                arg = "1" if name == "429-retry-after" else "1000"
            try:
                if float(arg) < 0:
                    raise ValueError
            except ValueError:
                raise ValueError("fault spec %r: ARG must be a non-negative number" % (text,))
        elif name == "truncate":
            if arg not in (None, "cut", "short"):
                raise ValueError("fault spec %r: truncate ARG is cut or short" % (text,))
            arg = arg or "cut"
        elif name == "nonjson":
            if arg is not None and not (arg.isdigit() and 100 <= int(arg) <= 599):
                raise ValueError("fault spec %r: nonjson ARG is an HTTP status" % (text,))
            arg = arg or "200"
        elif arg is not None:
            raise ValueError("fault spec %r: %s takes no ARG" % (text, name))
        return cls(name, rate, arg)

    def __str__(self) -> str:
        return "%s@%g%s" % (self.name, self.rate, ":" + self.arg if self.arg else "")


def parse_faults(specs: Optional[Iterable[Any]]) -> List[FaultSpec]:
    out = [s if isinstance(s, FaultSpec) else FaultSpec.parse(s) for s in (specs or ())]
    if sum(f.rate for f in out) > 1.0 + 1e-9:
        raise ValueError("fault rates add up to more than 1")
    return out


def _error(message: str, etype: str, param: Optional[str] = None,
           code: Optional[str] = None) -> Dict[str, Any]:
    return {"error": {"message": message, "type": etype, "param": param, "code": code}}


RATE_LIMIT_ERROR = _error("Rate limit reached for requests. Please try again later.", "requests", None,
                          "rate_limit_exceeded")


def parse_max_concurrent(value: Any) -> Optional[int]:
    """None (no limit) or an integer >= 1: how many audit log requests may be served at once."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError("max_concurrent must be an integer >= 1 or null, got %r" % (value,))
    try:
        n = int(value)
    except ValueError:
        raise ValueError("max_concurrent must be an integer >= 1 or null, got %r" % (value,))
    if n < 1:
        raise ValueError("max_concurrent must be >= 1, got %d" % n)
    return n


def _mask(key: str) -> str:
    # What OpenAI echoes for a wrong key: never the key itself.
    return (key[:9] if key.startswith("sk-") else "") + "*" * 8 + key[-4:] if len(key) > 12 else "****"


class StatusCounts(dict):
    """Counts by HTTP status, keyed "200" as in the JSON form; lookups also accept 200."""

    def __getitem__(self, key: Any) -> int:
        return dict.__getitem__(self, str(key))

    def get(self, key: Any, default: Any = None) -> Any:
        return dict.get(self, str(key), default)

    def __contains__(self, key: Any) -> bool:
        return dict.__contains__(self, str(key))


class SimState:
    """Everything the handler shares: store, keys, faults, counters. Thread-safe."""

    def __init__(self, store: EventStore, key: str = DEFAULT_KEY,
                 no_permission_keys: Sequence[str] = (NO_PERMISSION_KEY,),
                 faults: Optional[Iterable[Any]] = None, seed: int = 0,
                 latency_ms: float = 0.0, track_ids: bool = True,
                 max_concurrent: Optional[int] = None):
        self.store = store
        self.key = key
        self.no_permission_keys = set(no_permission_keys)
        self.seed = seed
        self.latency_ms = float(latency_ms)
        self.track_ids = track_ids
        self._lock = threading.Lock()
        self.faults = parse_faults(faults)
        self.max_concurrent = parse_max_concurrent(max_concurrent)
        self.in_flight = 0  # audit log requests being served now (not a counter: reset keeps it)
        self._reset_counters()

    def _reset_counters(self) -> None:
        self._rng = random.Random(self.seed)
        self.requests = 0
        self.by_status = Counter()  # type: Counter
        self.fault_counts = Counter()  # type: Counter
        self.served = set()  # type: set
        self.served_total = 0
        self.control_requests = 0
        self.over_concurrency = 0
        self.in_flight_max = self.in_flight

    def reset(self) -> None:
        with self._lock:
            self._reset_counters()

    def set_faults(self, specs: Optional[Iterable[Any]]) -> None:
        parsed = parse_faults(specs)
        with self._lock:
            self.faults = parsed

    def set_max_concurrent(self, value: Any) -> None:
        parsed = parse_max_concurrent(value)
        with self._lock:
            self.max_concurrent = parsed

    def count_request(self) -> None:
        """Count a request that draws no fault (the in-process transport)."""
        with self._lock:
            self.requests += 1

    def admit(self) -> bool:
        """Take a serving slot for one audit log request. False when max_concurrent requests are
        being served already: the request is counted, as a 429, and must be answered at once."""
        with self._lock:
            if self.max_concurrent is not None and self.in_flight >= self.max_concurrent:
                self.requests += 1
                self.by_status["429"] += 1
                self.over_concurrency += 1
                return False
            self.in_flight += 1
            self.in_flight_max = max(self.in_flight_max, self.in_flight)
            return True

    def release(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def draw_fault(self) -> Optional[FaultSpec]:
        """Count a request and decide (one seeded draw) whether a fault replaces its response."""
        with self._lock:
            self.requests += 1
            u = self._rng.random()
            acc = 0.0
            for f in self.faults:
                acc += f.rate
                if u < acc:
                    self.fault_counts[f.name] += 1
                    return f
        return None

    def record(self, status: Optional[int], page: Optional[Dict[str, Any]] = None) -> None:
        with self._lock:
            if status is not None:
                self.by_status[str(status)] += 1
            if page is not None:
                ids = [ev["id"] for ev in page["data"]]
                self.served_total += len(ids)
                if self.track_ids:
                    self.served.update(ids)

    def stats(self) -> Dict[str, Any]:
        with self._lock:
            return {
                "requests": self.requests,
                "by_status": StatusCounts(self.by_status),
                "faults": dict(self.fault_counts),
                "ids_served": len(self.served),
                "ids_served_total": self.served_total,
                "events": len(self.store),
                "control_requests": self.control_requests,
                "max_concurrent": self.max_concurrent,
                "over_concurrency": self.over_concurrency,
                "in_flight_max": self.in_flight_max,
            }

    def served_ids(self) -> set:
        with self._lock:
            return set(self.served)


def answer(state: SimState, raw_query: str, authorization: Optional[str]) -> Tuple[int, Dict[str, Any]]:
    """The API's own answer to one list request (what comes after the gateway's faults):
    (status, JSON body): 401/403 for the key, 400 for a query the API refuses, else 200 and the page."""
    token = authorization[7:].strip() if authorization and authorization.startswith("Bearer ") else ""
    if not token:
        return 401, _error(
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            "invalid_request_error")
    if token in state.no_permission_keys:
        return 403, _error(
            "You have insufficient permissions for this operation. Missing scopes: "
            "api.audit_logs.read. Check that you have the correct role in your "
            "organization, and if you're using a restricted API key, that it has the "
            "necessary scopes.", "invalid_request_error")
    if token != state.key:
        return 401, _error(
            "Incorrect API key provided: %s. You can find your API key at "
            "https://platform.openai.com/account/api-keys." % _mask(token),
            "invalid_request_error", None, "invalid_api_key")
    try:
        return 200, state.store.list(Query(parse_query(raw_query)))
    except QueryError as e:
        return 400, _error(e.message, "invalid_request_error", e.param, e.code)


def parse_query(raw_query: str) -> Dict[str, List[str]]:
    """Query string -> {name: [values]}, accepting percent-encoded and raw brackets alike."""
    params = {}  # type: Dict[str, List[str]]
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        # parse_qsl already decoded %5B/%5D; unquote again covers a doubly encoded key.
        params.setdefault(unquote(name), []).append(value)
    return params


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "openai-api-sim"
    sys_version = ""
    timeout = 15  # per-connection socket timeout: an idle or stuck client cannot hold a thread
    state = None  # type: SimState  # set per server class

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without NODELAY, Nagle plus the client's
        # delayed ACK adds ~40 ms to every keep-alive response.
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # quiet: tests run many thousands of requests

    # -- responses --
    def _send(self, status: int, body: bytes, ctype: str = "application/json",
              headers: Optional[Dict[str, str]] = None, declared_length: Optional[int] = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if declared_length is None else declared_length))
        self.send_header("x-request-id", "req_%032x" % random.getrandbits(128))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _json(self, status: int, obj: Any, headers: Optional[Dict[str, str]] = None) -> None:
        self._send(status, json.dumps(obj, separators=(",", ":")).encode("utf-8"), headers=headers)

    def _reset_connection(self) -> None:
        # SO_LINGER 0 then close: the kernel sends RST, the client sees "connection reset by peer".
        # detach() + os.close() closes the descriptor now, although rfile/wfile still refer to
        # the socket object (socket.close() would wait for them).
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        os.close(self.connection.detach())

    # -- routing --
    def do_GET(self) -> None:  # noqa: N802
        url = urlsplit(self.path)
        if url.path.rstrip("/") == "/v1/organization/audit_logs":
            self._audit_logs(url.query)
        elif url.path.startswith("/_sim/"):
            self._control("GET", url.path)
        else:
            self._json(404, _error("Invalid URL (GET %s)" % url.path, "invalid_request_error"))

    def do_POST(self) -> None:  # noqa: N802
        url = urlsplit(self.path)
        if url.path.startswith("/_sim/"):
            self._control("POST", url.path)
        else:
            self._read_body()
            self._json(404, _error("Invalid URL (POST %s)" % url.path, "invalid_request_error"))

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > 256 * 1024 * 1024:
            raise ValueError("body too large")
        return self.rfile.read(length) if length else b""

    # -- the API --
    @staticmethod
    def _until(due: float) -> None:
        left = due - time.monotonic()
        if left > 0:
            time.sleep(left)

    def _audit_logs(self, raw_query: str) -> None:
        st = self.state
        if not st.admit():
            # More requests at once than max_concurrent: refused at once, like a rate limit.
            return self._json(429, RATE_LIMIT_ERROR, {"Retry-After": "1"})
        try:
            self._serve_audit_logs(raw_query)
        finally:
            st.release()

    def _serve_audit_logs(self, raw_query: str) -> None:
        st = self.state
        # latency_ms is how long an answer takes, its own computation included (as a real API's
        # response time is): what requests x latency counts as a client's floor.
        due = time.monotonic() + st.latency_ms / 1000.0
        fault = st.draw_fault()
        slow = 0.0
        if fault is not None and fault.name == "slow":
            slow, fault = float(fault.arg) / 1000.0, None
        if fault is not None and fault.name not in ("truncate",):
            self._until(due)
            return self._fault(fault)

        status, page = answer(st, raw_query, self.headers.get("Authorization"))
        if status != 200:
            self._until(due)
            st.record(status)
            return self._json(status, page)
        # Raw UTF-8 like the live API (not \u escapes): clients must decode it as UTF-8.
        body = json.dumps(page, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        self._until(due + slow)
        if fault is not None:  # truncate
            st.record(200)
            cut = max(1, len(body) // 2)
            if fault.arg == "short":
                # A buffering proxy that cut the body and fixed Content-Length: a complete
                # HTTP response whose JSON does not parse.
                return self._send(200, body[:cut])
            # A proxy that lost the upstream mid-stream: full Content-Length, half the body,
            # then the connection closes (the client sees an incomplete read).
            self._send(200, body[:cut], declared_length=len(body))
            self.close_connection = True
            return None
        st.record(200, page)
        return self._send(200, body)

    def _fault(self, fault: FaultSpec) -> None:
        st = self.state
        name = fault.name
        if name == "reset":
            return self._reset_connection()
        if name in ("429", "429-retry-after"):
            st.record(429)
            headers = {"Retry-After": fault.arg} if name == "429-retry-after" else None
            return self._json(429, RATE_LIMIT_ERROR, headers)
        if name == "500":
            st.record(500)
            return self._json(500, _error(
                "The server had an error while processing your request. Sorry about that!",
                "server_error"))
        if name == "502":
            st.record(502)
            return self._send(502, GATEWAY_502_HTML.encode(), "text/html")
        if name == "503":
            st.record(503)
            return self._json(503, _error(
                "The engine is currently overloaded, please try again later.", "server_error"))
        if name == "nonjson":
            status = int(fault.arg)
            st.record(status)
            return self._send(status, GATEWAY_502_HTML.encode(), "text/html")
        raise AssertionError(name)

    # -- control surface --
    def _control(self, method: str, path: str) -> None:
        st = self.state
        with st._lock:
            st.control_requests += 1
        op = path[len("/_sim/"):].strip("/")
        try:
            body = self._read_body() if method == "POST" else b""
            data = json.loads(body.decode("utf-8")) if body.strip() else {}
            if method == "GET" and op == "stats":
                return self._json(200, st.stats())
            if method == "GET" and op == "served_ids":
                return self._json(200, {"ids": sorted(st.served_ids())})
            if method == "POST" and op == "events":
                if not isinstance(data, dict) or not isinstance(data.get("events"), list):
                    raise ValueError('expected {"events": [...], "visible_after": seconds}')
                n = st.store.add_events(data["events"], float(data.get("visible_after") or 0.0))
                return self._json(200, {"added": n})
            if method == "POST" and op == "faults":
                if not isinstance(data, dict) or not isinstance(data.get("faults", []), list):
                    raise ValueError('expected {"faults": ["NAME@RATE[:ARG]", ...]}')
                st.set_faults(data.get("faults", []))
                return self._json(200, {"faults": [str(f) for f in st.faults]})
            if method == "POST" and op == "latency":
                st.latency_ms = float(data.get("latency_ms", 0))
                return self._json(200, {"latency_ms": st.latency_ms})
            if method == "POST" and op == "max_concurrent":
                if not isinstance(data, dict) or "max_concurrent" not in data:
                    raise ValueError('expected {"max_concurrent": n or null}')
                st.set_max_concurrent(data["max_concurrent"])
                return self._json(200, {"max_concurrent": st.max_concurrent})
            if method == "POST" and op == "reset":
                st.reset()
                return self._json(200, {"reset": True})
        except (ValueError, TypeError) as e:
            return self._json(400, _error(str(e), "invalid_request_error"))
        return self._json(404, _error("No control operation %s %s" % (method, path),
                                      "invalid_request_error"))


class SimHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64  # benchmarks open many connections at once

    def __init__(self, state: SimState, port: int = 0):
        handler = type("BoundHandler", (Handler,), {"state": state})
        self._conns = set()  # type: set
        self._conns_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), handler)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._conns_lock:
            self._conns.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._conns_lock:
                self._conns.discard(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up or times out mid-response is normal here (fault tests, stop()).
        if isinstance(sys.exc_info()[1], (ConnectionError, socket.timeout, TimeoutError)):
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        """Wake handler threads blocked on idle keep-alive connections."""
        with self._conns_lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
