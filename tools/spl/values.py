"""Field values as the evaluator holds them.

A row is a dict: field name -> value, where a value is a str, an int or float (eval results), or a
list of two or more of those (a multivalue field). A missing key is null. Booleans exist only
inside eval/where expressions and can never be stored in a field.
"""
from __future__ import annotations

import functools
import math
import re
from typing import Any, List, Optional

from .errors import SplError

_NUM_RE = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*\Z")
_INT_RE = re.compile(r"\s*[+-]?\d+\s*\Z")


def to_num(v: Any) -> Optional[float]:
    """The number a value stands for, or None (strings that look numeric count as numbers)."""
    t = type(v)
    if t is int or t is float:
        return v
    if t is str:
        if _NUM_RE.match(v):
            if _INT_RE.match(v):
                return int(v)
            return float(v)
        return None
    return None


def fmt(v: Any) -> str:
    """A scalar as Splunk prints it."""
    t = type(v)
    if t is str:
        return v
    if t is bool:
        raise SplError("a boolean cannot be stored in a field")
    if t is int:
        return str(v)
    if t is float:
        if math.isnan(v) or math.isinf(v):
            return str(v)
        if v == int(v) and abs(v) < 1e16:
            return str(int(v))
        return repr(v)
    return str(v)


def values_of(v: Any) -> List[Any]:
    """All values of a field (empty for null)."""
    if v is None:
        return []
    if type(v) is list:
        return v
    return [v]


def normalize(vals: List[Any]) -> Any:
    """A list of values as a field value: null when empty, a scalar when single."""
    if not vals:
        return None
    if len(vals) == 1:
        return vals[0]
    return list(vals)


def output_value(v: Any) -> Any:
    """A field value as printed in results: a string, or a list of strings."""
    if type(v) is list:
        return [fmt(x) for x in v]
    return fmt(v)


@functools.lru_cache(maxsize=4096)
def wildcard_regex(pattern: str, ignorecase: bool = True):
    """`*` matches any run of characters; everything else is literal."""
    parts = [re.escape(p) for p in pattern.split("*")]
    flags = re.DOTALL | (re.IGNORECASE if ignorecase else 0)
    return re.compile(".*".join(parts), flags)


def sort_key(v: Any):
    """Splunk's result ordering: numbers (numerically) before strings (lexicographically);
    nulls last."""
    if v is None:
        return (2, 0, "")
    if type(v) is list:
        v = v[0] if v else None
        if v is None:
            return (2, 0, "")
    n = to_num(v)
    if n is not None:
        return (0, n, "")
    return (1, 0, fmt(v))
