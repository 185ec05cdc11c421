"""``python -m tools.splunkd_sim [--port N] [--session-key KEY]``: serve the splunkd stand-in on
127.0.0.1 until SIGINT/SIGTERM; prints ``listening on http://127.0.0.1:PORT session_key=KEY``."""
from __future__ import annotations

import argparse
import signal
import threading

from .server import SplunkdSim


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.splunkd_sim", description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--session-key", default=None)
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with SplunkdSim(session_key=args.session_key, port=args.port) as sim:
        print("listening on %s session_key=%s" % (sim.uri, sim.session_key), flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
