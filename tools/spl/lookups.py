"""Lookup tables: CSV files and KV store collections, held in memory.

Matching follows transforms.conf: exact (case-sensitive unless case_sensitive_match = false; for
a KV store lookup that setting only lower-cases the event's values, which then match stored values
that are entirely lower case, as transforms.conf.spec says),
`match_type = WILDCARD(field)` and `CIDR(field)`, `max_matches` (default 1000: every matching
row, in file order, gives a multivalue output), `min_matches` / `default_match`.
"""
from __future__ import annotations

import csv
import io
import itertools
import json
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .errors import SplError
from .evalexpr import cidr_contains
from .values import fmt, normalize, values_of, wildcard_regex

LOOKUP_KEYS = {"filename", "external_type", "collection", "fields_list", "match_type",
               "case_sensitive_match", "min_matches", "default_match", "max_matches"}
# Keys that do not change what a lookup returns here.
LOOKUP_IGNORED_KEYS = {"batch_index_query", "allow_caching", "replicate", "cache_size",
                       "check_permission", "index_fields_list", "reverse_lookup_honor_case_sensitive_match"}


def read_csv(path: str) -> Tuple[List[str], List[Dict[str, str]]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        text = f.read()
    return parse_csv(text, path)


def parse_csv(text: str, origin: str = "<csv>") -> Tuple[List[str], List[Dict[str, str]]]:
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        return [], []
    header = [h.strip() for h in header]
    rows = []
    for rec in reader:
        if not rec:
            continue
        # Splunk has no comment syntax in lookup CSVs: a row starting with '#' is a row.
        rows.append({h: (rec[i] if i < len(rec) else "") for i, h in enumerate(header)})
    return header, rows


def _bool(v: str) -> bool:
    return v.strip().lower() in ("1", "true", "t", "yes", "y")


class LookupTable:
    """Rows of a lookup plus its matching rules."""

    def __init__(self, name: str, fields: List[str], rows: List[Dict[str, Any]], *,
                 kind: str = "csv", stanza: Optional[Dict[str, str]] = None,
                 collection: Optional[str] = None, filename: Optional[str] = None):
        self.name = name
        self.fields = list(fields)
        self.rows = rows
        self.kind = kind
        self.collection = collection
        self.filename = filename
        self.stanza = stanza or {}
        self.version = 0
        self._index_cache: Dict[Any, Any] = {}
        self.case_sensitive = True
        self.wildcard: set = set()
        self.cidr: set = set()
        self.max_matches = 1000
        self.min_matches = 0
        self.default_match: Optional[str] = None
        self._configure()

    def _configure(self) -> None:
        st = self.stanza
        for key in st:
            if key not in LOOKUP_KEYS and key not in LOOKUP_IGNORED_KEYS:
                raise SplError("transforms.conf [%s]: unsupported lookup setting %r" % (self.name, key))
        if "case_sensitive_match" in st:
            self.case_sensitive = _bool(st["case_sensitive_match"])
        mt = st.get("match_type", "").strip()
        if mt:
            for m in re.finditer(r"\s*(\w+)\(([^)]*)\)\s*,?", mt):
                kind = m.group(1).upper()
                names = [x.strip() for x in m.group(2).split(",") if x.strip()]
                if kind == "WILDCARD":
                    self.wildcard.update(names)
                elif kind == "CIDR":
                    self.cidr.update(names)
                elif kind == "EXACT":
                    pass
                else:
                    raise SplError("transforms.conf [%s]: unsupported match_type %s" % (self.name, kind))
            leftover = re.sub(r"\s*(\w+)\(([^)]*)\)\s*,?", "", mt).strip()
            if leftover:
                raise SplError("transforms.conf [%s]: cannot parse match_type %r" % (self.name, mt))
        if "max_matches" in st:
            self.max_matches = int(st["max_matches"])
            if not 1 <= self.max_matches <= 1000:
                raise SplError("transforms.conf [%s]: max_matches must be 1-1000" % self.name)
        if "min_matches" in st:
            self.min_matches = int(st["min_matches"])
        if "default_match" in st:
            self.default_match = st["default_match"]

    def changed(self) -> None:
        self.version += 1
        self._index_cache.clear()

    # -- matching
    @property
    def fold_stored(self) -> bool:
        """Lower-case the stored values before comparing? Only for a CSV lookup with
        case_sensitive_match = false. transforms.conf.spec, case_sensitive_match: "To disable
        case-sensitive matching with input fields and values from events, the KV Store lookup
        data must be entirely in lower case" -- a KV store compares the lower-cased event value
        with the value as stored, so a stored "Alice" never matches.
        https://docs.splunk.com/Documentation/Splunk/latest/Admin/Transformsconf"""
        return not self.case_sensitive and self.kind != "kvstore"

    def _index(self, exact_fields: Tuple[str, ...]):
        key = exact_fields
        idx = self._index_cache.get(key)
        if idx is None:
            idx = {}
            cs = not self.fold_stored
            for pos, row in enumerate(self.rows):
                k = tuple((fmt(row.get(f, "")) if cs else fmt(row.get(f, "")).lower()) for f in exact_fields)
                idx.setdefault(k, []).append(pos)
            self._index_cache[key] = idx
        return idx

    def match(self, inputs: Sequence[Tuple[str, Any]]) -> List[Dict[str, Any]]:
        """Rows matching every (table field, event value or values) pair, in table order."""
        exact = [(f, v) for f, v in inputs if f not in self.wildcard and f not in self.cidr]
        special = [(f, v) for f, v in inputs if f in self.wildcard or f in self.cidr]
        for f, _ in inputs:
            if self.fields and f not in self.fields:
                raise SplError("lookup %s has no field %r (fields: %s)"
                               % (self.name, f, ", ".join(self.fields)))
        cs = self.case_sensitive
        if exact:
            idx = self._index(tuple(f for f, _ in exact))
            positions = set()
            value_lists = [[fmt(x) if cs else fmt(x).lower() for x in values_of(v)] for _, v in exact]
            for combo in itertools.product(*value_lists):
                positions.update(idx.get(combo, ()))
            candidates = sorted(positions)
        else:
            candidates = range(len(self.rows))
        out = []
        for pos in candidates:
            row = self.rows[pos]
            if all(self._special_match(f, row.get(f, ""), v) for f, v in special):
                out.append(row)
                if len(out) >= self.max_matches:
                    break
        return out

    def _special_match(self, field: str, pattern: Any, event_value: Any) -> bool:
        pattern = fmt(pattern) if pattern is not None else ""
        if field in self.cidr:
            # a plain address in a CIDR column is a /32 (or /128) and matches itself
            return any(cidr_contains(pattern, fmt(x)) for x in values_of(event_value))
        if not self.case_sensitive and not self.fold_stored:
            return any(wildcard_regex(pattern, False).fullmatch(fmt(x).lower()) is not None
                       for x in values_of(event_value))
        rx = wildcard_regex(pattern, not self.case_sensitive)
        return any(rx.fullmatch(fmt(x)) is not None for x in values_of(event_value))

    def output_fields(self, match_fields: Sequence[str]) -> List[str]:
        return [f for f in self.fields if f not in match_fields and f != "_key"]


def apply_lookup(table: LookupTable, row: dict, match_pairs: Sequence[Tuple[str, str]],
                 outputs: Optional[Sequence[Tuple[str, str]]], mode: str) -> None:
    """Enrich one row in place. match_pairs: (table field, event field); outputs: (table field,
    event field) or None for every other table field; mode: OUTPUT or OUTPUTNEW."""
    if outputs is None:
        outputs = [(f, f) for f in table.output_fields([m for m, _ in match_pairs])]
    if mode == "OUTPUTNEW":
        outputs = [(tf, ef) for tf, ef in outputs if row.get(ef) is None]
        if not outputs:
            return
    inputs = []
    for tf, ef in match_pairs:
        v = row.get(ef)
        if v is None:
            inputs = None
            break
        inputs.append((tf, v))
    matches = table.match(inputs) if inputs is not None else []
    if len(matches) < table.min_matches and table.default_match is not None:
        for _, ef in outputs:
            row[ef] = table.default_match
        return
    for tf, ef in outputs:
        vals = []
        for m in matches:
            for x in values_of(m.get(tf)):
                if x is not None and x != "":
                    vals.append(x)
        v = normalize(vals)
        if v is None:
            row.pop(ef, None)
        else:
            row[ef] = v


def parse_lookup_spec(tokens: List[str], what: str):
    """`<table field> [AS <event field>] ... [OUTPUT|OUTPUTNEW <field> [AS <field>] ...]`
    (commas optional) -> (match_pairs, outputs or None, mode)."""
    toks = [t for t in tokens if t != ","]
    match_pairs: List[Tuple[str, str]] = []
    outputs: Optional[List[Tuple[str, str]]] = None
    mode = "OUTPUT"
    target = match_pairs
    i = 0
    while i < len(toks):
        t = toks[i]
        if t.upper() in ("OUTPUT", "OUTPUTNEW"):
            if outputs is not None:
                raise SplError("%s: OUTPUT given twice" % what)
            mode = t.upper()
            outputs = []
            target = outputs
            i += 1
            continue
        if i + 2 < len(toks) + 0 and i + 1 < len(toks) and toks[i + 1].upper() == "AS":
            if i + 2 >= len(toks):
                raise SplError("%s: AS without a field name" % what)
            target.append((t, toks[i + 2]))
            i += 3
            continue
        target.append((t, t))
        i += 1
    if not match_pairs:
        raise SplError("%s: no match field" % what)
    if outputs is not None and not outputs:
        raise SplError("%s: %s without fields" % (what, mode))
    return match_pairs, outputs, mode


def tokens_with_commas(text: str) -> List[str]:
    """Split a lookup spec into words, keeping commas as their own tokens."""
    from .lexer import words
    out = []
    for w, quoted in words(text.replace(",", " , ")):
        out.append(w if quoted else w)
    return out


def load_kv_seed(path: str) -> Tuple[List[str], List[Dict[str, Any]]]:
    if path.endswith(".json"):
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise SplError("%s: a KV store seed must be a JSON list of objects" % path)
        fields: List[str] = []
        for r in data:
            for k in r:
                if k not in fields:
                    fields.append(k)
        rows = [{k: (v if isinstance(v, list) else fmt(v) if not isinstance(v, str) else v)
                 for k, v in r.items() if v is not None} for r in data]
        return fields, rows
    return read_csv(path)
