"""Splunk's regular expressions: PCRE2 itself (the system's libpcre2-8 through ctypes), with the
match and depth limits Splunk sets on every regex it runs.

Splunk documents its regexes as PCRE and bounds them: props.conf/transforms.conf MATCH_LIMIT and
DEPTH_LIMIT (defaults 100000 and 1000), limits.conf [rex] match_limit/depth_limit (same defaults).
A regex that exceeds a limit does not match ("If set too low, PCRE may fail to correctly match a
pattern", props.conf.spec); it is never an error. Python's `re` has neither the limits nor all of
PCRE's syntax, so nothing of the SPL subset uses it for a user's regex.

Tests only: the add-on ships no compiled code and does not need this.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import re
from typing import Dict, Iterator, List, Optional, Tuple

from .errors import SplError

_LIB_NAMES = ("libpcre2-8.so.0", "/usr/lib/x86_64-linux-gnu/libpcre2-8.so.0", "libpcre2-8.dylib")


def _load():
    names = list(_LIB_NAMES)
    found = ctypes.util.find_library("pcre2-8")
    if found:
        names.insert(0, found)
    for name in names:
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    raise SplError("libpcre2-8 is not installed: the SPL evaluator runs regexes in PCRE2 "
                   "(apt-get install libpcre2-8-0)")


_lib = _load()
_sz = ctypes.c_size_t
_vp = ctypes.c_void_p
_lib.pcre2_compile_8.restype = _vp
_lib.pcre2_compile_8.argtypes = [ctypes.c_char_p, _sz, ctypes.c_uint32, ctypes.POINTER(ctypes.c_int),
                                 ctypes.POINTER(_sz), _vp]
_lib.pcre2_match_data_create_from_pattern_8.restype = _vp
_lib.pcre2_match_data_create_from_pattern_8.argtypes = [_vp, _vp]
_lib.pcre2_match_context_create_8.restype = _vp
_lib.pcre2_match_context_create_8.argtypes = [_vp]
_lib.pcre2_set_match_limit_8.argtypes = [_vp, ctypes.c_uint32]
_lib.pcre2_set_depth_limit_8.argtypes = [_vp, ctypes.c_uint32]
_lib.pcre2_match_8.restype = ctypes.c_int
_lib.pcre2_match_8.argtypes = [_vp, ctypes.c_char_p, _sz, _sz, ctypes.c_uint32, _vp, _vp]
_match8 = _lib.pcre2_match_8
_lib.pcre2_get_ovector_pointer_8.restype = ctypes.POINTER(_sz)
_lib.pcre2_get_ovector_pointer_8.argtypes = [_vp]
_lib.pcre2_pattern_info_8.restype = ctypes.c_int
_lib.pcre2_pattern_info_8.argtypes = [_vp, ctypes.c_uint32, _vp]
_lib.pcre2_get_error_message_8.restype = ctypes.c_int
_lib.pcre2_get_error_message_8.argtypes = [ctypes.c_int, ctypes.c_char_p, _sz]

PCRE2_UTF = 0x00080000
PCRE2_NO_UTF_CHECK = 0x40000000
PCRE2_ERROR_NOMATCH = -1
PCRE2_ERROR_MATCHLIMIT = -47
PCRE2_ERROR_DEPTHLIMIT = -53
_UNSET = ctypes.c_size_t(-1).value
_INFO_CAPTURECOUNT = 4
_INFO_NAMECOUNT = 17
_INFO_NAMEENTRYSIZE = 18
_INFO_NAMETABLE = 19

# Splunk's defaults: props.conf.spec / transforms.conf.spec MATCH_LIMIT and DEPTH_LIMIT,
# limits.conf.spec [rex] match_limit and depth_limit.
DEFAULT_MATCH_LIMIT = 100000
DEFAULT_DEPTH_LIMIT = 1000


def _error_message(code: int) -> str:
    buf = ctypes.create_string_buffer(256)
    _lib.pcre2_get_error_message_8(code, buf, 256)
    return buf.value.decode("utf-8", "replace")


@functools.lru_cache(maxsize=16)
def _match_context(match_limit: int, depth_limit: int):
    ctx = _lib.pcre2_match_context_create_8(None)
    _lib.pcre2_set_match_limit_8(ctx, match_limit)
    _lib.pcre2_set_depth_limit_8(ctx, depth_limit)
    return ctx


class Match:
    """The spans of one match (byte offsets into the UTF-8 subject)."""

    __slots__ = ("_rx", "_subject", "_spans")

    def __init__(self, rx: "Regex", subject: bytes, spans: List[Tuple[int, int]]):
        self._rx = rx
        self._subject = subject
        self._spans = spans

    def group(self, g=0) -> Optional[str]:
        i = self._rx.groupindex[g] if isinstance(g, str) else g
        s, e = self._spans[i]
        if s < 0:
            return None
        return self._subject[s:e].decode("utf-8", "surrogatepass")

    def groupdict(self) -> Dict[str, Optional[str]]:
        return {name: self.group(i) for name, i in self._rx.groupindex.items()}

    def groups(self) -> Tuple[Optional[str], ...]:
        return tuple(self.group(i) for i in range(1, len(self._spans)))

    def bspan(self) -> Tuple[int, int]:
        return self._spans[0]


class Regex:
    """A compiled PCRE2 pattern with the match and depth limits it runs under."""

    def __init__(self, pattern: str, match_limit: int = DEFAULT_MATCH_LIMIT,
                 depth_limit: int = DEFAULT_DEPTH_LIMIT):
        self.pattern = pattern
        raw = pattern.encode("utf-8")
        err = ctypes.c_int()
        off = _sz()
        code = _lib.pcre2_compile_8(raw, len(raw), PCRE2_UTF, ctypes.byref(err), ctypes.byref(off), None)
        if not code:
            raise SplError("invalid regular expression %r: %s at offset %d"
                           % (pattern, _error_message(err.value), off.value))
        # compiled patterns live as long as the lru_cache of compile_regex keeps this object;
        # pointers are held as c_void_p objects (cheaper to pass than ints)
        self._code = ctypes.c_void_p(code)
        self._md = ctypes.c_void_p(_lib.pcre2_match_data_create_from_pattern_8(code, None))
        self._ctx = ctypes.c_void_p(_match_context(match_limit, depth_limit))
        self._ov = _lib.pcre2_get_ovector_pointer_8(self._md)
        self.match_limit = match_limit
        self.depth_limit = depth_limit
        n = ctypes.c_uint32()
        _lib.pcre2_pattern_info_8(code, _INFO_CAPTURECOUNT, ctypes.byref(n))
        self.groups = n.value
        self.groupindex = self._names()
        self.limit_hits = 0  # how many searches gave up at a limit (Splunk logs a warning)

    def _names(self) -> Dict[str, int]:
        count, size, table = ctypes.c_uint32(), ctypes.c_uint32(), ctypes.c_void_p()
        _lib.pcre2_pattern_info_8(self._code, _INFO_NAMECOUNT, ctypes.byref(count))
        _lib.pcre2_pattern_info_8(self._code, _INFO_NAMEENTRYSIZE, ctypes.byref(size))
        _lib.pcre2_pattern_info_8(self._code, _INFO_NAMETABLE, ctypes.byref(table))
        out: Dict[str, int] = {}
        for i in range(count.value):
            entry = ctypes.string_at(table.value + i * size.value, size.value)
            number = entry[0] << 8 | entry[1]
            out.setdefault(entry[2:].split(b"\0", 1)[0].decode("utf-8"), number)
        # in pattern order, as Splunk creates the fields
        return dict(sorted(out.items(), key=lambda kv: kv[1]))

    def _run(self, subject: bytes, pos: int, options: int) -> bool:
        """One pcre2_match; the spans are then in self._ov."""
        rc = _match8(self._code, subject, len(subject), pos, options, self._md, self._ctx)
        if rc < 0:
            # no match; a limit reached is no match too (and a bad UTF-8 subject)
            if rc == PCRE2_ERROR_MATCHLIMIT or rc == PCRE2_ERROR_DEPTHLIMIT:
                self.limit_hits += 1
            return False
        return True

    def _match(self, subject: bytes, pos: int, options: int) -> Optional[Match]:
        if not self._run(subject, pos, options):
            return None
        ov = self._ov
        spans = []
        for i in range(self.groups + 1):
            s = ov[2 * i]
            spans.append((-1, -1) if s == _UNSET else (s, ov[2 * i + 1]))
        return Match(self, subject, spans)

    def search(self, text: str) -> Optional[Match]:
        return self._match(text.encode("utf-8", "surrogatepass"), 0, 0)

    def test(self, text: str) -> bool:
        return self._run(text.encode("utf-8", "surrogatepass"), 0, 0)

    def finditer(self, text: str) -> Iterator[Match]:
        subject = text.encode("utf-8", "surrogatepass")
        pos = 0
        options = 0
        n = len(subject)
        while pos <= n:
            m = self._match(subject, pos, options)
            if m is None:
                return
            options = PCRE2_NO_UTF_CHECK
            yield m
            s, e = m.bspan()
            if e == s:
                # an empty match: move on by one character
                e += 1
                while e < n and (subject[e] & 0xC0) == 0x80:
                    e += 1
            pos = e

    def sub(self, repl: str, text: str, nth: int = 0) -> str:
        """Replace every match (nth=0) or only the nth with repl, where \\N stands for group N
        (Splunk's replace() and rex mode=sed)."""
        if not self._run(text.encode("utf-8", "surrogatepass"), 0, 0):
            return text  # the common case: nothing to replace
        out: List[str] = []
        last = 0
        subject = None
        for i, m in enumerate(self.finditer(text), 1):
            if nth and i < nth:
                continue
            subject = m._subject
            s, e = m.bspan()
            out.append(subject[last:s].decode("utf-8", "surrogatepass"))
            out.append(_expand(repl, m))
            last = e
            if nth:
                break
        if subject is None:
            return text
        out.append(subject[last:].decode("utf-8", "surrogatepass"))
        return "".join(out)


_BACKREF = re.compile(r"\\(\d)|\\(.)", re.DOTALL)


def _expand(repl: str, m: Match) -> str:
    if "\\" not in repl:
        return repl

    def one(g):
        if g.group(1) is not None:
            i = int(g.group(1))
            return (m.group(i) or "") if i < len(m._spans) else ""
        return g.group(2)
    return _BACKREF.sub(one, repl)


@functools.lru_cache(maxsize=2048)
def compile_regex(pattern: str, match_limit: int = DEFAULT_MATCH_LIMIT,
                  depth_limit: int = DEFAULT_DEPTH_LIMIT) -> Regex:
    return Regex(pattern, match_limit, depth_limit)
