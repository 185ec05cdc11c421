"""Harness for the Splunk-side tests: the BUILT add-on run the way splunkd runs it.

- The app is the one ``make package`` builds (env TA_BUILD_DIR, default output/TA-openai-audit);
  a temporary $SPLUNK_HOME holds it at etc/apps/TA-openai-audit (a symlink), and var/log/splunk
  where solnlib writes the add-on's log files.
- The modular input runs as a process: python <app>/bin/openai_audit_logs.py, the input XML
  (server_uri of the splunkd stand-in, session key, checkpoint_dir, the stanza) on stdin, the
  event stream read back from stdout.
- A REST handler script runs as a process too, with the stand-in for Splunk's private
  ``splunk.admin`` on PYTHONPATH (tools/splunkd_sim/splunk_stub) and SPLUNKD_URI set.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from typing import Any, Dict, List, Optional
from xml.sax.saxutils import escape, quoteattr

import pytest

from tools.splunkd_sim import SplunkdSim

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
APP = "TA-openai-audit"
INPUT_KIND = "openai_audit_logs"
STUB = os.path.join(REPO, "tools", "splunkd_sim", "splunk_stub")
RUN_TIMEOUT = 120


def built_app_dir() -> str:
    path = os.environ.get("TA_BUILD_DIR") or os.path.join(REPO, "output", APP)
    return os.path.abspath(path)


@pytest.fixture(scope="session")
def built_app() -> str:
    app = built_app_dir()
    script = os.path.join(app, "bin", "openai_audit_logs.py")
    if not os.path.isfile(script):
        pytest.fail("the built add-on is not at %s: run make package first" % app)
    with open(script, encoding="utf-8") as fh:
        if "openai_audit_logs_helper" not in fh.read():
            pytest.fail("%s does not call openai_audit_logs_helper: globalConfig.json must set "
                        '"inputHelperModule": "openai_audit_logs_helper" on the input, then make package' % script)
    return app


class Run:
    """What one modular input process did."""

    def __init__(self, returncode: int, stdout: str, stderr: str, seconds: float):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.seconds = seconds
        self.events = parse_stream(stdout)


def parse_stream(stdout: str) -> List[Dict[str, Any]]:
    """The <stream><event ...>...</event></stream> document a modular input writes."""
    if not stdout.strip():
        return []
    root = ET.fromstring(stdout)
    assert root.tag == "stream", stdout[:200]
    events = []
    for node in root.findall("event"):
        event = {"stanza": node.get("stanza"), "unbroken": node.get("unbroken")}
        for child in node:
            event[child.tag] = child.text
        events.append(event)
    return events


class Harness:
    def __init__(self, app: str, home: str, splunkd: SplunkdSim):
        self.app = app
        self.home = home
        self.splunkd = splunkd
        self.bin = os.path.join(home, "etc", "apps", APP, "bin")
        self.log_dir = os.path.join(home, "var", "log", "splunk")
        self.checkpoint_dir = os.path.join(home, "var", "lib", "splunk", "modinputs", INPUT_KIND)
        self.runs: List[Run] = []
        self._last_end = 0.0

    def env(self, **extra: str) -> Dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "SPLUNK_HOME": self.home,
            "LANG": "C.UTF-8",
            # Keep the build output free of __pycache__ (it is what gets packaged).
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        env.update(extra)
        return env

    def input_xml(self, stanzas: Dict[str, Dict[str, Any]]) -> str:
        confs = []
        for name, params in stanzas.items():
            ps = "".join("<param name=%s>%s</param>" % (quoteattr(k), escape(str(v))) for k, v in params.items())
            confs.append("<stanza name=%s app=%s>%s</stanza>" % (quoteattr("%s://%s" % (INPUT_KIND, name)),
                                                                 quoteattr(APP), ps))
        return (
            "<input><server_host>splunk-sim</server_host><server_uri>%s</server_uri>"
            "<session_key>%s</session_key><checkpoint_dir>%s</checkpoint_dir>"
            "<configuration>%s</configuration></input>"
            % (escape(self.splunkd.uri), escape(self.splunkd.session_key), escape(self.checkpoint_dir), "".join(confs))
        )

    def run_input(self, stanzas: Dict[str, Dict[str, Any]], python: Optional[str] = None,
                  session_key: Optional[str] = None) -> Run:
        xml = self.input_xml(stanzas)
        if session_key is not None:
            xml = xml.replace(self.splunkd.session_key, session_key)
        # splunkd starts an input at most once per interval (>= 30 s); the collector's windows have
        # whole-second ends, so two runs inside one wall-clock second would see an empty window.
        while int(time.time()) <= int(self._last_end):
            time.sleep(0.05)
        started = time.monotonic()
        proc = subprocess.run(
            [python or sys.executable, os.path.join(self.bin, "openai_audit_logs.py")],
            input=xml.encode("utf-8"), capture_output=True, cwd=self.bin, env=self.env(), timeout=RUN_TIMEOUT,
        )
        run = Run(proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8"),
                  time.monotonic() - started)
        self.runs.append(run)
        self._last_end = time.time()
        return run

    def validate(self, name: str, params: Dict[str, Any]) -> subprocess.CompletedProcess:
        ps = "".join("<param name=%s>%s</param>" % (quoteattr(k), escape(str(v))) for k, v in params.items())
        xml = (
            "<items><server_host>splunk-sim</server_host><server_uri>%s</server_uri><session_key>%s</session_key>"
            "<checkpoint_dir>%s</checkpoint_dir><item name=%s>%s</item></items>"
            % (escape(self.splunkd.uri), escape(self.splunkd.session_key), escape(self.checkpoint_dir),
               quoteattr(name), ps)
        )
        return subprocess.run(
            [sys.executable, os.path.join(self.bin, "openai_audit_logs.py"), "--validate-arguments"],
            input=xml.encode("utf-8"), capture_output=True, cwd=self.bin, env=self.env(), timeout=RUN_TIMEOUT,
        )

    def rest(self, handler_script: str, action: str, entity: Optional[str] = None,
             data: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """Run a UCC REST handler script (e.g. ta_openai_audit_rh_account.py) for one request."""
        request = {"action": action, "id": entity, "data": data or {}, "session_key": self.splunkd.session_key,
                   "app": APP}
        proc = subprocess.run(
            [sys.executable, os.path.join(self.bin, handler_script)],
            input=json.dumps(request).encode("utf-8"), capture_output=True, cwd=self.bin,
            env=self.env(PYTHONPATH=STUB, SPLUNKD_URI=self.splunkd.uri), timeout=RUN_TIMEOUT,
        )
        self.runs.append(Run(proc.returncode, "", proc.stderr.decode("utf-8"), 0.0))
        assert proc.returncode == 0, proc.stderr.decode("utf-8")[-3000:]
        return json.loads(proc.stdout.decode("utf-8"))

    def log_files(self) -> Dict[str, str]:
        out = {}
        for root, _dirs, files in os.walk(os.path.join(self.home, "var")):
            for name in files:
                path = os.path.join(root, name)
                with open(path, encoding="utf-8", errors="replace") as fh:
                    out[os.path.relpath(path, self.home)] = fh.read()
        return out

    def input_log(self, name: str) -> str:
        path = os.path.join(self.log_dir, "ta-openai-audit_%s.log" % name)
        if not os.path.exists(path):
            return ""
        with open(path, encoding="utf-8") as fh:
            return fh.read()

    def everything_written(self) -> str:
        """stdout and stderr of every process, and every file under $SPLUNK_HOME/var."""
        parts = []
        for run in self.runs:
            parts += [run.stdout, run.stderr]
        parts += list(self.log_files().values())
        return "\n".join(parts)


@pytest.fixture
def splunkd():
    with SplunkdSim(app=APP) as sd:
        # What the add-on's default/ta_openai_audit_settings.conf gives a real splunkd.
        sd.set_log_level("INFO")
        yield sd


@pytest.fixture
def harness(built_app, splunkd, tmp_path) -> Harness:
    home = str(tmp_path / "splunk")
    os.makedirs(os.path.join(home, "etc", "apps"))
    os.makedirs(os.path.join(home, "var", "log", "splunk"))
    os.makedirs(os.path.join(home, "var", "lib", "splunk", "modinputs", INPUT_KIND))
    os.symlink(built_app, os.path.join(home, "etc", "apps", APP))
    return Harness(built_app, home, splunkd)
