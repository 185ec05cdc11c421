"""Errors raised by the SPL evaluator."""
from __future__ import annotations


class SplError(Exception):
    """Anything the evaluator refuses: unknown command, function, option or conf key,
    a syntax error, or a runtime type error Splunk would also report."""
