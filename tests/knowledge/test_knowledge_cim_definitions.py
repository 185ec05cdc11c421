"""Every tagged event of the API stand-in's corpus against Splunk's own CIM definitions (issue 17).

The corpus: every event type with each actor kind (web session, user API key, service-account
API key, null actor), plus types OpenAI may add later. Each event goes through the add-on's
search-time knowledge in tools/spl and pytest-splunk-addon's field tests
(tests/knowledge/cim_definitions.py, definitions in tests/knowledge/data_models/). A failure must
be listed in docs/cim.md's table of fields the audit log cannot supply, and every row of that
table must still describe failures, all of them.
"""
from __future__ import annotations

import pytest

from tests.knowledge.cim_definitions import (BASE, FIGURES, NO_EVENTS, TESTED_TYPES, load_models,
                                             mapped_datasets, read_exceptions, run, tag_stanzas)
from tests.knowledge.knowledge_support import APP_DIR, ROOT, values

CIM_DOC = ROOT / "docs" / "cim.md"

# Types the add-on has never seen, one per fallback row of the event-type map.
FUTURE_TYPES = ("vector_store.created", "model.weights.removed", "something_new", "user.suspended",
                "tenant.user.reactivated", "ip_allowlist.config.paused", "tunnel.rotated",
                "login.mfa_enrolled", "logout.forced", "tenant.billing.tax_id.updated")


def cim_corpus():
    from tools.openai_api_sim.generator import corpus, make_event
    events = corpus(seed=7, effective_at=1764100800)
    # corpus() gives each type once per actor kind, in this order: reuse its four actors.
    actors = [e.get("actor") for e in events[:4]]
    assert [a and a["type"] for a in actors] == ["session", "api_key", "api_key", None]
    for i, t in enumerate(FUTURE_TYPES):
        for j, actor in enumerate(actors):
            events.append(make_event(t, seed=100 + 4 * i + j, effective_at=1764000000 - 4 * i - j, actor=actor))
    assert len({e["id"] for e in events}) == len(events)
    return events


@pytest.fixture(scope="module")
def checked():
    from tools.spl import App
    app = App.load(str(APP_DIR))
    events = cim_corpus()
    result = run(app, events)
    result["app"] = app
    result["events"] = events
    return result


@pytest.fixture(scope="module")
def exceptions():
    return read_exceptions(CIM_DOC)


def _ids(app, search):
    return {r["id"] for r in app.search("%s %s | table id" % (BASE, search), all_time=True)}


def test_every_tagged_event_meets_the_definitions_or_is_a_listed_exception(checked, exceptions):
    app, failures, selected = checked["app"], checked["failures"], checked["selected"]
    covered = {}
    stale = []
    for row in exceptions:
        key = (row["dataset"], row["field"])
        failing = failures.get(key)
        if row["field"] == NO_EVENTS:
            if failing is None:
                stale.append(row)
            covered[key] = set()
            continue
        picked = _ids(app, row["events"]) & selected.get(key, set())
        if not picked or not picked <= set(failing or {}):
            stale.append((row, sorted(picked - set(failing or {}))[:3]))
        covered.setdefault(key, set()).update(picked)
    unlisted = {}
    for key, by_id in failures.items():
        if key not in covered:
            unlisted[key] = by_id or "no event"
            continue
        rest = {i: reason for i, reason in by_id.items() if i not in covered[key]}
        if rest:
            unlisted[key] = rest
    assert unlisted == {}, "failures not in docs/cim.md's exceptions table"
    assert stale == [], "exception rows that no longer fail (or pick events that pass)"


def test_figure_events_valid_per_dataset(checked, exceptions):
    """events valid / tagged, per dataset (an event is valid in a dataset when it passes the
    field tests of that dataset and of the datasets above it): as they are, and apart from the
    listed exceptions."""
    tagged, failures, rows = checked["tagged"], checked["failures"], checked["rows"]
    events = checked["events"]
    listed = {(r["dataset"], r["field"]) for r in exceptions}

    def failing(key, skip_listed):
        out = set()
        for (ds, fld), by_id in failures.items():
            if (key == ds or key.startswith(ds + ".")) and not (skip_listed and (ds, fld) in listed):
                out |= set(by_id)
        return out & tagged[key]

    all_tagged = set().union(*tagged.values())
    lines = ["CIM (pytest-splunk-addon 7.0.5 definitions), corpus of %d events, %d tagged into a dataset:"
             % (len(events), len(all_tagged)),
             "  %-50s %14s %22s" % ("dataset", "valid / tagged", "apart from exceptions")]
    for key in sorted(tagged):
        ids = tagged[key]
        note = "" if ids else "  (no event: %s)" % ("listed" if (key, NO_EVENTS) in listed else "NOT listed")
        lines.append("  %-50s %6d / %-6d %22d%s" % (key, len(ids - failing(key, False)), len(ids),
                                                      len(ids - failing(key, True)), note))
    bad = set().union(*[set(f) for f in failures.values()])
    bad_unlisted = set().union(*[set(f) for k, f in failures.items() if k not in listed] or [set()])
    lines.append("  %-50s %6d / %-6d %22d" % ("every tagged event", len(all_tagged - bad), len(all_tagged),
                                              len(all_tagged - bad_unlisted)))
    FIGURES.extend(lines)
    # Every event but a logout is tagged into a dataset; the figure counts them all.
    logouts = {e["id"] for e in events if e["type"].startswith("logout.")}
    assert all_tagged == set(rows) - logouts


def test_tags_agree_with_the_datasets(checked):
    """One data model per event; tag=account exactly on object_category=user (Change's validity
    rule for object_category, which on a multivalue tag field cannot see it alone); logouts in
    no data model (CIM's Authentication describes logins)."""
    roots = load_models()
    for ev in checked["events"]:
        row = checked["rows"][ev["id"]]
        tags = values(row.get("tag"))
        models = {ds.model for ds in mapped_datasets(roots, tags)}
        if ev["type"].startswith("logout."):
            assert models == set() and "authentication" not in tags, ev["type"]
            continue
        assert len(models) == 1, (ev["type"], tags)
        if models == {"Change"}:
            assert ("account" in tags) == (row["object_category"] == "user"), ev["type"]
        else:
            assert ev["type"].startswith("login.") and row["action"] in ("success", "failure"), ev["type"]


def test_exceptions_table_names_tested_fields_with_a_reason(exceptions):
    assert exceptions, "docs/cim.md has no exceptions table"
    roots = load_models()
    datasets = {}

    def walk(sets):
        for ds in sets:
            datasets[ds.key] = ds
            walk(ds.children)
    walk(roots)
    mapped = {ds.key for tags in tag_stanzas(APP_DIR).values() for ds in mapped_datasets(roots, tags)}
    for row in exceptions:
        assert row["dataset"] in mapped, row
        ds = datasets[row["dataset"]]
        if row["field"] == NO_EVENTS:
            assert row["events"] is None, row
        else:
            assert row["field"] in {f["name"] for f in ds.fields if f.get("type", "required") in TESTED_TYPES}, row
            assert row["events"], row
        assert len(row["why"]) > 20, row
