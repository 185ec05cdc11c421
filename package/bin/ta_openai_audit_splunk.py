"""The add-on's only contact with splunkd (solnlib/splunklib), shared by the modular input
shim and the two REST handlers. The engine (``ta_openai_audit``) never imports this.

- where splunkd is: the ``server_uri`` splunkd hands the input (or SPLUNKD_URI for handlers);
  solnlib is always given scheme/host/port, so nothing depends on reading server.conf;
- the account (API key decrypted from storage/passwords by solnlib's conf manager), the
  settings (log level, proxy) and the KV store checkpoint collection;
- loggers: solnlib's, one file per input under $SPLUNK_HOME/var/log/splunk, with every secret
  this process has read redacted from every line; errors logged with UCC's categories.
"""
from __future__ import annotations

import logging
import os
import sys
from typing import Any, Dict, Iterable, List, Optional, Tuple
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

from solnlib import conf_manager, log
from solnlib.modular_input import checkpointer
from solnlib.soln_exceptions import ConfManagerException, ConfStanzaNotExistException

from ta_openai_audit.checkpoint import checkpoint_keys
from ta_openai_audit.errors import CheckpointError, CollectorError, ConfigurationError, escape_controls

ADDON_NAME = "TA-openai-audit"
INPUT_TYPE = "openai_audit_logs"
ACCOUNT_CONF = "ta_openai_audit_account"
SETTINGS_CONF = "ta_openai_audit_settings"
CHECKPOINT_COLLECTION = "ta_openai_audit_checkpoints"
SOURCETYPE = "openai:audit"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
ENCRYPTED_PLACEHOLDER = "******"
# What solnlib's KV store client does on 503 (KV store still starting): no retry inside the
# HTTP adapter, so the only retries are solnlib's own (4 attempts, 1 s, 2 s, 4 s apart) and a
# KV store that stays down ends the run after about 7 s instead of several minutes.
KV_CONTEXT = {"retry_status_codes": [500, 502, 504], "max_retries": 2}

Location = Tuple[str, str, int]


def credential_realm(conf: str) -> str:
    """The storage/passwords realm UCC uses for the encrypted fields of ``conf``."""
    return "__REST_CREDENTIAL__#%s#configs/conf-%s" % (ADDON_NAME, conf)


def event_sources(account: str) -> Tuple[str, str]:
    """(source, backfill source) of the events of an account. Events of an input's initial window
    (its first walk, before any high_water: the history read from ``start``) carry the backfill
    source, so that detections can leave replayed history alone; every later window, late events
    caught in the overlap included, carries the normal one."""
    source = "openai_audit:%s" % account
    return source, source + ":backfill"


def checkpoint_key(input_name: str) -> str:
    """The KV record key of an input: its full stanza name (the tenant stream adds ":tenant")."""
    return input_name if "://" in input_name else "%s://%s" % (INPUT_TYPE, input_name)


def input_checkpoint_keys(input_name: str) -> List[str]:
    """Every checkpoint record of an input (the engine's streams), deleted with the input."""
    return checkpoint_keys(checkpoint_key(input_name))


def splunkd_location(server_uri: str) -> Location:
    """(scheme, host, port) of splunkd from a URI such as https://127.0.0.1:8089."""
    parts = urlsplit(server_uri or "")
    if parts.scheme not in ("http", "https") or not parts.hostname or not parts.port:
        raise ConfigurationError("splunkd URI %r is not of the form https://host:port" % (server_uri,))
    return parts.scheme, parts.hostname, parts.port


def _location_kwargs(location: Location) -> Dict[str, Any]:
    scheme, host, port = location
    return {"scheme": scheme, "host": host, "port": port}


# ------------------------------------------------------------------------------------ logging
class SecretRedactor(logging.Filter):
    """Replaces every registered secret in a log record by ``***`` and escapes control characters
    in its message, so that no text (a server's, say) can start a forged line of the input log
    (defence in depth: the engine already cleans what the server sends)."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set = set()

    def add(self, *secrets: Optional[str]) -> None:
        for secret in secrets:
            if secret and len(secret) >= 4:
                self._secrets.add(secret)

    def redact(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = escape_controls(self.redact(message))
        if self._secrets:
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = self.redact(record.exc_text)  # a traceback keeps its lines
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


REDACTOR = SecretRedactor()


def get_logger(name: str) -> logging.Logger:
    """solnlib's file logger ``ta-openai-audit_<name>`` ($SPLUNK_HOME/var/log/splunk/<that>.log),
    or a stderr logger when SPLUNK_HOME is not set (splunkd always sets it)."""
    logger_name = "%s_%s" % (ADDON_NAME.lower(), name)
    splunk_home = os.environ.get("SPLUNK_HOME")
    if splunk_home:
        directory = os.path.join(splunk_home, "var", "log", "splunk")
        os.makedirs(directory, exist_ok=True)
        # Given explicitly: solnlib would otherwise ask Splunk's private modules for the path.
        log.Logs.set_context(directory=directory)
        logger = log.Logs().get_logger(logger_name)
    else:
        logger = logging.getLogger(logger_name)
        if not logger.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
            logger.addHandler(handler)
            logger.propagate = False
    if REDACTOR not in logger.filters:
        logger.addFilter(REDACTOR)
    return logger


_CATEGORY_LOGGERS = {
    "authentication": log.log_authentication_error,
    "permission": log.log_permission_error,
    "connection": log.log_connection_error,
    "server": log.log_server_error,
    "configuration": log.log_configuration_error,
}
_CATEGORY_LABELS = {"data": "Data Error", "checkpoint": "Checkpoint Error"}


def log_collector_error(logger: logging.Logger, exc: CollectorError, before: str = "") -> None:
    """Log an engine error under its UCC category (the monitoring dashboard groups by exc_l).
    Known errors are logged as their message only: the admin needs the message, not a stack."""
    category = getattr(exc, "category", "server")
    helper = _CATEGORY_LOGGERS.get(category)
    if helper is not None:
        helper(logger, exc, full_msg=False, msg_before=before)
    else:
        log.log_exception(logger, exc, _CATEGORY_LABELS.get(category, "Data Error"), full_msg=False,
                          msg_before=before)


def log_unexpected_error(logger: logging.Logger, exc: BaseException, before: str = "") -> None:
    log.log_exception(logger, exc, "Unexpected Error", full_msg=True, msg_before=before)


# ------------------------------------------------------------------------------ configuration
def _conf(session_key: str, location: Location, conf: str) -> conf_manager.ConfFile:
    cfm = conf_manager.ConfManager(session_key, ADDON_NAME, realm=credential_realm(conf),
                                   **_location_kwargs(location))
    return cfm.get_conf(conf)


def _clean(stanza: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in stanza.items() if not k.startswith("eai:") and k != "disabled"}


def read_account(session_key: str, location: Location, name: str) -> Dict[str, Any]:
    """The account stanza with its API key in clear; ConfigurationError when it is missing."""
    if not name:
        raise ConfigurationError("the input names no account: pick one of the accounts on the Configuration page")
    try:
        stanza = _clean(_conf(session_key, location, ACCOUNT_CONF).get(name))
    except (ConfManagerException, ConfStanzaNotExistException):
        raise ConfigurationError(
            "account %r does not exist: add it on the add-on's Configuration page (Accounts tab)" % (name,)
        ) from None
    api_key = stanza.get("api_key")
    if not api_key or api_key == ENCRYPTED_PLACEHOLDER:
        raise ConfigurationError(
            "account %r has no readable API key: edit the account and enter the key again" % (name,)
        )
    REDACTOR.add(api_key)
    return {
        "api_key": api_key,
        "base_url": (stanza.get("base_url") or DEFAULT_BASE_URL).strip(),
        "ca_bundle_path": (stanza.get("ca_bundle_path") or "").strip() or None,
    }


def read_settings(session_key: str, location: Location) -> Tuple[str, Optional[Dict[str, Any]]]:
    """(log level, proxy stanza or None). A missing settings file or stanza means defaults."""
    try:
        conf = _conf(session_key, location, SETTINGS_CONF)
    except ConfManagerException:
        return "INFO", None
    level = "INFO"
    proxy = None
    try:
        level = (conf.get("logging").get("loglevel") or "INFO").upper()
    except ConfStanzaNotExistException:
        pass
    try:
        proxy = _clean(conf.get("proxy"))
        REDACTOR.add(proxy.get("proxy_password"))
    except ConfStanzaNotExistException:
        pass
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        level = "INFO"
    return level, proxy


def inputs_of_account(session_key: str, location: Location, account: str) -> List[str]:
    """Names of the add-on's inputs (enabled or not) that read with ``account``."""
    try:
        stanzas = _conf(session_key, location, "inputs").get_all(only_current_app=True)
    except ConfManagerException:  # the app has no inputs.conf yet
        return []
    prefix = INPUT_TYPE + "://"
    return sorted(name[len(prefix):] for name, stanza in stanzas.items()
                  if name.startswith(prefix) and (stanza.get("account") or "").strip() == account)


# ------------------------------------------------------------------------------- event stream
class EventStream:
    """How the input hands events to splunkd (the collector's sink): the ``<stream>`` of
    splunklib's EventWriter, with the elements and attributes splunklib's ``Event.write_to`` gives
    an event, written one page at a time.

    ``emit`` serialises an event into the page buffer; ``flush`` writes the buffer in one write and
    flushes it. The collector calls ``flush`` before every checkpoint write, so a checkpoint never
    records a page splunkd has not received. One write per page rather than one per event, and no
    ElementTree per event, is most of the input's speed (docs/benchmarks.md).
    The event data is the collector's JSON: it holds no character XML 1.0 forbids (JSON escapes
    control characters; the collector escapes lone surrogates, U+FFFE and U+FFFF), so escaping
    ``&``, ``<`` and ``>`` is all it needs.
    """

    def __init__(self, event_writer: Any, stanza: str, account: str, index: Optional[str]):
        self._writer = event_writer
        # splunklib keeps the stream it was given (sys.stdout under splunkd) in _out
        self._out = event_writer._out
        self._head = "<event stanza=%s unbroken=\"1\"><time>" % quoteattr(stanza)
        # (normal, backfill): the part between the time and the data for each source
        self._middles = tuple(self._middle(source, index) for source in event_sources(account))
        self._buffer: list = []

    @staticmethod
    def _middle(source: str, index: Optional[str]) -> str:
        meta = "<source>%s</source><sourcetype>%s</sourcetype>" % (escape(source), escape(SOURCETYPE))
        if index:
            meta += "<index>%s</index>" % escape(index)
        return "</time>" + meta + "<data>"

    def emit(self, raw: str, effective_at: int, event: Any, backfill: bool) -> None:
        """One event; ``backfill``: it belongs to the input's initial window (its source says so)."""
        self._buffer.append(
            "%s%d%s%s</data><done /></event>" % (self._head, effective_at, self._middles[backfill], escape(raw))
        )

    def flush(self) -> None:
        if not self._buffer:
            return
        if not self._writer.header_written:
            self._out.write("<stream>")
            self._writer.header_written = True
        self._out.write("".join(self._buffer))
        self._out.flush()
        self._buffer = []


# ---------------------------------------------------------------------------------- KV store
def open_checkpoints(session_key: str, location: Location) -> checkpointer.KVStoreCheckpointer:
    """solnlib's KV store checkpointer on the add-on's collection. Raises CheckpointError when
    the KV store cannot be reached (for instance 503 while it starts) after solnlib's retries."""
    try:
        return checkpointer.KVStoreCheckpointer(
            CHECKPOINT_COLLECTION, session_key, ADDON_NAME, **_location_kwargs(location), **dict(KV_CONTEXT)
        )
    except Exception as exc:  # binding.HTTPError, CheckpointerException, connection errors
        raise CheckpointError(
            "the KV store collection %s cannot be opened (%s); nothing was collected, the next "
            "run retries" % (CHECKPOINT_COLLECTION, describe_splunkd_error(exc))
        ) from None


def delete_checkpoints(session_key: str, location: Location, keys: Iterable[str]) -> None:
    store = open_checkpoints(session_key, location)
    for key in keys:
        try:
            store.delete(key)  # a missing record is not an error (solnlib ignores 404)
        except Exception as exc:
            raise CheckpointError(
                "the checkpoint %r cannot be deleted (%s)" % (key, describe_splunkd_error(exc))
            ) from None


def describe_splunkd_error(exc: BaseException) -> str:
    status = getattr(exc, "status", None)
    if status == 503:
        return "the KV store is not ready yet: %s" % exc
    if status is not None:
        return "splunkd answered %s" % exc
    return "%s: %s" % (type(exc).__name__, exc)
