"""Control surface (in process and over HTTP), late arrival, scenarios served, CLI, lifecycle."""
from __future__ import annotations

import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests

from tools.openai_api_sim import ApiSim, DEFAULT_KEY
from tools.openai_api_sim.generator import make_event
from tests.tools.api_sim_fixtures import REPO_ROOT, get, order_key, page, walk

T0 = 1_790_000_000


def _ev(seed, eff, etype="login.succeeded"):
    return make_event(etype, seed=seed, effective_at=eff, project=None)


def test_late_events_stay_invisible_until_their_delay_passes():
    with ApiSim(events=[_ev(i, T0 - 100 + i) for i in range(10)], anchor=T0) as sim:
        late = [_ev(100 + i, T0 - 95 + i) for i in range(3)]  # effective_at in the past
        sim.add_events(late, visible_after=0.6)
        first = walk(sim)
        assert len(first) == 10 and not {e["id"] for e in late} & {e["id"] for e in first}
        # a window that already covers their time does not show them either
        assert len(page(sim, {"effective_at[gte]": T0 - 95, "limit": 100})["data"]) == 5
        time.sleep(0.7)
        second = walk(sim)
        assert len(second) == 13 and {e["id"] for e in late} <= {e["id"] for e in second}
        assert second == sorted(second, key=order_key, reverse=True)


def test_late_arrivals_scenario():
    with ApiSim(scenario="late-arrivals", seed=3, anchor=T0,
                scenario_params={"visible_after": 0.8, "count": 12}) as sim:
        before = {e["id"] for e in walk(sim)} | {e["id"] for e in walk(sim, {"tenant_only": "true"})}
        time.sleep(0.9)
        after_all = walk(sim) + walk(sim, {"tenant_only": "true"})
        new = [e for e in after_all if e["id"] not in before]
        assert len(new) == 12
        newest_seen = max(e["effective_at"] for e in after_all if e["id"] in before)
        assert all(T0 - 600 <= e["effective_at"] <= T0 - 120 < newest_seen for e in new)


def test_control_surface_over_http():
    with ApiSim(events=[_ev(i, T0 - i) for i in range(30)], seed=2) as sim:
        c = requests.Session()
        walk(sim)
        walk(sim)
        st = c.get(sim.url + "/_sim/stats", timeout=5).json()
        assert st["requests"] == 2 and st["by_status"] == {"200": 2}
        assert sim.stats()["by_status"][200] == sim.stats()["by_status"]["200"] == 2
        assert st["ids_served"] == 30 and st["ids_served_total"] == 60
        served = c.get(sim.url + "/_sim/served_ids", timeout=5).json()["ids"]
        assert set(served) == sim.served_ids() and len(served) == 30
        # add events, one of them late
        r = c.post(sim.url + "/_sim/events", json={"events": [_ev(500, T0 + 5)]}, timeout=5)
        assert r.json() == {"added": 1}
        r = c.post(sim.url + "/_sim/events", json={"events": [_ev(501, T0 + 6)], "visible_after": 30},
                   timeout=5)
        assert r.json() == {"added": 1}
        assert len(walk(sim)) == 31
        # bad input: clear 400, nothing added
        r = c.post(sim.url + "/_sim/events", json={"events": [{"id": 5}]}, timeout=5)
        assert r.status_code == 400 and r.json()["error"]["message"]
        r = c.post(sim.url + "/_sim/events", data="not json", timeout=5)
        assert r.status_code == 400
        assert len(sim.store) == 32
        # faults and latency
        r = c.post(sim.url + "/_sim/faults", json={"faults": ["503@1"]}, timeout=5)
        assert r.json() == {"faults": ["503@1"]}
        assert get(sim).status_code == 503
        assert c.post(sim.url + "/_sim/faults", json={"faults": ["nope@1"]}, timeout=5).status_code == 400
        c.post(sim.url + "/_sim/faults", json={"faults": []}, timeout=5)
        c.post(sim.url + "/_sim/latency", json={"latency_ms": 250}, timeout=5)
        t = time.monotonic()
        assert get(sim).status_code == 200 and time.monotonic() - t >= 0.25
        c.post(sim.url + "/_sim/latency", json={"latency_ms": 0}, timeout=5)
        # reset clears counters, keeps events
        assert c.post(sim.url + "/_sim/reset", timeout=5).json() == {"reset": True}
        st = c.get(sim.url + "/_sim/stats", timeout=5).json()
        assert st["requests"] == 0 and st["ids_served"] == 0 and st["faults"] == {}
        assert st["events"] == 32
        assert c.get(sim.url + "/_sim/nothing", timeout=5).status_code == 404


def test_same_second_scenario_pages_split_the_second_without_loss():
    with ApiSim(scenario="same-second", seed=5, anchor=T0) as sim:
        for limit in (20, 100):
            got = walk(sim, limit=limit) + walk(sim, {"tenant_only": "true"}, limit=limit)
            assert len({e["id"] for e in got}) == len(got) == len(sim.store)
            in_second = [e for e in got if e["effective_at"] == T0 - 3600]
            assert len(in_second) == 450
        p1 = page(sim, {"effective_at[lte]": T0 - 3600, "limit": 100})
        p2 = page(sim, {"effective_at[lte]": T0 - 3600, "limit": 100, "after": p1["last_id"]})
        assert {e["effective_at"] for e in p1["data"] + p2["data"]} == {T0 - 3600}
        assert p1["data"][-1]["id"] > p2["data"][0]["id"]


def test_backfill_is_lazy_and_pages_like_a_list():
    with ApiSim(scenario="backfill", seed=8, anchor=T0,
                scenario_params={"n": 3000, "span_seconds": 600}) as sim:
        assert len(sim.store.added) == 0 and len(sim.store) == 3000
        got = walk(sim)
        assert len({e["id"] for e in got}) == 3000
        keys = [order_key(e) for e in got]
        assert keys == sorted(keys, reverse=True) and keys[0][0] == T0 - 1 and keys[-1][0] >= T0 - 600
        # before=<id> and after=<id> on computed events
        body = page(sim, {"before": got[1500]["id"], "limit": 100})
        assert [e["id"] for e in body["data"]] == [e["id"] for e in got[1400:1500]]
        body = page(sim, {"after": got[1500]["id"], "limit": 3})
        assert [e["id"] for e in body["data"]] == [e["id"] for e in got[1501:1504]]
        # events added at run time merge into the same order
        extra = [_ev(900 + i, T0 - 300) for i in range(5)]
        sim.add_events(extra)
        merged = walk(sim, {"effective_at[gte]": T0 - 301, "effective_at[lte]": T0 - 299})
        assert {e["id"] for e in extra} <= {e["id"] for e in merged}
        assert merged == sorted(merged, key=order_key, reverse=True)
        # type filters are decided before an event is built, and a source without tenant
        # types is not scanned for tenant_only=true
        failed = walk(sim, {"event_types[]": "login.failed"})
        assert [e["id"] for e in failed] == [e["id"] for e in got if e["type"] == "login.failed"]
        assert failed and page(sim, {"tenant_only": "true"})["data"] == []
        # a well-formed id that is not in the backfill is not a cursor
        fake = got[0]["id"][:-1] + ("A" if got[0]["id"][-1] != "A" else "B")
        assert get(sim, {"after": fake}).status_code == 400


def test_attack_story_is_served_in_both_streams():
    with ApiSim(scenario="attack-story", seed=1, anchor=T0) as sim:
        main = walk(sim)
        tenant = walk(sim, {"tenant_only": "true"})
        assert len(main) + len(tenant) == len(sim.store)
        judy = walk(sim, {"actor_emails[]": "judy.smith@example.com",
                          "effective_at[gte]": T0 - 6 * 3600})
        types = {e["type"] for e in judy}
        assert {"scim.disabled", "ip_allowlist.deleted", "organization.updated",
                "project.deleted", "login.failed"} <= types
        assert all(e["actor"]["session"]["ip_address"].startswith("185.220.101.")
                   for e in judy if e["type"] == "scim.disabled")


def test_stop_returns_promptly_with_an_idle_keep_alive_connection():
    sim = ApiSim(events=[_ev(1, T0)]).start()
    port = sim.port
    s = requests.Session()
    assert s.get(sim.base_url + "/organization/audit_logs", timeout=5,
                 headers={"Authorization": "Bearer " + DEFAULT_KEY}).status_code == 200
    t = time.monotonic()
    sim.stop()
    assert time.monotonic() - t < 3
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    s.close()


def _interpreters():
    found = [sys.executable]
    home = pathlib.Path.home() / ".pyenv/versions"
    for pattern in ("3.9*", "3.13*"):
        for d in sorted(home.glob(pattern))[:1]:
            exe = d / "bin" / ("python" + pattern[:-1] if pattern != "3.9*" else "python3.9")
            if not exe.exists():
                exe = d / "bin" / "python3"
            if exe.exists():
                found.append(str(exe))
    return found


@pytest.mark.parametrize("python", _interpreters())
def test_cli_prints_its_port_serves_and_stops_on_sigterm(python):
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.Popen(
        [python, "-m", "tools.openai_api_sim", "--port", "0", "--scenario", "same-second",
         "--seed", "3", "--fault", "500@0.5", "--key", "sk-admin-cli-test", "--param", "count=120"],
        cwd=str(REPO_ROOT), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        m = re.match(r"^listening on (http://127\.0\.0\.1:(\d+)/v1)$", line.strip())
        assert m, line
        url = m.group(1) + "/organization/audit_logs"
        codes = [requests.get(url, headers={"Authorization": "Bearer sk-admin-cli-test"},
                              timeout=5).status_code for _ in range(20)]
        assert set(codes) == {200, 500}
        stats = requests.get(m.group(1)[:-3] + "/_sim/stats", timeout=5).json()
        assert stats["requests"] == 20 and stats["events"] == 320
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        proc.stdout.close()
        proc.stderr.close()


def test_cli_refuses_a_bad_fault_spec_clearly():
    r = subprocess.run([sys.executable, "-m", "tools.openai_api_sim", "--fault", "500@7"],
                       cwd=str(REPO_ROOT), env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "rate must be between 0 and 1" in r.stderr


def test_cli_refuses_a_max_concurrent_below_one():
    r = subprocess.run([sys.executable, "-m", "tools.openai_api_sim", "--max-concurrent", "0"],
                       cwd=str(REPO_ROOT), env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "max_concurrent must be >= 1" in r.stderr
