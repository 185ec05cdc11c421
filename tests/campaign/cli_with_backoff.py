"""Run the real CLI (``python -m ta_openai_audit ...``) with the client's backoff base scaled down.

The fault campaign makes ~1,500 requests of which ~18% fail; with the production backoff base
(1 s, full jitter) the run would spend minutes asleep. AuditLogClient takes no backoff argument
and the CLI has no flag for it, so this launcher sets the module constant the client reads on
every retry (``ta_openai_audit.client.BACKOFF_BASE``) and then runs the unchanged CLI module as
``__main__``. Everything else (arguments, signals, checkpoint, output) is the CLI as shipped.

    python cli_with_backoff.py BACKOFF_BASE collect --base-url ... --state-file ... --output ...
"""
from __future__ import annotations

import runpy
import sys

import ta_openai_audit.client as client


def main() -> None:
    client.BACKOFF_BASE = float(sys.argv[1])
    sys.argv = ["ta_openai_audit"] + sys.argv[2:]
    runpy.run_module("ta_openai_audit", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
