"""Documented Splunk behaviours the evaluator must reproduce (search reference / knowledge manager
manual examples), each with the output Splunk documents for it."""
from __future__ import annotations

import json

import pytest

from tools.spl import App, SplError
from tools.spl.testing import write_app

NOW = 1767225600  # 2026-01-01T00:00:00Z


def ev(raw, t=NOW - 60, **extra):
    d = {"_raw": raw, "_time": t, "sourcetype": "kv"}
    d.update(extra)
    return d


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("app"))
    write_app(root, {
        "props.conf": """
            [openai:audit]
            KV_MODE = json
        """,
        "transforms.conf": """
            [corp_cidrs]
            filename = corp_cidrs.csv
            match_type = CIDR(cidr)

            [type_map]
            filename = type_map.csv
            match_type = WILDCARD(type)
            max_matches = 1

            [type_map_all]
            filename = type_map.csv
            match_type = WILDCARD(type)

            [users_ci]
            filename = users.csv
            case_sensitive_match = false

            [users_default]
            filename = users.csv
            min_matches = 1
            default_match = nobody

            [seen]
            external_type = kvstore
            collection = seen_coll
            fields_list = _key, user, country
        """,
        "collections.conf": """
            [seen_coll]
            field.user = string
            field.country = string
        """,
        "macros.conf": """
            [base]
            definition = sourcetype=kv

            [status_is(1)]
            args = code
            definition = status=$code$

            [between(2)]
            args = lo, hi
            definition = where bytes>=$lo$ AND bytes<=$hi$

            [nested]
            definition = `base` `status_is(404)`

            [evaled(1)]
            args = n
            iseval = 1
            definition = "head " . tostring($n$ * 2)
        """,
        "eventtypes.conf": """
            [web_error]
            search = sourcetype=kv status>=400

            [web_not_found]
            search = eventtype=web_error status=404
        """,
        "tags.conf": """
            [eventtype=web_error]
            error = enabled

            [eventtype=web_not_found]
            missing = enabled
            error = enabled

            [status=500]
            server = enabled
        """,
    }, lookups={
        "corp_cidrs.csv": "cidr,zone\n#example 203.0.113.0/24,doc\n10.0.0.0/8,corp\n192.168.1.0/24,lab\n10.1.0.0/16,corp-core\n",
        "type_map.csv": "type,model\nlogin.failed,Authentication\nlogin.*,Authentication-family\n*,Change\n",
        "users.csv": "user,dept\nAlice,eng\nbob,ops\n",
    })
    return App.load(root)


WEB = [
    ev("status=404 user=alice bytes=1000 src=10.1.2.3 msg=ERROR", NOW - 10),
    ev("status=403 user=ALICE bytes=200 src=192.168.1.7", NOW - 20),
    ev("status=500 user=bob bytes=50 src=8.8.8.8", NOW - 30),
    ev("status=200 bytes=999", NOW - 40),
]


def q(app, spl, events=WEB, **kw):
    kw.setdefault("now", NOW)
    return app.search(spl, events=events, **kw)


def col(rows, field):
    return [r.get(field) for r in rows]


# ---------------------------------------------------------------- search command

def test_search_wildcards_and_case_insensitive_values(app):
    # "field values are case-insensitive" and "*" is a wildcard in search
    assert col(q(app, "status=40*"), "status") == ["404", "403"]
    assert col(q(app, "user=ALICE"), "user") == ["alice", "ALICE"]
    assert col(q(app, "user=Al*"), "user") == ["alice", "ALICE"]


def test_search_field_names_are_case_sensitive(app):
    assert q(app, "Status=404") == []


def test_search_or_binds_before_and(app):
    # search evaluates OR before AND: a AND (b OR c)
    rows = q(app, "user=alice status=500 OR status=404")
    assert col(rows, "status") == ["404"]
    rows = q(app, "(user=alice status=500) OR status=500")
    assert col(rows, "status") == ["500"]


def test_not_versus_not_equal(app):
    # "!=" only returns events that have the field; NOT also returns events without it
    assert col(q(app, "user!=bob"), "status") == ["404", "403"]
    assert col(q(app, "NOT user=bob"), "status") == ["404", "403", "200"]


def test_in_and_numeric_comparison_and_cidr(app):
    assert col(q(app, "status IN (404, 5*)"), "status") == ["404", "500"]
    # numeric comparison, not lexicographic ("1000" > "200")
    assert col(q(app, "bytes>300"), "bytes") == ["1000", "999"]
    # search matches an IP field against a CIDR value
    assert col(q(app, "src=10.0.0.0/8"), "src") == ["10.1.2.3"]


def test_bare_terms_match_raw_text_case_insensitively(app):
    assert col(q(app, "error"), "status") == ["404"]
    assert col(q(app, "err*"), "status") == ["404"]
    assert q(app, "erro") == []  # terms match whole segments


def test_multivalue_field_matches_when_any_value_matches(app):
    e = [{"_raw": json.dumps({"ips": ["1.2.3.4", "0.0.0.0/0"]}), "_time": NOW - 1}]
    assert len(q(app, 'ips{}="0.0.0.0/0"', events=e)) == 1
    assert len(q(app, 'ips{}="1.2.3.4"', events=e)) == 1
    assert len(q(app, 'ips{}="5.6.7.8"', events=e)) == 0
    rows = q(app, '* | where \'ips{}\'="1.2.3.4" | eval n=mvcount(\'ips{}\') | table n', events=e)
    assert rows == [{"n": "2"}]


# ---------------------------------------------------------------- eval and where

def test_eval_operator_precedence(app):
    rows = q(app, '| makeresults | eval a=1+2*3, b=(1+2)*3, c="x"."y".1, d=10/4, e=7%3, f=-2*3')
    assert {k: rows[0][k] for k in "abcdef"} == {"a": "7", "b": "9", "c": "xy1", "d": "2.5", "e": "1", "f": "-6"}


def test_where_evaluates_and_before_or(app):
    # eval/where: AND before OR, so this is status=404 OR (status=500 AND user=alice)
    rows = q(app, 'status=* | where status=404 OR status=500 AND user="alice"')
    assert col(rows, "status") == ["404"]


def test_eval_comparisons_are_case_sensitive(app):
    assert col(q(app, 'status=* | where user="alice"'), "status") == ["404"]
    assert col(q(app, 'status=* | where lower(user)="alice"'), "status") == ["404", "403"]


def test_null_handling(app):
    rows = q(app, 'status=* | eval z=nothere+1, c=coalesce(user, "none"), n=if(isnull(user), "null", "set") '
                  '| table status z c n')
    assert rows[-1] == {"status": "200", "c": "none", "n": "null"}
    # a comparison with null is not true, whatever the operator
    assert q(app, "status=200 | where user!=\"x\"") == []
    assert q(app, "status=200 | where NOT user=\"x\"") == []


def test_multivalue_eval_functions(app):
    rows = q(app, '| makeresults | eval m=split("a,b,c,b", ","), n=mvcount(m), last=mvindex(m,-1), '
                  'mid=mvindex(m,1,2), j=mvjoin(m,";"), d=mvdedup(m), f=mvfilter(m!="b"), '
                  'pos=mvfind(m, "^c"), app=mvappend("x", m, null()), mm=mvmap(m, m."!")')
    r = rows[0]
    assert r["m"] == ["a", "b", "c", "b"]
    assert r["n"] == "4" and r["last"] == "b" and r["mid"] == ["b", "c"]
    assert r["j"] == "a;b;c;b" and r["d"] == ["a", "b", "c"] and r["f"] == ["a", "c"]
    assert r["pos"] == "2" and r["app"] == ["x", "a", "b", "c", "b"]
    assert r["mm"] == ["a!", "b!", "c!", "b!"]


def test_string_and_number_functions(app):
    rows = q(app, '| makeresults | eval a=round(2.5), b=round(3.14159,2), c=tonumber("0A4",16), '
                  'd=tostring(615,"duration"), e=tostring(12345.6789,"commas"), f=substr("splunk",2,3), '
                  'g=replace("2026-01-02","(\\d+)-(\\d+)-(\\d+)","\\3/\\2/\\1"), h=len("abc"), '
                  'i=if(like("hello","he%"),"y","n"), j=if(like("Hello","he%"),"y","n"), '
                  'k=if(match("abc123","\\d+$"),"y","n"), l=upper("x"), m=floor(-1.5), n=ceil(1.2), '
                  'o=abs(-3), p=pow(2,10), q=sqrt(16), r=if(cidrmatch("192.0.2.0/24","192.0.2.9"),"in","out"), '
                  's=max(3, 10, 2), t=min("b", "a"), u=case(1>2,"x",1<2,"y"), v=if(in("b","a","b"),"y","n")')
    r = rows[0]
    assert (r["a"], r["b"], r["c"], r["d"], r["e"]) == ("3", "3.14", "164", "00:10:15", "12,345.68")
    assert (r["f"], r["g"], r["h"], r["i"], r["j"], r["k"]) == ("plu", "02/01/2026", "3", "y", "n", "y")
    assert (r["l"], r["m"], r["n"], r["o"], r["p"], r["q"]) == ("X", "-2", "2", "3", "1024", "4")
    assert (r["r"], r["s"], r["t"], r["u"], r["v"]) == ("in", "10", "a", "y", "y")


def test_time_functions_in_utc(app):
    rows = q(app, '| makeresults | eval a=relative_time(now(), "-1d@d"), b=strftime(1767225600, "%Y-%m-%dT%H:%M:%S%z"), '
                  'c=strptime("2026-01-01 00:00:10", "%Y-%m-%d %H:%M:%S"), d=relative_time(1767225600, "@w1"), '
                  'e=relative_time(1767229199, "-15m@m")', now=NOW + 3 * 3600)
    r = rows[0]
    assert r["a"] == str(NOW - 86400)
    assert r["b"] == "2026-01-01T00:00:00+0000"
    assert r["c"] == str(NOW + 10)
    assert r["d"] == str(NOW - 3 * 86400)  # 2026-01-01 is a Thursday; @w1 snaps to Monday
    assert r["e"] == str(NOW + 3600 - 60 * 16)


def test_eval_cannot_store_a_boolean(app):
    with pytest.raises(SplError, match="boolean"):
        q(app, "| makeresults | eval x=1==1")


def test_json_extract(app):
    rows = q(app, '| makeresults | eval j="{\\"a\\":{\\"b\\":[1,{\\"c\\":\\"x\\"}]}}", '
                  'x=json_extract(j, "a.b{1}.c"), y=json_extract(j, "a.b{0}"), z=json_extract(j, "nope")')
    assert rows[0]["x"] == "x" and rows[0]["y"] == "1" and "z" not in rows[0]


# ---------------------------------------------------------------- stats family

STATS_EVENTS = [
    ev("user=a src=1 n=5", NOW - 10), ev("user=a src=2 n=7", NOW - 20), ev("user=b src=1 n=x", NOW - 30),
    ev("src=3 n=1", NOW - 40),
]


def test_stats_by_drops_rows_with_null_by_field(app):
    rows = q(app, "src=* | stats count by user", events=STATS_EVENTS)
    assert rows == [{"user": "a", "count": "2"}, {"user": "b", "count": "1"}]


def test_stats_functions(app):
    rows = q(app, "src=* | stats count, count(user) as cu, dc(src) as dsrc, values(src) as vs, list(src) as ls, "
                  "sum(n) as s, avg(n) as a, min(n) as mn, max(n) as mx, earliest(src) as e, latest(src) as l, "
                  "first(src) as f, last(src) as la, count(eval(user=\"a\")) as big", events=STATS_EVENTS)
    assert rows == [{"count": "4", "cu": "3", "dsrc": "3", "vs": ["1", "2", "3"], "ls": ["1", "2", "1", "3"],
                     "s": "13", "a": "4.333333333333333", "mn": "1", "mx": "7", "e": "3", "l": "1",
                     "f": "1", "la": "3", "big": "2"}]


def test_stats_values_sort_lexicographically(app):
    e = [ev("v=10"), ev("v=9"), ev("v=100")]
    assert q(app, "v=* | stats values(v) as v", events=e) == [{"v": ["10", "100", "9"]}]


def test_stats_multivalue_by_field_counts_each_value(app):
    e = [{"_raw": json.dumps({"tags": ["x", "y"]}), "_time": NOW - 1},
         {"_raw": json.dumps({"tags": ["y"]}), "_time": NOW - 2}]
    assert q(app, "* | stats count by tags{}", events=e) == [{"tags{}": "x", "count": "1"}, {"tags{}": "y", "count": "2"}]


def test_stats_on_no_events(app):
    assert q(app, "nomatch=1 | stats count, dc(x) as d") == [{"count": "0", "d": "0"}]
    assert q(app, "nomatch=1 | stats count by user") == []


def test_stats_eval_requires_rename(app):
    with pytest.raises(SplError, match="AS"):
        q(app, "* | stats count(eval(n>1))")


def test_eventstats_and_streamstats(app):
    rows = q(app, "src=* | eventstats count as per_user by user | table user per_user", events=STATS_EVENTS)
    assert col(rows, "per_user") == ["2", "2", "1", None]
    rows = q(app, "src=* | sort 0 _time | streamstats count as c current=f by user | table user c",
             events=STATS_EVENTS)
    assert col(rows, "c") == [None, "0", "0", "1"]
    rows = q(app, "src=* | sort 0 _time | streamstats window=2 sum(n) as s | table s", events=STATS_EVENTS)
    assert col(rows, "s") == ["1", "1", "7", "12"]


def test_bin_time_span(app):
    e = [ev("x=1", NOW + 59), ev("x=2", NOW + 3599), ev("x=3", NOW + 3600)]
    rows = q(app, "x=* | bin _time span=1h | stats count by _time", events=e, now=NOW + 7200)
    assert rows == [{"_time": str(NOW), "count": "2"}, {"_time": str(NOW + 3600), "count": "1"}]


def test_sort_dedup_head_fillnull_rename_mvexpand(app):
    rows = q(app, "status=* | sort 0 -bytes | head 2 | table status bytes")
    assert col(rows, "status") == ["404", "200"]
    rows = q(app, "status=* | eval k=lower(user) | dedup k | table k")
    assert col(rows, "k") == ["alice", "bob"]
    rows = q(app, "status=* | fillnull value=NA user | rename user AS who | table who")
    assert col(rows, "who") == ["alice", "ALICE", "bob", "NA"]
    rows = q(app, '| makeresults | eval m=split("a b", " ") | mvexpand m | table m')
    assert rows == [{"m": "a"}, {"m": "b"}]
    rows = q(app, "status=* | rename s* AS x* | table xtatus xrc")
    assert rows[0] == {"xtatus": "404", "xrc": "10.1.2.3"}


def test_rex_named_groups(app):
    rows = q(app, 'status=404 | rex field=src "^(?<o1>\\d+)\\.(?<o2>\\d+)" | table o1 o2')
    assert rows == [{"o1": "10", "o2": "1"}]
    rows = q(app, '| makeresults | eval s="a1b22c333" | rex field=s max_match=0 "(?<d>\\d+)" | table d')
    assert rows == [{"d": ["1", "22", "333"]}]


# ---------------------------------------------------------------- lookups

def test_cidr_lookup(app):
    rows = q(app, "status=* | lookup corp_cidrs cidr AS src OUTPUT zone | table src zone")
    # every matching row gives a value (max_matches defaults to 1000), in file order
    assert rows == [{"src": "10.1.2.3", "zone": ["corp", "corp-core"]}, {"src": "192.168.1.7", "zone": "lab"},
                    {"src": "8.8.8.8"}, {}]


def test_wildcard_lookup_first_match_and_all_matches(app):
    e = [{"_raw": json.dumps({"type": t}), "_time": NOW - i} for i, t in enumerate(["login.failed", "login.ok", "x.y"])]
    rows = q(app, "* | lookup type_map type OUTPUT model | table type model", events=e)
    assert col(rows, "model") == ["Authentication", "Authentication-family", "Change"]
    rows = q(app, "* | lookup type_map_all type OUTPUT model | table model", events=e)
    assert col(rows, "model") == [["Authentication", "Authentication-family", "Change"],
                                  ["Authentication-family", "Change"], "Change"]


def test_lookup_case_sensitivity_and_defaults(app):
    e = [ev("user=alice dept=old", NOW - 1), ev("user=BOB", NOW - 2), ev("user=carol dept=keep", NOW - 3)]
    rows = q(app, "user=* | lookup users_ci user OUTPUT dept | table user dept", events=e)
    # OUTPUT overwrites; with no match the output field is cleared
    assert col(rows, "dept") == ["eng", "ops", None]
    rows = q(app, "user=* | lookup users_ci user OUTPUTNEW dept | table user dept", events=e)
    assert col(rows, "dept") == ["old", "ops", "keep"]
    rows = q(app, "user=* | lookup users_default user | table user dept", events=e)
    # case-sensitive by default; below min_matches the default_match fills in
    assert col(rows, "dept") == ["nobody", "nobody", "nobody"]


def test_hash_rows_in_lookup_csv_are_ordinary_rows(app):
    rows = q(app, "| inputlookup corp_cidrs where zone=doc")
    assert rows == [{"cidr": "#example 203.0.113.0/24", "zone": "doc"}]
    assert len(q(app, "| inputlookup corp_cidrs.csv")) == 4


def test_kvstore_lookup_outputlookup_roundtrip(app):
    q(app, '| makeresults | eval user="a", country="US" | table user country | outputlookup seen')
    q(app, '| makeresults | eval user="b", country="DE" | table user country | outputlookup append=true seen')
    rows = q(app, "| inputlookup seen | table user country")
    assert rows == [{"user": "a", "country": "US"}, {"user": "b", "country": "DE"}]
    assert all("_key" in r for r in app.lookup_rows("seen"))
    rows = q(app, "user=* | lookup seen user OUTPUT country | table user country",
             events=[ev("user=b", NOW - 1), ev("user=z", NOW - 2)])
    assert rows == [{"user": "b", "country": "DE"}, {"user": "z"}]
    q(app, '| makeresults | eval user="c", country="FR" | table user country | outputlookup seen')
    assert [r["user"] for r in app.lookup_rows("seen")] == ["c"]


# ---------------------------------------------------------------- macros, subsearches, eventtypes

def test_macro_arguments(app):
    assert col(q(app, "`base` `status_is(404)`"), "status") == ["404"]
    assert col(q(app, "`nested`"), "status") == ["404"]
    assert col(q(app, "`base` | `between(100, 999)`"), "bytes") == ["200", "999"]
    assert len(q(app, "`base` | `evaled(1)`")) == 2


def test_subsearch_return_and_format(app):
    rows = q(app, "status=* [search status=500 | return user] | table status")
    assert col(rows, "status") == ["500"]
    rows = q(app, "status=* [search status=40* | fields user | dedup user] | table status")
    assert col(rows, "status") == ["404", "403"]
    rows = q(app, "status=40* | table status user | format")
    assert rows == [{"search": '( ( status="404" AND user="alice" ) OR ( status="403" AND user="ALICE" ) )'}]
    rows = q(app, "status=40* | return 2 user")
    assert rows == [{"search": '(user="alice") OR (user="ALICE")'}]
    rows = q(app, "status=404 | return $user")
    assert rows == [{"search": "alice"}]
    # an empty subsearch becomes NOT (), which matches nothing
    assert q(app, "status=* [search status=999 | fields user]") == []


def test_eventtypes_and_tags(app):
    rows = q(app, "eventtype=web_error | table status eventtype tag tag::eventtype")
    assert rows == [
        {"status": "404", "eventtype": ["web_error", "web_not_found"], "tag": ["error", "missing"],
         "tag::eventtype": ["error", "missing"]},
        {"status": "403", "eventtype": "web_error", "tag": "error", "tag::eventtype": "error"},
        {"status": "500", "eventtype": "web_error", "tag": ["error", "server"], "tag::eventtype": "error"},
    ]
    assert col(q(app, "tag=server"), "status") == ["500"]


# ---------------------------------------------------------------- JSON events

def test_kv_mode_json_naming(app):
    log = {"id": "audit_log-1", "type": "role.updated", "effective_at": NOW - 5,
           "role.updated": {"id": "r1", "changes_requested": {"permissions_added": ["a.read", "b.write"]}},
           "actor": {"type": "session", "session": {"ip_address": "10.0.0.1"}},
           "list": [{"k": 1}, {"k": 2, "z": True}], "nested": [[1, 2], [3]], "none": None}
    f = app.extract(log)
    assert f["role.updated.changes_requested.permissions_added{}"] == ["a.read", "b.write"]
    assert f["role.updated.id"] == "r1"
    assert f["actor.session.ip_address"] == "10.0.0.1"
    assert f["list{}.k"] == ["1", "2"] and f["list{}.z"] == "true"
    assert f["nested{}{}"] == ["1", "2", "3"]
    assert f["effective_at"] == str(NOW - 5)
    assert f["_time"] == NOW - 5 and f["sourcetype"] == "openai:audit"


# ---------------------------------------------------------------- time ranges

def test_time_modifiers_and_index_time(app):
    e = [ev("x=late", NOW - 7200, _indextime=NOW - 60), ev("x=fresh", NOW - 120, _indextime=NOW - 100),
         ev("x=old", NOW - 7200, _indextime=NOW - 7100)]
    assert col(q(app, "x=* earliest=-1h", events=e), "x") == ["fresh"]
    assert col(q(app, "x=* _index_earliest=-5m", events=e), "x") == ["fresh", "late"]
    assert col(q(app, "x=* _index_earliest=-5m _index_latest=-90s", events=e), "x") == ["fresh"]
    assert col(q(app, "x=*", events=e, earliest="-3h", latest="-1h"), "x") == ["late", "old"]
    # a modifier in the search replaces the dispatch bound
    assert col(q(app, "x=* earliest=-5m", events=e, earliest="-3h"), "x") == ["fresh"]


# ---------------------------------------------------------------- more documented details

def test_sort_puts_numbers_before_strings_and_sort_limit(app):
    e = [ev("v=b"), ev("v=10"), ev("v=9"), ev("v=A")]
    assert col(q(app, "v=* | sort v", events=e), "v") == ["9", "10", "A", "b"]
    assert col(q(app, "v=* | sort - v", events=e), "v") == ["b", "A", "10", "9"]
    assert col(q(app, "v=* | sort 2 str(v)", events=e), "v") == ["10", "9"]


def test_dedup_keepempty_and_consecutive(app):
    e = [ev("k=a", NOW - 1), ev("k=a", NOW - 2), ev("x=1", NOW - 3), ev("k=b", NOW - 4), ev("k=a", NOW - 5)]
    assert col(q(app, "* | dedup k", events=e), "k") == ["a", "b"]
    assert col(q(app, "* | dedup k keepempty=true", events=e), "k") == ["a", None, "b"]
    assert col(q(app, "* | dedup k consecutive=true", events=e), "k") == ["a", "b", "a"]
    assert col(q(app, "* | dedup 2 k", events=e), "k") == ["a", "a", "b"]


def test_streamstats_time_window_and_reset(app):
    e = [ev("u=a", NOW + 0), ev("u=a", NOW + 60), ev("u=a", NOW + 1000), ev("u=b", NOW + 1001)]
    rows = q(app, "u=* | sort 0 _time | streamstats time_window=5m count as c by u | table u c",
             events=e, now=NOW + 2000)
    assert col(rows, "c") == ["1", "2", "1", "1"]


def test_where_like_and_match_on_multivalue(app):
    e = [{"_raw": json.dumps({"ips": ["10.0.0.0/8", "0.0.0.0/0"]}), "_time": NOW - 1},
         {"_raw": json.dumps({"ips": ["10.0.0.0/8"]}), "_time": NOW - 2}]
    rows = q(app, "* | where match('ips{}', \"/0$\") | eval n=mvcount('ips{}') | table n", events=e)
    assert rows == [{"n": "2"}]
    rows = q(app, "* | where like('ips{}', \"10.%\") | stats count", events=e)
    assert rows == [{"count": "2"}]


def test_spath_and_regex_commands(app):
    e = [ev('payload={"a":{"b":[1,2]}} ok', NOW - 1)]
    rows = q(app, '* | rex "payload=(?<p>\\{.*\\})" | spath input=p path=a.b{} output=bs | table bs', events=e)
    assert rows == [{"bs": ["1", "2"]}]
    assert len(q(app, '* | regex _raw="ok$"', events=e)) == 1
    assert q(app, '* | regex _raw!="ok$"', events=e) == []


def test_fields_and_table_keep_internal_fields_only_when_named(app):
    rows = q(app, "status=404 | fields status")
    assert set(rows[0]) == {"status", "_time", "_raw"}
    rows = q(app, "status=404 | table status _indextime")
    assert rows == [{"status": "404", "_indextime": str(NOW - 10)}]
    rows = q(app, "status=404 | fields - _raw user")
    assert "_raw" not in rows[0] and "user" not in rows[0] and rows[0]["status"] == "404"


def test_eventstats_keeps_every_row(app):
    rows = q(app, "status=* | eventstats max(bytes) as mb | table status mb")
    assert col(rows, "mb") == ["1000"] * 4


def test_search_compares_with_literals_where_compares_fields(app):
    # search: the right side is a value (wildcards allowed); where: a bare word is a field name
    # and "*" is no wildcard (use like())
    e = [ev("a=x b=x"), ev("a=x b=y")]
    assert len(q(app, "a=* | search a=b", events=e)) == 0
    assert len(q(app, "a=* | where a=b", events=e)) == 1
    assert len(q(app, 'a=* | where a="x*"', events=e)) == 0
    assert len(q(app, 'a=* | where like(a, "x%")', events=e)) == 2


def test_streamstats_sliding_window_matches_recomputing_each_window(app):
    # window=N with by: global=true (the default) is one window over all rows, global=false one
    # window per group
    vals = [5, 3, 9, 3, 7, 1, 8, 8, 2, 6]
    e = [ev("v=%d g=%s" % (v, "ab"[i % 2]), NOW + i) for i, v in enumerate(vals)]
    one = lambda xs: xs[0] if len(xs) == 1 else xs
    for global_opt in ("false", "true"):
        rows = q(app, "v=* | sort 0 _time | streamstats window=3 global=%s dc(v) as dc, values(v) as vs, "
                      "min(v) as mn, max(v) as mx, sum(v) as s, list(v) as l, first(v) as f, last(v) as la, "
                      "median(v) as md, count as c by g | table g dc vs mn mx s l f la md c" % global_opt,
                 events=e, now=NOW + 100)
        for i, r in enumerate(rows):
            if global_opt == "false":
                mine = [v for j, v in enumerate(vals[:i + 1]) if j % 2 == i % 2][-3:]
            else:
                mine = [vals[j] for j in range(max(0, i - 2), i + 1) if j % 2 == i % 2]
            strs = [str(v) for v in mine]
            assert r == {"g": "ab"[i % 2], "dc": str(len(set(mine))), "vs": one(sorted(set(strs))),
                         "mn": str(min(mine)), "mx": str(max(mine)), "s": str(sum(mine)),
                         "l": one(strs), "f": strs[0], "la": strs[-1],
                         "md": str(sorted(mine)[(len(mine) - 1) // 2]), "c": str(len(mine))}, (global_opt, i)


def test_where_in_operator(app):
    assert col(q(app, 'status=* | where status IN ("404", "500")'), "status") == ["404", "500"]
    assert col(q(app, 'status=* | where NOT status IN ("404", "500") AND isnotnull(user)'), "status") == ["403"]
