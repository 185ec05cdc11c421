"""Stand-in for ``splunk.clilib.bundle_paths``: solnlib asks it where $SPLUNK_HOME is."""
from __future__ import annotations

import os


def make_splunkhome_path(parts):
    home = os.path.abspath(os.environ["SPLUNK_HOME"])
    path = os.path.abspath(os.path.join(home, *parts))
    if os.path.commonpath([home, path]) != home:
        raise ValueError("path %r escapes SPLUNK_HOME" % (path,))
    return path
