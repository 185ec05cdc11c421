"""One rule per setting: the engine (ta_openai_audit/settings.py) holds every input limit and
default; globalConfig.json repeats them for the UI's early checks, and must say the same."""
import inspect
import json
import re
from pathlib import Path

import pytest

from ta_openai_audit import settings as engine
from ta_openai_audit.errors import ConfigurationError
from ta_openai_audit.settings import InputSettings

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_790_000_000


@pytest.fixture(scope="module")
def fields():
    config = json.loads((ROOT / "globalConfig.json").read_text(encoding="utf-8"))
    (service,) = config["pages"]["inputs"]["services"]
    return {entity["field"]: entity for entity in service["entity"]}


def values(settings):
    return {name: getattr(settings, name) for name in inspect.signature(InputSettings).parameters}


def validator(field, kind):
    (found,) = [v for v in field.get("validators", []) if v["type"] == kind]
    return found


def test_every_input_field_is_one_the_engine_reads(fields):
    assert set(fields) - {"name"} == set(inspect.signature(InputSettings).parameters)


def test_defaults_are_the_engines(fields):
    assert int(fields["interval"]["defaultValue"]) == engine.DEFAULT_INTERVAL
    assert fields["start"]["defaultValue"] == str(engine.DEFAULT_START_DAYS)
    assert int(fields["lag_seconds"]["defaultValue"]) == engine.DEFAULT_LAG
    assert int(fields["overlap_seconds"]["defaultValue"]) == engine.DEFAULT_OVERLAP
    assert bool(fields["tenant_scoped"]["defaultValue"]) is engine.DEFAULT_TENANT_SCOPED
    assert int(fields["backfill_concurrency"]["defaultValue"]) == engine.DEFAULT_BACKFILL_CONCURRENCY
    # and a stanza holding only the UI's defaults parses to the engine's defaults
    ui_defaults = {name: str(f["defaultValue"]) for name, f in fields.items() if "defaultValue" in f}
    assert values(InputSettings.from_stanza(ui_defaults, now=NOW)) == values(
        InputSettings.from_stanza({"index": "default"}, now=NOW))


def test_ranges_are_the_engines(fields):
    assert fields["interval"]["options"]["range"] == [engine.MIN_INTERVAL, engine.MAX_INTERVAL]
    assert "%d to %d" % (engine.MIN_INTERVAL, engine.MAX_INTERVAL) in fields["interval"]["help"]
    for name, maximum in (("lag_seconds", engine.MAX_LAG), ("overlap_seconds", engine.MAX_OVERLAP)):
        number = validator(fields[name], "number")
        assert number["range"] == [0, maximum] and number["isInteger"] is True, name
        assert "0 to %d" % maximum in number["errorMsg"], name
    assert "0 to %d" % engine.MAX_START_DAYS in fields["start"]["help"]
    number = validator(fields["backfill_concurrency"], "number")
    assert number["range"] == [1, engine.MAX_BACKFILL_CONCURRENCY] and number["isInteger"] is True
    assert "1 to %d" % engine.MAX_BACKFILL_CONCURRENCY in number["errorMsg"]
    assert "1 to %d" % engine.MAX_BACKFILL_CONCURRENCY in fields["backfill_concurrency"]["help"]


def test_patterns_are_the_engines(fields):
    assert validator(fields["start"], "regex")["pattern"] == engine.value_pattern(engine.START_PATTERN)
    assert validator(fields["event_types"], "regex")["pattern"] == engine.list_pattern(engine.EVENT_TYPE_PATTERN)
    assert validator(fields["project_ids"], "regex")["pattern"] == engine.list_pattern(engine.PROJECT_ID_PATTERN)


def form_accepted(field, value):
    """Does the engine accept the form of ``value`` (a range error or a future date is not about form)?"""
    try:
        InputSettings.from_stanza({field: value, "tenant_scoped": "1"}, now=NOW)
    except ConfigurationError as exc:
        return not re.search(r"is not (a date|an event type|a project id)", str(exc))
    return True


@pytest.mark.parametrize("field, value", [
    ("start", v) for v in ("7", " 30 ", "0", "3650", "9999", "1788220800", "999999999", "17882208000", "2026-09-01",
                           "2026-09-01T10:00", "2026-09-01 10:00:00Z", "2026-09-01T10:00:00+02:00",
                           "2026-09-01T10:00:00-0530", "2026-09-01T10", "2026-09-01T10:00:00.5", "20260901",
                           "yesterday", "-3", "2026-9-1")
] + [
    ("event_types", v) for v in ("login.failed", "login.failed, api_key.created", "Login.failed", "login.",
                                 "a b", "tenant.user.added,role.bound_to_resource")
] + [
    ("project_ids", v) for v in ("proj_abc123", "proj_a , proj-b", "proj.a", "proj:a", "p" * 128, "p" * 129,
                                 "proj_a;proj_b")
])
def test_the_ui_accepts_the_forms_the_engine_accepts(fields, field, value):
    pattern = validator(fields[field], "regex")["pattern"]
    assert bool(re.search(pattern, value)) is form_accepted(field, value)
