"""Collector benchmarks through the real modular input path (figures printed with their goals,
nothing asserted).

    .venv/bin/python benchmarks/bench_collector.py            # everything, ~10 min on 2 cores
    .venv/bin/python benchmarks/bench_collector.py --quick    # no 1,000,000-event run, smaller parallel run

What runs: the BUILT add-on's bin/openai_audit_logs.py (env TA_BUILD_DIR, default
output/TA-openai-audit: run `make package` first) as a process, exactly as splunkd runs it: the
input XML on stdin, the splunkd stand-in (tools/splunkd_sim, in this process) for the account and
the KV store checkpoint, events as <stream> XML on stdout, which this script parses and counts.
The API stand-in (tools/openai_api_sim, lazy `backfill` scenario) runs in its own process on
127.0.0.1, so each of the three processes has its own interpreter. Peak RSS of the input process
is its VmHWM (the kernel's own high-water mark of its RSS), read every 20 ms until it exits.
The command line runs are the built engine's CLI (`python -m ta_openai_audit collect --once`,
PYTHONPATH=<app>/lib:<app>/bin, key in OPENAI_ADMIN_KEY) writing JSON lines to a file.

Figures (issue 16 gives the goals of 4-7):
 1. throughput (events/s) and peak RSS of a 200,000-event backfill (default settings);
 2. peak RSS for 10,000 vs 1,000,000 events (should not grow with the backlog);
 3. requests per 1,000 events, and requests per idle poll (one stream; with tenant_scoped on);
 4. the best hand-written route: the official openai SDK's paginator with limit=100, each event
    through splunklib's EventWriter; our/its throughput ratio;
 5. pipelined fetch: a 50,000-event backfill at 50 ms per request, one slice at a time
    (backfill_concurrency 1), wall time vs the sequential floor = requests x 50 ms;
 6. pipelined vs unpipelined at 0 ms: the CLI with and without --no-prefetch, best of two each;
 7. parallel backfill: a 200,000-event backfill at 100 ms per request with the default
    backfill_concurrency, wall time vs the sequential floor (2,000 requests x 100 ms = 200 s);
 8. the same against an API that serves at most 2 requests at once (429 beyond): every event
    delivered once, the 429s it answered, the wall time.
"""
from __future__ import annotations

import argparse
import json
import os
import re
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

from benchmarks.figures import Figures, machine_line  # noqa: E402

APP = "TA-openai-audit"
INPUT_NAME = "bench"
BACKFILL_SPAN = 6 * 86400
ANCHOR_AGE = 3600  # the newest backfill event is an hour old, so an idle poll's overlap is empty
PAGE = 100  # events per page, ours and the hand-written route's


# ------------------------------------------------------------------------- child processes
def serve_sim(n: int, latency_ms: float, anchor: int, max_concurrent: Optional[int]) -> None:
    """Child mode: the API stand-in with a lazy backfill of n events; prints its base URL."""
    import signal

    from tools.openai_api_sim import ApiSim

    sim = ApiSim(scenario="backfill", seed=1, anchor=anchor, latency_ms=latency_ms,
                 scenario_params={"n": n, "span_seconds": BACKFILL_SPAN}, track_ids=False,
                 max_concurrent=max_concurrent)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    sim.start()
    print(sim.base_url, flush=True)
    while not stop.wait(0.5):
        pass
    sim.stop()


def sdk_child(base_url: str, key: str, start: int) -> None:
    """Child mode: what a careful user writes by hand: the SDK's paginator with the largest page
    (limit=100; the SDK's default is 20), each event written through splunklib's EventWriter to
    stdout as a modular input would."""
    from openai import OpenAI
    from splunklib import modularinput as smi

    client = OpenAI(api_key=key, admin_api_key=key, base_url=base_url)
    writer = smi.EventWriter()
    for log in client.admin.organization.audit_logs.list(effective_at={"gte": start}, limit=PAGE):
        writer.write_event(smi.Event(
            data=json.dumps(log.to_dict(), separators=(",", ":"), ensure_ascii=False), time=log.effective_at,
            index="main", sourcetype="openai:audit", source="openai_audit:bench", stanza="openai_audit_logs://" + INPUT_NAME,
        ))
    writer.close()


# ---------------------------------------------------------------------------- the harness
class Sim:
    def __init__(self, n: int, latency_ms: float = 0.0, max_concurrent: Optional[int] = None):
        self.anchor = int(time.time()) - ANCHOR_AGE
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--serve-sim", str(n), str(latency_ms), str(self.anchor),
             str(max_concurrent or 0)],
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


def run_and_count(args: List[str], stdin: bytes, cwd: str, env: Dict[str, str],
                  ids: Optional[Dict[str, int]] = None) -> Measured:
    """Run a process that writes a modular input <stream> on stdout; count its events with an
    incremental XML parser (a document that is not well-formed raises), and in ``ids`` (when
    given) how many times each audit log id was written; sample its peak RSS."""
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
                if ids is not None:
                    event_id = json.loads(element.findtext("data"))["id"]
                    ids[event_id] = ids.get(event_id, 0) + 1
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

    def run(self, ids: Optional[Dict[str, int]] = None, **params: str) -> Measured:
        values = {"account": "bench", "index": "main", "interval": "60", "start": "7", "lag_seconds": "60",
                  "overlap_seconds": "900", "tenant_scoped": "0"}
        values.update(params)
        xml = self.home.input_xml({INPUT_NAME: values})
        result = run_and_count([sys.executable, os.path.join(self.home.bin, "openai_audit_logs.py")],
                               xml.encode("utf-8"), self.home.bin, self.home.env(), ids)
        if result.returncode != 0:
            raise RuntimeError("the modular input exited %d:\n%s" % (result.returncode, result.stderr[-3000:]))
        return result

    def checkpoint_summaries(self) -> List[Dict[str, str]]:
        """The key=value pairs of every checkpoint_summary line the input logged."""
        return [dict(re.findall(r"(\w+)=(\S+)", line.split("checkpoint_summary", 1)[1]))
                for line in self.home.input_log(INPUT_NAME).splitlines() if "checkpoint_summary" in line]

    def close(self) -> None:
        self.splunkd.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def backfill(app_dir: str, n: int, latency_ms: float = 0.0, idle: bool = False,
             max_concurrent: Optional[int] = None, **params: str) -> Dict[str, Any]:
    """A backfill of n events through the built input. The input runs again (as splunkd would,
    each interval) until n events are written, at most 5 times: a run stops after the engine's
    page and time limits, and against an API with max_concurrent it may give up on 429s. Against
    max_concurrent every id is counted."""
    from tools.openai_api_sim import DEFAULT_KEY

    out: Dict[str, Any] = {"n": n, "latency_ms": latency_ms}
    with Sim(n, latency_ms, max_concurrent) as sim:
        mi = ModularInput(app_dir, sim.base_url, DEFAULT_KEY)
        try:
            ids = {} if max_concurrent else None  # type: Optional[Dict[str, int]]
            run = mi.run(ids, **params)
            runs, seconds, events, rss_mb = 1, run.seconds, run.events, run.peak_rss_mb
            while (events if ids is None else len(ids)) < n and runs < 5:
                time.sleep(1.1)  # a poll in the same second as the last one has nothing to ask for
                run = mi.run(ids, **params)
                runs, seconds, events = runs + 1, seconds + run.seconds, events + run.events
                rss_mb = max(rss_mb, run.peak_rss_mb)
            if ids is None and events != n:
                raise RuntimeError("the input wrote %d events of %d in %d runs:\n%s"
                                   % (events, n, runs, run.stderr[-3000:]))
            stats = sim.stats()
            out.update(events=events, seconds=seconds, rate=events / seconds, rss_mb=rss_mb,
                       requests=stats["requests"], runs=runs, throttled=stats["over_concurrency"],
                       in_flight_max=stats["in_flight_max"], summaries=mi.checkpoint_summaries())
            if ids is not None:
                out.update(distinct=len(ids), duplicates=events - len(ids))
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


def bare_loop(n: int, latency_ms: float) -> Dict[str, Any]:
    """The fastest any sequential client gets against the same stand-in: requests.get and
    json() in a loop following the cursor at limit=100, events thrown away (no process start, no
    writing, no checkpoint)."""
    import requests
    from tools.openai_api_sim import DEFAULT_KEY

    with Sim(n, latency_ms) as sim:
        session = requests.Session()
        session.headers["Authorization"] = "Bearer " + DEFAULT_KEY
        started, after, count = time.monotonic(), None, 0
        while True:
            params = {"limit": PAGE} if after is None else {"limit": PAGE, "after": after}
            body = session.get(sim.base_url + "/organization/audit_logs", params=params, timeout=60).json()
            count += 1
            if not body["has_more"]:
                break
            after = body["data"][-1]["id"]
        session.close()
        return {"seconds": time.monotonic() - started, "requests": count}


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


def cli_backfills(app_dir: str, n: int, variants: List[List[str]], repeat: int) -> List[Dict[str, Any]]:
    """The built engine's CLI (collect --once) walking the same n-event backfill from an empty
    state file, once per variant (extra options), the variants taking turns ``repeat`` times;
    per variant the best wall time and every run's."""
    from tools.openai_api_sim import DEFAULT_KEY

    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONPATH": os.pathsep.join([os.path.join(app_dir, "lib"), os.path.join(app_dir, "bin")]),
           "OPENAI_ADMIN_KEY": DEFAULT_KEY}
    walls = [[] for _ in variants]  # type: List[List[float]]
    requests = [0 for _ in variants]
    with Sim(n) as sim:
        for _ in range(repeat):
            for i, extra in enumerate(variants):
                work = tempfile.mkdtemp(prefix="bench-cli-")
                try:
                    output = os.path.join(work, "events.jsonl")
                    before = sim.stats()["requests"]
                    started = time.monotonic()
                    proc = subprocess.run(
                        [sys.executable, "-m", "ta_openai_audit", "--log-level", "WARNING", "collect",
                         "--base-url", sim.base_url, "--state-file", os.path.join(work, "state.json"),
                         "--output", output, "--start", "7", "--no-tenant-scoped", "--once"] + extra,
                        cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                    walls[i].append(time.monotonic() - started)
                    requests[i] = sim.stats()["requests"] - before
                    with open(output, "rb") as fh:
                        lines = sum(1 for _ in fh)
                    if proc.returncode != 0 or lines != n:
                        raise RuntimeError("the CLI %s wrote %d events of %d (exit %d):\n%s"
                                           % (" ".join(extra), lines, n, proc.returncode, proc.stderr[-3000:]))
                finally:
                    shutil.rmtree(work, ignore_errors=True)
    return [{"options": " ".join(extra) or "(defaults)", "best": min(w), "walls": w, "requests": r}
            for extra, w, r in zip(variants, walls, requests)]


# ---------------------------------------------------------------------------------- report
def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="skip the 1,000,000-event run; the parallel backfill walks 50,000 events, not 200,000")
    parser.add_argument("--n", type=int, default=200_000, help="backfill size for figures 1, 3 and 4")
    parser.add_argument("--serve-sim", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--sdk-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_sim:
        serve_sim(int(args.serve_sim[0]), float(args.serve_sim[1]), int(args.serve_sim[2]),
                  int(args.serve_sim[3]) or None)
        return 0
    if args.sdk_child:
        sdk_child(args.sdk_child[0], args.sdk_child[1], int(args.sdk_child[2]))
        return 0

    app_dir = os.path.abspath(os.environ.get("TA_BUILD_DIR") or os.path.join(ROOT, "output", APP))
    script = os.path.join(app_dir, "bin", "openai_audit_logs.py")
    if not os.path.isfile(script) or "openai_audit_logs_helper" not in open(script, encoding="utf-8").read():
        print("no built add-on at %s: run make package first" % app_dir, file=sys.stderr)
        return 2
    print(machine_line())
    print("add-on: %s" % app_dir)
    print("command: .venv/bin/python benchmarks/bench_collector.py%s" % (" --quick" if args.quick else ""), flush=True)
    started = time.monotonic()
    n = args.n
    figures = Figures()

    def step(label: str) -> None:
        print("[%5.0f s] %s" % (time.monotonic() - started, label), flush=True)

    step("1+3. modular input, %d-event backfill (default settings), then idle polls" % n)
    main_run = backfill(app_dir, n, idle=True)
    figures.add("1. backfill throughput, %d events, 0 ms" % n, "%.0f events/s (%.1f s)"
                % (main_run["rate"], main_run["seconds"]))
    figures.add("1. peak RSS of the input process, %d events" % n, "%.1f MB" % main_run["rss_mb"])
    step("2. modular input, 10,000 events")
    small = backfill(app_dir, 10_000)
    figures.add("2. peak RSS, 10,000 events", "%.1f MB" % small["rss_mb"])
    if not args.quick:
        step("2. modular input, 1,000,000 events")
        large = backfill(app_dir, 1_000_000)
        growth = (large["rss_mb"] - small["rss_mb"]) / small["rss_mb"] * 100
        figures.add("2. peak RSS, 1,000,000 events", "%.1f MB (%+.1f%% vs 10,000; %.0f events/s; %d run%s)"
                    % (large["rss_mb"], growth, large["rate"], large["runs"], "" if large["runs"] == 1 else "s"),
                    "within 20% of 10,000", abs(growth) <= 20)
    per_1000 = main_run["requests"] / (main_run["events"] / 1000.0)
    figures.add("3. requests per 1,000 events", "%.2f (%d requests)" % (per_1000, main_run["requests"]),
                "<= 10.1", per_1000 <= 10.1)
    figures.add("3. requests per idle poll", "%d (tenant_scoped on: %d)"
                % (main_run["idle_requests"], main_run["idle_requests_tenant"]),
                "1 per stream (the new window and the late-event sweep in one request)",
                main_run["idle_requests"] == 1 and main_run["idle_requests_tenant"] == 2)

    step("4. openai SDK paginator (limit=%d) + EventWriter, %d events" % (PAGE, n))
    sdk = sdk_backfill(n)
    figures.add("4. openai SDK paginator, limit=%d, + splunklib EventWriter" % PAGE,
                "%.0f events/s (%.1f s, %d requests)" % (sdk["rate"], sdk["seconds"], sdk["requests"]))
    ratio = main_run["rate"] / sdk["rate"]
    figures.add("4. our / hand-written throughput", "%.2fx" % ratio, ">= 3x", ratio >= 3)

    step("5. modular input, 50,000-event backfill, 50 ms per request, backfill_concurrency 1")
    piped = backfill(app_dir, 50_000, latency_ms=50, backfill_concurrency="1")
    floor = piped["requests"] * 0.050
    figures.add("5. pipelined backfill, 50,000 events at 50 ms, one slice at a time", "%.1f s = %.2f x the floor "
                "(%d requests x 50 ms = %.1f s)" % (piped["seconds"], piped["seconds"] / floor, piped["requests"], floor),
                "<= 1.10 x the floor", piped["seconds"] <= 1.10 * floor)
    bare = bare_loop(50_000, 50)
    figures.add("5. bare sequential loop against the same stand-in (requests.get + json, events thrown away)",
                "%.1f s = %.2f x the floor (%d requests)" % (bare["seconds"], bare["seconds"] / floor, bare["requests"]))
    figures.add("5. pipelined input / bare loop", "%.2fx (the input also starts a process, reads its configuration, "
                "writes every event and a checkpoint per page)" % (piped["seconds"] / bare["seconds"]))

    step("6. CLI, 50,000-event backfill at 0 ms, with and without --no-prefetch (backfill_concurrency 1), best of 2")
    pipelined, unpipelined = cli_backfills(app_dir, 50_000, [["--backfill-concurrency", "1"],
                                                             ["--backfill-concurrency", "1", "--no-prefetch"]], 2)
    for variant in (pipelined, unpipelined):
        figures.add("6. CLI backfill, 50,000 events at 0 ms, %s" % variant["options"], "best %.2f s (runs: %s; %d requests)"
                    % (variant["best"], ", ".join("%.2f" % w for w in variant["walls"]), variant["requests"]))
    speed = pipelined["best"] / unpipelined["best"]
    figures.add("6. pipelined / unpipelined wall time at 0 ms", "%.3f" % speed, "<= 1.00 (no slower)", speed <= 1.0)

    parallel_n = 50_000 if args.quick else 200_000
    step("7. modular input, %d-event backfill, 100 ms per request, default backfill_concurrency" % parallel_n)
    parallel = backfill(app_dir, parallel_n, latency_ms=100)
    floor = -(-parallel_n // PAGE) * 0.100
    speedup = floor / parallel["seconds"]
    figures.add("7. parallel backfill, %d events at 100 ms" % parallel_n, "%.1f s = %.2fx faster than the sequential "
                "floor (%d requests x 100 ms = %.0f s); %d requests, at most %d at once"
                % (parallel["seconds"], speedup, -(-parallel_n // PAGE), floor, parallel["requests"],
                   parallel["in_flight_max"]), ">= 3x", speedup >= 3)

    step("8. modular input, 50,000-event backfill, 100 ms per request, API serving at most 2 requests at once")
    limited = backfill(app_dir, 50_000, latency_ms=100, max_concurrent=2)
    figures.add("8. against max_concurrent=2: events delivered", "%d of 50,000 distinct in %d run%s"
                % (limited["distinct"], limited["runs"], "" if limited["runs"] == 1 else "s"), "all",
                limited["distinct"] == 50_000)
    figures.add("8. against max_concurrent=2: duplicates", "%d" % limited["duplicates"], "0", limited["duplicates"] == 0)
    logged = "; ".join("concurrency=%s throttled=%s" % (line.get("concurrency", "?"), line.get("throttled", "?"))
                       for line in limited["summaries"])
    figures.add("8. against max_concurrent=2: 429s served, wall time", "%d 429s, %.1f s, %d requests, at most %d at "
                "once (the collector logged, per run: %s)" % (limited["throttled"], limited["seconds"],
                                                              limited["requests"], limited["in_flight_max"], logged))
    figures.summary()
    print("total %.0f s" % (time.monotonic() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
