"""The openai_audit_logs modular input: reads its configuration from splunkd, runs the engine's
collector and writes every audit log as one event. Called by the UCC-generated
openai_audit_logs.py (splunkd starts one process per input and interval).

Events: time = effective_at, sourcetype openai:audit, source openai_audit:<account> (or
openai_audit:<account>:backfill for the events of the input's initial window), data = the audit log
as compact JSON, unchanged. A page's events are written and flushed before the collector records the
page in the KV store checkpoint (ta_openai_audit_checkpoints, key = the input's full stanza name), so
a crash re-sends at most the page in flight and loses nothing.

Stopping: splunkd sends SIGTERM when it stops or the input is disabled; the handler cuts the request
or wait in flight (the client's stop()), so the run ends within a second with the checkpoint at the
last complete page. At the end of every run one ``checkpoint_summary`` line per stream goes to the
input's log (the Input Health dashboard reads it from index=_internal).
"""
from __future__ import annotations

import import_declare_test  # noqa: F401  (UCC: puts the add-on's lib/ first on sys.path)

import time
from typing import Any, Dict

from solnlib import log, utils
from splunklib import modularinput as smi

import ta_openai_audit_splunk as splunk_side
from ta_openai_audit.client import AuditLogClient
from ta_openai_audit.collector import Collector
from ta_openai_audit.errors import CollectorError, ConfigurationError
from ta_openai_audit.proxy import proxy_url_from_settings
from ta_openai_audit.settings import InputSettings

_stop_requested = False
_active_client = None


def _request_stop(signum: Any = None, frame: Any = None) -> None:
    # splunkd sends SIGTERM when it stops or the input is disabled: end the request or wait in
    # flight (nothing of its page is sent) and stop after the page being written, rather than die
    # between writing events and the checkpoint.
    global _stop_requested
    _stop_requested = True
    if _active_client is not None:
        _active_client.stop()


def validate_input(definition: smi.ValidationDefinition) -> None:
    """splunkd's external validation (--validate-arguments): the same parser as the engine."""
    try:
        InputSettings.from_stanza(definition.parameters)
    except ConfigurationError as exc:
        raise ValueError(str(exc)) from None


def stream_events(inputs: smi.InputDefinition, event_writer: smi.EventWriter) -> None:
    try:
        utils.handle_teardown_signals(_request_stop)
    except ValueError:  # not the main thread (only in tests that call this directly)
        pass
    session_key = inputs.metadata.get("session_key") or ""
    server_uri = inputs.metadata.get("server_uri") or ""
    for input_name, stanza in inputs.inputs.items():
        if _stop_requested:
            break
        run_input(input_name, stanza, session_key, server_uri, event_writer)


def run_input(input_name: str, stanza: Dict[str, Any], session_key: str, server_uri: str,
              event_writer: smi.EventWriter) -> None:
    """One poll of one input. Never raises: every failure is logged with its UCC category and
    the run ends, leaving the checkpoint where the last written page put it."""
    global _active_client
    short_name = input_name.split("://", 1)[-1]
    logger = splunk_side.get_logger(short_name)
    started = time.monotonic()
    log.modular_input_start(logger, short_name)
    try:
        location = splunk_side.splunkd_location(server_uri)
        level, proxy = splunk_side.read_settings(session_key, location)
        logger.setLevel(level)
        settings = InputSettings.from_stanza(stanza)
        account = splunk_side.read_account(session_key, location, settings.account)
        proxy_url = proxy_url_from_settings(proxy)
        store = splunk_side.open_checkpoints(session_key, location)
        client = AuditLogClient(
            account["base_url"],
            account["api_key"],
            proxy_url=proxy_url,
            ca_bundle=account["ca_bundle_path"],
            time_budget=settings.time_budget,  # the engine's one rule (settings.py)
            logger=logger,
        )
        _active_client = client
        if _stop_requested:  # SIGTERM arrived while the configuration was being read
            client.stop()
        # "default" is inputs.conf's word for "the default index", not an index name: leave the
        # event's index out and splunkd applies the input's setting.
        index = settings.index if settings.index and settings.index != "default" else None
        events = splunk_side.EventStream(event_writer, input_name, settings.account, index)
        collector = Collector(client, store, splunk_side.checkpoint_key(input_name), settings,
                              logger=logger, should_stop=lambda: _stop_requested)
        try:
            summary = collector.run(events)
        finally:
            _active_client = None
            events.flush()  # a page cut short by an error: its events go out, unrecorded (resent next run)
            client.close()
        for error in summary.errors:
            splunk_side.log_collector_error(logger, error, "input %s: " % short_name)
        log.events_ingested(logger, splunk_side.checkpoint_key(input_name), splunk_side.SOURCETYPE, summary.events,
                            settings.index or "default", account=settings.account)
        logger.info("input=%s %s seconds=%.1f", short_name, summary.line(), time.monotonic() - started)
        for stream in summary.streams:
            logger.info("checkpoint_summary input=%s %s", short_name,
                        stream.checkpoint_line(time.time(), summary.clock_skew, settings.overlap_seconds))
    except CollectorError as exc:
        splunk_side.log_collector_error(logger, exc, "input %s: " % short_name)
    except Exception as exc:  # a bug or an unforeseen failure: full traceback, secrets redacted
        splunk_side.log_unexpected_error(logger, exc, "input %s: " % short_name)
    finally:
        log.modular_input_end(logger, short_name)
