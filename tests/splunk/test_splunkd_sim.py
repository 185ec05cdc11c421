"""The splunkd stand-in: its answers follow the REST API reference's shapes, and solnlib's real
conf manager, credential manager and KV store checkpointer work against it unchanged."""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import pytest
from solnlib import conf_manager, credentials
from solnlib.modular_input import checkpointer
from solnlib.soln_exceptions import ConfManagerException, ConfStanzaNotExistException

from tools.splunkd_sim import KV_INITIALIZING, SplunkdSim, credential_realm, password_entry_name

APP = "TA-openai-audit"
NS = "/servicesNS/nobody/%s/" % APP
ATOM = "{http://www.w3.org/2005/Atom}"
REST = "{http://dev.splunk.com/ns/rest}"


@pytest.fixture
def sd():
    with SplunkdSim(app=APP) as sim:
        yield sim


def call(sd, method, path, params=None, body=None, key=None, json_body=None):
    url = sd.uri + path
    data = None
    headers = {"Authorization": "Splunk " + (key or sd.session_key)}
    if method == "GET" and params:
        url += "?" + urllib.parse.urlencode(params)
    elif params:
        data = urllib.parse.urlencode(params).encode()
    if json_body is not None:
        data = json.dumps(json_body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.headers.get("Content-Type"), resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type"), err.read().decode()


def location(sd):
    return {"scheme": "http", "host": "127.0.0.1", "port": sd.port}


def test_requests_without_the_session_key_are_refused(sd):
    status, _ctype, body = call(sd, "GET", NS + "configs/conf-x", {"output_mode": "json"}, key="wrong")
    assert status == 401
    assert json.loads(body)["messages"][0]["text"] == "call not properly authenticated"
    status, ctype, body = call(sd, "GET", NS + "configs/conf-x", key="wrong")
    assert status == 401 and ctype.startswith("text/xml")
    assert ET.fromstring(body).find("messages/msg").get("type") == "WARN"


def test_conf_endpoint_atom_and_json_shapes(sd):
    sd.set_conf("myconf", "s1", {"k": "v"})
    sd.set_conf("myconf", "s2", {"k": "w"})
    status, ctype, body = call(sd, "GET", NS + "configs/conf-myconf")
    assert status == 200 and ctype.startswith("text/xml")
    feed = ET.fromstring(body)
    assert feed.tag == ATOM + "feed"
    assert feed.find("{http://a9.com/-/spec/opensearch/1.1/}totalResults").text == "2"
    entries = feed.findall(ATOM + "entry")
    assert [e.find(ATOM + "title").text for e in entries] == ["s1", "s2"]
    links = {l.get("rel"): l.get("href") for l in entries[0].findall(ATOM + "link")}
    assert links["alternate"] == NS + "configs/conf-myconf/s1" and {"list", "edit", "remove"} <= set(links)
    keys = {k.get("name"): k for k in entries[0].find(ATOM + "content").find(REST + "dict")}
    assert keys["k"].text == "v" and keys["eai:acl"].find(REST + "dict") is not None

    status, _ctype, body = call(sd, "GET", NS + "configs/conf-myconf", {"output_mode": "json", "count": 1, "offset": 1})
    doc = json.loads(body)
    assert doc["paging"] == {"total": 2, "perPage": 1, "offset": 1}
    assert [e["name"] for e in doc["entry"]] == ["s2"]
    assert doc["entry"][0]["acl"]["app"] == APP and doc["entry"][0]["content"]["k"] == "w"

    status, _ctype, body = call(sd, "GET", NS + "configs/conf-myconf/missing", {"output_mode": "json"})
    assert status == 404 and "missing" in json.loads(body)["messages"][0]["text"]
    status, _ctype, body = call(sd, "POST", NS + "configs/conf-myconf", {"name": "s1", "output_mode": "json"})
    assert status == 409
    status, _ctype, _body = call(sd, "POST", NS + "configs/conf-myconf", {"name": "s3", "k": "z"})
    assert status == 201 and sd.get_conf("myconf", "s3") == {"k": "z"}
    assert call(sd, "GET", NS + "properties/myconf")[0] == 200
    assert call(sd, "GET", NS + "properties/nosuch")[0] == 404


def test_storage_passwords_names_and_fields(sd):
    status, _ctype, body = call(sd, "POST", NS + "storage/passwords",
                                {"name": "us:er", "password": "s3cret", "realm": "my/realm", "output_mode": "json"})
    assert status == 201
    entry = json.loads(body)["entry"][0]
    assert entry["name"] == "my/realm:us\\:er:"
    content = entry["content"]
    assert content["clear_password"] == "s3cret" and content["password"] == "********"
    assert content["realm"] == "my/realm" and content["username"] == "us:er"
    assert content["encr_password"].startswith("$7$") and "s3cret" not in content["encr_password"]
    assert call(sd, "POST", NS + "storage/passwords", {"name": "us:er", "password": "x", "realm": "my/realm"})[0] == 409
    status, _ctype, body = call(sd, "GET", NS + "storage/passwords", {"output_mode": "json", "search": "realm=other"})
    assert json.loads(body)["entry"] == []
    name = urllib.parse.quote(password_entry_name("my/realm", "us:er"), safe="")
    assert call(sd, "DELETE", NS + "storage/passwords/" + name)[0] == 200
    assert sd.passwords() == {}


def test_kv_store_data_endpoints(sd):
    coll = NS + "storage/collections/"
    assert call(sd, "GET", coll + "config/c1")[0] == 404
    assert call(sd, "POST", coll + "config", {"name": "c1", "field.state": "string"})[0] == 201
    status, _ctype, body = call(sd, "POST", coll + "data/c1", json_body={"_key": "a/b", "state": "1"})
    assert status == 201 and json.loads(body) == {"_key": "a/b"}
    assert call(sd, "POST", coll + "data/c1", json_body={"_key": "a/b", "state": "2"})[0] == 409
    status, _ctype, body = call(sd, "POST", coll + "data/c1/batch_save",
                                json_body=[{"_key": "a/b", "state": "3"}, {"_key": "c", "state": "4"}])
    assert status == 200 and json.loads(body) == ["a/b", "c"]
    key = urllib.parse.quote("a/b", safe="")
    status, _ctype, body = call(sd, "GET", coll + "data/c1/" + key)
    assert json.loads(body)["state"] == "3"
    status, _ctype, body = call(sd, "GET", coll + "data/c1", {"query": json.dumps({"state": "4"})})
    assert [r["_key"] for r in json.loads(body)] == ["c"]
    assert call(sd, "DELETE", coll + "data/c1/" + key)[0] == 200
    assert call(sd, "GET", coll + "data/c1/" + key)[0] == 404
    assert call(sd, "GET", coll + "data/nosuch")[0] == 404


def test_kv_store_503_switch(sd):
    sd.create_collection("c1")
    sd.fail_kv_requests(1)
    status, _ctype, body = call(sd, "GET", NS + "storage/collections/data/c1", {"output_mode": "json"})
    assert status == 503 and json.loads(body)["messages"][0]["text"] == KV_INITIALIZING
    assert call(sd, "GET", NS + "storage/collections/data/c1")[0] == 200
    sd.set_kv_unavailable(True)
    assert call(sd, "GET", NS + "storage/collections/config")[0] == 503
    assert call(sd, "GET", NS + "configs/conf-x")[0] == 200  # only the KV store is starting
    sd.set_kv_unavailable(False)
    assert call(sd, "GET", NS + "storage/collections/config")[0] == 200


def test_solnlib_conf_manager_reads_accounts_and_settings(sd):
    sd.add_account("main", "sk-admin-" + "k" * 40, base_url="https://api.example/v1")
    sd.set_proxy(proxy_enabled="1", proxy_url="proxy.example", proxy_port="3128", proxy_password="pp-secret")
    sd.set_log_level("DEBUG")
    realm = credential_realm(APP, "ta_openai_audit_account")
    cfm = conf_manager.ConfManager(sd.session_key, APP, realm=realm, **location(sd))
    account = cfm.get_conf("ta_openai_audit_account").get("main")
    assert account["api_key"] == "sk-admin-" + "k" * 40 and account["base_url"] == "https://api.example/v1"
    assert account["eai:appName"] == APP
    with pytest.raises(ConfStanzaNotExistException):
        cfm.get_conf("ta_openai_audit_account").get("other")
    with pytest.raises(ConfManagerException):
        cfm.get_conf("no_such_conf")
    settings = conf_manager.ConfManager(sd.session_key, APP, realm=credential_realm(APP, "ta_openai_audit_settings"),
                                        **location(sd)).get_conf("ta_openai_audit_settings")
    assert settings.get("proxy")["proxy_password"] == "pp-secret"
    assert settings.get("logging")["loglevel"] == "DEBUG"

    # What UCC's handler does on save and delete: write and remove through solnlib.
    conf = cfm.get_conf("ta_openai_audit_account")
    conf.update("second", {"base_url": "https://b.example/v1", "api_key": "second-key-0123456789"}, ["api_key"])
    assert sd.get_conf("ta_openai_audit_account", "second")["api_key"] == "******"
    assert conf.get("second")["api_key"] == "second-key-0123456789"
    conf.delete("second")
    assert "second" not in sd.conf_stanzas("ta_openai_audit_account")
    assert all(not user.startswith("second") for (_realm, user) in sd.passwords())


def test_solnlib_credential_manager_long_password_is_chunked(sd):
    cm = credentials.CredentialManager(sd.session_key, APP, realm="r", **location(sd))
    cm.set_password("u", "p" * 600)  # splunkd stores at most 255 characters per entry
    assert cm.get_password("u") == "p" * 600
    assert len([1 for (realm, _u) in sd.passwords() if realm == "r"]) == 4  # 3 chunks + end mark
    cm.set_password("u", "short")
    assert cm.get_password("u") == "short"


def test_solnlib_kvstore_checkpointer(sd):
    ck = checkpointer.KVStoreCheckpointer("ta_openai_audit_checkpoints", sd.session_key, APP, **location(sd))
    key = "openai_audit_logs://main"
    assert ck.get(key) is None
    ck.update(key, {"high_water": 5})
    ck.update(key, {"high_water": 6})
    assert ck.get(key) == {"high_water": 6}
    assert json.loads(sd.kv_records("ta_openai_audit_checkpoints")[key]["state"]) == {"high_water": 6}
    ck.delete(key)
    ck.delete(key)  # deleting what is not there is not an error
    assert ck.get(key) is None
    raw = checkpointer.KVStoreCheckpointer("ta_openai_audit_checkpoints", sd.session_key, APP, **location(sd),
                                           max_retries=0)
    sd.fail_kv_requests(1)
    assert raw.get(key) is None  # solnlib retried after the 503
    assert sd.request_count("storage/collections/data", status=503) == 1
