"""Input settings: every field's validation message, and the base URL rule."""
from __future__ import annotations

import pytest

from ta_openai_audit.errors import ConfigurationError
from ta_openai_audit.settings import InputSettings, is_tenant_scoped, validate_base_url

NOW = 1_790_000_000  # 2026-09-21T...Z


def parse(**stanza):
    return InputSettings.from_stanza(stanza, now=NOW)


def test_defaults_match_the_input_fields():
    s = parse()
    assert s.interval == 60
    assert s.start == NOW - 7 * 86400
    assert s.lag_seconds == 60 and s.overlap_seconds == 900
    assert s.event_types == () and s.project_ids == () and s.tenant_scoped is True


def test_splunk_adds_keys_that_are_ignored():
    s = parse(disabled="0", host="$decideOnStartup", **{"python.version": "python3"}, account="prod", index="main")
    assert s.account == "prod" and s.index == "main"


@pytest.mark.parametrize(
    "start, expected",
    [
        ("3", NOW - 3 * 86400),
        ("0", NOW),
        ("2026-09-01", 1788220800),
        ("2026-09-01T10:00:00Z", 1788220800 + 36000),
        ("2026-09-01T12:00:00+02:00", 1788220800 + 36000),
        ("2026-09-01T10:00:00", 1788220800 + 36000),  # no offset: UTC
        ("1788220800", 1788220800),  # Unix seconds
        ("2026-09-01T12:00+0200", 1788220800 + 36000),  # no seconds, offset without a colon
        (" 2026-09-01 10:00:00Z ", 1788220800 + 36000),
        ("", NOW - 7 * 86400),
    ],
)
def test_start_forms(start, expected):
    assert parse(start=start).start == expected


@pytest.mark.parametrize(
    "start, words",
    [
        ("yesterday", "is not a date"),
        ("2026-13-01", "is not a date"),
        ("99999", "is not a date"),  # neither days (<= 3650) nor Unix seconds
        ("3651", "3651 days is out of range: use 0 to 3650 days"),
        ("999999999", "is not a date"),  # 9 digits: not Unix seconds
        # forms Python 3.11's fromisoformat accepts and 3.9's does not: refused on every Python
        ("2026-09-01T10", "is not a date"),
        ("2026-09-01T10:00:00.5", "is not a date"),
        ("20260901", "is not a date"),
        ("\u0663", "is not a date"),  # ARABIC-INDIC DIGIT THREE: not a digit to the UI's regex either
        ("2026-09-01T24:00", "is not a date"),
        ("2026-09-01T10:00+24:00", "is not a date"),
        ("-3", "is not a date"),
        ("2030-01-01", "in the future"),
        (str(NOW + 100), "in the future"),
    ],
)
def test_bad_start_is_explained(start, words):
    with pytest.raises(ConfigurationError) as info:
        parse(start=start)
    assert info.value.category == "configuration"
    assert words in str(info.value) and str(info.value).startswith("start:")


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("interval", "10", "interval: 10 is out of range: use 30 to 86400 seconds"),
        ("interval", "abc", "interval: 'abc' is not a whole number of seconds"),
        ("lag_seconds", "-1", "lag_seconds: -1 is out of range: use 0 to 3600 seconds"),
        ("overlap_seconds", "1.5", "overlap_seconds: '1.5' is not a whole number of seconds"),
        ("overlap_seconds", "100000", "overlap_seconds: 100000 is out of range"),
        ("tenant_scoped", "maybe", "tenant_scoped: 'maybe' is not a yes/no value"),
        ("event_types", "login.succeeded, Bad Type", "event_types: 'Bad Type' is not an event type"),
        ("project_ids", "proj_1,proj 2", "project_ids: 'proj 2' is not a project id"),
        ("project_ids", "proj_1.x", "project_ids: 'proj_1.x' is not a project id"),
        ("project_ids", "p" * 129, "is not a project id"),
        ("event_types", "login.failed.", "event_types: 'login.failed.' is not an event type"),
    ],
)
def test_field_messages(field, value, words):
    with pytest.raises(ConfigurationError) as info:
        parse(**{field: value})
    assert words in str(info.value)


def test_lists_are_trimmed_and_deduplicated_and_unknown_types_allowed():
    s = parse(event_types=" login.failed ,, future.thing.happened,login.failed", project_ids="proj_a, proj_b")
    assert s.event_types == ("login.failed", "future.thing.happened")
    assert s.project_ids == ("proj_a", "proj_b")


def test_tenant_types_need_tenant_scoped():
    with pytest.raises(ConfigurationError) as info:
        parse(event_types="login.failed,role.bound_to_resource,tenant.user.added", tenant_scoped="0")
    message = str(info.value)
    assert "role.bound_to_resource, tenant.user.added are tenant-scoped" in message
    assert "tenant_scoped" in message
    assert parse(event_types="login.failed,tenant.user.added").tenant_scoped is True


def test_min_interval_can_be_lowered_for_the_command_line():
    assert InputSettings.from_stanza({"interval": "2"}, now=NOW, min_interval=1).interval == 2


@pytest.mark.parametrize(
    "event_type, scoped",
    [("role.bound_to_resource", True), ("role.unbound_from_resource", True), ("tenant.policy.created", True),
     ("role.created", False), ("tenants.x", False), ("login.succeeded", False)],
)
def test_tenant_scoped_types(event_type, scoped):
    assert is_tenant_scoped(event_type) is scoped


@pytest.mark.parametrize(
    "url, expected",
    [
        ("https://api.openai.com/v1", "https://api.openai.com/v1"),
        ("https://api.openai.com/v1/", "https://api.openai.com/v1"),
        ("http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/v1"),
        ("http://localhost:1/v1", "http://localhost:1/v1"),
        ("http://[::1]:9/v1", "http://[::1]:9/v1"),
    ],
)
def test_base_url_accepted(url, expected):
    assert validate_base_url(url) == expected


@pytest.mark.parametrize(
    "url, words",
    [
        ("http://api.openai.com/v1", "plain http"),
        ("http://10.0.0.1/v1", "plain http"),
        ("ftp://api.openai.com/v1", "must be an https:// URL"),
        ("api.openai.com/v1", "must be an https:// URL"),
        ("", "empty"),
        ("https://api.openai.com/v1?x=1", "query string"),
        ("https://api.openai.com:99999/v1", "not a valid URL"),
    ],
)
def test_base_url_refused(url, words):
    with pytest.raises(ConfigurationError) as info:
        validate_base_url(url)
    assert words in str(info.value)


def test_base_url_with_credentials_is_refused_without_echoing_them():
    with pytest.raises(ConfigurationError) as info:
        validate_base_url("https://user:hunter2secret@api.openai.com/v1")
    assert "hunter2secret" not in str(info.value) and "user name or password" in str(info.value)


@pytest.mark.parametrize("interval, budget", [("30", 15.0), ("60", 30.0), ("600", 300.0), ("3600", 300.0)])
def test_time_budget_stays_inside_the_interval(interval, budget):
    assert parse(interval=interval).time_budget == budget
    assert InputSettings.from_stanza({"interval": "2"}, now=NOW, min_interval=1).time_budget == 5.0
