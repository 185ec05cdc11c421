"""Strictness: whatever the evaluator does not implement is an error that names it."""
from __future__ import annotations

import pytest

from tools.spl import App, SplError
from tools.spl.testing import write_app

NOW = 1767225600
EVENTS = [{"_raw": "a=1", "_time": NOW - 1, "sourcetype": "kv"}]


@pytest.fixture
def app(tmp_path):
    return App.load(write_app(str(tmp_path), {"macros.conf": "[m(1)]\nargs = x\ndefinition = a=$x$\n"}))


@pytest.mark.parametrize("spl, named", [
    ("a=1 | transaction a", "transaction"),
    ("a=1 | eval x=sha512(a)", "sha512"),
    ("a=1 | stats perc95(a)", "perc95"),
    ("a=1 | stats median(a) as m partitions=2", "partitions"),
    ("a=1 | dedup a sortby -a", "sortby"),
    ("a=1 | bin _time bins=10", "bins"),
    ("a=1 | streamstats reset_before=(a=1) count", "reset_before"),
    ("a=1 | rex offset_field=o \"(?<b>.)\"", "offset_field"),
    ("a=1 | `nope`", "nope"),
    ("a=1 | `m(1,2)`", "m(2)"),
    ("a=1 | lookup nosuch a", "nosuch"),
    ("a=1 | eval x=if(a, 1, 2)", "boolean"),
    ("a=1 | where a", "boolean"),
    ('a=1 | eval x="unterminated', "unterminated"),
    ("a=1 | eval x=relative_time(now(), \"rt-1m\")", "real-time"),
    ("| stats count", "generating"),
    ("a=1 TERM(x)", "TERM"),
    ("a=1 | eval x=len(a, a)", "len"),
    ("a=1 | sort a nulls=last", "nulls=last"),
    ("a=1 | table a foo=bar", "foo=bar"),
    ("a=1 | inputlookup x.csv", "first command"),
    ("a=1 | eval {a}=1", "{a}"),
])
def test_unsupported_is_an_error_naming_it(app, spl, named):
    with pytest.raises(SplError) as e:
        app.search(spl, now=NOW, events=EVENTS)
    assert named in str(e.value)


@pytest.mark.parametrize("conf, text, named", [
    ("props.conf", "[kv]\nSEDCMD-x = s/a/b/\n", "SEDCMD-x"),
    ("props.conf", "[kv]\nTRANSFORMS-x = y\n", "TRANSFORMS-x"),
    ("props.conf", "[kv]\nKV_MODE = xml\n", "xml"),
    ("props.conf", "[kv]\nINDEXED_EXTRACTIONS = json\n", "INDEXED_EXTRACTIONS"),
    ("transforms.conf", "[t]\nfilename = t.csv\ntime_field = ts\n", "time_field"),
    ("transforms.conf", "[t]\nexternal_type = python\n", "python"),
    ("savedsearches.conf", "[s]\nsearch = a=1\nalert_condition = search count > 1\n", "alert_condition"),
    ("savedsearches.conf", "[s]\nsearch = a=1\nfoo = bar\n", "foo"),
    ("macros.conf", "[m]\ndefinition = a\nweird = 1\n", "weird"),
    ("eventtypes.conf", "[e]\nsearch = a=1 | head 1\n", "pipes"),
    ("eventtypes.conf", "[e]\nsearch = a=1\ncolour = red\n", "colour"),
    ("tags.conf", "[a=1]\nt = yes\n", "enabled or disabled"),
    ("collections.conf", "[c]\nfoo = 1\n", "foo"),
])
def test_unsupported_conf_keys_are_errors(tmp_path, conf, text, named):
    files = {conf: text}
    if conf == "transforms.conf":
        files["props.conf"] = "[openai:audit]\nLOOKUP-t = t a OUTPUT b\n"
    with pytest.raises(SplError) as e:
        app = App.load(write_app(str(tmp_path), files, {"t.csv": "a,b\n"}))
        app.search("a=1", now=NOW, events=EVENTS)
    assert named in str(e.value)


def test_accepted_savedsearch_keys_do_not_error(tmp_path):
    app = App.load(write_app(str(tmp_path), {"savedsearches.conf": """
        [s]
        search = a=1 | stats count
        cron_schedule = */5 * * * *
        schedule_window = 5
        disabled = 1
        enableSched = 1
        description = d
        counttype = number of events
        relation = greater than
        quantity = 0
        is_visible = false
        alert.track = 1
        alert.suppress = 1
        alert.suppress.fields = user
        action.notable = 1
        action.risk.param._risk = []
        dispatch.earliest_time = -20m@m
        dispatch.latest_time = -5m@m
        dispatch.index_earliest = -20m@m
        dispatch.ttl = 86400
        request.ui_dispatch_app = SplunkEnterpriseSecuritySuite
    """}))
    assert app.run_saved_search("s", now=NOW, events=EVENTS) == [{"count": "0"}]


def test_bad_conf_line_is_an_error(tmp_path):
    with pytest.raises(SplError, match="not a stanza"):
        App.load(write_app(str(tmp_path), {"props.conf": "[kv]\njust words\n"}))


def test_streamstats_time_window_refuses_results_out_of_time_order(app):
    # `sort 0 user _time` goes back in time at every new user: Splunk's time_window needs time order
    events = [{"_raw": "u=%s" % u, "_time": NOW - t, "sourcetype": "kv"}
              for u, t in (("a", 30), ("a", 20), ("b", 25), ("b", 10))]
    with pytest.raises(SplError) as e:
        app.search("u=* | sort 0 u _time | streamstats time_window=1m count by u", now=NOW, events=events)
    assert "time_window" in str(e.value) and "time order" in str(e.value)
    for order in ("_time", "-_time"):
        rows = app.search("u=* | sort 0 %s | streamstats time_window=1m count by u | table u count" % order,
                          now=NOW, events=events)
        assert len(rows) == 4
