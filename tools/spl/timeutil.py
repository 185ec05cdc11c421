"""Relative time modifiers, strftime and strptime, all in UTC."""
from __future__ import annotations

import calendar
import functools
import re
import time
from datetime import datetime, timedelta, timezone
from typing import Optional

from .errors import SplError

_UNITS = {
    "s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s",
    "m": "m", "min": "m", "mins": "m", "minute": "m", "minutes": "m",
    "h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
    "d": "d", "day": "d", "days": "d",
    "w": "w", "week": "w", "weeks": "w",
    "mon": "mon", "month": "mon", "months": "mon",
    "q": "q", "qtr": "q", "qtrs": "q", "quarter": "q", "quarters": "q",
    "y": "y", "yr": "y", "yrs": "y", "year": "y", "years": "y",
}
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_OFFSET_RE = re.compile(r"([+-])(\d*)([a-zA-Z]+)")
_SNAP_RE = re.compile(r"@([a-zA-Z]+)(\d?)")


def _add_months(dt: datetime, months: int) -> datetime:
    m = dt.month - 1 + months
    y = dt.year + m // 12
    m = m % 12 + 1
    day = min(dt.day, calendar.monthrange(y, m)[1])
    return dt.replace(year=y, month=m, day=day)


def _apply_offsets(dt: datetime, text: str, spec: str) -> datetime:
    pos = 0
    while pos < len(text):
        m = _OFFSET_RE.match(text, pos)
        if not m:
            raise SplError("invalid relative time %r" % spec)
        sign = -1 if m.group(1) == "-" else 1
        n = int(m.group(2) or "1") * sign
        unit = _UNITS.get(m.group(3).lower())
        if unit is None:
            raise SplError("invalid time unit %r in %r" % (m.group(3), spec))
        if unit in _SECONDS:
            dt = dt + timedelta(seconds=n * _SECONDS[unit])
        elif unit == "mon":
            dt = _add_months(dt, n)
        elif unit == "q":
            dt = _add_months(dt, 3 * n)
        else:
            dt = _add_months(dt, 12 * n)
        pos = m.end()
    return dt


def _snap(dt: datetime, unit_text: str, digit: str, spec: str) -> datetime:
    unit = _UNITS.get(unit_text.lower())
    if unit is None:
        raise SplError("invalid snap unit %r in %r" % (unit_text, spec))
    if unit == "s":
        return dt.replace(microsecond=0)
    if unit == "m":
        return dt.replace(second=0, microsecond=0)
    if unit == "h":
        return dt.replace(minute=0, second=0, microsecond=0)
    day = dt.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "d":
        return day
    if unit == "w":
        target = int(digit or "0")  # 0 = Sunday .. 6 = Saturday
        weekday = (day.weekday() + 1) % 7  # Python: Monday=0; Splunk: Sunday=0
        back = (weekday - target) % 7
        return day - timedelta(days=back)
    if unit == "mon":
        return day.replace(day=1)
    if unit == "q":
        return day.replace(day=1, month=(day.month - 1) // 3 * 3 + 1)
    return day.replace(day=1, month=1)


def relative_time(now: float, spec: str) -> float:
    """Apply a Splunk relative time modifier (`-24h`, `-1d@d`, `@w1+8h`, `now`, epoch) to now."""
    s = str(spec).strip()
    if s == "" or s.lower() == "now":
        return float(now)
    if re.fullmatch(r"\d+(\.\d+)?", s):
        return float(s)
    m = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4}):(\d{1,2}):(\d{2}):(\d{2})", s)
    if m:
        mo, d, y, hh, mm, ss = (int(x) for x in m.groups())
        return float(calendar.timegm((y, mo, d, hh, mm, ss)))
    if s.lower().startswith("rt"):
        raise SplError("real-time modifiers are not supported: %r" % spec)
    frac = float(now) - int(now)
    dt = datetime.fromtimestamp(int(now), tz=timezone.utc)
    if "@" in s:
        before, after = s.split("@", 1)
        dt = _apply_offsets(dt, before, spec)
        m = _SNAP_RE.match("@" + after)
        if not m:
            raise SplError("invalid snap in %r" % spec)
        dt = _snap(dt, m.group(1), m.group(2), spec)
        dt = _apply_offsets(dt, after[m.end() - 1:], spec)
        frac = 0.0
    else:
        dt = _apply_offsets(dt, s, spec)
    return dt.timestamp() + frac


_SUBSEC_RE = re.compile(r"%(\d?)N|%Q|%s|%e|%k|%z|%Z|%:z|%::z")


def strftime(t: float, fmt: str) -> str:
    dt = datetime.fromtimestamp(float(t), tz=timezone.utc)

    def sub(m: re.Match) -> str:
        tok = m.group(0)
        if tok.endswith("N"):
            digits = int(m.group(1) or "3")
            return ("%06d000" % dt.microsecond)[:digits]
        if tok == "%Q":
            return "%03d" % (dt.microsecond // 1000)
        if tok == "%s":
            return str(int(float(t)))
        if tok == "%e":
            return "%2d" % dt.day
        if tok == "%k":
            return "%2d" % dt.hour
        if tok == "%z":
            return "+0000"
        if tok == "%:z":
            return "+00:00"
        if tok == "%::z":
            return "+00:00:00"
        return "UTC"

    out = []
    pos = 0
    # Walk the format ourselves so %% and the Splunk-only codes are handled before Python's.
    while pos < len(fmt):
        if fmt[pos] == "%" and pos + 1 < len(fmt):
            if fmt[pos + 1] == "%":
                out.append("%")
                pos += 2
                continue
            m = _SUBSEC_RE.match(fmt, pos)
            if m:
                out.append(sub(m))
                pos = m.end()
                continue
            code = fmt[pos:pos + 2]
            if code[1] not in "aAbBcdHIjmMpSUwWyYTFDRrhxXGgVuCn t":
                raise SplError("strftime: unsupported format code %r" % code)
            out.append(dt.strftime(code))
            pos += 2
        else:
            out.append(fmt[pos])
            pos += 1
    return "".join(out)


@functools.lru_cache(maxsize=256)
def _py_strptime_format(fmt: str) -> str:
    f = re.sub(r"%\d?N", "%f", fmt)
    f = f.replace("%Q", "%f").replace("%e", "%d").replace("%k", "%H")
    return f


def strptime(s: str, fmt: str) -> Optional[float]:
    """Parse a string with a format, in UTC; None when it does not match (as Splunk)."""
    if fmt == "%s":
        try:
            return float(s)
        except ValueError:
            return None
    try:
        dt = datetime.strptime(s, _py_strptime_format(fmt))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def parse_span(span: str):
    """A bin/time_window span: ('s', seconds) or ('mon', months)."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([a-zA-Z]*)", span.strip())
    if not m:
        raise SplError("invalid span %r" % span)
    n = float(m.group(1))
    unit_text = m.group(2)
    if not unit_text:
        return ("num", n)
    unit = _UNITS.get(unit_text.lower())
    if unit is None:
        raise SplError("invalid span unit %r" % unit_text)
    if unit in _SECONDS:
        return ("s", n * _SECONDS[unit])
    if unit == "mon":
        return ("mon", int(n))
    if unit == "q":
        return ("mon", int(n) * 3)
    return ("mon", int(n) * 12)


def wall_now() -> float:
    return time.time()
