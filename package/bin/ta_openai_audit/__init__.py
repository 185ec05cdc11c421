"""TA-openai-audit engine: collects OpenAI audit logs, runs inside and outside Splunk.

Plain Python 3.9-3.13, stdlib + requests. Layout:
    errors.py      error classes with UCC's error categories
    settings.py    input settings parser/validator, base URL check
    proxy.py       proxy URL from UCC's proxy tab
    client.py      AuditLogClient: pages of GET /v1/organization/audit_logs, retries, budget
    checkpoint.py  checkpoint stores (file, memory) and the checkpoint record format
    collector.py   Collector: the window/overlap/lag walk, exactly-once bookkeeping
    __main__.py    python -m ta_openai_audit check|collect
"""
from __future__ import annotations

__version__ = "0.1.0"
