"""python -m tools.openai_api_sim --port 0 --scenario NAME --seed N [--latency-ms N]
[--fault SPEC ...] [--key KEY] [--anchor EPOCH] [--param K=V ...] [--max-concurrent N]"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import List, Optional

from . import ApiSim, DEFAULT_KEY, scenario_names


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.openai_api_sim",
                                description="Loopback stand-in for the OpenAI audit log API.")
    p.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free port)")
    p.add_argument("--scenario", choices=scenario_names(), default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--fault", action="append", default=[], metavar="NAME@RATE[:ARG]")
    p.add_argument("--key", default=DEFAULT_KEY, help="the admin key the server accepts")
    p.add_argument("--anchor", type=int, default=None, help="the 'now' of scenario times (epoch s)")
    p.add_argument("--param", action="append", default=[], metavar="K=V",
                   help="override a scenario parameter, e.g. n=1000000 for backfill")
    p.add_argument("--max-concurrent", type=int, default=None, metavar="N",
                   help="serve at most N audit log requests at once; more get 429 with Retry-After: 1")
    args = p.parse_args(argv)
    params = {}
    for item in args.param:
        k, sep, v = item.partition("=")
        if not sep:
            p.error("--param expects K=V, got %r" % item)
        params[k] = v
    try:
        sim = ApiSim(scenario=args.scenario, seed=args.seed, latency_ms=args.latency_ms,
                     faults=args.fault, key=args.key, port=args.port, anchor=args.anchor,
                     scenario_params=params or None, max_concurrent=args.max_concurrent)
    except ValueError as e:
        p.error(str(e))
    stop = threading.Event()

    def on_signal(signum, frame):  # noqa: ARG001
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    sim.start()
    print("listening on %s" % sim.base_url, flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sim.stop()
    print("stopped: %s" % sim.stats(), file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
