"""Shared helpers for the API stand-in's tests (tests/tools/test_api_sim_*.py)."""
from __future__ import annotations

import json
import pathlib
from typing import Any, Dict, List, Optional

import pytest
import requests

from tools.openai_api_sim import DEFAULT_KEY

REPO_ROOT = pathlib.Path(__file__).resolve()
while not (REPO_ROOT / "pytest.ini").exists() and REPO_ROOT != REPO_ROOT.parent:
    REPO_ROOT = REPO_ROOT.parent
SPEC_PATH = REPO_ROOT / "docs" / "api" / "openapi-audit-logs.yaml"
PATH = "/organization/audit_logs"


def load_spec() -> Dict[str, Any]:
    import yaml

    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


def validator_for(spec: Dict[str, Any], schema_name: str):
    import jsonschema

    root = {"$ref": "#/components/schemas/%s" % schema_name, "components": spec["components"]}
    return jsonschema.Draft202012Validator(root)


def session(key: str = DEFAULT_KEY) -> requests.Session:
    s = requests.Session()
    s.headers["Authorization"] = "Bearer " + key
    return s


def get(sim, params=None, key: Optional[str] = DEFAULT_KEY, raw_query: Optional[str] = None,
        timeout: float = 10) -> requests.Response:
    """One list request; raw_query is sent as written (e.g. with raw [ ] in the keys)."""
    headers = {"Authorization": "Bearer " + key} if key is not None else {}
    url = sim.base_url + PATH + ("?" + raw_query if raw_query is not None else "")
    return requests.get(url, params=params, headers=headers, timeout=timeout)


def page(sim, params=None, **kw) -> Dict[str, Any]:
    r = get(sim, params, **kw)
    assert r.status_code == 200, r.text
    return r.json()


def walk(sim, params: Optional[Dict[str, Any]] = None, limit: int = 100) -> List[Dict[str, Any]]:
    """All pages following after=<last_id> while has_more (what the SDKs do)."""
    out = []  # type: List[Dict[str, Any]]
    p = dict(params or {}, limit=limit)
    with session() as s:
        while True:
            r = s.get(sim.base_url + PATH, params=p, timeout=10)
            assert r.status_code == 200, r.text
            body = r.json()
            out.extend(body["data"])
            if not body["has_more"]:
                return out
            p["after"] = body["last_id"]


def order_key(ev: Dict[str, Any]):
    return (ev["effective_at"], ev["id"])


def dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True)
