"""Static lint of every .conf file the add-on ships, and of the references between them.

Splunk silently merges a duplicated stanza or key and silently ignores a reference to a lookup,
macro or eventtype that does not exist, so these mistakes would only show up as empty searches on a
customer's search head. Runs over package/ (the source) and, when built, output/ (with the confs
UCC generates).
"""
import csv
import json
import re
from pathlib import Path
from xml.etree import ElementTree

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE_APP = ROOT / "package"
BUILT_APP = ROOT / "output" / "TA-openai-audit"


def parse_conf(path):
    """Parse a Splunk .conf file strictly: {stanza: {key: value}}; duplicates are errors."""
    stanzas, errors = {}, []
    current = stanzas.setdefault("default", {})
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        lineno, line = i + 1, lines[i]
        # a trailing backslash continues the value on the next line
        while line.endswith("\\") and i + 1 < len(lines):
            i += 1
            line = line[:-1] + "\n" + lines[i]
        i += 1
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            name = stripped[1:-1]
            if name in stanzas and name != "default":
                errors.append("%s:%d: duplicate stanza [%s]" % (path.name, lineno, name))
            current = stanzas.setdefault(name, {})
            continue
        if "=" not in stripped:
            errors.append("%s:%d: not a stanza, key = value or comment: %r" % (path.name, lineno, stripped[:80]))
            continue
        key, value = (part.strip() for part in stripped.split("=", 1))
        if key in current:
            errors.append("%s:%d: duplicate key %r" % (path.name, lineno, key))
        current[key] = value
    return stanzas, errors


def app_dirs():
    dirs = [SOURCE_APP]
    if BUILT_APP.is_dir():
        dirs.append(BUILT_APP)
    return dirs


def load_app(app):
    confs, errors = {}, []
    for path in sorted((app / "default").glob("*.conf")):
        confs[path.stem], errs = parse_conf(path)
        errors += errs
    return confs, errors


def dashboard_searches(app):
    """Searches inside Simple XML (<query>) and Dashboard Studio (dataSources.*.options.query)."""
    for view in sorted((app / "default" / "data" / "ui" / "views").glob("*.xml")):
        tree = ElementTree.parse(view)
        for query in tree.iter("query"):
            yield view.name, query.text or ""
        for definition in tree.iter("definition"):
            doc = json.loads(definition.text)
            for name, source in doc.get("dataSources", {}).items():
                query = source.get("options", {}).get("query")
                if query:
                    yield "%s:%s" % (view.name, name), query


def searches(confs, app):
    for name, stanza in confs.get("savedsearches", {}).items():
        if "search" in stanza:
            yield "savedsearches [%s]" % name, stanza["search"]
    for name, stanza in confs.get("eventtypes", {}).items():
        if "search" in stanza:
            yield "eventtypes [%s]" % name, stanza["search"]
    for name, stanza in confs.get("macros", {}).items():
        if "definition" in stanza and stanza.get("iseval", "0") in ("0", "false"):
            yield "macros [%s]" % name, stanza["definition"]
    yield from dashboard_searches(app)


MACRO_RE = re.compile(r"`([A-Za-z_][\w.-]*)(?:\(([^`]*)\))?`")
LOOKUP_RE = re.compile(r"\|\s*(?:lookup|inputlookup|outputlookup)\s+(?:[a-z_]+=\S+\s+)*([\w.-]+)")
EVENTTYPE_RE = re.compile(r"\beventtype\s*=\s*\"?([\w.*-]+)")


def split_macro_args(args):
    depth, count = 0, 1
    for ch in args:
        depth += ch in "(["
        depth -= ch in ")]"
        count += ch == "," and depth == 0
    return count


@pytest.mark.parametrize("app", app_dirs(), ids=lambda p: p.parent.name + "/" + p.name)
def test_every_conf_parses_without_duplicates(app):
    confs, errors = load_app(app)
    assert confs, "no .conf files found in %s/default" % app
    assert errors == []


@pytest.mark.parametrize("app", app_dirs(), ids=lambda p: p.parent.name + "/" + p.name)
def test_references_resolve(app):
    confs, _ = load_app(app)
    transforms = confs.get("transforms", {})
    macros = confs.get("macros", {})
    eventtypes = confs.get("eventtypes", {})
    lookup_files = {p.name for p in (app / "lookups").glob("*.csv")}
    problems = []

    for sourcetype, stanza in confs.get("props", {}).items():
        for key, value in stanza.items():
            if key.startswith("LOOKUP-"):
                if value.split()[0] not in transforms:
                    problems.append("props [%s] %s: no transforms stanza %r" % (sourcetype, key, value.split()[0]))
            elif key.startswith("REPORT-"):
                for name in (v.strip() for v in value.split(",")):
                    if name not in transforms:
                        problems.append("props [%s] %s: no transforms stanza %r" % (sourcetype, key, name))
    for name, stanza in transforms.items():
        if "filename" in stanza and stanza["filename"] not in lookup_files:
            problems.append("transforms [%s]: lookups/%s is missing" % (name, stanza["filename"]))
        if stanza.get("external_type") == "kvstore" and stanza.get("collection") not in confs.get("collections", {}):
            problems.append("transforms [%s]: collection %r not in collections.conf" % (name, stanza.get("collection")))
    for stanza in confs.get("tags", {}):
        if stanza.startswith("eventtype="):
            if stanza.split("=", 1)[1] not in eventtypes:
                problems.append("tags [%s]: eventtype not defined" % stanza)

    for where, search in searches(confs, app):
        for m in MACRO_RE.finditer(search):
            macro, args = m.groups()
            key = macro if args is None else "%s(%d)" % (macro, split_macro_args(args))
            if key not in macros:
                problems.append("%s: macro `%s` is not defined" % (where, key))
        for lookup in LOOKUP_RE.findall(search):
            if lookup not in transforms and lookup not in lookup_files:
                problems.append("%s: lookup %r is not defined" % (where, lookup))
        for eventtype in EVENTTYPE_RE.findall(search):
            if "*" not in eventtype and eventtype not in eventtypes:
                problems.append("%s: eventtype %r is not defined" % (where, eventtype))
    assert problems == []


@pytest.mark.parametrize("app", app_dirs(), ids=lambda p: p.parent.name + "/" + p.name)
def test_lookup_files_have_a_header(app):
    for path in sorted((app / "lookups").glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as fh:
            header = next(csv.reader(fh), [])
        assert header and all(h.strip() for h in header), "%s has no header row" % path.name
        assert len(set(header)) == len(header), "%s repeats a column" % path.name


def cron_field(text, lo, hi):
    """The values one cron field (`*`, `*/n`, `a-b`, `a-b/n`, lists of those) stands for."""
    out = set()
    for part in text.split(","):
        rng, _, step = part.partition("/")
        start, end = (lo, hi) if rng == "*" else (int(rng.split("-")[0]), int(rng.split("-")[-1]))
        out.update(range(start, end + 1, int(step or 1)))
    return out


def cron_period_minutes(cron):
    """The shortest gap in minutes between two runs of a cron schedule (minute and hour fields;
    restricted day fields only make the real period longer)."""
    minute, hour = cron.split()[:2]
    times = sorted(h * 60 + m for h in cron_field(hour, 0, 23) for m in cron_field(minute, 0, 59))
    gaps = [b - a for a, b in zip(times, times[1:])] + [times[0] + 1440 - times[-1]]
    return min(gaps)


def schedule_window_problems(confs):
    # savedsearches.conf.spec: "The 'schedule_window' must be shorter than the period of the search."
    # https://docs.splunk.com/Documentation/Splunk/latest/Admin/Savedsearchesconf
    problems = []
    for name, stanza in confs.get("savedsearches", {}).items():
        window = stanza.get("schedule_window", "0")
        if window == "auto" or "cron_schedule" not in stanza:
            continue
        period = cron_period_minutes(stanza["cron_schedule"])
        if not window.isdigit() or int(window) >= period:
            problems.append("savedsearches [%s]: schedule_window = %s is not shorter than the %d-minute "
                            "period of cron_schedule %s" % (name, window, period, stanza["cron_schedule"]))
    return problems


@pytest.mark.parametrize("app", app_dirs(), ids=lambda p: p.parent.name + "/" + p.name)
def test_schedule_windows_are_shorter_than_the_period(app):
    confs, _ = load_app(app)
    assert schedule_window_problems(confs) == []


@pytest.mark.parametrize("cron, window, bad", [
    ("*/5 * * * *", "5", True), ("*/5 * * * *", "4", False), ("*/15 * * * *", "15", True),
    ("10 * * * *", "59", False), ("10 * * * *", "60", True), ("0,50 * * * *", "10", True),
    ("0 */6 * * *", "300", False), ("*/5 * * * *", "auto", False), ("*/5 * * * *", "five", True),
])
def test_linter_catches_a_schedule_window_as_long_as_the_period(cron, window, bad):
    confs = {"savedsearches": {"s": {"cron_schedule": cron, "schedule_window": window}}}
    assert bool(schedule_window_problems(confs)) is bad


def test_linter_catches_duplicates(tmp_path):
    bad = tmp_path / "props.conf"
    bad.write_text("[a]\nX = 1\nX = 2\n[a]\nnot a pair\n")
    _, errors = parse_conf(bad)
    assert len(errors) == 3, errors


def test_linter_joins_continued_lines(tmp_path):
    conf = tmp_path / "savedsearches.conf"
    conf.write_text("[s]\nsearch = a \\\n| stats count\n")
    stanzas, errors = parse_conf(conf)
    assert errors == [] and stanzas["s"]["search"] == "a \n| stats count"
