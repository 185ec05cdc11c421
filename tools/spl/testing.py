"""Helpers for tests: build a throwaway app directory from conf text."""
from __future__ import annotations

import os
import textwrap
from typing import Dict, Optional


def write_app(root: str, confs: Dict[str, str], lookups: Optional[Dict[str, str]] = None) -> str:
    """confs: {"props.conf": "...", ...} written to root/default; lookups: {"x.csv": "..."}."""
    os.makedirs(os.path.join(root, "default"), exist_ok=True)
    os.makedirs(os.path.join(root, "lookups"), exist_ok=True)
    for name, text in confs.items():
        with open(os.path.join(root, "default", name), "w", encoding="utf-8") as f:
            f.write(textwrap.dedent(text).lstrip("\n"))
    for name, text in (lookups or {}).items():
        with open(os.path.join(root, "lookups", name), "w", encoding="utf-8") as f:
            f.write(textwrap.dedent(text).lstrip("\n"))
    return root
