"""The API stand-in as a requests transport adapter: no socket, no thread, no real time.

    from tools.openai_api_sim.transport import InProcessApi
    api = InProcessApi(state, date_clock=clock)       # state: a SimState over any EventStore
    client.session.mount("https://", api)             # every request of that session lands here

It answers ``GET .../v1/organization/audit_logs`` with the server's own code (``server.answer``:
auth, query validation, newest-first pages from the store, visibility), so an in-process run sees
the API's semantics at the speed of a function call; with an EventStore whose clock is injected, a
benchmark can simulate a day in seconds. It counts in the state's stats like the server does
(``requests``, ``by_status``, ``ids_served_total``: every event of every page served). It draws no
faults and adds no latency: use ApiSim (a real server) for those. Needs requests (the engine's
dependency), unlike the rest of this package.
"""
from __future__ import annotations

import email.utils
import io
import json
from typing import Any, Callable, Dict, Optional
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import BaseAdapter

from .server import SimState, _error, answer


class InProcessApi(BaseAdapter):
    """state: what to serve and where to count; date_clock: the server's clock for the Date
    header (Unix seconds; None: no Date header)."""

    def __init__(self, state: SimState, date_clock: Optional[Callable[[], float]] = None):
        super().__init__()
        self.state = state
        self.date_clock = date_clock

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        url = urlsplit(request.url)
        self.state.count_request()
        if request.method != "GET" or url.path.rstrip("/") != "/v1/organization/audit_logs":
            status, body = 404, _error("Invalid URL (%s %s)" % (request.method, url.path), "invalid_request_error")
        else:
            status, body = answer(self.state, url.query, request.headers.get("Authorization"))
        self.state.record(status, body if status == 200 else None)
        headers = {"Content-Type": "application/json"}
        if self.date_clock is not None:
            headers["Date"] = email.utils.formatdate(self.date_clock(), usegmt=True)
        return _response(request, status, json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8"),
                         headers)

    def close(self) -> None:
        pass


def _response(request: requests.PreparedRequest, status: int, payload: bytes,
              headers: Dict[str, str]) -> requests.Response:
    """What requests' own HTTPAdapter hands back: a Response over a urllib3 response whose body
    is read as a stream (here from memory)."""
    headers = dict(headers, **{"Content-Length": str(len(payload))})
    resp = requests.Response()
    resp.status_code = status
    resp.request = request
    resp.url = request.url
    resp.headers.update(headers)
    resp.raw = urllib3.HTTPResponse(body=io.BytesIO(payload), headers=headers, status=status,
                                    preload_content=False, decode_content=False)
    resp.reason = "OK" if status == 200 else "Error"
    return resp
