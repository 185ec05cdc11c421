"""optimize=True computes only the search-time fields a pipeline can read (tools/spl/optimize.py
fields_read / DerivedSteps): the rows must be those of a full extraction, whatever depends on what."""
from __future__ import annotations

import pytest

from tools.spl import App
from tools.spl.app import split_top
from tools.spl.optimize import DerivedSteps, fields_read
from tools.spl.testing import write_app

NOW = 1767225600

PROPS = """
    [kv]
    KV_MODE = auto
    FIELDALIAS-who = usr AS user
    EVAL-user_upper = upper(user)
    EVAL-user = "calculated " . user
    EVAL-unread = "never read: " . usr
    LOOKUP-dept = depts who AS user_upper OUTPUT dept
"""
TRANSFORMS = """
    [depts]
    filename = depts.csv
"""
EVENTTYPES = """
    [admin_activity]
    search = usr=alice
"""
TAGS = """
    [eventtype=admin_activity]
    privileged = enabled
"""
LOOKUPS = {"depts.csv": "who,dept\nALICE,finance\nBOB,sales\n"}
EVENTS = [{"_raw": "usr=%s act=%s" % (u, a), "_time": NOW - i, "sourcetype": "kv"}
          for i, (u, a) in enumerate([("alice", "read"), ("bob", "write"), ("carol", "read"),
                                      ("alice", "write")])]


def _apps(tmp_path):
    root = write_app(str(tmp_path), {"props.conf": PROPS, "transforms.conf": TRANSFORMS,
                                     "eventtypes.conf": EVENTTYPES, "tags.conf": TAGS}, LOOKUPS)
    fast, slow = App.load(root), App.load(root, optimize=False)
    for app in (fast, slow):
        app.index_events(EVENTS)
    return fast, slow


def _steps(app, spl):
    reads = fields_read(split_top(spl, "|"))
    assert reads is not None
    return DerivedSteps(app.knowledge.plan("kv", "openai_audit:default", "localhost"), reads)


def test_a_lookup_on_a_calculated_field_on_an_alias_is_computed_alone_and_as_in_full(tmp_path):
    fast, slow = _apps(tmp_path)
    spl = "act=* | stats count by dept, user_upper"
    steps = _steps(fast, spl)
    # dept needs the lookup, which reads user_upper, an EVAL reading the alias `user` (as it was
    # before EVAL-user: calculated fields do not see each other's results)
    assert [e[0] for e in steps.evals] == ["user_upper"]
    assert [a[1] for a in steps.aliases] == ["user"]
    assert len(steps.lookups) == 1
    rows = fast.search(spl, now=NOW, all_time=True)
    assert rows == slow.search(spl, now=NOW, all_time=True)
    assert {(r["dept"], r["user_upper"], r["count"]) for r in rows} == {
        ("finance", "ALICE", "2"), ("sales", "BOB", "1")}


def test_a_calculated_field_overwriting_its_alias_source(tmp_path):
    fast, slow = _apps(tmp_path)
    spl = "act=read | table user"
    steps = _steps(fast, spl)
    assert [e[0] for e in steps.evals] == ["user"] and not steps.lookups
    rows = fast.search(spl, now=NOW, all_time=True)
    assert rows == slow.search(spl, now=NOW, all_time=True)
    assert [r["user"] for r in rows] == ["calculated alice", "calculated carol"]


def test_no_derived_field_read_runs_no_derived_step(tmp_path):
    fast, slow = _apps(tmp_path)
    spl = "usr=alice | stats count by act"
    assert _steps(fast, spl).empty
    assert fast.search(spl, now=NOW, all_time=True) == slow.search(spl, now=NOW, all_time=True)


@pytest.mark.parametrize("spl", [
    "act=* | table *",                                    # wildcard field list
    "act=* | stats values(*) as * by act",                # wildcard aggregate
    "act=* | eval x=1",                                   # events out: every field shown
    "act=* | outputlookup depts | stats count",           # writes every field before stats
    "act=* | fillnull value=0 | stats count by act",      # fills every field
    "act=* | stats count by eventtype",                   # event types read any field
    "act=* | stats count by tag",
    "tag=privileged | stats count by act",
])
def test_a_reader_of_unnamed_fields_or_of_event_types_and_tags_gets_every_field(tmp_path, spl):
    assert fields_read(split_top(spl, "|")) is None
    fast, slow = _apps(tmp_path)
    assert fast.search(spl, now=NOW, all_time=True) == slow.search(spl, now=NOW, all_time=True)
    assert fast.lookup_rows("depts") == slow.lookup_rows("depts")


def test_wildcard_table_shows_unread_calculated_fields(tmp_path):
    fast, slow = _apps(tmp_path)
    rows = fast.search("usr=carol | table *", now=NOW, all_time=True)
    assert rows == slow.search("usr=carol | table *", now=NOW, all_time=True)
    assert rows[0]["unread"] == "never read: carol"
