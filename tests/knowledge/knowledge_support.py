"""Helpers for the CIM knowledge tests (issue 7).

The data-model facts below restate what pytest-splunk-addon's data model definitions
(pytest_splunk_addon/data_models/Authentication.json and Change.json) require, so the offline
tests check the same things its `splunk_searchtime_cim` tests check on a real Splunk:
which tags select a dataset, the required fields, their expected values and validity rules.
"""
from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]
APP_DIR = ROOT / "package"
SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
LOOKUP_CSV = APP_DIR / "lookups" / "openai_audit_event_types.csv"
SPEC = ROOT / "docs" / "api" / "openapi-audit-logs.yaml"

# Tag sets that select each dataset (a dataset inherits its parents' constraints).
DATASET_TAGS = {
    "Authentication": ["authentication"],
    "Authentication_Default_Authentication": ["authentication", "default"],
    "Authentication_Insecure_Authentication": ["authentication", "insecure"],
    "Authentication_Privileged_Authentication": ["authentication", "privileged"],
    "Change": ["change"],
    "Change_Auditing_Changes": ["change", "audit"],
    "Change_Endpoint_Changes": ["change", "endpoint"],
    "Change_Network_Changes": ["change", "network"],
    "Change_Account_Management": ["change", "account"],
    "Change_Instance_Changes": ["change", "instance"],
}
# Tag sets of the other CIM models: an openai:audit event must match none of them.
OTHER_MODEL_TAGS = {
    "Alerts": [["alert"]],
    "Certificates": [["certificate"]],
    "Compute_Inventory": [["inventory"]],
    "DLP": [["dlp", "incident"]],
    "Databases": [["database"]],
    "Email": [["email"]],
    "Endpoint": [["listening", "port"], ["process", "report"], ["service", "report"],
                 ["endpoint", "filesystem"], ["endpoint", "registry"]],
    "Intrusion_Detection": [["ids", "attack"]],
    "Malware": [["malware", "attack"], ["malware", "operations"]],
    "Network_Resolution": [["network", "resolution", "dns"]],
    "Network_Sessions": [["network", "session"]],
    "Network_Traffic": [["network", "communicate"]],
    "Performance": [["performance"]],
    "Ticket_Management": [["ticketing"]],
    "Updates": [["update", "status"], ["update", "error"]],
    "Vulnerabilities": [["report", "vulnerability"]],
    "Web": [["web"]],
}
REQUIRED = {
    "Authentication": ["action", "app", "dest", "src", "user"],
    "Change": ["action", "change_type", "command", "dest", "dvc", "object", "object_attrs",
               "object_category", "object_id", "src", "status", "user", "vendor_product"],
    "Change_Instance_Changes": ["image_id", "instance_type"],
}
EXPECTED_VALUES = {
    "Authentication": {"action": {"success", "failure", "pending", "error"}},
    "Change": {"status": {"success", "failure"}},
}
# CIM's prescribed values for Change action (Splunk_SA_CIM Change.json).
CHANGE_ACTIONS = {"acl_modified", "cleared", "created", "deleted", "modified", "read", "stopped",
                  "updated", "started", "restarted"}
MULTIVALUE_OK = {"object_attrs"}
# Recommended fields per dataset (pytest-splunk-addon's test_cim_fields_recommended).
RECOMMENDED = {
    "Authentication": ["action", "app", "dest", "src", "src_user", "user"],
    "Change": ["action", "change_type", "command", "dest", "dvc", "object", "object_attrs",
               "object_category", "object_id", "object_path", "result", "result_id", "src",
               "status", "user", "user_name", "vendor_product"],
    "Change_Account_Management": ["dest_nt_domain", "src_nt_domain", "src_user", "src_user_name"],
}


def values(v):
    if v is None:
        return []
    return list(v) if isinstance(v, list) else [v]


def tags_of(row):
    return set(values(row.get("tag")))


def matched_datasets(row):
    """Datasets whose tag set the event carries (the way pytest-splunk-addon maps them)."""
    tags = tags_of(row)
    return {name for name, need in DATASET_TAGS.items() if set(need) <= tags}


def leaf_datasets(row):
    """The most specific matched datasets: what a sample's <models> must list."""
    matched = {d: set(DATASET_TAGS[d]) for d in matched_datasets(row)}
    return {d for d, t in matched.items()
            if not any(t < other for o, other in matched.items() if o != d)}


def models_of(row):
    tags = tags_of(row)
    models = {d.split("_")[0] for d in matched_datasets(row)}
    for model, tag_sets in OTHER_MODEL_TAGS.items():
        if any(set(ts) <= tags for ts in tag_sets):
            models.add(model)
    return models


def cim_violations(row):
    """What pytest-splunk-addon's required-field test would report for this one event."""
    problems = []
    datasets = matched_datasets(row)
    tags = tags_of(row)
    for model in ("Authentication", "Change"):
        if model not in datasets:
            continue
        need = list(REQUIRED[model])
        if model == "Change" and "Change_Instance_Changes" in datasets:
            need += REQUIRED["Change_Instance_Changes"]
        for name in need:
            vals = values(row.get(name))
            if not vals or any(v == "" for v in vals):
                problems.append("%s: required %s missing" % (model, name))
                continue
            if len(vals) > 1 and name not in MULTIVALUE_OK:
                problems.append("%s: %s is multivalue %r" % (model, name, vals))
            allowed = EXPECTED_VALUES.get(model, {}).get(name)
            if allowed and not set(vals) <= allowed:
                problems.append("%s: %s=%r not in %s" % (model, name, vals, sorted(allowed)))
            if name in ("action", "object_attrs", "object_id") and any('"' in v for v in vals):
                problems.append("%s: %s holds a double quote" % (model, name))
        if model == "Change":
            cat = row.get("object_category")
            if ("account" in tags) != (cat == "user"):
                problems.append("Change: object_category=%r with tags %s (account <=> user)" % (cat, sorted(tags)))
            if row.get("status") == "failure" and not row.get("result"):
                problems.append("Change: status=failure without result")
            if "Change_Account_Management" in datasets and cat == "user" and not row.get("src_user"):
                problems.append("Change: Account_Management without src_user")
            if not set(values(row.get("action"))) <= CHANGE_ACTIONS:
                problems.append("Change: action=%r is not a CIM value" % row.get("action"))
        if model == "Authentication" and row.get("action") == "success" and str(row.get("user", "")).endswith("$"):
            problems.append("Authentication: user ending in $ is excluded by the model's constraint")
    return problems


def load_samples():
    """Every <event> of every sample file: (file, index, raw, models, cim, other, exceptions, missing)."""
    out = []
    for path in sorted(SAMPLES_DIR.glob("*.xml")):
        root = ElementTree.parse(path).getroot()
        for i, ev in enumerate(root.findall("event")):
            cim = ev.find("cim")
            def fields(node):
                return {f.get("name"): f.get("value") for f in (node.findall("field") if node is not None else [])}
            out.append({
                "file": path.name, "index": i, "raw": ev.find("raw").text.strip(),
                "models": [m.text.strip() for m in cim.find("models").findall("model")],
                "cim": fields(cim.find("cim_fields")),
                "other": fields(ev.find("other_mappings")),
                "exceptions": fields(cim.find("exceptions")),
                "missing": [f.text.strip() for f in cim.find("missing_recommended_fields").findall("field")]
                if cim.find("missing_recommended_fields") is not None else [],
                "source": ev.find("transport").get("source"),
            })
    return out
