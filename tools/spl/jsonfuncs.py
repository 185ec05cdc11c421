"""Splunk's JSON eval functions.

Source: Splunk Enterprise Search Reference, Evaluation functions > JSON functions
(https://help.splunk.com/en/splunk-enterprise/search/spl-search-reference/10.0/evaluation-functions/json-functions).
Each function below quotes the rule it follows. Where that page is silent, the comment says so
and what this evaluator does.

Values follow evalexpr's conventions: None (null), bool (inside expressions only), int, float,
str, or a list (multivalue). "Native type" in the reference: a JSON string becomes a string, a
number a number, null a null; a JSON object or array comes back as its compact JSON text. A JSON
Boolean comes back as the text "true"/"false" (the reference says Boolean; a field cannot hold a
Boolean, so this evaluator returns what can be stored and prints the same).
"""
from __future__ import annotations

import json
import re
from typing import Any, List

from .errors import SplError
from .values import fmt, normalize

_BAD = object()  # not valid JSON
_PATH_STEP = re.compile(r"([^.{}]+)|\{(\d*)\}|(\.)")


def _load(v: Any) -> Any:
    """The JSON value in an argument (the first value of a multivalue field), or _BAD."""
    if v is None:
        return _BAD
    if type(v) is list:
        v = v[0]
    if type(v) is bool:
        return v
    if type(v) in (int, float):
        return v
    try:
        return json.loads(v, parse_constant=_no_constant)
    except ValueError:
        return _BAD


def _no_constant(name: str):
    raise ValueError("%s is not JSON" % name)  # Python's json accepts NaN and Infinity


def _text(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _native(obj: Any) -> Any:
    """A JSON value as the evaluator's value (see the module docstring)."""
    if obj is None or type(obj) in (str, int, float):
        return obj
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    return _text(obj)


def _parse_path(path: str) -> List[tuple]:
    """`a.b{1}.c`, `{2}.Bridges{0}.length`, `{}.Bridges{}.name` -> steps: ("key", name),
    ("index", n), ("each",). The reference's examples use `.` between keys and `{n}`/`{}` on
    arrays; a key that contains a dot cannot be named (its note on json_extract)."""
    steps = []
    pos = 0
    for m in _PATH_STEP.finditer(path):
        if m.start() != pos:
            raise SplError("json_extract: cannot parse path %r" % path)
        pos = m.end()
        if m.group(1) is not None:
            steps.append(("key", m.group(1)))
        elif m.group(3) is None:
            steps.append(("index", int(m.group(2))) if m.group(2) else ("each",))
    if pos != len(path):
        raise SplError("json_extract: cannot parse path %r" % path)
    return steps


def _walk(obj: Any, steps: List[tuple]):
    """(matches, fanned_out): `{}` over an array visits every element and makes the result a
    JSON array (reference examples 4-6); `{}` on an object is the object itself (example 1);
    `{n}` works only on an array (example 2: "only works when the <path> maps to a JSON array")."""
    cur = [obj]
    fanned = False
    for step in steps:
        nxt = []
        for o in cur:
            if step[0] == "key":
                if isinstance(o, dict) and step[1] in o:
                    nxt.append(o[step[1]])
            elif step[0] == "index":
                if isinstance(o, list) and step[1] < len(o):
                    nxt.append(o[step[1]])
            elif isinstance(o, list):
                nxt.extend(o)
                fanned = True
            else:
                nxt.append(o)
        cur = nxt
    return cur, fanned


def _at_path(obj: Any, path: str) -> Any:
    matches, fanned = _walk(obj, _parse_path(path))
    if fanned:
        return matches
    return matches[0] if matches else None


def json_extract(j: Any, *paths: Any) -> Any:
    """json_extract(<json>) converts to the native type; json_extract(<json>, <path>) extracts
    the value at the path ("This can be a JSON array if the path leads to an array");
    json_extract(<json>, <path>, <path>, ...) "Extracts all of the paths from <json> and returns
    it as a JSON array" (silent on a path that matches nothing: it is null in that array here).
    Invalid JSON gives null."""
    obj = _load(j)
    if obj is _BAD:
        return None
    if not paths:
        return _native(obj)
    if any(p is None for p in paths):
        return None
    if len(paths) == 1:
        return _native(_at_path(obj, fmt(paths[0])))
    return _text([_at_path(obj, fmt(p)) for p in paths])


def json_extract_exact(j: Any, *keys: Any) -> Any:
    """Like json_extract, but each key is a literal top-level key: "does not support explicitly
    nested paths", so `json_extract_exact(x, "system.splunk.path")` reads the key
    "system.splunk.path". Several keys give a JSON array (null where a key is absent)."""
    obj = _load(j)
    if obj is _BAD:
        return None
    if not keys:
        return _native(obj)
    if any(k is None for k in keys):
        return None

    def one(k):
        return obj.get(fmt(k)) if isinstance(obj, dict) else None
    if len(keys) == 1:
        return _native(one(keys[0]))
    return _text([one(k) for k in keys])


def json_keys(j: Any) -> Any:
    """The keys of a JSON object as a JSON array ("cannot be used on JSON arrays": null)."""
    obj = _load(j)
    if not isinstance(obj, dict):
        return None
    return _text(list(obj))


def json_array_to_mv(j: Any, keep_quotes: Any = False) -> Any:
    """The elements of a JSON array as a multivalue field. "If the <json array> input to the
    function is not a valid JSON array, the function outputs nothing." The <boolean> (default
    false()) keeps the bracketing quotes of JSON strings. Other elements print as their JSON
    text (silent in the reference). An empty array gives no values, so null."""
    if type(keep_quotes) is not bool:
        raise SplError("json_array_to_mv: the second argument must be true() or false()")
    obj = _load(j)
    if not isinstance(obj, list):
        return None
    out = []
    for x in obj:
        if type(x) is str:
            out.append(_text(x) if keep_quotes else x)
        else:
            out.append(_text(x))
    return normalize(out)


def json_valid(j: Any) -> Any:
    """TRUE when the value parses as JSON, else FALSE (null stays null)."""
    if j is None:
        return None
    return _load(j) is not _BAD


def json_value(v: Any) -> Any:
    """json(<value>): the value when it is valid JSON, otherwise null."""
    return v if json_valid(v) else None


def json_has_key_exact(j: Any, key: Any) -> Any:
    """TRUE when the JSON object has the literal key (a dot is part of the key)."""
    if key is None:
        return None
    obj = _load(j)
    return isinstance(obj, dict) and fmt(key) in obj


def _to_json(v: Any) -> Any:
    """An argument of json_object/json_array as a JSON value: "A <value> can be a string,
    number, Boolean, null, multivalue field, array, or another JSON object." A multivalue field
    becomes an array; a string holding a JSON object or array (what json_object/json_array
    return) is embedded as that JSON; any other string stays a string."""
    if v is None or type(v) in (bool, int, float):
        return v
    if type(v) is list:
        return [_to_json(x) for x in v]
    s = fmt(v)
    if s[:1] in ("{", "["):
        obj = _load(s)
        if obj is not _BAD:
            return obj
    return s


def json_object(*members: Any) -> str:
    """json_object(<key>, <value>, ...): "A <key> must be a string." """
    if len(members) % 2:
        raise SplError("json_object: needs key/value pairs")
    out = {}
    for i in range(0, len(members), 2):
        k = members[i]
        if type(k) is not str:
            raise SplError("json_object: a key must be a string, got %r" % (k,))
        out[k] = _to_json(members[i + 1])
    return _text(out)


def json_array(*values: Any) -> str:
    return _text([_to_json(v) for v in values])


# (min args, max args or None, implementation), the shape of evalexpr._SIMPLE
JSON_FUNCTIONS = {
    "json": (1, 1, json_value),
    "json_array": (0, None, json_array),
    "json_array_to_mv": (1, 2, json_array_to_mv),
    "json_extract": (1, None, json_extract),
    "json_extract_exact": (1, None, json_extract_exact),
    "json_has_key_exact": (2, 2, json_has_key_exact),
    "json_keys": (1, 1, json_keys),
    "json_object": (0, None, json_object),
    "json_valid": (1, 1, json_valid),
}
