"""The configuration and input pages as UCC builds them (output/.../globalConfig.json, where the
proxy and logging tabs are expanded to their fields): every field explains itself, and an
input's account cannot be changed on edit."""
import json
import re
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "output" / "TA-openai-audit"
BUILT = APP / "appserver" / "static" / "js" / "build" / "globalConfig.json"


@pytest.fixture(scope="module")
def config():
    if not BUILT.exists():
        pytest.fail("%s is missing: run `make package` first" % BUILT)
    return json.loads(BUILT.read_text(encoding="utf-8"))


def fields(config):
    for tab in config["pages"]["configuration"]["tabs"]:
        for entity in tab["entity"]:
            yield tab["name"], entity
    for service in config["pages"]["inputs"]["services"]:
        for entity in service["entity"]:
            yield service["name"], entity


def test_every_field_has_help(config):
    seen = [(page, e["field"]) for page, e in fields(config)]
    assert ("openai_audit_logs", "index") in seen and ("proxy", "proxy_port") in seen and ("logging", "loglevel") in seen
    assert [(page, e["field"]) for page, e in fields(config) if not (e.get("help") or "").strip()] == []


def test_the_account_of_an_input_is_fixed_once_created(config):
    (account,) = [e for page, e in fields(config) if page == "openai_audit_logs" and e["field"] == "account"]
    assert account["options"]["disableonEdit"] is True


def test_proxy_type_help_names_every_type_offered(config):
    (proxy_type,) = [e for page, e in fields(config) if e["field"] == "proxy_type"]
    offered = [o["value"] for o in proxy_type["options"]["autoCompleteFields"]]
    assert offered == ["http", "socks4", "socks5"]
    assert all(kind in proxy_type["help"] for kind in offered)


def test_configuring_accounts_proxy_and_inputs_needs_admin_all_objects():
    """globalConfig's capabilities blocks, as ucc-gen writes them into restmap.conf."""
    restmap = (APP / "default" / "restmap.conf").read_text(encoding="utf-8")
    stanzas = {m.group(1): m.group(2) for m in re.finditer(r"^\[([^\]]+)\]\n((?:(?!\[).*\n?)*)", restmap, re.M)}
    for stanza in ("admin:ta_openai_audit_configuration", "admin:ta_openai_audit_inputs"):
        granted = dict(re.findall(r"^capability\.(\w+) = (\S+)$", stanzas[stanza], re.M))
        assert granted == {m: "admin_all_objects" for m in ("get", "post", "put", "delete")}, stanza
