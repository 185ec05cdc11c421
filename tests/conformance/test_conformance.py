"""Conformance of tools/spl with Splunk's documentation.

Every case in cases/*.yml is transcribed from a page of Splunk's documentation (its `doc` URL):
a search over a few events and the rows Splunk documents for it, or the error the evaluator must
raise for what it does not implement or what Splunk rejects. Where the documentation does not say
what happens, the case says so in `silent` and records the evaluator's choice.

Case keys: id, doc, search, and either rows (the exact result rows, in order) or error (a piece of
the message); optional: app (a name in apps.yml; default `base`), events (event dicts with _raw and
_time, or audit log objects), now (epoch; default NOW), silent, all_time.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from tools.spl import App, SplError
from tools.spl.testing import write_app

HERE = Path(__file__).resolve().parent
NOW = 1767225600  # 2026-01-01T00:00:00Z, a Thursday
CASE_KEYS = {"id", "doc", "search", "rows", "error", "app", "events", "now", "silent", "all_time"}


def load_cases():
    cases = []
    for path in sorted((HERE / "cases").glob("*.yml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")):
            case["file"] = path.name
            cases.append(case)
    return cases


CASES = load_cases()
APPS = yaml.safe_load((HERE / "apps.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module", params=[True, False], ids=["optimized", "reference"])
def apps(request, tmp_path_factory):
    """Every case runs twice: with the evaluator's shortcuts and without (optimize=False)."""
    built = {}

    def get(name):
        if isinstance(built.get(name), SplError):
            raise built[name]
        if name not in built:
            spec = APPS[name]
            root = str(tmp_path_factory.mktemp(name))
            write_app(root, spec.get("confs", {}), spec.get("lookups", {}))
            seeds = spec.get("kvstore")
            if seeds:
                os.makedirs(os.path.join(root, "kv"), exist_ok=True)
                for coll, text in seeds.items():
                    Path(root, "kv", coll + ".csv").write_text(text, encoding="utf-8")
            try:
                built[name] = App.load(root, lookups_dir=os.path.join(root, "kv") if seeds else None,
                                       optimize=request.param)
            except SplError as e:
                built[name] = e
                raise
        return built[name]
    return get


def test_the_suite_is_complete_and_well_formed():
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    assert len(CASES) >= 150
    for c in CASES:
        assert set(c) - {"file"} <= CASE_KEYS, (c["id"], set(c) - CASE_KEYS)
        assert c["doc"].startswith("https://"), c["id"]
        assert ("rows" in c) != ("error" in c), c["id"]
        assert c.get("app", "base") in APPS, c["id"]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case(case, apps):
    events = [dict(e) for e in case.get("events") or []]
    for e in events:
        if "_raw" in e:
            e.setdefault("_time", NOW - 60)
            e.setdefault("sourcetype", "conformance")
    kw = {"now": case.get("now", NOW), "events": events, "all_time": case.get("all_time", False)}
    if "error" in case:
        with pytest.raises(SplError) as e:  # a conf error surfaces when the app loads
            apps(case.get("app", "base")).search(case["search"], **kw)
        assert case["error"] in str(e.value)
        return
    rows = apps(case.get("app", "base")).search(case["search"], **kw)
    want = [{k: _text(v) for k, v in r.items()} for r in case["rows"]]
    assert rows == want, "%s (%s)" % (case["id"], case["doc"])


def _text(v):
    """YAML scalars as the strings results hold (lists stay lists)."""
    if isinstance(v, list):
        return [_text(x) for x in v]
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)
