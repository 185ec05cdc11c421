"""python -m ta_openai_audit check|collect, run as an admin would: a separate process against the
API stand-in."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ta_openai_audit.checkpoint import CHECKPOINT_VERSION
from tools.openai_api_sim import DEFAULT_KEY, NO_PERMISSION_KEY, ApiSim

REPO = Path(__file__).resolve().parents[2]
SUMMARY_RE = r"^events=(\d+) requests=(\d+) pages=(\d+) skipped_duplicates=(\d+)$"


def cli_env(key=DEFAULT_KEY):
    env = dict(os.environ)
    paths = [str(REPO / "package" / "bin")] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.pop("OPENAI_ADMIN_KEY", None)
    if key is not None:
        env["OPENAI_ADMIN_KEY"] = key
    return env


def run_cli(args, key=DEFAULT_KEY, timeout=60):
    return subprocess.run([sys.executable, "-m", "ta_openai_audit"] + args, env=cli_env(key), cwd=str(REPO),
                          capture_output=True, text=True, timeout=timeout)


def summary_of(stdout):
    lines = [l for l in stdout.splitlines() if re.match(SUMMARY_RE, l)]
    assert lines, stdout
    return [dict(zip(("events", "requests", "pages", "skipped_duplicates"), map(int, re.match(SUMMARY_RE, l).groups())))
            for l in lines]


def lagged():
    """What the CLI's default 60 s lag lets a run see now."""
    return {"effective_at[lte]": int(time.time()) - 60}


@pytest.fixture(scope="module")
def sim():
    with ApiSim(scenario="steady", seed=11, scenario_params={"events": 600}) as server:
        yield server


def test_check_ok(sim):
    result = run_cli(["check", "--base-url", sim.base_url])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [l.split(":")[0] for l in lines] == ["connectivity", "authentication", "permission", "clock skew"]
    assert all(": ok" in l for l in lines)


def test_check_wrong_key(sim):
    result = run_cli(["check", "--base-url", sim.base_url], key="sk-admin-" + "n" * 60)
    assert result.returncode == 1
    assert "authentication: FAILED (authentication failed (HTTP 401)" in result.stdout
    assert "permission: not checked" in result.stdout and "clock skew: ok" in result.stdout


def test_check_without_permission(sim):
    result = run_cli(["check", "--base-url", sim.base_url], key=NO_PERMISSION_KEY)
    assert result.returncode == 1
    assert "authentication: ok" in result.stdout
    assert "permission: FAILED (permission denied (HTTP 403)" in result.stdout


def test_check_nothing_listening():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = run_cli(["check", "--base-url", "http://127.0.0.1:%d/v1" % port])
    assert result.returncode == 1
    assert result.stdout.startswith("connectivity: FAILED (connection:")
    assert "authentication: not checked" in result.stdout


def test_key_must_be_set(sim, tmp_path):
    result = run_cli(["check", "--base-url", sim.base_url], key=None)
    assert result.returncode == 2 and "OPENAI_ADMIN_KEY" in result.stderr


def test_bad_settings_are_usage_errors(sim, tmp_path):
    result = run_cli(["collect", "--base-url", sim.base_url, "--state-file", str(tmp_path / "s"), "--output",
                      str(tmp_path / "o"), "--once", "--start", "last tuesday"])
    assert result.returncode == 2 and "start: 'last tuesday' is not a date" in result.stderr
    result = run_cli(["check", "--base-url", "http://example.com/v1"])
    assert result.returncode == 2 and "plain http" in result.stderr


def test_collect_once_end_to_end_then_again(sim, tmp_path, every_id):
    state, output = tmp_path / "state.json", tmp_path / "events.jsonl"
    args = ["collect", "--base-url", sim.base_url, "--state-file", str(state), "--output", str(output),
            "--once", "--tenant-scoped"]
    result = run_cli(args)
    assert result.returncode == 0, result.stderr
    first = summary_of(result.stdout)[0]
    events = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    ids = [e["id"] for e in events]
    assert len(ids) == len(set(ids)) == first["events"]
    assert set(ids) == set(every_id(sim, False, **lagged()) + every_id(sim, True, **lagged()))
    assert first["pages"] >= 2 and first["requests"] >= first["pages"]
    records = json.loads(state.read_text())
    assert set(records) == {"cli", "cli:tenant"} and records["cli"]["version"] == CHECKPOINT_VERSION
    # One compact JSON object per line, exactly as received.
    assert output.read_text(encoding="utf-8").splitlines()[0] == json.dumps(events[0], separators=(",", ":"),
                                                                              ensure_ascii=False)
    time.sleep(1.05)
    again = run_cli(args)
    assert again.returncode == 0
    second = summary_of(again.stdout)[0]
    assert second["events"] == 0 and second["requests"] >= 2  # both streams looked again
    assert len(output.read_text().splitlines()) == len(ids)


def test_collect_filters(sim, tmp_path):
    output = tmp_path / "o.jsonl"
    result = run_cli(["collect", "--base-url", sim.base_url, "--state-file", str(tmp_path / "s.json"), "--output",
                      str(output), "--once", "--tenant-scoped", "--event-types", "login.failed,tenant.user.added",
                      "--lag", "0", "--overlap", "60", "--start", "3"])
    assert result.returncode == 0, result.stderr
    types = {json.loads(l)["type"] for l in output.read_text().splitlines()}
    assert types == {"login.failed", "tenant.user.added"}


def test_collect_error_exit_code_and_summary(sim, tmp_path):
    result = run_cli(["collect", "--base-url", sim.base_url, "--state-file", str(tmp_path / "s.json"), "--output",
                      str(tmp_path / "o.jsonl"), "--once"], key=NO_PERMISSION_KEY)
    assert result.returncode == 1
    assert "error: permission:" in result.stderr
    assert summary_of(result.stdout)[0]["events"] == 0


def test_collect_repairs_a_cut_last_line(sim, tmp_path):
    output = tmp_path / "o.jsonl"
    output.write_text('{"id":"audit_log-cut","ty')
    result = run_cli(["collect", "--base-url", sim.base_url, "--state-file", str(tmp_path / "s.json"), "--output",
                      str(output), "--once", "--start", "1"])
    assert result.returncode == 0
    lines = output.read_text().splitlines()
    assert lines[0] == '{"id":"audit_log-cut","ty'
    assert all(json.loads(l)["id"] for l in lines[1:]) and len(lines) > 1


def test_collect_loop_stops_cleanly_on_sigterm(tmp_path):
    with ApiSim(scenario="steady", seed=3, scenario_params={"events": 300}, latency_ms=20) as server:
        state, output = tmp_path / "state.json", tmp_path / "o.jsonl"
        proc = subprocess.Popen(
            [sys.executable, "-m", "ta_openai_audit", "collect", "--base-url", server.base_url, "--state-file",
             str(state), "--output", str(output), "--interval", "1", "--lag", "0"],
            env=cli_env(), cwd=str(REPO), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.time() + 20
            while time.time() < deadline and not (state.exists() and json.loads(state.read_text())["cli"]["high_water"]):
                time.sleep(0.1)
            time.sleep(1.5)  # at least one more poll
            proc.send_signal(signal.SIGTERM)
            stdout, stderr = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 0, stderr
        assert "stopped; the checkpoint is consistent" in stderr
        polls = summary_of(stdout)
        assert len(polls) >= 2
        ids = [json.loads(l)["id"] for l in output.read_text().splitlines()]
        assert len(ids) == len(set(ids)) == sum(p["events"] for p in polls)
        record = json.loads(state.read_text())["cli"]
        assert record["walk"] is None or any(s["oldest"] is not None for s in record["walk"]["slices"])


def test_collect_to_stdout(sim, tmp_path):
    result = run_cli(["collect", "--base-url", sim.base_url, "--state-file", str(tmp_path / "s.json"), "--output",
                      "/dev/stdout", "--once", "--start", "1"])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    events = [json.loads(l) for l in lines[:-1]]
    assert summary_of(lines[-1])[0]["events"] == len(events) > 0


def test_collect_killed_mid_walk_resends_at_most_one_page(tmp_path, every_id):
    with ApiSim(scenario="steady", seed=8, scenario_params={"events": 1500}, latency_ms=15) as server:
        state, output = tmp_path / "state.json", tmp_path / "o.jsonl"
        args = [sys.executable, "-m", "ta_openai_audit", "collect", "--base-url", server.base_url, "--state-file",
                str(state), "--output", str(output), "--once"]
        proc = subprocess.Popen(args, env=cli_env(), cwd=str(REPO), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.time() + 20
            while time.time() < deadline:
                try:
                    walk = json.loads(state.read_text())["cli"]["walk"]
                except (OSError, ValueError, KeyError):
                    walk = None
                if walk and any(s["oldest"] is not None for s in walk["slices"]):
                    break
                time.sleep(0.02)
            proc.kill()  # SIGKILL: no handler, no flush, no cleanup
            proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert walk and any(s["oldest"] is not None for s in walk["slices"]), "the walk never got going"
        result = run_cli(["collect", "--base-url", server.base_url, "--state-file", str(state), "--output",
                          str(output), "--once"])
        assert result.returncode == 0, result.stderr
        ids = []
        for line in output.read_text().splitlines():
            try:
                ids.append(json.loads(line)["id"])
            except ValueError:
                pass  # a line cut by the kill; its event was sent again
        # both streams: tenant-scoped events are collected by default
        assert set(ids) == set(every_id(server, False, **lagged())) | set(every_id(server, True, **lagged()))
        assert len(ids) - len(set(ids)) <= 100


def test_check_reports_clock_skew(monkeypatch, capsys):
    from ta_openai_audit import __main__ as cli
    from ta_openai_audit.client import AuditLogClient, ProbeResult

    now = time.time()
    monkeypatch.setenv("OPENAI_ADMIN_KEY", DEFAULT_KEY)
    monkeypatch.setattr(AuditLogClient, "probe", lambda self: ProbeResult(200, float(int(now - 95)), now, 0.1, 1))
    assert cli.main(["check", "--base-url", "https://api.openai.com/v1"]) == 1
    out = capsys.readouterr().out
    assert re.search(r"^clock skew: FAILED \(local clock 9[456]s ahead of the server's", out, re.M)
    assert "connectivity: ok" in out
    monkeypatch.setattr(AuditLogClient, "probe", lambda self: ProbeResult(200, float(int(now + 3)), now, 0.1, 1))
    assert cli.main(["check", "--base-url", "https://api.openai.com/v1"]) == 0
    assert re.search(r"^clock skew: ok \(local clock [23]\.\ds behind the server's\)", capsys.readouterr().out, re.M)
