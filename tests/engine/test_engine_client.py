"""AuditLogClient: paging, envelope validation, retries, time budget, error mapping."""
from __future__ import annotations

import gzip
import io
import json
import logging

import pytest
import requests

from ta_openai_audit.client import MAX_ATTEMPTS, MAX_BODY_BYTES, RETRY_AFTER_FLOOR, validate_page
from ta_openai_audit.errors import (
    ApiUnavailableError,
    AuthenticationError,
    CollectorError,
    ConfigurationError,
    MalformedPageError,
    PermissionDeniedError,
    StopRequested,
    TLSVerificationError,
)


def events(eng, n, at=None):
    return [eng.make_event(i, (at if at is not None else eng.NOW - i)) for i in range(n)]


def status(code, body=None, headers=None, raw=None):
    def action(request):
        resp = requests.Response()
        resp.status_code = code
        resp.request = request
        resp.url = request.url
        resp.raw = io.BytesIO(raw if raw is not None else json.dumps(body if body is not None else
                                                                      {"error": {"message": "x"}}).encode())
        resp.headers.update({"Date": "Wed, 25 Nov 2026 20:00:00 GMT"})
        resp.headers.update(headers or {})
        return resp

    return action


def raise_(exc):
    def action(request):
        raise exc

    return action


def test_pages_follow_after_with_limit_100_and_window(eng):
    api = eng.FakeApi(events(eng, 250))
    client = eng.make_client(api)
    pages = list(client.pages({"effective_at[gte]": eng.NOW - 1000, "effective_at[lte]": eng.NOW}))
    assert [len(p["data"]) for p in pages] == [100, 100, 50]
    assert client.requests_made == 3
    first, second, third = api.requests
    assert first["limit"] == ["100"] and "after" not in first
    assert first["effective_at[gte]"] == [str(eng.NOW - 1000)] and first["effective_at[lte]"] == [str(eng.NOW)]
    assert second["after"] == [pages[0]["data"][-1]["id"]]
    assert third["after"] == [pages[1]["data"][-1]["id"]]
    ids = [e["id"] for p in pages for e in p["data"]]
    assert len(ids) == len(set(ids)) == 250


def test_list_params_repeat_the_key(eng):
    api = eng.FakeApi([])
    client = eng.make_client(api)
    list(client.pages({"event_types[]": ["tenant.a", "tenant.b"], "project_ids[]": ["proj_1"], "tenant_only": "true"}))
    assert api.requests[0]["event_types[]"] == ["tenant.a", "tenant.b"]
    assert api.requests[0]["project_ids[]"] == ["proj_1"]
    assert api.requests[0]["tenant_only"] == ["true"]


def test_pages_are_fetched_lazily(eng):
    api = eng.FakeApi(events(eng, 250))
    client = eng.make_client(api)
    iterator = client.pages({})
    next(iterator)
    assert len(api.requests) == 1  # the next page waits until the caller has handled this one


def test_empty_window_is_one_request(eng):
    api = eng.FakeApi(events(eng, 5))
    client = eng.make_client(api)
    pages = list(client.pages({"effective_at[gte]": eng.NOW + 10}))
    assert len(pages) == 1 and pages[0]["data"] == [] and client.requests_made == 1


def test_authorization_header_and_no_redirects(eng):
    api = eng.FakeApi([])
    client = eng.make_client(api)
    list(client.pages({}))
    assert api.headers[0]["Authorization"] == "Bearer " + eng.KEY
    assert api.send_kwargs[0]["timeout"] == (10.0, 60.0)


@pytest.mark.parametrize(
    "body, words",
    [
        ([], "not a JSON object"),
        ({"object": "page", "data": [], "has_more": False}, "object is 'page'"),
        ({"object": "list", "data": {}, "has_more": False}, "data is not a list"),
        ({"object": "list", "data": []}, "has_more is missing"),
        ({"object": "list", "data": [], "has_more": "false"}, "has_more is missing or not a boolean"),
        ({"object": "list", "data": [], "has_more": True}, "has_more is true on an empty page"),
        ({"object": "list", "data": [1], "has_more": False}, "data[0] is not an object"),
        ({"object": "list", "data": [{"type": "a", "effective_at": 1}], "has_more": False}, "data[0].id"),
        ({"object": "list", "data": [{"id": 5, "type": "a", "effective_at": 1}], "has_more": False}, "data[0].id"),
        ({"object": "list", "data": [{"id": "x", "effective_at": 1}], "has_more": False}, "data[0].type"),
        ({"object": "list", "data": [{"id": "x", "type": "a", "effective_at": "1"}], "has_more": False},
         "data[0].effective_at"),
        ({"object": "list", "data": [{"id": "x", "type": "a", "effective_at": 1.5}], "has_more": False},
         "data[0].effective_at"),
        ({"object": "list", "data": [{"id": "x", "type": "a", "effective_at": True}], "has_more": False},
         "data[0].effective_at"),
    ],
)
def test_envelope_validation(body, words):
    with pytest.raises(MalformedPageError) as info:
        validate_page(body)
    assert words in str(info.value)


def test_valid_page_with_unknown_fields_passes():
    page = {"object": "list", "data": [{"id": "x", "type": "some.future.type", "effective_at": 1, "new": {}}],
            "has_more": False, "first_id": None, "last_id": None, "extra": 1}
    assert validate_page(page) is page


@pytest.mark.parametrize(
    "fault, reason",
    [
        (status(429), "HTTP 429"),
        (status(500), "HTTP 500"),
        (status(502, raw=b"<html>502 Bad Gateway</html>"), "HTTP 502"),
        (status(503), "HTTP 503"),
        (status(504), "HTTP 504"),
        (raise_(requests.exceptions.ConnectionError("Connection reset by peer")), "connection error"),
        (raise_(requests.exceptions.ReadTimeout("read timed out")), "timeout"),
        (raise_(requests.exceptions.ChunkedEncodingError("IncompleteRead(10 bytes read, 90 more expected)")),
         "truncated"),
        (status(200, raw=b'{"object":"list","data":[{"id":"a'), "malformed page"),
        (status(200, raw=b"<html>gateway</html>"), "malformed page"),
        (status(200, body={"object": "list", "data": [{"id": "x"}], "has_more": False}), "malformed page"),
    ],
)
def test_transient_faults_are_retried(eng, clock, engine_logs, fault, reason):
    api = eng.FakeApi(events(eng, 3))
    api.script = [fault, fault]
    client = eng.make_client(api, clock)
    pages = list(client.pages({}))
    assert len(pages[0]["data"]) == 3
    assert client.requests_made == 3
    assert len(clock.sleeps) == 2
    retry_lines = [r.getMessage() for r in engine_logs.records if "retrying in" in r.getMessage()]
    assert len(retry_lines) == 2 and reason in retry_lines[0]


def test_backoff_is_exponential_with_full_jitter(eng, clock):
    api = eng.FakeApi([])
    api.script = [status(503)] * 6
    client = eng.make_client(api, clock, time_budget=10_000)
    list(client.pages({}))
    # Full jitter: attempt n waits uniformly in [0, min(30, 2**(n-1))].
    for n, delay in enumerate(clock.sleeps, start=1):
        assert 0 <= delay <= min(30, 2 ** (n - 1))
    assert len(set(clock.sleeps)) == len(clock.sleeps)  # jittered, not a fixed schedule
    assert max(clock.sleeps) > 1  # and it grows


def test_retry_after_is_honoured(eng, clock):
    api = eng.FakeApi(events(eng, 1))
    api.script = [status(429, headers={"Retry-After": "7"}), status(503, headers={"Retry-After": "2.5"})]
    client = eng.make_client(api, clock)
    list(client.pages({}))
    assert clock.sleeps == [7.0, 2.5]


def test_retry_after_below_the_floor_is_raised_to_it(eng, clock):
    api = eng.FakeApi(events(eng, 1))
    api.script = [status(429, headers={"Retry-After": "0"}), status(429, headers={"Retry-After": "0.2"})]
    client = eng.make_client(api, clock)
    list(client.pages({}))
    assert clock.sleeps == [RETRY_AFTER_FLOOR, RETRY_AFTER_FLOOR]


@pytest.mark.parametrize("raw,headers,words", [
    (b'{"object":"list","data":[{"id":"a","type":"t","effective_at":1,"x":NaN}],"has_more":false}', {},
     "NaN is not a JSON value"),
    (b'{"object":"list","data":[],"has_more":false,"x":-Infinity}', {}, "-Infinity is not a JSON value"),
    (b"{}", {"Content-Length": str(MAX_BODY_BYTES + 1)}, "more than the %d bytes" % MAX_BODY_BYTES),
    (gzip.compress(b'{"object":"list","data":[],"has_more":false,"p":"' + b" " * MAX_BODY_BYTES + b'"}'),
     {"Content-Encoding": "gzip"}, "once decompressed"),
    (b"{}", {"Content-Encoding": "br"}, "Content-Encoding 'br'"),
])
def test_bodies_json_cannot_carry_or_too_large_are_malformed(eng, clock, raw, headers, words):
    api = eng.FakeApi()
    api.script = [status(200, headers=headers, raw=raw)]
    client = eng.make_client(api, clock, time_budget=0)
    with pytest.raises(ApiUnavailableError) as info:
        list(client.pages({}))
    assert "malformed page" in str(info.value) and words in str(info.value)
    assert info.value.category == "data"


def test_a_gzip_page_within_the_bound_is_read(eng, clock):
    body = {"object": "list", "data": events(eng, 3), "has_more": False}
    api = eng.FakeApi()
    api.script = [status(200, headers={"Content-Encoding": "gzip"}, raw=gzip.compress(json.dumps(body).encode()))]
    pages = list(eng.make_client(api, clock).pages({}))
    assert pages[0]["data"] == body["data"]


def test_stop_ends_a_wait_at_once_and_sends_nothing_more(eng):
    import threading
    import time

    from ta_openai_audit.client import AuditLogClient

    api = eng.FakeApi(events(eng, 1))
    api.script = [status(429, headers={"Retry-After": "30"})]
    client = AuditLogClient(eng.BASE_URL, eng.KEY, time_budget=60)
    client.session.mount("https://", api)
    threading.Timer(0.3, client.stop).start()
    started = time.monotonic()
    with pytest.raises(StopRequested):
        list(client.pages({}))
    assert time.monotonic() - started < 2 and len(api.requests) == 1


def test_retry_after_beyond_budget_gives_up_at_once(eng, clock):
    api = eng.FakeApi(events(eng, 1))
    api.script = [status(429, headers={"Retry-After": "3600"})]
    client = eng.make_client(api, clock, time_budget=50)
    with pytest.raises(ApiUnavailableError) as info:
        list(client.pages({}))
    assert clock.sleeps == []
    assert "server asked to wait 3600s" in str(info.value) and "HTTP 429" in str(info.value)
    assert info.value.category == "server"


def test_budget_exhaustion_raises_api_unavailable(eng, clock):
    api = eng.FakeApi(events(eng, 1))
    api.script = [status(500)] * 100
    client = eng.make_client(api, clock, time_budget=20)
    with pytest.raises(ApiUnavailableError) as info:
        list(client.pages({}))
    assert sum(clock.sleeps) <= 20
    assert client.requests_made < MAX_ATTEMPTS
    assert "gave up after" in str(info.value) and "HTTP 500" in str(info.value)


def test_connection_failures_end_as_connection_category(eng, clock):
    api = eng.FakeApi([])
    api.script = [raise_(requests.exceptions.ConnectionError("Name or service not known"))] * 100
    client = eng.make_client(api, clock, time_budget=5)
    with pytest.raises(ApiUnavailableError) as info:
        list(client.pages({}))
    assert info.value.category == "connection"
    assert "Name or service not known" in str(info.value)


def test_attempts_are_capped_even_with_zero_retry_after(eng, clock):
    api = eng.FakeApi([])
    api.script = [status(429, headers={"Retry-After": "0"})] * 100
    client = eng.make_client(api, clock)
    with pytest.raises(ApiUnavailableError):
        list(client.pages({}))
    assert client.requests_made == MAX_ATTEMPTS


def test_budget_applies_per_page(eng, clock):
    # A slow but healthy backfill is not cut off: the budget bounds retrying one page.
    api = eng.FakeApi(events(eng, 250))
    api.script = [status(503, headers={"Retry-After": "8"}), None, status(503, headers={"Retry-After": "8"})]
    client = eng.make_client(api, clock, time_budget=10)
    pages = list(client.pages({}))
    assert len(pages) == 3 and clock.sleeps == [8.0, 8.0]


@pytest.mark.parametrize(
    "code, error, category",
    [(401, AuthenticationError, "authentication"), (403, PermissionDeniedError, "permission")],
)
def test_auth_errors_are_not_retried(eng, clock, code, error, category):
    api = eng.FakeApi([])
    api.script = [status(code, body={"error": {"message": "server says no"}})]
    client = eng.make_client(api, clock)
    with pytest.raises(error) as info:
        list(client.pages({}))
    assert info.value.category == category
    assert client.requests_made == 1 and clock.sleeps == []
    assert "HTTP %d" % code in str(info.value) and "server says no" in str(info.value)
    assert info.value.server_date is not None


def test_wrong_key_is_401(eng):
    client = eng.make_client(eng.FakeApi([]), key="sk-admin-" + "x" * 60)
    with pytest.raises(AuthenticationError):
        list(client.pages({}))


@pytest.mark.parametrize(
    "fault, error, words",
    [
        (status(400, body={"error": {"message": "Invalid value for event_types"}}), CollectorError,
         "HTTP 400): Invalid value for event_types"),
        (status(404), ConfigurationError, "check the base URL"),
        (status(302, headers={"Location": "https://login.corp/portal"}), ConfigurationError, "unexpected redirect"),
        (raise_(requests.exceptions.SSLError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")),
         TLSVerificationError, "CA bundle"),
        (raise_(requests.exceptions.InvalidSchema("Missing dependencies for SOCKS support.")), ConfigurationError,
         "SOCKS"),
    ],
)
def test_permanent_errors_are_not_retried(eng, clock, fault, error, words):
    api = eng.FakeApi([])
    api.script = [fault]
    client = eng.make_client(api, clock)
    with pytest.raises(error) as info:
        list(client.pages({}))
    assert words in str(info.value)
    assert client.requests_made == 1


def test_400_is_a_configuration_category(eng):
    api = eng.FakeApi([])
    api.script = [status(400)]
    with pytest.raises(CollectorError) as info:
        list(eng.make_client(api).pages({}))
    assert info.value.category == "configuration"


def test_probe_makes_one_limit_1_request(eng):
    api = eng.FakeApi(events(eng, 5))
    api.server_clock = lambda: 1795636800.0
    client = eng.make_client(api)
    result = client.probe()
    assert result.status == 200 and result.events == 1
    assert api.requests == [{"limit": ["1"]}]
    assert result.server_date == 1795636800.0  # Wed, 25 Nov 2026 20:00:00 GMT


def test_probe_does_not_retry(eng, clock):
    api = eng.FakeApi([])
    api.script = [status(503)]
    client = eng.make_client(api, clock)
    with pytest.raises(ApiUnavailableError) as info:
        client.probe()
    assert client.requests_made == 1 and "HTTP 503" in str(info.value)


def test_counts_logged_at_debug(eng, engine_logs):
    api = eng.FakeApi(events(eng, 3))
    list(eng.make_client(api).pages({"effective_at[gte]": 1}))
    lines = [r.getMessage() for r in engine_logs.records if r.levelno == logging.DEBUG]
    assert any("3 events, has_more=False" in line for line in lines)


@pytest.mark.parametrize("key", ["", "   ", None, "sk-admin-abc\n", " sk-admin-abc", "sk-admin-ab c",
                                 "\u201csk-admin-abc\u201d", "sk-admin-\u00e9t\u00e9", "sk-admin-abc",
                                 "sk-admin-abc" + "\u00e9" * 40])
def test_bad_key_is_refused_before_any_request(eng, key):
    from ta_openai_audit.client import AuditLogClient

    with pytest.raises(ConfigurationError) as info:
        AuditLogClient(eng.BASE_URL, key)
    assert "abc" not in str(info.value)


def test_a_cancelled_pager_ends_its_retry_wait_and_its_request(eng):
    import threading
    import time

    api = eng.FakeApi([eng.make_event(1, eng.NOW - 100)])
    api.script = [lambda request: eng.response(request, 503, {"error": {"message": "busy"}})] * 10
    client = eng.make_client(api, time_budget=60)
    client._sleep = None  # the real, interruptible wait
    client._rng = type("Fixed", (), {"uniform": staticmethod(lambda a, b: 30.0)})()  # a 30 s backoff
    cancelled = threading.Event()
    outcome = []

    def page():
        try:
            next(client.pages({}, cancelled.is_set))
        except Exception as exc:  # noqa: BLE001 - the test looks at what came out
            outcome.append(exc)

    thread = threading.Thread(target=page)
    thread.start()
    time.sleep(0.3)  # inside the 30 s wait after the first 503
    started = time.monotonic()
    cancelled.set()
    thread.join(5)
    assert not thread.is_alive() and time.monotonic() - started < 1
    assert type(outcome[0]).__name__ == "StopRequested" and not client.stopped  # only that pager
