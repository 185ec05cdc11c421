"""Injected faults: each kind does what README.md says, at its rate, reproducibly for a seed."""
from __future__ import annotations

import threading
import time

import pytest
import requests

from tools.openai_api_sim import ApiSim, parse_faults
from tools.openai_api_sim.generator import corpus
from tests.tools.api_sim_fixtures import get

EVENTS = corpus(seed=1, effective_at=1_790_000_000)[:120]


@pytest.fixture(scope="module")
def sim():
    with ApiSim(events=EVENTS, seed=4) as s:
        yield s


@pytest.fixture(autouse=True)
def _clear(sim):
    sim.set_faults([])
    sim.reset()
    yield
    sim.set_faults([])


def _chain(exc):
    while exc is not None:
        yield exc
        exc = exc.__cause__ or exc.__context__ or (exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None)


@pytest.mark.parametrize("spec,status,retry_after,json_body", [
    ("429@1", 429, None, True),
    ("429-retry-after@1:7", 429, "7", True),
    ("500@1", 500, None, True),
    ("502@1", 502, None, False),
    ("503@1", 503, None, True),
    ("nonjson@1", 200, None, False),
    ("nonjson@1:504", 504, None, False),
])
def test_status_faults(sim, spec, status, retry_after, json_body):
    sim.set_faults([spec])
    r = get(sim)
    assert r.status_code == status
    assert r.headers.get("Retry-After") == retry_after
    if json_body:
        err = r.json()["error"]
        assert set(err) == {"message", "type", "param", "code"}
        if status == 429:
            assert err["code"] == "rate_limit_exceeded"
    else:
        assert r.headers["Content-Type"].startswith("text/html")
        with pytest.raises(ValueError):
            r.json()
    name = spec.split("@")[0]
    st = sim.stats()
    assert st["faults"] == {name: 1} and st["by_status"] == {str(status): 1}
    assert st["ids_served"] == 0


def test_reset_closes_the_connection_without_a_response(sim):
    sim.set_faults(["reset@1"])
    with pytest.raises(requests.exceptions.ConnectionError) as info:
        get(sim)
    assert any(isinstance(e, ConnectionResetError) for e in _chain(info.value)), repr(info.value)
    assert sim.stats()["faults"] == {"reset": 1} and sim.stats()["by_status"] == {}


def test_truncate_cut_declares_the_full_length_and_closes_early(sim):
    import http.client
    sim.set_faults(["truncate@1"])
    conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=5)
    try:
        conn.request("GET", "/v1/organization/audit_logs",
                     headers={"Authorization": "Bearer " + sim.state.key})
        resp = conn.getresponse()
        assert resp.status == 200
        with pytest.raises(http.client.IncompleteRead):
            resp.read()
    finally:
        conn.close()
    # requests on urllib3 1.26 does not enforce Content-Length: it hands back the short body,
    # so the client only notices when the JSON does not parse (urllib3 2 raises instead).
    try:
        r = get(sim)
    except requests.exceptions.ChunkedEncodingError:
        pass
    else:
        assert r.status_code == 200 and len(r.content) < int(r.headers["Content-Length"])
        with pytest.raises(ValueError):
            r.json()
    assert sim.stats()["ids_served"] == 0  # a client never received those ids


def test_truncate_short_is_a_complete_response_that_is_not_json(sim):
    sim.set_faults(["truncate@1:short"])
    r = get(sim, {"limit": 50})
    assert r.status_code == 200 and int(r.headers["Content-Length"]) == len(r.content)
    assert r.content.startswith(b'{"object":"list"')
    with pytest.raises(ValueError):
        r.json()


def test_slow_and_latency_delay_a_normal_response(sim):
    sim.set_faults(["slow@1:300"])
    t = time.monotonic()
    assert get(sim).status_code == 200
    assert time.monotonic() - t >= 0.3
    sim.set_faults([])
    sim.set_latency(200)
    try:
        t = time.monotonic()
        assert get(sim).status_code == 200
        assert time.monotonic() - t >= 0.2
    finally:
        sim.set_latency(0)


def _statuses(sim, n):
    out = []
    with requests.Session() as s:
        for _ in range(n):
            try:
                out.append(s.get(sim.base_url + "/organization/audit_logs", timeout=5,
                                 headers={"Authorization": "Bearer " + sim.state.key}).status_code)
            except requests.exceptions.ConnectionError:
                out.append("reset")
    return out


def test_rates_are_honoured_and_reproducible_for_a_seed():
    faults = ["500@0.25", "429-retry-after@0.1:1", "reset@0.05"]
    with ApiSim(events=EVENTS, seed=11, faults=faults) as a, \
            ApiSim(events=EVENTS, seed=11, faults=faults) as b, \
            ApiSim(events=EVENTS, seed=12, faults=faults) as c:
        sa, sb, sc = _statuses(a, 200), _statuses(b, 200), _statuses(c, 200)
        assert sa == sb and sa != sc
        assert 25 <= sa.count(500) <= 75 and 5 <= sa.count(429) <= 35 and sa.count("reset") <= 25
        assert sa.count("reset") >= 1
        st = a.stats()
        assert st["requests"] == 200
        assert st["faults"].get("500") == sa.count(500)
        assert st["faults"].get("reset", 0) == sa.count("reset")
        assert st["by_status"]["200"] == sa.count(200)
        # reset() restarts the draws from the seed
        a.reset()
        assert _statuses(a, 200) == sa


@pytest.mark.parametrize("bad", ["teapot@0.1", "500", "500@2", "500@x", "429-retry-after@0.1:-1",
                                 "truncate@0.1:weird", "500@0.1:3", "nonjson@0.1:abc"])
def test_bad_fault_specs_are_refused(bad):
    with pytest.raises(ValueError):
        parse_faults([bad])


def test_rates_may_not_add_up_past_one():
    with pytest.raises(ValueError):
        parse_faults(["500@0.6", "502@0.6"])
    assert [str(f) for f in parse_faults(["slow@0.5", "429-retry-after@0.2", "truncate@0.1"])] == [
        "slow@0.5:1000", "429-retry-after@0.2:1", "truncate@0.1:cut"]


def _concurrent_gets(sim, n):
    """n list requests sent at once, each on its own connection: [(status, Retry-After, body, seconds)]."""
    barrier = threading.Barrier(n)
    out = [None] * n

    def one(i):
        barrier.wait(timeout=10)
        started = time.monotonic()
        r = requests.get(sim.base_url + "/organization/audit_logs", timeout=30,
                         headers={"Authorization": "Bearer " + sim.state.key})
        out[i] = (r.status_code, r.headers.get("Retry-After"), r.json(), time.monotonic() - started)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert all(o is not None for o in out)
    return out


def test_max_concurrent_answers_the_extra_requests_with_429_at_once():
    # Every admitted request is held for 2 s, so all five arrive while two are being served.
    with ApiSim(events=EVENTS, seed=4, latency_ms=2000, max_concurrent=2) as sim:
        answers = _concurrent_gets(sim, 5)
        ok = [a for a in answers if a[0] == 200]
        limited = [a for a in answers if a[0] == 429]
        assert len(ok) == 2 and len(limited) == 3, [a[:2] for a in answers]
        for _, retry_after, body, seconds in limited:
            assert retry_after == "1"
            assert body["error"]["code"] == "rate_limit_exceeded"  # the 429 fault's body
            assert seconds < 1.5  # refused at once, not after the latency
        for _, retry_after, body, seconds in ok:
            assert retry_after is None and len(body["data"]) == 20 and seconds >= 2.0
        st = sim.stats()
        assert st["requests"] == 5 and st["by_status"] == {"200": 2, "429": 3}
        assert st["over_concurrency"] == 3 and st["in_flight_max"] == 2 and st["faults"] == {}
        # the slots are free again once the answers are out
        sim.set_latency(0)
        assert get(sim).status_code == 200


def test_max_concurrent_is_set_and_lifted_over_the_control_surface():
    with ApiSim(events=EVENTS, seed=4, latency_ms=1500) as sim:
        assert {a[0] for a in _concurrent_gets(sim, 3)} == {200}
        r = requests.post(sim.url + "/_sim/max_concurrent", json={"max_concurrent": 1}, timeout=5)
        assert r.status_code == 200 and r.json() == {"max_concurrent": 1}
        assert sorted(a[0] for a in _concurrent_gets(sim, 3)) == [200, 429, 429]
        r = requests.post(sim.url + "/_sim/max_concurrent", json={"max_concurrent": None}, timeout=5)
        assert r.status_code == 200 and r.json() == {"max_concurrent": None}
        assert {a[0] for a in _concurrent_gets(sim, 3)} == {200}
        for bad in (0, -1, "x", True, 1.5):
            r = requests.post(sim.url + "/_sim/max_concurrent", json={"max_concurrent": bad}, timeout=5)
            assert r.status_code == 400, bad
        assert sim.stats()["max_concurrent"] is None


@pytest.mark.parametrize("bad", [0, -3, "two", True])
def test_bad_max_concurrent_is_refused(bad):
    with pytest.raises(ValueError):
        ApiSim(events=EVENTS, max_concurrent=bad)
