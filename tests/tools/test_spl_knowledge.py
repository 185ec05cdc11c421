"""Search-time extraction order and semantics (Knowledge Manager manual: search-time operations
sequence; props.conf FIELDALIAS/EVAL/LOOKUP; eventtypes.conf; tags.conf)."""
from __future__ import annotations

import pytest

from tools.spl import App, SplError
from tools.spl.testing import write_app

NOW = 1767225600


def make(tmp_path, props, transforms="", lookups=None, eventtypes="", tags=""):
    confs = {"props.conf": props, "transforms.conf": transforms, "eventtypes.conf": eventtypes,
             "tags.conf": tags}
    return App.load(write_app(str(tmp_path), confs, lookups))


def raw_event(raw, st="kv"):
    return {"_raw": raw, "_time": NOW, "sourcetype": st}


def test_extract_report_then_kv_then_alias_then_eval_then_lookup(tmp_path):
    app = make(tmp_path, """
        [kv]
        EXTRACT-code = code=(?<code>\\d+)
        REPORT-pair = pairs
        FIELDALIAS-a = code AS status
        EVAL-status_class = substr(status, 1, 1) . "xx"
        EVAL-from_lookup = if(isnull(label), "lookup not yet run", label)
        LOOKUP-l = labels status OUTPUT label
    """, transforms="""
        [pairs]
        REGEX = (\\w+):(\\w+)
        FORMAT = $1::$2

        [labels]
        filename = labels.csv
    """, lookups={"labels.csv": "status,label\n404,not found\n"})
    f = app.extract(raw_event("code=404 color:blue x=1"))
    assert f["code"] == "404" and f["color"] == "blue" and f["x"] == "1"
    assert f["status"] == "404"                       # alias of an extracted field
    assert f["status_class"] == "4xx"                 # EVAL sees the alias
    assert f["from_lookup"] == "lookup not yet run"   # EVAL runs before LOOKUP
    assert f["label"] == "not found"                  # LOOKUP sees the alias


def test_evals_see_fields_before_them_not_each_other(tmp_path):
    app = make(tmp_path, """
        [kv]
        EVAL-a = "new-a"
        EVAL-b = a
        EVAL-c = coalesce(b, "b was not visible")
    """)
    f = app.extract(raw_event("a=orig"))
    assert f == {**f, "a": "new-a", "b": "orig", "c": "b was not visible"}


def test_eval_null_removes_field(tmp_path):
    app = make(tmp_path, """
        [kv]
        EVAL-x = null()
    """)
    assert "x" not in app.extract(raw_event("x=1"))


def test_fieldalias_as_and_asnew(tmp_path):
    app = make(tmp_path, """
        [kv]
        FIELDALIAS-over = src AS dest_over
        FIELDALIAS-new = src ASNEW dest_new
    """)
    f = app.extract(raw_event("src=1.1.1.1 dest_over=old dest_new=keep"))
    assert f["dest_over"] == "1.1.1.1" and f["dest_new"] == "keep"
    # AS with no source value clears the alias field (the 7.2.4 behaviour); ASNEW leaves it
    f = app.extract(raw_event("dest_over=old dest_new=keep"))
    assert "dest_over" not in f and f["dest_new"] == "keep"


def test_automatic_lookup_outputnew_and_wildcard(tmp_path):
    app = make(tmp_path, """
        [openai:audit]
        KV_MODE = json
        LOOKUP-map = map type OUTPUTNEW category
    """, transforms="""
        [map]
        filename = map.csv
        match_type = WILDCARD(type)
        max_matches = 1
    """, lookups={"map.csv": "type,category\nlogin.*,auth\n*,other\n"})
    f = app.extract({"id": "a", "type": "login.failed", "effective_at": NOW})
    assert f["category"] == "auth"
    f = app.extract({"id": "a", "type": "x", "effective_at": NOW, "category": "given"})
    assert f["category"] == "given"


def test_eventtypes_on_calculated_fields_and_tags(tmp_path):
    app = make(tmp_path, """
        [kv]
        EVAL-outcome = if(code>=400, "failure", "success")
    """, eventtypes="""
        [failures]
        search = outcome=failure

        [ignored]
        search = outcome=failure
        disabled = 1
        description = kept simple
    """, tags="""
        [eventtype=failures]
        authentication = enabled
        bad = disabled

        [outcome=success]
        good = enabled
    """)
    f = app.extract(raw_event("code=401"))
    assert f["eventtype"] == "failures" and f["tag"] == "authentication"  # disabled types do not apply
    f = app.extract(raw_event("code=200"))
    assert "eventtype" not in f and f["tag"] == "good" and f["tag::outcome"] == "good"


def test_kv_mode_json_on_the_real_sourcetype_naming(tmp_path):
    app = make(tmp_path, """
        [openai:audit]
        KV_MODE = json
    """)
    f = app.extract({"id": "audit_log-1", "type": "ip_allowlist.updated", "effective_at": NOW,
                     "ip_allowlist.updated": {"id": "ipa_1", "allowed_ips": ["0.0.0.0/0", "::/0"]},
                     "actor": None})
    assert f["ip_allowlist.updated.allowed_ips{}"] == ["0.0.0.0/0", "::/0"]
    assert f["ip_allowlist.updated.id"] == "ipa_1"
    assert f["actor"] == "null"


def test_conf_continuation_and_comments(tmp_path):
    app = make(tmp_path, """
        # a comment
        [kv]
        EVAL-joined = "a" . \\
            "b"
    """)
    assert app.extract(raw_event("x=1"))["joined"] == "ab"


def test_staged_filter_gives_same_rows_as_full_extraction(tmp_path):
    # A search on a JSON field is tested before EVAL/LOOKUP run; one on a calculated field after.
    app = make(tmp_path, """
        [openai:audit]
        KV_MODE = json
        EVAL-object = "replaced"
        EVAL-kind = upper(type)
    """)
    app.index_events([{"id": str(i), "type": "t%d" % (i % 3), "object": "orig", "effective_at": NOW - i}
                      for i in range(9)])
    assert len(app.search("type=t1", now=NOW)) == 3
    assert len(app.search("type=T1 OR type=t2", now=NOW)) == 6        # no index for OR
    assert len(app.search("type IN (T0, t2) id=3", now=NOW)) == 1      # indexed, then tested
    assert app.search("type=t1", now=NOW) == app.search("type=t1", now=NOW, events=[
        {"id": str(i), "type": "t%d" % (i % 3), "object": "orig", "effective_at": NOW - i} for i in range(9)])
    assert len(app.search("kind=T1", now=NOW)) == 3
    assert app.search("object=orig", now=NOW) == []
    assert len(app.search("object=replaced type=t2", now=NOW)) == 3


def test_calculated_field_now_is_the_searchs_now(tmp_path):
    app = make(tmp_path, """
        [openai:audit]
        KV_MODE = json
        EVAL-age = now() - effective_at
    """)
    app.index_events([{"id": "1", "type": "x", "effective_at": NOW - 100}])
    assert app.search("type=x | table age", now=NOW) == [{"age": "100"}]
    assert app.search("type=x | table age", now=NOW + 50) == [{"age": "150"}]


def test_event_type_on_a_tag_is_refused(tmp_path):
    # Knowledge Manager Manual, About event types: event types are applied before tags, so their
    # searches cannot reference tags.
    for search in ("tag=lab", "tag::src=lab"):
        with pytest.raises(SplError) as e:
            make(tmp_path, "[kv]\nEVAL-x = \"1\"\n", eventtypes="[from_lab]\nsearch = %s\n" % search,
                 tags="[src=10.0.0.1]\nlab = enabled\n")
        assert "from_lab" in str(e.value) and "tags" in str(e.value)
