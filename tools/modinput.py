"""Run the BUILT modular input the way splunkd runs it, outside Splunk (never shipped).

splunkd starts ``<app>/bin/openai_audit_logs.py`` as a process with the app's bin as working
directory, writes the input definition (server_uri, session_key, checkpoint_dir and the stanzas)
as XML on stdin, and reads ``<stream><event>...</event></stream>`` back from stdout. The add-on
logs to $SPLUNK_HOME/var/log/splunk, so a throw-away $SPLUNK_HOME holds the app (a symlink) and
those logs.

    from tools.modinput import SplunkHome, parse_stream
    home = SplunkHome(app_dir, root, splunkd)     # root: an empty directory; splunkd: SplunkdSim
    run = home.run_input({"main": {"account": "demo", "index": "main"}})
    run.events                                    # [{"stanza", "time", "data", "source", ...}]
    proc = home.start_input(...); ...; run = watch(proc)   # a run a test signals while it goes
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from typing import Any, Dict, List, Optional
from xml.sax.saxutils import escape, quoteattr

APP = "TA-openai-audit"
INPUT_KIND = "openai_audit_logs"
RUN_TIMEOUT = 120


def parse_stream(stdout: str) -> List[Dict[str, Any]]:
    """The events of the <stream> document a modular input writes (raises on malformed XML)."""
    if not stdout.strip():
        return []
    root = ET.fromstring(stdout)
    if root.tag != "stream":
        raise ValueError("not a modular input event stream: %r" % stdout[:200])
    events = []
    for node in root.findall("event"):
        event = {"stanza": node.get("stanza"), "unbroken": node.get("unbroken")}
        for child in node:
            event[child.tag] = child.text
        events.append(event)
    return events


class Run:
    """What one modular input process did (``peak_rss_kb``: its peak resident memory, when watched)."""

    def __init__(self, returncode: int, stdout: str, stderr: str, seconds: float,
                 peak_rss_kb: Optional[int] = None):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.seconds = seconds
        self.peak_rss_kb = peak_rss_kb

    @property
    def events(self) -> List[Dict[str, Any]]:
        """The events of its output, read as the modular input stream it is."""
        return parse_stream(self.stdout)


def peak_rss_kb(pid: int) -> Optional[int]:
    """VmHWM of a running process (Linux), None when it cannot be read."""
    try:
        with open("/proc/%d/status" % pid, encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def watch(proc: "subprocess.Popen[bytes]", timeout: float = RUN_TIMEOUT, started: Optional[float] = None) -> Run:
    """Wait for a started process, collecting its output and sampling its peak memory."""
    started = time.monotonic() if started is None else started
    deadline = started + timeout
    peak = None
    out, err = [b""], [b""]
    while True:
        sample = peak_rss_kb(proc.pid)
        if sample is not None:
            peak = max(peak or 0, sample)
        try:
            stdout, stderr = proc.communicate(timeout=0.1)
            out.append(stdout or b"")
            err.append(stderr or b"")
            break
        except subprocess.TimeoutExpired:
            if time.monotonic() > deadline:
                proc.kill()
                proc.communicate()
                raise
    return Run(proc.returncode, b"".join(out).decode("utf-8"), b"".join(err).decode("utf-8"),
               time.monotonic() - started, peak)


class SplunkHome:
    """A throw-away $SPLUNK_HOME with the built app installed, bound to one splunkd (stand-in)
    that the processes run in it are pointed at."""

    def __init__(self, app_dir: str, root: str, splunkd: Any):
        self.splunkd = splunkd
        self.app = os.path.abspath(app_dir)
        script = os.path.join(self.app, "bin", INPUT_KIND + ".py")
        if not os.path.isfile(script):
            raise FileNotFoundError("the built add-on is not at %s: run make package first" % self.app)
        self.home = os.path.abspath(root)
        self.bin = os.path.join(self.home, "etc", "apps", APP, "bin")
        self.log_dir = os.path.join(self.home, "var", "log", "splunk")
        self.checkpoint_dir = os.path.join(self.home, "var", "lib", "splunk", "modinputs", INPUT_KIND)
        os.makedirs(os.path.join(self.home, "etc", "apps"), exist_ok=True)
        os.makedirs(self.log_dir, exist_ok=True)
        os.makedirs(self.checkpoint_dir, exist_ok=True)
        link = os.path.join(self.home, "etc", "apps", APP)
        if not os.path.islink(link):
            os.symlink(self.app, link)
        self.runs: List[Run] = []

    def env(self, **extra: str) -> Dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "SPLUNK_HOME": self.home,
            "LANG": "C.UTF-8",
            # keep the build output free of __pycache__ (it is what gets packaged)
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        env.update(extra)
        return env

    def input_xml(self, stanzas: Dict[str, Dict[str, Any]], session_key: Optional[str] = None) -> str:
        splunkd = self.splunkd
        confs = []
        for name, params in stanzas.items():
            ps = "".join("<param name=%s>%s</param>" % (quoteattr(k), escape(str(v))) for k, v in params.items())
            confs.append("<stanza name=%s app=%s>%s</stanza>"
                         % (quoteattr("%s://%s" % (INPUT_KIND, name)), quoteattr(APP), ps))
        return (
            "<input><server_host>splunk-sim</server_host><server_uri>%s</server_uri>"
            "<session_key>%s</session_key><checkpoint_dir>%s</checkpoint_dir>"
            "<configuration>%s</configuration></input>"
            % (escape(splunkd.uri), escape(session_key or splunkd.session_key), escape(self.checkpoint_dir),
               "".join(confs))
        )

    def start_input(self, stanzas: Dict[str, Dict[str, Any]], python: Optional[str] = None) -> "subprocess.Popen[bytes]":
        """Start the input as splunkd does and hand its stdin the definition; ``watch`` it after."""
        proc = subprocess.Popen(
            [python or sys.executable, os.path.join(self.bin, INPUT_KIND + ".py")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=self.bin, env=self.env(),
        )
        assert proc.stdin is not None
        proc.stdin.write(self.input_xml(stanzas).encode("utf-8"))
        proc.stdin.close()
        proc.stdin = None  # so that communicate() does not flush it again
        return proc

    def run_input(self, stanzas: Dict[str, Dict[str, Any]], python: Optional[str] = None,
                  session_key: Optional[str] = None, timeout: float = RUN_TIMEOUT) -> Run:
        xml = self.input_xml(stanzas, session_key)
        started = time.monotonic()
        proc = subprocess.run(
            [python or sys.executable, os.path.join(self.bin, INPUT_KIND + ".py")],
            input=xml.encode("utf-8"), capture_output=True, cwd=self.bin, env=self.env(), timeout=timeout,
        )
        run = Run(proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8"),
                  time.monotonic() - started)
        self.runs.append(run)
        return run

    def input_log(self, name: str) -> str:
        path = os.path.join(self.log_dir, "ta-openai-audit_%s.log" % name)
        if not os.path.exists(path):
            return ""
        with open(path, encoding="utf-8") as fh:
            return fh.read()
