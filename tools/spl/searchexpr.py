"""The search command's boolean language, compiled to `f(row) -> bool`.

Order of evaluation as Splunk documents it for `search`: parentheses, NOT, OR, then AND (AND is
implied between terms). Field names are case-sensitive; values compare case-insensitively and may
hold `*` wildcards; `field=*` needs the field to exist; `field!=v` needs the field to exist (unlike
`NOT field=v`); a multivalue field matches when any value matches; `field=10.0.0.0/8` is a CIDR
match; bare terms and quoted phrases match the raw event text.
"""
from __future__ import annotations

import functools
import re
from typing import Callable, Dict, List

from . import timeutil
from .errors import SplError
from .evalexpr import cidr_contains
from .lexer import scan_quoted, unquote
from .values import fmt, to_num, values_of, wildcard_regex

Pred = Callable[[dict], bool]

TIME_FIELDS = {"earliest": ("_time", ">="), "latest": ("_time", "<"),
               "_index_earliest": ("_indextime", ">="), "_index_latest": ("_indextime", "<")}

_OPS = ("!=", "<=", ">=", "==", "=", "<", ">")
_WORD_STOP = set(' \t\r\n()="<>,')
_CIDR_RE = re.compile(r"^(?:\d{1,3}\.){3}\d{1,3}/\d{1,2}$|^[0-9a-fA-F:]*:[0-9a-fA-F:.]*/\d{1,3}$")


def tokenize(text: str):
    toks = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c in "(),":
            toks.append((c, c))
            i += 1
            continue
        if c == '"':
            j = scan_quoted(text, i)
            toks.append(("str", unquote(text[i:j])))
            i = j
            continue
        op = next((o for o in _OPS if text.startswith(o, i)), None)
        if op:
            toks.append(("op", op))
            i += len(op)
            continue
        j = i
        while j < n and text[j] not in _WORD_STOP and not (text[j] == "!" and text.startswith("!=", j)):
            j += 1
        toks.append(("word", text[i:j]))
        i = j
    toks.append(("end", None))
    return toks


@functools.lru_cache(maxsize=2048)
def _term_regex(term: str):
    parts = [re.escape(p) for p in term.split("*")]
    body = r"\S*?".join(parts)
    pre = r"(?<![A-Za-z0-9])" if term[:1].isalnum() else ""
    post = r"(?![A-Za-z0-9])" if term[-1:].isalnum() else ""
    return re.compile(pre + body + post, re.IGNORECASE)


def value_matcher(value: str) -> Callable[[object], bool]:
    """A test for one scalar value against a search value (case-insensitive, wildcards, CIDR)."""
    if "*" in value:
        rx = wildcard_regex(value, True)
        return lambda v: rx.fullmatch(fmt(v)) is not None
    if _CIDR_RE.match(value):
        lv = value.lower()
        return lambda v: cidr_contains(value, fmt(v)) or fmt(v).lower() == lv
    lv = value.lower()
    num = to_num(value)
    if num is not None:
        def m_num(v):
            if type(v) is str:
                if v.lower() == lv:
                    return True
            n = to_num(v)
            return n is not None and n == num
        return m_num

    n = len(lv)

    def m_str(v):
        if type(v) is str:
            return len(v) == n and v.lower() == lv
        return fmt(v).lower() == lv
    return m_str


def field_equals(field: str, value: str) -> Pred:
    if value == "*":
        return lambda row: row.get(field) is not None
    m = value_matcher(value)

    def pred(row):
        v = row.get(field)
        if v is None:
            return False
        if type(v) is list:
            return any(m(x) for x in v)
        return m(v)
    if "*" not in value and not _CIDR_RE.match(value) and to_num(value) is None:
        pred._eq = (field, frozenset([value.lower()]))  # lets the caller use a value index
    return pred


def _field_compare(field: str, op: str, value: str) -> Pred:
    num = to_num(value)

    def one(v):
        n = to_num(v) if num is not None else None
        if n is not None:
            a, b = n, num
        else:
            a, b = fmt(v), value
        if op == "<":
            return a < b
        if op == ">":
            return a > b
        if op == "<=":
            return a <= b
        return a >= b

    def pred(row):
        return any(one(x) for x in values_of(row.get(field)))
    return pred


class SearchExpr:
    """A compiled search expression. `time_bounds` lists the time modifiers it holds."""

    def __init__(self, text: str, now: float, *, raw_terms: bool = True, what: str = "search"):
        self.text = text
        self.now = now
        self.what = what
        self.raw_terms = raw_terms
        self.toks = tokenize(text)
        self.i = 0
        self.time_bounds: List[str] = []
        self.time_values: Dict[str, float] = {}  # the bound each time modifier resolved to
        self.fields: set = set()
        self.raw_term_used = False
        self.required: List[tuple] = []
        if self.toks[0][0] == "end":
            self.pred: Pred = lambda row: True
        else:
            self.pred = self.p_and(top=True)
            if self.toks[self.i][0] != "end":
                raise SplError("%s: unexpected %r in %r" % (what, self.toks[self.i][1], text))

    def __call__(self, row: dict) -> bool:
        return self.pred(row)

    # -- parser
    def peek(self, k=0):
        return self.toks[self.i + k]

    def take(self):
        t = self.toks[self.i]
        self.i += 1
        return t

    def is_kw(self, word: str, k: int = 0) -> bool:
        t = self.peek(k)
        return t[0] == "word" and t[1] == word

    def p_and(self, top: bool = False) -> Pred:
        items = []
        while True:
            t = self.peek()
            if t[0] == "end" or t[0] == ")":
                break
            if self.is_kw("AND"):
                self.take()
                continue
            items.append(self.p_or())
        if top:
            # conjuncts `field=literal` / `field IN (literals)`: every match has one of these values
            self.required = [it._eq for it in items if hasattr(it, "_eq")]
        if not items:
            return lambda row: True
        if len(items) == 1:
            return items[0]
        items = tuple(items)
        return lambda row: all(p(row) for p in items)

    def p_or(self) -> Pred:
        items = [self.p_not()]
        while self.is_kw("OR"):
            self.take()
            items.append(self.p_not())
        if len(items) == 1:
            return items[0]
        items = tuple(items)
        return lambda row: any(p(row) for p in items)

    def p_not(self) -> Pred:
        if self.is_kw("NOT"):
            self.take()
            inner = self.p_not()
            return lambda row: not inner(row)
        return self.p_atom()

    def p_value(self) -> str:
        kind, val = self.take()
        if kind in ("word", "str"):
            return val
        raise SplError("%s: expected a value, got %r in %r" % (self.what, val, self.text))

    def p_atom(self) -> Pred:
        kind, val = self.take()
        if kind == "(":
            inner = self.p_and()
            if self.take()[0] != ")":
                raise SplError("%s: missing ')' in %r" % (self.what, self.text))
            return inner
        if kind == "word" and val in ("AND", "OR"):
            raise SplError("%s: misplaced %s in %r" % (self.what, val, self.text))
        if kind in ("word", "str") and self.peek()[0] == "op":
            op = self.take()[1]
            value = self.p_value()
            return self.comparison(val, op, value)
        if kind in ("word", "str") and self.peek()[0] == "word" and self.peek()[1] in ("IN", "in") \
                and self.peek(1)[0] == "(":
            self.take()
            self.take()
            values = []
            while True:
                t = self.take()
                if t[0] in ("word", "str"):
                    values.append(t[1])
                elif t[0] == ",":
                    continue
                elif t[0] == ")":
                    break
                else:
                    raise SplError("%s: bad IN list in %r" % (self.what, self.text))
            self.fields.add(val)
            plain = [v for v in values if "*" not in v and not _CIDR_RE.match(v) and to_num(v) is None]
            others = [v for v in values if v not in plain]
            if not others:
                # the common case, a list of literal values: one set lookup per value
                wanted = frozenset(v.lower() for v in plain)
                field = val

                def in_pred(row):
                    v = row.get(field)
                    if v is None:
                        return False
                    if type(v) is str:
                        return v.lower() in wanted
                    return any(fmt(x).lower() in wanted for x in values_of(v))
                in_pred._eq = (field, wanted)
                return in_pred
            preds = tuple(field_equals(val, v) for v in values)
            return lambda row: any(p(row) for p in preds)
        if kind == "word" and val in ("TERM", "CASE") and self.peek()[0] == "(":
            raise SplError("%s: %s() is not supported" % (self.what, val))
        if kind in ("word", "str"):
            return self.term(val, quoted=(kind == "str"))
        raise SplError("%s: unexpected %r in %r" % (self.what, val, self.text))

    def term(self, text: str, quoted: bool) -> Pred:
        if text == "*":
            return lambda row: True
        if not self.raw_terms:
            raise SplError("%s: bare term %r is not allowed here" % (self.what, text))
        self.raw_term_used = True
        rx = _term_regex(text)

        def pred(row):
            raw = row.get("_raw")
            if raw is None:
                return False
            return rx.search(raw if type(raw) is str else fmt(raw)) is not None
        return pred

    def comparison(self, field: str, op: str, value: str) -> Pred:
        if field in TIME_FIELDS:
            if op != "=":
                raise SplError("%s: %s needs '='" % (self.what, field))
            target, cmp = TIME_FIELDS[field]
            bound = timeutil.relative_time(self.now, value)
            self.time_bounds.append(field)
            self.time_values[field] = bound
            if cmp == ">=":
                return lambda row: (to_num(row.get(target)) or 0) >= bound
            return lambda row: (to_num(row.get(target)) or 0) < bound
        self.fields.add(field)
        if op in ("=", "=="):
            return field_equals(field, value)
        if op == "!=":
            eq = field_equals(field, value)
            return lambda row: row.get(field) is not None and not eq(row)
        return _field_compare(field, op, value)


def quote_value(v: str) -> str:
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
