"""A loopback stand-in for the part of splunkd's REST API the add-on uses.

Written from the Splunk REST API reference (REST API Reference Manual: "KV store endpoint
descriptions" and "KV store endpoint examples", "Configuration endpoint descriptions" for
configs/conf-* and properties, "Access endpoint descriptions" for storage/passwords; REST API User
Manual for namespaces, Atom responses and output_mode), not from what the add-on happens to send:

- Authentication: every request carries ``Authorization: Splunk <session key>``; anything
  else gets 401 "call not properly authenticated".
- Namespaces: ``/services/<endpoint>`` and ``/servicesNS/<owner>/<app>/<endpoint>``; objects
  live in an app; ``-`` as the app means every app.
- Entity endpoints answer Atom XML, or JSON with ``output_mode=json`` (see atom.py), and take
  ``count`` (default 30, 0 or -1 = all), ``offset`` and ``search`` (``field=value`` terms or
  bare terms, wildcards with ``*``) on list requests:
  * ``configs/conf-<file>``: list, create (POST name=...), ``/<stanza>`` get, update (POST),
    delete; ``/_reload``. A missing stanza is 404; a missing file lists empty.
  * ``properties`` / ``properties/<file>`` / ``properties/<file>/<stanza>``: a missing file is
    404 (the way clients ask whether a conf file exists).
  * ``storage/passwords``: list, create (POST name, password, realm; 409 when it exists),
    ``/<realm>:<user>:`` get, update (POST password), delete. Entries carry ``clear_password``,
    ``encr_password``, ``password`` (masked), ``realm`` and ``username``; a ``:`` inside the
    realm or the user name is escaped as ``\\:`` in the entry name.
  * ``data/inputs/<kind>``: list, create, ``/<name>`` get, edit, delete, ``/disable``,
    ``/enable`` (stored as the ``<kind>://<name>`` stanzas of inputs.conf).
  * ``storage/collections/config``: list, create (POST name, field.<f>=<type>),
    ``/<collection>`` get, delete.
- KV store data (``storage/collections/data/<collection>``) is plain JSON: GET with
  ``query`` (equality on top-level fields), ``limit``, ``skip``; POST inserts (201
  ``{"_key": ...}``); ``/<key>`` GET / POST (replace) / DELETE; ``/batch_save`` POST of a JSON
  array upserts and returns the keys; DELETE on the collection removes what ``query`` matches.
- A switchable 503 "KV Store is initializing" for every storage/collections request, the way
  splunkd answers while the KV store starts.

Errors are ``{"messages": [{"type": "ERROR", "text": ...}]}`` (JSON) or
``<response><messages><msg type="ERROR">`` (XML), as splunkd sends them.
"""
from __future__ import annotations

import fnmatch
import hashlib
import base64
import json
import secrets
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, unquote, urlsplit

from . import atom

APP = "TA-openai-audit"
ACCOUNT_CONF = "ta_openai_audit_account"
SETTINGS_CONF = "ta_openai_audit_settings"
# How UCC's REST handler stores an encrypted field: solnlib's credential manager writes the
# JSON of the encrypted fields under this realm, user "<stanza>``splunk_cred_sep``1", followed
# by an end mark entry; the conf file keeps "******" in place of the value.
CRED_SEP = "``splunk_cred_sep``"
CRED_END_MARK = "".join(CRED_SEP + c for c in "SPLUNK") + CRED_SEP
ENCRYPTED_PLACEHOLDER = "******"
KV_INITIALIZING = "KV Store is initializing. Please try again later."


def credential_realm(app: str, conf: str) -> str:
    return "__REST_CREDENTIAL__#%s#configs/conf-%s" % (app, conf)


def _escape_colon(text: str) -> str:
    return text.replace(":", "\\:")


def password_entry_name(realm: str, username: str) -> str:
    return "%s:%s:" % (_escape_colon(realm), _escape_colon(username))


class HttpError(Exception):
    def __init__(self, status: int, text: str, msg_type: str = "ERROR"):
        super().__init__(text)
        self.status = status
        self.text = text
        self.msg_type = msg_type


class SplunkdSim:
    """In-memory splunkd REST stand-in on 127.0.0.1 (plain HTTP).

    ``with SplunkdSim() as sd: sd.uri, sd.session_key`` -- then the helpers below to put
    accounts, settings and inputs in place and to read the KV store back.
    """

    def __init__(self, app: str = APP, session_key: Optional[str] = None, port: int = 0,
                 request_timeout: float = 30.0):
        self.app = app
        self.session_key = session_key or secrets.token_hex(16)
        self._port = port
        self._request_timeout = request_timeout
        self._lock = threading.RLock()
        # app -> conf file -> stanza -> {key: value}
        self._confs: Dict[str, Dict[str, Dict[str, Dict[str, str]]]] = {}
        # app -> (realm, username) -> clear password
        self._passwords: Dict[str, Dict[Tuple[str, str], str]] = {}
        # app -> collection -> {"fields": {...}, "data": {key: record}}
        self._kv: Dict[str, Dict[str, Dict[str, Any]]] = {}
        self._kv_unavailable = False
        self._kv_fail_next = 0
        self.requests: List[Tuple[str, str, int]] = []
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None

    # ---------------------------------------------------------------------------- lifecycle
    def start(self) -> "SplunkdSim":
        sim = self

        class Handler(_Handler):
            pass

        Handler.sim = sim
        Handler.timeout = self._request_timeout
        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="splunkd-sim", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "SplunkdSim":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return self._server.server_address[1]

    @property
    def uri(self) -> str:
        return "http://127.0.0.1:%d" % self.port

    # ------------------------------------------------------------------------------ helpers
    def set_conf(self, conf: str, stanza: str, values: Dict[str, Any], app: Optional[str] = None) -> None:
        with self._lock:
            st = self._confs.setdefault(app or self.app, {}).setdefault(conf, {}).setdefault(stanza, {})
            st.update({k: _str(v) for k, v in values.items()})

    def get_conf(self, conf: str, stanza: str, app: Optional[str] = None) -> Optional[Dict[str, str]]:
        with self._lock:
            st = self._confs.get(app or self.app, {}).get(conf, {}).get(stanza)
            return dict(st) if st is not None else None

    def conf_stanzas(self, conf: str, app: Optional[str] = None) -> Dict[str, Dict[str, str]]:
        with self._lock:
            return {k: dict(v) for k, v in self._confs.get(app or self.app, {}).get(conf, {}).items()}

    def set_password(self, realm: str, username: str, password: str, app: Optional[str] = None) -> None:
        with self._lock:
            self._passwords.setdefault(app or self.app, {})[(realm, username)] = password

    def passwords(self, app: Optional[str] = None) -> Dict[Tuple[str, str], str]:
        with self._lock:
            return dict(self._passwords.get(app or self.app, {}))

    def set_encrypted_fields(self, conf: str, stanza: str, fields: Dict[str, str],
                             app: Optional[str] = None) -> None:
        """Store fields the way UCC stores a globalConfig field marked encrypted."""
        app = app or self.app
        realm = credential_realm(app, conf)
        blob = json.dumps(fields)
        with self._lock:
            store = self._passwords.setdefault(app, {})
            for key in [k for k in store if k[0] == realm and k[1].split(CRED_SEP)[0] == stanza]:
                del store[key]
            chunks = [blob[i:i + 255] for i in range(0, len(blob), 255)]
            for i, chunk in enumerate(chunks, start=1):
                store[(realm, "%s%s%d" % (stanza, CRED_SEP, i))] = chunk
            store[(realm, "%s%s%d" % (stanza, CRED_SEP, len(chunks) + 1))] = CRED_END_MARK
        self.set_conf(conf, stanza, {k: ENCRYPTED_PLACEHOLDER for k in fields}, app=app)

    def add_account(self, name: str, api_key: str, base_url: str = "https://api.openai.com/v1",
                    ca_bundle_path: str = "") -> None:
        self.set_conf(ACCOUNT_CONF, name, {"base_url": base_url, "ca_bundle_path": ca_bundle_path})
        self.set_encrypted_fields(ACCOUNT_CONF, name, {"api_key": api_key})

    def set_log_level(self, level: str) -> None:
        self.set_conf(SETTINGS_CONF, "logging", {"loglevel": level})

    def set_proxy(self, **values: Any) -> None:
        password = values.pop("proxy_password", None)
        self.set_conf(SETTINGS_CONF, "proxy", values)
        if password:
            self.set_encrypted_fields(SETTINGS_CONF, "proxy", {"proxy_password": password})

    def add_input(self, kind: str, name: str, params: Dict[str, Any]) -> None:
        self.set_conf("inputs", "%s://%s" % (kind, name), params)

    def inputs(self, kind: str) -> Dict[str, Dict[str, str]]:
        prefix = kind + "://"
        return {k[len(prefix):]: v for k, v in self.conf_stanzas("inputs").items() if k.startswith(prefix)}

    def create_collection(self, name: str, fields: Optional[Dict[str, str]] = None,
                          app: Optional[str] = None) -> None:
        with self._lock:
            self._kv.setdefault(app or self.app, {}).setdefault(
                name, {"fields": dict(fields or {}), "data": {}})

    def kv_records(self, collection: str, app: Optional[str] = None) -> Dict[str, Dict[str, Any]]:
        with self._lock:
            coll = self._kv.get(app or self.app, {}).get(collection)
            return {} if coll is None else json.loads(json.dumps(coll["data"]))

    def kv_put(self, collection: str, record: Dict[str, Any], app: Optional[str] = None) -> None:
        with self._lock:
            self.create_collection(collection, app=app)
            rec = dict(record, _user="nobody")
            self._kv[app or self.app][collection]["data"][rec["_key"]] = rec

    def set_kv_unavailable(self, unavailable: bool = True) -> None:
        """While set, every storage/collections request answers 503 (KV store starting)."""
        with self._lock:
            self._kv_unavailable = unavailable

    def fail_kv_requests(self, count: int) -> None:
        """The next ``count`` storage/collections requests answer 503, then it recovers."""
        with self._lock:
            self._kv_fail_next = count

    def request_count(self, path_part: str = "", status: Optional[int] = None) -> int:
        with self._lock:
            return sum(1 for _m, p, s in self.requests
                       if path_part in p and (status is None or s == status))

    # ----------------------------------------------------------------------------- dispatch
    def handle(self, method: str, raw_path: str, headers: Any, body: bytes) -> Tuple[int, str, bytes]:
        parts = urlsplit(raw_path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        params = dict(query)
        ctype = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        json_body: Any = None
        if body:
            if ctype == "application/json":
                try:
                    json_body = json.loads(body.decode("utf-8"))
                except ValueError:
                    json_body = _INVALID
            else:
                form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
                params.update({k: v[-1] for k, v in form.items()})
        want_json = params.get("output_mode") == "json"
        try:
            self._authenticate(headers)
            segments = [unquote(s) for s in parts.path.split("/") if s != ""]
            owner, app, rest = self._namespace(segments)
            status, payload, is_json = self._route(method, owner, app, rest, params, json_body, want_json)
        except HttpError as err:
            status = err.status
            messages = [{"type": err.msg_type, "text": err.text}]
            payload, is_json = (atom.error_json(messages), True) if want_json else (atom.error_xml(messages), False)
        with self._lock:
            self.requests.append((method, parts.path, status))
        ctype_out = "application/json; charset=UTF-8" if is_json else "text/xml; charset=UTF-8"
        return status, ctype_out, payload.encode("utf-8")

    def _authenticate(self, headers: Any) -> None:
        auth = headers.get("Authorization") or ""
        if auth != "Splunk " + self.session_key:
            raise HttpError(401, "call not properly authenticated", "WARN")

    @staticmethod
    def _namespace(segments: List[str]) -> Tuple[str, str, List[str]]:
        if segments and segments[0] == "services":
            return "nobody", "-", segments[1:]
        if len(segments) >= 3 and segments[0] == "servicesNS":
            return segments[1], segments[2], segments[3:]
        raise HttpError(404, "Not Found")

    def _route(self, method: str, owner: str, app: str, rest: List[str], params: Dict[str, str],
               json_body: Any, want_json: bool) -> Tuple[int, str, bool]:
        base = "/servicesNS/%s/%s/" % (owner, app)
        origin = self.uri
        if len(rest) >= 2 and rest[0] == "storage" and rest[1] == "collections":
            self._kv_gate()
        if rest and rest[0].startswith("configs") and len(rest) >= 2 and rest[1].startswith("conf-"):
            return self._conf(method, app, base + "configs/" + rest[1], rest[1][5:], rest[2:], params, want_json, origin)
        if rest and rest[0] == "properties":
            return self._properties(method, app, base, rest[1:], params, want_json, origin)
        if rest[:2] == ["storage", "passwords"]:
            return self._storage_passwords(method, app, base + "storage/passwords", rest[2:], params, want_json, origin)
        if rest[:3] == ["storage", "collections", "config"]:
            return self._kv_config(method, app, base + "storage/collections/config", rest[3:], params, want_json, origin)
        if rest[:3] == ["storage", "collections", "data"] and len(rest) >= 4:
            return self._kv_data(method, app, rest[3], rest[4:], params, json_body)
        if rest[:2] == ["data", "inputs"] and len(rest) >= 3:
            return self._data_inputs(method, app, base + "data/inputs/" + rest[2], rest[2], rest[3:], params,
                                     want_json, origin)
        raise HttpError(404, "Not Found")

    # ---------------------------------------------------------------------------- rendering
    def _feed(self, origin: str, title: str, base_path: str, entries: List[atom.Entry], params: Dict[str, str],
              want_json: bool, paged: bool = True) -> str:
        total = len(entries)
        offset = int(params.get("offset", 0) or 0)
        count = int(params.get("count", 30) or 0)
        if paged:
            entries = entries[offset:] if count <= 0 else entries[offset:offset + count]
        per_page = count if count > 0 else total
        render = atom.feed_json if want_json else atom.feed_xml
        return render(origin, title, base_path, entries, total, offset, per_page)

    @staticmethod
    def _filter(entries: List[atom.Entry], search: Optional[str]) -> List[atom.Entry]:
        if not search:
            return entries
        terms = search.split()

        def value_of(entry: atom.Entry, field: str) -> List[str]:
            if field in ("name", "title"):
                return [entry.name]
            if field.startswith("eai:acl."):
                return [_str(entry.acl.get(field[8:], ""))]
            return [_str(entry.content[field])] if field in entry.content else []

        def matches(value: str, pattern: str) -> bool:
            pattern = pattern.lower()
            value = value.lower()
            if "*" in pattern:
                return fnmatch.fnmatchcase(value, pattern)
            return pattern in value

        def term_ok(entry: atom.Entry, term: str) -> bool:
            field, sep, pattern = term.partition("=")
            if sep and field and not field.startswith("*"):
                return any(matches(v, pattern) for v in value_of(entry, field))
            values = [entry.name] + [_str(v) for v in entry.content.values()]
            return any(matches(v, term) for v in values)

        return [e for e in entries if all(term_ok(e, t) for t in terms)]

    # -------------------------------------------------------------------------------- confs
    def _conf_entry(self, app: str, base_path: str, stanza: str, values: Dict[str, str]) -> atom.Entry:
        content = {"disabled": "0"}
        content.update(values)
        content.update({"eai:appName": app, "eai:userName": "nobody"})
        return atom.Entry(stanza, base_path, content, atom.acl(app))

    def _conf_apps(self, app: str) -> List[str]:
        return sorted(self._confs) if app == "-" else [app]

    def _conf(self, method: str, app: str, base_path: str, conf: str, rest: List[str], params: Dict[str, str],
              want_json: bool, origin: str) -> Tuple[int, str, bool]:
        with self._lock:
            if not rest:
                if method == "GET":
                    entries = [self._conf_entry(a, base_path, s, v)
                               for a in self._conf_apps(app)
                               for s, v in sorted(self._confs.get(a, {}).get(conf, {}).items())]
                    entries = self._filter(entries, params.get("search"))
                    return 200, self._feed(origin, "conf-" + conf, base_path, entries, params, want_json), want_json
                if method == "POST":
                    name = params.get("name")
                    if not name:
                        raise HttpError(400, "Missing argument: name")
                    stanzas = self._confs.setdefault(app, {}).setdefault(conf, {})
                    if name in stanzas:
                        raise HttpError(409, "An object with name=%s already exists" % name)
                    stanzas[name] = {k: v for k, v in params.items() if k not in _CONTROL_ARGS}
                    entry = self._conf_entry(app, base_path, name, stanzas[name])
                    return 201, self._feed(origin, "conf-" + conf, base_path, [entry], {}, want_json), want_json
                raise HttpError(405, "Method not allowed")
            # The rest of the path is the name: clients send names that hold "/" (a stanza like
            # "monitor:///var/log", a realm like "...#configs/conf-x") with the slash unencoded.
            stanza = "/".join(rest)
            if stanza == "_reload":
                return 200, self._feed(origin, "conf-" + conf, base_path, [], {}, want_json), want_json
            found = None
            for a in self._conf_apps(app):
                if stanza in self._confs.get(a, {}).get(conf, {}):
                    found = a
                    break
            if found is None:
                raise HttpError(404, "Could not find object id=%s" % stanza)
            values = self._confs[found][conf][stanza]
            if method == "GET":
                entry = self._conf_entry(found, base_path, stanza, values)
                return 200, self._feed(origin, "conf-" + conf, base_path, [entry], {}, want_json), want_json
            if method == "POST":
                values.update({k: v for k, v in params.items() if k not in _CONTROL_ARGS})
                entry = self._conf_entry(found, base_path, stanza, values)
                return 200, self._feed(origin, "conf-" + conf, base_path, [entry], {}, want_json), want_json
            if method == "DELETE":
                del self._confs[found][conf][stanza]
                entries = [self._conf_entry(found, base_path, s, v)
                           for s, v in sorted(self._confs[found][conf].items())]
                return 200, self._feed(origin, "conf-" + conf, base_path, entries, params, want_json), want_json
            raise HttpError(405, "Method not allowed")

    def _properties(self, method: str, app: str, base: str, rest: List[str], params: Dict[str, str],
                    want_json: bool, origin: str) -> Tuple[int, str, bool]:
        if method != "GET":
            raise HttpError(405, "Method not allowed")
        with self._lock:
            files = sorted({f for a in self._conf_apps(app) for f in self._confs.get(a, {})})
            if not rest:
                base_path = base + "properties"
                entries = [atom.Entry(f, base_path, {}, atom.acl(app)) for f in files]
                return 200, self._feed(origin, "properties", base_path, entries, params, want_json), want_json
            conf = rest[0]
            if conf not in files:
                raise HttpError(404, "Could not find object id=%s" % conf)
            stanzas: Dict[str, Dict[str, str]] = {}
            for a in self._conf_apps(app):
                for s, v in self._confs.get(a, {}).get(conf, {}).items():
                    stanzas.setdefault(s, v)
            base_path = base + "properties/" + conf
            if len(rest) == 1:
                entries = [atom.Entry(s, base_path, {}, atom.acl(app)) for s in sorted(stanzas)]
                return 200, self._feed(origin, conf, base_path, entries, params, want_json), want_json
            stanza = rest[1]
            if stanza not in stanzas:
                raise HttpError(404, "Could not find object id=%s" % stanza)
            base_path = base_path + "/" + stanza
            entries = [atom.Entry(k, base_path, {"value": v}, atom.acl(app)) for k, v in sorted(stanzas[stanza].items())]
            return 200, self._feed(origin, stanza, base_path, entries, params, want_json), want_json

    # ---------------------------------------------------------------------------- passwords
    def _password_entry(self, app: str, base_path: str, realm: str, username: str, clear: str) -> atom.Entry:
        digest = hashlib.sha256(("%s:%s:%s" % (realm, username, clear)).encode("utf-8")).digest()
        content = {
            "clear_password": clear,
            # Not the real encryption, and on purpose not reversible: only its shape matters.
            "encr_password": "$7$" + base64.b64encode(digest).decode("ascii"),
            "password": "********",
            "realm": realm,
            "username": username,
        }
        return atom.Entry(password_entry_name(realm, username), base_path, content, atom.acl(app))

    def _storage_passwords(self, method: str, app: str, base_path: str, rest: List[str], params: Dict[str, str],
                           want_json: bool, origin: str) -> Tuple[int, str, bool]:
        with self._lock:
            apps = sorted(self._passwords) if app == "-" else [app]
            all_entries = [(a, r, u, p) for a in apps for (r, u), p in sorted(self._passwords.get(a, {}).items())]
            if not rest:
                if method == "GET":
                    entries = [self._password_entry(a, base_path, r, u, p) for a, r, u, p in all_entries]
                    entries = self._filter(entries, params.get("search"))
                    return 200, self._feed(origin, "passwords", base_path, entries, params, want_json), want_json
                if method == "POST":
                    name, password = params.get("name"), params.get("password")
                    if not name or password is None:
                        raise HttpError(400, "Missing argument: name and password are required")
                    realm = params.get("realm", "")
                    store = self._passwords.setdefault(app, {})
                    if (realm, name) in store:
                        raise HttpError(409, "An object with name=%s already exists"
                                        % password_entry_name(realm, name))
                    store[(realm, name)] = password
                    entry = self._password_entry(app, base_path, realm, name, password)
                    return 201, self._feed(origin, "passwords", base_path, [entry], {}, want_json), want_json
                raise HttpError(405, "Method not allowed")
            target = "/".join(rest)  # realms hold "/" and clients send it unencoded
            match = [(a, r, u, p) for a, r, u, p in all_entries if password_entry_name(r, u) == target]
            if not match:
                raise HttpError(404, "Could not find object id=%s" % target)
            a, r, u, p = match[0]
            if method == "GET":
                entry = self._password_entry(a, base_path, r, u, p)
                return 200, self._feed(origin, "passwords", base_path, [entry], {}, want_json), want_json
            if method == "POST":
                if "password" not in params:
                    raise HttpError(400, "Missing argument: password")
                self._passwords[a][(r, u)] = params["password"]
                entry = self._password_entry(a, base_path, r, u, params["password"])
                return 200, self._feed(origin, "passwords", base_path, [entry], {}, want_json), want_json
            if method == "DELETE":
                del self._passwords[a][(r, u)]
                entries = [self._password_entry(a2, base_path, r2, u2, p2)
                           for a2, r2, u2, p2 in all_entries if (a2, r2, u2) != (a, r, u)]
                return 200, self._feed(origin, "passwords", base_path, entries, params, want_json), want_json
            raise HttpError(405, "Method not allowed")

    # ------------------------------------------------------------------------------ KV store
    def _kv_gate(self) -> None:
        with self._lock:
            if self._kv_fail_next > 0:
                self._kv_fail_next -= 1
                raise HttpError(503, KV_INITIALIZING)
            if self._kv_unavailable:
                raise HttpError(503, KV_INITIALIZING)

    def _collection_entry(self, app: str, base_path: str, name: str, coll: Dict[str, Any]) -> atom.Entry:
        content = {"disabled": "0"}
        content.update({"field." + k: v for k, v in coll["fields"].items()})
        content.update({"eai:appName": app, "eai:userName": "nobody"})
        return atom.Entry(name, base_path, content, atom.acl(app))

    def _kv_config(self, method: str, app: str, base_path: str, rest: List[str], params: Dict[str, str],
                   want_json: bool, origin: str) -> Tuple[int, str, bool]:
        with self._lock:
            apps = sorted(self._kv) if app == "-" else [app]
            if not rest:
                if method == "GET":
                    entries = [self._collection_entry(a, base_path, n, c)
                               for a in apps for n, c in sorted(self._kv.get(a, {}).items())]
                    entries = self._filter(entries, params.get("search"))
                    return 200, self._feed(origin, "collections-conf", base_path, entries, params, want_json), want_json
                if method == "POST":
                    name = params.get("name")
                    if not name:
                        raise HttpError(400, "Missing argument: name")
                    colls = self._kv.setdefault(app, {})
                    if name in colls:
                        raise HttpError(409, "An object with name=%s already exists" % name)
                    fields = {k[6:]: v for k, v in params.items() if k.startswith("field.")}
                    colls[name] = {"fields": fields, "data": {}}
                    entry = self._collection_entry(app, base_path, name, colls[name])
                    return 201, self._feed(origin, "collections-conf", base_path, [entry], {}, want_json), want_json
                raise HttpError(405, "Method not allowed")
            name = rest[0]
            owner_app = next((a for a in apps if name in self._kv.get(a, {})), None)
            if owner_app is None:
                raise HttpError(404, "Could not find object id=%s" % name)
            if method == "GET":
                entry = self._collection_entry(owner_app, base_path, name, self._kv[owner_app][name])
                return 200, self._feed(origin, "collections-conf", base_path, [entry], {}, want_json), want_json
            if method == "DELETE":
                del self._kv[owner_app][name]
                return 200, self._feed(origin, "collections-conf", base_path, [], {}, want_json), want_json
            raise HttpError(405, "Method not allowed")

    def _kv_data(self, method: str, app: str, collection: str, rest: List[str], params: Dict[str, str],
                 json_body: Any) -> Tuple[int, str, bool]:
        with self._lock:
            coll = self._kv.get(app, {}).get(collection)
            if coll is None:
                raise HttpError(404, "Collection: %s does not exist" % collection)
            data: Dict[str, Dict[str, Any]] = coll["data"]
            if not rest:
                if method == "GET":
                    found = _kv_query(data, params.get("query"))
                    skip = int(params.get("skip", 0) or 0)
                    limit = int(params.get("limit", 0) or 0)
                    found = found[skip:] if limit <= 0 else found[skip:skip + limit]
                    return 200, json.dumps(found), True
                if method == "POST":
                    record = _require_object(json_body)
                    key = str(record.get("_key") or uuid.uuid4().hex[:24])
                    if key in data:
                        raise HttpError(409, "A document with the same key and user already exists.")
                    data[key] = dict(record, _key=key, _user="nobody")
                    return 201, json.dumps({"_key": key}), True
                if method == "DELETE":
                    for rec in _kv_query(data, params.get("query")):
                        del data[rec["_key"]]
                    return 200, "", True
                raise HttpError(405, "Method not allowed")
            key = rest[0]
            if key == "batch_save" and method == "POST":
                if not isinstance(json_body, list):
                    raise HttpError(400, "Request body must be a JSON array of documents")
                keys = []
                for doc in json_body:
                    record = _require_object(doc)
                    k = str(record.get("_key") or uuid.uuid4().hex[:24])
                    data[k] = dict(record, _key=k, _user="nobody")
                    keys.append(k)
                return 200, json.dumps(keys), True
            if method == "GET":
                if key not in data:
                    raise HttpError(404, "Could not find object.")
                return 200, json.dumps(data[key]), True
            if method == "POST":
                if key not in data:
                    raise HttpError(404, "Could not find object.")
                record = _require_object(json_body)
                data[key] = dict(record, _key=key, _user="nobody")
                return 200, json.dumps({"_key": key}), True
            if method == "DELETE":
                if key not in data:
                    raise HttpError(404, "Could not find object.")
                del data[key]
                return 200, "", True
            raise HttpError(405, "Method not allowed")

    # ---------------------------------------------------------------------------- data/inputs
    def _data_inputs(self, method: str, app: str, base_path: str, kind: str, rest: List[str],
                     params: Dict[str, str], want_json: bool, origin: str) -> Tuple[int, str, bool]:
        prefix = kind + "://"

        def entry(a: str, name: str, values: Dict[str, str]) -> atom.Entry:
            content = {"disabled": "0", "host": "$decideOnStartup", "index": "default"}
            content.update(values)
            content.update({"eai:appName": a, "eai:userName": "nobody"})
            return atom.Entry(name, base_path, content, atom.acl(a))

        with self._lock:
            apps = self._conf_apps(app)
            existing = [(a, s[len(prefix):], v) for a in apps
                        for s, v in sorted(self._confs.get(a, {}).get("inputs", {}).items()) if s.startswith(prefix)]
            if not rest:
                if method == "GET":
                    entries = self._filter([entry(a, n, v) for a, n, v in existing], params.get("search"))
                    return 200, self._feed(origin, kind, base_path, entries, params, want_json), want_json
                if method == "POST":
                    name = params.get("name")
                    if not name:
                        raise HttpError(400, "Missing argument: name")
                    if any(n == name for _a, n, _v in existing):
                        raise HttpError(409, "An object with name=%s already exists" % name)
                    values = {k: v for k, v in params.items() if k not in _CONTROL_ARGS}
                    self._confs.setdefault(app, {}).setdefault("inputs", {})[prefix + name] = values
                    return 201, self._feed(origin, kind, base_path, [entry(app, name, values)], {}, want_json), want_json
                raise HttpError(405, "Method not allowed")
            name = rest[0]
            match = [(a, v) for a, n, v in existing if n == name]
            if not match:
                raise HttpError(404, "Could not find object id=%s" % name)
            a, values = match[0]
            action = rest[1] if len(rest) > 1 else None
            if action in ("disable", "enable") and method == "POST":
                values["disabled"] = "1" if action == "disable" else "0"
            elif action is not None:
                raise HttpError(404, "Not Found")
            elif method == "POST":
                values.update({k: v for k, v in params.items() if k not in _CONTROL_ARGS})
            elif method == "DELETE":
                del self._confs[a]["inputs"][prefix + name]
                remaining = [entry(a2, n2, v2) for a2, n2, v2 in existing if n2 != name]
                return 200, self._feed(origin, kind, base_path, remaining, params, want_json), want_json
            elif method != "GET":
                raise HttpError(405, "Method not allowed")
            return 200, self._feed(origin, kind, base_path, [entry(a, name, values)], {}, want_json), want_json


_INVALID = object()
# Request arguments that steer the endpoint and are never stored.
_CONTROL_ARGS = {"name", "output_mode", "count", "offset", "search", "sort_key", "sort_dir", "sort_mode"}


def _str(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return "" if value is None else str(value)


def _require_object(body: Any) -> Dict[str, Any]:
    if body is _INVALID or not isinstance(body, dict):
        raise HttpError(400, "Request body must be a JSON object")
    return body


def _kv_query(data: Dict[str, Dict[str, Any]], query: Optional[str]) -> List[Dict[str, Any]]:
    records = list(data.values())
    if not query:
        return records
    try:
        cond = json.loads(query)
    except ValueError:
        raise HttpError(400, "Invalid query: not JSON")
    if not isinstance(cond, dict) or any(k.startswith("$") for k in cond):
        raise HttpError(400, "The stand-in supports equality queries on top-level fields only")
    return [r for r in records if all(r.get(k) == v for k, v in cond.items())]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Splunkd"
    # headers and body go out in two writes: without TCP_NODELAY, Nagle plus the client's delayed
    # ACK adds ~40 ms to every KV store checkpoint write (measured by the collector benchmark)
    disable_nagle_algorithm = True
    sim: SplunkdSim

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, ctype, payload = self.sim.handle(method, self.path, self.headers, body)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._serve("DELETE")

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        return


def wait_until(predicate, timeout: float = 5.0, interval: float = 0.02) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` passes (for tests)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
