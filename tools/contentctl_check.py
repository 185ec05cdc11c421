"""Check detections/ with Splunk's own contentctl (5.6.2, in its virtualenv: `make contentctl-venv`).

    python tools/contentctl_check.py [--contentctl .venv-contentctl/bin/contentctl] [--workdir build/contentctl]

1. a fresh contentctl project in WORKDIR/project (`contentctl init`, its sample content removed);
2. detections/ exported into it (tools/build_detections.py's export_contentctl);
3. `contentctl validate`, then `contentctl build` (each timed; the times are printed);
4. every stanza of the savedsearches.conf that contentctl built compared key by key with ours
   (package/default/savedsearches.conf): each difference must be listed in the table "Differences
   from contentctl build" of docs/detections.md, and each listed difference must occur.

Exit 0 when all of it holds, 1 otherwise (every problem printed), 2 when contentctl is missing.
contentctl runs offline (enrichments are off in the project it initialises).
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tools import build_detections as bd  # noqa: E402
from tools.spl.conf import parse_conf_file  # noqa: E402

CONTENTCTL = ROOT / ".venv-contentctl" / "bin" / "contentctl"
WORKDIR = ROOT / "build" / "contentctl"
TABLE_BEGIN = "<!-- BEGIN contentctl differences (read by tools/contentctl_check.py) -->"
TABLE_END = "<!-- END contentctl differences -->"
# what `contentctl init` writes as sample content (the deployments/ and app_template/ it needs stay)
INIT_SAMPLES = ("detections", "stories", "macros", "lookups", "baselines", "data_sources")
# savedsearches.conf.spec types these <boolean>: 1/0 and true/false mean the same
BOOLEAN_KEYS = {"disabled", "enableSched", "is_visible", "realtime_schedule", "alert.track", "alert.suppress",
                "alert.digest_mode", "action.notable", "action.risk", "action.correlationsearch.enabled"}
BOOLEANS = {"1": True, "true": True, "0": False, "false": False}
ABSENT = "-"
EMPTY = '""'
# the classes of searches a row of the table may name (Searches column): every search, by kind, by
# detection type, and detections with or without tags.throttling (search_classes)
CLASSES = ("all", "detections", "baselines") + bd.DETECTION_TYPES + ("throttled", "unthrottled")


class CheckError(Exception):
    pass


# --------------------------------------------------------------------------- comparing

def _collapse(value):
    """Whitespace runs as one space: ours writes each value on one line, contentctl keeps the
    YAML's line breaks (as backslash-continued lines)."""
    if isinstance(value, str):
        return " ".join(value.split())
    if isinstance(value, list):
        return [_collapse(v) for v in value]
    if isinstance(value, dict):
        return {k: _collapse(v) for k, v in value.items()}
    return value


def _json_or_none(text: str):
    if not text.startswith(("{", "[")):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def normalize(key: str, value: str):
    """A setting's value in the form compared: Splunk booleans as booleans, JSON parsed (object keys
    unordered), whitespace runs collapsed."""
    if key in BOOLEAN_KEYS and value.strip().lower() in BOOLEANS:
        return BOOLEANS[value.strip().lower()]
    parsed = _json_or_none(value.strip())
    if parsed is not None:
        return _collapse(parsed)
    return _collapse(value)


def _by_name(value):
    """A JSON list of objects with distinct names (the drilldowns) as {name: object}, else None."""
    if not isinstance(value, list) or not value or not all(isinstance(v, dict) and "name" in v for v in value):
        return None
    named = {v["name"]: v for v in value}
    return named if len(named) == len(value) else None


def stanza_differences(ours: dict, theirs: dict) -> dict:
    """{setting: (our value, contentctl's value)} for every setting that differs; ABSENT stands for
    a missing setting. A JSON object present on both sides is compared per member, named
    `setting:member`; so is a JSON list of named objects (the drilldowns), per name, when the names
    both sides have come in the same order (otherwise the whole lists differ)."""
    out = {}
    for key in sorted(set(ours) | set(theirs)):
        a = normalize(key, ours[key]) if key in ours else ABSENT
        b = normalize(key, theirs[key]) if key in theirs else ABSENT
        named_a, named_b = _by_name(a), _by_name(b)
        if named_a and named_b and [n for n in named_a if n in named_b] == [n for n in named_b if n in named_a]:
            a, b = named_a, named_b
        if isinstance(a, dict) and isinstance(b, dict):
            for member in sorted(set(a) | set(b)):
                pair = (a.get(member, ABSENT), b.get(member, ABSENT))
                if pair[0] != pair[1]:
                    out["%s:%s" % (key, member)] = pair
        elif a != b:
            out[key] = (a, b)
    return out


# --------------------------------------------------------------------------- the documented table

def read_table(text: str) -> list:
    """Rows of the table between the markers: setting (a pattern), searches, ours, contentctl, why."""
    if TABLE_BEGIN not in text or TABLE_END not in text:
        raise CheckError("docs/detections.md lacks the table markers %r ... %r" % (TABLE_BEGIN, TABLE_END))
    body = text.split(TABLE_BEGIN, 1)[1].split(TABLE_END, 1)[0]
    rows = []
    for line in body.strip().splitlines()[2:]:  # header and |---| line
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5 or not all(cells):
            raise CheckError("differences table: a row needs 5 filled cells: %r" % line)
        setting, searches, ours, theirs, why = (c.strip("`") if i < 4 else c for i, c in enumerate(cells))
        rows.append({"setting": setting, "searches": searches, "ours": ours, "contentctl": theirs, "why": why})
    return rows


def _cell_matches(cell: str, setting: str, value) -> bool:
    """`-`: absent; `*`: present with any value; `""`: present and empty; otherwise that value
    (normalized like the confs')."""
    if cell == "*":
        return value != ABSENT
    if cell == ABSENT:
        return value == ABSENT
    if cell == EMPTY:
        return value == ""
    return value == normalize(setting.split(":")[0], cell)


def search_classes(project: dict) -> dict:
    """{search name: the CLASSES it belongs to}."""
    out = {b["name"]: {"all", "baselines"} for b in project["baselines"]}
    for det in project["detections"]:
        out[det["name"]] = {"all", "detections", det["type"],
                            "throttled" if det["tags"].get("throttling") else "unthrottled"}
    return out


def scope_of(searches: str, classes: dict) -> set:
    """The searches a row names: items separated by `;`, each a search's name or a class (CLASSES),
    or classes joined by `&` for the searches in all of them (`TTP & unthrottled`).
    classes: search name -> its classes, as search_classes gives them."""
    out, unknown = set(), []
    for item in (i.strip() for i in searches.split(";")):
        if item in classes:
            out.add(item)
            continue
        names = set(classes)
        for part in (p.strip() for p in item.split("&")):
            if part not in CLASSES:
                unknown.append(part)
            names &= {name for name, member in classes.items() if part in member}
        out |= names
    if unknown:
        raise CheckError("differences table names unknown searches or classes: %s (classes: %s)"
                         % (unknown, ", ".join(CLASSES)))
    return out


def our_savedsearches(project: dict) -> dict:
    """Our savedsearches.conf without the searches that seed the admin lists: those are made from
    detections/lookups/, not from a detection or baseline, so contentctl has nothing to build them from."""
    ours = parse_conf_file(str(ROOT / "package" / "default" / "savedsearches.conf"))
    for lk in bd.admin_lists(project):
        ours.pop(bd.admin_list_stanza(lk))
    return ours


def check_differences(ours: dict, theirs: dict, classes: dict, table: list) -> list:
    """Problems: a stanza on one side only, a difference no row explains, a row whose difference
    does not occur on exactly the searches it names, a row that names no search. classes: search
    name -> its classes (search_classes); ours/theirs: conf stanzas keyed by stanza name."""
    problems = []
    by_stanza = {bd.stanza_name({"name": name, "type": "Baseline" if "baselines" in member else "TTP"}): name
                 for name, member in classes.items()}
    for side, conf in (("ours", ours), ("contentctl's", theirs)):
        missing = sorted(set(by_stanza) - set(conf))
        if missing:
            problems.append("%s savedsearches.conf lacks %s" % (side, missing))
        extra = sorted(set(conf) - set(by_stanza) - {"default"})
        if extra:
            problems.append("%s savedsearches.conf has stanzas of no search in detections/: %s" % (side, extra))
    seen = {i: set() for i in range(len(table))}
    for stanza, name in sorted(by_stanza.items()):
        if stanza not in ours or stanza not in theirs:
            continue
        for setting, (a, b) in stanza_differences(ours[stanza], theirs[stanza]).items():
            rows = [i for i, row in enumerate(table) if fnmatch.fnmatchcase(setting, row["setting"])
                    and _cell_matches(row["ours"], setting, a) and _cell_matches(row["contentctl"], setting, b)]
            if not rows:
                problems.append("[%s] %s: ours %s, contentctl %s - not in the differences table"
                                % (stanza, setting, json.dumps(a), json.dumps(b)))
                continue
            scoped = [i for i in rows if name in scope_of(table[i]["searches"], classes)]
            if not scoped:
                problems.append("[%s] %s differs, but the table's row does not name this search" % (stanza, setting))
            for i in scoped:
                seen[i].add(name)
    for i, row in enumerate(table):
        expected = scope_of(row["searches"], classes)
        if not expected:
            problems.append("differences table row %r (%s) names no search" % (row["setting"], row["searches"]))
        elif seen[i] != expected:
            problems.append("differences table row %r (%s): listed for %d searches, occurs on %d (missing on %s)"
                            % (row["setting"], row["searches"], len(expected), len(seen[i]),
                               sorted(expected - seen[i])[:3]))
    return problems


# --------------------------------------------------------------------------- running contentctl

def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(contentctl: Path, args: list, cwd: Path) -> tuple:
    """Run one contentctl command; returns (wall seconds, CPU seconds)."""
    start, cpu = time.monotonic(), _cpu_of_children()
    proc = subprocess.run([str(contentctl)] + args, cwd=str(cwd), capture_output=True, text=True)
    elapsed = (time.monotonic() - start, _cpu_of_children() - cpu)
    if proc.returncode != 0:
        text = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)
        lines = [ln for ln in text.splitlines() if ln.strip() and "Progress:" not in ln]
        raise CheckError("`contentctl %s` failed (exit %d):\n%s" % (" ".join(args), proc.returncode, "\n".join(lines)))
    return elapsed


def format_times(times: dict) -> str:
    return ", ".join("%s %.1f s (CPU %.1f s)" % (step, wall, cpu) for step, (wall, cpu) in times.items())


def build_with_contentctl(contentctl: Path, workdir: Path, project: dict) -> tuple:
    """Init, export, validate and build; returns (the built savedsearches.conf, {step: (wall, CPU) seconds})."""
    target = workdir / "project"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    times = {"init": _run(contentctl, ["init"], target)}
    for sub in INIT_SAMPLES:
        shutil.rmtree(target / sub, ignore_errors=True)
    bd.export_contentctl(project, target)
    times["validate"] = _run(contentctl, ["validate"], target)
    times["build"] = _run(contentctl, ["build"], target)
    app_dir = bd.APP_LABEL.replace("-", "_")
    return target / "dist" / app_dir / "default" / "savedsearches.conf", times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contentctl", default=str(CONTENTCTL), help="the contentctl executable")
    parser.add_argument("--workdir", default=str(WORKDIR), help="where the contentctl project is made")
    args = parser.parse_args(argv)
    contentctl = Path(args.contentctl)
    if not contentctl.is_file():
        print("error: %s not found: run `make contentctl-venv` first" % contentctl, file=sys.stderr)
        return 2
    project = bd.load_project(ROOT)
    errors = bd.validate_project(project)
    if errors:
        print("\n".join("invalid: " + e for e in errors), file=sys.stderr)
        return 1
    try:
        built, times = build_with_contentctl(contentctl, Path(args.workdir), project)
        print("contentctl 5.6.2 on %d detections, %d baselines: %s" % (
            len(project["detections"]), len(project["baselines"]), format_times(times)), flush=True)
        table = read_table((ROOT / "docs" / "detections.md").read_text(encoding="utf-8"))
        problems = check_differences(our_savedsearches(project), parse_conf_file(str(built)),
                                     search_classes(project), table)
    except CheckError as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 1
    if problems:
        print("\n".join(problems), file=sys.stderr)
        print("%d difference(s) from contentctl build not as documented in docs/detections.md" % len(problems),
              file=sys.stderr)
        return 1
    print("savedsearches.conf equals contentctl build's, setting by setting, apart from the %d documented "
          "differences" % len(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
