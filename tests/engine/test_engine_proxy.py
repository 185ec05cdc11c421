"""Proxy URL from UCC's proxy tab, and how the client wires proxy and CA bundle into its session."""
from __future__ import annotations

import pytest

from ta_openai_audit.client import AuditLogClient
from ta_openai_audit.errors import ConfigurationError
from ta_openai_audit.proxy import proxy_url_from_settings, redact_proxy_url

KEY = "sk-admin-" + "ProxyTestKey0123456789abcdefghijklmnopqrstuvwxyzABCD"


def stanza(**fields):
    base = {"proxy_enabled": "1", "proxy_type": "http", "proxy_url": "proxy.corp.example", "proxy_port": "3128"}
    base.update(fields)
    return base


@pytest.mark.parametrize(
    "fields, expected",
    [
        ({}, "http://proxy.corp.example:3128"),
        ({"proxy_rdns": "1"}, "http://proxy.corp.example:3128"),
        ({"proxy_type": "socks5"}, "socks5://proxy.corp.example:3128"),
        ({"proxy_type": "socks5", "proxy_rdns": "1"}, "socks5h://proxy.corp.example:3128"),
        ({"proxy_type": "socks4", "proxy_rdns": "1"}, "socks4a://proxy.corp.example:3128"),
        ({"proxy_type": "socks4"}, "socks4://proxy.corp.example:3128"),
        ({"proxy_url": "10.1.2.3"}, "http://10.1.2.3:3128"),
        ({"proxy_url": "fd00::1"}, "http://[fd00::1]:3128"),
        ({"proxy_username": "svc", "proxy_password": "p@ss:w/rd%#?"},
         "http://svc:p%40ss%3Aw%2Frd%25%23%3F@proxy.corp.example:3128"),
        ({"proxy_username": "dom\\user@corp", "proxy_password": "x", "proxy_type": "socks5", "proxy_rdns": "1"},
         "socks5h://dom%5Cuser%40corp:x@proxy.corp.example:3128"),
        ({"proxy_username": "svc"}, "http://svc@proxy.corp.example:3128"),
    ],
)
def test_proxy_url(fields, expected):
    assert proxy_url_from_settings(stanza(**fields)) == expected


@pytest.mark.parametrize("enabled", [None, "", "0", "false"])
def test_disabled_proxy_gives_none(enabled):
    assert proxy_url_from_settings(stanza(proxy_enabled=enabled)) is None
    assert proxy_url_from_settings(None) is None


@pytest.mark.parametrize(
    "fields, words",
    [
        ({"proxy_type": "https"}, "proxy_type: 'https' is not supported"),
        ({"proxy_url": ""}, "proxy_url (the proxy host) is empty"),
        ({"proxy_url": "http://proxy:3128"}, "host name or IP address only"),
        ({"proxy_url": "pro xy"}, "is not a host name"),
        ({"proxy_port": ""}, "proxy_port: '' is not a port number"),
        ({"proxy_port": "70000"}, "proxy_port: 70000 is not a port number"),
        ({"proxy_password": "s3cr3t-pw"}, "proxy_password is set but proxy_username is empty"),
    ],
)
def test_bad_proxy_settings(fields, words):
    with pytest.raises(ConfigurationError) as info:
        proxy_url_from_settings(stanza(**fields))
    assert words in str(info.value)
    assert "s3cr3t-pw" not in str(info.value)


def test_redact_proxy_url():
    assert redact_proxy_url("socks5h://svc:p%40ss@proxy:1080") == "socks5h://svc:***@proxy:1080"
    assert redact_proxy_url("http://proxy:3128") == "http://proxy:3128"


@pytest.mark.parametrize("proxy", ["http://svc:pw@proxy.corp:3128", "socks5h://proxy.corp:1080"])
def test_session_uses_proxy_for_both_schemes(proxy):
    client = AuditLogClient("https://api.openai.com/v1", KEY, proxy_url=proxy)
    assert client.session.proxies == {"http": proxy, "https": proxy}
    assert client.session.trust_env is False  # environment proxies / netrc / REQUESTS_CA_BUNDLE ignored
    assert "pw@" not in repr(client)


def test_no_proxy_means_direct():
    client = AuditLogClient("https://api.openai.com/v1", KEY)
    assert client.session.proxies == {}


def test_ca_bundle_is_wired_and_verification_stays_on(tmp_path):
    bundle = tmp_path / "corp-ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
    client = AuditLogClient("https://api.openai.com/v1", KEY, ca_bundle=str(bundle))
    assert client.session.verify == str(bundle)
    plain = AuditLogClient("https://api.openai.com/v1", KEY, ca_bundle="")
    assert plain.session.verify is True


def test_verify_is_passed_on_every_request(eng, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("x")
    api = eng.FakeApi([eng.make_event(1, eng.NOW)])
    client = eng.make_client(api, ca_bundle=str(bundle), proxy_url="http://proxy.corp:3128")
    list(client.pages({}))
    assert api.send_kwargs[0]["verify"] == str(bundle)
    assert api.send_kwargs[0]["proxies"]["https"] == "http://proxy.corp:3128"
    client2 = eng.make_client(eng.FakeApi([]))
    list(client2.pages({}))
    assert client2.session.adapters["https://"].send_kwargs[0]["verify"] is True


def test_missing_ca_bundle_is_a_configuration_error(tmp_path):
    with pytest.raises(ConfigurationError) as info:
        AuditLogClient("https://api.openai.com/v1", KEY, ca_bundle=str(tmp_path / "nope.pem"))
    assert "does not exist" in str(info.value)


def test_socks_proxy_is_usable_by_requests():
    # The vendored lib ships PySocks; without it requests refuses socks:// (InvalidSchema).
    import socks  # noqa: F401
    from requests.adapters import HTTPAdapter

    adapter = HTTPAdapter()
    manager = adapter.proxy_manager_for("socks5h://proxy.corp:1080")
    assert type(manager).__name__ == "SOCKSProxyManager"
