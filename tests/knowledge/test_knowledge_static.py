"""Static checks of the CIM knowledge objects: parsing settings, the event-type map against the
spec and the SDK, and the references between props, transforms, eventtypes, tags and the CSV."""
from __future__ import annotations

import json
import re
import typing

import pytest

from tests.knowledge.knowledge_support import APP_DIR, CHANGE_ACTIONS, LOOKUP_CSV, SPEC

from tools.spl.conf import parse_conf_file

SOURCETYPE = "openai:audit"


@pytest.fixture(scope="module")
def confs():
    return {name: parse_conf_file(str(APP_DIR / "default" / (name + ".conf")))
            for name in ("props", "transforms", "eventtypes", "tags")}


@pytest.fixture(scope="module")
def props(confs):
    return confs["props"][SOURCETYPE]


@pytest.fixture(scope="module")
def csv_header():
    return LOOKUP_CSV.read_text(encoding="utf-8").splitlines()[0].split(",")


def spec_event_types():
    import yaml
    doc = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    return doc["components"]["schemas"]["AuditLogEventType"]["enum"]


def sdk_event_types():
    # openai (pinned in requirements-dev.txt) types the list endpoint's event_types[] filter.
    from openai.types.admin.organization.audit_log_list_params import AuditLogListParams
    hint = typing.get_type_hints(AuditLogListParams)["event_types"]
    return list(typing.get_args(typing.get_args(hint)[0]))


# ------------------------------------------------------------------ parsing tier

def test_parsing_settings(props):
    assert props["KV_MODE"] == "json"
    assert props["SHOULD_LINEMERGE"].lower() in ("false", "0")
    assert props["TIME_FORMAT"] == "%s"
    assert not any(k.startswith("INDEXED_EXTRACTIONS") for k in props)
    assert props.get("AUTO_KV_JSON", "true").lower() in ("true", "1")
    assert int(props["MAX_TIMESTAMP_LOOKAHEAD"]) >= 10


def test_timestamp_is_found_wherever_effective_at_sits(props):
    from tools.openai_api_sim.generator import make_event
    prefix = re.compile(props["TIME_PREFIX"])
    lookahead = int(props["MAX_TIMESTAMP_LOOKAHEAD"])
    ev = make_event("role.updated", seed=5, effective_at=1764100800)
    layouts = [json.dumps(ev, separators=(",", ":")),            # as the modular input writes it
               json.dumps(ev, sort_keys=True),                   # keys reordered, spaces
               json.dumps({k: ev[k] for k in reversed(list(ev))}),
               json.dumps(ev, indent=None, separators=(", ", " : "))]
    for raw in layouts:
        m = prefix.search(raw)
        assert m, raw
        window = raw[m.end():m.end() + lookahead]
        assert re.match(r"\d+", window).group(0) == "1764100800", window


def test_line_breaker_gives_one_event_per_line(props):
    from tools.openai_api_sim.generator import corpus
    events = corpus(seed=2, effective_at=1764100800)[:40]
    text = "\r\n".join(json.dumps(e, separators=(",", ":")) for e in events) + "\n\n"
    breaker = re.compile(props["LINE_BREAKER"])
    assert breaker.groups >= 1  # Splunk discards the first capture group's text between events
    pieces, pos = [], 0
    for m in breaker.finditer(text):
        pieces.append(text[pos:m.start(1)])
        pos = m.end(1)
    pieces.append(text[pos:])
    pieces = [p for p in pieces if p.strip()]
    assert [json.loads(p) for p in pieces] == events
    assert props["EVENT_BREAKER"] == props["LINE_BREAKER"]


def test_truncate_keeps_the_largest_events_whole(props):
    from tools.openai_api_sim.generator import make_event
    limit = int(props["TRUNCATE"])
    # An allowlist of 5,120 single-address entries (~100 KB) is far beyond any real one.
    big = make_event("ip_allowlist.updated", seed=1, effective_at=1764100800,
                     payload={"id": "ipal_x", "allowed_ips": ["198.51.100.%d/32" % i for i in range(256)] * 20})
    size = len(json.dumps(big, separators=(",", ":")).encode())
    assert limit == 0 or limit > size, (limit, size)


# ------------------------------------------------------------------ search tier

def test_normalized_fields_never_overwrite_payload_fields(props):
    """Calculated fields and lookup outputs have plain names, so every dotted JSON field
    (role.updated.id, actor.session.ja4, ...) stays as KV_MODE=json extracted it."""
    outputs = [k[len("EVAL-"):] for k in props if k.startswith("EVAL-")]
    outputs += [k.split(" AS ")[-1].strip() for k in props if k.startswith("FIELDALIAS-")]
    lookup = props["LOOKUP-openai_audit_event_types"].split(" OUTPUT ")[1].split()
    for name in outputs + lookup:
        assert not re.search(r"[.{}]", name), name
    from tools.openai_api_sim.generator import corpus
    from tools.spl.knowledge import json_fields
    kv_names = set()
    for ev in corpus(seed=4, effective_at=1764100800):
        kv_names |= set(json_fields(json.dumps(ev)))
    # The only top-level JSON key replaced is the constant "object": "organization.audit_log".
    assert set(outputs + lookup) & kv_names == {"object"}


def test_account_regex_in_props_agrees_with_the_lookup(props, exact_map, event_type_rows):
    """EVALs run before lookups, so EVAL-user decides "account management" with its own regex:
    it must say yes exactly for the lookup's Account_Management rows (known types and families)."""
    account_rx, self_rx = re.findall(r'match\(type, "([^"]+)"\)', props["EVAL-user"])[:2]
    for t, row in exact_map.items():
        is_account = bool(re.search(account_rx, t))
        assert is_account == (row["cim_dataset"] == "Account_Management"), t
    for row in event_type_rows:
        if row["type"].endswith(".*"):
            probe = row["type"][:-1] + "something_new"
            assert bool(re.search(account_rx, probe)) == (row["cim_dataset"] == "Account_Management"), probe
    assert re.search(self_rx, "invite.accepted") and not re.search(self_rx, "invite.sent")


# ------------------------------------------------------------------ the event-type map

def test_every_spec_type_is_in_the_map(exact_map):
    types = spec_event_types()
    assert len(types) == 145
    assert sorted(set(types) - set(exact_map)) == []


def test_every_sdk_type_is_in_the_map(exact_map):
    types = sdk_event_types()
    assert len(types) == 149
    for newer in ("external_storage.registered", "external_storage.removed",
                  "tenant.trusted_access.business_verification.started",
                  "tenant.trusted_access.application.submitted"):
        assert newer in types
    assert sorted(set(types) - set(exact_map)) == []
    assert len(exact_map) == 149


def test_map_rows_are_consistent(event_type_rows):
    seen = set()
    for row in event_type_rows:
        t = row["type"]
        assert t not in seen, "duplicate row %s" % t
        seen.add(t)
        if t.startswith("logout."):
            # logouts are in no data model (docs/cim.md): no model, no dataset
            assert not row["cim_model"] and not row["cim_dataset"], t
            assert row["action"] in ("success", "failure"), t
        elif row["cim_model"] == "Authentication":
            assert row["cim_dataset"] == "Authentication" and row["action"] in ("success", "failure"), t
            assert t.startswith("login."), t
        else:
            assert row["cim_model"] == "Change", t
            assert row["cim_dataset"] in ("Auditing_Changes", "Account_Management", "Network_Changes"), t
            assert row["action"] in CHANGE_ACTIONS, t
        assert all(row[c] for c in row if c not in ("cim_model", "cim_dataset")), row
        assert row["severity"] in ("informational", "low", "medium", "high", "critical"), t
        assert '"' not in row["action"]
    for prefix in ("login.", "logout."):
        assert {r["action"] for r in event_type_rows if r["type"].startswith(prefix)} == {"success", "failure"}
    network = {r["type"] for r in event_type_rows if r["cim_dataset"] == "Network_Changes"}
    assert network and all(t.startswith(("ip_allowlist.", "tunnel.")) for t in network)


def test_object_category_is_user_exactly_on_account_management(app, event_type_rows):
    """CIM's validity rule for object_category: "user" exactly on account-tagged events, never a
    file/directory/registry category (All_Changes excludes those), never "unknown" (empty to
    pytest-splunk-addon). EVAL-object_category decides it from the type, so probe every row."""
    from tools.openai_api_sim.generator import make_event
    for row in event_type_rows:
        t = row["type"].replace("*", "something_new")
        fields = app.extract(make_event(t, seed=3, effective_at=1764100800))
        cat = fields["object_category"]
        assert (cat == "user") == (row["cim_dataset"] == "Account_Management"), t
        assert cat not in ("file", "directory", "registry", "unknown", ""), t
    # the classes the dashboards group by (docs/dashboards.md)
    for t, cat in (("tenant.admin_api_key.created", "api_key"), ("api_key.deleted", "api_key"),
                   ("tenant.chatgpt_access_token.revoked", "access_token"), ("certificates.activated", "certificate"),
                   ("ip_allowlist.config.activated", "ip_allowlist"), ("tenant.session_policy.updated", "policy"),
                   ("tenant.billing.alerts.updated", "billing"), ("tenant.workload_identity.binding.created",
                                                                  "workload_identity_binding"),
                   ("login.failed", "session"), ("vector_store.created", "vector_store"), ("tenant.x", "tenant")):
        assert app.extract(make_event(t, seed=3, effective_at=1764100800))["object_category"] == cat, t


def test_wildcard_rows_come_after_every_exact_row(event_type_rows, confs):
    """With max_matches = 1 the first matching row in file order wins: exact types first,
    then families, then verbs, and "*" last so nothing is left unmatched."""
    st = confs["transforms"]["openai_audit_event_types"]
    assert st["match_type"] == "WILDCARD(type)" and st["max_matches"] == "1"
    kinds = ["exact" if "*" not in r["type"] else ("any" if r["type"] == "*" else
             ("verb" if r["type"].startswith("*.") else "family")) for r in event_type_rows]
    order = {"exact": 0, "family": 1, "verb": 2, "any": 3}
    assert [order[k] for k in kinds] == sorted(order[k] for k in kinds)
    assert kinds[-1] == "any" and kinds.count("any") == 1


# ------------------------------------------------------------------ references

def test_lookup_declares_only_columns_the_csv_has(props, confs, csv_header):
    spec = props["LOOKUP-openai_audit_event_types"].split()
    assert spec[0] == "openai_audit_event_types"
    match_field, rest = spec[1], spec[2:]
    assert match_field in csv_header
    assert rest[0] == "OUTPUT"
    outputs = rest[1:]
    assert outputs and set(outputs) <= set(csv_header), set(outputs) - set(csv_header)
    st = confs["transforms"]["openai_audit_event_types"]
    assert (APP_DIR / "lookups" / st["filename"]).exists()
    assert re.fullmatch(r"WILDCARD\((\w+)\)", st["match_type"]).group(1) in csv_header


def test_tags_and_eventtypes_reference_each_other_only(confs, props):
    eventtypes = {n for n in confs["eventtypes"] if n != "default"}
    tagged = set()
    for stanza, keys in confs["tags"].items():
        field, value = stanza.split("=", 1)
        assert field == "eventtype" and value in eventtypes, stanza
        assert keys and all(v == "enabled" for v in keys.values()), stanza
        tagged.add(value)
    # logouts get an eventtype to find them by, and no tag: no CIM data model (docs/cim.md)
    assert eventtypes - tagged == {"openai_audit_logout"}
    lookup_outputs = set(props["LOOKUP-openai_audit_event_types"].split(" OUTPUT ")[1].split())
    for name in eventtypes:
        search = confs["eventtypes"][name]["search"]
        assert 'sourcetype="openai:audit"' in search
        fields = set(re.findall(r"(\w+)=", search)) - {"sourcetype"}
        assert fields <= lookup_outputs | {"type"}, (name, fields - lookup_outputs)
    expected_tags = {
        "openai_audit_authentication": {"authentication"},
        "openai_audit_change": {"change", "audit"},
        "openai_audit_account_management": {"change", "account"},
        "openai_audit_network_change": {"change", "network"},
    }
    assert {n: set(confs["tags"]["eventtype=" + n]) for n in tagged} == expected_tags


def test_each_eventtype_maps_to_one_data_model(confs):
    """pytest-splunk-addon's test_eventtype_mapped_multiple_cim_datamodel, statically."""
    from tests.knowledge.knowledge_support import DATASET_TAGS, OTHER_MODEL_TAGS
    for stanza, keys in confs["tags"].items():
        tags = set(keys)
        models = {d.split("_")[0] for d, need in DATASET_TAGS.items() if set(need) <= tags}
        models |= {m for m, sets in OTHER_MODEL_TAGS.items() if any(set(s) <= tags for s in sets)}
        assert len(models) == 1, (stanza, models)


def test_sample_conf_describes_every_sample_file():
    """pytest-splunk-addon-data.conf: one stanza per sample file, ingested as the modular input
    sends events (sourcetype openai:audit, requirement samples, _time from effective_at)."""
    from tests.knowledge.knowledge_support import SAMPLES_DIR
    conf = parse_conf_file(str(SAMPLES_DIR.parent / "pytest-splunk-addon-data.conf"))
    assert set(conf) == {p.name for p in SAMPLES_DIR.glob("*.xml")}
    for name, st in conf.items():
        assert st["sourcetype"] == st["sourcetype_to_search"] == SOURCETYPE, name
        assert st["input_type"] == "modinput" and st["requirement_test_sample"] == "1", name
        assert st["timestamp_type"] == "event" and st["token.0.field"] == "_time", name
        raw = (SAMPLES_DIR / name).read_text(encoding="utf-8")
        stamped = re.findall(st["token.0.token"], raw)
        assert stamped and len(stamped) == raw.count('"effective_at"'), name


def test_no_regex_reads_the_payload(props):
    """PCRE's MATCH_LIMIT / DEPTH_LIMIT (props.conf) cap a regex's work on a large event; the
    payload is read with the JSON eval functions instead, so the only regexes of the search-time
    knowledge are match()/replace() over the short `type` field."""
    assert not [k for k in props if k.startswith(("EXTRACT-", "REPORT-"))]
    for key, expr in props.items():
        if key.startswith("EVAL-"):
            for func, arg in re.findall(r"\b(match|replace)\(\s*([^,]+),", expr):
                assert arg.strip() == "type", (key, func, arg)


# The JSON functions of Splunk 9.0's Search Reference (Evaluation functions > JSON functions); the
# add-on supports Splunk 9.x, and later ones (json_delete, json_entries, json_has_key_exact) are not
# in 9.0.
SPLUNK_9_0_JSON_FUNCTIONS = {"json_object", "json", "json_append", "json_array", "json_array_to_mv",
                             "json_extend", "json_extract", "json_extract_exact", "json_keys", "json_set",
                             "json_set_exact", "json_valid"}


def test_json_functions_exist_in_splunk_9_0(props):
    used = set()
    for key, expr in props.items():
        if key.startswith("EVAL-"):
            used |= set(re.findall(r"\b(json\w*)\(", expr))
    assert used and used <= SPLUNK_9_0_JSON_FUNCTIONS, used - SPLUNK_9_0_JSON_FUNCTIONS
