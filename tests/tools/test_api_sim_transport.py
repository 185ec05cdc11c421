"""The in-process transport answers exactly as the loopback server does, and counts like it."""
from __future__ import annotations

import email.utils
import random

import pytest
import requests

from tools.openai_api_sim import ApiSim, DEFAULT_KEY
from tools.openai_api_sim.generator import corpus
from tools.openai_api_sim.server import SimState
from tools.openai_api_sim.store import EventStore
from tools.openai_api_sim.transport import InProcessApi

BASE = 1_790_000_000
# Every type with each actor kind, tenant-scoped ones included, several per second.
EVENTS = [dict(ev, effective_at=BASE + i // 3) for i, ev in enumerate(corpus(seed=2, effective_at=BASE))]
URL = "https://sim.invalid/v1/organization/audit_logs"


@pytest.fixture(scope="module")
def server():
    with ApiSim(events=EVENTS, seed=1) as sim:
        yield sim


@pytest.fixture
def in_process():
    store = EventStore()
    store.add_events(EVENTS)
    state = SimState(store)
    session = requests.Session()
    session.mount("https://", InProcessApi(state, date_clock=lambda: BASE + 0.7))
    yield session, state
    session.close()


QUERIES = [
    {},
    {"limit": 100},
    {"limit": 7, "effective_at[gte]": BASE + 10, "effective_at[lte]": BASE + 40},
    {"limit": 50, "tenant_only": "true"},
    {"limit": 5, "after": EVENTS[60]["id"]},
    {"limit": 5, "before": EVENTS[60]["id"]},
    {"limit": 0},
    {"limit": 5, "after": "audit_log-nope"},
    {"effective_at[gte]": "soon"},
    {"colour": "blue"},
]


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("key", [DEFAULT_KEY, "sk-admin-" + "x" * 40, None])
def test_same_answer_as_the_server(server, in_process, query, key):
    session, _ = in_process
    headers = {"Authorization": "Bearer " + key} if key else {}
    over_loopback = requests.get(server.base_url + "/organization/audit_logs", params=query, headers=headers,
                                 timeout=10)
    here = session.get(URL, params=query, headers=headers, timeout=10)
    assert here.status_code == over_loopback.status_code
    assert here.json() == over_loopback.json()
    assert here.headers["Content-Type"] == "application/json"
    assert int(here.headers["Content-Length"]) == len(here.content)


def test_counts_requests_and_every_event_served(in_process):
    session, state = in_process
    headers = {"Authorization": "Bearer " + DEFAULT_KEY}
    walked, after = [], None
    while True:
        params = {"limit": 100, **({"after": after} if after else {})}
        body = session.get(URL, params=params, headers=headers, timeout=10).json()
        walked += [e["id"] for e in body["data"]]
        if not body["has_more"]:
            break
        after = body["last_id"]
    session.get(URL, params={"limit": 0}, headers=headers, timeout=10)
    session.get(URL.replace("audit_logs", "projects"), headers=headers, timeout=10)
    non_tenant = [e for e in EVENTS if not e["type"].startswith(("tenant.", "role.bound", "role.unbound"))]
    assert sorted(walked) == sorted(e["id"] for e in non_tenant)
    pages = -(-len(walked) // 100)
    st = state.stats()
    assert st["requests"] == pages + 2
    assert st["by_status"] == {"200": pages, "400": 1, "404": 1}
    assert st["ids_served_total"] == len(walked) and st["ids_served"] == len(walked)


def test_date_header_comes_from_the_injected_clock(in_process):
    session, _ = in_process
    r = session.get(URL, headers={"Authorization": "Bearer " + DEFAULT_KEY}, timeout=10)
    assert email.utils.parsedate_to_datetime(r.headers["Date"]).timestamp() == BASE  # whole seconds, GMT
    assert r.headers["Date"].endswith(" GMT")


def test_visibility_follows_the_store_clock():
    now = [100.0]
    store = EventStore(clock=lambda: now[0])
    store.add_events(EVENTS[:10])
    store.add_events(EVENTS[10:20], visible_after=30)
    session = requests.Session()
    session.mount("https://", InProcessApi(SimState(store)))
    headers = {"Authorization": "Bearer " + DEFAULT_KEY}
    assert len(session.get(URL, params={"limit": 100}, headers=headers, timeout=10).json()["data"]) == 10
    now[0] += 30
    assert len(session.get(URL, params={"limit": 100}, headers=headers, timeout=10).json()["data"]) == 20


def test_the_engine_client_walks_it(in_process):
    from ta_openai_audit.client import AuditLogClient

    _, state = in_process
    client = AuditLogClient("https://sim.invalid/v1", DEFAULT_KEY, rng=random.Random(1))
    client.session.mount("https://", InProcessApi(state))
    try:
        ids = [e["id"] for page in client.pages({"tenant_only": "true"}) for e in page["data"]]
    finally:
        client.close()
    tenant = sorted((e for e in EVENTS if e["type"].startswith(("tenant.", "role.bound", "role.unbound"))),
                    key=lambda e: (e["effective_at"], e["id"]), reverse=True)
    assert ids == [e["id"] for e in tenant] and ids
