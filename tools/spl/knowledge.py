"""Search-time field extraction, in Splunk's documented order:
EXTRACT-, REPORT-, KV_MODE (json/auto), FIELDALIAS-, EVAL-, LOOKUP-, event types, tags.
Within each class, keys run in ASCII order of their class names."""
from __future__ import annotations

import json
import re
import sys
from typing import Any, Dict, List, Optional, Tuple

from .errors import SplError
from . import optimize
from .evalexpr import Context, Expr
from .pcre import DEFAULT_DEPTH_LIMIT, DEFAULT_MATCH_LIMIT, compile_regex
from .lexer import words
from .lookups import apply_lookup, parse_lookup_spec, tokens_with_commas
from .values import fmt, normalize, values_of

# props.conf keys that only act while indexing (line breaking, timestamps): events reach the
# evaluator already indexed (_time, _raw given), so they cannot change a search result.
INDEX_TIME_PROPS = {
    "TIME_PREFIX", "TIME_FORMAT", "MAX_TIMESTAMP_LOOKAHEAD", "TZ", "DATETIME_CONFIG",
    "SHOULD_LINEMERGE", "LINE_BREAKER", "LINE_BREAKER_LOOKBEHIND", "TRUNCATE", "BREAK_ONLY_BEFORE",
    "BREAK_ONLY_BEFORE_DATE", "MUST_BREAK_AFTER", "MUST_NOT_BREAK_AFTER", "MUST_NOT_BREAK_BEFORE",
    "MAX_EVENTS", "CHARSET", "NO_BINARY_CHECK", "ANNOTATE_PUNCT", "EVENT_BREAKER_ENABLE",
    "EVENT_BREAKER", "MAX_DAYS_AGO", "MAX_DAYS_HENCE", "MAX_DIFF_SECS_AGO", "MAX_DIFF_SECS_HENCE",
    "category", "description", "pulldown_type", "LEARN_MODEL", "LEARN_SOURCETYPE", "detect_trailing_nulls",
    "SEGMENTATION", "given_type", "ADD_EXTRA_TIME_FIELDS", "TIMESTAMP_FIELDS", "JSON_TRIM_BRACES_IN_ARRAY_NAMES_INDEX",
}
SEARCH_TIME_PROPS = {"KV_MODE", "AUTO_KV_JSON", "JSON_TRIM_BRACES_IN_ARRAY_NAMES", "KV_TRIM_SPACES",
                     "MATCH_LIMIT", "DEPTH_LIMIT"}
PROPS_CLASSES = ("EXTRACT-", "REPORT-", "FIELDALIAS-", "EVAL-", "LOOKUP-")
REPORT_KEYS = {"REGEX", "FORMAT", "SOURCE_KEY", "MV_ADD", "CLEAN_KEYS", "KEEP_EMPTY_VALS",
               "CAN_OPTIMIZE", "LOOKAHEAD", "MATCH_LIMIT", "DEPTH_LIMIT"}
EVENTTYPE_KEYS = {"search", "priority", "description", "color", "disabled", "tags"}


def flatten_json(obj: Any, out: Dict[str, List[Any]], prefix: str, trim_braces: bool) -> None:
    """KV_MODE=json naming: objects join keys with '.', arrays add '{}' and give multivalues."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            flatten_json(v, out, prefix + "." + k if prefix else k, trim_braces)
    elif isinstance(obj, list):
        name = prefix if trim_braces else prefix + "{}"
        for v in obj:
            flatten_json(v, out, name, trim_braces)
    else:
        if obj is None:
            val = "null"
        elif obj is True:
            val = "true"
        elif obj is False:
            val = "false"
        else:
            val = obj  # strings, and numbers kept as their JSON text (parse_int/parse_float=str)
        lst = out.get(prefix)
        if lst is None:
            out[prefix] = [val]
        else:
            lst.append(val)


class _Truncated(Exception):
    pass


_JSON_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_JSON_WS = re.compile(r"[ \t\n\r]*")


def _flatten_prefix(text: str, acc: Dict[str, List[Any]], trim_braces: bool) -> None:
    """KV_MODE=json naming over the first bytes of a JSON text: every value that ends inside the
    prefix is extracted, the value the prefix cuts and everything after it are not."""
    from json.decoder import scanstring

    def leaf(name, val):
        acc.setdefault(name, []).append(val)

    def value(i, name):
        i = _JSON_WS.match(text, i).end()
        if i >= len(text):
            raise _Truncated
        c = text[i]
        if c == "{":
            i += 1
            while True:
                i = _JSON_WS.match(text, i).end()
                if i >= len(text):
                    raise _Truncated
                if text[i] == "}":
                    return i + 1
                if text[i] == ",":
                    i += 1
                    continue
                if text[i] != '"':
                    raise ValueError("bad object")
                try:
                    key, i = scanstring(text, i + 1)
                except ValueError:
                    raise _Truncated
                i = _JSON_WS.match(text, i).end()
                if i >= len(text):
                    raise _Truncated
                if text[i] != ":":
                    raise ValueError("bad object")
                i = value(i + 1, name + "." + key if name else key)
        if c == "[":
            i += 1
            inner = name if trim_braces else name + "{}"
            while True:
                i = _JSON_WS.match(text, i).end()
                if i >= len(text):
                    raise _Truncated
                if text[i] == "]":
                    return i + 1
                if text[i] == ",":
                    i += 1
                    continue
                i = value(i, inner)
        if c == '"':
            try:
                s, j = scanstring(text, i + 1)
            except ValueError:
                raise _Truncated
            leaf(name, s)
            return j
        for word in ("true", "false", "null"):
            if text.startswith(word, i):
                leaf(name, word)
                return i + len(word)
        m = _JSON_NUMBER.match(text, i)
        if not m or m.end() >= len(text):
            raise _Truncated  # a number the cut may have shortened is not extracted
        leaf(name, m.group())
        return m.end()

    try:
        value(0, "")
    except (_Truncated, ValueError, RecursionError):
        pass


def json_fields(raw: str, trim_braces: bool = False, cutoff: Optional[int] = None) -> Dict[str, Any]:
    """KV_MODE=json / spath extract-all fields of a JSON text. cutoff: only its first bytes count
    (limits.conf [spath] extraction_cutoff, default 5000: "applies extraction only to the first
    <integer> number of bytes ... both the auto kv extraction and the spath command")."""
    acc: Dict[str, List[Any]] = {}
    if cutoff is not None and len(raw) > cutoff // 4 and len(raw.encode("utf-8", "surrogatepass")) > cutoff:
        prefix = raw.encode("utf-8", "surrogatepass")[:cutoff].decode("utf-8", "ignore")
        if not prefix.lstrip().startswith(("{", "[")):
            return {}
        _flatten_prefix(prefix.lstrip(), acc, trim_braces)
    else:
        try:
            obj = json.loads(raw, parse_int=str, parse_float=str)
        except ValueError:
            return {}
        if not isinstance(obj, (dict, list)):
            return {}
        flatten_json(obj, acc, "", trim_braces)
    intern = sys.intern
    out = {}
    for k, v in acc.items():
        if not k:
            continue
        # repeated values (types, emails, countries) share one string object
        if len(v) == 1:
            x = v[0]
            out[intern(k)] = intern(x) if type(x) is str and len(x) <= 64 else x
        else:
            out[intern(k)] = [intern(x) if type(x) is str and len(x) <= 64 else x for x in v]
    return out


_AUTO_KV_RE = re.compile(r'([A-Za-z_][A-Za-z0-9_.]*)=("([^"]*)"|[^\s,;"]+)')


def _int_key(keys: Dict[str, str], key: str, default: int, where: str) -> int:
    text = keys.get(key)
    if text is None:
        return default
    try:
        return int(text.strip())
    except ValueError:
        raise SplError("%s: %s = %r is not an integer" % (where, key, text))


def _stanza_pattern(pattern: str) -> "re.Pattern":
    # props.conf source::/host:: patterns: '...' crosses directories, '*' does not.
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("...", i):
            out.append(".*")
            i += 3
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


class _Plan:
    """The search-time operations for one (sourcetype, source, host)."""

    def __init__(self):
        self.kv_mode = "auto"
        self.auto_kv_json = True
        self.trim_braces = False
        self.extracts: List[Tuple[Any, Optional[str]]] = []
        self.reports: List[Dict[str, str]] = []
        self.aliases: List[Tuple[str, str, bool]] = []
        self.evals: List[Tuple[str, Any]] = []  # (field, row -> value)
        self.eval_reads: List[Any] = []  # the fields each calculated field reads, same order
        self.lookups: List[Tuple[Any, Any, Any, str]] = []
        # fields FIELDALIAS, EVAL, LOOKUP, event types and tags may write or remove
        self.derived_fields: set = set()
        self.dynamic_reports = False
        # EXTRACTs that only read _raw run with the derived fields (same result: they win over
        # KV_MODE fields of the same name either way)
        self.extract_later = False


class Knowledge:
    def __init__(self, app, props, transforms, eventtypes, tags):
        self.app = app
        self.props = props
        self.transforms = transforms
        self.ctx = Context(0.0, app.optimize)
        self.uses_now = False
        self._plans: Dict[Tuple[str, str, str], _Plan] = {}
        self._source_stanzas = []
        self._host_stanzas = []
        for name in props:
            if name.startswith("source::"):
                self._source_stanzas.append((name, _stanza_pattern(name[len("source::"):])))
            elif name.startswith("host::"):
                self._host_stanzas.append((name, _stanza_pattern(name[len("host::"):])))
            elif name.startswith("(") or name.startswith("rule::") or name.startswith("delayedrule::"):
                raise SplError("props.conf [%s]: this stanza type is not supported" % name)
        for name, keys in props.items():
            self._check_props(name, keys)
        self._load_eventtypes(eventtypes)
        self._load_tags(tags)

    # ------------------------------------------------------------ props
    def _check_props(self, stanza: str, keys: Dict[str, str]) -> None:
        for key in keys:
            if key in INDEX_TIME_PROPS or key in SEARCH_TIME_PROPS:
                continue
            if any(key.startswith(c) for c in PROPS_CLASSES):
                continue
            raise SplError("props.conf [%s]: unsupported setting %r" % (stanza, key))
        for key in ("MATCH_LIMIT", "DEPTH_LIMIT"):
            _int_key(keys, key, 0, "props.conf [%s]" % stanza)
        mode = keys.get("KV_MODE")
        if mode is not None and mode.strip().lower() not in ("json", "none", "auto"):
            raise SplError("props.conf [%s]: KV_MODE = %s is not supported" % (stanza, mode))

    def _merged_props(self, sourcetype: str, source: str, host: str) -> Dict[str, str]:
        merged: Dict[str, str] = {}
        for layer in (self.props.get("default", {}), self.props.get(sourcetype, {})):
            merged.update(layer)
        for name, rx in self._source_stanzas:
            if rx.match(source or ""):
                merged.update(self.props[name])
        for name, rx in self._host_stanzas:
            if rx.match(host or ""):
                merged.update(self.props[name])
        return merged

    def plan(self, sourcetype: str, source: str, host: str) -> _Plan:
        key = (sourcetype, source, host)
        p = self._plans.get(key)
        if p is None:
            p = self._build_plan(self._merged_props(sourcetype, source, host), sourcetype)
            self._plans[key] = p
        return p

    def _build_plan(self, keys: Dict[str, str], st: str) -> _Plan:
        p = _Plan()
        p.kv_mode = keys.get("KV_MODE", "auto").strip().lower()
        p.auto_kv_json = keys.get("AUTO_KV_JSON", "true").strip().lower() in ("1", "true", "t")
        p.trim_braces = keys.get("JSON_TRIM_BRACES_IN_ARRAY_NAMES", "false").strip().lower() in ("1", "true", "t")
        # props.conf.spec MATCH_LIMIT / DEPTH_LIMIT: the PCRE limits of EXTRACT (100000 / 1000)
        limits = (_int_key(keys, "MATCH_LIMIT", DEFAULT_MATCH_LIMIT, "props.conf [%s]" % st),
                  _int_key(keys, "DEPTH_LIMIT", DEFAULT_DEPTH_LIMIT, "props.conf [%s]" % st))
        for key in sorted(k for k in keys if k.startswith("EXTRACT-")):
            val = keys[key]
            m = re.match(r"(.*)\s+in\s+(\S+)\s*\Z", val, re.DOTALL)
            if m and "(?" in m.group(1):
                p.extracts.append((compile_regex(m.group(1), *limits), m.group(2)))
            else:
                p.extracts.append((compile_regex(val, *limits), None))
        for key in sorted(k for k in keys if k.startswith("REPORT-")):
            for name in [x.strip() for x in keys[key].split(",") if x.strip()]:
                tr = self.transforms.get(name)
                if tr is None:
                    raise SplError("props.conf %s: no transforms.conf stanza [%s]" % (key, name))
                for k in tr:
                    if k not in REPORT_KEYS:
                        raise SplError("transforms.conf [%s]: unsupported setting %r for REPORT" % (name, k))
                if "REGEX" not in tr:
                    raise SplError("transforms.conf [%s]: REPORT needs REGEX" % name)
                # transforms.conf.spec MATCH_LIMIT / DEPTH_LIMIT (100000 / 1000)
                rx = compile_regex(tr["REGEX"],
                                   _int_key(tr, "MATCH_LIMIT", DEFAULT_MATCH_LIMIT, "transforms.conf [%s]" % name),
                                   _int_key(tr, "DEPTH_LIMIT", DEFAULT_DEPTH_LIMIT, "transforms.conf [%s]" % name))
                p.reports.append((tr, rx))
        for key in sorted(k for k in keys if k.startswith("FIELDALIAS-")):
            toks = [w for w, _ in words(keys[key])]
            i = 0
            while i < len(toks):
                if i + 2 >= len(toks) or toks[i + 1].upper() not in ("AS", "ASNEW"):
                    raise SplError("props.conf %s: expected '<field> AS|ASNEW <alias>' in %r" % (key, keys[key]))
                p.aliases.append((toks[i], toks[i + 2], toks[i + 1].upper() == "ASNEW"))
                i += 3
        for key in sorted(k for k in keys if k.startswith("EVAL-")):
            expr = Expr(keys[key], self.ctx)
            if expr.uses_now:
                self.uses_now = True  # cached fields must be recomputed when now() changes
            value = optimize.memoize(expr.value, expr.fields, keys[key]) if self.app.optimize else expr.value
            p.evals.append((key[len("EVAL-"):], value))
            p.eval_reads.append(expr.fields)
        for key in sorted(k for k in keys if k.startswith("LOOKUP-")):
            toks = tokens_with_commas(keys[key])
            if not toks:
                raise SplError("props.conf %s: empty" % key)
            table_name = toks[0]
            match_pairs, outputs, mode = parse_lookup_spec(toks[1:], "props.conf " + key)
            table = self.app.lookup_table(table_name, for_what="props.conf " + key)
            p.lookups.append((table, match_pairs, outputs, mode))
        derived = {"eventtype", "tag"}
        derived.update(dst for _, dst, _ in p.aliases)
        derived.update(name for name, _ in p.evals)
        for table, match_pairs, outputs, mode in p.lookups:
            if outputs is None:
                derived.update(table.fields)
            else:
                derived.update(ef for _, ef in outputs)
        derived.update(self.tag_fields())
        p.extract_later = bool(p.extracts) and not p.reports and all(f is None for _, f in p.extracts)
        if p.extract_later:
            for rx, _ in p.extracts:
                derived.update(rx.groupindex)
        p.derived_fields = derived
        p.dynamic_reports = any("$" in tr.get("FORMAT", "").split("::")[0] for tr, _ in p.reports)
        return p

    def all_derived_fields(self) -> set:
        """Fields search_time_fields() may write, over every props plan built so far."""
        out = set()
        for p in self._plans.values():
            out |= p.derived_fields
        return out

    def tag_fields(self):
        return {"tag::" + f for f in getattr(self, "tag_map", {})} | {"tag::eventtype"}

    # ------------------------------------------------------------ eventtypes and tags
    def _load_eventtypes(self, eventtypes) -> None:
        from .searchexpr import SearchExpr
        self.eventtypes: List[Tuple[str, Any, List[str]]] = []
        for name, keys in eventtypes.items():
            if name == "default":
                continue
            for k in keys:
                if k not in EVENTTYPE_KEYS:
                    raise SplError("eventtypes.conf [%s]: unsupported setting %r" % (name, k))
            if "search" not in keys:
                raise SplError("eventtypes.conf [%s]: no search" % name)
            if keys.get("disabled", "0").strip().lower() in ("1", "true", "t"):
                continue  # a disabled event type is not applied
            text = self.app.expand_macros(keys["search"])
            if "|" in text:
                raise SplError("eventtypes.conf [%s]: event type searches cannot contain pipes" % name)
            expr = SearchExpr(text, 0.0, what="eventtype " + name)
            if expr.time_bounds:
                raise SplError("eventtypes.conf [%s]: time modifiers are not allowed" % name)
            if any(f == "tag" or f.startswith("tag::") for f in expr.fields):
                # Knowledge Manager Manual, About event types: "Search strings that define event
                # types cannot reference tags, because event types are always processed and added
                # to events before tags."
                raise SplError("eventtypes.conf [%s]: an event type cannot reference tags (event "
                               "types are applied before tags)" % name)
            self.eventtypes.append((name, optimize.memoize_event_type(expr) if self.app.optimize else expr,
                                    keys.get("tags", "").split()))
        self.eventtypes.sort(key=lambda x: x[0])
        self._et_uses_eventtype = any("eventtype" in e.fields for _, e, _ in self.eventtypes)

    def _load_tags(self, tags) -> None:
        # field -> lowercased value -> [tags]
        self.tag_map: Dict[str, Dict[str, List[str]]] = {}
        for stanza, keys in tags.items():
            if stanza == "default":
                continue
            if "=" not in stanza:
                raise SplError("tags.conf [%s]: stanza must be <field>=<value>" % stanza)
            field, value = stanza.split("=", 1)
            from urllib.parse import unquote as _u
            field, value = _u(field.strip()), _u(value.strip())
            if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
                value = value[1:-1]
            for tag, state in keys.items():
                st = state.strip().lower()
                if st not in ("enabled", "disabled"):
                    raise SplError("tags.conf [%s]: %s = %s (must be enabled or disabled)" % (stanza, tag, state))
                if st == "enabled":
                    self.tag_map.setdefault(field, {}).setdefault(value.lower(), []).append(tag)

    # ------------------------------------------------------------ extraction
    def extract(self, base: Dict[str, Any]) -> Dict[str, Any]:
        row, plan = self.base_fields(base)
        self.search_time_fields(row, plan)
        return row

    def plan_for(self, base: Dict[str, Any]) -> _Plan:
        return self.plan(fmt(base.get("sourcetype", "")), fmt(base.get("source", "")),
                         fmt(base.get("host", "")))

    def base_fields(self, base: Dict[str, Any]):
        """Index-time fields, EXTRACT/REPORT (unless extract_later) and KV_MODE: what a
        search's first clause usually reads. -> (row, plan)"""
        row = dict(base)
        plan = self.plan_for(base)
        raw = row.get("_raw")
        raw_s = fmt(raw) if raw is not None else ""
        if not plan.extract_later:
            self._apply_extracts(plan, row, raw_s)
        if plan.kv_mode == "json" or (plan.kv_mode == "auto" and plan.auto_kv_json
                                      and raw_s.lstrip().startswith(("{", "["))):
            for k, v in json_fields(raw_s, plan.trim_braces, self.app.limits.extraction_cutoff).items():
                if k not in row:
                    row[k] = v
        elif plan.kv_mode == "auto":
            for m in _AUTO_KV_RE.finditer(raw_s):
                k = m.group(1)
                if k not in row:
                    row[k] = m.group(3) if m.group(3) is not None else m.group(2)
        return row, plan

    def _apply_extracts(self, plan: _Plan, row: Dict[str, Any], raw_s: str) -> None:
        # Splunk runs these before KV_MODE, so their values win over same-named KV fields.
        for rx, field in plan.extracts:
            src = raw_s if field is None else row.get(field)
            if src is None:
                continue
            m = rx.search(fmt(src) if type(src) is not list else fmt(src[0]))
            if m:
                for k, v in m.groupdict().items():
                    if v is not None:
                        row[k] = v
        for tr, rx in plan.reports:
            self._apply_report(tr, rx, row, raw_s)

    def search_time_fields(self, row: Dict[str, Any], plan: _Plan, steps=None) -> None:
        """The rest of the search-time sequence on a base_fields() row, in place: FIELDALIAS,
        EVAL, LOOKUP, event types and tags (and EXTRACT when extract_later). steps (an
        optimize.DerivedSteps): only its aliases, calculated fields and lookups run, and no event
        types or tags; None: everything."""
        if plan.extract_later and (steps is None or steps.extracts):
            # EXTRACT on _raw only: running it after KV_MODE gives the same fields (its values
            # overwrite KV ones, as they would have pre-empted them)
            raw = row.get("_raw")
            self._apply_extracts(plan, row, fmt(raw) if raw is not None else "")
        aliases = plan.aliases if steps is None else steps.aliases
        if aliases:
            sources = [row.get(src) for src, _, _ in aliases]  # aliases read pre-alias fields
            for (src, dst, asnew), v in zip(aliases, sources):
                if asnew:
                    if v is not None and row.get(dst) is None:
                        row[dst] = v
                else:
                    # AS overwrites; with no source value the alias field is cleared (7.2.4+)
                    if v is not None:
                        row[dst] = v
                    else:
                        row.pop(dst, None)
        evals = plan.evals if steps is None else steps.evals
        if evals:
            results = [(name, value(row)) for name, value in evals]  # all read the pre-EVAL row
            for name, v in results:
                if v is None:
                    row.pop(name, None)
                else:
                    row[name] = v
        for table, match_pairs, outputs, mode in (plan.lookups if steps is None else steps.lookups):
            apply_lookup(table, row, match_pairs, outputs, mode)
        if steps is None:
            self._apply_eventtypes_and_tags(row)

    def _apply_report(self, tr: Dict[str, str], rx, row: Dict[str, Any], raw_s: str) -> None:
        source_key = tr.get("SOURCE_KEY", "_raw")
        src = raw_s if source_key == "_raw" else row.get(source_key)
        if src is None:
            return
        src = fmt(src) if type(src) is not list else fmt(src[0])
        mv_add = tr.get("MV_ADD", "false").strip().lower() in ("1", "true", "t")
        fmt_spec = tr.get("FORMAT")
        matches = list(rx.finditer(src)) if mv_add else [m for m in [rx.search(src)] if m]
        for m in matches:
            pairs = []
            if fmt_spec:
                for part in re.finditer(r"(\S+?)::(\S+)", fmt_spec):
                    key = re.sub(r"\$(\d+)", lambda g: m.group(int(g.group(1))) or "", part.group(1))
                    val = re.sub(r"\$(\d+)", lambda g: m.group(int(g.group(1))) or "", part.group(2))
                    pairs.append((key, val))
            else:
                gd = m.groupdict()
                keys = {}
                for k, v in gd.items():
                    if k.startswith("_KEY_"):
                        keys[k[5:]] = v
                for k, v in gd.items():
                    if k.startswith("_KEY_"):
                        continue
                    if k.startswith("_VAL_"):
                        if keys.get(k[5:]):
                            pairs.append((keys[k[5:]], v))
                    else:
                        pairs.append((k, v))
            for k, v in pairs:
                if v is None or (v == "" and tr.get("KEEP_EMPTY_VALS", "false").lower() not in ("1", "true")):
                    continue
                if mv_add and row.get(k) is not None:
                    row[k] = values_of(row[k]) + [v]
                else:
                    row[k] = v

    def _field_tags(self, row: Dict[str, Any], per_field: Dict[str, List[str]]) -> List[str]:
        out: List[str] = []
        for field, vmap in self.tag_map.items():
            v = row.get(field)
            if v is None:
                continue
            for x in values_of(v):
                tags = vmap.get(fmt(x).lower())
                if tags:
                    per_field.setdefault(field, []).extend(tags)
                    out.extend(tags)
        return out

    def _set_tags(self, row: Dict[str, Any], all_tags: List[str], per_field: Dict[str, List[str]]) -> None:
        if "tag" in row:  # tag::<field> only ever comes with tag
            for k in [k for k in row if k == "tag" or k.startswith("tag::")]:
                del row[k]
        if all_tags:
            row["tag"] = normalize(sorted(set(all_tags)))
            for field, tags in per_field.items():
                row["tag::" + field] = normalize(sorted(set(tags)))

    def _apply_eventtypes_and_tags(self, row: Dict[str, Any]) -> None:
        matched: List[str] = []
        extra_tags: List[str] = []
        if self.eventtypes:
            if self._et_uses_eventtype:
                # event types may refer to other event types: iterate to a fixed point
                prev = None
                while prev != matched:
                    prev = list(matched)
                    if matched:
                        row["eventtype"] = normalize(matched)
                    matched = [n for n, e, _ in self.eventtypes if e(row)]
            else:
                matched = [n for n, e, _ in self.eventtypes if e(row)]
            for n, _, tags in self.eventtypes:
                if tags and n in matched:
                    extra_tags.extend(tags)
        if matched:
            row["eventtype"] = normalize(matched)
        else:
            row.pop("eventtype", None)
        if not self.tag_map and not extra_tags:
            return
        per_field: Dict[str, List[str]] = {}
        if extra_tags:
            per_field["eventtype"] = list(extra_tags)
        all_tags = list(extra_tags) + self._field_tags(row, per_field)
        self._set_tags(row, all_tags, per_field)
