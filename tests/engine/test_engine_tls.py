"""TLS verification is always on: the API stand-in served over TLS with a certificate from a
test-only CA (tests/engine/tls/, valid until 2126) fails without the account's CA bundle and works
with it."""
from __future__ import annotations

import os
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ta_openai_audit.checkpoint import MemoryCheckpointStore
from ta_openai_audit.client import AuditLogClient
from ta_openai_audit.collector import Collector
from ta_openai_audit.errors import TLSVerificationError
from ta_openai_audit.settings import InputSettings
from tools.openai_api_sim import DEFAULT_KEY, ApiSim
from tools.openai_api_sim.server import SimHTTPServer

TLS = Path(__file__).resolve().parent / "tls"
CA = str(TLS / "test-ca.pem")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def https_base_url():
    sim = ApiSim(scenario="steady", seed=6, scenario_params={"events": 150})  # state only, not started
    server = SimHTTPServer(sim.state, 0)
    server.handle_error = lambda request, address: None  # refused handshakes are the point here
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(TLS / "loopback.pem"), str(TLS / "loopback.key"))
    # Handshake in the handler thread (first read), so a bad client cannot stall the accept loop.
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield "https://127.0.0.1:%d/v1" % server.server_address[1]
    finally:
        server.shutdown()
        server.close_connections()
        server.server_close()
        thread.join(timeout=10)


def test_unknown_ca_is_refused_and_not_retried(https_base_url):
    client = AuditLogClient(https_base_url, DEFAULT_KEY, sleep=lambda s: None)
    with pytest.raises(TLSVerificationError) as info:
        list(client.pages({}))
    assert client.requests_made == 1
    assert "certificate verification failed" in str(info.value) and "CA bundle" in str(info.value)
    assert info.value.category == "connection"


def test_environment_ca_bundle_is_not_used(https_base_url, monkeypatch):
    # Only the account's CA bundle counts (the session ignores REQUESTS_CA_BUNDLE and friends).
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", CA)
    monkeypatch.setenv("CURL_CA_BUNDLE", CA)
    with pytest.raises(TLSVerificationError):
        AuditLogClient(https_base_url, DEFAULT_KEY).probe()


def test_account_ca_bundle_makes_it_work(https_base_url, eng):
    client = AuditLogClient(https_base_url, DEFAULT_KEY, ca_bundle=CA)
    settings = InputSettings.from_stanza({"start": "7", "lag_seconds": "0"})
    sink = eng.ListSink()
    assert Collector(client, MemoryCheckpointStore(), "k", settings).run(sink).errors == []
    assert len(sink.ids) > 100 and len(sink.ids) == len(set(sink.ids))


def test_check_command_over_tls(https_base_url):
    env = dict(os.environ, OPENAI_ADMIN_KEY=DEFAULT_KEY)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "package" / "bin")] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    command = [sys.executable, "-m", "ta_openai_audit", "check", "--base-url", https_base_url]
    failed = subprocess.run(command, env=env, cwd=str(REPO), capture_output=True, text=True, timeout=60)
    assert failed.returncode == 1
    assert failed.stdout.startswith("connectivity: FAILED (connection: TLS certificate verification failed")
    ok = subprocess.run(command + ["--ca-bundle", CA], env=env, cwd=str(REPO), capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stdout + ok.stderr
