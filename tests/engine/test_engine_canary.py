"""A planted canary key (and proxy password) never shows up in a log record, an emitted event, an
exception's message/repr/traceback, a checkpoint, a summary or the command line's output, even when
the server or the network stack echoes it back."""
from __future__ import annotations

import io
import json
import logging
import os
import socket
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
import requests

from ta_openai_audit.checkpoint import FileCheckpointStore, MemoryCheckpointStore
from ta_openai_audit.client import AuditLogClient
from ta_openai_audit.collector import Collector
from ta_openai_audit.errors import CollectorError
from ta_openai_audit.settings import InputSettings
from tools.openai_api_sim import ApiSim

CANARY = "sk-admin-" + "CanaryZ9x8w7v6u5t4s3r2q1p0oNnMmLlKkJjIiHhGgFfEeDdCcBbAa"
PROXY_PASSWORD = "CanaryProxyPw-7f3e9a"
REPO = Path(__file__).resolve().parents[2]


def leaks(text: str) -> bool:
    secret = CANARY[len("sk-admin-"):]
    pieces = [secret[i:i + 12] for i in range(0, len(secret) - 12)]
    return any(p in text for p in pieces) or PROXY_PASSWORD in text


def exception_texts(exc: BaseException):
    return [str(exc), repr(exc), "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))]


@pytest.fixture
def all_logs(caplog):
    caplog.set_level(logging.DEBUG)  # every logger, urllib3 included
    return caplog


def echo(status, where="body"):
    """A server that echoes the Authorization header back: in the error message, a header or the
    Location of a redirect."""

    def action(request):
        auth = request.headers.get("Authorization", "")
        resp = requests.Response()
        resp.status_code, resp.request, resp.url = status, request, request.url
        message = "Invalid header: Authorization: %s (key %s)" % (auth, auth[7:])
        resp.raw = io.BytesIO(json.dumps({"error": {"message": message}}).encode())
        if where == "location":
            resp.headers["Location"] = "https://login.example/?token=" + auth[7:]
        return resp

    return action


def raise_with_key(exc_type):
    def action(request):
        raise exc_type("failed sending %s with Authorization: %s" % (request.url, request.headers["Authorization"]))

    return action


@pytest.mark.parametrize(
    "fault",
    [echo(401), echo(403), echo(400), echo(404), echo(500), echo(429), echo(302, "location"),
     raise_with_key(requests.exceptions.ConnectionError), raise_with_key(requests.exceptions.SSLError),
     raise_with_key(requests.exceptions.ProxyError), raise_with_key(requests.exceptions.ReadTimeout),
     raise_with_key(requests.exceptions.InvalidSchema)],
)
def test_canary_never_leaks_from_the_engine(eng, all_logs, fault):
    api = eng.FakeApi([eng.make_event(i, eng.NOW - 100 - i) for i in range(150)], key=CANARY)
    api.script = [None] + [fault] * 50
    clock = eng.FakeClock()
    client = eng.make_client(api, clock, key=CANARY, time_budget=5,
                             proxy_url="http://svc:%s@proxy.corp:3128" % PROXY_PASSWORD)
    store = MemoryCheckpointStore()
    sink = eng.ListSink()
    collector = Collector(client, store, "openai_audit_logs://canary", eng.make_settings(tenant_scoped="1"),
                          clock=clock)
    summary = collector.run(sink)
    assert summary.errors and all(isinstance(e, CollectorError) for e in summary.errors)
    texts = [t for error in summary.errors for t in exception_texts(error)]
    texts += [json.dumps(store.records), json.dumps(summary.as_dict()), repr(client), repr(collector)]
    emitted = sink.raws
    texts += emitted
    texts += [r.getMessage() for r in all_logs.records] + [all_logs.text]
    assert not [t for t in texts if leaks(t)]
    assert len(emitted) == 100  # the run got somewhere before the fault


def test_canary_never_leaks_through_a_real_socket_path(all_logs):
    # A proxy that refuses connections: urllib3 and requests build their own messages.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = AuditLogClient("https://api.openai.com/v1", CANARY, time_budget=0.5, sleep=lambda s: None,
                            proxy_url="http://svc:%s@127.0.0.1:%d" % (PROXY_PASSWORD, port))
    with pytest.raises(CollectorError) as info:
        list(client.pages({}))
    texts = exception_texts(info.value) + [all_logs.text]
    assert "proxy" in str(info.value).lower()
    assert not [t for t in texts if leaks(t)]


def cli(args, sim_url, tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "package" / "bin")] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env["OPENAI_ADMIN_KEY"] = CANARY
    return subprocess.run([sys.executable, "-m", "ta_openai_audit", "--log-level", "DEBUG"] + args + ["--base-url", sim_url],
                          env=env, cwd=str(REPO), capture_output=True, text=True, timeout=60)


def test_canary_never_leaks_from_the_command_line(tmp_path):
    state, output = tmp_path / "state.json", tmp_path / "o.jsonl"
    collect = ["collect", "--state-file", str(state), "--output", str(output), "--once", "--tenant-scoped"]
    texts = []
    with ApiSim(scenario="steady", seed=2, scenario_params={"events": 300}, key=CANARY,
                faults=["429@0.1", "500@0.1", "reset@0.05", "truncate@0.05"]) as sim:
        for args in (["check"], collect):
            result = cli(args, sim.base_url, tmp_path)
            assert result.returncode == 0, result.stderr
            texts += [result.stdout, result.stderr]
    # A server that no longer accepts the key: 401 (it echoes a masked key, as OpenAI does).
    # A fresh state file: with the first one, a rerun within the same second has nothing new to
    # ask for, makes no request and so never meets the 401.
    collect_again = ["collect", "--state-file", str(tmp_path / "state2.json"), "--output", str(output),
                     "--once", "--tenant-scoped"]
    with ApiSim(scenario="steady", seed=2, scenario_params={"events": 10}) as other:
        for args in (["check"], collect_again):
            result = cli(args, other.base_url, tmp_path)
            assert result.returncode == 1
            texts += [result.stdout, result.stderr]
    texts += [state.read_text(), output.read_text()]
    assert "DEBUG" in texts[3]  # the debug log was really on
    assert not [t for t in texts if leaks(t)]


def test_settings_and_file_store_hold_no_key(tmp_path):
    settings = InputSettings.from_stanza({"account": "prod", "api_key": CANARY})
    assert not leaks(repr(settings)) and not leaks(json.dumps(settings.as_dict()))
    store = FileCheckpointStore(str(tmp_path / "s.json"))
    store.update("k", {"x": 1})
    assert not leaks((tmp_path / "s.json").read_text())
