"""Collector benchmarks through the real modular input path (figures printed, nothing asserted).

    .venv/bin/python benchmarks/bench_collector.py            # everything, ~6-8 min on 2 cores
    .venv/bin/python benchmarks/bench_collector.py --quick    # skip the 1,000,000-event run

What runs: the BUILT add-on's bin/openai_audit_logs.py (env TA_BUILD_DIR, default
output/TA-openai-audit: run `make package` first) as a process, exactly as splunkd runs it: the
input XML on stdin, the splunkd stand-in (tools/splunkd_sim, in this process) for the account and
the KV store checkpoint, events as <stream> XML on stdout, which this script parses and counts.
The API stand-in (tools/openai_api_sim, lazy `backfill` scenario) runs in its own process on
127.0.0.1, so each of the three processes has its own interpreter. Peak RSS of the input process
is its VmHWM (the kernel's own high-water mark of its RSS), read every 20 ms until it exits.

Figures:
 1. throughput (events/s) and peak RSS of a 200,000-event backfill;
 2. peak RSS for 10,000 vs 1,000,000 events (should not grow with the backlog);
 3. requests per 1,000 events, and requests per idle poll (one stream; with tenant_scoped on);
 4. the same backfill the way a user would write it by hand: the official openai SDK's paginator
    with default settings, each event through splunklib's EventWriter, our/SDK throughput ratio;
 5. wall time of the 200,000-event backfill with 100 ms of latency per request.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import xml.etree.ElementTree as ET
from typing import Any, Dict, List, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

APP = "TA-openai-audit"
INPUT_NAME = "bench"
BACKFILL_SPAN = 6 * 86400
ANCHOR_AGE = 3600  # the newest backfill event is an hour old, so an idle poll's overlap is empty


# ------------------------------------------------------------------------- child processes
def serve_sim(n: int, latency_ms: float, anchor: int) -> None:
    """Child mode: the API stand-in with a lazy backfill of n events; prints its base URL."""
    import signal

    from tools.openai_api_sim import ApiSim

    sim = ApiSim(scenario="backfill", seed=1, anchor=anchor, latency_ms=latency_ms,
                 scenario_params={"n": n, "span_seconds": BACKFILL_SPAN}, track_ids=False)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    sim.start()
    print(sim.base_url, flush=True)
    while not stop.wait(0.5):
        pass
    sim.stop()


def sdk_child(base_url: str, key: str, start: int) -> None:
    """Child mode: what a user writes by hand: the SDK's paginator with default settings, each
    event written through splunklib's EventWriter to stdout as a modular input would."""
    from openai import OpenAI
    from splunklib import modularinput as smi

    client = OpenAI(api_key=key, admin_api_key=key, base_url=base_url)
    writer = smi.EventWriter()
    for log in client.admin.organization.audit_logs.list(effective_at={"gte": start}):
        writer.write_event(smi.Event(
            data=json.dumps(log.to_dict(), separators=(",", ":"), ensure_ascii=False), time=log.effective_at,
            index="main", sourcetype="openai:audit", source="openai_audit:bench", stanza="openai_audit_logs://" + INPUT_NAME,
        ))
    writer.close()


# ---------------------------------------------------------------------------- the harness
class Sim:
    def __init__(self, n: int, latency_ms: float = 0.0):
        self.anchor = int(time.time()) - ANCHOR_AGE
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--serve-sim", str(n), str(latency_ms), str(self.anchor)],
            stdout=subprocess.PIPE, cwd=ROOT, text=True,
        )
        self.base_url = self.proc.stdout.readline().strip()
        if not self.base_url.startswith("http://127.0.0.1:"):
            raise RuntimeError("the API stand-in did not start: %r" % self.base_url)

    def stats(self) -> Dict[str, Any]:
        with urllib.request.urlopen(self.base_url[: -len("/v1")] + "/_sim/stats", timeout=30) as response:
            return json.loads(response.read().decode("utf-8"))

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> "Sim":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Measured:
    def __init__(self, events: int, seconds: float, peak_rss_mb: float, returncode: int, stderr: str):
        self.events = events
        self.seconds = seconds
        self.peak_rss_mb = peak_rss_mb
        self.returncode = returncode
        self.stderr = stderr

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


class PeakRss(threading.Thread):
    """Samples the process's VmHWM (its own peak RSS) every 20 ms until it exits.

    Not ru_maxrss: Linux carries the parent's peak RSS into a child across fork/vfork and exec
    (signal->maxrss), so a child's ru_maxrss is never below this script's own peak."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.path = "/proc/%d/status" % pid
        self.peak_kb = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                with open(self.path, encoding="ascii", errors="replace") as fh:
                    for line in fh:
                        if line.startswith("VmHWM:"):
                            self.peak_kb = max(self.peak_kb, int(line.split()[1]))
                            break
            except (OSError, ValueError):
                pass
            self.done.wait(0.02)


def run_and_count(args: List[str], stdin: bytes, cwd: str, env: Dict[str, str]) -> Measured:
    """Run a process that writes a modular input <stream> on stdout; count its events with an
    incremental XML parser (a document that is not well-formed raises); sample its peak RSS."""
    err = tempfile.TemporaryFile()
    started = time.monotonic()
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, cwd=cwd, env=env)
    rss = PeakRss(proc.pid)
    rss.start()
    proc.stdin.write(stdin)
    proc.stdin.close()
    parser = ET.XMLPullParser(events=("end",))
    events = 0
    fed = False
    while True:
        chunk = proc.stdout.read1(1 << 16)
        if not chunk:
            break
        fed = True
        parser.feed(chunk)
        for _, element in parser.read_events():
            if element.tag == "event":
                events += 1
                element.clear()
    if fed:  # nothing at all is what an input with nothing new writes
        parser.close()
    proc.wait()
    seconds = time.monotonic() - started
    rss.done.set()
    rss.join()
    err.seek(0)
    stderr = err.read().decode("utf-8", "replace")
    err.close()
    return Measured(events, seconds, rss.peak_kb / 1024.0, proc.returncode, stderr)


class ModularInput:
    """The built input, one splunkd stand-in and one $SPLUNK_HOME for a series of runs; the
    output is streamed and counted here (run_and_count) rather than held in memory."""

    def __init__(self, app_dir: str, base_url: str, key: str):
        from tools.modinput import SplunkHome
        from tools.splunkd_sim import SplunkdSim

        self.splunkd = SplunkdSim(app=APP).start()
        # what default/ta_openai_audit_settings.conf gives a real splunkd
        self.splunkd.set_log_level("INFO")
        self.splunkd.set_proxy(proxy_enabled="0", proxy_type="http", proxy_url="", proxy_port="", proxy_rdns="")
        self.splunkd.add_account("bench", key, base_url=base_url)
        self.root = tempfile.mkdtemp(prefix="bench-splunk-")
        self.home = SplunkHome(app_dir, self.root, self.splunkd)

    def run(self, **params: str) -> Measured:
        values = {"account": "bench", "index": "main", "interval": "60", "start": "7", "lag_seconds": "60",
                  "overlap_seconds": "900", "tenant_scoped": "0"}
        values.update(params)
        xml = self.home.input_xml({INPUT_NAME: values})
        result = run_and_count([sys.executable, os.path.join(self.home.bin, "openai_audit_logs.py")],
                               xml.encode("utf-8"), self.home.bin, self.home.env())
        if result.returncode != 0:
            raise RuntimeError("the modular input exited %d:\n%s" % (result.returncode, result.stderr[-3000:]))
        return result

    def close(self) -> None:
        self.splunkd.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def backfill(app_dir: str, n: int, latency_ms: float = 0.0, idle: bool = False) -> Dict[str, Any]:
    from tools.openai_api_sim import DEFAULT_KEY

    out: Dict[str, Any] = {"n": n, "latency_ms": latency_ms}
    with Sim(n, latency_ms) as sim:
        mi = ModularInput(app_dir, sim.base_url, DEFAULT_KEY)
        try:
            run = mi.run()
            if run.events != n:
                raise RuntimeError("the input wrote %d events of %d:\n%s" % (run.events, n, run.stderr[-3000:]))
            out.update(events=run.events, seconds=run.seconds, rate=run.rate, rss_mb=run.peak_rss_mb,
                       requests=sim.stats()["requests"])
            if idle:
                # A poll in the same second as the last one has nothing to ask for (its window
                # would end where the last one ended); real polls are >= 30 s apart.
                time.sleep(1.1)
                before = sim.stats()["requests"]
                again = mi.run()
                out["idle_events"] = again.events
                out["idle_requests"] = sim.stats()["requests"] - before
                # tenant_scoped adds a second stream (its own query and checkpoint); its first
                # run walks its own window once, the second is the idle poll measured.
                time.sleep(1.1)
                mi.run(tenant_scoped="1")
                time.sleep(1.1)
                before = sim.stats()["requests"]
                mi.run(tenant_scoped="1")
                out["idle_requests_tenant"] = sim.stats()["requests"] - before
        finally:
            mi.close()
    return out


def sdk_backfill(n: int) -> Dict[str, Any]:
    from tools.openai_api_sim import DEFAULT_KEY

    with Sim(n) as sim:
        start = sim.anchor - BACKFILL_SPAN - 86400
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "PYTHONPATH": ROOT,
               "OPENAI_LOG": "", "PYTHONDONTWRITEBYTECODE": "1"}
        run = run_and_count([sys.executable, os.path.abspath(__file__), "--sdk-child", sim.base_url, DEFAULT_KEY,
                             str(start)], b"", ROOT, env)
        if run.returncode != 0 or run.events != n:
            raise RuntimeError("the SDK run wrote %d events of %d (exit %d):\n%s"
                               % (run.events, n, run.returncode, run.stderr[-3000:]))
        return {"n": n, "events": run.events, "seconds": run.seconds, "rate": run.rate, "rss_mb": run.peak_rss_mb,
                "requests": sim.stats()["requests"]}


# ---------------------------------------------------------------------------------- report
def machine() -> Dict[str, str]:
    cpu = "?"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"nproc": str(os.cpu_count()), "python": platform.python_version(), "cpu": cpu,
            "load": " ".join("%.2f" % x for x in os.getloadavg())}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip the 1,000,000-event memory run")
    parser.add_argument("--n", type=int, default=200_000, help="backfill size for figures 1, 3, 4, 5")
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--serve-sim", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--sdk-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_sim:
        serve_sim(int(args.serve_sim[0]), float(args.serve_sim[1]), int(args.serve_sim[2]))
        return 0
    if args.sdk_child:
        sdk_child(args.sdk_child[0], args.sdk_child[1], int(args.sdk_child[2]))
        return 0

    app_dir = os.path.abspath(os.environ.get("TA_BUILD_DIR") or os.path.join(ROOT, "output", APP))
    script = os.path.join(app_dir, "bin", "openai_audit_logs.py")
    if not os.path.isfile(script) or "openai_audit_logs_helper" not in open(script, encoding="utf-8").read():
        print("no built add-on at %s: run make package first" % app_dir, file=sys.stderr)
        return 2
    info = machine()
    print("machine: %s cores, Python %s, %s (load before: %s)" % (info["nproc"], info["python"], info["cpu"], info["load"]))
    print("add-on: %s" % app_dir, flush=True)
    started = time.monotonic()
    n = args.n

    def step(label: str) -> None:
        print("[%5.0f s] %s" % (time.monotonic() - started, label), flush=True)

    step("1+3. modular input, %d-event backfill, then idle polls" % n)
    main_run = backfill(app_dir, n, idle=True)
    step("   %d events in %.1f s = %.0f events/s, peak RSS %.1f MB, %d requests"
         % (main_run["events"], main_run["seconds"], main_run["rate"], main_run["rss_mb"], main_run["requests"]))
    step("2. modular input, 10,000 events")
    small = backfill(app_dir, 10_000)
    step("   peak RSS %.1f MB" % small["rss_mb"])
    large = None
    if not args.quick:
        step("2. modular input, 1,000,000 events")
        large = backfill(app_dir, 1_000_000)
        step("   peak RSS %.1f MB (%.0f events/s)" % (large["rss_mb"], large["rate"]))
    step("4. openai SDK paginator (default settings) + EventWriter, %d events" % n)
    sdk = sdk_backfill(n)
    step("   %d events in %.1f s = %.0f events/s, peak RSS %.1f MB, %d requests"
         % (sdk["events"], sdk["seconds"], sdk["rate"], sdk["rss_mb"], sdk["requests"]))
    step("5. modular input, %d-event backfill, %g ms latency per request" % (n, args.latency_ms))
    slow = backfill(app_dir, n, latency_ms=args.latency_ms)
    step("   %.1f s (%d requests)" % (slow["seconds"], slow["requests"]))

    per_1000 = main_run["requests"] / (main_run["events"] / 1000.0)
    ratio = main_run["rate"] / sdk["rate"] if sdk["rate"] else float("inf")
    rows = [
        ("1. backfill throughput, %d events" % n, "%.0f events/s (%.1f s)" % (main_run["rate"], main_run["seconds"]), "-"),
        ("1. peak RSS of the input process, %d events" % n, "%.1f MB" % main_run["rss_mb"], "-"),
        ("2. peak RSS, 10,000 events", "%.1f MB" % small["rss_mb"], "-"),
    ]
    if large is not None:
        growth = (large["rss_mb"] - small["rss_mb"]) / small["rss_mb"] * 100
        rows.append(("2. peak RSS, 1,000,000 events", "%.1f MB (%+.1f%% vs 10,000)" % (large["rss_mb"], growth),
                     "within 20%"))
    else:
        rows.append(("2. peak RSS, 1,000,000 events", "not run (--quick)", "within 20%"))
    rows += [
        ("3. requests per 1,000 events", "%.2f (%d requests)" % (per_1000, main_run["requests"]), "<= 10.1"),
        ("3. requests per idle poll", "%d (tenant_scoped on: %d)" % (main_run["idle_requests"],
                                                                    main_run["idle_requests_tenant"]), "1"),
        ("4. openai SDK paginator + EventWriter", "%.0f events/s (%.1f s, %d requests)"
         % (sdk["rate"], sdk["seconds"], sdk["requests"]), "-"),
        ("4. our / SDK throughput", "%.1fx" % ratio, ">= 3x"),
        ("5. backfill wall time, %g ms latency" % args.latency_ms, "%.1f s (%d requests)"
         % (slow["seconds"], slow["requests"]), "-"),
    ]
    print()
    print("| figure | measured | target |")
    print("|---|---|---|")
    for row in rows:
        print("| %s | %s | %s |" % row)
    print()
    print("machine: %s cores, Python %s, %s; total %.0f s" % (info["nproc"], info["python"], info["cpu"],
                                                              time.monotonic() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
