"""stats / eventstats / streamstats aggregation functions."""
from __future__ import annotations

import collections
import math
import re
from typing import Any, List, Optional, Tuple

from .errors import SplError
from .evalexpr import Expr
from .lexer import scan_group, scan_quoted
from .values import fmt, normalize, sort_key, to_num, values_of


class Agg:
    """One aggregation: a function over one field (or an eval expression, or nothing)."""

    def __init__(self, func: str, field: Optional[str], expr: Optional[Expr], name: str):
        self.func = func
        self.field = field
        self.expr = expr
        self.name = name

    def values(self, row: dict) -> List[Any]:
        if self.expr is not None:
            v = self.expr(row)
            if v is True:
                return [1] if self.func in ("count", "c") else ["True"]
            if v is False or v is None:
                return []
            return values_of(v)
        return values_of(row.get(self.field))

    def new_state(self) -> "State":
        return _STATE_CLASSES[self.func](self)


class State:
    """add(row) feeds one row; add_values(vals, t) feeds the values already taken from a row
    (t = its _time); removable states also take remove_values (sliding windows)."""

    removable = False

    def __init__(self, agg: Agg):
        self.agg = agg

    def add(self, row: dict) -> None:
        if self.agg.field is None and self.agg.expr is None:
            self.add_values([1], None)  # plain count: one per row
            return
        vals = self.agg.values(row)
        if vals:
            self.add_values(vals, row.get("_time"))

    def add_values(self, vals, t) -> None:
        raise NotImplementedError

    def remove_values(self, vals, t) -> None:
        raise NotImplementedError

    def result(self) -> Any:
        raise NotImplementedError


class _Count(State):
    removable = True

    def __init__(self, agg):
        super().__init__(agg)
        self.n = 0

    def add_values(self, vals, t):
        self.n += len(vals)

    def remove_values(self, vals, t):
        self.n -= len(vals)

    def result(self):
        return self.n


class _Dc(State):
    removable = True

    def __init__(self, agg):
        super().__init__(agg)
        self.seen = {}
        self.sorted = None  # the distinct values in order, while the set does not change

    def add_values(self, vals, t):
        seen = self.seen
        for v in vals:
            k = fmt(v)
            c = seen.get(k)
            if c is None:
                seen[k] = 1
                self.sorted = None
            else:
                seen[k] = c + 1

    def remove_values(self, vals, t):
        seen = self.seen
        for v in vals:
            k = fmt(v)
            c = seen[k] - 1
            if c:
                seen[k] = c
            else:
                del seen[k]
                self.sorted = None

    def result(self):
        return len(self.seen)


class _Values(_Dc):
    def result(self):
        # values() is distinct and sorted lexicographically; a sliding window asks again and
        # again for the same set (results are never changed in place, so they may share it)
        if self.sorted is None:
            self.sorted = normalize(sorted(self.seen))
        return self.sorted


class _List(State):
    removable = True

    def __init__(self, agg):
        super().__init__(agg)
        self.items = collections.deque()

    def add_values(self, vals, t):
        self.items.append(vals)

    def remove_values(self, vals, t):
        self.items.popleft()  # windows drop rows first in, first out

    def result(self):
        out = []
        for vals in self.items:
            out.extend(fmt(v) for v in vals)
            if len(out) >= 100:
                break
        return normalize(out[:100])


class _MinMax(State):
    removable = True

    def __init__(self, agg, pick_max):
        super().__init__(agg)
        self.pick_max = pick_max
        self.nums = {}
        self.texts = {}

    def add_values(self, vals, t):
        for v in vals:
            n = to_num(v)
            d, k = (self.nums, n) if n is not None else (self.texts, fmt(v))
            d[k] = d.get(k, 0) + 1

    def remove_values(self, vals, t):
        for v in vals:
            n = to_num(v)
            d, k = (self.nums, n) if n is not None else (self.texts, fmt(v))
            c = d[k] - 1
            if c:
                d[k] = c
            else:
                del d[k]

    def result(self):
        # numeric values win; only an all-text field gives a lexicographic answer
        if self.nums:
            return max(self.nums) if self.pick_max else min(self.nums)
        if self.texts:
            return max(self.texts) if self.pick_max else min(self.texts)
        return None


class _Sum(State):
    removable = True

    def __init__(self, agg):
        super().__init__(agg)
        self.total = 0
        self.n = 0

    def add_values(self, vals, t):
        for v in vals:
            x = to_num(v)
            if x is not None:
                self.total += x
                self.n += 1

    def remove_values(self, vals, t):
        for v in vals:
            x = to_num(v)
            if x is not None:
                self.total -= x
                self.n -= 1

    def result(self):
        return self.total if self.n else None


class _Avg(_Sum):
    def result(self):
        if not self.n:
            return None
        return self.total / self.n


class _Range(State):
    def __init__(self, agg):
        super().__init__(agg)
        self.lo = None
        self.hi = None

    def add_values(self, vals, t):
        for v in vals:
            n = to_num(v)
            if n is not None:
                self.lo = n if self.lo is None else min(self.lo, n)
                self.hi = n if self.hi is None else max(self.hi, n)

    def result(self):
        return None if self.lo is None else self.hi - self.lo


class _Median(State):
    def __init__(self, agg):
        super().__init__(agg)
        self.items = []

    def add_values(self, vals, t):
        for v in vals:
            n = to_num(v)
            if n is not None:
                self.items.append(n)

    def result(self):
        if not self.items:
            return None
        s = sorted(self.items)
        # Splunk's median takes the lower-middle value for an even count
        return s[(len(s) - 1) // 2]


class _Stdev(_Median):
    population = False
    variance = False

    def result(self):
        n = len(self.items)
        if n < (1 if self.population else 2):
            return None
        mean = sum(self.items) / n
        ss = sum((x - mean) ** 2 for x in self.items)
        var = ss / (n if self.population else n - 1)
        return var if self.variance else math.sqrt(var)


class _Var(_Stdev):
    variance = True


class _Stdevp(_Stdev):
    population = True


class _Varp(_Stdev):
    population = True
    variance = True


class _Mode(State):
    def __init__(self, agg):
        super().__init__(agg)
        self.counts = {}

    def add_values(self, vals, t):
        for v in vals:
            k = fmt(v)
            self.counts[k] = self.counts.get(k, 0) + 1

    def result(self):
        if not self.counts:
            return None
        best = max(self.counts.values())
        return next(k for k, c in self.counts.items() if c == best)


class _FirstLast(State):
    removable = True

    def __init__(self, agg, last):
        super().__init__(agg)
        self.last = last
        self.items = collections.deque()

    def add_values(self, vals, t):
        self.items.append(vals)

    def remove_values(self, vals, t):
        self.items.popleft()

    def result(self):
        if not self.items:
            return None
        return normalize(list(self.items[-1] if self.last else self.items[0]))


class _EarliestLatest(State):
    def __init__(self, agg, latest, want_time=False):
        super().__init__(agg)
        self.latest = latest
        self.want_time = want_time
        self.t = None
        self.val = None

    def add_values(self, vals, t):
        t = to_num(t)
        if t is None:
            t = 0
        # on equal times the first row seen (the newer in search order) is kept
        if self.t is None or (t > self.t if self.latest else t < self.t):
            self.t = t
            self.val = normalize(list(vals))

    def result(self):
        return self.t if self.want_time else self.val


_STATE_CLASSES = {
    "count": _Count, "c": _Count, "dc": _Dc, "distinct_count": _Dc, "values": _Values,
    "list": _List, "min": lambda a: _MinMax(a, False), "max": lambda a: _MinMax(a, True),
    "sum": _Sum, "avg": _Avg, "mean": _Avg, "range": _Range, "median": _Median,
    "stdev": _Stdev, "stdevp": _Stdevp, "var": _Var, "varp": _Varp, "mode": _Mode,
    "first": lambda a: _FirstLast(a, False), "last": lambda a: _FirstLast(a, True),
    "earliest": lambda a: _EarliestLatest(a, False), "latest": lambda a: _EarliestLatest(a, True),
    "earliest_time": lambda a: _EarliestLatest(a, False, True),
    "latest_time": lambda a: _EarliestLatest(a, True, True),
}
SUPPORTED_STATS = sorted(_STATE_CLASSES)


def stats_tokens(text: str) -> List[str]:
    """Words of a stats argument list: `func(args)` kept whole, commas as tokens."""
    toks = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c == ",":
            toks.append(",")
            i += 1
            continue
        j = i
        while j < n and not text[j].isspace() and text[j] != ",":
            if text[j] == '"':
                j = scan_quoted(text, j)
                continue
            if text[j] == "(":
                j = scan_group(text, j)
                if j is None:
                    raise SplError("unbalanced parentheses in %r" % text)
                continue
            j += 1
        toks.append(text[i:j])
        i = j
    return toks


_FUNC_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\((.*)\)\Z", re.DOTALL)


def parse_stats(text: str, ctx, command: str, allowed_options: Tuple[str, ...] = ()):
    """-> (options, [Agg], [by fields])."""
    toks = stats_tokens(text)
    options = {}
    i = 0
    while i < len(toks) and re.match(r"[A-Za-z_]+=", toks[i]) and not toks[i].startswith("eval("):
        k, v = toks[i].split("=", 1)
        if k not in allowed_options:
            raise SplError("%s: unsupported option %r" % (command, k))
        options[k] = v.strip('"')
        i += 1
    aggs: List[Agg] = []
    by: List[str] = []
    while i < len(toks):
        t = toks[i]
        if t == ",":
            i += 1
            continue
        om = re.match(r"([A-Za-z_]+)=(.*)\Z", t, re.DOTALL)
        if om and not t.startswith("eval("):
            if om.group(1) not in allowed_options:
                raise SplError("%s: unsupported option %r" % (command, om.group(1)))
            options[om.group(1)] = om.group(2).strip('"')
            i += 1
            continue
        if t.lower() == "by":
            by = [x for x in toks[i + 1:] if x != ","]
            if not by:
                raise SplError("%s: 'by' without fields" % command)
            break
        m = _FUNC_RE.match(t)
        if m:
            func, arg = m.group(1), m.group(2).strip()
        else:
            func, arg = t, None
        lf = func.lower()
        if re.match(r"p(erc)?\d+$|exactperc|upperperc|sumsq|per_|rate|estdc", lf):
            raise SplError("%s: unsupported function %s()" % (command, func))
        if lf not in _STATE_CLASSES:
            raise SplError("%s: unsupported function %r" % (command, t))
        if arg is None and lf not in ("count", "c"):
            raise SplError("%s: %s needs a field" % (command, func))
        expr = None
        field = None
        if arg:
            em = _FUNC_RE.match(arg)
            if em and em.group(1) == "eval":
                expr = Expr(em.group(2), ctx)
            else:
                field = arg.strip('"')
        name = t if arg is not None else lf
        i += 1
        if i + 1 < len(toks) and toks[i].lower() == "as":
            name = toks[i + 1].strip('"')
            i += 2
        elif expr is not None:
            raise SplError("%s: %s with eval() must be renamed with AS" % (command, t))
        aggs.append(Agg(lf, field, expr, name))
    if not aggs:
        raise SplError("%s: no aggregation function" % command)
    return options, aggs, by


def group_keys(row: dict, by: List[str]) -> List[tuple]:
    """The group(s) a row belongs to; none when a by-field is null; mv by-fields split."""
    if not by:
        return [()]
    if len(by) == 1:
        v = row.get(by[0])
        if v is None:
            return []
        if type(v) is list:
            return [(x,) for x in v]
        return [(v,)]
    keys = [()]
    for f in by:
        vals = values_of(row.get(f))
        if not vals:
            return []
        if len(vals) == 1:
            keys = [k + (vals[0],) for k in keys]
        else:
            keys = [k + (v,) for k in keys for v in vals]
    return keys


def group_sort_key(key: tuple):
    return tuple(sort_key(v) for v in key)
