"""Regexes run in PCRE2 (the system's libpcre2-8) with Splunk's match and depth limits; JSON
extraction stops at limits.conf [spath] extraction_cutoff."""
from __future__ import annotations

import json

import pytest

from tools.spl import App, SplError
from tools.spl.knowledge import json_fields
from tools.spl.pcre import DEFAULT_DEPTH_LIMIT, DEFAULT_MATCH_LIMIT, Regex, compile_regex
from tools.spl.testing import write_app

NOW = 1767225600


def test_pcre_syntax_python_lacks():
    # possessive quantifiers, atomic groups, \K, (?<name>) and (?P<name>) all work as in PCRE
    m = Regex(r"(?<k>\w++)=(?>\d+)x\K(?P<rest>.*)").search("key=12xtail")
    assert m.groupdict() == {"k": "key", "rest": "tail"} and m.group(0) == "tail"


def test_offsets_are_characters_for_utf8_text():
    m = Regex(r"(?<w>é+)(?<n>\d)").search("naïve éé7")
    assert m.group("w") == "éé" and m.group("n") == "7"
    assert Regex(r"x*").sub("-", "aé") == "-a-é-"


def test_sub_backreferences_and_nth():
    rx = Regex(r"(\w)(\d)")
    assert rx.sub(r"\2\1", "a1 b2 c3") == "1a 2b 3c"
    assert rx.sub(r"<\1>", "a1 b2 c3", nth=2) == "a1 <b> c3"
    assert rx.sub("x", "none here") == "none here"


def test_invalid_regex_is_an_error_naming_it():
    with pytest.raises(SplError) as e:
        compile_regex("(unclosed")
    assert "(unclosed" in str(e.value)


def test_limits_give_no_match_and_are_counted():
    text = "ab" * 30 + "c"
    tight = Regex(r"^(?:a|b)+c", DEFAULT_MATCH_LIMIT, 20)
    assert tight.search(text) is None and tight.limit_hits == 1
    assert Regex(r"^(?:a|b)+c", DEFAULT_MATCH_LIMIT, DEFAULT_DEPTH_LIMIT).search(text) is not None
    few_calls = Regex(r"^(?:a|b)+c", 50, DEFAULT_DEPTH_LIMIT)
    assert few_calls.search(text) is None and few_calls.limit_hits == 1


def test_default_depth_limit_cuts_a_nested_payload_regex():
    # the shape of a nested-object EXTRACT: each character of the object is one more level of
    # backtracking, so about a thousand characters exhaust DEPTH_LIMIT = 1000
    rx = compile_regex(r'"payload":(?<p>\{(?:[^{}"]|"(?:[^"\\]|\\.)*"|\{(?:[^{}"]|"(?:[^"\\]|\\.)*")*\})*\})')
    small = json.dumps({"payload": {"items": ["x%d" % i for i in range(20)]}}, separators=(",", ":"))
    large = json.dumps({"payload": {"items": ["x%d" % i for i in range(400)]}}, separators=(",", ":"))
    assert rx.search(small).group("p").startswith('{"items"')
    assert rx.search(large) is None


def test_props_limits_are_validated(tmp_path):
    with pytest.raises(SplError) as e:
        App.load(write_app(str(tmp_path), {"props.conf": "[kv]\nDEPTH_LIMIT = deep\nEXTRACT-a = (?<a>a)\n"}))
    assert "DEPTH_LIMIT" in str(e.value)


def test_json_cutoff_default_is_5000_bytes(tmp_path):
    app = App.load(write_app(str(tmp_path), {"props.conf": "[js]\nKV_MODE = json\n"}))
    pad = "x" * 5000
    raw = json.dumps({"early": "1", "pad": pad, "late": "2"}, separators=(",", ":"))
    rows = app.search("* | table early pad late", now=NOW,
                      events=[{"_raw": raw, "_time": NOW - 1, "sourcetype": "js"}])
    assert rows == [{"early": "1"}]  # pad ends past byte 5000 and late comes after it
    assert app.search("* | eval n=len(json_extract(_raw, \"late\")) | table n", now=NOW,
                      events=[{"_raw": raw, "_time": NOW - 1, "sourcetype": "js"}]) == [{"n": "1"}]


def test_json_cutoff_counts_bytes_not_characters():
    raw = json.dumps({"a": "é" * 10, "b": "1"}, ensure_ascii=False, separators=(",", ":"))
    assert len(raw) < 30 < len(raw.encode("utf-8"))
    assert json_fields(raw, cutoff=30) == {"a": "é" * 10}
    assert json_fields(raw, cutoff=1000) == {"a": "é" * 10, "b": "1"}
