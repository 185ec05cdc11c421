"""Fuzzing the path from an API page to the XML the modular input writes to splunkd.

Generated pages carry random unicode (control characters, surrogate escapes, U+FFFE/U+FFFF,
line separators), markup that could close the event early (``]]>``, ``</data>``, ``<event>``),
megabyte strings, deep nesting, wrong types, null actors, unknown types; broken pages miss
required fields or are not JSON at all. Properties:

- the XML written through splunklib's EventWriter (as the shim writes it) is well-formed, and
  every event's <data> parses back to the JSON value the API served;
- every event is written exactly once; a broken page is retried, never skipped: the collector
  does not move past it, and once it is good again nothing is missing;
- the process (the real modular input, and the CLI) never dies with a traceback.

    .venv/bin/python -m pytest tests/campaign/test_fuzz_events.py
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any, Dict, List

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from ta_openai_audit.checkpoint import MemoryCheckpointStore
from ta_openai_audit.client import AuditLogClient
from ta_openai_audit.collector import Collector
from ta_openai_audit.errors import CollectorError
from ta_openai_audit.settings import InputSettings
from tests.campaign.fuzz_support import KEY, PageServer, ServedEvent, ShimWriter, envelope, parse_stream
from tools.openai_api_sim.generator import EVENT_TYPES

NOW = int(time.time())
START = NOW - 3 * 86400
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# -------------------------------------------------------------------------------- strategies
NASTY = [
    "]]>", "</data>", "<event>", "</event></stream>", "<![CDATA[x]]>", "&amp;", "&#0;", "&lt;", '"', "\\",
    "\x00", "\x01\x08\x0b\x0c\x1b\x1f", "\t\r\n", "\x7f", "\x85", "\u2028\u2029", "\ufeff",
    "\ud800", "\udfff", "\ud83d\ude00", "\ufffe", "\uffff", "\U0010ffff", "😀", "中文", "\u202e",
]
any_char = st.characters(exclude_categories=())  # surrogates included
nasty_text = st.one_of(
    st.text(any_char, max_size=40),
    st.text(st.characters(max_codepoint=0x1F), max_size=10),
    st.lists(st.sampled_from(NASTY), min_size=1, max_size=6).map("".join),
)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
    st.floats(allow_nan=False, allow_infinity=False), nasty_text,
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(nasty_text, children, max_size=4)),
    max_leaves=12,
)


def nest(depth: int, leaf: Any = "deep") -> Any:
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"n": value}
    return value


big_values = st.one_of(
    st.integers(1, 400).map(nest),  # deep, but within what a JSON parser accepts
    st.sampled_from([1_000_000, 1_048_577]).map(lambda n: "x" * (n - 3) + "]]>"),  # megabyte strings
)
actors = st.one_of(
    st.none(),  # null actor
    st.fixed_dictionaries({"type": st.just("session"), "session": st.fixed_dictionaries({
        "user": st.fixed_dictionaries({"id": nasty_text, "email": nasty_text}),
        "ip_address": nasty_text, "user_agent": nasty_text})}),
    json_values,  # wrong types: a list, a number, a string...
)
event_ids = st.one_of(
    st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=8, max_size=24).map(
        lambda s: "audit_log-" + s),
    st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=20),  # odd but valid ids
)


@st.composite
def audit_log(draw, event_id: str) -> Dict[str, Any]:
    event_type = draw(st.one_of(st.sampled_from(EVENT_TYPES), st.text(any_char, min_size=1, max_size=30)))
    event: Dict[str, Any] = {"id": event_id, "object": draw(st.one_of(st.just("organization.audit_log"), json_values))}
    event["type"] = event_type
    event["effective_at"] = draw(st.integers(START + 10, NOW - 10))
    if draw(st.booleans()):
        event["actor"] = draw(actors)
    if draw(st.booleans()):
        event["project"] = draw(st.one_of(json_values, st.fixed_dictionaries({"id": nasty_text, "name": nasty_text})))
    if draw(st.booleans()):
        event[event_type] = draw(json_values)
    extra = draw(st.dictionaries(nasty_text, json_values, max_size=3))
    for key, value in extra.items():
        event.setdefault(key, value)
    if draw(st.integers(0, 19)) == 0:
        event[draw(nasty_text)] = draw(big_values)
    return event


def to_text(value: Any, raw_unicode: bool, spaced: bool) -> str:
    separators = (", ", ": ") if spaced else (",", ":")
    if raw_unicode:
        text = json.dumps(value, ensure_ascii=False, separators=separators)
        try:
            text.encode("utf-8")
            return text
        except UnicodeEncodeError:  # a lone surrogate can only travel escaped
            pass
    return json.dumps(value, ensure_ascii=True, separators=separators)


def plain_event(i: int) -> ServedEvent:
    return ServedEvent(json.dumps({"id": "audit_log-plain%05d" % i, "object": "organization.audit_log",
                                   "type": "login.succeeded", "effective_at": NOW - 20 - i % 5000, "actor": None}))


@st.composite
def served_events(draw, max_nasty: int = 25, min_plain: int = 0, max_plain: int = 220) -> List[ServedEvent]:
    """A few fuzzed events among enough plain ones to fill one to three pages."""
    ids = draw(st.lists(event_ids, min_size=1, max_size=max_nasty, unique=True))
    out = []
    for event_id in ids:
        event = draw(audit_log(event_id))
        out.append(ServedEvent(to_text(event, draw(st.booleans()), draw(st.booleans()))))
    plain = draw(st.integers(min_plain, max_plain))
    return out + [plain_event(i) for i in range(plain) if "audit_log-plain%05d" % i not in ids]


# --------------------------------------------------------------------------------- running
def _settings() -> InputSettings:
    # one stream: the page server ignores tenant_only
    # one slice at a time: the pages are written in the order the server serves them
    return InputSettings(start=START, lag_seconds=0, overlap_seconds=900, interval=60, tenant_scoped=False,
                         backfill_concurrency=1)


def collect(server: PageServer, store: MemoryCheckpointStore, writer: ShimWriter, time_budget: float = 30.0):
    """One run of the real collector and client against ``server``; retries do not sleep."""
    client = AuditLogClient(server.base_url, KEY, time_budget=time_budget, sleep=lambda seconds: None)
    try:
        return Collector(client, store, "openai_audit_logs://fuzz", _settings()).run(writer.events)
    finally:
        client.close()


def assert_round_trip(document: str, served: List[ServedEvent]) -> None:
    written = parse_stream(document)  # raises if the XML is not well-formed
    by_id = {e.id: e for e in served}
    seen = []
    for event in written:
        value = json.loads(event["data"])
        original = by_id[value["id"]]
        assert value == original.value, "data does not parse back to the served value for %r" % original.id
        assert event["time"] == str(original.effective_at)
        assert event["sourcetype"] == "openai:audit"
        seen.append(original.id)
    assert sorted(seen) == sorted(by_id), "every event exactly once"


# Bounded: ~15 s per property when it holds. The explain phase is left out: on these large
# examples it costs more than the shrunk example it annotates.
FUZZ = settings(max_examples=40, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(events=served_events())
def test_any_valid_page_reaches_splunkd_as_well_formed_xml_with_the_same_json(events):
    with PageServer(events) as server:
        writer = ShimWriter()
        summary = collect(server, MemoryCheckpointStore(), writer)
    assert summary.events == len(events)
    assert_round_trip(writer.document(), events)


@pytest.mark.parametrize("code_point", ["\ud800", "\udfff", "\ufffe", "\uffff"])
def test_a_code_point_xml_cannot_carry_still_reaches_splunkd_well_formed(code_point):
    """XML 1.0 has no character, not even a &#...; reference, for a surrogate, U+FFFE or U+FFFF;
    a JSON string can hold them (escaped as \\uXXXX, or raw in UTF-8 for U+FFFE/U+FFFF)."""
    served = [ServedEvent(json.dumps({"id": "audit_log-1", "type": "login.succeeded", "effective_at": NOW - 60,
                                      "actor": {"session": {"user_agent": "a" + code_point + "b"}}}))]
    with PageServer(served) as server:
        writer = ShimWriter()
        collect(server, MemoryCheckpointStore(), writer)
    assert_round_trip(writer.document(), served)


# ----------------------------------------------------------------------------- broken pages
# Valid JSON, but nested deeper than Python's json (or any sane parser) accepts.
DEEP_BODY = b'{"object":"list","data":[{"x":' + b"[" * 100_000 + b"]" * 100_000 + b'}],"has_more":false}'

def _breakages(page: List[ServedEvent], has_more: bool) -> Dict[str, bytes]:
    """Broken versions of one page, by what is wrong with them."""
    values = [dict(e.value) for e in page]

    def with_item(change) -> bytes:
        items = [dict(v) for v in values]
        change(items[len(items) // 2])
        return json.dumps({"object": "list", "data": items, "has_more": has_more}).encode("utf-8")

    good = envelope(page, has_more).encode("utf-8")
    return {
        "missing id": with_item(lambda item: item.pop("id")),
        "empty id": with_item(lambda item: item.update(id="")),
        "numeric id": with_item(lambda item: item.update(id=12345)),
        "missing type": with_item(lambda item: item.pop("type")),
        "null type": with_item(lambda item: item.update(type=None)),
        "missing effective_at": with_item(lambda item: item.pop("effective_at")),
        "string effective_at": with_item(lambda item: item.update(effective_at=str(item["effective_at"]))),
        "float effective_at": with_item(lambda item: item.update(effective_at=item["effective_at"] + 0.5)),
        "boolean effective_at": with_item(lambda item: item.update(effective_at=True)),
        "item not an object": json.dumps({"object": "list", "data": values[:1] + ["x"], "has_more": has_more}).encode(),
        "data not a list": json.dumps({"object": "list", "data": {"0": values[0]}, "has_more": has_more}).encode(),
        "has_more missing": json.dumps({"object": "list", "data": values}).encode(),
        "has_more a string": json.dumps({"object": "list", "data": values, "has_more": "false"}).encode(),
        "not a list object": json.dumps({"object": "error", "data": values, "has_more": has_more}).encode(),
        "body is a JSON array": json.dumps(values).encode(),
        "truncated JSON": good[: len(good) // 2],
        "empty body": b"",
        "HTML": b"<html><body>502 Bad Gateway</body></html>",
        "not UTF-8": good.replace(b'"object"', b'"\xff\xfeobject"', 1),
        "nesting deeper than a JSON parser allows": DEEP_BODY,
    }


BREAKAGE_NAMES = sorted(_breakages([ServedEvent('{"id":"a","type":"t","effective_at":1700000000}')], False))


@FUZZ
@given(events=served_events(min_plain=150, max_plain=260), data=st.data())
def test_a_broken_page_is_retried_never_skipped(events, data):
    kind = data.draw(st.sampled_from(BREAKAGE_NAMES), label="breakage")
    with PageServer(events) as server:
        pages = (len(server.events) + 99) // 100
        index = data.draw(st.integers(0, pages - 1), label="broken page")
        page = server.events[index * 100:(index + 1) * 100]
        body = _breakages(page, index < pages - 1)[kind]
        cursor = server.cursor_of_page(index)
        times = data.draw(st.integers(1, 3), label="broken for")
        server.break_page(cursor, body, times)
        writer = ShimWriter()
        summary = collect(server, MemoryCheckpointStore(), writer)
        assert server.requests[cursor] == times + 1, "the broken page was asked for %d times" % server.requests[cursor]
    assert summary.events == len(events)
    assert_round_trip(writer.document(), events)


@pytest.mark.parametrize("kind", BREAKAGE_NAMES)
def test_a_page_that_stays_broken_stops_the_walk_there_and_the_next_run_resumes(kind):
    events = [ServedEvent(json.dumps({"id": "audit_log-%05d" % i, "type": "login.succeeded",
                                      "effective_at": NOW - 5000 + i * 7, "actor": None}))
              for i in range(350)]
    store = MemoryCheckpointStore()
    with PageServer(events) as server:
        broken_index = 2
        page = server.events[200:300]
        server.break_page(server.cursor_of_page(broken_index), _breakages(page, True)[kind], None)
        first = ShimWriter()
        (error,) = collect(server, store, first).errors
        assert isinstance(error, CollectorError) and error.category in ("data", "server"), error
        written = [json.loads(e["data"])["id"] for e in parse_stream(first.document())]
        # Exactly the pages before the broken one: nothing from it or beyond was skipped to.
        assert written == [e.id for e in server.events[:200]]
        (piece,) = store.get("openai_audit_logs://fuzz")["walk"]["slices"]
        assert piece["oldest"] == server.events[199].effective_at

        server.repair()
        second = ShimWriter()
        collect(server, store, second)
    rest = [json.loads(e["data"])["id"] for e in parse_stream(second.document())]
    assert sorted(written + rest) == sorted(e.id for e in events)


# -------------------------------------------------------------- the real processes, nastiest pages
def nastiest_events() -> List[ServedEvent]:
    texts = []
    specials = NASTY + ["x" * 1_048_576 + "]]></data></event></stream>"]
    for i, special in enumerate(specials):
        event = {
            "id": "audit_log-nasty%03d" % i,
            "object": "organization.audit_log",
            "type": ["api_key.created", "tenant.weird.future_type", special or "x"][i % 3],
            "effective_at": NOW - 4000 + i,
            "actor": None if i % 2 else {"type": "session", "session": {"user": {"email": special}, "ip_address": special}},
            "payload": {"text": special, "deep": nest(300, special), "types": [1, 1.5, True, None, "s", -(2 ** 64)]},
        }
        texts.append(to_text(event, raw_unicode=bool(i % 2), spaced=bool(i % 3 == 0)))
    # enough ordinary ones for a second and a third page
    for i in range(250):
        texts.append(json.dumps({"id": "audit_log-plain%03d" % i, "type": "login.succeeded",
                                 "effective_at": NOW - 3000 + i, "actor": None}))
    return [ServedEvent(t) for t in texts]


def _process_env(**extra: str) -> Dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
    env.update(extra)
    return env


def run_cli(server: PageServer, tmp_path) -> "tuple[subprocess.CompletedProcess, List[str]]":
    output, state = str(tmp_path / "events.jsonl"), str(tmp_path / "state.json")
    proc = subprocess.run(
        [sys.executable, "-m", "ta_openai_audit", "collect", "--base-url", server.base_url, "--state-file", state,
         "--output", output, "--once", "--start", "3", "--lag", "0", "--no-tenant-scoped"],  # ignores tenant_only
        env=_process_env(PYTHONPATH=os.path.join(REPO, "package", "bin"), OPENAI_ADMIN_KEY=KEY),
        capture_output=True, timeout=120, cwd=REPO,
    )
    lines = []
    if os.path.exists(output):
        with open(output, encoding="utf-8", newline="") as fh:
            # split on "\n" only: str.splitlines() would also cut at U+2028, U+0085, ... which
            # JSON written with ensure_ascii=False carries raw inside strings
            lines = [line for line in fh.read().split("\n") if line]
    return proc, lines


def assert_cli_wrote(proc: subprocess.CompletedProcess, lines: List[str], events: List[ServedEvent]) -> None:
    stderr = proc.stderr.decode("utf-8", "replace")
    assert "Traceback" not in stderr, stderr[-4000:]
    assert proc.returncode == 0, stderr[-4000:]
    by_id = {e.id: e for e in events}
    assert sorted(json.loads(line)["id"] for line in lines) == sorted(by_id)
    for line in lines:
        value = json.loads(line)
        assert value == by_id[value["id"]].value


def test_the_cli_writes_an_event_holding_a_lone_surrogate(tmp_path):
    events = [ServedEvent('{"id":"audit_log-1","type":"login.succeeded","effective_at":%d,"actor":null,'
                          '"note":"\\ud800"}' % (NOW - 60))]
    with PageServer(events) as server:
        proc, lines = run_cli(server, tmp_path)
    assert_cli_wrote(proc, lines, events)


def test_the_cli_survives_the_nastiest_pages(tmp_path):
    events = nastiest_events()
    with PageServer(events) as server:
        # the second page is answered twice with nesting no JSON parser accepts, then served
        server.break_page(server.cursor_of_page(1), DEEP_BODY, 2)
        proc, lines = run_cli(server, tmp_path)
    assert_cli_wrote(proc, lines, events)


def test_the_modular_input_survives_the_nastiest_pages(tmp_path):
    from tools.modinput import SplunkHome
    from tools.splunkd_sim import SplunkdSim

    app = os.path.abspath(os.environ.get("TA_BUILD_DIR") or os.path.join(REPO, "output", "TA-openai-audit"))
    events = nastiest_events()
    with SplunkdSim(app="TA-openai-audit") as splunkd, PageServer(events) as server:
        # what the add-on's default/ta_openai_audit_settings.conf gives a real splunkd
        splunkd.set_log_level("INFO")
        splunkd.set_proxy(proxy_enabled="0", proxy_type="http", proxy_url="", proxy_port="", proxy_rdns="")
        splunkd.add_account("fuzz", KEY, base_url=server.base_url)
        server.break_page(server.cursor_of_page(1), b"<html>502</html>", 1)
        server.break_page(server.cursor_of_page(2), DEEP_BODY, 1)
        try:
            home = SplunkHome(app, str(tmp_path / "splunk"), splunkd)
        except FileNotFoundError as missing:
            pytest.fail(str(missing))
        run = home.run_input({"fuzz": {"account": "fuzz", "index": "openai", "interval": "60", "start": "3",
                                       "lag_seconds": "0", "overlap_seconds": "900",
                                       "tenant_scoped": "0"}}, timeout=180)  # the page server ignores tenant_only
    log = home.input_log("fuzz")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr + log, (run.stderr + log)[-4000:]
    assert_round_trip(run.stdout, events)
