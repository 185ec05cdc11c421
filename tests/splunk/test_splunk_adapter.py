"""Unit tests of package/bin/ta_openai_audit_splunk.py (no process, no server)."""
from __future__ import annotations

import logging
import os
import subprocess
import urllib.request

import pytest

import ta_openai_audit_splunk as splunk_side
from ta_openai_audit.errors import (
    ApiUnavailableError,
    AuthenticationError,
    CheckpointError,
    ConfigurationError,
    MalformedPageError,
    PermissionDeniedError,
    TLSVerificationError,
)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class ListHandler(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(self.format(record))


@pytest.fixture
def logger():
    log = logging.getLogger("test_splunk_adapter.%d" % id(object()))
    handler = ListHandler()
    log.addHandler(handler)
    log.propagate = False
    log.setLevel(logging.DEBUG)
    log.lines = handler.lines
    return log


def test_splunkd_location_from_server_uri():
    assert splunk_side.splunkd_location("https://127.0.0.1:8089") == ("https", "127.0.0.1", 8089)
    assert splunk_side.splunkd_location("http://[::1]:18089") == ("http", "::1", 18089)
    for bad in ("", "127.0.0.1:8089", "https://host", "ftp://h:1"):
        with pytest.raises(ConfigurationError):
            splunk_side.splunkd_location(bad)


def test_checkpoint_keys_are_the_full_stanza_name():
    assert splunk_side.input_checkpoint_keys("main") == ["openai_audit_logs://main", "openai_audit_logs://main:tenant"]
    assert splunk_side.checkpoint_key("openai_audit_logs://main") == "openai_audit_logs://main"


def test_redactor_removes_secrets_from_messages_and_tracebacks(logger):
    redactor = splunk_side.SecretRedactor()
    redactor.add("sk-admin-SECRETSECRET", None, "", "abc")  # empty and tiny values are ignored
    logger.addFilter(redactor)
    logger.info("key=%s here", "sk-admin-SECRETSECRET")
    try:
        raise ValueError("boom sk-admin-SECRETSECRET")
    except ValueError:
        logger.exception("failed")
    text = "\n".join(logger.lines)
    assert "SECRETSECRET" not in text
    assert "key=*** here" in text and "boom ***" in text
    assert redactor.redact("xabcx") == "xabcx"  # values under 4 characters are not registered


@pytest.mark.parametrize("exc, label", [
    (AuthenticationError("401"), "Authentication Error"),
    (PermissionDeniedError("403"), "Permission Error"),
    (TLSVerificationError("cert"), "Connection Error"),
    (ApiUnavailableError("budget"), "Server Error"),
    (ConfigurationError("bad"), "Configuration Error"),
    (MalformedPageError("page"), "Data Error"),
    (CheckpointError("kv"), "Checkpoint Error"),
])
def test_errors_are_logged_with_ucc_categories(logger, exc, label):
    splunk_side.log_collector_error(logger, exc, "input x: ")
    assert len(logger.lines) == 1
    assert logger.lines[0].startswith('exc_l="%s" input x: ' % label)
    assert "Traceback" not in logger.lines[0]


def test_splunkd_stand_in_runs_on_the_pythons_splunk_ships(splunk_pythons):
    for python in splunk_pythons:
        proc = subprocess.Popen([python, "-m", "tools.splunkd_sim", "--port", "0", "--session-key", "k" * 32],
                                cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = proc.stdout.readline()
            assert line.startswith("listening on http://127.0.0.1:"), (python, line, proc.stderr.read() if proc.poll() else "")
            uri = line.split()[2]
            request = urllib.request.Request(uri + "/servicesNS/nobody/TA-openai-audit/storage/collections/config",
                                             headers={"Authorization": "Splunk " + "k" * 32})
            with urllib.request.urlopen(request, timeout=10) as resp:
                assert resp.status == 200
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        assert proc.returncode == 0, python


def test_event_stream_writes_what_splunklib_writes_one_page_at_a_time():
    """EventStream serialises events itself (speed); splunkd must get exactly the XML that
    splunklib's Event.write_to would give, and nothing before the page is flushed."""
    import io
    import xml.etree.ElementTree as ET

    from splunklib import modularinput as smi
    raw = '{"id":"audit_log-1","type":"x<y>&\\"z\\"","effective_at":1795600000,"s":"]]></data>\\u0001"}'
    ours, theirs = io.StringIO(), io.StringIO()
    ours_writer = smi.EventWriter(output=ours, error=io.StringIO())
    stream = splunk_side.EventStream(ours_writer, 'openai_audit_logs://a"&b', "a<b>", "main")
    stream.emit(raw, 1795600000, None, False)
    stream.emit(raw, 1795600001, None, True)
    assert ours.getvalue() == ""  # buffered until the collector flushes it (before its checkpoint write)
    stream.flush()
    ours_writer.close()
    theirs_writer = smi.EventWriter(output=theirs, error=io.StringIO())
    for at, source in ((1795600000, "openai_audit:a<b>"), (1795600001, "openai_audit:a<b>:backfill")):
        theirs_writer.write_event(smi.Event(data=raw, time=at, index="main", sourcetype="openai:audit",
                                            source=source, stanza='openai_audit_logs://a"&b'))
    theirs_writer.close()

    def canonical(document):
        return [(e.attrib, [(c.tag, c.text) for c in e]) for e in ET.fromstring(document)]

    assert canonical(ours.getvalue()) == canonical(theirs.getvalue())
    assert ET.fromstring(ours.getvalue())[0].find("data").text == raw

