"""splunkd stand-in: the REST endpoints the add-on uses, on 127.0.0.1, stdlib only.

    from tools.splunkd_sim import SplunkdSim
    with SplunkdSim() as sd:
        sd.add_account("main", api_key, base_url=...)
        sd.uri, sd.session_key          # for the modular input's XML (server_uri, session_key)
        sd.kv_records("ta_openai_audit_checkpoints")
        sd.fail_kv_requests(3)           # next 3 KV requests: 503 "KV Store is initializing"
        sd.set_kv_unavailable(True)      # every KV request 503 until switched back

``python -m tools.splunkd_sim --port 0`` serves one until interrupted.
The directory ``splunk_stub/`` holds a stand-in for Splunk's private ``splunk.admin`` module
so the UCC REST handler scripts can run as a process outside splunkd (see its docstring).
"""
from __future__ import annotations

from .server import (
    ACCOUNT_CONF,
    APP,
    CRED_END_MARK,
    CRED_SEP,
    KV_INITIALIZING,
    SETTINGS_CONF,
    SplunkdSim,
    credential_realm,
    password_entry_name,
    wait_until,
)

__all__ = [
    "ACCOUNT_CONF",
    "APP",
    "CRED_END_MARK",
    "CRED_SEP",
    "KV_INITIALIZING",
    "SETTINGS_CONF",
    "SplunkdSim",
    "credential_realm",
    "password_entry_name",
    "wait_until",
]
