"""The limits.conf settings the evaluator emulates, with Splunk's documented defaults; an app's
default/local limits.conf may override them. Any other limits.conf stanza or key is an error,
since its effect would not be reproduced here.

Sources (limits.conf.spec, https://docs.splunk.com/Documentation/Splunk/latest/Admin/Limitsconf):
- [rex] match_limit = 100000, depth_limit = 1000: PCRE limits of the rex command.
- [spath] extraction_cutoff = 5000: "For 'extract-all' spath extraction mode, this setting applies
  extraction only to the first <integer> number of bytes. This setting applies both the auto kv
  extraction and the spath command, when explicitly extracting fields."
- [stats] max_stream_window = 10000: the largest streamstats window; the streamstats reference:
  "If you don't set the time_window or the window arguments, the default of 10,000 events set by
  the max_stream_window in the limits.conf file applies"
  (https://help.splunk.com/splunk-enterprise/spl-search-reference/9.4/search-commands/streamstats).
"""
from __future__ import annotations

from typing import Dict

from .errors import SplError
from .pcre import DEFAULT_DEPTH_LIMIT, DEFAULT_MATCH_LIMIT

DEFAULTS = {
    "rex": {"match_limit": DEFAULT_MATCH_LIMIT, "depth_limit": DEFAULT_DEPTH_LIMIT},
    "spath": {"extraction_cutoff": 5000},
    "stats": {"max_stream_window": 10000},
}


class Limits:
    def __init__(self, conf: Dict[str, Dict[str, str]]):
        values = {stanza: dict(keys) for stanza, keys in DEFAULTS.items()}
        for stanza, keys in conf.items():
            if stanza not in DEFAULTS:
                raise SplError("limits.conf [%s]: not emulated by the evaluator" % stanza)
            for key, text in keys.items():
                if key not in DEFAULTS[stanza]:
                    raise SplError("limits.conf [%s]: %s is not emulated by the evaluator" % (stanza, key))
                try:
                    values[stanza][key] = int(text)
                except ValueError:
                    raise SplError("limits.conf [%s]: %s = %r is not an integer" % (stanza, key, text))
        self.rex_match_limit = values["rex"]["match_limit"]
        self.rex_depth_limit = values["rex"]["depth_limit"]
        self.extraction_cutoff = values["spath"]["extraction_cutoff"]
        self.max_stream_window = values["stats"]["max_stream_window"]
