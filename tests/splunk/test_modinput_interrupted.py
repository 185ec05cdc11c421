"""A run that splunkd stops (SIGTERM) or that dies (SIGKILL) in the middle of a backlog: the next
run continues from the KV store checkpoint. Stopped: every event exactly once. Killed: nothing lost,
and at most the page in flight sent twice."""
from __future__ import annotations

import collections
import json
import os
import random
import signal
import time
import xml.etree.ElementTree as ET

import pytest

from tools.openai_api_sim import DEFAULT_KEY, ApiSim
from tools.openai_api_sim.generator import EVENT_TYPES, is_tenant_scoped, make_event

PAGE = 100
PARAMS = {"account": "main", "index": "openai", "interval": "60", "start": "3", "tenant_scoped": "0",
          "lag_seconds": "0", "overlap_seconds": "900"}


def complete_events(stdout: str):
    """The complete <event> elements of a stream that may have been cut off."""
    body = stdout.split("<stream>", 1)[-1].split("</stream>", 1)[0]
    end = body.rfind("</event>")
    body = body[: end + len("</event>")] if end >= 0 else ""
    root = ET.fromstring("<stream>%s</stream>" % body)
    return [json.loads(e.find("data").text)["id"] for e in root.findall("event")]


def read_until(proc, n_events: int, timeout: float = 60.0) -> bytes:
    """Read stdout until at least n_events complete events arrived (the input flushes each)."""
    out = b""
    deadline = time.monotonic() + timeout
    fd = proc.stdout.fileno()
    while out.count(b"</event>") < n_events:
        assert time.monotonic() < deadline, "the input wrote only %d events" % out.count(b"</event>")
        chunk = os.read(fd, 65536)
        assert chunk, "the input ended after %d events" % out.count(b"</event>")
        out += chunk
    return out


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_interrupted_run_is_continued_by_the_next(harness, sig):
    rng = random.Random(13)
    now = int(time.time())
    org_types = [t for t in EVENT_TYPES if not is_tenant_scoped(t)]  # the input is not tenant-scoped
    events = [make_event(rng.choice(org_types), rng=rng, effective_at=now - rng.randint(60, 2 * 86400))
              for _ in range(1500)]
    with ApiSim(events=events, seed=13, latency_ms=60) as api:
        harness.splunkd.add_account("main", DEFAULT_KEY, base_url=api.base_url)
        proc = harness.start_input({"main": PARAMS})
        try:
            out = read_until(proc, 3 * PAGE + 1)
            proc.send_signal(sig)
            rest, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        first = complete_events((out + rest).decode("utf-8"))
        assert 3 * PAGE < len(first) < len(events)
        if sig == signal.SIGTERM:
            assert proc.returncode == 0, err.decode()
            assert (out + rest).decode().rstrip().endswith("</stream>")  # a clean end
        second = harness.run_input({"main": PARAMS})
        assert second.returncode == 0, second.stderr
        ids = first + [json.loads(e["data"])["id"] for e in second.events]
        counts = collections.Counter(ids)
        assert set(counts) == {e["id"] for e in events}  # nothing lost
        doubled = [i for i, c in counts.items() if c > 1]
        if sig == signal.SIGTERM:
            assert doubled == []
        else:
            assert len(doubled) <= PAGE and all(c == 2 for c in counts.values() if c > 1)
