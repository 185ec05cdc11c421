"""Peak memory of the API stand-in serving every page of a large lazy backfill.

    .venv/bin/python benchmarks/bench_api_sim.py                 # n=1,000 and n=1,000,000
    .venv/bin/python benchmarks/bench_api_sim.py --n 1000000     # one size only
    .venv/bin/python benchmarks/bench_api_sim.py --direct        # call the store, no HTTP

Each size runs in its own child process (so each peak RSS is its own): it starts ApiSim with the
backfill scenario, walks all pages at limit=100 following after=<last_id> over one keep-alive
HTTP connection (client and server in the same process, so the figure covers both), checks the
count, order and distinctness of what came back, and prints peak RSS (ru_maxrss). Served-id
tracking is off unless --track-ids: that set is test instrumentation and grows with n.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    return kb / 1024.0


def run_one(n: int, direct: bool, track_ids: bool) -> dict:
    from tools.openai_api_sim import ApiSim, DEFAULT_KEY
    from tools.openai_api_sim.store import Query

    anchor = 1_790_000_000
    sim = ApiSim(scenario="backfill", seed=1, anchor=anchor, scenario_params={"n": n},
                 track_ids=track_ids)
    rss_before = peak_rss_mb()
    t0 = time.monotonic()
    pages = count = 0
    prev = None  # (effective_at, id) of the last event seen: order and distinctness check

    def walk(fetch_page):
        """Follow after=<last_id> to the end, checking newest-first order with no repeat."""
        nonlocal pages, count, prev
        after = None
        while True:
            body = fetch_page(after)
            pages += 1
            for ev in body["data"]:
                key = (ev["effective_at"], ev["id"])
                assert prev is None or key < prev, (prev, key)
                prev = key
            count += len(body["data"])
            if not body["has_more"]:
                return
            after = body["last_id"]

    if direct:
        walk(lambda after: json.loads(json.dumps(sim.store.list(Query(
            {"limit": ["100"], **({"after": [after]} if after else {})})))))
    else:
        sim.start()
        conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=30)
        headers = {"Authorization": "Bearer " + DEFAULT_KEY}

        def over_http(after):
            conn.request("GET", "/v1/organization/audit_logs?limit=100" + ("&after=" + after if after else ""),
                         headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            assert resp.status == 200, raw[:200]
            return json.loads(raw)

        try:
            walk(over_http)
        finally:
            conn.close()
            sim.stop()
    elapsed = time.monotonic() - t0
    assert count == n, (count, n)
    return {"n": n, "pages": pages, "events": count, "seconds": round(elapsed, 1),
            "events_per_s": int(count / elapsed) if elapsed else None,
            "rss_after_setup_mb": round(rss_before, 1), "peak_rss_mb": round(peak_rss_mb(), 1),
            "mode": "direct" if direct else "http", "track_ids": track_ids,
            "python": sys.version.split()[0]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, action="append", help="backfill size (repeatable)")
    p.add_argument("--direct", action="store_true", help="call the store directly, no HTTP")
    p.add_argument("--track-ids", action="store_true", help="keep the served-id set (grows with n)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    sizes = args.n or [1000, 1_000_000]
    if args.child:
        print(json.dumps(run_one(sizes[0], args.direct, args.track_ids)), flush=True)
        return 0
    for n in sizes:
        cmd = [sys.executable, os.path.abspath(__file__), "--child", "--n", str(n)]
        cmd += ["--direct"] if args.direct else []
        cmd += ["--track-ids"] if args.track_ids else []
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print("n={n:>9,}  pages={pages:>6,}  {seconds:>7}s  {events_per_s:>6,} ev/s  "
              "rss after setup {rss_after_setup_mb} MB  peak rss {peak_rss_mb} MB  "
              "({mode}, track_ids={track_ids}, python {python})".format(**r), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
