"""Offline, strict evaluator for the SPL subset TA-openai-audit uses (never shipped).

Python API::

    from tools.spl import App, SplError
    app = App.load("package", lookups_dir=None)   # or the built app directory;
                                                  # optimize=False: no shortcuts (reference runs)
    app.index_events(audit_logs)       # audit log dicts as the API returns them (optionally with
                                       # "_indextime"), or event dicts with _raw/_time/_indextime
    rows = app.search('`openai_audit` type=scim.* | stats count by type', now=1767225600)
    rows = app.search(spl, now=..., events=[...])   # over these events only, not the index
    rows = app.run_saved_search("OpenAI - SCIM Disabled", now=...)   # dispatch.* time range applied
    rows = app.run_saved_search(name, all_time=True)                  # no time range at all
    rows = app.run_saved_search(name, now=T, started=T + 240)         # a scheduled run started late
    app.seed_baseline(name, now=...)   # a baseline by hand over all history, _index_* terms removed
    fields = app.extract(audit_log)    # search-time fields of one event (knowledge-object tests);
                                       # raw values: str, int/float from EVAL-, lists for multivalues
    app.lookup_rows("openai_user_geo") # current rows of a lookup, e.g. after a baseline search
    app.is_baseline(name)              # True when the saved search ends with outputlookup

Rows are dicts of field -> str, or list of str for a multivalue field (as Splunk prints them);
null fields are absent; internal fields other than _time and _raw are dropped unless a `table` or
`fields` names them. _time prints as epoch seconds. Times are UTC.

Semantics follow Splunk's documentation; anything not implemented raises SplError naming it.
See tools/spl/README.md for the supported commands, functions and conf keys.

Command line: ``python -m tools.spl detect|run ...`` (see __main__.py / README.md).
"""
from __future__ import annotations

from .app import App
from .commands import SUPPORTED_COMMANDS
from .errors import SplError
from .evalexpr import SUPPORTED_FUNCTIONS
from .stats import SUPPORTED_STATS

__all__ = ["App", "SplError", "SUPPORTED_COMMANDS", "SUPPORTED_FUNCTIONS", "SUPPORTED_STATS"]
