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

import glob
import json
import os
import subprocess
import sys
from typing import Any, Dict, List, Optional
from xml.sax.saxutils import escape, quoteattr

import pytest

from tools.modinput import APP, RUN_TIMEOUT, Run, SplunkHome
from tools.splunkd_sim import SplunkdSim

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STUB = os.path.join(REPO, "tools", "splunkd_sim", "splunk_stub")


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


class Harness(SplunkHome):
    """SplunkHome plus what only the tests do: --validate-arguments, REST handler scripts, and
    everything the processes wrote (for the canary-key checks)."""

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

    def everything_written(self) -> str:
        """stdout and stderr of every process, and every file under $SPLUNK_HOME/var."""
        parts = []
        for run in self.runs:
            parts += [run.stdout, run.stderr]
        parts += list(self.log_files().values())
        return "\n".join(parts)


@pytest.fixture(scope="session")
def splunk_pythons() -> List[str]:
    """The interpreters Splunk runs add-ons with: 3.9 (Splunk 9) and 3.13 (Splunk 10), from pyenv."""
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    found = []
    for pattern in ("3.9*/bin/python3.9", "3.13*/bin/python3.13"):
        matches = sorted(glob.glob(os.path.join(root, "versions", pattern)))
        if matches:
            found.append(matches[-1])
    assert len(found) == 2, "pyenv Python 3.9 and 3.13 are needed (found %s)" % found
    return found


@pytest.fixture
def splunkd():
    with SplunkdSim(app=APP) as sd:
        # What the add-on's default/ta_openai_audit_settings.conf gives a real splunkd.
        sd.set_log_level("INFO")
        yield sd


@pytest.fixture
def harness(built_app, splunkd, tmp_path) -> Harness:
    return Harness(built_app, str(tmp_path / "splunk"), splunkd)
