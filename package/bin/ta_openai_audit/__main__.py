"""Command line for admins (troubleshooting on a forwarder) and for benchmarks.

    PYTHONPATH=package/bin OPENAI_ADMIN_KEY=sk-admin-... python -m ta_openai_audit check --base-url URL
    ... python -m ta_openai_audit collect --base-url URL --state-file state.json --output events.jsonl --once

The key is read only from the environment (never from the command line, where `ps` shows it).
`collect` holds an exclusive lock on the state file for as long as it runs: a second process on the
same file is refused (two would write every event twice).
"""
from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
import sys
import threading
import time
from typing import Any, Dict, List, Optional

from . import __version__
from .checkpoint import FileCheckpointStore
from .client import AuditLogClient
from .collector import Collector
from .errors import CheckpointError, CollectorError, ConfigurationError, escape_controls
from .settings import (
    DEFAULT_BACKFILL_CONCURRENCY,
    DEFAULT_INTERVAL,
    DEFAULT_LAG,
    DEFAULT_OVERLAP,
    DEFAULT_START_DAYS,
    DEFAULT_TENANT_SCOPED,
    MAX_BACKFILL_CONCURRENCY,
    MAX_TIME_BUDGET,
    MIN_TIME_BUDGET,
    TIME_BUDGET_SHARE,
    InputSettings,
)

KEY_ENV = "OPENAI_ADMIN_KEY"
CLOCK_SKEW_LIMIT = 30.0
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _CleanLog(logging.Filter):
    """The key never reaches stderr, and no text can start a line of its own there."""

    def __init__(self, secret: str):
        super().__init__()
        self._secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = escape_controls(message.replace(self._secret, "[REDACTED]"))
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ta_openai_audit",
        description="OpenAI audit log collector (TA-openai-audit %s). The admin key is read from $%s."
        % (__version__, KEY_ENV),
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = parser.add_subparsers(dest="command")
    sub.required = True

    def connection_options(p: argparse.ArgumentParser) -> None:
        # Also accepted after the command; SUPPRESS keeps the top-level value when absent here.
        p.add_argument("--log-level", default=argparse.SUPPRESS, choices=["DEBUG", "INFO", "WARNING", "ERROR"])
        p.add_argument("--base-url", required=True, help="e.g. https://api.openai.com/v1")
        p.add_argument("--ca-bundle", help="PEM file of CAs to trust (TLS verification is always on)")
        p.add_argument("--proxy", help="proxy URL: http://, socks5:// or socks5h://[user:pass@]host:port (a password "
                       "here is visible in the process list)")
        p.add_argument("--timeout", type=float, default=60.0, help="read timeout in seconds (default 60)")

    check = sub.add_parser("check", help="connectivity, authentication, permission and clock skew")
    connection_options(check)

    collect = sub.add_parser("collect", help="collect audit logs into a JSON-lines file")
    connection_options(collect)
    collect.add_argument("--state-file", required=True, help="checkpoint file (written atomically)")
    collect.add_argument("--output", required=True, help="JSON-lines file the events are appended to")
    collect.add_argument("--name", default="cli", help="checkpoint key inside the state file (default cli)")
    # Defaults are the input's (settings.py): an option left out is left out of the stanza.
    collect.add_argument("--start", help="first run: ISO date/datetime, Unix seconds or days back (default %d)"
                         % DEFAULT_START_DAYS)
    collect.add_argument("--tenant-scoped", action=argparse.BooleanOptionalAction, default=None,
                         help="also collect tenant-scoped events (default: %s)" % ("yes" if DEFAULT_TENANT_SCOPED else "no"))
    collect.add_argument("--lag", help="seconds behind now the window ends (default %d)" % DEFAULT_LAG)
    collect.add_argument("--overlap", help="seconds each window re-reads for late events (default %d)" % DEFAULT_OVERLAP)
    collect.add_argument("--interval", help="seconds between polls (default %d)" % DEFAULT_INTERVAL)
    collect.add_argument("--time-budget", type=float, help="seconds of retrying per page (default %g x interval, "
                         "%d to %d)" % (TIME_BUDGET_SHARE, MIN_TIME_BUDGET, MAX_TIME_BUDGET))
    collect.add_argument("--event-types", help="comma-separated event types (default: all)")
    collect.add_argument("--project-ids", help="comma-separated project ids (default: all)")
    collect.add_argument("--backfill-concurrency", help="time slices of a large window read at once (default %d, "
                         "1 to %d)" % (DEFAULT_BACKFILL_CONCURRENCY, MAX_BACKFILL_CONCURRENCY))
    collect.add_argument("--no-prefetch", dest="prefetch", action="store_false",
                         help="fetch each page only after the one before is written (benchmarks, troubleshooting)")
    collect.add_argument("--once", action="store_true", help="one poll, then exit")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    api_key = os.environ.get(KEY_ENV, "").strip()
    if not api_key:
        print("error: set the %s environment variable to the admin API key" % KEY_ENV, file=sys.stderr)
        return EXIT_USAGE
    for handler in logging.getLogger().handlers:
        handler.addFilter(_CleanLog(api_key))
    try:
        if args.command == "check":
            return _check(args, api_key)
        return _collect(args, api_key)
    except ConfigurationError as exc:
        print("error: %s" % _clean_text(exc, api_key), file=sys.stderr)
        return EXIT_USAGE


def _clean_text(value: Any, api_key: str) -> str:
    return escape_controls(str(value).replace(api_key, "[REDACTED]"))


def _client(args: argparse.Namespace, api_key: str, **kwargs: Any) -> AuditLogClient:
    if args.proxy and args.proxy.split("://", 1)[0] not in ("http", "https", "socks4", "socks4a", "socks5", "socks5h"):
        raise ConfigurationError("--proxy must start with http://, socks4://, socks5:// or socks5h://")
    return AuditLogClient(
        args.base_url,
        api_key,
        proxy_url=args.proxy or None,
        ca_bundle=args.ca_bundle or None,
        read_timeout=args.timeout,
        logger=logging.getLogger("ta_openai_audit.client"),
        **kwargs,
    )


def _check(args: argparse.Namespace, api_key: str) -> int:
    client = _client(args, api_key)
    lines: List[str] = []
    ok = True
    server_date = local_time = None
    try:
        result = client.probe()
    except CollectorError as exc:
        ok = False
        if exc.category in ("authentication", "permission"):
            lines.append("connectivity: ok (the API answered)")
            if exc.category == "authentication":
                lines.append("authentication: FAILED (%s)" % exc)
                lines.append("permission: not checked (authentication failed)")
            else:
                lines.append("authentication: ok")
                lines.append("permission: FAILED (%s)" % exc)
            server_date, local_time = exc.server_date, time.time()
        else:
            lines.append("connectivity: FAILED (%s: %s)" % (exc.category, exc))
            lines.append("authentication: not checked")
            lines.append("permission: not checked")
    else:
        lines.append("connectivity: ok (HTTP %d in %.2fs from %s)" % (result.status, result.elapsed, client.base_url))
        lines.append("authentication: ok")
        lines.append("permission: ok (audit logs readable; %d event on the first page)" % result.events)
        server_date, local_time = result.server_date, result.local_time
    finally:
        client.close()
    if server_date is None or local_time is None:
        # Not a failure by itself: without a response there is nothing to compare against.
        lines.append("clock skew: not checked (no Date header from the server)")
    else:
        skew = local_time - (server_date + 0.5)  # the Date header is truncated to the second
        direction = "ahead of" if skew >= 0 else "behind"
        # The Date header has one-second resolution.
        if abs(skew) <= CLOCK_SKEW_LIMIT:
            lines.append("clock skew: ok (local clock %.1fs %s the server's)" % (abs(skew), direction))
        else:
            ok = False
            lines.append(
                "clock skew: FAILED (local clock %.0fs %s the server's; more than %.0fs shifts the collection "
                "window: fix NTP on this host)" % (abs(skew), direction, CLOCK_SKEW_LIMIT)
            )
    for line in lines:
        print(line)
    sys.stdout.flush()
    return EXIT_OK if ok else EXIT_FAILED


class _JsonLines:
    """The collector's sink: one event per line; flush() (before every checkpoint write) puts the
    lines on disk, so a checkpoint never points past events that are not there."""

    def __init__(self, output: Any):
        self._output = output

    def emit(self, raw_json: str, effective_at: int, event: Dict[str, Any], backfill: bool) -> None:
        self._output.write(raw_json + "\n")

    def flush(self) -> None:
        self._output.flush()
        try:
            os.fsync(self._output.fileno())
        except OSError as exc:
            if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):  # a pipe or a terminal
                raise


def _collect(args: argparse.Namespace, api_key: str) -> int:
    stanza = {
        "start": args.start,
        "tenant_scoped": args.tenant_scoped,
        "lag_seconds": args.lag,
        "overlap_seconds": args.overlap,
        "interval": args.interval,
        "event_types": args.event_types,
        "project_ids": args.project_ids,
        "backfill_concurrency": args.backfill_concurrency,
    }
    settings = InputSettings.from_stanza(stanza, min_interval=1)
    budget = args.time_budget if args.time_budget is not None else settings.time_budget

    stop = threading.Event()
    client = _client(args, api_key, time_budget=budget)
    state_store = FileCheckpointStore(args.state_file)
    try:
        state_store.lock()
    except CheckpointError as exc:
        client.close()
        print("error: %s" % exc, file=sys.stderr)
        return EXIT_FAILED

    def on_signal(signum: int, frame: Any) -> None:
        # Ends the request or retry wait in flight at once (nothing of its page is written).
        stop.set()
        client.stop()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    _repair_last_line(args.output)
    exit_code = EXIT_OK
    try:
        with open(args.output, "a", encoding="utf-8") as output:
            collector = Collector(
                client, state_store, args.name, settings, logger=logging.getLogger("ta_openai_audit.collector"),
                should_stop=stop.is_set, prefetch=args.prefetch,
            )
            while True:
                summary = collector.run(_JsonLines(output))
                exit_code = EXIT_FAILED if summary.errors else EXIT_OK
                for error in summary.errors:
                    print("error: %s: %s" % (error.category, _clean_text(error, api_key)), file=sys.stderr)
                    if isinstance(error, ConfigurationError):
                        args.once = True  # retrying cannot fix a setting
                for stream in summary.streams:
                    line = stream.checkpoint_line(time.time(), summary.clock_skew, settings.overlap_seconds)
                    logging.getLogger("ta_openai_audit").info("checkpoint_summary input=%s %s", args.name, line)
                print(summary.line())
                sys.stdout.flush()
                if args.once or stop.is_set() or stop.wait(settings.interval):
                    break
    finally:
        client.close()
        state_store.unlock()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if stop.is_set():
        print("stopped; the checkpoint is consistent", file=sys.stderr)
    return exit_code


def _repair_last_line(path: str) -> None:
    """A process killed mid-write can leave a last line without its newline; end it, so the next
    event starts on a line of its own (the cut event is resent: the checkpoint did not cover it)."""
    if not os.path.isfile(path):  # absent, or a pipe / terminal such as /dev/stdout
        return
    try:
        with open(path, "rb+") as handle:
            handle.seek(0, os.SEEK_END)
            if handle.tell() == 0:
                return
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) != b"\n":
                handle.write(b"\n")
    except FileNotFoundError:
        return


if __name__ == "__main__":
    sys.exit(main())
