"""Build the add-on's detection content from detections/ (the source of truth).

    python tools/build_detections.py           write the generated files
    python tools/build_detections.py --check   exit 1 (and name them) when committed files differ
    python tools/build_detections.py --validate   only run the schema check
    python tools/build_detections.py --export-contentctl DIR
                                               write detections/ into a contentctl project made by
                                               `contentctl init` in DIR (tools/contentctl_check.py
                                               then runs contentctl validate and build on it)

detections/*.yml            one detection per file, security_content's field set (name, id, version,
                            date, author, status, type, data_source, description, search,
                            how_to_implement, known_false_positives, references, drilldown_searches,
                            rba, tags, tests) and `deployment`: scheduling as contentctl's, and the
                            notable (rule_title, rule_description, next_steps, severity), which the
                            export moves to contentctl's alert_action.notable. The type decides what ES
                            does with a result (TTP: notable and risk; Anomaly: risk only).
                            tags.throttling is optional and refused when keyed on the actor alone;
                            searches take their time base from addinfo, never now(); TTP and Anomaly
                            searches start with `openai_audit` `openai_audit_skip_backfill`; rows with
                            their own severity end with `openai_audit_row_risk_score(<score>)`;
                            drilldowns hold no index-time window and every `$` is a token.
detections/baselines/*.yml  searches that keep a KV store baseline (outputlookup)
detections/macros/*.yml     the `openai_audit` macro, tuning and helper macros (name, definition,
                            description, arguments)
detections/lookups/*.yml    CSV and KV store lookups as contentctl has them: a CSV lookup is
                            package/lookups/<name>.csv (hand-written), a KV store lookup's
                            collection is its name; a CSV lookup with `maintained_by: admin` is an
                            admin list: see ADMIN LISTS below
detections/stories/*.yml    analytic stories for Enterprise Security's use case library
detections/data_sources/*.yml  the data source the detections read (contentctl's DataSource)

Generated: package/default/savedsearches.conf and analyticstories.conf (whole files);
package/default/macros.conf below its hand-written header;
this add-on's lookup stanzas in package/default/transforms.conf and its baseline collections in
package/default/collections.conf, each as one marked block that leaves the rest of the file alone;
the catalog table in docs/detections.md between its markers.

ADMIN LISTS (`maintained_by: admin`, issue 14). Splunk replaces every file of an app's lookups/
directory when a new version is installed over it (Splunk has no local/ for lookups; the search
head cluster deployer and the deployment server do the same unless told otherwise), so a CSV that
admins fill goes back to the shipped examples on upgrade. An admin list therefore lives in a KV
store collection, which no app upgrade touches and which a search head cluster replicates:
- collections.conf [<name>]: one string field per column;
- transforms.conf [<name>]: the KV store lookup the detections use, same name as before, with the
  YAML's match_type and max/min_matches (field matching rules "can be applied to all four lookup
  types": https://docs.splunk.com/Documentation/Splunk/9.4.0/Knowledge/Addfieldmatchingrulestoyourlookupconfiguration);
  never case_sensitive_match, which "does not apply to KV Store lookups" (same page; "KV Store
  lookup ... does not support case-insensitive field lookups":
  https://docs.splunk.com/Documentation/Splunk/9.0.5/Knowledge/DefineaKVStorelookupinSplunkWeb).
  A list whose YAML says `case_sensitive_match: false` is matched in lower case instead: its key
  column (the first field) is stored in lower case and the detections compare lower(<field>);
- transforms.conf [<name>_defaults]: the shipped CSV (package/lookups/<name>.csv), read only by the
  search below (and, when it survived an upgrade from the CSV days, the admin's old list);
- savedsearches.conf "TA-openai-audit - Admin List <name>" (enabled, hourly and at startup): copies
  the defaults into the collection once, records that in the collection openai_admin_list_seeds
  (so a list an admin emptied on purpose is never seeded again, and an upgrade that ships new
  defaults changes nothing), and lowercases the key column of a case-insensitive list. Records
  keep their _key, so outputlookup append=true updates them in place (allow_updates, on by default
  with append: https://help.splunk.com/en/splunk-enterprise/spl-search-reference/10.0/search-commands/outputlookup).
"""
from __future__ import annotations

import argparse
import copy
import csv
import json
import re
import sys
import uuid
from datetime import date, datetime, timezone
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
APP_LABEL = "TA-openai-audit"
AUTHOR = {"company": "TA-openai-audit", "email": "-", "name": "TA-openai-audit detection engineering"}
BEGIN = "# ---- BEGIN detections (generated by tools/build_detections.py from detections/; edit those) ----"
END = "# ---- END detections ----"
DOC_BEGIN = "<!-- BEGIN catalog (generated by tools/build_detections.py) -->"
DOC_END = "<!-- END catalog -->"
# The KV store collection that records which admin lists were seeded (key: the list's name).
SEEDS = "openai_admin_list_seeds"
SEED_FIELDS = ["_key", "list", "seeded_time"]

# contentctl's limits: ES clones a search as "<domain> - <stanza> - Rule" and keeps at most 99
# characters; ESCU's own names must therefore stay within 67.
MAX_NAME = 67
ES_MAX_STANZA = 99
LONGEST_DOMAIN = "endpoint"
DETECTION_TYPES = ("TTP", "Anomaly", "Hunting", "Correlation")
STATUSES = ("production", "experimental")
SECURITY_DOMAINS = ("access", "endpoint", "network", "threat", "identity", "audit")
RISK_OBJECT_TYPES = ("user", "system", "other")
THREAT_OBJECT_TYPES = ("ip_address", "http_user_agent", "tls_hash", "domain", "url", "email_address",
                       "certificate_common_name", "signature", "system", "other")
MITRE_RE = re.compile(r"^T\d{4}(\.\d{3})?$")
CRON_PERIOD = {"*/5 * * * *": 5, "*/15 * * * *": 15}
# tokens ES fills in itself in drilldowns
BUILTIN_TOKENS = {"info_min_time", "info_max_time"}
# What ES does with a result of each detection type, the ESCU way (contentctl's deployment defaults,
# contentctl/templates/deployments/escu_default_configuration_ttp.yml: "Risk Based Alerting and
# generate Notable Events"; ..._anomaly.yml: "Risk Based Alerting" only; its savedsearches_detections.j2
# writes action.notable only with a notable alert action and action.risk.param._risk as one JSON entry
# per risk object with its risk_score and per threat object): TTPs raise a notable and add risk,
# anomalies only add risk (the risk correlation raises the notable), the data-health hunting search is
# a plain alert, and the risk correlation raises a notable from the risk index.
NOTABLE_TYPES = ("TTP", "Correlation")
RISK_TYPES = ("TTP", "Anomaly")
BACKFILL_MACRO = "openai_audit_skip_backfill"
ROW_RISK_MACRO = "openai_audit_row_risk_score"
# Drilldowns run hours after the notable: no index-time window, nothing relative to when they run.
DRILLDOWN_FORBIDDEN = ("_index_earliest", "_index_latest", "now()", "relative_time(", "%original_detection_search%")
ACTOR_MATCH = '(src_user="$user$" OR user="$user$")'
SEVERITIES = ("informational", "low", "medium", "high", "critical")
ALERT_SEVERITY = {"informational": 2, "low": 3, "medium": 4, "high": 5, "critical": 6}
# deployment.notable: contentctl's alert_action.notable (rule_title, rule_description) and this
# add-on's additions, which contentctl 5.6.2 has no field for (next_steps, severity)
NOTABLE_KEYS = ("rule_title", "rule_description", "next_steps", "severity")
REQUIRED = ("name", "id", "version", "date", "author", "status", "type", "data_source", "description",
            "search", "how_to_implement", "known_false_positives", "references", "drilldown_searches",
            "tags", "tests", "deployment")


class BuildError(Exception):
    pass


def snake(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def one_line(text: str) -> str:
    """Conf values are single lines: collapse the YAML's line breaks and indentation."""
    return " ".join(str(text).split())


def app_version(root: Path) -> str:
    """The add-on's version: the one version string lives in globalConfig.json (meta.version)."""
    with (root / "globalConfig.json").open(encoding="utf-8") as fh:
        return json.load(fh)["meta"]["version"]


def lookup_filename(lk: dict) -> str:
    """A CSV lookup's file, package/lookups/<name>.csv (contentctl reads <name>.csv beside the YAML)."""
    return lk["name"] + ".csv"


def lookup_fields(root: Path, lk: dict) -> list:
    """A KV store lookup's declared fields, or a CSV lookup's header row."""
    if lk.get("lookup_type") == "kvstore":
        return list(lk.get("fields") or [])
    path = root / "package" / "lookups" / lookup_filename(lk)
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        return next(csv.reader(fh), [])


def stanza_name(det: dict) -> str:
    if det.get("type") == "Baseline":
        return "%s - %s" % (APP_LABEL, det["name"])
    return "%s - %s - Rule" % (APP_LABEL, det["name"])


def severity_for(score: int) -> str:
    if score <= 20:
        return "informational"
    if score <= 40:
        return "low"
    if score <= 60:
        return "medium"
    if score <= 80:
        return "high"
    return "critical"


# --------------------------------------------------------------------------- loading

def _load_dir(path: Path) -> list:
    items = []
    for f in sorted(path.glob("*.yml")):
        try:
            with f.open(encoding="utf-8") as fh:
                doc = yaml.safe_load(fh)
        except yaml.YAMLError as exc:
            raise BuildError("%s: not valid YAML: %s" % (f, str(exc).replace("\n", " ")))
        if not isinstance(doc, dict):
            raise BuildError("%s: not a YAML mapping" % f)
        doc["_file"] = f
        items.append(doc)
    return items


def load_project(root: Path = ROOT) -> dict:
    d = root / "detections"
    return {
        "root": root,
        "detections": _load_dir(d),
        "baselines": _load_dir(d / "baselines"),
        "macros": _load_dir(d / "macros"),
        "lookups": _load_dir(d / "lookups"),
        "stories": _load_dir(d / "stories"),
        "data_sources": _load_dir(d / "data_sources"),
    }


# --------------------------------------------------------------------------- SPL helpers

def split_pipeline(search: str) -> list:
    """Split a search at top-level pipes (not inside quotes, brackets or backticks)."""
    parts, buf, depth, quote, tick = [], [], 0, None, False
    i = 0
    while i < len(search):
        ch = search[i]
        if quote:
            buf.append(ch)
            if ch == "\\" and i + 1 < len(search):
                buf.append(search[i + 1])
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
            buf.append(ch)
        elif ch == "`":
            tick = not tick
            buf.append(ch)
        elif ch in "[(":
            depth += 1
            buf.append(ch)
        elif ch in "])":
            depth -= 1
            buf.append(ch)
        elif ch == "|" and depth == 0 and not tick:
            parts.append("".join(buf).strip())
            buf = []
        else:
            buf.append(ch)
        i += 1
    parts.append("".join(buf).strip())
    return [p for p in parts if p]


MACRO_RE = re.compile(r"`([A-Za-z_][\w.-]*)(?:\(([^`]*)\))?`")
LOOKUP_RE = re.compile(r"\|\s*(?:lookup|inputlookup|outputlookup)\s+(?:[a-z_]+=\S+\s+)*([\w.-]+)")
LOOKUP_KEY_RE = re.compile(r"\|\s*lookup\s+(?:[a-z_]+=\S+\s+)*([\w.-]+)\s+(\w+)(?:\s+AS\s+(\w+))?", re.I)
TOKEN_RE = re.compile(r"\$([A-Za-z_][\w.]*)\$")
TOKEN_NAME_RE = re.compile(r"^[A-Za-z_][\w.]*$")


def dollar_problems(text: str) -> list:
    """ES reads every `$` of a notable field or drilldown as a token delimiter, pairing them in order:
    the text between each pair must be a field name, and the count must be even."""
    parts = str(text).split("$")
    problems = []
    if len(parts) % 2 == 0:
        problems.append("an unpaired $ in %r" % text[:80])
    for inner in parts[1:-1:2]:
        if not TOKEN_NAME_RE.match(inner):
            problems.append("$%s$ is not a token (ES pairs every $)" % inner[:40])
    return problems


def _eval_targets(args: str) -> list:
    """Field names assigned by an eval command (`a=..., b=...` at top level)."""
    names, depth, quote, start = [], 0, None, 0
    pieces = []
    for i, ch in enumerate(args):
        if quote:
            if ch == quote:
                quote = None
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            pieces.append(args[start:i])
            start = i + 1
    pieces.append(args[start:])
    for piece in pieces:
        m = re.match(r"\s*([A-Za-z_][\w.]*)\s*=(?!=)", piece)
        if m:
            names.append(m.group(1))
    return names


def output_fields(search: str) -> set:
    """The fields a search's result rows can carry, from its last stats onwards.

    Reads the last transforming command (stats) and then follows eval, rename, lookup OUTPUT and
    fields. It is deliberately simple: it knows the commands these detections use and refuses a
    search without a stats (the result fields would then be every event field).
    """
    cmds = split_pipeline(search)
    last = None
    for i, cmd in enumerate(cmds):
        if re.match(r"stats\b", cmd):
            last = i
    if last is None:
        raise BuildError("search has no stats command, so its output fields cannot be checked")
    stats = cmds[last]
    fields = set(re.findall(r"\bas\s+([A-Za-z_][\w.]*)", stats))
    if re.search(r"\bcount\b(?!\s*\()(?!\s+as\b)", stats):
        fields.add("count")
    by = re.search(r"\bby\s+(.+)$", stats)
    if by:
        fields.update(by.group(1).split())
    for cmd in cmds[last + 1:]:
        if cmd.startswith("eval "):
            fields.update(_eval_targets(cmd[5:]))
        elif cmd.startswith("rename "):
            for old, new in re.findall(r"([\w.]+)\s+as\s+([\w.]+)", cmd[7:], flags=re.I):
                fields.discard(old)
                fields.add(new)
        elif cmd.startswith("lookup "):
            out = re.search(r"\bOUTPUT(?:NEW)?\s+(.+)$", cmd)
            if out:
                for m in re.finditer(r"([\w.]+)(?:\s+AS\s+([\w.]+))?", out.group(1), flags=re.I):
                    if m.group(1).upper() != "AS":
                        fields.add(m.group(2) or m.group(1))
        elif cmd.startswith("`%s(" % ROW_RISK_MACRO):
            fields.add("risk_score")
        elif cmd.startswith("fields "):
            rest = cmd[7:].strip()
            if rest.startswith("-"):
                for f in rest[1:].replace(",", " ").split():
                    fields.discard(f)
            else:
                fields = {f for f in rest.replace(",", " ").split()}
    return fields


def index_window_minutes(search: str):
    """(earliest, latest) minutes of `_index_earliest=-Nm@m _index_latest=-Mm@m`, if present."""
    e = re.search(r"_index_earliest=-(\d+)([mh])@m", search)
    la = re.search(r"_index_latest=-(\d+)m@m", search)
    if not (e and la):
        return None
    mult = 60 if e.group(2) == "h" else 1
    return int(e.group(1)) * mult, int(la.group(1))


def addinfo_problems(search: str) -> list:
    """info_min_time/info_max_time exist after `addinfo` until a command that builds new rows
    (stats, inputlookup append...) drops them, unless that command passes them on by name."""
    problems, alive = [], False
    for cmd in split_pipeline(search):
        if re.match(r"addinfo\b", cmd):
            alive = True
            continue
        uses = re.search(r"\binfo_m(?:in|ax)_time\b", cmd)
        if re.match(r"(stats|inputlookup|tstats|table|fields)\b", cmd):
            alive = alive and bool(uses)
            continue
        if uses and not alive:
            problems.append("%s is used in %r without a | addinfo before it (a stats or inputlookup drops "
                            "the info_* fields)" % (uses.group(0), cmd[:60]))
    return problems


def new_window_minutes(search: str):
    """The start of the 'new events' window a search compares _indextime with, in minutes (relative
    to the end of the search's time range, which addinfo gives as info_max_time)."""
    starts = set(int(x) for x in re.findall(r'relative_time\(info_max_time, "-(\d+)m@m"\)', search))
    return starts


# --------------------------------------------------------------------------- validation

def validate_project(project: dict) -> list:
    errors = []
    root = project["root"]
    macro_defs = {m["name"]: m for m in project["macros"]}
    lookup_defs = {lk["name"]: lk for lk in project["lookups"]}
    story_names = {s["name"] for s in project["stories"]}
    ids = {}

    for m in project["macros"]:
        where = m["_file"].name
        if m["_file"].stem != m.get("name"):
            errors.append("%s: file name must be the macro name" % where)
        for key in ("name", "definition", "description"):
            if not m.get(key) and m.get(key) != 0:
                errors.append("%s: missing %s" % (where, key))
    for lk in project["lookups"]:
        where = lk["_file"].name
        if not lk.get("name", "").startswith("openai_") or lk["name"].startswith("openai_audit_"):
            errors.append("%s: lookups of this add-on's detections are named openai_* (openai_audit_* "
                          "belongs to the knowledge objects)" % where)
        if lk["_file"].stem != lk.get("name"):
            errors.append("%s: file name must be the lookup name" % where)
        if lk.get("lookup_type") not in ("csv", "kvstore"):
            errors.append("%s: lookup_type must be csv or kvstore" % where)
        # contentctl derives these (<name>.csv, the CSV header, collection = name) and refuses them
        derived = ("filename", "fields", "collection") if lk.get("lookup_type") == "csv" else ("filename", "collection")
        for key in derived:
            if key in lk:
                errors.append("%s: %s is derived from the lookup's name, remove it (contentctl refuses it)" % (where, key))
        if lk.get("lookup_type") == "kvstore" and (lk.get("fields") or [""])[0] != "_key":
            errors.append("%s: a KV store lookup lists its fields, starting with _key" % where)
        if lk.get("lookup_type") == "csv":
            csv_path = root / "package" / "lookups" / lookup_filename(lk)
            if not csv_path.exists():
                errors.append("%s: package/lookups/%s is missing" % (where, lookup_filename(lk)))
        for mt in lk.get("match_type", []) or []:
            m = re.match(r"^(CIDR|WILDCARD)\((\w+)\)$", mt)
            if not m or m.group(2) not in lookup_fields(root, lk):
                errors.append("%s: bad match_type %r" % (where, mt))
        if lk.get("lookup_type") == "kvstore" and "case_sensitive_match" in lk:
            errors.append("%s: KV store lookups ignore case_sensitive_match (Splunk matches them "
                          "case-sensitively)" % where)
        if lk.get("maintained_by") not in (None, "admin"):
            errors.append("%s: maintained_by is admin or absent" % where)
        if is_admin_list(lk):
            if lk.get("lookup_type") != "csv":
                errors.append("%s: an admin list ships its defaults as package/lookups/<name>.csv "
                              "(lookup_type csv)" % where)
            if "_key" in lookup_fields(root, lk):
                errors.append("%s: an admin list's fields are its CSV columns (no _key)" % where)
            if lk["name"] + "_defaults" in lookup_defs:
                errors.append("%s: %s_defaults is the definition of its shipped defaults" % (where, lk["name"]))
        if lk.get("name") == SEEDS:
            errors.append("%s: %s is the collection that records seeded admin lists" % (where, SEEDS))

    version = app_version(root)
    for ds in project["data_sources"]:
        where = ds["_file"].name
        if ds["_file"].stem != snake(ds.get("name", "")):
            errors.append("%s: file name must be the snake-cased name" % where)
        if ds.get("sourcetype") != "openai:audit" or not str(ds.get("source", "")).startswith("openai_audit:"):
            errors.append("%s: the add-on's events are sourcetype openai:audit, source openai_audit:<account>" % where)
        tas = [ta for ta in ds.get("supported_TA") or [] if ta.get("name") == APP_LABEL]
        if [ta.get("version") for ta in tas] != [version]:
            errors.append("%s: supported_TA must list %s %s (globalConfig.json meta.version)" % (where, APP_LABEL, version))
    data_source_names = {ds.get("name") for ds in project["data_sources"]}

    all_searches = []
    for det in project["detections"] + project["baselines"]:
        where = det["_file"].name
        is_baseline = det.get("type") == "Baseline"
        required = ("name", "id", "version", "date", "author", "type", "description", "search",
                    "how_to_implement", "tags", "deployment") if is_baseline else REQUIRED
        missing = [k for k in required if k not in det or det[k] in (None, "", [])]
        # a Hunting/Correlation search without MITRE ids or risk is legitimate; the rest is required
        if missing:
            errors.append("%s: missing %s" % (where, ", ".join(missing)))
            continue
        name = det["name"]
        if len(name) > MAX_NAME:
            errors.append("%s: name is %d characters, at most %d" % (where, len(name), MAX_NAME))
        es_label = "%s - %s - Rule" % (LONGEST_DOMAIN, stanza_name(det))
        if len(es_label) > ES_MAX_STANZA:
            errors.append("%s: %r is longer than %d characters once ES clones it" % (where, es_label, ES_MAX_STANZA))
        expected_file = snake(name) + ".yml"
        if det["_file"].name != expected_file:
            errors.append("%s: file name must be %s (the snake-cased name)" % (where, expected_file))
        try:
            uid = str(uuid.UUID(str(det["id"])))
        except ValueError:
            errors.append("%s: id is not a UUID" % where)
            uid = None
        if uid in ids:
            errors.append("%s: id %s already used by %s" % (where, uid, ids[uid]))
        ids[uid] = where
        if not isinstance(det["version"], int) or det["version"] < 1:
            errors.append("%s: version must be a positive integer" % where)
        try:
            date.fromisoformat(str(det["date"]))
        except ValueError:
            errors.append("%s: date must be YYYY-MM-DD" % where)

        search = one_line(det["search"])
        all_searches.append((where, det, search))
        first = split_pipeline(search)[0]
        start_macro = "openai_audit_risk" if det.get("type") == "Correlation" else "openai_audit"
        if not first.startswith("`%s`" % start_macro):
            errors.append("%s: the search must start with the `%s` macro" % (where, start_macro))

        sched = (det.get("deployment") or {}).get("scheduling") or {}
        for key in ("cron_schedule", "earliest_time", "latest_time", "schedule_window"):
            if key not in sched:
                errors.append("%s: deployment.scheduling.%s is missing" % (where, key))
        # savedsearches.conf.spec: schedule_window = <unsigned integer> | auto; contentctl takes a string
        window_setting = sched.get("schedule_window")
        if "schedule_window" in sched and not (isinstance(window_setting, str) and re.match(r"^(\d+|auto)$", window_setting)):
            errors.append("%s: deployment.scheduling.schedule_window must be a string, minutes or 'auto' "
                          "(quote it: '5')" % where)
        cron = sched.get("cron_schedule", "")
        period = CRON_PERIOD.get(cron)
        if period is None and re.match(r"^\d{1,2} \* \* \* \*$", cron):
            period = 60
        if period is None:
            errors.append("%s: cron_schedule %r is not every 5 or 15 minutes or hourly" % (where, cron))
        # savedsearches.conf.spec, schedule_window: "must be shorter than the period of the search"
        # (minutes, or auto). https://docs.splunk.com/Documentation/Splunk/latest/Admin/Savedsearchesconf
        sw = str(sched.get("schedule_window", "")).strip()
        if sw != "auto" and not (sw.isdigit() and (period is None or int(sw) < period)):
            errors.append("%s: schedule_window %r must be auto or a number of minutes shorter than the "
                          "%s-minute period" % (where, sched.get("schedule_window"), period))
        window = index_window_minutes(search)
        starts = new_window_minutes(search)
        if period and window and not starts and window[0] - window[1] != period:
            errors.append("%s: index-time window %s does not match the %d-minute schedule" % (where, window, period))
        for start in starts:
            if period and window and start - window[1] != period:
                errors.append("%s: new-event window -%dm@m..-%dm@m does not match the %d-minute schedule"
                              % (where, start, window[1], period))
        # One time base: the run's time range. A scheduled run covers the range of its scheduled time
        # even when dispatched late, while now() is when it started (see docs/detections.md).
        if re.search(r"\b(now|time)\(\)", search):
            errors.append("%s: now() is when the search started, not its scheduled time range: use addinfo's "
                          "info_max_time" % where)
        errors += ["%s: %s" % (where, e) for e in addinfo_problems(search)]
        if "_index_latest=" not in search:
            errors.append("%s: the search must bound _indextime with _index_latest" % where)
        if period and period < 60 and not window and not starts:
            errors.append("%s: the search has no index-time window" % where)

        if is_baseline:
            if not re.search(r"\|\s*outputlookup\s+(?:[a-z_]+=\S+\s+)*openai_\w+\s*$", search):
                errors.append("%s: a baseline search ends with outputlookup of its openai_* lookup" % where)
            for key in sorted(set(det["deployment"]) - {"scheduling"}):
                errors.append("%s: deployment.%s is unknown (a baseline's deployment has scheduling only)" % (where, key))
            continue

        for ds in det.get("data_source") or []:
            if ds not in data_source_names:
                errors.append("%s: data source %r is not defined in detections/data_sources" % (where, ds))
        if det["type"] not in DETECTION_TYPES:
            errors.append("%s: type must be one of %s" % (where, DETECTION_TYPES))
        if det["status"] not in STATUSES:
            errors.append("%s: status must be one of %s" % (where, STATUSES))
        if det["type"] in RISK_TYPES and not first.startswith("`openai_audit` `%s`" % BACKFILL_MACRO):
            errors.append("%s: a TTP or Anomaly search starts with `openai_audit` `%s` (backfilled events are "
                          "not new activity)" % (where, BACKFILL_MACRO))
        filter_macro = "`%s_filter`" % snake(name)
        if not re.search(r"\|\s*%s\s*$" % re.escape(filter_macro), search):
            errors.append("%s: the search must end with | %s" % (where, filter_macro))

        tags = det["tags"]
        for key in ("analytic_story", "asset_type", "product", "security_domain"):
            if not tags.get(key):
                errors.append("%s: tags.%s is missing" % (where, key))
        for story in tags.get("analytic_story", []):
            if story not in story_names:
                errors.append("%s: analytic story %r is not defined in detections/stories" % (where, story))
        if tags.get("security_domain") not in SECURITY_DOMAINS:
            errors.append("%s: tags.security_domain must be one of %s" % (where, SECURITY_DOMAINS))
        mitre = tags.get("mitre_attack_id") or []
        if not mitre and det["type"] in ("TTP", "Anomaly"):
            errors.append("%s: TTP and Anomaly detections carry MITRE ATT&CK ids" % where)
        for tid in mitre:
            if not MITRE_RE.match(str(tid)):
                errors.append("%s: %r is not a MITRE ATT&CK technique id" % (where, tid))
        if len(set(mitre)) != len(mitre):
            errors.append("%s: a MITRE id is listed twice" % where)
        for tid in mitre:
            if "." in str(tid) and str(tid).split(".")[0] in mitre:
                errors.append("%s: %s is listed beside its own sub-technique %s"
                              % (where, str(tid).split(".")[0], tid))

        try:
            produced = output_fields(search)
        except BuildError as exc:
            errors.append("%s: %s" % (where, exc))
            produced = None
        rba = det.get("rba")
        notable = (det.get("deployment") or {}).get("notable") or {}
        if rba and produced is not None and "severity" in produced:
            base = rba.get("risk_objects", [{}])[0].get("score")
            if "`%s(%s)`" % (ROW_RISK_MACRO, base) not in search:
                errors.append("%s: rows with their own severity end with | `%s(%s)` so that an elevated row "
                              "adds more risk" % (where, ROW_RISK_MACRO, base))
        if det["type"] in RISK_TYPES:
            if not rba or not rba.get("risk_objects"):
                errors.append("%s: TTP and Anomaly detections write risk on at least one risk object" % where)
        if rba:
            if not rba.get("message"):
                errors.append("%s: rba.message is missing" % where)
            fields_used = []
            for ro in rba.get("risk_objects", []):
                if ro.get("type") not in RISK_OBJECT_TYPES:
                    errors.append("%s: risk object type %r" % (where, ro.get("type")))
                if not isinstance(ro.get("score"), int) or not 1 <= ro["score"] <= 100:
                    errors.append("%s: risk score must be an integer 1-100" % where)
                fields_used.append(ro.get("field"))
            for to in rba.get("threat_objects", []):
                if to.get("type") not in THREAT_OBJECT_TYPES:
                    errors.append("%s: threat object type %r" % (where, to.get("type")))
                fields_used.append(to.get("field"))
            fields_used += TOKEN_RE.findall(rba.get("message", ""))
            if produced is not None:
                for f in fields_used:
                    if f not in produced:
                        errors.append("%s: rba field $%s$ is not produced by the search" % (where, f))
        for key in ("rule_title", "rule_description", "next_steps"):
            if not notable.get(key):
                errors.append("%s: deployment.notable.%s is missing" % (where, key))
        # the export maps exactly these to contentctl's inline deployment (contentctl_deployment)
        for key in sorted(set(det["deployment"]) - {"scheduling", "notable"}):
            errors.append("%s: deployment.%s is unknown (deployment has scheduling and notable)" % (where, key))
        for key in sorted(set(notable) - set(NOTABLE_KEYS)):
            errors.append("%s: deployment.notable.%s is unknown (it has %s)" % (where, key, ", ".join(NOTABLE_KEYS)))
        if notable.get("severity") and notable["severity"] not in SEVERITIES:
            errors.append("%s: notable severity must be one of %s" % (where, SEVERITIES))
        if not notable.get("severity") and not rba:
            errors.append("%s: a notable without risk objects needs deployment.notable.severity" % where)
        title_tokens = TOKEN_RE.findall(notable.get("rule_title", ""))
        if rba and "user" not in title_tokens:
            errors.append("%s: the notable title must name the actor ($user$)" % where)
        dollar_texts = [("notable %s" % k, str(notable.get(k, ""))) for k in ("rule_title", "rule_description", "next_steps")]
        dollar_texts += [("rba.message", (rba or {}).get("message", ""))]
        for dd in det["drilldown_searches"]:
            dollar_texts += [("drilldown %r" % dd.get("name"), dd.get(k, "")) for k in ("name", "search", "earliest_offset", "latest_offset")]
        for what, text in dollar_texts:
            for problem in dollar_problems(text):
                errors.append("%s: %s: %s" % (where, what, problem))
        if produced is not None:
            for key in ("rule_title", "rule_description", "next_steps"):
                for f in TOKEN_RE.findall(str(notable.get(key, ""))):
                    if f not in produced:
                        errors.append("%s: notable %s token $%s$ is not produced by the search" % (where, key, f))
            for dd in det["drilldown_searches"]:
                for f in TOKEN_RE.findall(dd.get("name", "") + " " + dd.get("search", "")):
                    if f not in produced and f not in BUILTIN_TOKENS:
                        errors.append("%s: drilldown token $%s$ is not produced by the search" % (where, f))
        if len(det["drilldown_searches"]) < 2:
            errors.append("%s: at least two drilldowns" % where)
        for dd in det["drilldown_searches"]:
            for bad in DRILLDOWN_FORBIDDEN:
                if bad in dd.get("search", ""):
                    errors.append("%s: drilldown %r uses %s: it must give the same answer when run hours later"
                                  % (where, dd.get("name"), bad))
            if "$user$" in dd.get("search", "") and "datamodel Risk" not in dd["search"] and ACTOR_MATCH not in dd["search"]:
                errors.append("%s: drilldown %r must match the actor as %s (account-management events put the "
                              "account changed in user)" % (where, dd.get("name"), ACTOR_MATCH))
        throttling = tags.get("throttling")
        if throttling is not None:
            if not throttling.get("fields") or not re.match(r"^\d+[smh]$", str(throttling.get("period", ""))):
                errors.append("%s: tags.throttling needs fields and a period like 3600s" % where)
            elif produced is not None:
                for f in throttling["fields"]:
                    if f not in produced:
                        errors.append("%s: throttling field %r is not produced by the search" % (where, f))
            # Suppression keyed on the actor alone hides the actor's next, different event.
            if det["type"] != "Correlation" and throttling.get("fields") and (
                    not set(throttling["fields"]) - {"user", "src", "src_user"}
                    or ("severity" in (produced or ()) and "severity" not in throttling["fields"])):
                errors.append("%s: throttling on %s would hide a different event: throttle on the object or "
                              "event id (and severity) or not at all" % (where, throttling["fields"]))
        kinds = set()
        for test in det["tests"]:
            for data in test.get("attack_data", []):
                path = root / data.get("data", "")
                if not path.is_file():
                    errors.append("%s: test data %s is missing" % (where, data.get("data")))
                kinds.add(data.get("data", "").rsplit(".", 2)[-2] if data.get("data", "").count(".") >= 2 else "")
        if not {"tp", "fp"} <= kinds:
            errors.append("%s: tests need a true-positive (.tp.jsonl) and a near-miss (.fp.jsonl) sample set" % where)

    # macros and lookups referenced anywhere must exist
    header_macros = set(re.findall(r"^\[([^\]]+)\]", _macros_header(root), flags=re.M))
    known_macros = set(macro_defs) | header_macros | {"%s_filter" % snake(d["name"]) for d in project["detections"]}
    known_macros |= {"%s(%d)" % (m["name"], len(m.get("arguments") or [])) for m in project["macros"]
                     if m.get("arguments")}
    other_transforms = set(_other_transforms_stanzas(root))
    for where, det, search in all_searches:
        texts = [search] + [dd.get("search", "") for dd in det.get("drilldown_searches", [])]
        for text in texts:
            for m in MACRO_RE.finditer(text):
                macro, args = m.groups()
                key = macro if args is None else "%s(%d)" % (macro, len(args.split(",")))
                if key not in known_macros:
                    errors.append("%s: macro `%s` is not defined" % (where, key))
            for lookup in LOOKUP_RE.findall(text):
                if lookup not in lookup_defs and lookup not in other_transforms:
                    errors.append("%s: lookup %r is not defined" % (where, lookup))
            # a case-insensitive admin list is stored in lower case: compare a lower() field with it
            for lookup, key, field in LOOKUP_KEY_RE.findall(text):
                lk = lookup_defs.get(lookup)
                if lk and is_admin_list(lk) and lk.get("case_sensitive_match") is False \
                        and key == lookup_fields(root, lk)[0] \
                        and not re.search(r"\b%s\s*=\s*lower\(" % re.escape(field or key), text):
                    errors.append("%s: lookup %s is a KV store list kept in lower case: look it up with "
                                  "an eval'd lower() field, not %s" % (where, lookup, field or key))
    for m in project["macros"]:
        if m["name"] in {"%s_filter" % snake(d["name"]) for d in project["detections"]}:
            errors.append("%s: filter macros are generated, do not define them" % m["_file"].name)
    return errors


# --------------------------------------------------------------------------- rendering

def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def _conf_value(value) -> str:
    text = str(value)
    if "\n" in text or text.endswith("\\"):
        raise BuildError("conf value would span lines: %r" % text[:60])
    return text


def _stanza(name: str, pairs: list) -> str:
    lines = ["[%s]" % name]
    for key, value in pairs:
        lines.append("%s = %s" % (key, _conf_value(value)))
    return "\n".join(lines) + "\n"


def _mappings(det: dict) -> dict:
    out = {}
    mitre = det["tags"].get("mitre_attack_id") or []
    if mitre:
        out["mitre_attack"] = list(mitre)
    out["nist"] = ["DE.CM"] if det["type"] == "TTP" else ["DE.AE"]
    return out


def annotations(det: dict) -> dict:
    ann = {"analytic_story": list(det["tags"]["analytic_story"]), "data_source": list(det["data_source"]),
           "type": det["type"], "type_list": [det["type"]]}
    ann.update(_mappings(det))
    return dict(sorted(ann.items()))


def notable_severity(det: dict) -> str:
    notable = det["deployment"]["notable"]
    if notable.get("severity"):
        return notable["severity"]
    return severity_for(max(ro["score"] for ro in det["rba"]["risk_objects"]))


def suppression(det: dict) -> list:
    """Alert suppression (savedsearches.conf alert.suppress*; ES's notable throttling is the same keys).

    A result is suppressed when a result with the same values of alert.suppress.fields triggered within
    alert.suppress.period. Per-event and threshold searches judge each event once through their
    index-time windows, so they need none; keyed on the actor alone it would hide the actor's next,
    different event (a critical follow-up after a high)."""
    throttling = det["tags"].get("throttling")
    if not throttling:
        return [("alert.suppress", 0)]
    return [("alert.suppress", 1), ("alert.suppress.fields", ",".join(throttling["fields"])),
            ("alert.suppress.period", throttling["period"])]


def render_detection(det: dict) -> str:
    name = stanza_name(det)
    search = one_line(det["search"])
    sched = det["deployment"]["scheduling"]
    notable = det["deployment"]["notable"]
    tags = det["tags"]
    severity = notable_severity(det)
    raises_notable = det["type"] in NOTABLE_TYPES
    published = datetime.combine(date.fromisoformat(str(det["date"])), datetime.min.time(),
                                 tzinfo=timezone.utc).timestamp()
    drilldowns = [{"name": dd["name"], "search": one_line(dd["search"]),
                   "earliest_offset": dd["earliest_offset"], "latest_offset": dd["latest_offset"]}
                  for dd in det["drilldown_searches"]]
    pairs = [
        ("description", one_line(det["description"])),
        ("search", search),
    ] + schedule(sched) + [
        ("counttype", "number of events"),
        ("relation", "greater than"),
        ("quantity", 0),
        # Plain Splunk: TTPs and the data-health search raise one triggered alert per result row;
        # anomalies feed ES's risk index and are not alerts on their own.
        ("alert.track", 1 if det["type"] != "Anomaly" else 0),
        ("alert.severity", ALERT_SEVERITY[severity]),
        ("alert.digest_mode", 0),
    ] + suppression(det) + [
        # Enterprise Security: correlation search, notable (TTP and the risk correlation) and risk.
        ("action.correlationsearch.enabled", 1),
        ("action.correlationsearch.detection_type", "ebd"),
        ("action.correlationsearch.label", name),
        ("action.correlationsearch.annotations", _json(annotations(det))),
        ("action.correlationsearch.metadata", _json({
            "detection_id": str(det["id"]), "deprecated": "0", "detection_version": str(det["version"]),
            "publish_time": published})),
        # The notable fields ship for every search, so that turning a risk-only search's notable on
        # in Content Management gives it a title, drilldowns and next steps.
        ("action.notable", 1 if raises_notable else 0),
        # contentctl marks the notables of risk-threshold correlations "RBA: " (ESCU's convention)
        ("action.notable.param.rule_title", ("RBA: " if det["type"] == "Correlation" else "")
         + one_line(notable["rule_title"])),
        ("action.notable.param.rule_description", one_line(notable["rule_description"])),
        ("action.notable.param.security_domain", tags["security_domain"]),
        ("action.notable.param.severity", severity),
        ("action.notable.param.drilldown_searches", _json(drilldowns)),
        ("action.notable.param.next_steps", _json({"version": 1, "data": str(notable["next_steps"]).strip()})),
    ]
    if tags.get("throttling"):
        pairs.append(("action.notable.param.nes_fields", ",".join(tags["throttling"]["fields"])))
    rba = det.get("rba")
    if rba and det["type"] in RISK_TYPES:
        # contentctl's form, in its order: one entry per risk object with its score (sorted by field
        # and type), then one per threat object. A row that carries risk_score (rows with their own
        # severity) adds that score instead.
        risk = [{"risk_object_field": ro["field"], "risk_object_type": ro["type"], "risk_score": ro["score"]}
                for ro in sorted(rba["risk_objects"], key=lambda o: "%s%s%s" % (o["field"], o["type"], o["score"]))]
        risk += [{"threat_object_field": to["field"], "threat_object_type": to["type"]}
                 for to in sorted(rba.get("threat_objects", []), key=lambda o: o["field"] + o["type"])]
        pairs += [
            ("action.risk", 1),
            ("action.risk.param._risk", _json(risk)),
            ("action.risk.param._risk_message", one_line(rba["message"])),
            ("action.risk.param._risk_score", 0),
            ("action.risk.param.verbose", 0),
        ]
    return _stanza(name, pairs)


def is_admin_list(lk: dict) -> bool:
    return lk.get("maintained_by") == "admin"


def admin_lists(project: dict) -> list:
    return sorted((lk for lk in project["lookups"] if is_admin_list(lk)), key=lambda x: x["name"])


def admin_list_stanza(lk: dict) -> str:
    return "%s - Admin List %s" % (APP_LABEL, lk["name"])


def render_admin_list_search(lk: dict, columns: list) -> str:
    """The search that seeds an admin list once from its shipped defaults (and, for a
    case-insensitive list, lowercases its key column). Subsearches run before the main search, so
    both read the seed record as it was before this run."""
    name, key = lk["name"], columns[0]
    lower = lk.get("case_sensitive_match") is False
    not_seeded = ('[| inputlookup %s where list="%s" | stats count '
                  '| eval not_seeded=if(count=0, "true()", "false()") | return $not_seeded]' % (SEEDS, name))
    parts = ["| inputlookup %s_defaults" % name, "where " + not_seeded]
    if lower:
        parts += ["eval %s=lower(%s)" % (key, key),
                  "inputlookup append=true %s" % name,
                  # new default rows, and records an admin typed with capitals
                  "where isnull(_key) OR %s!=lower(%s)" % (key, key),
                  "eval %s=lower(%s)" % (key, key)]
    parts += ["outputlookup append=true override_if_empty=false %s" % name,
              "stats count",
              "where " + not_seeded,
              'eval list="%s", seeded_time=now()' % name,
              "fields list, seeded_time",
              "outputlookup append=true override_if_empty=false key_field=list %s" % SEEDS]
    search = " | ".join(parts)
    what = "Copies the shipped defaults of %s into its KV store collection once (first install, or the " \
           "first run after the upgrade that added the list) and records it in %s; never again after " \
           "that, so upgrades keep what admins put in the list." % (name, SEEDS)
    if lower:
        what += " Also lowercases the %s column, which the detections compare in lower case." % key
    return _stanza(admin_list_stanza(lk), [
        ("description", what),
        ("search", search),
        # Shipped enabled: the lists must exist before anyone enables a detection. Splunk recommends
        # run_on_startup for "scheduled searches that populate lookup tables" (savedsearches.conf,
        # https://docs.splunk.com/Documentation/Splunk/9.4.0/RESTREF/RESTsearch#saved.2Fsearches);
        # on a search head cluster the captain runs it on one member and the KV store replicates.
        ("disabled", 0),
        ("enableSched", 1),
        ("cron_schedule", "23 * * * *"),
        ("run_on_startup", "true"),
        ("dispatch.earliest_time", "-1m"),
        ("dispatch.latest_time", "now"),
    ])


def render_baseline(det: dict) -> str:
    sched = det["deployment"]["scheduling"]
    return _stanza(stanza_name(det), [
        ("description", one_line(det["description"])),
        ("search", one_line(det["search"])),
    ] + schedule(sched))


def schedule(sched: dict) -> list:
    """The scheduling keys every shipped search shares."""
    return [
        # Shipped off: enable after filling the lookups the search reads (docs/detections.md).
        ("disabled", 1),
        ("enableSched", 1),
        ("cron_schedule", sched["cron_schedule"]),
        ("schedule_window", sched["schedule_window"]),
        ("dispatch.earliest_time", sched["earliest_time"]),
        ("dispatch.latest_time", sched["latest_time"]),
        # Continuous scheduling: a delayed or missed run is still run for its own time range, so the
        # index-time windows of consecutive runs keep abutting.
        ("realtime_schedule", 0),
    ]


def render_savedsearches(project: dict) -> str:
    out = ["# Generated by tools/build_detections.py from detections/*.yml: edit those, then run\n"
           "# `python tools/build_detections.py`. Every search ships disabled; see docs/detections.md.\n"
           "# Enterprise Security reads the action.correlationsearch.*, action.notable.* and action.risk.*\n"
           "# keys; plain Splunk ignores them and raises throttled Triggered Alerts.\n"]
    out.append("\n### BASELINES (keep the KV store lookups the detections compare with) ###\n")
    for det in sorted(project["baselines"], key=lambda d: d["name"]):
        out.append("\n" + render_baseline(det))
    lists = admin_lists(project)
    if lists:
        out.append("\n### ADMIN LISTS (seed the KV store lists once from the shipped defaults; shipped enabled) ###\n")
        for lk in lists:
            out.append("\n" + render_admin_list_search(lk, lookup_fields(project["root"], lk)))
    out.append("\n### DETECTIONS ###\n")
    for det in sorted(project["detections"], key=lambda d: d["name"]):
        out.append("\n" + render_detection(det))
    return "".join(out)


def render_stories(project: dict) -> str:
    out = ["# Generated by tools/build_detections.py: the analytic stories and detections of this add-on\n"
           "# for Splunk Enterprise Security's use case library.\n"]
    for story in sorted(project["stories"], key=lambda s: s["name"]):
        searches = sorted(stanza_name(d) for d in project["detections"]
                          if story["name"] in d["tags"]["analytic_story"])
        out.append("\n" + _stanza("analytic_story://%s" % story["name"], [
            ("category", story["tags"]["category"][0]),
            ("last_updated", story["date"]),
            ("version", story["version"]),
            ("references", _json(story.get("references", []))),
            ("maintainers", _json([AUTHOR])),
            ("spec_version", 3),
            ("searches", _json(searches)),
            ("description", one_line(story["description"])),
            ("narrative", one_line(story["narrative"])),
        ]))
    for det in sorted(project["detections"], key=lambda d: d["name"]):
        out.append("\n" + _stanza("savedsearch://%s" % stanza_name(det), [
            ("type", "detection"),
            ("asset_type", det["tags"]["asset_type"]),
            ("confidence", "medium"),
            ("explanation", one_line(det["description"])),
            ("how_to_implement", one_line(det["how_to_implement"])),
            ("annotations", _json(_mappings(det))),
            ("known_false_positives", one_line(det["known_false_positives"])),
            ("providing_technologies", "null"),
        ]))
    return "".join(out)


def _macros_header(root: Path) -> str:
    path = root / "package" / "default" / "macros.conf"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    return text.split(BEGIN)[0].rstrip("\n") + "\n"


def render_macros(project: dict) -> str:
    blocks = []
    for m in sorted(project["macros"], key=lambda m: m["name"]):
        args = m.get("arguments") or []
        name = "%s(%d)" % (m["name"], len(args)) if args else m["name"]
        pairs = []
        if args:
            pairs.append(("args", ", ".join(args)))
        pairs += [("definition", one_line(m["definition"])), ("description", one_line(m["description"])),
                  ("iseval", 0)]
        blocks.append(_stanza(name, pairs))
    for det in sorted(project["detections"], key=lambda d: d["name"]):
        blocks.append(_stanza("%s_filter" % snake(det["name"]), [
            ("definition", "search *"),
            ("description", "Update this macro to filter out false positives of \"%s\"." % det["name"]),
            ("iseval", 0)]))
    return _macros_header(project["root"]) + "\n" + BEGIN + "\n" + "\n".join(blocks) + END + "\n"


def _strip_block(text: str) -> str:
    if BEGIN in text:
        before, _, rest = text.partition(BEGIN)
        _, _, after = rest.partition(END)
        text = before.rstrip("\n") + "\n" + after.lstrip("\n")
    return text.strip("\n")


def _other_transforms_stanzas(root: Path) -> list:
    path = root / "package" / "default" / "transforms.conf"
    text = _strip_block(path.read_text(encoding="utf-8")) if path.exists() else ""
    return re.findall(r"^\[([^\]]+)\]", text, flags=re.M)


def _with_block(path: Path, block: str, own: set) -> str:
    text = _strip_block(path.read_text(encoding="utf-8")) if path.exists() else ""
    clash = own & set(re.findall(r"^\[([^\]]+)\]", text, flags=re.M))
    if clash:
        raise BuildError("%s already defines %s outside the generated block" % (path.name, sorted(clash)))
    return (text + "\n\n" if text else "") + BEGIN + "\n" + block + END + "\n"


def render_transforms(project: dict) -> str:
    blocks = []
    own = set()
    for lk in sorted(project["lookups"], key=lambda x: x["name"]):
        pairs = []
        admin = is_admin_list(lk)
        comment = "# " + one_line(lk["description"]) + "\n"
        if admin:
            columns = lookup_fields(project["root"], lk)
            pairs += [("external_type", "kvstore"), ("collection", lk["name"]),
                      ("fields_list", ", ".join(["_key"] + columns))]
            comment += ("# Admin list: a KV store collection seeded once from %s_defaults by the saved search "
                        "\"%s\"; edit it with the Lookup Editor app (upgrades keep it).\n"
                        % (lk["name"], admin_list_stanza(lk)))
            if lk.get("case_sensitive_match") is False:
                comment += ("# KV store lookups ignore case_sensitive_match: %s is kept in lower case and "
                            "the searches compare lower() values.\n" % columns[0])
        elif lk["lookup_type"] == "csv":
            pairs.append(("filename", lookup_filename(lk)))
        else:
            pairs += [("external_type", "kvstore"), ("collection", lk["name"]),
                      ("fields_list", ", ".join(lk["fields"]))]
        if lk.get("match_type"):
            pairs.append(("match_type", ", ".join(lk["match_type"])))
        for key in ("max_matches", "min_matches"):
            if lk.get(key) is not None:
                pairs.append((key, lk[key]))
        if lk.get("case_sensitive_match") is not None and not admin:
            pairs.append(("case_sensitive_match", str(lk["case_sensitive_match"]).lower()))
        blocks.append(comment + _stanza(lk["name"], pairs))
        own.add(lk["name"])
        if admin:
            blocks.append("# The shipped defaults of the admin list %s (read once, when the list is seeded; "
                          "editing this file changes nothing afterwards).\n" % lk["name"]
                          + _stanza(lk["name"] + "_defaults", [("filename", lookup_filename(lk))]))
            own.add(lk["name"] + "_defaults")
    if admin_lists(project):
        blocks.append("# Which admin lists were seeded from their defaults, and when (_key: the list's name).\n"
                      + _stanza(SEEDS, [("external_type", "kvstore"), ("collection", SEEDS),
                                        ("fields_list", ", ".join(SEED_FIELDS))]))
        own.add(SEEDS)
    path = project["root"] / "package" / "default" / "transforms.conf"
    return _with_block(path, "\n".join(blocks), own)


def render_collections(project: dict) -> str:
    blocks = []
    own = set()
    for lk in sorted(project["lookups"], key=lambda x: x["name"]):
        if is_admin_list(lk):
            pairs = [("field.%s" % field, "string") for field in lookup_fields(project["root"], lk)]
            blocks.append("# Admin list %s (KV store, kept across upgrades): " % lk["name"]
                          + one_line(lk["description"]) + "\n" + _stanza(lk["name"], pairs))
            own.add(lk["name"])
            continue
        if lk["lookup_type"] != "kvstore":
            continue
        pairs = []
        for field in lk["fields"]:
            if field == "_key":
                continue
            pairs.append(("field.%s" % field, "number" if field.endswith("Time") or field == "limit_value" else "string"))
        blocks.append("# KV store of the lookup %s: " % lk["name"] + one_line(lk["description"]) + "\n" + _stanza(lk["name"], pairs))
        own.add(lk["name"])
    if admin_lists(project):
        blocks.append("# Which admin lists were seeded from their shipped defaults (_key: the list's name).\n"
                      + _stanza(SEEDS, [("field.list", "string"), ("field.seeded_time", "number")]))
        own.add(SEEDS)
    path = project["root"] / "package" / "default" / "collections.conf"
    return _with_block(path, "\n".join(blocks), own)


def _lookups_of(det: dict) -> list:
    return sorted(set(LOOKUP_RE.findall(one_line(det["search"]))))


ES_RESULT = {"TTP": "notable + risk", "Anomaly": "risk only", "Hunting": "alert only (no risk: no actor)",
             "Correlation": "notable (from the risk index)"}


def _suppressed_by(det: dict) -> str:
    throttling = det["tags"].get("throttling")
    if throttling:
        return "same %s within %s" % (" + ".join(throttling["fields"]), throttling["period"])
    return "none (each event judged once)"


def _admin_fills(det: dict, lookup_defs: dict) -> str:
    fills = []
    for name in _lookups_of(det):
        lk = lookup_defs.get(name)
        if lk is None:
            continue
        if lk.get("collection"):
            fills.append("baseline `%s` (enable and seed)" % name)
        else:
            fills.append("`%s`" % name)
    return ", ".join(fills) or "-"


def render_docs_table(project: dict) -> str:
    lookup_defs = {lk["name"]: lk for lk in project["lookups"]}
    rows = ["| Detection | What it catches | Type | With ES | Plain Splunk | Suppressed by | Admin must fill "
            "| MITRE ATT&CK | Schedule |",
            "|---|---|---|---|---|---|---|---|---|"]
    for det in sorted(project["detections"], key=lambda d: d["name"]):
        first_sentence = one_line(det["description"]).split(". ")[0].rstrip(".") + "."
        cron = det["deployment"]["scheduling"]["cron_schedule"]
        schedule = {"*/5 * * * *": "every 5 min", "*/15 * * * *": "every 15 min"}.get(cron, "hourly (%s)" % cron)
        rows.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            det["name"], first_sentence.replace("|", "\\|"), det["type"], ES_RESULT[det["type"]],
            {"Anomaly": "no alert (risk input)", "Correlation": "nothing (no risk index)"}.get(det["type"],
                                                                                         "triggered alert"),
            _suppressed_by(det), _admin_fills(det, lookup_defs),
            ", ".join(det["tags"].get("mitre_attack_id") or []) or "-", schedule))
    return "\n".join(rows) + "\n"


def render_docs(project: dict) -> str:
    path = project["root"] / "docs" / "detections.md"
    text = path.read_text(encoding="utf-8")
    if DOC_BEGIN not in text or DOC_END not in text:
        raise BuildError("docs/detections.md lacks the catalog markers")
    before, _, rest = text.partition(DOC_BEGIN)
    _, _, after = rest.partition(DOC_END)
    return before + DOC_BEGIN + "\n" + render_docs_table(project) + DOC_END + after


def outputs(project: dict) -> dict:
    d = project["root"] / "package" / "default"
    out = {
        d / "savedsearches.conf": render_savedsearches(project),
        d / "analyticstories.conf": render_stories(project),
        d / "macros.conf": render_macros(project),
        d / "transforms.conf": render_transforms(project),
        d / "collections.conf": render_collections(project),
    }
    docs = project["root"] / "docs" / "detections.md"
    if docs.exists():
        out[docs] = render_docs(project)
    return out


# contentctl 5.6.2 requires a drilldown holding %original_detection_search% (ES puts the detection's
# search there) of every production search but the Hunting ones (detection_abstract.py, model_post_init).
# Ours are left without it on purpose: that search's index-time window is relative to when the
# drilldown runs, so hours later it finds nothing. The export adds contentctl's usual one where
# contentctl requires it (needs_contentctl_drilldown), for validation and build only; the difference
# is listed in docs/detections.md.
CONTENTCTL_DRILLDOWN = {"name": 'View the detection results for - "$user$"',
                        "search": '%original_detection_search% | search user = "$user$"',
                        "earliest_offset": "$info_min_time$", "latest_offset": "$info_max_time$"}


def needs_contentctl_drilldown(det: dict) -> bool:
    return det["status"] == "production" and det["type"] != "Hunting"


def contentctl_deployment(det: dict) -> dict:
    """A search's `deployment` in contentctl's inline form (Deployment: scheduling, alert_action).

    Scheduling is passed as is. A search that raises a notable (NOTABLE_TYPES) gets
    alert_action.notable, whose nes_fields are the throttling fields (as render_detection writes
    them); alert_action.rba is enabled when the search writes risk (RISK_TYPES with risk objects).
    next_steps and severity have no field in contentctl 5.6.2 and are left out: they are this
    add-on's additions (docs/detections.md, "Differences from contentctl build")."""
    dep = det["deployment"]
    out = {"scheduling": dict(dep["scheduling"])}
    if det.get("type") == "Baseline":
        return out
    out["alert_action"] = {"rba": {"enabled": bool(det.get("rba")) and det["type"] in RISK_TYPES}}
    if det["type"] in NOTABLE_TYPES:
        notable = dep["notable"]
        out["alert_action"]["notable"] = {
            "rule_title": notable["rule_title"], "rule_description": notable["rule_description"],
            "nes_fields": list((det["tags"].get("throttling") or {}).get("fields", []))}
    return out


def contentctl_app(root: Path) -> dict:
    """contentctl.yml's `app`: labelled like this add-on, so contentctl names its stanzas as ours."""
    return {"title": APP_LABEL, "appid": APP_LABEL.replace("-", "_"), "version": app_version(root),
            "description": "Detections of %s, exported for contentctl" % APP_LABEL, "prefix": APP_LABEL,
            "label": APP_LABEL, "author_name": AUTHOR["name"], "author_email": AUTHOR["email"],
            "author_company": AUTHOR["company"]}


def export_contentctl(project: dict, target: Path) -> list:
    """Copy the content into a contentctl project (made by `contentctl init` in target) so that
    Splunk's own `contentctl validate` and `contentctl build` can check it.

    Every YAML is copied with all its keys, so contentctl (which refuses unknown keys) checks them;
    the only rewrites are `deployment` (contentctl_deployment), the drilldown contentctl requires
    (CONTENTCTL_DRILLDOWN, where needs_contentctl_drilldown), test data paths (contentctl wants them inside the project) and the CSV
    of each lookup, copied beside its YAML as contentctl expects. The project's contentctl.yml gets this add-on's app label and version. Returns the
    files written."""
    config = target / "contentctl.yml"
    if not config.is_file():
        raise BuildError("%s is not a contentctl project (run `contentctl init` there first)" % target)
    written = []

    def dump(doc: dict, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        clean = {k: v for k, v in doc.items() if not k.startswith("_")}
        path.write_text(yaml.safe_dump(clean, sort_keys=False, allow_unicode=True), encoding="utf-8")
        written.append(path)

    settings = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    settings["app"] = contentctl_app(project["root"])
    dump(settings, config)
    for det in project["detections"]:
        doc = copy.deepcopy(det)
        doc["deployment"] = contentctl_deployment(det)
        if needs_contentctl_drilldown(det):
            doc["drilldown_searches"] = doc["drilldown_searches"] + [CONTENTCTL_DRILLDOWN]
        for test in doc["tests"]:
            for data in test["attack_data"]:
                rel = Path("data") / Path(data["data"]).name
                (target / "data").mkdir(exist_ok=True)
                (target / rel).write_bytes((project["root"] / data["data"]).read_bytes())
                data["data"] = str(rel)
        dump(doc, target / "detections" / "cloud" / det["_file"].name)
    for base in project["baselines"]:
        doc = dict(base, deployment=contentctl_deployment(base))
        dump(doc, target / "baselines" / base["_file"].name)
    for kind in ("stories", "macros", "data_sources"):
        for item in project[kind]:
            dump(item, target / kind / item["_file"].name)
    for lk in project["lookups"]:
        # maintained_by (admin lists, kept in the KV store) is this add-on's key, unknown to contentctl
        dump({k: v for k, v in lk.items() if k != "maintained_by"}, target / "lookups" / lk["_file"].name)
    for lk in project["lookups"]:
        if lk["lookup_type"] == "csv":
            dst = target / "lookups" / lookup_filename(lk)
            dst.write_bytes((project["root"] / "package" / "lookups" / lookup_filename(lk)).read_bytes())
            written.append(dst)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="fail when generated files are out of date")
    parser.add_argument("--validate", action="store_true", help="only validate detections/")
    parser.add_argument("--export-contentctl", metavar="DIR", help="copy detections/ into a contentctl project")
    parser.add_argument("--root", default=str(ROOT), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        project = load_project(Path(args.root))
        errors = validate_project(project)
        if errors:
            for e in errors:
                print("invalid: " + e, file=sys.stderr)
            return 1
        if args.validate:
            print("%d detections, %d baselines valid" % (len(project["detections"]), len(project["baselines"])))
            return 0
        if args.export_contentctl:
            files = export_contentctl(project, Path(args.export_contentctl))
            print("wrote %d files into %s" % (len(files), args.export_contentctl))
            return 0
        files = outputs(project)
    except BuildError as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 1
    stale = []
    for path, text in files.items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != text:
            stale.append(path)
            if not args.check:
                path.write_text(text, encoding="utf-8")
    rel = [str(p.relative_to(project["root"])) for p in stale]
    if args.check:
        if stale:
            print("out of date (run python tools/build_detections.py): " + ", ".join(rel), file=sys.stderr)
            return 1
        print("generated files are up to date")
        return 0
    print("wrote " + (", ".join(rel) if rel else "nothing (all up to date)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
