"""Helpers for the CIM knowledge tests (issue 7).

The data-model facts come from pytest-splunk-addon's own definitions (tests/knowledge/data_models/,
read by cim_definitions.py): which tags select a dataset, and the field tests cim_violations runs
on one event. What those files do not hold (the other models' tags, CIM's prescribed Change
actions, the recommended fields) is restated below with its source.
"""
from __future__ import annotations

import functools
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from tests.knowledge.cim_definitions import excused, load_models, read_exceptions, row_failures


ROOT = Path(__file__).resolve().parents[2]
APP_DIR = ROOT / "package"
SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
LOOKUP_CSV = APP_DIR / "lookups" / "openai_audit_event_types.csv"
SPEC = ROOT / "docs" / "api" / "openapi-audit-logs.yaml"


def _dataset_tags():
    """{"Change_Account_Management": ["change", "account"], ...}: the tag set of every dataset
    that a tag set of its own selects (children told apart only by a constraint, such as
    Failed_Authentication, are left out); a root dataset is named after its model."""
    out = {}

    def walk(ds, parent_tags):
        tags = ds.tags[0]
        if tags != parent_tags:
            out[ds.model if len(ds.path) == 1 else "%s_%s" % (ds.model, ds.name)] = tags
        for child in ds.children:
            walk(child, tags)
    for root in load_models():
        walk(root, None)
    return out


# Tag sets that select each dataset (a dataset inherits its parents' constraints).
DATASET_TAGS = _dataset_tags()
# Tag sets of the other CIM models: an openai:audit event must match none of them
# (pytest-splunk-addon 7.0.5, cim_tests/test_templates.py, test_eventtype_mapped_multiple_cim_datamodel).
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
# CIM's prescribed values for Change action (Splunk_SA_CIM Change.json).
CHANGE_ACTIONS = {"acl_modified", "cleared", "created", "deleted", "modified", "read", "stopped",
                  "updated", "started", "restarted"}
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
    """What pytest-splunk-addon's CIM field tests would report for this one event
    (cim_definitions.row_failures) and the docs/cim.md exceptions table does not explain, plus
    what its definitions cannot say: CIM's prescribed Change actions, no double quote in
    action/object_attrs/object_id (the definitions' validity for these quotes the pattern in
    single quotes, which SPL reads as a field name, so it checks nothing), and object_category=user
    exactly on account-tagged events."""
    exceptions = _exceptions()
    problems = ["%s: %s %s" % f for f in row_failures(row, APP_DIR) if not excused(row, f, exceptions)]
    datasets = matched_datasets(row)
    if "Change" in datasets:
        cat = row.get("object_category")
        if ("account" in tags_of(row)) != (cat == "user"):
            problems.append("Change: object_category=%r with tags %s (account <=> user)" % (cat, sorted(tags_of(row))))
        if not set(values(row.get("action"))) <= CHANGE_ACTIONS:
            problems.append("Change: action=%r is not a CIM value" % row.get("action"))
        for name in ("action", "object_attrs", "object_id"):
            if any('"' in v for v in values(row.get(name))):
                problems.append("Change: %s holds a double quote" % name)
    return problems


@functools.lru_cache(maxsize=None)
def _exceptions():
    return read_exceptions(ROOT / "docs" / "cim.md")


def load_samples():
    """Every <event> of every sample file: (file, index, raw, models, cim, other, exceptions, missing)."""
    out = []
    for path in sorted(SAMPLES_DIR.glob("*.xml")):
        root = ElementTree.parse(path).getroot()
        for i, ev in enumerate(root.findall("event")):
            # an event in no data model (a logout) has no <cim> block
            cim = ev.find("cim")
            if cim is None:
                cim = ElementTree.fromstring("<cim><models /></cim>")

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
