"""TA-openai-audit engine: collects OpenAI audit logs, runs inside and outside Splunk.

Plain Python 3.9-3.13, stdlib + requests. Layout:
    errors.py      error classes with UCC's error categories
    settings.py    input settings parser/validator, base URL check
    proxy.py       proxy URL from UCC's proxy tab
    client.py      AuditLogClient: pages of GET /v1/organization/audit_logs, retries, budget
    checkpoint.py  the checkpoint record (format, reader, validation) and its stores (file, memory)
    collector.py   Collector: the walk (new window, late-event sweep, slices, fetchers)
    __main__.py    python -m ta_openai_audit check|collect
"""
from __future__ import annotations

__version__ = "0.1.0"
