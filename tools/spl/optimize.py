"""Speed, never semantics: every shortcut the evaluator takes when App(optimize=True).

With optimize=False none of this runs: every event gets all its search-time fields, every
expression and lookup is evaluated for every row. tests/tools/test_spl_consistency.py checks both
give the same rows for every saved search of the add-on.

- base fields: a search whose first clause reads only base fields (index-time fields, KV_MODE,
  EXTRACT/REPORT that run before it) is tested on them before the derived fields (FIELDALIAS,
  EVAL, LOOKUP, event types, tags) are computed.
- derived fields on demand: when the pipeline names every field it can read (fields_read), only
  the FIELDALIAS, EVAL and LOOKUP steps that can change one of them, and the steps those read,
  run (DerivedSteps), on a copy of the cached base row; event types and tags then never run.
  Otherwise every derived field is computed, once per event, and cached.
- value index: a top-level `field=literal` / `field IN (literals)` clause on a base field is
  answered from a per-field index of base values.
- memos: calculated fields, event type tests and lookup answers are remembered by the values of
  the fields they read while those values repeat (MEMO_PROBE calls decide; a memo holding more
  than MEMO_MAX_KEYS distinct inputs after the probe is switched off).
- relative_time(now(), "<constant>") is computed once per search; match(<field>, "<constant>")
  is remembered per text while the texts repeat.
- mvfind(<field>, "^" . <value> . "$") over the same multivalue field for many rows: answered
  from an index of that field's values.
- replace(): each (regex, replacement) remembers its last text and result, so a chain of
  replace() calls that has stopped changing the text does not run the regex again.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from .values import fmt

MEMO_PROBE = 2000       # calls after which a memo checks that its inputs repeat
MEMO_MAX_KEYS = 400     # more distinct inputs than this after the probe: the memo is dropped
MEMO_CLEAR_AT = 50000   # a memo that grows past this is emptied

# --------------------------------------------------------------- base fields before derived ones

_RESTRICTING = {"stats", "table", "fields", "return", "format"}
_NAME_RE = re.compile(r"[A-Za-z0-9_.:{}@$-]+")
_QUOTED_RE = re.compile(r"'([^']*)'|\"([^\"]*)\"")
# Commands that read only fields their arguments name (every name-like token is taken for one).
_NAMED_READS = _RESTRICTING | {
    "search", "where", "eval", "eventstats", "streamstats", "bin", "bucket", "rename", "dedup",
    "sort", "head", "tail", "reverse", "mvexpand", "rex", "regex", "addinfo"}
_STAR_OK = ("eval", "where", "search", "rex", "regex", "head")  # `*` there is not a field list


def _reads_only_named(name: str, args: str) -> bool:
    if name in _NAMED_READS:
        return True
    if name == "lookup":  # without OUTPUT/OUTPUTNEW it writes every field of the table
        return re.search(r"\bOUTPUT(NEW)?\b", args, re.IGNORECASE) is not None
    if name == "fillnull":  # without a field list it fills every field of the results
        return re.sub(r"\bvalue\s*=\s*(\"[^\"]*\"|\S+)", "", args).strip() != ""
    if name == "spath":  # without path= it writes every field of the JSON, next to the event's
        return re.search(r"\bpath\s*=", args) is not None
    return False


def fields_read(segments: List[str]) -> Optional[Set[str]]:
    """Conservatively, every field a pipeline can read from its first clause's events: every
    name-like token of the search counts as a possible field reference. None when it may read
    fields it does not name: a `*` in a command that takes field lists (table *, values(*),
    rename a* AS b*), a command that works on every field (outputlookup, foreach, spath without
    path, ...) before the first restricting command, event output without one (all fields
    shown), or a reference to event types or tags (they depend on every field their searches and
    tags.conf name)."""
    names: Set[str] = set()
    restricted = False
    for pos, seg in enumerate(segments):
        words = seg.strip().split(None, 1)
        name = words[0].lower() if words else ""
        args = words[1] if len(words) > 1 else ""
        if pos > 0:
            if "*" in seg and name not in _STAR_OK:
                return None
            if not restricted and not _reads_only_named(name, args):
                return None
        for tok in _NAME_RE.findall(seg):
            names.add(tok)
            names.add(tok.strip("'\"$"))
        names.update(a or b for a, b in _QUOTED_RE.findall(seg))  # 'a field name with spaces'
        if pos > 0 and (name in _RESTRICTING and not (name == "fields" and args.lstrip().startswith("-"))):
            restricted = True
    if not restricted or "eventtype" in names or "tag" in names or any(
            n.startswith("tag::") for n in names):
        return None
    return names


class DerivedSteps:
    """The search-time steps of one props plan that can change the given fields, following
    Splunk's order backwards (Knowledge Manager Manual, "The sequence of search-time operations",
    https://help.splunk.com/splunk-enterprise/manage-knowledge-objects/knowledge-management-manual/10.0/get-started-with-knowledge-objects/the-sequence-of-search-time-operations :
    EXTRACT, REPORT, KV_MODE, FIELDALIAS, EVAL, LOOKUP, event types, tags; a step can read only
    what the steps before it derive): a LOOKUP that writes one of them, then the fields it reads (its
    input fields, and its output fields, which OUTPUTNEW reads and earlier steps may write); a
    calculated field named one of them, then what it reads (calculated fields of one plan all see
    the pre-EVAL row, not each other's results); an alias to one of them, then its source; the
    EXTRACTs that run late when they name one. Event types and tags are never among them:
    fields_read() gives None when a search reads those."""

    def __init__(self, plan, needed: Set[str]):
        need = set(needed)
        lookups = []
        for lk in reversed(plan.lookups):
            table, match_pairs, outputs, _ = lk
            outs = list(table.fields) if outputs is None else [ef for _, ef in outputs]
            if need.intersection(outs):
                lookups.append(lk)
                need.update(ef for _, ef in match_pairs)
                need.update(outs)
        self.lookups = lookups[::-1]
        picked = [i for i, (name, _) in enumerate(plan.evals) if name in need]
        self.evals = [plan.evals[i] for i in picked]
        for i in picked:
            need.update(plan.eval_reads[i])
        self.aliases = [a for a in plan.aliases if a[1] in need]
        need.update(src for src, _, _ in self.aliases)
        self.extracts = plan.extract_later and any(
            g in need for rx, _ in plan.extracts for g in rx.groupindex)
        self.empty = not (self.lookups or self.evals or self.aliases or self.extracts)


class FirstClause:
    """For one search's first clause: per props plan, may it be tested on base fields, and which
    derived steps does the pipeline need (None: all of them, event types and tags included)?"""

    def __init__(self, pred, segments: List[str]):
        self.needs = pred.fields | {"_raw"}
        self.reads = fields_read(segments)
        self._by_plan: Dict[int, Tuple[bool, Optional[DerivedSteps]]] = {}

    def shortcuts(self, plan) -> Tuple[bool, Optional[DerivedSteps]]:
        got = self._by_plan.get(id(plan))
        if got is None:
            test_base = (not plan.dynamic_reports and self.needs.isdisjoint(plan.derived_fields)
                         and not any(f.startswith("tag::") for f in self.needs))
            steps = None
            if self.reads is not None and not plan.dynamic_reports:
                steps = DerivedSteps(plan, self.reads)
            got = (test_base, steps)
            self._by_plan[id(plan)] = got
        return got


# --------------------------------------------------------------- value index

class ValueIndex:
    """Per-field index of base values over an app's indexed events: field -> lower-cased value ->
    event positions."""

    def __init__(self, app):
        self.app = app
        self._fields: Dict[str, Dict[str, List[int]]] = {}

    def clear(self) -> None:
        self._fields.clear()

    def candidates(self, required, events):
        """Events that can satisfy a top-level `field=literal` conjunct (only for fields no
        search-time step derives). Keeps search order."""
        kn = self.app.knowledge
        best = None
        for field, values in required:
            if field.startswith("tag::") or field in ("eventtype", "tag"):
                continue
            index = self._fields.get(field)
            if index is None:
                index = self._build(field)
            if field in kn.all_derived_fields():  # known once every event has a plan
                continue
            hits = set()
            for v in values:
                hits.update(index.get(v, ()))
            if best is None or len(hits) < len(best):
                best = hits
        if best is None:
            return events
        return [events[i] for i in sorted(best)]

    def _build(self, field: str):
        app = self.app
        index: Dict[str, List[int]] = {}
        for pos, ev in enumerate(app.events):
            r = app.cached_base_fields(ev)
            v = r.get(field)
            if v is None:
                continue
            for x in (v if type(v) is list else (v,)):
                index.setdefault(fmt(x).lower(), []).append(pos)
        self._fields[field] = index
        return index


# --------------------------------------------------------------- memos

_MISS = object()
_MEMO_OFF = re.compile(r"\b(now|time|random)\s*\(")
_TRIVIAL = re.compile(r"""\s*('[^']*'|"[^"]*"|[A-Za-z_][A-Za-z0-9_]*|[\d.]+)\s*\Z""")


def uses_now(text: str) -> bool:
    return _MEMO_OFF.search(text) is not None


def memoize(fn: Callable[[dict], Any], fields, text: Optional[str] = None) -> Callable[[dict], Any]:
    """fn(row), remembered by the values of `fields` (calculated fields and event types see the
    same few types, users and addresses again and again). Not for time-dependent or trivial
    expressions; switches itself off when the inputs hardly repeat."""
    if text is not None and (uses_now(text) or _TRIVIAL.match(text)):
        return fn
    names = tuple(sorted(fields))
    state = {"memo": {}, "calls": 0}

    def memo_fn(row):
        memo = state["memo"]
        if memo is None:
            return fn(row)
        key = tuple(tuple(v) if type(v) is list else v for v in map(row.get, names))
        state["calls"] += 1
        hit = memo.get(key, _MISS)
        if hit is not _MISS:
            return hit
        v = memo[key] = fn(row)
        if state["calls"] >= MEMO_PROBE and len(memo) > MEMO_MAX_KEYS:
            state["memo"] = None  # inputs hardly repeat: the memo costs more than it saves
        elif len(memo) > MEMO_CLEAR_AT:
            memo.clear()
        return v
    memo_fn.fields = fields
    return memo_fn


def memoize_arg(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """fn(x) remembered by x, with memoize()'s thresholds (match(type, "<constant>") sees the
    same few event types again and again)."""
    state = {"memo": {}, "calls": 0}

    def memo_fn(x):
        memo = state["memo"]
        if memo is None:
            return fn(x)
        state["calls"] += 1
        hit = memo.get(x, _MISS)
        if hit is not _MISS:
            return hit
        v = memo[x] = fn(x)
        if state["calls"] >= MEMO_PROBE and len(memo) > MEMO_MAX_KEYS:
            state["memo"] = None
        elif len(memo) > MEMO_CLEAR_AT:
            memo.clear()
        return v
    return memo_fn


def memoize_event_type(expr):
    """An event type's test, remembered by the values of the fields it reads; tests on the raw
    text are not remembered."""
    if "_raw" in expr.fields or not expr.fields or expr.raw_term_used:
        return expr
    return memoize(expr, expr.fields)


def memoize_lookup(table) -> None:
    """Lookup answers remembered per input values until the table changes."""
    plain = table.match
    memo: Dict[Any, Any] = {}
    version = [table.version]

    def match(inputs):
        if version[0] != table.version:
            memo.clear()
            version[0] = table.version
        key = tuple((f, tuple(v) if type(v) is list else v) for f, v in inputs)
        hit = memo.get(key)
        if hit is None:
            if len(memo) > MEMO_CLEAR_AT:
                memo.clear()
            hit = memo[key] = plain(inputs)
        return hit
    table.match = match


# --------------------------------------------------------------- eval special cases

def constant_relative_time(t_f, s_f, compute):
    """relative_time(now(), "-20m@m") on every row: computed once per (time, spec)."""
    last = [None, None, None]

    def f_rel(row):
        t, s = t_f(row), s_f(row)
        if t == last[0] and s == last[1] and t is not None:
            return last[2]
        r = compute(t, s)
        last[0], last[1], last[2] = t, s, r
        return r
    return f_rel


_ANCHORED_LITERAL = re.compile(r"\^((?:[^\\^$.|?*+()\[\]{}]|\\[^A-Za-z0-9])*)\$\Z")


def anchored_literal(pattern: str) -> Optional[str]:
    """The text a regex `^literal$` matches exactly (PCRE's `$` also matches before a final
    newline), or None."""
    m = _ANCHORED_LITERAL.match(pattern)
    if not m:
        return None
    return re.sub(r"\\(.)", r"\1", m.group(1))


class MvFindIndex:
    """mvfind over one multivalue list object for many literal patterns: the first index of
    each value, built once per list."""

    def __init__(self):
        self._list = None
        self._first: Dict[str, int] = {}

    def find(self, values: list, literal: str) -> Optional[int]:
        if values is not self._list:
            self._list = values
            self._first = {}
            for i, x in enumerate(values):
                self._first.setdefault(fmt(x), i)
        a = self._first.get(literal)
        b = self._first.get(literal + "\n")
        if a is None:
            return b
        return a if b is None else min(a, b)


_LAST_SUB: Dict[Any, Tuple[str, str]] = {}


def sub_remembering_last(regex, repl: str, text: str) -> str:
    key = (regex, repl)
    last = _LAST_SUB.get(key)
    if last is not None and last[0] == text:
        return last[1]
    out = regex.sub(repl, text)
    if len(_LAST_SUB) > 1000:
        _LAST_SUB.clear()
    _LAST_SUB[key] = (text, out)
    return out
