"""Eval expressions (eval, where, EVAL- calculated fields, stats eval(...)).

Parsed once into nested Python closures `f(row) -> value`; values are None (null), bool (only
inside expressions), int, float, str, or a list (multivalue). Three-valued logic: a comparison
with null is null, and null is not true.
"""
from __future__ import annotations

import functools
import ipaddress
import math
import re
from typing import Any, Callable, List, Optional
from urllib.parse import unquote as _urlunquote

from . import timeutil
from .errors import SplError
from .jsonfuncs import JSON_FUNCTIONS
from .values import fmt, normalize, to_num, values_of

Func = Callable[[dict], Any]

_TOKEN_RE = re.compile(r"""
    (?P<ws>\s+)
  | (?P<num>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
  | (?P<str>"(?:\\.|[^"\\])*")
  | (?P<field>'(?:\\.|[^'\\])*')
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<=|>=|=|<|>|\+|-|\*|/|%|\.|\(|\)|,)
""", re.VERBOSE)

_KEYWORDS = {"AND", "OR", "NOT", "XOR", "LIKE"}


def _tokenize(text: str):
    toks = []
    pos = 0
    n = len(text)
    while pos < n:
        if text[pos] == "." and toks and (toks[-1][0] in ("num", "str", "field", "ident")
                                          or toks[-1] == ("op", ")")):
            # after a value, "." is concatenation even before a digit: "a".1
            toks.append(("op", "."))
            pos += 1
            continue
        m = _TOKEN_RE.match(text, pos)
        if not m:
            raise SplError("eval: cannot parse %r at %r" % (text, text[pos:pos + 20]))
        kind = m.lastgroup
        val = m.group(kind)
        pos = m.end()
        if kind == "ws":
            continue
        if kind == "str":
            body = val[1:-1]
            val = re.sub(r'\\(["\\])', r"\1", body)
        elif kind == "field":
            val = re.sub(r"\\(['\\])", r"\1", val[1:-1])
        elif kind == "ident" and val in _KEYWORDS:
            kind = "kw"
        toks.append((kind, val))
    toks.append(("end", None))
    return toks


class Context:
    """What an expression may need besides the row: the search's fixed 'now'."""

    def __init__(self, now: float):
        self.now = now


# ---------------------------------------------------------------- value helpers

def _as_bool(v: Any, where: str) -> Optional[bool]:
    if v is None or type(v) is bool:
        return v
    raise SplError("%s: expected a boolean expression, got %r" % (where, v))


_NUM_START = frozenset("0123456789+-. \t")


def _scalar_cmp(op: str, a: Any, b: Any) -> bool:
    if type(a) is str and type(b) is str and (op == "=" or op == "!=") and (
            a == b or not a or not b or a[0] not in _NUM_START or b[0] not in _NUM_START):
        # fast path: identical strings, or at least one cannot be a number
        return (a == b) == (op == "=")
    if type(a) is bool or type(b) is bool:
        raise SplError("eval: cannot compare a boolean with %s" % op)
    na = to_num(a)
    nb = to_num(b)
    if na is not None and nb is not None:
        x, y = na, nb
    else:
        x, y = fmt(a), fmt(b)
    if op == "=":
        return x == y
    if op == "!=":
        return x != y
    if op == "<":
        return x < y
    if op == ">":
        return x > y
    if op == "<=":
        return x <= y
    return x >= y


def compare(op: str, a: Any, b: Any) -> Optional[bool]:
    if a is None or b is None:
        return None
    if type(a) is list or type(b) is list:
        # a multivalue comparison is true when any value satisfies it
        for x in values_of(a):
            for y in values_of(b):
                if _scalar_cmp(op, x, y):
                    return True
        return False
    return _scalar_cmp(op, a, b)


@functools.lru_cache(maxsize=1024)
def _like_regex(pattern: str):
    out = []
    for ch in pattern:
        if ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.DOTALL)


def like(v: Any, pattern: Any) -> Optional[bool]:
    if v is None or pattern is None:
        return None
    rx = _like_regex(fmt(pattern))
    return any(rx.fullmatch(fmt(x)) is not None for x in values_of(v))


@functools.lru_cache(maxsize=1024)
def compile_regex(pattern: str):
    """PCRE-ish to Python: (?<name>...) named groups."""
    py = re.sub(r"\(\?<([A-Za-z_][A-Za-z0-9_]*)>", r"(?P<\1>", pattern)
    try:
        return re.compile(py)
    except re.error as e:
        raise SplError("invalid regular expression %r: %s" % (pattern, e))


@functools.lru_cache(maxsize=512)
def _network(cidr: str):
    try:
        return ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        return None


@functools.lru_cache(maxsize=65536)
def _address(ip: str):
    try:
        return ipaddress.ip_address(ip.strip())
    except ValueError:
        return None


def cidr_contains(cidr: str, ip: str) -> bool:
    net = _network(cidr)
    addr = _address(ip)
    if net is None or addr is None or net.version != addr.version:
        return False
    return addr in net


def _arith(op: str, a: Any, b: Any) -> Any:
    if a is None or b is None or type(a) is list or type(b) is list:
        return None
    if type(a) is bool or type(b) is bool:
        raise SplError("eval: arithmetic on a boolean")
    na = to_num(a)
    nb = to_num(b)
    if op == "+" and (na is None or nb is None):
        if type(a) is str and type(b) is str:
            return a + b
        return None
    if na is None or nb is None:
        return None
    if op == "+":
        return na + nb
    if op == "-":
        return na - nb
    if op == "*":
        return na * nb
    if op == "/":
        if nb == 0:
            return None
        r = na / nb
        return r
    if nb == 0:
        return None
    return math.fmod(na, nb)


def _concat(a: Any, b: Any) -> Any:
    if a is None or b is None or type(a) is list or type(b) is list:
        return None
    return fmt(a) + fmt(b)


def _num_arg(v: Any, fname: str) -> Optional[float]:
    if v is None or type(v) is list:
        return None
    n = to_num(v)
    return n


def _splunk_round(x: float, n: int = 0) -> float:
    q = 10 ** n
    r = math.floor(abs(x) * q + 0.5) / q
    r = math.copysign(r, x)
    if n <= 0:
        return int(r)
    return float(("%." + str(n) + "f") % r)


def _mv_elementwise(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def wrapped(v: Any) -> Any:
        if v is None:
            return None
        if type(v) is list:
            return normalize([r for r in (fn(x) for x in v) if r is not None])
        return fn(v)
    return wrapped


# ---------------------------------------------------------------- functions
# Each entry: (min args, max args or None, implementation on evaluated args).

def _f_len(v):
    return _mv_first(v, lambda x: len(fmt(x)))


def _mv_first(v, fn):
    if v is None:
        return None
    if type(v) is list:
        v = v[0]
    return fn(v)


def _f_substr(s, start, length=None):
    def one(x):
        x = fmt(x)
        st = to_num(start)
        if st is None:
            return None
        st = int(st)
        if st > 0:
            i = st - 1
        elif st < 0:
            i = max(len(x) + st, 0)
        else:
            i = 0
        if length is None:
            return x[i:]
        ln = to_num(length)
        if ln is None:
            return None
        return x[i:i + int(ln)]
    if s is None:
        return None
    return _mv_elementwise(one)(s)


def _f_replace(s, rx, repl):
    if s is None or rx is None or repl is None:
        return None
    pattern = compile_regex(fmt(rx))
    py_repl = re.sub(r"\\(\d)", r"\\g<\1>", fmt(repl))
    return _mv_elementwise(lambda x: pattern.sub(py_repl, fmt(x)))(s)


def _f_split(s, delim):
    if s is None or delim is None:
        return None
    d = fmt(delim)
    out = []
    for x in values_of(s):
        x = fmt(x)
        out.extend(list(x) if d == "" else x.split(d))
    return normalize(out)


def _f_tonumber(v, base=None):
    def one(x):
        if type(x) in (int, float):
            return x
        s = fmt(x).strip()
        if base is not None:
            b = int(to_num(base) or 10)
            try:
                if b == 16 and s.lower().startswith("0x"):
                    s = s[2:]
                return int(s, b)
            except ValueError:
                return None
        return to_num(s)
    return _mv_elementwise(one)(v)


def _f_tostring(v, option=None):
    if v is None:
        return None
    if type(v) is bool:
        return "True" if v else "False"
    if option is None:
        return _mv_elementwise(fmt)(v)
    opt = fmt(option)
    n = to_num(v if type(v) is not list else v[0])
    if n is None:
        return None
    if opt == "hex":
        return hex(int(n))
    if opt == "commas":
        if isinstance(n, float) and n != int(n):
            return "{:,.2f}".format(round(n, 2))
        return "{:,}".format(int(n))
    if opt == "duration":
        secs = int(n)
        days, rem = divmod(secs, 86400)
        h, rem = divmod(rem, 3600)
        m, s = divmod(rem, 60)
        body = "%02d:%02d:%02d" % (h, m, s)
        return ("%d+%s" % (days, body)) if days else body
    raise SplError("tostring: unsupported format %r" % opt)


def _f_round(v, n=None):
    x = _num_arg(v, "round")
    if x is None:
        return None
    digits = int(to_num(n)) if n is not None else 0
    return _splunk_round(x, digits)


def _math1(fn):
    def impl(v):
        x = _num_arg(v, "")
        if x is None:
            return None
        try:
            return fn(x)
        except (ValueError, OverflowError, ZeroDivisionError):
            return None
    return impl


def _f_log(v, base=None):
    x = _num_arg(v, "log")
    if x is None or x <= 0:
        return None
    b = 10 if base is None else to_num(base)
    if b is None or b <= 0 or b == 1:
        return None
    return math.log(x, b)


def _f_pow(a, b):
    x, y = _num_arg(a, "pow"), _num_arg(b, "pow")
    if x is None or y is None:
        return None
    try:
        return math.pow(x, y)
    except (ValueError, OverflowError):
        return None


def _f_atan2(y, x):
    a, b = _num_arg(y, "atan2"), _num_arg(x, "atan2")
    if a is None or b is None:
        return None
    return math.atan2(a, b)


def _minmax(args, pick_max):
    vals = []
    for a in args:
        vals.extend(values_of(a))
    if not vals:
        return None
    nums = [(to_num(v), v) for v in vals]
    numeric = [n for n, _ in nums if n is not None]
    strings = [fmt(v) for n, v in nums if n is None]
    # strings sort above numbers
    if pick_max:
        if strings:
            return max(strings)
        return max(numeric)
    if numeric:
        return min(numeric)
    return min(strings)


def _f_mvcount(v):
    if v is None:
        return None
    return len(values_of(v))


def _f_mvindex(v, start, end=None):
    vals = values_of(v)
    if not vals:
        return None
    s = to_num(start)
    if s is None:
        return None
    s = int(s)
    n = len(vals)
    if s < 0:
        s += n
    if end is None:
        return vals[s] if 0 <= s < n else None
    e = to_num(end)
    if e is None:
        return None
    e = int(e)
    if e < 0:
        e += n
    if s < 0 or s >= n or e < s:
        return None
    return normalize(vals[s:e + 1])


def _f_mvjoin(v, delim):
    if v is None or delim is None:
        return None
    return fmt(delim).join(fmt(x) for x in values_of(v))


def _f_mvappend(*args):
    out = []
    for a in args:
        out.extend(values_of(a))
    return normalize(out)


def _f_mvfind(v, rx):
    if v is None or rx is None:
        return None
    pattern = compile_regex(fmt(rx))
    for i, x in enumerate(values_of(v)):
        if pattern.search(fmt(x)):
            return i
    return None


def _f_mvdedup(v):
    seen = set()
    out = []
    for x in values_of(v):
        k = fmt(x)
        if k not in seen:
            seen.add(k)
            out.append(x)
    return normalize(out)


def _f_mvsort(v):
    return normalize(sorted(values_of(v), key=fmt))


def _f_mvzip(a, b, delim=None):
    if a is None or b is None:
        return None
    d = "," if delim is None else fmt(delim)
    return normalize([fmt(x) + d + fmt(y) for x, y in zip(values_of(a), values_of(b))])


def _f_trim(chars_default):
    def impl(v, chars=None):
        cs = chars_default if chars is None else fmt(chars)
        if chars_default == "both":
            return _mv_elementwise(lambda x: fmt(x).strip(None if chars is None else cs))(v)
        if chars_default == "left":
            return _mv_elementwise(lambda x: fmt(x).lstrip(None if chars is None else cs))(v)
        return _mv_elementwise(lambda x: fmt(x).rstrip(None if chars is None else cs))(v)
    return impl


def _f_typeof(v):
    if v is None:
        return "Invalid"
    if type(v) is bool:
        return "Boolean"
    if type(v) is list:
        return "Multivalue"
    if to_num(v) is not None:
        return "Number"
    return "String"


def _f_cidrmatch(cidr, ip):
    if cidr is None or ip is None:
        return None
    c = fmt(cidr)
    return any(cidr_contains(c, fmt(x)) for x in values_of(ip))


def _f_match(v, rx):
    if v is None or rx is None:
        return None
    pattern = compile_regex(fmt(rx))
    return any(pattern.search(fmt(x)) is not None for x in values_of(v))


def _f_urldecode(v):
    return _mv_elementwise(lambda x: _urlunquote(fmt(x).replace("+", " ")))(v)


def _f_nullif(a, b):
    r = compare("=", a, b)
    return None if r else a


_SIMPLE = {
    "len": (1, 1, _f_len),
    "lower": (1, 1, _mv_elementwise(lambda x: fmt(x).lower())),
    "upper": (1, 1, _mv_elementwise(lambda x: fmt(x).upper())),
    "substr": (2, 3, _f_substr),
    "replace": (3, 3, _f_replace),
    "split": (2, 2, _f_split),
    "trim": (1, 2, _f_trim("both")),
    "ltrim": (1, 2, _f_trim("left")),
    "rtrim": (1, 2, _f_trim("right")),
    "urldecode": (1, 1, _f_urldecode),
    "tonumber": (1, 2, _f_tonumber),
    "tostring": (1, 2, _f_tostring),
    "round": (1, 2, _f_round),
    "floor": (1, 1, _math1(lambda x: int(math.floor(x)))),
    "ceil": (1, 1, _math1(lambda x: int(math.ceil(x)))),
    "ceiling": (1, 1, _math1(lambda x: int(math.ceil(x)))),
    "abs": (1, 1, _math1(abs)),
    "pow": (2, 2, _f_pow),
    "sqrt": (1, 1, _math1(math.sqrt)),
    "exp": (1, 1, _math1(math.exp)),
    "ln": (1, 1, _math1(math.log)),
    "log": (1, 2, _f_log),
    "sin": (1, 1, _math1(math.sin)),
    "cos": (1, 1, _math1(math.cos)),
    "tan": (1, 1, _math1(math.tan)),
    "asin": (1, 1, _math1(math.asin)),
    "acos": (1, 1, _math1(math.acos)),
    "atan": (1, 1, _math1(math.atan)),
    "atan2": (2, 2, _f_atan2),
    "min": (1, None, lambda *a: _minmax(a, False)),
    "max": (1, None, lambda *a: _minmax(a, True)),
    "mvcount": (1, 1, _f_mvcount),
    "mvindex": (2, 3, _f_mvindex),
    "mvjoin": (2, 2, _f_mvjoin),
    "mvappend": (1, None, _f_mvappend),
    "mvfind": (2, 2, _f_mvfind),
    "mvdedup": (1, 1, _f_mvdedup),
    "mvsort": (1, 1, _f_mvsort),
    "mvzip": (2, 3, _f_mvzip),
    "typeof": (1, 1, _f_typeof),
    "cidrmatch": (2, 2, _f_cidrmatch),
    "match": (2, 2, _f_match),
    "like": (2, 2, like),
    "isnull": (1, 1, lambda v: v is None),
    "isnotnull": (1, 1, lambda v: v is not None),
    "isnum": (1, 1, lambda v: v is not None and type(v) is not list and type(v) is not bool
                 and to_num(v) is not None),
    "isint": (1, 1, lambda v: v is not None and type(v) is not list and type(v) is not bool
                 and to_num(v) is not None and float(to_num(v)).is_integer()),
    "isstr": (1, 1, lambda v: type(v) is str and to_num(v) is None),
    "nullif": (2, 2, _f_nullif),
    "pi": (0, 0, lambda: math.pi),
    "null": (0, 0, lambda: None),
    "true": (0, 0, lambda: True),
    "false": (0, 0, lambda: False),
}
_SIMPLE.update(JSON_FUNCTIONS)

SUPPORTED_FUNCTIONS = sorted(set(_SIMPLE) | {
    "if", "case", "coalesce", "in", "mvfilter", "mvmap", "now", "time", "relative_time",
    "strftime", "strptime", "validate"})


# ---------------------------------------------------------------- parser

_NOCONST = object()
_MISS = object()


class _Parser:
    def __init__(self, text: str, ctx: Context):
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0
        self.ctx = ctx
        self.fields: set = set()

    def peek(self):
        return self.toks[self.i]

    def take(self):
        t = self.toks[self.i]
        self.i += 1
        return t

    def expect(self, kind, val=None):
        t = self.take()
        if t[0] != kind and not (kind == "op" and t[0] == "op") or (val is not None and t[1] != val):
            raise SplError("eval: expected %r in %r" % (val or kind, self.text))
        return t

    def is_op(self, *vals):
        t = self.peek()
        return t[0] == "op" and t[1] in vals

    def is_kw(self, *vals):
        t = self.peek()
        return t[0] == "kw" and t[1] in vals

    def parse(self) -> Func:
        f = self.p_or()
        if self.peek()[0] != "end":
            raise SplError("eval: unexpected %r in %r" % (self.peek()[1], self.text))
        return f

    def p_or(self) -> Func:
        left = self.p_xor()
        while self.is_kw("OR"):
            self.take()
            right = self.p_xor()
            left = _mk_or(left, right)
        return left

    def p_xor(self) -> Func:
        left = self.p_and()
        while self.is_kw("XOR"):
            self.take()
            right = self.p_and()
            left = _mk_xor(left, right)
        return left

    def p_and(self) -> Func:
        left = self.p_not()
        while self.is_kw("AND"):
            self.take()
            right = self.p_not()
            left = _mk_and(left, right)
        return left

    def p_not(self) -> Func:
        if self.is_kw("NOT"):
            self.take()
            inner = self.p_not()

            def f_not(row, inner=inner):
                v = _as_bool(inner(row), "NOT")
                return None if v is None else not v
            return f_not
        return self.p_cmp()

    def p_cmp(self) -> Func:
        left = self.p_add()
        if self.is_op("=", "==", "!=", "<", ">", "<=", ">="):
            op = self.take()[1]
            if op == "==":
                op = "="
            right = self.p_add()
            return lambda row, l=left, r=right, op=op: compare(op, l(row), r(row))
        if self.is_kw("LIKE"):
            self.take()
            right = self.p_add()
            return lambda row, l=left, r=right: like(l(row), r(row))
        t = self.peek()
        if t[0] == "ident" and t[1] == "IN" and self.toks[self.i + 1] == ("op", "("):
            # `field IN ("a", "b")`, as the in() function
            self.take()
            items = self.p_args()

            def f_in_op(row, l=left, items=items):
                v = l(row)
                if v is None:
                    return None
                return any(compare("=", v, it(row)) for it in items)
            return f_in_op
        return left

    def p_add(self) -> Func:
        left = self.p_mul()
        while self.is_op("+", "-", "."):
            op = self.take()[1]
            right = self.p_mul()
            if op == ".":
                left = (lambda row, l=left, r=right: _concat(l(row), r(row)))
            else:
                left = (lambda row, l=left, r=right, op=op: _arith(op, l(row), r(row)))
        return left

    def p_mul(self) -> Func:
        left = self.p_unary()
        while self.is_op("*", "/", "%"):
            op = self.take()[1]
            right = self.p_unary()
            left = (lambda row, l=left, r=right, op=op: _arith(op, l(row), r(row)))
        return left

    def p_unary(self) -> Func:
        if self.is_op("-"):
            self.take()
            inner = self.p_unary()
            return lambda row, inner=inner: _arith("-", 0, inner(row))
        if self.is_op("+"):
            self.take()
            return self.p_unary()
        return self.p_primary()

    def p_primary(self) -> Func:
        kind, val = self.take()
        if kind == "num":
            n = to_num(val)
            f = lambda row, n=n: n
            f._const = n
            return f
        if kind == "str":
            f = lambda row, s=val: s
            f._const = val
            return f
        if kind == "field":
            self.fields.add(val)
            return lambda row, name=val: row.get(name)
        if kind == "ident":
            if self.is_op("("):
                return self.p_call(val)
            self.fields.add(val)
            return lambda row, name=val: row.get(name)
        if kind == "op" and val == "(":
            inner = self.p_or()
            self.expect("op", ")")
            return inner
        raise SplError("eval: unexpected %r in %r" % (val, self.text))

    def p_args(self) -> List[Func]:
        self.expect("op", "(")
        args = []
        if self.is_op(")"):
            self.take()
            return args
        while True:
            args.append(self.p_or())
            if self.is_op(","):
                self.take()
                continue
            self.expect("op", ")")
            return args

    def p_call(self, name: str) -> Func:
        lname = name.lower()
        if lname in ("mvfilter", "mvmap"):
            return self.p_mv_lambda(lname)
        args = self.p_args()
        n = len(args)
        ctx = self.ctx
        if lname == "if":
            _arity(name, n, 3, 3)
            c, a, b = args

            def f_if(row):
                cond = _as_bool(c(row), "if")
                return a(row) if cond else b(row)
            return f_if
        if lname == "case":
            if n == 0 or n % 2:
                raise SplError("case: needs condition/value pairs")
            pairs = [(args[i], args[i + 1]) for i in range(0, n, 2)]

            def f_case(row):
                for cond, val in pairs:
                    if _as_bool(cond(row), "case"):
                        return val(row)
                return None
            return f_case
        if lname == "validate":
            if n == 0 or n % 2:
                raise SplError("validate: needs condition/value pairs")
            pairs = [(args[i], args[i + 1]) for i in range(0, n, 2)]

            def f_validate(row):
                for cond, val in pairs:
                    if not _as_bool(cond(row), "validate"):
                        return val(row)
                return None
            return f_validate
        if lname == "coalesce":
            _arity(name, n, 1, None)

            def f_coalesce(row):
                for a in args:
                    v = a(row)
                    if v is not None:
                        return v
                return None
            return f_coalesce
        if lname == "in":
            _arity(name, n, 2, None)
            first, rest = args[0], args[1:]

            def f_in(row):
                v = first(row)
                if v is None:
                    return None
                for a in rest:
                    if compare("=", v, a(row)):
                        return True
                return False
            return f_in
        if lname in ("now", "time"):
            _arity(name, n, 0, 0)
            return lambda row: ctx.now
        if lname == "relative_time":
            _arity(name, n, 2, 2)
            t_f, s_f = args

            last = [None, None, None]

            def f_rel(row):
                t = to_num(t_f(row))
                s = s_f(row)
                if t is None or s is None:
                    return None
                if t == last[0] and s == last[1]:
                    return last[2]  # relative_time(now(), "-20m@m") on every row
                r = timeutil.relative_time(t, fmt(s))
                last[0], last[1], last[2] = t, s, r
                return r
            return f_rel
        if lname == "strftime":
            _arity(name, n, 2, 2)
            t_f, s_f = args

            def f_strftime(row):
                v = t_f(row)
                s = s_f(row)
                if v is None or s is None or type(v) is list:
                    return None
                t = to_num(v)
                if t is None:
                    return None
                return timeutil.strftime(t, fmt(s))
            return f_strftime
        if lname == "strptime":
            _arity(name, n, 2, 2)
            v_f, s_f = args

            def f_strptime(row):
                v = v_f(row)
                s = s_f(row)
                if v is None or s is None or type(v) is list:
                    return None
                return timeutil.strptime(fmt(v), fmt(s))
            return f_strptime
        consts = [getattr(a, "_const", _NOCONST) for a in args]
        if lname == "replace" and n == 3 and consts[1] is not _NOCONST and consts[2] is not _NOCONST:
            # constant pattern and replacement: compile once
            pattern = compile_regex(fmt(consts[1]))
            py_repl = re.sub(r"\\(\d)", r"\\g<\1>", fmt(consts[2]))
            a0 = args[0]
            sub_one = lambda x: pattern.sub(py_repl, fmt(x))
            mv_sub = _mv_elementwise(sub_one)

            def f_replace_c(row):
                v = a0(row)
                if v is None:
                    return None
                if type(v) is str:
                    return pattern.sub(py_repl, v)
                return mv_sub(v)
            return f_replace_c
        if lname == "match" and n == 2 and consts[1] is not _NOCONST:
            pattern = compile_regex(fmt(consts[1]))
            a0 = args[0]

            def f_match_c(row):
                v = a0(row)
                if v is None:
                    return None
                if type(v) is str:
                    return pattern.search(v) is not None
                return any(pattern.search(fmt(x)) is not None for x in values_of(v))
            return f_match_c
        spec = _SIMPLE.get(lname)
        if spec is None:
            raise SplError("eval: unsupported function %s()" % name)
        lo, hi, impl = spec
        _arity(name, n, lo, hi)
        if n == 0:
            return lambda row: impl()
        if n == 1:
            a0 = args[0]
            return lambda row: impl(a0(row))
        if n == 2:
            a0, a1 = args
            return lambda row: impl(a0(row), a1(row))
        return lambda row: impl(*[a(row) for a in args])

    def p_mv_lambda(self, lname: str) -> Func:
        # mvfilter(<expr over one field>) / mvmap(<field>, <expr over that field>):
        # the expression is evaluated once per value of the field.
        self.expect("op", "(")
        mv_field = None
        if lname == "mvmap":
            kind, val = self.take()
            if kind not in ("field", "ident") or self.is_op("("):
                raise SplError("mvmap: the first argument must be a field name")
            mv_field = val
            self.fields.add(val)
            self.expect("op", ",")
        before = set(self.fields)
        self.fields = set()
        body = self.p_or()
        used = self.fields
        self.fields = before | used
        self.expect("op", ")")
        if lname == "mvfilter":
            if len(used) != 1:
                raise SplError("mvfilter: the expression must reference exactly one field, got %s"
                               % sorted(used))
            (mv_field,) = used

        def f_mv(row, field=mv_field):
            vals = values_of(row.get(field))
            if not vals:
                return None
            out = []
            tmp = dict(row)
            for v in vals:
                tmp[field] = v
                r = body(tmp)
                if lname == "mvfilter":
                    if _as_bool(r, "mvfilter"):
                        out.append(v)
                else:
                    if type(r) is bool:
                        raise SplError("mvmap: the expression cannot be boolean")
                    out.extend(values_of(r))
            return normalize(out)
        return f_mv


def _arity(name: str, n: int, lo: int, hi: Optional[int]) -> None:
    if n < lo or (hi is not None and n > hi):
        raise SplError("eval: %s() takes %s arguments, got %d"
                       % (name, lo if lo == hi else "%d..%s" % (lo, hi if hi is not None else "n"), n))


def _mk_and(l: Func, r: Func) -> Func:
    def f_and(row):
        a = _as_bool(l(row), "AND")
        if a is False:
            return False
        b = _as_bool(r(row), "AND")
        if b is False:
            return False
        if a is None or b is None:
            return None
        return True
    return f_and


def _mk_or(l: Func, r: Func) -> Func:
    def f_or(row):
        a = _as_bool(l(row), "OR")
        if a is True:
            return True
        b = _as_bool(r(row), "OR")
        if b is True:
            return True
        if a is None or b is None:
            return None
        return False
    return f_or


def _mk_xor(l: Func, r: Func) -> Func:
    def f_xor(row):
        a = _as_bool(l(row), "XOR")
        b = _as_bool(r(row), "XOR")
        if a is None or b is None:
            return None
        return a != b
    return f_xor


class Expr:
    """A compiled eval expression; `fields` are the field names it reads."""

    def __init__(self, text: str, ctx: Context):
        p = _Parser(text, ctx)
        self.text = text
        self.fn = p.parse()
        self.fields = frozenset(p.fields)
        self._memo_fields = tuple(sorted(self.fields))
        self._memo_calls = 0
        self._memo = None if (self._MEMO_OFF.search(text) or self._TRIVIAL.match(text)) else {}

    def __call__(self, row: dict) -> Any:
        return self.fn(row)

    _MEMO_OFF = re.compile(r"\b(now|time|random)\s*\(")
    _TRIVIAL = re.compile(r"""\s*('[^']*'|"[^"]*"|[A-Za-z_][A-Za-z0-9_]*|[\d.]+)\s*\Z""")

    def memo_value(self, row: dict) -> Any:
        """value(), remembered by the values of the fields it reads (calculated fields see the
        same few types, users and addresses again and again). Switches itself off when the
        inputs hardly repeat, and never applies to time-dependent or trivial expressions."""
        memo = self._memo
        if memo is None:
            return self.value(row)
        key = tuple(tuple(v) if type(v) is list else v for v in map(row.get, self._memo_fields))
        self._memo_calls += 1
        hit = memo.get(key, _MISS)
        if hit is not _MISS:
            return hit
        v = self.value(row)
        memo[key] = v
        if self._memo_calls >= 2000:
            if len(memo) > 400:
                self._memo = None  # inputs hardly repeat: the memo costs more than it saves
            elif len(memo) > 50000:
                memo.clear()
        return v

    def value(self, row: dict) -> Any:
        """The value to store in a field: never a boolean; a one-element list is a scalar."""
        v = self.fn(row)
        if type(v) is bool:
            raise SplError("eval: the result of %r is boolean; wrap it in if()" % self.text)
        if type(v) is list:
            return normalize(v)
        return v

    def test(self, row: dict) -> bool:
        """A where-clause test: true only when the expression is true."""
        v = self.fn(row)
        if v is True:
            return True
        if v is None or v is False:
            return False
        raise SplError("where: %r is not a boolean expression" % self.text)


def parse_assignments(text: str) -> List[tuple]:
    """`a=expr, b=expr` -> [(name, expr_text)] split on top-level commas."""
    from .lexer import split_top
    out = []
    for part in split_top(text, ","):
        part = part.strip()
        if not part:
            raise SplError("eval: empty assignment in %r" % text)
        m = re.match(r"""\s*('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^=\s]+)\s*=(?!=)""", part)
        if not m:
            raise SplError("eval: expected <field>=<expression>, got %r" % part)
        name = m.group(1)
        if name[0] in "'\"":
            name = name[1:-1]
        elif "{" in name:
            # Splunk names such a field after another field's value; not implemented here
            raise SplError("eval: dynamic field names ({field}) are not supported: %r" % name)
        out.append((name, part[m.end():]))
    return out
