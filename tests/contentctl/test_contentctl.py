"""Splunk's contentctl 5.6.2 on detections/: validate, build, and our savedsearches.conf compared
with the one it builds, setting by setting (tools/contentctl_check.py).

contentctl lives in its own virtualenv, .venv-contentctl (its pins clash with the project's):
`make test` makes it first (`make contentctl-venv`); it runs offline after that.
"""
from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tools import build_detections as bd  # noqa: E402
from tools import contentctl_check as cc  # noqa: E402
from tools.spl.conf import parse_conf_file  # noqa: E402

DOCS = ROOT / "docs" / "detections.md"


@pytest.fixture(scope="module")
def contentctl():
    if not cc.CONTENTCTL.is_file():
        pytest.fail("%s is missing: run `make contentctl-venv` (make test does)" % cc.CONTENTCTL)
    return cc.CONTENTCTL


@pytest.fixture(scope="module")
def built(contentctl):
    """Run the check as `make contentctl` does; returns (its output, our conf, contentctl's conf)."""
    project = bd.load_project(ROOT)
    path, times = cc.build_with_contentctl(contentctl, cc.WORKDIR, project)
    return project, times, cc.our_savedsearches(project), \
        parse_conf_file(str(path))


def _table():
    return cc.read_table(DOCS.read_text(encoding="utf-8"))


def test_contentctl_validates_and_builds_every_search_as_ours_apart_from_the_documented_differences(built, capsys):
    project, times, ours, theirs = built
    with capsys.disabled():
        print("\ncontentctl 5.6.2: " + cc.format_times(times))
    stanzas = {bd.stanza_name(d) for d in project["detections"] + project["baselines"]}
    assert stanzas <= set(theirs)
    assert cc.check_differences(ours, theirs, cc.search_classes(project), _table()) == []


def test_an_undocumented_difference_fails(built):
    project, _, ours, theirs = built
    ours = copy.deepcopy(ours)
    stanza = bd.stanza_name(project["detections"][0])
    ours[stanza]["dispatch.earliest_time"] = "-1d"
    ours[stanza]["search"] += " | where 1=1"
    problems = cc.check_differences(ours, theirs, cc.search_classes(project), _table())
    assert len(problems) == 2
    assert all(p.startswith("[%s]" % stanza) and "not in the differences table" in p for p in problems)


def test_a_documented_difference_that_no_longer_occurs_fails(built):
    project, _, ours, theirs = built
    ours = copy.deepcopy(ours)
    for name in ours:
        ours[name].pop("action.notable.param.next_steps", None)
    problems = cc.check_differences(ours, theirs, cc.search_classes(project), _table())
    assert len(problems) == 1 and "'action.notable.param.next_steps'" in problems[0], problems
    # and on some searches only: the row names every detection
    ours = copy.deepcopy(built[2])
    ours[bd.stanza_name(project["detections"][0])].pop("action.notable.param.next_steps")
    problems = cc.check_differences(ours, theirs, cc.search_classes(project), _table())
    assert len(problems) == 1 and "listed for %d searches, occurs on %d" % (
        len(project["detections"]), len(project["detections"]) - 1) in problems[0], problems


def test_a_row_covers_only_its_values_and_searches(built):
    project, _, ours, theirs = built
    ours = copy.deepcopy(ours)
    # the row says ours is 0 and contentctl's 1: another value of ours is not covered
    stanza = bd.stanza_name(project["detections"][0])
    ours[stanza]["alert.digest_mode"] = "1"
    problems = cc.check_differences(ours, theirs, cc.search_classes(project), _table())
    assert any("'alert.digest_mode'" in p for p in problems), problems
    # rows name searches by class: a TTP's alert.track of 1 is documented, an anomaly's is not, and
    # the anomalies' row (alert.track 0) then misses that anomaly
    ours = copy.deepcopy(built[2])
    classes = cc.search_classes(project)
    anomaly = next(d for d in project["detections"] if d["type"] == "Anomaly")
    ours[bd.stanza_name(anomaly)]["alert.track"] = "1"
    problems = cc.check_differences(ours, theirs, classes, _table())
    anomalies = sum(1 for member in classes.values() if "Anomaly" in member)
    assert problems == [
        "[%s] alert.track differs, but the table's row does not name this search" % bd.stanza_name(anomaly),
        "differences table row 'alert.track' (Anomaly): listed for %d searches, occurs on %d (missing on %s)"
        % (anomalies, anomalies - 1, [anomaly["name"]])], problems


def test_a_stanza_on_one_side_only_fails(built):
    project, _, ours, theirs = built
    theirs = copy.deepcopy(theirs)
    del theirs[bd.stanza_name(project["baselines"][0])]
    problems = cc.check_differences(ours, theirs, cc.search_classes(project), _table())
    assert any("contentctl's savedsearches.conf lacks" in p for p in problems), problems


def test_contentctl_rejects_a_key_it_does_not_know(contentctl, tmp_path):
    """The YAMLs reach contentctl with their keys: one it does not know fails validation."""
    project = bd.load_project(ROOT)
    det = project["detections"][0]
    det["confidence"] = "high"
    with pytest.raises(cc.CheckError) as exc:
        cc.build_with_contentctl(contentctl, tmp_path, project)
    assert "contentctl validate" in str(exc.value) and det["_file"].name in str(exc.value)


def test_comparison_rules():
    """What Splunk reads alike compares equal: <boolean> spellings, JSON member order, whitespace.
    Drilldowns (named JSON objects) are compared per name while their order agrees."""
    a, b, c = ({"name": n, "search": "s " + n} for n in "abc")
    ours = {"disabled": "1", "action.risk.param._risk": '[{"a": 1, "b": "x  y"}]', "search": "a |\nb",
            "action.correlationsearch.annotations": '{"nist": ["DE.AE"], "type": "TTP"}', "quantity": "0",
            "action.notable.param.drilldown_searches": json.dumps([a, b])}
    theirs = {"disabled": "true", "action.risk.param._risk": '[{"b": "x y", "a": 1}]', "search": "a | b",
              "action.correlationsearch.annotations": '{"type": "TTP", "cis20": ["CIS 10"], "nist": ["DE.AE"]}',
              "quantity": "false", "is_visible": "false",
              "action.notable.param.drilldown_searches": json.dumps([a, dict(b, search="other"), c])}
    assert cc.stanza_differences(ours, theirs) == {
        "action.correlationsearch.annotations:cis20": (cc.ABSENT, ["CIS 10"]),
        "action.notable.param.drilldown_searches:b": (b, dict(b, search="other")),
        "action.notable.param.drilldown_searches:c": (cc.ABSENT, c),
        "is_visible": (cc.ABSENT, False),
        "quantity": ("0", "false"),  # not a boolean setting: compared as text
    }
    # the same drilldowns in another order differ as a whole: ES lists them in their order
    theirs["action.notable.param.drilldown_searches"] = json.dumps([b, a])
    assert cc.stanza_differences(ours, theirs)["action.notable.param.drilldown_searches"] == ([a, b], [b, a])


def _conf_table(*rows):
    return cc.read_table("%s\n| a | b | c | d | e |\n|---|---|---|---|---|\n%s\n%s\n"
                         % (cc.TABLE_BEGIN, "\n".join(rows), cc.TABLE_END))


def test_the_searches_a_row_names_by_class_and_name():
    """Searches: a class (all, detections, baselines, a detection type, throttled, unthrottled),
    classes joined by `&` (in all of them) or a search's name; `;` adds items up. Each row must
    occur on exactly the searches it names."""
    project = {"baselines": [{"name": "B1"}], "detections": [
        {"name": name, "type": kind, "tags": {"throttling": {"fields": ["user"]}} if name == "T3" else {}}
        for name, kind in (("T1", "TTP"), ("T2", "TTP"), ("T3", "TTP"), ("A1", "Anomaly"), ("H1", "Hunting"),
                           ("C1", "Correlation"))]}
    classes = cc.search_classes(project)
    assert cc.scope_of("all", classes) == set(classes)
    assert cc.scope_of("detections", classes) == set(classes) - {"B1"}
    assert cc.scope_of("baselines", classes) == {"B1"}
    assert cc.scope_of("TTP", classes) == {"T1", "T2", "T3"}
    assert cc.scope_of("throttled", classes) == {"T3"}
    assert cc.scope_of("TTP & unthrottled", classes) == {"T1", "T2"}
    assert cc.scope_of("Anomaly; Hunting", classes) == {"A1", "H1"}
    assert cc.scope_of("Correlation;B1", classes) == {"C1", "B1"}
    for wrong in ("ttp", "TTP & x"):
        with pytest.raises(cc.CheckError, match="unknown searches or classes: \\['%s'\\]" % wrong.split(" & ")[-1]):
            cc.scope_of(wrong, classes)

    searches = project["detections"] + [dict(b, type="Baseline") for b in project["baselines"]]
    stanza = {search["name"]: bd.stanza_name(search) for search in searches}
    ours = {stanza[name]: {"alert.track": "1" if member & {"TTP", "Hunting"} else "0"} for name, member in classes.items()}
    theirs = {stanza[name]: {"alert.track": "0", "action.notable.param.nes_fields": ""}
              for name, member in classes.items() if {"TTP", "unthrottled"} <= member}
    theirs.update({stanza[name]: {"alert.track": "0"} for name in classes if stanza[name] not in theirs})
    rows = ("| `alert.track` | TTP; H1 | `1` | `0` | why |",
            '| `action.notable.param.nes_fields` | TTP & unthrottled | `-` | `""` | why |')
    assert cc.check_differences(ours, theirs, classes, _conf_table(*rows)) == []
    # a class misses a search of it that lacks the difference, a search outside it is not covered,
    # `""` is the empty value only, and a row naming a class without searches fails
    ours[stanza["T2"]]["alert.track"] = "0"
    ours[stanza["A1"]]["alert.track"] = "1"
    theirs[stanza["T1"]]["action.notable.param.nes_fields"] = "user"
    del ours[stanza["C1"]], theirs[stanza["C1"]], classes["C1"]
    assert cc.check_differences(ours, theirs, classes, _conf_table(*rows, "| `x` | Correlation | `-` | `*` | why |")) == [
        "[%s] alert.track differs, but the table's row does not name this search" % stanza["A1"],
        '[%s] action.notable.param.nes_fields: ours "-", contentctl "user" - not in the differences table' % stanza["T1"],
        "differences table row 'alert.track' (TTP; H1): listed for 4 searches, occurs on 3 (missing on ['T2'])",
        "differences table row 'action.notable.param.nes_fields' (TTP & unthrottled): listed for 2 searches, "
        "occurs on 1 (missing on ['T1'])",
        "differences table row 'x' (Correlation) names no search"]


@pytest.mark.parametrize("row,message", [
    ("| `x` | all | `-` |", "5 filled cells"),
    ("| `x` | all | `-` | `*` | |", "5 filled cells"),
])
def test_a_malformed_table_row_is_refused(row, message):
    text = "%s\n| a | b | c | d | e |\n|---|---|---|---|---|\n%s\n%s\n" % (cc.TABLE_BEGIN, row, cc.TABLE_END)
    with pytest.raises(cc.CheckError, match=message):
        cc.read_table(text)
    with pytest.raises(cc.CheckError, match="lacks the table markers"):
        cc.read_table("no table")
