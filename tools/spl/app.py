"""An add-on loaded from disk: its knowledge objects, lookups, saved searches and events."""
from __future__ import annotations

import json
import os
import re
import uuid
from typing import Any, Dict, Iterable, List, Optional

from . import timeutil
from .commands import COMMANDS, GENERATING, format_rows
from .conf import load_app_conf
from .errors import SplError
from .evalexpr import Context, Expr
from .knowledge import Knowledge
from .limits import Limits
from .lexer import scan_quoted, split_top
from .lookups import LookupTable, load_kv_seed, read_csv
from .optimize import FirstClause, ValueIndex, memoize_lookup
from .searchexpr import SearchExpr
from .values import fmt, output_value, to_num

MACRO_KEYS = {"definition", "args", "iseval", "validation", "errormsg", "description"}
COLLECTION_KEYS_PREFIX = ("field.", "accelerated_fields.")
COLLECTION_KEYS = {"enforceTypes", "replicate", "replication_dump_strategy", "replication_dump_maximum_file_size",
                   "profilingEnabled", "profilingThresholdMs", "type"}
# savedsearches.conf keys that decide scheduling, alerting and display, never the rows a search
# returns. Everything else must be implemented or it is an error.
SAVEDSEARCH_KEYS = {"search", "dispatch.earliest_time", "dispatch.latest_time",
                    "dispatch.index_earliest", "dispatch.index_latest"}
SAVEDSEARCH_IGNORED = {
    "cron_schedule", "schedule_window", "schedule_priority", "disabled", "description", "enableSched",
    "counttype", "relation", "quantity", "is_scheduled", "is_visible", "request.ui_dispatch_app",
    "request.ui_dispatch_view", "allow_skew", "realtime_schedule", "run_on_startup", "run_n_times",
    "max_concurrent", "displayview", "vsid", "actions", "dispatchAs", "restart_on_searchpeer_add",
    "auto_summarize", "alert_type", "alert_comparator", "alert_threshold",
}
SAVEDSEARCH_IGNORED_PREFIXES = ("alert.", "action.", "dispatch.", "display.", "auto_summarize.",
                                "request.", "embed.")
MAX_MACRO_DEPTH = 50


def _is_saved_key_ok(key: str) -> bool:
    if key in SAVEDSEARCH_KEYS or key in SAVEDSEARCH_IGNORED:
        return True
    if key.startswith("dispatch.") and key not in ("dispatch.earliest_time", "dispatch.latest_time"):
        return key not in ("dispatch.index_earliest", "dispatch.index_latest")
    return key.startswith(SAVEDSEARCH_IGNORED_PREFIXES)


class Job:
    """State of one search run."""

    def __init__(self, app: "App", now: float, events: List[Dict[str, Any]],
                 time_range: Dict[str, Optional[float]], all_time: bool, started: Optional[float] = None):
        self.app = app
        self.now = now  # what relative time specifiers resolve against (a scheduled run: its scheduled time)
        self.started = now if started is None else started  # when the search started: now(), info_search_time
        self.ctx = Context(self.started, app.optimize)
        self.events = events
        self.time_range = time_range
        self.all_time = all_time
        self.explicit: set = set()
        self.columns: Optional[List[str]] = None
        self.segments: List[str] = []
        self.position = 0
        self.searched_range: Dict[str, Optional[float]] = dict(time_range)  # after inline earliest/latest


def _base_event(obj: Dict[str, Any], *, source: str, host: str, index: str) -> Dict[str, Any]:
    """An audit log object (or an event dict with _raw) as an indexed openai:audit event."""
    if "_raw" in obj:
        ev = dict(obj)
        ev.setdefault("sourcetype", "openai:audit")
        ev.setdefault("source", source)
        ev.setdefault("host", host)
        ev.setdefault("index", index)
        if "_time" not in ev:
            raise SplError("an event dict needs _time")
        ev["_time"] = to_num(ev["_time"])
        ev.setdefault("_indextime", ev["_time"])
        ev["_indextime"] = to_num(ev["_indextime"])
        return ev
    data = dict(obj)
    indextime = data.pop("_indextime", None)
    if "effective_at" not in data:
        raise SplError("audit log object without effective_at: %s" % json.dumps(data)[:200])
    t = to_num(data["effective_at"])
    if t is None:
        raise SplError("effective_at is not a number: %r" % data["effective_at"])
    return {
        "_raw": json.dumps(data, separators=(",", ":"), ensure_ascii=False),
        "_time": t,
        "_indextime": to_num(indextime) if indextime is not None else t,
        "sourcetype": "openai:audit",
        "source": source,
        "host": host,
        "index": index,
    }


class App:
    """Load with App.load(app_dir, lookups_dir=None); see the package docstring."""

    def __init__(self, app_dir: str, lookups_dir: Optional[str] = None, optimize: bool = True):
        self.app_dir = app_dir
        # optimize=False: extract every event fully, no value index, no memos (the reference
        # the optimized path is tested against)
        self.optimize = optimize
        self.lookups_dir = lookups_dir
        confs = {name: load_app_conf(app_dir, name) for name in
                 ("props", "transforms", "macros", "eventtypes", "tags", "savedsearches", "collections")}
        self.confs = confs
        self.limits = Limits(load_app_conf(app_dir, "limits"))
        self.macros = confs["macros"]
        for name, keys in self.macros.items():
            for k in keys:
                if k not in MACRO_KEYS:
                    raise SplError("macros.conf [%s]: unsupported setting %r" % (name, k))
        for name, keys in confs["collections"].items():
            for k in keys:
                if not (k in COLLECTION_KEYS or k.startswith(COLLECTION_KEYS_PREFIX)):
                    raise SplError("collections.conf [%s]: unsupported setting %r" % (name, k))
        self.saved_searches: Dict[str, Dict[str, str]] = {}
        for name, keys in confs["savedsearches"].items():
            if name == "default":
                continue
            for k in keys:
                if not _is_saved_key_ok(k):
                    raise SplError("savedsearches.conf [%s]: unsupported setting %r" % (name, k))
            if "search" not in keys:
                raise SplError("savedsearches.conf [%s]: no search" % name)
            self.saved_searches[name] = keys
        self._tables: Dict[str, LookupTable] = {}
        self._kv_data: Dict[str, LookupTable] = {}
        self.events: List[Dict[str, Any]] = []
        # per indexed event (by id): its base fields, and whether its search-time fields were added
        self._extracted: Dict[int, Dict[str, Any]] = {}
        self._full: set = set()
        self._value_index = ValueIndex(self) if optimize else None
        self.knowledge = Knowledge(self, confs["props"], confs["transforms"], confs["eventtypes"],
                                   confs["tags"])
        # validate every props plan for our sourcetype now, so conf errors surface at load
        self.knowledge.plan("openai:audit", "openai_audit:default", "localhost")

    @classmethod
    def load(cls, app_dir: str, lookups_dir: Optional[str] = None, optimize: bool = True) -> "App":
        if not os.path.isdir(app_dir):
            raise SplError("no app directory %s" % app_dir)
        if lookups_dir is not None and not os.path.isdir(lookups_dir):
            raise SplError("no lookups directory %s" % lookups_dir)
        return cls(app_dir, lookups_dir, optimize)

    # ------------------------------------------------------------------ macros
    def expand_macros(self, text: str, depth: int = 0) -> str:
        if "`" not in text:
            return text
        if depth > MAX_MACRO_DEPTH:
            raise SplError("macro expansion too deep (recursive macro?)")
        out = []
        i = 0
        while i < len(text):
            c = text[i]
            if c == "`":
                j = text.find("`", i + 1)
                if j < 0:
                    raise SplError("unterminated macro call: %s" % text[i:i + 60])
                out.append(self._expand_one(text[i + 1:j], depth))
                i = j + 1
                continue
            out.append(c)
            i += 1
        return "".join(out)

    def _expand_one(self, call: str, depth: int) -> str:
        call = call.strip()
        m = re.match(r"([A-Za-z0-9_.:-]+)\s*(?:\((.*)\))?\Z", call, re.DOTALL)
        if not m:
            raise SplError("bad macro call `%s`" % call)
        name, argtext = m.group(1), m.group(2)
        args = [a.strip() for a in split_top(argtext, ",")] if argtext is not None and argtext.strip() else []
        stanza_name = "%s(%d)" % (name, len(args)) if args else name
        st = self.macros.get(stanza_name)
        if st is None:
            raise SplError("unknown macro `%s` (no [%s] in macros.conf)" % (call, stanza_name))
        definition = st.get("definition", "")
        names = [a.strip() for a in st.get("args", "").split(",") if a.strip()]
        if len(names) != len(args):
            raise SplError("macro [%s] declares %d args, called with %d" % (stanza_name, len(names), len(args)))
        # arguments given as name=value may come in any order
        if args and all(re.match(r"[A-Za-z0-9_]+=", a) for a in args) and \
                set(a.split("=", 1)[0] for a in args) == set(names):
            amap = {a.split("=", 1)[0]: a.split("=", 1)[1] for a in args}
        else:
            amap = dict(zip(names, args))
        if "validation" in st:
            vtext = st["validation"]
            for k, v in amap.items():
                vtext = vtext.replace("$%s$" % k, v)
            ok = Expr(vtext, Context(0.0))({})
            if ok is not True:
                raise SplError("macro [%s]: %s" % (stanza_name, st.get("errormsg", "validation failed")))
        for k, v in amap.items():
            definition = definition.replace("$%s$" % k, v)
        if st.get("iseval", "0").strip().lower() in ("1", "true", "t"):
            v = Expr(definition, Context(0.0)).value({})
            definition = "" if v is None else fmt(v)
        return self.expand_macros(definition, depth + 1)

    # ------------------------------------------------------------------ lookups
    def lookup_table(self, name: str, for_what: str = "") -> LookupTable:
        t = self._tables.get(name)
        if t is not None:
            return t
        transforms = self.confs["transforms"]
        st = transforms.get(name)
        if st is not None and ("filename" in st or "external_type" in st or "collection" in st):
            t = self._table_from_stanza(name, st)
        elif name.endswith(".csv") or name.endswith(".csv.gz"):
            # a file named directly; shares the table object with any stanza pointing at it
            for sname, sst in transforms.items():
                if sst.get("filename", "").strip() == name:
                    # the same file, read without the definition's matching rules
                    st_table = self.lookup_table(sname)
                    t = LookupTable(name, st_table.fields, st_table.rows, filename=name)
                    break
            else:
                path = self._lookup_path(name)
                if path is None:
                    raise SplError("%s: lookup file %s not found" % (for_what, name))
                fields, rows = read_csv(path)
                t = LookupTable(name, fields, rows, filename=name)
        else:
            raise SplError("%s: no lookup definition named %r in transforms.conf" % (for_what, name))
        if self.optimize:
            memoize_lookup(t)
        self._tables[name] = t
        return t

    def _lookup_path(self, filename: str) -> Optional[str]:
        for d in (self.lookups_dir, os.path.join(self.app_dir, "lookups")):
            if d and os.path.isfile(os.path.join(d, filename)):
                return os.path.join(d, filename)
        return None

    def _table_from_stanza(self, name: str, st: Dict[str, str]) -> LookupTable:
        ext = st.get("external_type")
        if ext is not None:
            if ext.strip() != "kvstore":
                raise SplError("transforms.conf [%s]: external_type = %s is not supported" % (name, ext))
            coll = st.get("collection", "").strip()
            if not coll:
                raise SplError("transforms.conf [%s]: kvstore lookup without collection" % name)
            if coll not in self.confs["collections"]:
                raise SplError("transforms.conf [%s]: collection %r is not in collections.conf" % (name, coll))
            fields = [f.strip() for f in st.get("fields_list", "").split(",") if f.strip()]
            if not fields:
                raise SplError("transforms.conf [%s]: kvstore lookup without fields_list" % name)
            shared = self._kv_data.get(coll)
            rows = shared.rows if shared is not None else self._kv_seed(coll, name)
            t = LookupTable(name, fields, rows, kind="kvstore", stanza=st, collection=coll)
            if shared is None:
                self._kv_data[coll] = t
            else:
                t.rows = shared.rows
            return t
        if "collection" in st or "fields_list" in st:
            raise SplError("transforms.conf [%s]: collection/fields_list need external_type = kvstore" % name)
        filename = st["filename"].strip()
        path = self._lookup_path(filename)
        if path is None:
            raise SplError("transforms.conf [%s]: lookup file %s not found in lookups/" % (name, filename))
        fields, rows = read_csv(path)
        return LookupTable(name, fields, rows, stanza=st, filename=filename)

    def _kv_seed(self, coll: str, stanza: str) -> List[Dict[str, Any]]:
        if self.lookups_dir:
            for fname in (coll + ".json", coll + ".csv", stanza + ".json", stanza + ".csv"):
                p = os.path.join(self.lookups_dir, fname)
                if os.path.isfile(p):
                    _, rows = load_kv_seed(p)
                    for r in rows:
                        r.setdefault("_key", uuid.uuid4().hex[:24])
                    return rows
        return []

    def lookup_rows(self, name: str) -> List[Dict[str, Any]]:
        """The current rows of a lookup (CSV or KV store), e.g. after a baseline search."""
        return [dict(r) for r in self.lookup_table(name).rows]

    def _tables_sharing(self, table: LookupTable) -> List[LookupTable]:
        out = [table]
        for t in self._tables.values():
            if t is table:
                continue
            if (table.collection and t.collection == table.collection) or \
                    (table.filename and t.filename == table.filename):
                out.append(t)
        return out

    def write_lookup(self, table: LookupTable, rows: List[Dict[str, Any]], *, append: bool,
                     key_field: Optional[str]) -> None:
        """outputlookup: memory only; nothing is written to disk."""
        def keep(k: str) -> bool:
            if table.kind == "kvstore":
                return k in table.fields or k == "_key"
            return not k.startswith("_") or k == "_time"
        new_rows = []
        fields = list(table.fields) if (append or table.kind == "kvstore") else []
        for r in rows:
            rec = {k: v for k, v in r.items() if keep(k)}
            if table.kind != "kvstore":
                for k in rec:
                    if k not in fields:
                        fields.append(k)
            new_rows.append(rec)
        if table.kind == "kvstore":
            existing = table.rows if append or key_field else []
            by_key = {r.get("_key"): i for i, r in enumerate(existing)}
            result = list(existing)
            for rec in new_rows:
                if key_field and rec.get(key_field) is not None:
                    rec["_key"] = fmt(rec[key_field]) if key_field != "_key" else rec["_key"]
                k = rec.get("_key")
                if k is not None and k in by_key:
                    result[by_key[k]] = rec
                else:
                    rec.setdefault("_key", uuid.uuid4().hex[:24])
                    by_key[rec["_key"]] = len(result)
                    result.append(rec)
            final = result
        else:
            final = (table.rows + new_rows) if append else new_rows
        for t in self._tables_sharing(table):
            t.rows = final
            if table.kind != "kvstore":
                t.fields = fields or t.fields
            t.changed()
        if table.kind == "kvstore":
            self._kv_data[table.collection] = table
        self._extracted.clear()  # automatic lookups may read this table
        self._full.clear()

    # ------------------------------------------------------------------ events
    def index_events(self, items: Iterable[Dict[str, Any]], *, source: str = "openai_audit:default",
                     host: str = "localhost", index: str = "main") -> int:
        """Add audit log objects (or event dicts with _raw/_time) to the app's index."""
        n = 0
        for obj in items:
            self.events.append(_base_event(obj, source=source, host=host, index=index))
            n += 1
        # search order: newest first; events sharing a second keep input order
        self.events.sort(key=lambda e: -e["_time"])
        if self._value_index:
            self._value_index.clear()
        return n

    def clear_events(self) -> None:
        self.events = []
        self._extracted.clear()
        self._full.clear()
        if self._value_index:
            self._value_index.clear()

    def extract(self, event: Dict[str, Any], now: Optional[float] = None) -> Dict[str, Any]:
        """Search-time fields of one event (an audit log object or an event dict); raw values
        (str, or int/float for eval results, lists for multivalues)."""
        if now is not None:
            self.knowledge.ctx.now = float(now)
        return self.knowledge.extract(_base_event(event, source="openai_audit:default",
                                                  host="localhost", index="main"))

    # ------------------------------------------------------------------ searching
    def search(self, spl: str, now: Optional[float] = None, events: Optional[Iterable[Dict[str, Any]]] = None,
               earliest: Optional[str] = None, latest: Optional[str] = None,
               index_earliest: Optional[str] = None, index_latest: Optional[str] = None,
               all_time: bool = False, started: Optional[float] = None) -> List[Dict[str, Any]]:
        """Run SPL; rows come back as Splunk prints them (strings, lists for multivalues).

        `now` is the time relative time specifiers resolve against; `started` (default: `now`) is
        when the search started, what now() and addinfo's info_search_time return. A scheduled run
        dispatched late has now = its scheduled time and started = the later dispatch time."""
        rows, job = self._run(spl, now, events, earliest, latest, index_earliest, index_latest, all_time,
                              started)
        return self._output(rows, job)

    def run_saved_search(self, name: str, now: Optional[float] = None, all_time: bool = False,
                         events: Optional[Iterable[Dict[str, Any]]] = None,
                         started: Optional[float] = None) -> List[Dict[str, Any]]:
        st = self.saved_searches.get(name)
        if st is None:
            raise SplError("no saved search named %r" % name)
        return self.search(st["search"], now=now, events=events,
                           earliest=st.get("dispatch.earliest_time"), latest=st.get("dispatch.latest_time"),
                           index_earliest=st.get("dispatch.index_earliest"),
                           index_latest=st.get("dispatch.index_latest"), all_time=all_time, started=started)

    def run_startup_searches(self, now: float) -> List[str]:
        """What splunkd does when it starts: every enabled scheduled search with run_on_startup = true
        runs once (savedsearches.conf.spec, run_on_startup). Returns their names."""
        names = [name for name, st in self.saved_searches.items()
                 if st.get("disabled") == "0" and st.get("run_on_startup") == "true"]
        for name in names:
            self.run_saved_search(name, now=now)
        return names

    def seed_baseline(self, name: str, now: Optional[float] = None) -> List[Dict[str, Any]]:
        """Seed a baseline as docs/detections.md tells admins to: its saved search by hand over the whole
        history up to `now` (latest=now, no earliest), with its _index_earliest/_index_latest terms removed."""
        st = self.saved_searches.get(name)
        if st is None:
            raise SplError("no saved search named %r" % name)
        spl = re.sub(r"\s_index_(?:earliest|latest)=\S+", "", st["search"])
        return self.search(spl, now=now, latest="now")

    def is_baseline(self, name: str) -> bool:
        """A saved search whose last command is outputlookup (it maintains a lookup)."""
        text = self.expand_macros(self.saved_searches[name]["search"])
        parts = [p.strip() for p in split_top(text, "|") if p.strip()]
        return bool(parts) and parts[-1].split(None, 1)[0].lower() == "outputlookup"

    def _run(self, spl, now, events, earliest, latest, index_earliest, index_latest, all_time, started=None):
        now = timeutil.wall_now() if now is None else float(now)
        started = now if started is None else float(started)
        tr: Dict[str, Optional[float]] = {}
        if not all_time:
            for key, spec in (("earliest", earliest), ("latest", latest),
                              ("_index_earliest", index_earliest), ("_index_latest", index_latest)):
                s = "" if spec is None else str(spec).strip()
                if s == "" or (key in ("earliest", "_index_earliest") and s == "0"):
                    continue  # unset, or all time
                tr[key] = timeutil.relative_time(now, s)
        kn = self.knowledge
        if kn.ctx.now != started:
            kn.ctx.now = started  # now() in a calculated field is the search's start time
            if kn.uses_now:
                self._extracted.clear()
                self._full.clear()
        if events is not None:
            evs = [_base_event(e, source="openai_audit:default", host="localhost", index="main")
                   for e in events]
            evs.sort(key=lambda e: -e["_time"])
            cache = None
        else:
            evs = self.events
            cache = self._extracted
        job = Job(self, now, evs, tr, all_time, started)
        job._cache = cache
        rows = self._pipeline(job, spl, top=True)
        return rows, job

    def _pipeline(self, job: Job, spl: str, top: bool) -> List[Dict[str, Any]]:
        text = self.expand_macros(spl)
        text = self._expand_subsearches(job, text)
        stripped = text.strip()
        leading_pipe = stripped.startswith("|")
        if leading_pipe:
            stripped = stripped[1:]
        segments = split_top(stripped, "|")
        job.segments = segments
        rows: List[Dict[str, Any]] = []
        for pos, seg in enumerate(segments):
            seg = seg.strip()
            if not seg:
                raise SplError("empty command in %r" % spl)
            m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)(.*)\Z", seg, re.DOTALL)
            name = m.group(1).lower() if m else ""
            args = m.group(2) if m else seg
            if pos == 0 and not leading_pipe:
                if name != "search":
                    args = seg
                rows = self._first_search(job, args)
                continue
            if pos == 0 and name not in GENERATING:
                if name == "search":
                    rows = self._first_search(job, args)
                    continue
                raise SplError("%s cannot start a search (a generating command is needed)" % (name or seg))
            fn = COMMANDS.get(name)
            if fn is None:
                raise SplError("unsupported command %r" % (name or seg))
            job.position = pos
            rows = fn(job, args, rows)
        return rows

    def _first_search(self, job: Job, args: str) -> List[Dict[str, Any]]:
        pred = SearchExpr(args, job.now, what="search")
        tr = dict(job.time_range)
        if job.all_time:
            # --all-time: time modifiers inside the search are not applied either
            pred = SearchExpr(_strip_time_modifiers(args), job.now, what="search")
        else:
            for b in pred.time_bounds:
                tr.pop(b, None)  # a modifier in the search replaces the dispatch bound
            for b in ("earliest", "latest"):
                job.searched_range[b] = pred.time_values.get(b, tr.get(b))
        lo = tr.get("earliest")
        hi = tr.get("latest")
        ilo = tr.get("_index_earliest")
        ihi = tr.get("_index_latest")
        out = []
        cache = job._cache
        full = self._full if cache is self._extracted else set()
        if cache is None:
            cache = {}
        kn = self.knowledge
        events = job.events
        first = FirstClause(pred, job.segments) if self.optimize else None
        if first and cache is self._extracted and pred.required:
            events = self._value_index.candidates(pred.required, events)
        for ev in events:
            t = ev["_time"]
            if lo is not None and t < lo:
                continue
            if hi is not None and t >= hi:
                continue
            if ilo is not None or ihi is not None:
                it = ev["_indextime"]
                if (ilo is not None and it < ilo) or (ihi is not None and it >= ihi):
                    continue
            key = id(ev)
            r = cache.get(key)
            if r is None or key not in full:
                if r is None:
                    r, plan = kn.base_fields(ev)
                    cache[key] = r
                else:
                    plan = kn.plan_for(ev)
                if first:
                    test_base, steps = first.shortcuts(plan)
                    if test_base and not pred.pred(r):
                        continue  # cannot match: the derived fields never change what it reads
                    if steps is not None:
                        # only the derived fields the pipeline can read, on a copy: the cache
                        # keeps base rows and full rows only
                        r = dict(r)
                        if not steps.empty:
                            kn.search_time_fields(r, plan, steps)
                        if test_base or pred.pred(r):
                            out.append(r)
                        continue
                kn.search_time_fields(r, plan)
                full.add(key)
            if pred.pred(r):
                out.append(dict(r))
        return out

    def cached_base_fields(self, ev: Dict[str, Any]) -> Dict[str, Any]:
        """base_fields() of an indexed event, computed once."""
        r = self._extracted.get(id(ev))
        if r is None:
            r, _ = self.knowledge.base_fields(ev)
            self._extracted[id(ev)] = r
        return r

    def _expand_subsearches(self, job: Job, text: str) -> str:
        if "[" not in text:
            return text
        out = []
        i = 0
        n = len(text)
        while i < n:
            c = text[i]
            if c == '"':
                j = scan_quoted(text, i)
                out.append(text[i:j])
                i = j
                continue
            if c == "[":
                depth = 0
                j = i
                while j < n:
                    if text[j] == '"':
                        j = scan_quoted(text, j)
                        continue
                    if text[j] == "[":
                        depth += 1
                    elif text[j] == "]":
                        depth -= 1
                        if depth == 0:
                            break
                    j += 1
                if j >= n:
                    raise SplError("unbalanced [ in %r" % text)
                inner = text[i + 1:j]
                out.append(" " + self._run_subsearch(job, inner) + " ")
                i = j + 1
                continue
            out.append(c)
            i += 1
        return "".join(out)

    def _run_subsearch(self, job: Job, inner: str) -> str:
        sub = Job(self, job.now, job.events, job.time_range, job.all_time, job.started)
        sub._cache = job._cache
        rows = self._pipeline(sub, inner, top=False)
        rows = rows[:10000]
        if sub.columns == ["search"] and len(rows) == 1 and "search" in rows[0]:
            return fmt(rows[0]["search"])
        return format_rows(rows)

    def _output(self, rows: List[Dict[str, Any]], job: Job) -> List[Dict[str, Any]]:
        out = []
        keep = {"_time", "_raw"} | job.explicit
        for r in rows:
            o = {}
            for k, v in r.items():
                if v is None or (k.startswith("_") and k not in keep):
                    continue
                o[k] = output_value(v)
            out.append(o)
        return out


def _strip_time_modifiers(text: str) -> str:
    return re.sub(r"(?<![\w.])(earliest|latest|_index_earliest|_index_latest)\s*=\s*(\"[^\"]*\"|\S+)", "", text)
