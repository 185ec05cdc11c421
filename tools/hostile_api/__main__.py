"""Figures of the CLI collector against the hostile API (printed, nothing asserted):

    .venv/bin/python -m tools.hostile_api

peak memory for a 300 MB body (with and without Content-Length) and a 1.5 GB gzip bomb, and how long
the collector takes to end after SIGTERM while a server drips one byte a second.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time

from tools.hostile_api import KEY, HostileApi, spread
from tools.modinput import watch

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def collect(api: HostileApi, workdir: str, budget: str) -> "subprocess.Popen[bytes]":
    env = dict(os.environ, OPENAI_ADMIN_KEY=KEY, PYTHONPATH=os.path.join(REPO, "package", "bin"))
    return subprocess.Popen(
        [sys.executable, "-m", "ta_openai_audit", "collect", "--base-url", api.base_url, "--state-file",
         os.path.join(workdir, "state.json"), "--output", os.path.join(workdir, "events.jsonl"), "--once",
         "--time-budget", budget],
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def main() -> None:
    for label, behaviour, options in (("300 MB body, chunked", "huge", {}),
                                      ("300 MB body, Content-Length", "huge", {"huge_length": True}),
                                      ("1.5 GB gzip bomb", "gzip_bomb", {})):
        with HostileApi(behaviour, **options) as api, tempfile.TemporaryDirectory() as workdir:
            if behaviour == "gzip_bomb":
                print("(gzip bomb: %d bytes compressed)" % len(api.bomb()))
            run = watch(collect(api, workdir, "30"))
            print("%-28s peak RSS %4.0f MB, %4.1f s, %d requests, exit %d (time budget 30 s)"
                  % (label, (run.peak_rss_kb or 0) / 1024, run.seconds, len(api.requests), run.returncode))
    now = int(time.time())
    with HostileApi("drip", spread(50, now - 3000, now - 5), max_hold=200) as api, \
            tempfile.TemporaryDirectory() as workdir:
        proc = collect(api, workdir, "48")
        started = time.monotonic()
        time.sleep(10)
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        run = watch(proc, 60, started)
        print("%-28s SIGTERM after 10 s: ended %.2f s later, exit %d (time budget 48 s)"
              % ("drip, one byte a second", time.monotonic() - signalled, run.returncode))


if __name__ == "__main__":
    main()
