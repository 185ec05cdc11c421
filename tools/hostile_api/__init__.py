"""A loopback audit-log API that misbehaves on purpose (never shipped; tests only).

Written apart from tools/openai_api_sim (which follows the contract and injects transport faults):
this one breaks the assumptions a collector makes about a well-behaved API, one behaviour at a
time, so that each test can show the collector stays bounded and loses nothing:

    normal              the contract: newest first, effective_at[gte|lte], after=<id>, limit
    clock               normal, but the Date header (and "now" for new events) is ``clock_offset``
                        seconds off this host's clock
    drip                200 headers, then the body one byte every ``drip_interval`` seconds
    drip_headers        even the status line and headers come one byte at a time
    silent              accepts the request, never answers
    retry_after_zero    429 with Retry-After: 0, forever
    huge                a ``huge_bytes`` body (Content-Length sent when ``huge_length``)
    gzip_bomb           a small gzip body that inflates to ``bomb_bytes``
    cycle               the cursor goes back: after page 2 comes page 1 again, forever
    oldest_first        pages (and events in them) oldest first
    stale_forever       has_more=true forever, every page fresh ids older than any window
    one_second_forever  has_more=true forever, every page fresh ids at one second in the window
    reflect_auth        echoes the Authorization header: in a 200 body's ``object`` and in a 500
                        error message
    forged_log          a 500 whose message holds line breaks and a fake summary line
    nan                 a page whose event carries NaN
    impossible_time     normal pages plus events with effective_at far outside any window

Every loop that holds a connection is bounded by ``max_hold`` seconds and ends when the server is
stopped; the server binds 127.0.0.1 and is stopped by its ``with`` block.
"""
from __future__ import annotations

import email.utils
import gzip
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional
from urllib.parse import parse_qsl, urlsplit

KEY = "sk-admin-" + "HostileApiKey0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
BEHAVIOURS = (
    "normal", "clock", "drip", "drip_headers", "silent", "retry_after_zero", "huge", "gzip_bomb", "cycle",
    "oldest_first", "stale_forever", "one_second_forever", "reflect_auth", "forged_log", "nan",
    "impossible_time",
)
FORGED_LINE = "2026-12-01 10:00:00,000 INFO pid=1 input=main events=424242 requests=1 pages=1"


def make_event(n: int, effective_at: int, event_type: str = "api_key.created") -> Dict[str, Any]:
    return {
        "id": "audit_log-hostile%012d" % n,
        "object": "organization.audit_log",
        "type": event_type,
        "effective_at": effective_at,
        "actor": {"type": "api_key", "api_key": {"id": "key_%d" % n, "type": "user"}},
    }


class HostileApi:
    def __init__(self, behaviour: str = "normal", events: Optional[List[Dict[str, Any]]] = None, *,
                 clock_offset: float = 0.0, drip_interval: float = 1.0, max_hold: float = 60.0,
                 huge_bytes: int = 300 * 1024 * 1024, huge_length: bool = False,
                 bomb_bytes: int = 1536 * 1024 * 1024):
        if behaviour not in BEHAVIOURS:
            raise ValueError("unknown behaviour %r (one of %s)" % (behaviour, ", ".join(BEHAVIOURS)))
        self.behaviour = behaviour
        self.events: List[Dict[str, Any]] = list(events or [])
        self.clock_offset = clock_offset
        self.drip_interval = drip_interval
        self.max_hold = max_hold
        self.huge_bytes = huge_bytes
        self.huge_length = huge_length
        self.bomb_bytes = bomb_bytes
        self.requests: List[Dict[str, str]] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._fresh = 0
        self._bomb: Optional[bytes] = None
        api = self

        class Handler(_Handler):
            server_api = api

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        daemon=True)

    @property
    def base_url(self) -> str:
        return "http://127.0.0.1:%d/v1" % self._server.server_address[1]

    def now(self) -> float:
        """This server's clock."""
        return time.time() + self.clock_offset

    def add_events(self, events: List[Dict[str, Any]]) -> None:
        with self._lock:
            self.events.extend(events)

    def __enter__(self) -> "HostileApi":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stopped.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def hold(self, seconds: float) -> bool:
        """Wait, bounded; False once the server is stopping."""
        return not self._stopped.wait(seconds)

    # -- pages ---------------------------------------------------------------------------------
    def page(self, query: Dict[str, str], oldest_first: bool = False) -> Dict[str, Any]:
        with self._lock:
            selected = list(self.events)
        tenant_only = query.get("tenant_only") == "true"
        selected = [e for e in selected if e["type"].startswith("tenant.") == tenant_only]
        low, high = query.get("effective_at[gte]"), query.get("effective_at[lte]")
        if low is not None:
            selected = [e for e in selected if e["effective_at"] >= int(low)]
        if high is not None:
            selected = [e for e in selected if e["effective_at"] <= int(high)]
        selected.sort(key=lambda e: (e["effective_at"], e["id"]), reverse=not oldest_first)
        after = query.get("after")
        if after is not None:
            ids = [e["id"] for e in selected]
            selected = selected[ids.index(after) + 1:] if after in ids else []
        limit = int(query.get("limit") or 20)
        return envelope(selected[:limit], len(selected) > limit)

    def fresh(self, count: int, effective_at: int) -> List[Dict[str, Any]]:
        with self._lock:
            first, self._fresh = self._fresh, self._fresh + count
        return [make_event(10 ** 9 + first + i, effective_at) for i in range(count)]

    def bomb(self) -> bytes:
        if self._bomb is None:
            out = io.BytesIO()
            block = b" " * (1024 * 1024)
            with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as packer:
                packer.write(b'{"object":"list","data":[],"has_more":false,"pad":"')
                for _ in range(self.bomb_bytes // len(block)):
                    packer.write(block)
                packer.write(b'"}')
            self._bomb = out.getvalue()
        return self._bomb


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that cuts a drip or a huge body short is what the tests want


def envelope(data: List[Dict[str, Any]], has_more: bool) -> Dict[str, Any]:
    return {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None, "has_more": has_more}


class _Handler(BaseHTTPRequestHandler):
    server_api: HostileApi
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def date_time_string(self, timestamp: Optional[float] = None) -> str:
        return email.utils.formatdate(self.server_api.now() if timestamp is None else timestamp, usegmt=True)

    def do_GET(self) -> None:  # noqa: N802
        api = self.server_api
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        with api._lock:
            api.requests.append(query)
        behaviour = api.behaviour
        auth = self.headers.get("Authorization", "")
        if behaviour == "reflect_auth":
            if "after" in query:
                return self.send_json(500, {"error": {"message": "bad header %s" % auth}})
            return self.send_json(200, {"object": auth, "data": [], "has_more": False})
        if auth != "Bearer " + KEY:
            return self.send_json(401, {"error": {"message": "Incorrect API key provided"}})
        if parts.path != "/v1/organization/audit_logs":
            return self.send_json(404, {"error": {"message": "not found"}})
        getattr(self, "serve_" + behaviour, self.serve_normal)(query)

    # -- behaviours ------------------------------------------------------------------------------
    def serve_normal(self, query: Dict[str, str]) -> None:
        self.send_json(200, self.server_api.page(query))

    def serve_oldest_first(self, query: Dict[str, str]) -> None:
        self.send_json(200, self.server_api.page(query, oldest_first=True))

    def serve_cycle(self, query: Dict[str, str]) -> None:
        api = self.server_api
        first = api.page({k: v for k, v in query.items() if k != "after"})
        if "after" not in query:
            return self.send_json(200, first)
        second = api.page(dict(query, after=first["data"][-1]["id"]))
        # after=<last of page 1>: page 2; after anything else: page 1 again.
        self.send_json(200, second if query["after"] == first["data"][-1]["id"] else first)

    def serve_stale_forever(self, query: Dict[str, str]) -> None:
        low = int(query.get("effective_at[gte]", "1600000000"))
        self.send_json(200, envelope(self.server_api.fresh(100, low - 86400), True))

    def serve_one_second_forever(self, query: Dict[str, str]) -> None:
        high = int(query.get("effective_at[lte]", str(int(self.server_api.now()))))
        self.send_json(200, envelope(self.server_api.fresh(100, high), True))

    def serve_retry_after_zero(self, query: Dict[str, str]) -> None:
        self.send_json(429, {"error": {"message": "Rate limit reached"}}, {"Retry-After": "0"})

    def serve_nan(self, query: Dict[str, str]) -> None:
        page = self.server_api.page(query)
        text = json.dumps(page)
        if page["data"]:
            text = text.replace('"effective_at"', '"score": NaN, "effective_at"', 1)
        self.send_raw(200, text.encode())

    def serve_impossible_time(self, query: Dict[str, str]) -> None:
        page = self.server_api.page(query)
        page["data"] = page["data"] + [make_event(990001, -5), make_event(990002, 10 ** 12)]
        self.send_json(200, page)

    def serve_forged_log(self, query: Dict[str, str]) -> None:
        self.send_json(500, {"error": {"message": "upstream failed\n%s\r\n\x1b[2K" % FORGED_LINE}})

    def serve_drip(self, query: Dict[str, str]) -> None:
        body = json.dumps(self.server_api.page(query)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.drip(body)

    def serve_drip_headers(self, query: Dict[str, str]) -> None:
        body = json.dumps(self.server_api.page(query)).encode()
        head = ("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Padding: %s\r\nContent-Length: %d\r\n\r\n"
                % ("x" * 200, len(body))).encode()
        self.drip(head + body)

    def serve_silent(self, query: Dict[str, str]) -> None:
        self.server_api.hold(self.server_api.max_hold)
        self.close_connection = True

    def serve_huge(self, query: Dict[str, str]) -> None:
        api = self.server_api
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        prefix, suffix = b'{"object":"list","data":[],"has_more":false,"pad":"', b'"}'
        block = b"x" * (1024 * 1024)
        blocks = api.huge_bytes // len(block)
        if api.huge_length:
            self.send_header("Content-Length", str(len(prefix) + blocks * len(block) + len(suffix)))
        else:
            self.send_header("Connection", "close")  # the body ends when the connection does
            self.close_connection = True
        self.end_headers()
        try:
            self.wfile.write(prefix)
            for _ in range(blocks):
                if api._stopped.is_set():
                    return
                self.wfile.write(block)
            self.wfile.write(suffix)
        except OSError:  # the client hung up: what a bounded client does
            self.close_connection = True

    def serve_gzip_bomb(self, query: Dict[str, str]) -> None:
        self.send_raw(200, self.server_api.bomb(), {"Content-Encoding": "gzip"})

    # -- writing ---------------------------------------------------------------------------------
    def drip(self, data: bytes) -> None:
        api = self.server_api
        deadline = time.monotonic() + api.max_hold
        try:
            for i in range(len(data)):
                if time.monotonic() > deadline or not api.hold(api.drip_interval):
                    break
                self.wfile.write(data[i:i + 1])
                self.wfile.flush()
        except OSError:
            pass
        self.close_connection = True

    def send_json(self, status: int, body: Any, headers: Optional[Dict[str, str]] = None) -> None:
        self.send_raw(status, json.dumps(body).encode(), headers)

    def send_raw(self, status: int, data: bytes, headers: Optional[Dict[str, str]] = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(data)
        except OSError:
            self.close_connection = True


def spread(count: int, low: int, high: int, first: int = 0) -> List[Dict[str, Any]]:
    """``count`` events spread evenly over [low, high]."""
    step = (high - low) / max(1, count - 1)
    return [make_event(first + i, int(low + i * step)) for i in range(count)]

