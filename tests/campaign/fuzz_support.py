"""A loopback audit-log endpoint that serves exactly the bytes a test gives it, and the shim's way
of writing events, for the fuzz tests.

The API stand-in (tools/openai_api_sim) re-serialises what it serves and refuses events without
the required fields; fuzzing needs the opposite: each event's JSON text sent as generated (raw
or escaped unicode, odd spacing) and whole pages broken on purpose. ``PageServer`` pages like the
real API (newest first by (effective_at, id), ``limit``, ``after``, ``effective_at[gte|lte]``) and
can replace the response of one page by a broken body for its first N requests, or for ever.
"""
from __future__ import annotations

import io
import json
import threading
import xml.etree.ElementTree as ET
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qsl, urlsplit

from splunklib import modularinput as smi
from ta_openai_audit_splunk import EventStream

KEY = "sk-admin-" + "FuzzKey0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH"


class ServedEvent:
    """One audit log: the JSON text the server sends and the value a JSON parser reads from it."""

    def __init__(self, text: str):
        self.text = text
        self.value = json.loads(text)
        self.id = self.value["id"]
        self.effective_at = self.value["effective_at"]

    def __repr__(self) -> str:
        text = self.text if len(self.text) <= 300 else self.text[:300] + "...(%d chars)" % len(self.text)
        return "ServedEvent(%s)" % ascii(text)


class PageServer:
    def __init__(self, events: List[ServedEvent], key: str = KEY):
        # newest first, ties by id descending, as the API orders them
        self.events = sorted(events, key=lambda e: (e.effective_at, e.id), reverse=True)
        self.key = key
        self.requests = Counter()  # by the `after` cursor ("" for the first page)
        self.broken: Dict[str, Tuple[bytes, Optional[int]]] = {}
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 15

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                status, body = server.respond(self.path, self.headers.get("Authorization", ""))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # -- lifecycle
    def __enter__(self) -> "PageServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    @property
    def base_url(self) -> str:
        return "http://127.0.0.1:%d/v1" % self._httpd.server_address[1]

    # -- pages
    def cursor_of_page(self, index: int, limit: int = 100) -> str:
        """The ``after`` cursor that asks for page ``index`` of a walk over every event."""
        return "" if index == 0 else self.events[index * limit - 1].id

    def break_page(self, cursor: str, body: bytes, times: Optional[int]) -> None:
        """Answer the page asked for with ``after=cursor`` by ``body`` (HTTP 200) for the next
        ``times`` requests (None: for ever)."""
        with self._lock:
            self.broken[cursor] = (body, times)

    def repair(self) -> None:
        with self._lock:
            self.broken.clear()

    def page_body(self, query: Dict[str, str]) -> Tuple[List[ServedEvent], bool]:
        gte = int(query.get("effective_at[gte]", -(2 ** 62)))
        lte = int(query.get("effective_at[lte]", 2 ** 62))
        limit = int(query.get("limit", 20))
        selected = [e for e in self.events if gte <= e.effective_at <= lte]
        after = query.get("after")
        if after is not None:
            ids = [e.id for e in selected]
            selected = selected[ids.index(after) + 1:] if after in ids else []
        return selected[:limit], len(selected) > limit

    def respond(self, path: str, auth: str) -> Tuple[int, bytes]:
        if auth != "Bearer " + self.key:
            return 401, b'{"error":{"message":"bad key","type":"invalid_request_error"}}'
        url = urlsplit(path)
        if url.path != "/v1/organization/audit_logs":
            return 404, b'{"error":{"message":"no such path","type":"invalid_request_error"}}'
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        cursor = query.get("after", "")
        with self._lock:
            self.requests[cursor] += 1
            broken = self.broken.get(cursor)
            if broken is not None:
                body, times = broken
                if times is None or times > 0:
                    if times is not None:
                        self.broken[cursor] = (body, times - 1)
                    return 200, body
        data, has_more = self.page_body(query)
        return 200, envelope(data, has_more).encode("utf-8")


def envelope(events: List[ServedEvent], has_more: bool) -> str:
    """A list page made of the events' JSON texts as they are (no re-serialisation)."""
    first = events[0].id if events else None
    last = events[-1].id if events else None
    return '{"object":"list","data":[%s],"first_id":%s,"last_id":%s,"has_more":%s}' % (
        ",".join(e.text for e in events), json.dumps(first), json.dumps(last), "true" if has_more else "false")


class ShimWriter:
    """What the modular input does with each event: the shim's own EventStream over splunklib's
    EventWriter, written to a text stream as splunkd's stdout is. The collector is given ``events``
    as its sink, so pages reach the stream before their checkpoint, as in the shim."""

    def __init__(self, input_name: str = "openai_audit_logs://fuzz", account: str = "fuzz", index: str = "openai"):
        self.stream = io.StringIO()
        self.writer = smi.EventWriter(output=self.stream, error=io.StringIO())
        self.events = EventStream(self.writer, input_name, account, index)

    def document(self) -> str:
        self.events.flush()
        self.writer.close()
        return self.stream.getvalue()


def parse_stream(document: str) -> List[Dict[str, Optional[str]]]:
    """The <stream> document as splunkd would read it; raises ET.ParseError if not well-formed."""
    if not document:
        return []
    root = ET.fromstring(document)
    assert root.tag == "stream"
    out = []
    for node in root.findall("event"):
        event = {"stanza": node.get("stanza")}
        for child in node:
            event[child.tag] = child.text
        out.append(event)
    return out
