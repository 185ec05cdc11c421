"""Splunk .conf files: stanzas, ``key = value``, ``\\`` line continuation, ``#`` comments."""
from __future__ import annotations

import os
from typing import Dict

from .errors import SplError

Conf = Dict[str, Dict[str, str]]


def parse_conf_text(text: str, origin: str = "<text>") -> Conf:
    stanzas: Conf = {}
    current = stanzas.setdefault("default", {})
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        lineno = i + 1
        i += 1
        # A trailing backslash continues the value on the next line (the newline is kept).
        while line.endswith("\\") and i < len(lines):
            line = line[:-1] + "\n" + lines[i]
            i += 1
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("[") and stripped.endswith("]") and "\n" not in stripped:
            name = stripped[1:-1]
            current = stanzas.setdefault(name, {})
            continue
        if "=" not in line:
            raise SplError("%s:%d: not a stanza, comment or key = value line: %r" % (origin, lineno, line))
        key, value = line.split("=", 1)
        current[key.strip()] = value.strip()
    if not stanzas["default"]:
        del stanzas["default"]
    return stanzas


def parse_conf_file(path: str) -> Conf:
    with open(path, encoding="utf-8-sig") as f:
        return parse_conf_text(f.read(), path)


def load_app_conf(app_dir: str, name: str) -> Conf:
    """default/<name>.conf overlaid key by key with local/<name>.conf, as Splunk layers them."""
    merged: Conf = {}
    for layer in ("default", "local"):
        path = os.path.join(app_dir, layer, name + ".conf")
        if os.path.exists(path):
            for stanza, keys in parse_conf_file(path).items():
                merged.setdefault(stanza, {}).update(keys)
    return merged
