"""The list endpoint's contract: auth, parameters in both encodings, filters, order, cursors."""
from __future__ import annotations

import random

import pytest

from tools.openai_api_sim import ApiSim, DEFAULT_KEY, NO_PERMISSION_KEY
from tools.openai_api_sim.generator import (
    Org, make_event, service_account_actor, session_actor, user_key_actor,
)
from tests.tools.api_sim_fixtures import get, load_spec, order_key, page, validator_for, walk

T0 = 1_790_000_000
ORG = Org(users=50, projects=6, service_accounts=3)
ALICE, BOB = ORG.users[0], ORG.users[1]
P1, P2 = ORG.projects[1], ORG.projects[2]
SA = ORG.service_accounts[0]


def _events():
    """A hand-made set: 3 events per second for 40 seconds, plus known rows for each filter."""
    rng = random.Random(1)
    out = []
    for i in range(120):
        out.append(make_event("login.succeeded", rng=rng, org=ORG, effective_at=T0 - 1000 + i // 3,
                              actor=session_actor(ORG.users[5 + i % 20], "203.0.113.9"),
                              project=None))
    out.append(make_event("project.updated", rng=rng, org=ORG, effective_at=T0 - 500, project=P1,
                          actor=session_actor(ALICE, "203.0.113.10"),
                          payload={"id": P1["id"], "changes_requested": {"title": "x"}}))
    out.append(make_event("api_key.created", rng=rng, org=ORG, effective_at=T0 - 400, project=P2,
                          actor=user_key_actor(BOB),
                          payload={"id": "key_target0000000001", "data": {"scopes": []}}))
    out.append(make_event("service_account.created", rng=rng, org=ORG, effective_at=T0 - 300,
                          project=P2, actor=service_account_actor(SA),
                          payload={"id": "svc_acct_new", "data": {"role": "owner"}}))
    out.append(make_event("scim.disabled", rng=rng, org=ORG, effective_at=T0 - 200, project=None,
                          actor=None, payload={"id": "org-1"}))
    out.append(make_event("role.bound_to_resource", rng=rng, org=ORG, effective_at=T0 - 150,
                          project=None, actor=session_actor(ALICE, "203.0.113.10")))
    out.append(make_event("tenant.user.added", rng=rng, org=ORG, effective_at=T0 - 100,
                          project=None, actor=session_actor(ALICE, "203.0.113.10")))
    return out


EVENTS = _events()


@pytest.fixture(scope="module")
def sim():
    with ApiSim(events=EVENTS, seed=1) as s:
        yield s


def expected(pred=lambda e: True, tenant=False):
    from tools.openai_api_sim.generator import is_tenant_scoped
    sel = [e for e in EVENTS if is_tenant_scoped(e["type"]) == tenant and pred(e)]
    return sorted(sel, key=order_key, reverse=True)


def ids(events):
    return [e["id"] for e in events]


def test_envelope_order_and_default_limit(sim):
    body = page(sim)
    assert set(body) == {"object", "data", "first_id", "last_id", "has_more"}
    assert body["object"] == "list" and body["has_more"] is True
    exp = expected()
    assert ids(body["data"]) == ids(exp[:20])  # default limit 20, newest first, ties by id desc
    assert body["first_id"] == exp[0]["id"] and body["last_id"] == exp[19]["id"]
    validator_for(load_spec(), "ListAuditLogsResponse").validate(body)


def test_walk_after_returns_everything_once_in_order(sim):
    for limit in (1, 7, 100):
        got = walk(sim, limit=limit)
        assert ids(got) == ids(expected())


def test_ties_are_broken_by_id_descending(sim):
    body = page(sim, {"effective_at[gte]": T0 - 1000, "effective_at[lte]": T0 - 1000})
    assert len(body["data"]) == 3
    assert ids(body["data"]) == sorted(ids(body["data"]), reverse=True)


def test_before_returns_the_page_just_newer_still_newest_first(sim):
    exp = expected()
    anchor = exp[50]["id"]
    body = page(sim, {"before": anchor, "limit": 10})
    assert ids(body["data"]) == ids(exp[40:50]) and body["has_more"] is True
    body = page(sim, {"before": exp[3]["id"], "limit": 10})
    assert ids(body["data"]) == ids(exp[0:3]) and body["has_more"] is False
    # walking backwards with before=<first_id> rebuilds the whole list
    got, cursor = [], exp[-1]["id"]
    while True:
        body = page(sim, {"before": cursor, "limit": 9})
        got = body["data"] + got
        if not body["has_more"]:
            break
        cursor = body["first_id"]
    assert ids(got) == ids(exp[:-1])


def test_after_the_last_item_is_an_empty_page_with_null_ids(sim):
    body = page(sim, {"after": expected()[-1]["id"]})
    assert body == {"object": "list", "data": [], "first_id": None, "last_id": None,
                    "has_more": False}


@pytest.mark.parametrize("op,value,pred", [
    ("gt", T0 - 990, lambda e: e["effective_at"] > T0 - 990),
    ("gte", T0 - 990, lambda e: e["effective_at"] >= T0 - 990),
    ("lt", T0 - 990, lambda e: e["effective_at"] < T0 - 990),
    ("lte", T0 - 990, lambda e: e["effective_at"] <= T0 - 990),
])
def test_effective_at_bounds_in_both_encodings(sim, op, value, pred):
    exp = ids(expected(pred))
    assert exp and len(exp) < len(EVENTS)
    raw = page(sim, raw_query="effective_at[%s]=%d&limit=100" % (op, value))
    enc = page(sim, raw_query="effective_at%%5B%s%%5D=%d&limit=100" % (op, value))
    assert ids(raw["data"]) == ids(enc["data"]) == exp


def test_combined_window(sim):
    got = walk(sim, {"effective_at[gte]": T0 - 995, "effective_at[lt]": T0 - 300}, limit=5)
    assert ids(got) == ids(expected(lambda e: T0 - 995 <= e["effective_at"] < T0 - 300))


@pytest.mark.parametrize("query,pred", [
    ("project_ids[]=%s" % P1["id"], lambda e: e.get("project", {}).get("id") == P1["id"]),
    ("project_ids[]=%s&project_ids[]=%s" % (P1["id"], P2["id"]),
     lambda e: e.get("project", {}).get("id") in (P1["id"], P2["id"])),
    ("event_types[]=scim.disabled&event_types[]=api_key.created",
     lambda e: e["type"] in ("scim.disabled", "api_key.created")),
    ("actor_ids[]=%s" % ALICE["id"], lambda e: "ALICE" in _who(e)),
    ("actor_ids[]=%s" % SA["id"], lambda e: "SA" in _who(e)),
    ("actor_ids[]=%s" % Org.api_key_id(BOB["id"]), lambda e: "BOB" in _who(e)),
    ("actor_emails[]=%s&actor_emails[]=%s" % (ALICE["email"], BOB["email"]),
     lambda e: {"ALICE", "BOB"} & _who(e)),
    ("resource_ids[]=key_target0000000001", lambda e: e["type"] == "api_key.created"),
    ("resource_ids[]=%s" % P1["id"], lambda e: e["type"] == "project.updated"),
])
def test_array_filters_in_both_encodings(sim, query, pred):
    exp = ids(expected(pred))
    assert exp
    enc = query.replace("[]", "%5B%5D")
    assert ids(page(sim, raw_query=query + "&limit=100")["data"]) == exp
    assert ids(page(sim, raw_query=enc + "&limit=100")["data"]) == exp


def _who(e):
    a = e.get("actor") or {}
    s = (a.get("session") or {}).get("user", {}).get("id")
    k = a.get("api_key") or {}
    out = set()
    if s == ALICE["id"]:
        out.add("ALICE")
    if k.get("user", {}).get("id") == BOB["id"]:
        out.add("BOB")
    if k.get("service_account", {}).get("id") == SA["id"]:
        out.add("SA")
    return out


def test_tenant_only_splits_the_streams(sim):
    tenant = page(sim, {"tenant_only": "true", "limit": 100})["data"]
    assert ids(tenant) == ids(expected(tenant=True)) and len(tenant) == 2
    default = walk(sim)
    assert not {e["type"] for e in default} & {"role.bound_to_resource", "tenant.user.added"}
    assert ids(page(sim, {"tenant_only": "false", "limit": 100})["data"]) == ids(default[:100])
    only = page(sim, {"tenant_only": "true", "event_types[]": "tenant.user.added"})["data"]
    assert ids(only) == ids(expected(lambda e: e["type"] == "tenant.user.added", tenant=True))


def _assert_error(r, status, param=None):
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["message"]
    validator_for(load_spec(), "ErrorResponse").validate(r.json())
    if param:
        assert err["param"] == param
    return err


def test_tenant_only_with_a_non_tenant_type_is_400(sim):
    r = get(sim, {"tenant_only": "true", "event_types[]": ["tenant.user.added", "scim.disabled"]})
    assert "scim.disabled" in _assert_error(r, 400, "event_types")["message"]


@pytest.mark.parametrize("limit,status,count", [
    ("1", 200, 1), ("100", 200, 100), ("0", 400, None), ("101", 400, None), ("-5", 400, None),
    ("abc", 400, None),
])
def test_limit_bounds(sim, limit, status, count):
    r = get(sim, raw_query="limit=" + limit)
    if status == 200:
        assert r.status_code == 200 and len(r.json()["data"]) == count
    else:
        _assert_error(r, 400, "limit")


def test_other_bad_parameters_are_400(sim):
    _assert_error(get(sim, {"effective_at[gte]": "yesterday"}), 400, "effective_at[gte]")
    _assert_error(get(sim, {"after": "audit_log-doesnotexist0000000000"}), 400, "after")
    _assert_error(get(sim, {"tenant_only": "maybe"}), 400, "tenant_only")
    _assert_error(get(sim, {"colour": "blue"}), 400, "colour")


def test_auth(sim):
    err = _assert_error(get(sim, key=None), 401)
    err = _assert_error(get(sim, key="sk-admin-wrongwrongwrongwrongwrongwrongwrongwrongwrong1234"), 401)
    assert err["code"] == "invalid_api_key" and "wrongwrongwrong" not in err["message"]
    _assert_error(get(sim, key=NO_PERMISSION_KEY), 403)
    assert get(sim, key=DEFAULT_KEY).status_code == 200


def test_a_custom_key_and_no_permission_set():
    with ApiSim(events=EVENTS[:3], key="sk-admin-custom", no_permission_keys=["sk-admin-ro"]) as s:
        assert get(s, key="sk-admin-custom").status_code == 200
        assert get(s, key=DEFAULT_KEY).status_code == 401
        assert get(s, key="sk-admin-ro").status_code == 403


def test_add_events_rejects_bad_input_and_keeps_what_it_had(sim):
    before = len(sim.store)
    with pytest.raises(ValueError):
        sim.add_events([make_event("scim.enabled", seed=99, effective_at=T0), EVENTS[0]])
    with pytest.raises(ValueError):
        sim.add_events([{"id": "audit_log-x", "type": "scim.enabled", "effective_at": "soon"}])
    assert len(sim.store) == before


def test_non_ascii_goes_out_as_raw_utf8():
    ev = make_event("project.updated", seed=3, effective_at=T0, actor=None,
                    project={"id": "proj_cafe", "name": "Café-bot ☕"},
                    payload={"id": "proj_cafe", "changes_requested": {"title": "Café-bot ☕"}})
    with ApiSim(events=[ev]) as s:
        r = get(s)
        assert "Café-bot ☕".encode("utf-8") in r.content
        assert r.json()["data"][0]["project"]["name"] == "Café-bot ☕"
