"""The account tab's REST handler (built ta_openai_audit_rh_account.py with AccountHandler), run as
a process against the splunkd and API stand-ins: an account is saved only when its key can read
the audit log, and a refusal says why and stores nothing."""
from __future__ import annotations

import json
import socket

from tools.openai_api_sim import DEFAULT_KEY, NO_PERMISSION_KEY, ApiSim
from tools.splunkd_sim import credential_realm

RH = "ta_openai_audit_rh_account.py"
CONF = "ta_openai_audit_account"
REALM = credential_realm("TA-openai-audit", CONF)
WRONG_KEY = "sk-admin-WrongKeyForTheAccountCheck0123456789abcdef"


def stored_key(splunkd, name):
    blob = "".join(v for (realm, user), v in sorted(splunkd.passwords().items())
                   if realm == REALM and user.startswith(name + "``splunk_cred_sep``") and not v.startswith("``"))
    return json.loads(blob)["api_key"] if blob else None


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_working_key_is_saved_encrypted(harness):
    with ApiSim(events=[], seed=1) as api:
        response = harness.rest(RH, "create", "main", {"api_key": DEFAULT_KEY, "base_url": api.base_url})
        assert response["status"] == 200, response
        assert api.stats()["requests"] == 1  # the one limit=1 check
        stanza = harness.splunkd.get_conf(CONF, "main")
        assert stanza["api_key"] == "******" and stanza["base_url"] == api.base_url
        assert stored_key(harness.splunkd, "main") == DEFAULT_KEY
        assert response["entries"]["main"]["api_key"] == "******"


def test_refusals_say_why_and_store_nothing(harness):
    with ApiSim(events=[], seed=1) as api:
        cases = [
            ({"api_key": WRONG_KEY, "base_url": api.base_url}, "401"),
            ({"api_key": NO_PERMISSION_KEY, "base_url": api.base_url}, "Audit Logs: Read"),
            ({"api_key": DEFAULT_KEY, "base_url": "http://127.0.0.1:%d/v1" % closed_port()}, "connection"),
            ({"api_key": DEFAULT_KEY, "base_url": "http://api.example.com/v1"}, "https"),
            ({"api_key": DEFAULT_KEY, "base_url": api.base_url, "ca_bundle_path": "/nonexistent/ca.pem"}, "CA bundle"),
        ]
        for data, why in cases:
            response = harness.rest(RH, "create", "main", data)
            assert response["status"] == 400, (data, response)
            assert response["message"].startswith("The account was not saved: ") and why in response["message"], response
            assert data["api_key"] not in response["message"]
        assert harness.splunkd.conf_stanzas(CONF) == {}
        assert harness.splunkd.passwords() == {}


def test_edit_checks_the_stored_key_or_the_new_one(harness):
    with ApiSim(events=[], seed=1) as api:
        assert harness.rest(RH, "create", "main", {"api_key": DEFAULT_KEY, "base_url": api.base_url})["status"] == 200
        # An edit that leaves the key alone is checked with the stored key.
        before = api.stats()["requests"]
        kept = harness.rest(RH, "edit", "main", {"base_url": api.base_url + "/"})
        assert kept["status"] == 200, kept
        assert api.stats()["requests"] == before + 1
        # A new key that does not work is refused and the stored one stays.
        refused = harness.rest(RH, "edit", "main", {"api_key": WRONG_KEY, "base_url": api.base_url})
        assert refused["status"] == 400 and "401" in refused["message"]
        assert stored_key(harness.splunkd, "main") == DEFAULT_KEY


def test_an_account_inputs_still_read_with_cannot_be_deleted(harness):
    with ApiSim(events=[], seed=1) as api:
        for name in ("main", "other"):
            assert harness.rest(RH, "create", name, {"api_key": DEFAULT_KEY, "base_url": api.base_url})["status"] == 200
    harness.splunkd.add_input("openai_audit_logs", "prod_b", {"account": "main", "disabled": "1"})
    harness.splunkd.add_input("openai_audit_logs", "prod_a", {"account": "main"})
    harness.splunkd.add_input("openai_audit_logs", "lab", {"account": "other"})
    harness.splunkd.set_conf("inputs", "monitor:///var/log/x.log", {"account": "main"})  # not ours

    refused = harness.rest(RH, "remove", "main")
    assert refused["status"] == 409, refused
    assert "The account main was not deleted: the inputs prod_a, prod_b still read with it" in refused["message"]
    assert "lab" not in refused["message"] and "x.log" not in refused["message"]
    assert harness.splunkd.get_conf(CONF, "main") is not None and stored_key(harness.splunkd, "main") == DEFAULT_KEY

    harness.splunkd.set_conf("inputs", "openai_audit_logs://prod_a", {"account": "other"})
    refused = harness.rest(RH, "remove", "main")
    assert refused["status"] == 409 and "the input prod_b still reads with it" in refused["message"], refused

    harness.splunkd.set_conf("inputs", "openai_audit_logs://prod_b", {"account": "other"})
    removed = harness.rest(RH, "remove", "main")
    assert removed["status"] == 200, removed
    assert harness.splunkd.get_conf(CONF, "main") is None and stored_key(harness.splunkd, "main") is None
    assert harness.splunkd.get_conf(CONF, "other") is not None
