"""Splunk's JSON eval functions in tools/spl (tools/spl/jsonfuncs.py), with the examples and the
results of Splunk's reference: Search Reference > Evaluation functions > JSON functions,
https://help.splunk.com/en/splunk-enterprise/search/spl-search-reference/10.0/evaluation-functions/json-functions
"""
from __future__ import annotations

import json

import pytest

from tools.spl import App, SplError
from tools.spl.testing import write_app

NOW = 1767225600

# The reference's json_extract examples read this array from a field called `cities`.
CITIES = [
    {"name": "London", "Bridges": [{"name": "Tower Bridge", "length": 801},
                                   {"name": "Millennium Bridge", "length": 1066}]},
    {"name": "Venice", "Bridges": [{"name": "Rialto Bridge", "length": 157},
                                   {"name": "Bridge of Sighs", "length": 36},
                                   {"name": "Ponte della Paglia"}]},
    {"name": "San Francisco", "Bridges": [{"name": "Golden Gate Bridge", "length": 8981},
                                          {"name": "Bay Bridge", "length": 23556}]},
]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("app"))
    write_app(root, {"props.conf": "[json]\nKV_MODE = none\n"})
    return App.load(root)


def one(app, expr, raw=None):
    """The row of `eval <expr>` over one event whose _raw is `raw` (JSON text of a value)."""
    events = [{"_raw": raw if isinstance(raw, str) else json.dumps(raw), "_time": NOW - 60,
               "sourcetype": "json"}]
    rows = app.search("* | eval " + expr + " | fields - _raw _time", events=events, now=NOW)
    assert len(rows) == 1
    return rows[0]


def loads(text):
    return json.loads(text)


# ---------------------------------------------------------------- json_extract

def test_json_extract_examples_of_the_reference(app):
    r = one(app, 'london=json_extract(_raw, "{0}"), sf=json_extract(_raw, "{2}"), '
                 'names=json_extract(_raw, "{}.name"), bridges=json_extract(_raw, "{}.Bridges{}"), '
                 'bridge_names=json_extract(_raw, "{}.Bridges{}.name"), gg=json_extract(_raw, "{2}.Bridges{0}"), '
                 'gg_length=json_extract(_raw, "{2}.Bridges{0}.length")', CITIES)
    assert loads(r["london"]) == CITIES[0]
    assert loads(r["sf"]) == CITIES[2]
    assert loads(r["names"]) == ["London", "Venice", "San Francisco"]  # example 4: a JSON array
    assert loads(r["bridges"]) == [b for c in CITIES for b in c["Bridges"]]
    assert loads(r["bridge_names"]) == ["Tower Bridge", "Millennium Bridge", "Rialto Bridge",
                                        "Bridge of Sighs", "Ponte della Paglia", "Golden Gate Bridge",
                                        "Bay Bridge"]
    assert r["gg"] == '{"name":"Golden Gate Bridge","length":8981}'  # compact, as the reference prints it
    assert r["gg_length"] == "8981"


def test_json_extract_braces_on_an_object_give_the_object(app):
    # example 1: `json_extract(cities, "{}")` returns the entire object held by the field
    r = one(app, 'all=json_extract(_raw, "{}"), first=json_extract(_raw, "cities{0}"), '
                 'not_array=json_extract(_raw, "{0}")', {"cities": CITIES})
    assert loads(r["all"]) == {"cities": CITIES}
    assert loads(r["first"]) == CITIES[0]
    # {n} "only works when the <path> maps to a JSON array"
    assert "not_array" not in r


def test_json_extract_native_types_and_misses(app):
    raw = {"s": "text", "n": 12, "f": 1.5, "t": True, "z": None, "o": {"k": [1, 2]}, "system.splunk.path": "/opt"}
    r = one(app, 's=json_extract(_raw, "s"), n=json_extract(_raw, "n") + 1, f=json_extract(_raw, "f"), '
                 't=json_extract(_raw, "t"), z=json_extract(_raw, "z"), o=json_extract(_raw, "o"), '
                 'k=json_extract(_raw, "o.k"), miss=json_extract(_raw, "o.nope"), '
                 'dotted=json_extract(_raw, "system.splunk.path"), whole=json_extract("\\"quoted\\"")', raw)
    assert r["s"] == "text" and r["n"] == "13" and r["f"] == "1.5" and r["t"] == "true"
    assert r["o"] == '{"k":[1,2]}' and r["k"] == "[1,2]" and r["whole"] == "quoted"
    # JSON null is null; a missing path is null; a key with dots is out of json_extract's reach
    # (the reference's note: "Use the json_extract_exact function for those situations")
    assert "z" not in r and "miss" not in r and "dotted" not in r


def test_json_extract_several_paths_give_a_json_array(app):
    r = one(app, 'x=json_extract(_raw, "a", "b.c", "nope")', {"a": "1", "b": {"c": 2}})
    assert loads(r["x"]) == ["1", 2, None]


def test_json_extract_of_invalid_json_is_null(app):
    assert "x" not in one(app, 'x=json_extract(_raw, "a")', "{not json")


# ---------------------------------------------------------------- json_extract_exact

def test_json_extract_exact_reads_keys_with_dots_literally(app):
    # the reference's example: {"system.splunk.path":"/opt/splunk/"}
    raw = {"system.splunk.path": "/opt/splunk/", "system": {"splunk": {"path": "nested"}}}
    r = one(app, 'exact=json_extract_exact(_raw, "system.splunk.path"), '
                 'nested=json_extract(_raw, "system.splunk.path"), '
                 'two=json_extract_exact(_raw, "system.splunk.path", "nope"), '
                 'obj=json_extract_exact(_raw, "system"), whole=json_extract_exact("12")', raw)
    assert r["exact"] == "/opt/splunk/" and r["nested"] == "nested"
    assert loads(r["two"]) == ["/opt/splunk/", None]
    assert loads(r["obj"]) == {"splunk": {"path": "nested"}} and r["whole"] == "12"


def test_json_extract_exact_reads_the_payload_of_an_audit_log(app):
    raw = {"id": "audit_log-1", "type": "role.updated", "effective_at": 1,
           "role.updated": {"id": "role_1", "changes_requested": {"permissions_added": ["a", "b"]}}}
    # the payload sits under a key spelled like the event's type, dots included
    r = one(app, 'p=json_extract_exact(_raw, json_extract(_raw, "type")), '
                 'id=json_extract(json_extract_exact(_raw, json_extract(_raw, "type")), "id"), '
                 'keys=json_keys(json_extract(json_extract_exact(_raw, json_extract(_raw, "type")), '
                 '"changes_requested")), via_path=json_extract(_raw, "role.updated")', raw)
    assert loads(r["p"]) == raw["role.updated"]
    assert r["id"] == "role_1" and loads(r["keys"]) == ["permissions_added"]
    assert "via_path" not in r


# ---------------------------------------------------------------- json_keys

def test_json_keys(app):
    # the reference's example, keys in document order
    bridge = '{"name": "Clifton Suspension Bridge", "length": 1352, "city": "Bristol", "country": "England"}'
    r = one(app, 'k=json_keys(_raw), arr=json_keys("[1,2]"), bad=json_keys("nope")', bridge)
    assert loads(r["k"]) == ["name", "length", "city", "country"]
    # "The json_keys function cannot be used on JSON arrays."
    assert "arr" not in r and "bad" not in r


# ---------------------------------------------------------------- json_array_to_mv

def test_json_array_to_mv_removes_or_keeps_the_quotes(app):
    # the reference's example: json_array("Buttercup", "Fluttershy", "Rarity")
    r = one(app, 'ponies=json_array("Buttercup", "Fluttershy", "Rarity"), plain=json_array_to_mv(ponies), '
                 'f=json_array_to_mv(ponies, false()), quoted=json_array_to_mv(ponies, true())', {})
    assert r["ponies"] == '["Buttercup","Fluttershy","Rarity"]'
    assert r["plain"] == r["f"] == ["Buttercup", "Fluttershy", "Rarity"]
    assert r["quoted"] == ['"Buttercup"', '"Fluttershy"', '"Rarity"']


def test_json_array_to_mv_other_elements_and_invalid_input(app):
    r = one(app, 'mv=json_array_to_mv(_raw), one=json_array_to_mv("[\\"x\\"]"), '
                 'obj=json_array_to_mv("{\\"a\\":1}"), empty=json_array_to_mv("[]"), bad=json_array_to_mv("[1,")',
            [1, 2.5, {"a": "b"}, [3], None, True])
    assert r["mv"] == ["1", "2.5", '{"a":"b"}', "[3]", "null", "true"]
    assert r["one"] == "x"
    # "If the <json array> input to the function is not a valid JSON array, the function outputs nothing."
    assert "obj" not in r and "empty" not in r and "bad" not in r


def test_json_array_to_mv_wants_a_boolean(app):
    with pytest.raises(SplError, match="true\\(\\) or false\\(\\)"):
        one(app, 'x=json_array_to_mv("[1]", "yes")', {})


# ---------------------------------------------------------------- json_valid, json, json_has_key_exact

def test_json_valid_and_json(app):
    r = one(app, 'obj=if(json_valid(_raw), "true", "false"), '
                 'bad=if(json_valid("{\\"a\\":"), "true", "false"), nan=if(json_valid("NaN"), "true", "false"), '
                 'j=json(_raw), nj=json("Golden Gate Bridge")', {"names": ["maria", "arun"]})
    assert r["obj"] == "true" and r["bad"] == "false" and r["nan"] == "false"
    assert loads(r["j"]) == {"names": ["maria", "arun"]} and "nj" not in r


def test_json_valid_cannot_be_stored(app):
    # "Because fields cannot hold Boolean values, the if function is used with the json_valid function"
    with pytest.raises(SplError, match="boolean"):
        one(app, "x=json_valid(_raw)", {})


def test_json_has_key_exact(app):
    r = one(app, 'a=if(json_has_key_exact(json_object("name", "charlie"), "name"), "has key", "doesn\'t have key"), '
                 'b=if(json_has_key_exact("{\\"charlie.garcia\\":10}", "charlie.garcia"), "has key", "doesn\'t have key"), '
                 'c=if(json_has_key_exact(_raw, "status"), "has key", "doesn\'t have key")',
            {"name": "charlie", "age": 21, "region": "US"})
    assert (r["a"], r["b"], r["c"]) == ("has key", "has key", "doesn't have key")


# ---------------------------------------------------------------- json_object, json_array

def test_json_object_and_json_array_examples(app):
    r = one(app, 'name=json_object("name", "maria"), firstnames=json_object("name", json_array("maria", "arun")), '
                 'gamelist=json_array("Pandemic", "Forbidden Island", "Castle Panic"), '
                 'games=json_object("category", json_object("boardgames", json_object("cooperative", gamelist))), '
                 'surname=json_array("dubois", json_object("name", "patel")), '
                 'typed=json_array(1, 2.5, "3", null(), true(), split("a,b", ","))', {})
    assert loads(r["name"]) == {"name": "maria"}
    assert loads(r["firstnames"]) == {"name": ["maria", "arun"]}
    assert loads(r["games"]) == {"category": {"boardgames": {"cooperative": ["Pandemic", "Forbidden Island",
                                                                            "Castle Panic"]}}}
    assert loads(r["surname"]) == ["dubois", {"name": "patel"}]
    # a multivalue field becomes an array; "3" stays a string
    assert loads(r["typed"]) == [1, 2.5, "3", None, True, ["a", "b"]]


def test_json_object_wants_string_keys_in_pairs(app):
    with pytest.raises(SplError, match="key/value pairs"):
        one(app, 'x=json_object("a")', {})
    with pytest.raises(SplError, match="must be a string"):
        one(app, 'x=json_object(1, "a")', {})
