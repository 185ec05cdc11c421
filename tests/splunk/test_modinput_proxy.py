"""The proxy tab reaches the collector: with the proxy enabled, every API request of the built
modular input goes through it, with the user name and the password UCC keeps encrypted."""
from __future__ import annotations

import base64
import random
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tools.openai_api_sim import DEFAULT_KEY, ApiSim
from tools.openai_api_sim.generator import EVENT_TYPES, make_event

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authorization", "proxy-connection", "te", "trailer",
              "transfer-encoding", "upgrade", "host"}


class ForwardProxy:
    """A minimal HTTP forward proxy on 127.0.0.1 that records what it relays."""

    def __init__(self):
        self.seen = []
        proxy = self
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 30

            def do_GET(self):  # noqa: N802
                proxy.seen.append((self.path, self.headers.get("Proxy-Authorization")))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                try:
                    with direct.open(urllib.request.Request(self.path, headers=headers), timeout=20) as resp:
                        status, body, ctype = resp.status, resp.read(), resp.headers.get("Content-Type")
                except urllib.error.HTTPError as err:
                    status, body, ctype = err.code, err.read(), err.headers.get("Content-Type")
                self.send_response(status)
                self.send_header("Content-Type", ctype or "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def forward_proxy():
    with ForwardProxy() as proxy:
        yield proxy


def test_requests_go_through_the_configured_proxy(harness, forward_proxy):
    rng = random.Random(12)
    now = int(time.time())
    events = [make_event(rng.choice(EVENT_TYPES), rng=rng, effective_at=now - rng.randint(60, 86400)) for _ in range(150)]
    password = "pr0xy pass/with@odd:chars"
    with ApiSim(events=events, seed=12) as api:
        harness.splunkd.add_account("main", DEFAULT_KEY, base_url=api.base_url)
        harness.splunkd.set_proxy(proxy_enabled="1", proxy_type="http", proxy_url="127.0.0.1",
                                  proxy_port=str(forward_proxy.server.server_address[1]),
                                  proxy_username="svc", proxy_password=password, proxy_rdns="0")
        run = harness.run_input({"main": {"account": "main", "index": "openai", "interval": "60", "start": "2",
                                          "tenant_scoped": "1", "lag_seconds": "0", "overlap_seconds": "900"}})
        assert run.returncode == 0, run.stderr
        assert len(run.events) == len(events)
        assert len(forward_proxy.seen) == api.stats()["requests"] > 0
        expected = "Basic " + base64.b64encode(("svc:" + password).encode()).decode()
        assert {auth for _path, auth in forward_proxy.seen} == {expected}
        assert all(path.startswith(api.base_url + "/organization/audit_logs?") for path, _auth in forward_proxy.seen)
        assert password not in harness.everything_written()
