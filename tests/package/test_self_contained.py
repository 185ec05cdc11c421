"""A clone is self-contained: nothing the tests, tools, docs or the add-on read lives outside the
repository (the API contract and the OpenAPI extract are in docs/api/)."""
import re
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
API = ROOT / "docs" / "api"
# a path that leaves the repository: a sibling folder, or the absolute paths of a workstation
OUTSIDE = re.compile(r"\.\./shared|/work/|\.parent\s*/\s*[\"']shared")


def tracked_text_files():
    names = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    for name in names:
        path = ROOT / name
        if name.startswith("package/lib/") or not path.is_file():
            continue
        try:
            yield name, path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue


def test_no_file_points_outside_the_repository():
    found = ["%s: %s" % (name, m.group(0)) for name, text in tracked_text_files()
             for m in OUTSIDE.finditer(text) if name != "tests/package/test_self_contained.py"]
    assert found == []


def test_the_api_contract_and_spec_extract_are_in_the_repository():
    spec = yaml.safe_load((API / "openapi-audit-logs.yaml").read_text(encoding="utf-8"))
    assert "/organization/audit_logs" in spec["paths"]
    assert {"AuditLog", "AuditLogEventType", "ListAuditLogsResponse"} <= set(spec["components"]["schemas"])
    contract = (API / "CONTRACT.md").read_text(encoding="utf-8")
    assert "tenant_only" in contract and "docs/api/openapi-audit-logs.yaml" in contract
