"""Shared fakes for the engine's unit tests.

FakeApi is a requests transport adapter (no socket, no server): it answers
GET /organization/audit_logs from a list of events with the API's documented semantics (newest
first, effective_at[gte|lte], event_types[], project_ids[], tenant_only, limit, after=<id>) and can
be scripted to fail. Tests that need a real HTTP server use tools.openai_api_sim.ApiSim instead.
"""
from __future__ import annotations

import email.utils
import io
import json
import logging
import random
from typing import Any, Callable, Dict, List, Optional
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import urllib3
from requests.adapters import BaseAdapter

from ta_openai_audit.client import AuditLogClient
from ta_openai_audit.settings import InputSettings, is_tenant_scoped

BASE_URL = "https://api.test.example/v1"
KEY = "sk-admin-" + "UnitTestKey0123456789abcdefghijklmnopqrstuvwxyzABCDEF"
NOW = 1_790_000_000


def make_event(i: int, effective_at: int, event_type: str = "login.succeeded", **extra: Any) -> Dict[str, Any]:
    event = {
        "id": "audit_log-%024d" % i,
        "object": "organization.audit_log",
        "type": event_type,
        "effective_at": effective_at,
        "actor": {"type": "session", "session": {"user": {"id": "user-%d" % i, "email": "u%d@example.com" % i},
                                                  "ip_address": "203.0.113.%d" % (i % 250)}},
    }
    event.update(extra)
    return event


class FakeApi(BaseAdapter):
    """In-process audit log API. ``script`` is consumed one entry per request before the normal
    answer: a callable(request) returning a requests.Response or raising, or None for normal."""

    def __init__(self, events: Optional[List[Dict[str, Any]]] = None, key: str = KEY):
        super().__init__()
        self.events: List[Dict[str, Any]] = list(events or [])
        self.key = key
        self.script: List[Optional[Callable[[Any], Any]]] = []
        self.requests: List[Dict[str, List[str]]] = []
        self.headers: List[Dict[str, str]] = []
        self.ignore_after = False  # a server whose cursor never moves
        self.send_kwargs: List[Dict[str, Any]] = []
        # The server's clock for the Date header of normal answers (None: no Date header).
        self.server_clock: Optional[Callable[[], float]] = None

    def add(self, events: List[Dict[str, Any]]) -> None:
        self.events.extend(events)

    # -- transport -------------------------------------------------------------------------
    def send(self, request, **kwargs):  # noqa: D401
        self.send_kwargs.append(kwargs)
        query: Dict[str, List[str]] = {}
        for name, value in parse_qsl(urlsplit(request.url).query, keep_blank_values=True):
            query.setdefault(name, []).append(value)
        self.requests.append(query)
        self.headers.append(dict(request.headers))
        if self.script:
            action = self.script.pop(0)
            if action is not None:
                return _as_transported(action(request))
        if request.headers.get("Authorization") != "Bearer " + self.key:
            return response(request, 401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}})
        status, body = self.list(query)
        headers = {"Date": http_date(self.server_clock())} if self.server_clock else None
        return response(request, status, body, headers)

    def close(self):
        pass

    def list(self, query: Dict[str, List[str]]):
        def one(name: str) -> Optional[str]:
            values = query.get(name)
            return values[-1] if values else None

        tenant_only = one("tenant_only") == "true"
        types = query.get("event_types[]") or []
        if tenant_only and any(not is_tenant_scoped(t) for t in types):
            return 400, {"error": {"message": "tenant_only requires tenant-scoped event types", "type": "invalid_request_error"}}
        selected = [e for e in self.events if is_tenant_scoped(e["type"]) == tenant_only]
        if types:
            selected = [e for e in selected if e["type"] in types]
        projects = query.get("project_ids[]") or []
        if projects:
            selected = [e for e in selected if (e.get("project") or {}).get("id") in projects]
        for bound, test in (("gte", lambda a, b: a >= b), ("lte", lambda a, b: a <= b),
                            ("gt", lambda a, b: a > b), ("lt", lambda a, b: a < b)):
            value = one("effective_at[%s]" % bound)
            if value is not None:
                selected = [e for e in selected if test(e["effective_at"], int(value))]
        selected.sort(key=lambda e: (e["effective_at"], e["id"]), reverse=True)
        after = one("after")
        if after is not None and not self.ignore_after:
            ids = [e["id"] for e in selected]
            selected = selected[ids.index(after) + 1:] if after in ids else []
        limit = int(one("limit") or 20)
        page = selected[:limit]
        return 200, {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(selected) > limit,
        }


def response(request, status: int, body: Any = None, headers: Optional[Dict[str, str]] = None,
             raw: Optional[bytes] = None) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp.request = request
    resp.url = request.url
    payload = raw if raw is not None else json.dumps(body).encode("utf-8")
    resp.headers.update({"Content-Type": "application/json"})
    resp.headers.update(headers or {})
    resp.raw = io.BytesIO(payload)
    return _as_transported(resp)


def _as_transported(resp: requests.Response) -> requests.Response:
    """What a real transport hands requests: a urllib3 response over the (here in-memory) body.
    Scripted answers may set ``raw`` to a plain BytesIO."""
    if isinstance(resp.raw, io.BytesIO):
        resp.raw = urllib3.HTTPResponse(body=resp.raw, headers=dict(resp.headers), status=resp.status_code,
                                        preload_content=False, decode_content=False)
    return resp


def http_date(seconds: float) -> str:
    return email.utils.formatdate(seconds, usegmt=True)


class ListSink:
    """The collector's sink, in memory: every event's JSON text (``raws``) and id, the flushes."""

    def __init__(self) -> None:
        self.raws: List[str] = []
        self.ids: List[str] = []
        self.flushes = 0

    def emit(self, raw: str, effective_at: int, event: Dict[str, Any], backfill: bool) -> None:
        self.raws.append(raw)
        self.ids.append(event["id"])

    def flush(self) -> None:
        self.flushes += 1


class FakeClock:
    """Monotonic and wall clock that only move when the code sleeps (or a test advances it)."""

    def __init__(self, start: float = NOW):
        self.now = float(start)
        self.sleeps: List[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make_client(api: FakeApi, clock: Optional[FakeClock] = None, key: str = KEY, **kwargs: Any) -> AuditLogClient:
    clock = clock or FakeClock()
    kwargs.setdefault("time_budget", 60)
    client = AuditLogClient(BASE_URL, key, sleep=clock.sleep, monotonic=clock, clock=clock, rng=random.Random(7),
                            **kwargs)
    client.session.mount("https://", api)
    return client


def make_settings(**fields: Any) -> InputSettings:
    # one stream unless a test asks for the tenant-scoped one (the input's default collects both)
    stanza = {"start": str(NOW - 86400), "lag_seconds": "60", "overlap_seconds": "900", "tenant_scoped": "0"}
    stanza.update({k: str(v) for k, v in fields.items()})
    return InputSettings.from_stanza(stanza, now=NOW)


@pytest.fixture
def fake_api() -> FakeApi:
    return FakeApi()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def engine_logs(caplog):
    """Every engine log record at DEBUG."""
    caplog.set_level(logging.DEBUG, logger="ta_openai_audit")
    return caplog


@pytest.fixture
def eng():
    """The helpers above, for test modules (with --import-mode=importlib a test module cannot
    import conftest, so they come as a fixture)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        KEY=KEY, NOW=NOW, BASE_URL=BASE_URL, FakeApi=FakeApi, FakeClock=FakeClock, make_event=make_event,
        make_client=make_client, make_settings=make_settings, response=response, http_date=http_date,
        ListSink=ListSink,
    )


def _every_id(sim, tenant_only=False, **bounds):
    """The oracle: every id the stand-in serves for these bounds, by a plain walk with no faults."""
    from tools.openai_api_sim import DEFAULT_KEY

    ids, after = [], None
    while True:
        params = {"limit": 100, "tenant_only": "true" if tenant_only else "false"}
        params.update(bounds)
        if after:
            params["after"] = after
        body = requests.get(sim.base_url + "/organization/audit_logs", params=params,
                            headers={"Authorization": "Bearer " + DEFAULT_KEY}, timeout=10).json()
        ids += [e["id"] for e in body["data"]]
        if not body["has_more"]:
            return ids
        after = body["data"][-1]["id"]


@pytest.fixture
def every_id():
    return _every_id
