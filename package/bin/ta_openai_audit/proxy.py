"""Build a requests proxy URL from UCC's proxy tab (stanza ``[proxy]`` of ta_openai_audit_settings)."""
from __future__ import annotations

import ipaddress
import re
from typing import Any, Mapping, Optional
from urllib.parse import quote

from .errors import ConfigurationError
from .settings import parse_bool

_HOST_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9\-_.]*[A-Za-z0-9])?$")


def proxy_url_from_settings(stanza: Optional[Mapping[str, Any]]) -> Optional[str]:
    """Return e.g. ``socks5h://user:p%40ss@proxy.corp:1080``, or None when the proxy is off.

    Remote DNS (``proxy_rdns``) selects socks5h/socks4a so the proxy resolves api.openai.com;
    an http proxy always resolves names itself. User name and password are percent-quoted, so
    characters such as ``@ : /`` in a password cannot break the URL. Messages never include the
    password.
    """
    if not stanza or not parse_bool(stanza.get("proxy_enabled"), "proxy_enabled"):
        return None
    proxy_type = str(stanza.get("proxy_type") or "http").strip().lower()
    if proxy_type not in ("http", "socks4", "socks5"):
        raise ConfigurationError(
            "proxy_type: %r is not supported: use http, socks4 or socks5" % (proxy_type,)
        )
    host = str(stanza.get("proxy_url") or "").strip()
    if not host:
        raise ConfigurationError("proxy is enabled but proxy_url (the proxy host) is empty")
    if "://" in host or "/" in host or "@" in host:
        raise ConfigurationError(
            "proxy_url must be the proxy host name or IP address only (no scheme, user or path)"
        )
    host_part = _host_for_url(host)
    port_text = str(stanza.get("proxy_port") or "").strip()
    try:
        port = int(port_text)
    except ValueError:
        raise ConfigurationError("proxy_port: %r is not a port number (1-65535)" % (port_text,)) from None
    if not 1 <= port <= 65535:
        raise ConfigurationError("proxy_port: %d is not a port number (1-65535)" % port)
    rdns = parse_bool(stanza.get("proxy_rdns"), "proxy_rdns")
    scheme = {"http": "http", "socks4": "socks4a" if rdns else "socks4", "socks5": "socks5h" if rdns else "socks5"}[
        proxy_type
    ]
    username = stanza.get("proxy_username") or ""
    password = stanza.get("proxy_password") or ""
    credentials = ""
    if username:
        credentials = quote(str(username), safe="")
        if password:
            credentials += ":" + quote(str(password), safe="")
        credentials += "@"
    elif password:
        raise ConfigurationError("proxy_password is set but proxy_username is empty")
    return "%s://%s%s:%d" % (scheme, credentials, host_part, port)


def _host_for_url(host: str) -> str:
    candidate = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        addr = ipaddress.ip_address(candidate)
    except ValueError:
        if not _HOST_RE.match(host):
            raise ConfigurationError("proxy_url: %r is not a host name or IP address" % (host,)) from None
        return host
    return "[%s]" % addr if addr.version == 6 else str(addr)


def redact_proxy_url(url: Optional[str]) -> Optional[str]:
    """The proxy URL with the password replaced, for log lines."""
    if not url:
        return url
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)
