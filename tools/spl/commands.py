"""SPL commands over lists of rows."""
from __future__ import annotations

import collections
import re
from typing import Any, Callable, Dict, List, Tuple

from . import timeutil
from .errors import SplError
from .evalexpr import Expr, compile_regex, parse_assignments
from .jsonfuncs import json_extract
from .knowledge import json_fields
from .lexer import split_top, unquote, words
from .lookups import apply_lookup, parse_lookup_spec, tokens_with_commas
from .searchexpr import SearchExpr, quote_value
from .stats import Agg, group_keys, group_sort_key, parse_stats
from .values import fmt, normalize, sort_key, to_num, values_of, wildcard_regex

Rows = List[Dict[str, Any]]


def _bool_opt(v: str, name: str) -> bool:
    lv = v.strip().strip('"').lower()
    if lv in ("t", "true", "1", "yes"):
        return True
    if lv in ("f", "false", "0", "no"):
        return False
    raise SplError("option %s: expected a boolean, got %r" % (name, v))


def _int_opt(v: str, name: str) -> int:
    try:
        return int(v.strip().strip('"'))
    except ValueError:
        raise SplError("option %s: expected an integer, got %r" % (name, v))


def split_options(text: str, allowed: Tuple[str, ...], command: str):
    """Leading and trailing `key=value` options among the words of text -> (options, other words).
    Only words whose key is a known option name for the command are options; an unknown
    `key=value` that is not a field spec raises."""
    opts: Dict[str, str] = {}
    rest: List[Tuple[str, bool]] = []
    for w, quoted in words(text):
        if not quoted:
            m = re.match(r"([A-Za-z_]+)=(.*)\Z", w, re.DOTALL)
            if m and m.group(1) in allowed:
                v = m.group(2)
                opts[m.group(1)] = unquote(v) if v.startswith('"') and v.endswith('"') and len(v) >= 2 else v
                continue
        rest.append((w, quoted))
    return opts, rest


def field_list(text_words: List[Tuple[str, bool]]) -> List[str]:
    """Field names separated by spaces and/or commas; an unquoted key=value here is an option
    the command does not support."""
    out = []
    for w, quoted in text_words:
        if quoted:
            out.append(w)
            continue
        for part in w.split(","):
            part = part.strip()
            if "=" in part:
                raise SplError("unsupported option %r" % part)
            if part:
                out.append(part)
    return out


def expand_field_patterns(patterns: List[str], rows: Rows) -> List[str]:
    """Field names in pattern order; `*` patterns match field names present in the rows."""
    present: List[str] = []
    seen = set()
    for r in rows:
        for k in r:
            if k not in seen:
                seen.add(k)
                present.append(k)
    out = []
    for p in patterns:
        if "*" in p:
            rx = wildcard_regex(p, False)
            for k in present:
                if rx.fullmatch(k) and k not in out:
                    out.append(k)
        elif p not in out:
            out.append(p)
    return out


# ------------------------------------------------------------------ streaming commands

def cmd_search(job, args: str, rows: Rows) -> Rows:
    pred = SearchExpr(args, job.now, what="search")
    return [r for r in rows if pred(r)]


def cmd_where(job, args: str, rows: Rows) -> Rows:
    if not args.strip():
        raise SplError("where: missing expression")
    expr = Expr(args, job.ctx)
    return [r for r in rows if expr.test(r)]


def cmd_eval(job, args: str, rows: Rows) -> Rows:
    assigns = [(name, Expr(text, job.ctx)) for name, text in parse_assignments(args)]
    for r in rows:
        for name, expr in assigns:
            v = expr.value(r)
            if v is None:
                r.pop(name, None)
            else:
                r[name] = v
    return rows


def cmd_table(job, args: str, rows: Rows) -> Rows:
    pats = field_list(words(args))
    if not pats:
        raise SplError("table: no fields")
    names = expand_field_patterns(pats, rows)
    job.explicit.update(n for n in names if n.startswith("_"))
    out = []
    for r in rows:
        out.append({n: r[n] for n in names if n in r})
    job.columns = names
    return out


def cmd_fields(job, args: str, rows: Rows) -> Rows:
    ws = words(args)
    remove = False
    if ws and ws[0][0] in ("+", "-") and not ws[0][1]:
        remove = ws[0][0] == "-"
        ws = ws[1:]
    elif ws and not ws[0][1] and ws[0][0][:1] in ("+", "-") and len(ws[0][0]) > 1:
        remove = ws[0][0][0] == "-"
        ws = [(ws[0][0][1:], False)] + ws[1:]
    pats = field_list(ws)
    if not pats:
        raise SplError("fields: no fields")
    if remove:
        rxs = [wildcard_regex(p, False) for p in pats]
        for r in rows:
            for k in [k for k in r if any(rx.fullmatch(k) for rx in rxs)]:
                del r[k]
        return rows
    names = expand_field_patterns(pats, rows)
    job.explicit.update(n for n in names if n.startswith("_"))
    keep_internal = ("_time", "_raw")
    out = []
    for r in rows:
        nr = {n: r[n] for n in names if n in r}
        for k in keep_internal:
            if k in r and k not in nr:
                nr[k] = r[k]
        out.append(nr)
    job.columns = names
    return out


def cmd_rename(job, args: str, rows: Rows) -> Rows:
    pairs = []
    for part in split_top(args, ","):
        ws = [w for w, _ in words(part)]
        if not ws:
            continue
        if len(ws) != 3 or ws[1].lower() != "as":
            raise SplError("rename: expected '<field> AS <newname>', got %r" % part.strip())
        pairs.append((ws[0], ws[2]))
    if not pairs:
        raise SplError("rename: nothing to rename")
    for src, dst in pairs:
        if "*" in src:
            if src.count("*") != dst.count("*"):
                raise SplError("rename: wildcards must match in %s AS %s" % (src, dst))
            rx = re.compile("(.*)".join(re.escape(p) for p in src.split("*")) + r"\Z", re.DOTALL)
            for r in rows:
                for k in list(r):
                    m = rx.match(k)
                    if m:
                        new = dst
                        for g in m.groups():
                            new = new.replace("*", g, 1)
                        r[new] = r.pop(k)
        else:
            for r in rows:
                if src in r:
                    r[dst] = r.pop(src)
        if job.columns is not None:
            job.columns = [dst if c == src else c for c in job.columns]
    return rows


def cmd_fillnull(job, args: str, rows: Rows) -> Rows:
    opts, rest = split_options(args, ("value",), "fillnull")
    value = opts.get("value", "0")
    names = field_list(rest)
    if not names:
        names = expand_field_patterns(["*"], rows)
        if job.columns:
            names = list(job.columns) + [n for n in names if n not in job.columns]
    for r in rows:
        for n in names:
            if r.get(n) is None:
                r[n] = value
    if job.columns is not None:
        job.columns = job.columns + [n for n in names if n not in job.columns]
    return rows


def cmd_dedup(job, args: str, rows: Rows) -> Rows:
    if re.search(r"\bsortby\b", args):
        raise SplError("dedup: sortby is not supported")
    opts, rest = split_options(args, ("keepempty", "consecutive", "keepevents"), "dedup")
    if "keepevents" in opts:
        raise SplError("dedup: keepevents is not supported")
    names = field_list(rest)
    limit = 1
    if names and names[0].isdigit():
        limit = int(names.pop(0))
    if not names:
        raise SplError("dedup: no fields")
    keepempty = _bool_opt(opts["keepempty"], "keepempty") if "keepempty" in opts else False
    consecutive = _bool_opt(opts["consecutive"], "consecutive") if "consecutive" in opts else False
    counts: Dict[tuple, int] = {}
    out = []
    prev = None
    for r in rows:
        vals = [r.get(n) for n in names]
        if any(v is None for v in vals):
            if keepempty:
                out.append(r)
            continue
        key = tuple(tuple(fmt(x) for x in values_of(v)) for v in vals)
        if consecutive:
            if key != prev:
                out.append(r)
            prev = key
            continue
        c = counts.get(key, 0)
        if c < limit:
            out.append(r)
        counts[key] = c + 1
    return out


def _parse_sort(args: str):
    opts, rest = split_options(args, ("limit",), "sort")
    ws = field_list(rest)
    limit = 10000  # Splunk's default
    if ws and ws[0].isdigit():
        limit = int(ws.pop(0))
    if "limit" in opts:
        limit = _int_opt(opts["limit"], "limit")
    reverse_all = False
    if ws and ws[-1] in ("d", "desc"):
        reverse_all = True
        ws.pop()
    specs = []
    pending_sign = None
    for w in ws:
        if w in ("+", "-"):
            pending_sign = w
            continue
        desc = False
        if w[0] in "+-":
            desc = w[0] == "-"
            w = w[1:]
        elif pending_sign:
            desc = pending_sign == "-"
        pending_sign = None
        kind = "auto"
        m = re.match(r"(auto|str|num|ip)\((.+)\)\Z", w)
        if m:
            kind, w = m.group(1), m.group(2)
        specs.append((w, desc != reverse_all, kind))
    if not specs:
        raise SplError("sort: no fields")
    return limit, specs


def _key_for(kind: str):
    if kind == "str":
        return lambda v: (0, 0, fmt(v)) if v is not None else (2, 0, "")
    if kind == "num":
        def k(v):
            n = to_num(v[0] if type(v) is list else v) if v is not None else None
            return (0, n, "") if n is not None else (2, 0, "")
        return k
    if kind == "ip":
        from .evalexpr import _address
        def kip(v):
            a = _address(fmt(v)) if v is not None else None
            return (0, (a.version, int(a)), "") if a is not None else (2, 0, "")
        return kip
    return sort_key


def cmd_sort(job, args: str, rows: Rows) -> Rows:
    limit, specs = _parse_sort(args)
    out = list(rows)
    for field, desc, kind in reversed(specs):
        kf = _key_for(kind)
        present = [r for r in out if r.get(field) is not None]
        missing = [r for r in out if r.get(field) is None]
        present.sort(key=lambda r: kf(r.get(field)), reverse=desc)
        out = present + missing
    if limit:
        out = out[:limit]
    return out


def cmd_head(job, args: str, rows: Rows) -> Rows:
    a = args.strip()
    if a.startswith("("):
        expr = Expr(a, job.ctx)
        out = []
        for r in rows:
            if not expr.test(r):
                break
            out.append(r)
        return out
    opts, rest = split_options(a, ("limit",), "head")
    n = 10
    if "limit" in opts:
        n = _int_opt(opts["limit"], "limit")
    names = field_list(rest)
    if names:
        if len(names) != 1 or not names[0].isdigit():
            raise SplError("head: unsupported arguments %r" % args)
        n = int(names[0])
    return rows[:n]


def cmd_tail(job, args: str, rows: Rows) -> Rows:
    n = int(args.strip() or "10")
    return list(reversed(rows[-n:])) if n else []


def cmd_reverse(job, args: str, rows: Rows) -> Rows:
    if args.strip():
        raise SplError("reverse takes no arguments")
    return list(reversed(rows))


def cmd_mvexpand(job, args: str, rows: Rows) -> Rows:
    opts, rest = split_options(args, ("limit",), "mvexpand")
    names = field_list(rest)
    if len(names) != 1:
        raise SplError("mvexpand: exactly one field")
    field = names[0]
    limit = _int_opt(opts["limit"], "limit") if "limit" in opts else None
    out = []
    for r in rows:
        v = r.get(field)
        if v is None:
            out.append(r)  # a row without the field passes unchanged
            continue
        vals = values_of(v)
        if limit:
            vals = vals[:limit]
        for x in vals:
            nr = dict(r)
            nr[field] = x
            out.append(nr)
    return out


def cmd_rex(job, args: str, rows: Rows) -> Rows:
    opts, rest = split_options(args, ("field", "max_match", "mode", "offset_field"), "rex")
    if "offset_field" in opts:
        raise SplError("rex: offset_field is not supported")
    if len(rest) != 1 or not rest[0][1]:
        raise SplError("rex: expected one quoted regular expression")
    pattern = rest[0][0]
    field = opts.get("field", "_raw")
    if opts.get("mode") == "sed":
        return _rex_sed(pattern, field, rows)
    if "mode" in opts:
        raise SplError("rex: unsupported mode %r" % opts["mode"])
    rx = compile_regex(pattern)
    max_match = _int_opt(opts["max_match"], "max_match") if "max_match" in opts else 1
    names = list(rx.groupindex)
    for r in rows:
        v = r.get(field)
        if v is None:
            continue
        text = fmt(v[0] if type(v) is list else v)
        if max_match == 1:
            m = rx.search(text)
            if m:
                for k in names:
                    if m.group(k) is not None:
                        r[k] = m.group(k)
            continue
        found: Dict[str, List[str]] = {}
        for i, m in enumerate(rx.finditer(text)):
            if max_match and i >= max_match:
                break
            for k in names:
                if m.group(k) is not None:
                    found.setdefault(k, []).append(m.group(k))
        for k, vals in found.items():
            r[k] = normalize(vals)
    return rows


def _rex_sed(expr: str, field: str, rows: Rows) -> Rows:
    m = re.match(r"s(.)(.*?)(?<!\\)\1(.*?)(?<!\\)\1([gi\d]*)\Z", expr, re.DOTALL)
    if not m:
        raise SplError("rex mode=sed: expected s/<regex>/<replacement>/<flags>, got %r" % expr)
    rx = compile_regex(m.group(2))
    repl = re.sub(r"\\(\d)", r"\\g<\1>", m.group(3))
    flags = m.group(4)
    count = 0 if "g" in flags else 1
    for r in rows:
        v = r.get(field)
        if v is None:
            continue
        r[field] = normalize([rx.sub(repl, fmt(x), count=count) for x in values_of(v)])
    return rows


def cmd_regex(job, args: str, rows: Rows) -> Rows:
    a = args.strip()
    m = re.match(r"([^\s!=]+)\s*(!?=)\s*(.*)\Z", a, re.DOTALL)
    if m:
        field, op, pat = m.group(1), m.group(2), m.group(3).strip()
    else:
        field, op, pat = "_raw", "=", a
    if pat.startswith('"') and pat.endswith('"'):
        pat = unquote(pat)
    rx = compile_regex(pat)
    out = []
    for r in rows:
        hit = any(rx.search(fmt(x)) for x in values_of(r.get(field)))
        if hit == (op == "="):
            out.append(r)
    return out


def cmd_spath(job, args: str, rows: Rows) -> Rows:
    opts, rest = split_options(args, ("input", "output", "path"), "spath")
    names = field_list(rest)
    if names and "path" not in opts and len(names) == 1:
        opts["path"] = names[0]
    elif names:
        raise SplError("spath: unsupported arguments %r" % args)
    src = opts.get("input", "_raw")
    path = opts.get("path")
    out_name = opts.get("output", path)
    for r in rows:
        v = r.get(src)
        if v is None:
            continue
        fields = json_fields(fmt(v[0] if type(v) is list else v))
        if path is None:
            for k, x in fields.items():
                r[k] = x
        else:
            x = fields.get(path)
            if x is None:
                # objects and arrays at the path come back as JSON text
                x = json_extract(fmt(v), path)
            if x is not None:
                r[out_name] = x
    return rows


def cmd_bin(job, args: str, rows: Rows) -> Rows:
    opts, rest = split_options(args, ("span", "bins", "minspan", "start", "end", "aligntime"), "bin")
    for bad in ("bins", "minspan", "start", "end", "aligntime"):
        if bad in opts:
            raise SplError("bin: option %s is not supported" % bad)
    if "span" not in opts:
        raise SplError("bin: span= is required here")
    names = [w for w, _ in rest]
    if len(names) == 3 and names[1].lower() == "as":
        field, dest = names[0], names[2]
    elif len(names) == 1:
        field = dest = names[0]
    else:
        raise SplError("bin: expected '<field> [AS <newfield>]'")
    kind, size = timeutil.parse_span(opts["span"])
    for r in rows:
        v = r.get(field)
        n = to_num(v[0] if type(v) is list else v) if v is not None else None
        if n is None:
            continue
        if kind == "s" or (kind == "num" and field == "_time"):
            b = (n // size) * size
            r[dest] = int(b) if float(b).is_integer() else b
        elif kind == "mon":
            from datetime import datetime, timezone
            dt = datetime.fromtimestamp(n, tz=timezone.utc)
            months = dt.year * 12 + dt.month - 1
            months -= months % size
            r[dest] = int(datetime(months // 12, months % 12 + 1, 1, tzinfo=timezone.utc).timestamp())
        else:
            lo = (n // size) * size
            hi = lo + size
            r[dest] = "%s-%s" % (fmt(int(lo) if float(lo).is_integer() else lo),
                                 fmt(int(hi) if float(hi).is_integer() else hi))
    return rows


# ------------------------------------------------------------------ stats family

def _finish(states) -> Dict[str, Any]:
    out = {}
    for st in states:
        v = st.result()
        if v is not None:
            out[st.agg.name] = v
    return out


def cmd_stats(job, args: str, rows: Rows) -> Rows:
    _, aggs, by = parse_stats(args, job.ctx, "stats")
    groups: Dict[tuple, list] = {}
    for r in rows:
        for key in group_keys(r, by):
            states = groups.get(key)
            if states is None:
                states = groups[key] = [a.new_state() for a in aggs]
            for st in states:
                st.add(r)
    if not by and not groups:
        groups[()] = [a.new_state() for a in aggs]
    out = []
    for key in sorted(groups, key=group_sort_key):
        row = {f: v for f, v in zip(by, key)}
        row.update(_finish(groups[key]))
        out.append(row)
    job.columns = by + [a.name for a in aggs]
    return out


def cmd_eventstats(job, args: str, rows: Rows) -> Rows:
    _, aggs, by = parse_stats(args, job.ctx, "eventstats")
    groups: Dict[tuple, list] = {}
    memberships = []
    for r in rows:
        keys = group_keys(r, by)
        memberships.append(keys)
        for key in keys:
            states = groups.get(key)
            if states is None:
                states = groups[key] = [a.new_state() for a in aggs]
            for st in states:
                st.add(r)
    results = {k: _finish(v) for k, v in groups.items()}
    for r, keys in zip(rows, memberships):
        if keys:
            for a in aggs:
                r.pop(a.name, None)
            r.update(results[keys[0]])
    return rows


def cmd_streamstats(job, args: str, rows: Rows) -> Rows:
    opts, aggs, by = parse_stats(args, job.ctx, "streamstats",
                                 ("window", "current", "global", "time_window", "reset_on_change",
                                  "reset_before", "reset_after", "allnum"))
    for bad in ("reset_before", "reset_after", "allnum"):
        if bad in opts:
            raise SplError("streamstats: option %s is not supported" % bad)
    window = _int_opt(opts["window"], "window") if "window" in opts else 0
    current = _bool_opt(opts["current"], "current") if "current" in opts else True
    global_w = _bool_opt(opts["global"], "global") if "global" in opts else True
    reset_on_change = _bool_opt(opts["reset_on_change"], "reset_on_change") if "reset_on_change" in opts else False
    time_window = None
    if "time_window" in opts:
        kind, size = timeutil.parse_span(opts["time_window"])
        if kind != "s":
            raise SplError("streamstats: time_window must be a time span")
        time_window = size
    shared: collections.deque = collections.deque()
    windows: Dict[tuple, collections.deque] = {}
    running: Dict[tuple, list] = {}
    win_states: Dict[tuple, list] = {}
    last_key = None
    for r in rows:
        keys = group_keys(r, by)
        if not keys:
            continue
        key = keys[0]
        if reset_on_change and last_key is not None and key != last_key:
            windows.clear()
            running.clear()
            shared.clear()
            win_states.clear()
        last_key = key
        if not window and time_window is None:
            states = running.get(key)
            if states is None:
                states = running[key] = [a.new_state() for a in aggs]
            if current:
                for st in states:
                    st.add(r)
                res = _finish(states)
            else:
                res = _finish(states)
                for st in states:
                    st.add(r)
            _store(r, aggs, res)
            continue
        # Sliding windows: each entry keeps the values its row had on entry (later commands
        # may overwrite the row), and states that support it are updated incrementally.
        dq = shared if (global_w and by and window) else windows.setdefault(key, collections.deque())
        t = to_num(r.get("_time"))
        entry = (key, [_row_values(a, r) for a in aggs], t)
        if time_window is not None and t is not None:
            while dq and abs((dq[0][2] or 0) - t) >= time_window:
                _leave(dq.popleft(), win_states)
        if not current:
            res = _window_result(key, aggs, win_states, dq)
        dq.append(entry)
        st = win_states.get(entry[0])
        if st is None:
            st = win_states[entry[0]] = [a.new_state() for a in aggs]
        for state, vals in zip(st, entry[1]):
            if vals and state.removable:
                state.add_values(vals, entry[2])
        if window and len(dq) > window:
            _leave(dq.popleft(), win_states)
        if current:
            res = _window_result(key, aggs, win_states, dq)
        _store(r, aggs, res)
    return rows


def _row_values(agg: Agg, row):
    if agg.field is None and agg.expr is None:
        return [1]
    return agg.values(row)


def _leave(entry, win_states) -> None:
    states = win_states.get(entry[0])
    for state, vals in zip(states, entry[1]):
        if vals and state.removable:
            state.remove_values(vals, entry[2])


def _window_result(key, aggs, win_states, dq):
    states = win_states.get(key)
    if states is None:
        states = win_states[key] = [a.new_state() for a in aggs]
    out = {}
    for i, (a, state) in enumerate(zip(aggs, states)):
        if not state.removable:
            # no incremental form: recompute from the entries still in the window
            state = a.new_state()
            for k, vals, t in dq:
                if k == key and vals[i]:
                    state.add_values(vals[i], t)
        v = state.result()
        if v is not None:
            out[a.name] = v
    return out


def _store(r, aggs, res):
    for a in aggs:
        v = res.get(a.name)
        if v is None:
            r.pop(a.name, None)
        else:
            r[a.name] = v


# ------------------------------------------------------------------ lookups

def cmd_lookup(job, args: str, rows: Rows) -> Rows:
    opts, rest = split_options(args, ("local", "update", "event_time_field"), "lookup")
    if "event_time_field" in opts:
        raise SplError("lookup: event_time_field is not supported")
    toks = tokens_with_commas(" ".join('"%s"' % w if q else w for w, q in rest))
    toks = [t[1:-1] if len(t) > 1 and t[0] == '"' == t[-1] else t for t in toks]
    if not toks:
        raise SplError("lookup: no lookup name")
    table = job.app.lookup_table(toks[0], for_what="lookup")
    match_pairs, outputs, mode = parse_lookup_spec(toks[1:], "lookup " + toks[0])
    for r in rows:
        apply_lookup(table, r, match_pairs, outputs, mode)
    return rows


def cmd_inputlookup(job, args: str, rows: Rows) -> Rows:
    m = re.search(r"\swhere\s", " " + args + " ")
    where = None
    head = args
    if m:
        head = (" " + args)[:m.start()]
        where = (" " + args + " ")[m.end():]
    opts, rest = split_options(head, ("append", "start", "max"), "inputlookup")
    append = _bool_opt(opts["append"], "append") if "append" in opts else False
    if job.position > 0 and not append:
        raise SplError("inputlookup must be the first command unless append=true")
    names = [w for w, _ in rest]
    if len(names) != 1:
        raise SplError("inputlookup: expected one lookup name, got %r" % head.strip())
    table = job.app.lookup_table(names[0], for_what="inputlookup")
    pred = SearchExpr(where, job.now, raw_terms=False, what="inputlookup where") if where else None
    start = _int_opt(opts["start"], "start") if "start" in opts else 0
    mx = _int_opt(opts["max"], "max") if "max" in opts else 1000000000
    out = []
    for rec in table.rows[start:]:
        row = {k: v for k, v in rec.items() if v is not None and v != ""}
        if pred is None or pred(row):
            out.append(row)
            if len(out) >= mx:
                break
    job.columns = None
    return (rows + out) if append else out


def cmd_outputlookup(job, args: str, rows: Rows) -> Rows:
    opts, rest = split_options(args, ("append", "create_empty", "override_if_empty", "max",
                                      "key_field", "createinapp", "allow_updates", "output_format",
                                      "create_context"), "outputlookup")
    for bad in ("output_format", "create_context"):
        if bad in opts:
            raise SplError("outputlookup: option %s is not supported" % bad)
    names = [w for w, _ in rest]
    if len(names) != 1:
        raise SplError("outputlookup: expected one lookup name")
    table = job.app.lookup_table(names[0], for_what="outputlookup")
    append = _bool_opt(opts["append"], "append") if "append" in opts else False
    override_if_empty = _bool_opt(opts["override_if_empty"], "override_if_empty") \
        if "override_if_empty" in opts else True
    mx = _int_opt(opts["max"], "max") if "max" in opts else None
    key_field = opts.get("key_field")
    data = rows[:mx] if mx is not None else rows
    if not data and not override_if_empty:
        return rows
    job.app.write_lookup(table, data, append=append, key_field=key_field)
    return rows


# ------------------------------------------------------------------ generating / subsearch helpers

def cmd_makeresults(job, args: str, rows: Rows) -> Rows:
    opts, rest = split_options(args, ("count", "annotate", "splunk_server", "splunk_server_group"), "makeresults")
    if rest:
        raise SplError("makeresults: unsupported arguments %r" % args)
    for bad in ("splunk_server", "splunk_server_group"):
        if bad in opts:
            raise SplError("makeresults: option %s is not supported" % bad)
    n = _int_opt(opts["count"], "count") if "count" in opts else 1
    if job.position > 0:
        raise SplError("makeresults must be the first command")
    return [{"_time": int(job.now)} for _ in range(n)]


def format_rows(rows: Rows, row_prefix="(", col_prefix="(", col_sep="AND", col_end=")",
                row_sep="OR", row_end=")", mvsep="OR") -> str:
    parts = []
    for r in rows:
        terms = []
        # fields in name order, as Splunk's format prints them
        for k, v in sorted(r.items()):
            if k.startswith("_"):
                continue
            if k in ("search", "query"):
                terms.append(" ".join(fmt(x) for x in values_of(v)))
                continue
            vals = values_of(v)
            if len(vals) == 1:
                terms.append("%s=%s" % (k, quote_value(fmt(vals[0]))))
            else:
                terms.append("( " + (" %s " % mvsep).join("%s=%s" % (k, quote_value(fmt(x))) for x in vals) + " )")
        if terms:
            parts.append("%s %s %s" % (col_prefix, (" %s " % col_sep).join(terms), col_end))
    if not parts:
        return "NOT ()"
    return "%s %s %s" % (row_prefix, (" %s " % row_sep).join(parts), row_end)


def cmd_format(job, args: str, rows: Rows) -> Rows:
    opts, rest = split_options(args, ("mvsep", "maxresults", "emptystr"), "format")
    seps = [w for w, _ in rest]
    kw = {}
    if seps:
        if len(seps) != 6:
            raise SplError("format: expected six separators")
        kw = dict(zip(("row_prefix", "col_prefix", "col_sep", "col_end", "row_sep", "row_end"), seps))
    if "mvsep" in opts:
        kw["mvsep"] = opts["mvsep"]
    data = rows
    if "maxresults" in opts:
        data = rows[:_int_opt(opts["maxresults"], "maxresults") or None]
    text = format_rows(data, **kw)
    if not data and "emptystr" in opts:
        text = opts["emptystr"]
    job.columns = ["search"]
    return [{"search": text}]


def cmd_return(job, args: str, rows: Rows) -> Rows:
    ws = [w for w, _ in words(args)]
    count = 1
    if ws and ws[0].isdigit():
        count = int(ws.pop(0))
    if not ws:
        raise SplError("return: no fields")
    pieces = []
    for r in rows[:count]:
        terms = []
        for w in ws:
            if w.startswith("$"):
                v = r.get(w[1:])
                if v is not None:
                    terms.append(" ".join(fmt(x) for x in values_of(v)))
            elif "=" in w:
                alias, f = w.split("=", 1)
                v = r.get(f)
                if v is not None:
                    terms.append("%s=%s" % (alias, quote_value(fmt(values_of(v)[0]))))
            else:
                v = r.get(w)
                if v is not None:
                    terms.append("%s=%s" % (w, quote_value(fmt(values_of(v)[0]))))
        if terms:
            pieces.append(" ".join(terms))
    if count == 1 or len(pieces) <= 1:
        text = pieces[0] if pieces else ""
    else:
        text = " OR ".join("(%s)" % p for p in pieces)
    job.columns = ["search"]
    return [{"search": text}]


COMMANDS: Dict[str, Callable] = {
    "search": cmd_search, "where": cmd_where, "eval": cmd_eval, "stats": cmd_stats,
    "eventstats": cmd_eventstats, "streamstats": cmd_streamstats, "bin": cmd_bin, "bucket": cmd_bin,
    "table": cmd_table, "fields": cmd_fields, "rename": cmd_rename, "fillnull": cmd_fillnull,
    "dedup": cmd_dedup, "sort": cmd_sort, "head": cmd_head, "tail": cmd_tail, "reverse": cmd_reverse,
    "mvexpand": cmd_mvexpand, "rex": cmd_rex, "regex": cmd_regex, "spath": cmd_spath,
    "lookup": cmd_lookup, "inputlookup": cmd_inputlookup, "outputlookup": cmd_outputlookup,
    "makeresults": cmd_makeresults, "format": cmd_format, "return": cmd_return,
}
GENERATING = {"inputlookup", "makeresults"}
SUPPORTED_COMMANDS = sorted(COMMANDS)
