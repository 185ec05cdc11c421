"""The detections' YAML schema (contentctl's rules and this add-on's), the generated confs, the
shipped lookups and the sample files.

contentctl 5.6.2 validates offline, but it pins requests/pydantic versions that conflict with this
project's pinned environment, so CI runs tools/build_detections.py's own check of the same rules
(and more: output fields, windows, lookups and macros resolve); the tests below prove each rule
rejects what it should. To run Splunk's validator as well, in a separate virtualenv:
    pip install contentctl==5.6.2 && mkdir cc && cd cc && contentctl init
    python <repo>/tools/build_detections.py --export-contentctl . && contentctl validate
"""
from __future__ import annotations

import copy
import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import build_detections as bd  # noqa: E402

SHARED_SPEC = ROOT.parent / "shared" / "openai-audit-logs" / "openapi-audit-logs.yaml"


@pytest.fixture(scope="module")
def project():
    return bd.load_project(ROOT)


def conf(name):
    sys.path.insert(0, str(ROOT / "tests" / "package"))
    from test_conf_lint import parse_conf
    stanzas, errors = parse_conf(ROOT / "package" / "default" / name)
    assert errors == []
    return stanzas


def test_project_is_valid(project):
    assert bd.validate_project(project) == []


def test_committed_files_are_the_generator_output(project):
    for path, text in bd.outputs(project).items():
        assert path.read_text(encoding="utf-8") == text, "%s is stale: run tools/build_detections.py" % path
    proc = subprocess.run([sys.executable, "tools/build_detections.py", "--check"], cwd=str(ROOT),
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_check_mode_fails_on_a_stale_conf(tmp_path):
    root = tmp_path / "repo"
    for part in ("detections", "docs", "package/default", "package/lookups", "tests/detections/samples"):
        shutil.copytree(ROOT / part, root / part)
    run = lambda *a: subprocess.run([sys.executable, str(ROOT / "tools" / "build_detections.py"), "--root",
                                     str(root), *a], capture_output=True, text=True)
    assert run("--check").returncode == 0
    path = root / "package" / "default" / "savedsearches.conf"
    path.write_text(path.read_text().replace("disabled = 1", "disabled = 0", 1))
    proc = run("--check")
    assert proc.returncode == 1 and "savedsearches.conf" in proc.stderr
    assert run().returncode == 0 and run("--check").returncode == 0
    # the knowledge objects' stanzas in the shared files survive a rebuild
    assert "[openai_audit_event_types]" in (root / "package" / "default" / "transforms.conf").read_text()
    assert "[ta_openai_audit_checkpoints]" in (root / "package" / "default" / "collections.conf").read_text()


def _mutated(project, stem, change):
    p = dict(project)
    p["detections"] = [copy.deepcopy(d) for d in project["detections"]]
    det = next(d for d in p["detections"] if d["_file"].stem == stem)
    change(det)
    return bd.validate_project(p)


STEM = "openai_ip_allowlist_broadened"


@pytest.mark.parametrize("change,message", [
    (lambda d: d.update(name="OpenAI " + "Very " * 13 + "Long Name"), "characters"),
    (lambda d: d.update(name="OpenAI IP Allowlist Widened"), "file name must be"),
    (lambda d: d.update(search=d["search"].replace("| `openai_ip_allowlist_broadened_filter`", "")), "must end with"),
    (lambda d: d.update(search=d["search"].replace("`openai_audit` ", "index=main ", 1)), "must start with"),
    (lambda d: d["tags"].update(mitre_attack_id=["T1686", "T1686.001"]), "beside its own sub-technique"),
    (lambda d: d["tags"].update(mitre_attack_id=["T168.001"]), "not a MITRE ATT&CK technique id"),
    (lambda d: d["tags"].update(mitre_attack_id=[]), "carry MITRE ATT&CK ids"),
    (lambda d: d["rba"].update(message="$user$ changed $allowlist_owner$"), "$allowlist_owner$ is not produced"),
    (lambda d: d["rba"]["threat_objects"].append({"field": "dest", "type": "system"}), "$dest$ is not produced"),
    (lambda d: d["rba"]["risk_objects"][0].update(score=120), "risk score"),
    (lambda d: d["deployment"]["notable"].update(rule_title="IP allowlist broadened"), "must name the actor"),
    (lambda d: d["deployment"]["notable"].update(rule_description="by $actor$"), "$actor$ is not produced"),
    (lambda d: d["tags"]["throttling"].update(fields=["user", "tenant"]), "throttling field 'tenant'"),
    (lambda d: d.update(search=d["search"].replace("`openai_allowlist_min_ipv4_prefix`", "`openai_nope`")),
     "macro `openai_nope` is not defined"),
    (lambda d: d.update(search=d["search"].replace("lookup openai_corporate_cidrs", "lookup corp_ranges")),
     "lookup 'corp_ranges' is not defined"),
    (lambda d: d["deployment"]["scheduling"].update(cron_schedule="*/15 * * * *"), "does not match the 15-minute"),
    (lambda d: d["deployment"]["scheduling"].update(cron_schedule="*/7 * * * *"), "is not every 5 or 15"),
    (lambda d: d.update(search=d["search"].replace(" _index_latest=-5m@m", "")), "_index_latest"),
    (lambda d: d.update(id="not-a-uuid"), "not a UUID"),
    (lambda d: d["tags"].update(analytic_story=["No Such Story"]), "not defined in detections/stories"),
    (lambda d: d.update(tests=d["tests"][:1]), "near-miss"),
    (lambda d: d.update(drilldown_searches=d["drilldown_searches"][1:2]), "at least two drilldowns"),
])
def test_validation_rejects(project, change, message):
    errors = _mutated(project, STEM, change)
    assert any(message in e for e in errors), errors


def test_validation_rejects_a_duplicate_id(project):
    other = next(d for d in project["detections"] if d["_file"].stem != STEM)
    errors = _mutated(project, STEM, lambda d: d.update(id=other["id"]))
    assert any("already used" in e for e in errors), errors


def test_output_fields_follow_the_pipeline():
    spl = ("`openai_audit` x | stats count min(_time) as firstTime values(src) as src by user obj "
           "| eval severity=if(count>1, \"high\", \"low\"), a=1 | rename obj as object_id "
           "| lookup t k AS user OUTPUT owner AS user_owner | fields - a")
    assert bd.output_fields(spl) == {"count", "firstTime", "src", "user", "object_id", "severity", "user_owner"}
    with pytest.raises(bd.BuildError):
        bd.output_fields("`openai_audit` x | table user")


# ----------------------------------------------------------------------------- generated confs

def test_every_detection_is_a_disabled_scheduled_alert_and_an_es_correlation_search(project):
    saved = conf("savedsearches.conf")
    for det in project["detections"]:
        name = bd.stanza_name(det)
        st = saved[name]
        assert st["disabled"] == "1" and st["enableSched"] == "1"
        assert st["cron_schedule"] in ("*/5 * * * *", "*/15 * * * *") or re.match(r"^\d+ \* \* \* \*$", st["cron_schedule"])
        assert int(st["schedule_window"]) > 0 and st["realtime_schedule"] == "0"
        assert st["search"].startswith("`openai_audit")
        assert st["search"].endswith("| `%s_filter`" % bd.snake(det["name"]))
        # plain Splunk: Triggered Alerts, one per result, throttled on the key fields
        assert st["alert.track"] == "1" and st["alert.digest_mode"] == "0" and st["alert.suppress"] == "1"
        assert st["alert.suppress.fields"].split(",") == det["tags"]["throttling"]["fields"]
        # Enterprise Security
        assert st["action.correlationsearch.enabled"] == "1"
        assert st["action.correlationsearch.label"] == name
        assert len("endpoint - %s - Rule" % name) <= 99
        ann = json.loads(st["action.correlationsearch.annotations"])
        assert ann.get("mitre_attack", []) == (det["tags"].get("mitre_attack_id") or [])
        assert ann["analytic_story"] == det["tags"]["analytic_story"]
        assert st["action.notable"] == "1"
        assert st["action.notable.param.severity"] in bd.SEVERITIES
        assert st["action.notable.param.rule_title"] == det["deployment"]["notable"]["rule_title"]
        drill = json.loads(st["action.notable.param.drilldown_searches"])
        assert len(drill) >= 2 and not any("%original_detection_search%" in d["search"] for d in drill)
        assert any(d["search"].startswith(st["search"]) for d in drill)
        steps = json.loads(st["action.notable.param.next_steps"])
        assert steps["version"] == 1 and steps["data"]
        if det.get("rba"):
            risk = json.loads(st["action.risk.param._risk"])
            assert {"risk_object_field": "user", "risk_object_type": "user",
                    "risk_score": det["rba"]["risk_objects"][0]["score"]} in risk
            threats = {r["threat_object_field"] for r in risk if "threat_object_field" in r}
            assert {"src", "user_agent", "ja4"} <= threats
            assert st["action.risk"] == "1" and st["action.risk.param._risk_message"]
        # nothing AppInspect (cloud) flags: no script, command or webhook actions
        assert not [k for k in st if re.match(r"action\.(script|run|webhook|email|populate_lookup)", k)]


def test_baselines_are_disabled_scheduled_outputlookup_searches(project):
    saved = conf("savedsearches.conf")
    transforms = conf("transforms.conf")
    collections = conf("collections.conf")
    assert len(project["baselines"]) == 8
    for det in project["baselines"]:
        st = saved[bd.stanza_name(det)]
        assert st["disabled"] == "1" and st["enableSched"] == "1" and st["cron_schedule"]
        lookup = re.search(r"outputlookup (\w+)$", st["search"]).group(1)
        assert transforms[lookup]["external_type"] == "kvstore"
        assert transforms[lookup]["collection"] in collections


def test_filter_and_tuning_macros_and_the_hand_written_header(project):
    text = (ROOT / "package" / "default" / "macros.conf").read_text()
    assert text.startswith("# Where the add-on's events live.")
    macros = conf("macros.conf")
    assert macros["openai_audit"] == {"definition": 'sourcetype="openai:audit"', "iseval": "0"}
    for det in project["detections"]:
        assert macros["%s_filter" % bd.snake(det["name"])]["definition"] == "search *"
    assert macros["openai_audit_is_off_hours(1)"]["args"] == "time"


def test_analytic_stories_list_their_detections(project):
    stories = conf("analyticstories.conf")
    for story in project["stories"]:
        st = stories["analytic_story://%s" % story["name"]]
        listed = json.loads(st["searches"])
        assert listed == sorted(bd.stanza_name(d) for d in project["detections"]
                                if story["name"] in d["tags"]["analytic_story"])
        assert st["spec_version"] == "3"
    for det in project["detections"]:
        st = stories["savedsearch://%s" % bd.stanza_name(det)]
        assert st["type"] == "detection" and json.loads(st["annotations"])


def test_transforms_keep_the_knowledge_objects_stanzas(project):
    transforms = conf("transforms.conf")
    assert transforms["openai_audit_event_types"]["filename"] == "openai_audit_event_types.csv"
    for lk in project["lookups"]:
        st = transforms[lk["name"]]
        if lk.get("match_type"):
            assert st["match_type"] == ", ".join(lk["match_type"])
    assert transforms["openai_corporate_cidrs"]["match_type"] == "CIDR(cidr)"
    collections = conf("collections.conf")
    assert collections["ta_openai_audit_checkpoints"] == {"field.state": "string"}


# lookups that ship a working default list (README and docs/detections.md say which)
SHIPPED_DEFAULTS = {"openai_sensitive_scopes.csv"}


def test_shipped_lookups_hold_only_commented_examples(project):
    for lk in project["lookups"]:
        if not lk.get("filename"):
            continue
        with (ROOT / "package" / "lookups" / lk["filename"]).open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        assert rows[0] == lk["fields"]
        assert len(rows) > 1, "%s: ship at least one commented example" % lk["filename"]
        if lk["filename"] in SHIPPED_DEFAULTS:
            assert all(r[0] and not r[0].startswith("#") and len(r) == len(rows[0]) for r in rows[1:]), lk["filename"]
        else:
            assert all(r[0].startswith("# ") for r in rows[1:]), lk["filename"]


# ----------------------------------------------------------------------------- samples

AUDIT_ID = re.compile(r"^audit_log-[A-Za-z0-9]{24}$")


def _sample_lines():
    for path in sorted((ROOT / "tests" / "detections" / "samples").glob("*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            yield path.name, n, json.loads(line)


def test_samples_are_audit_log_objects_as_the_api_returns_them():
    count = 0
    for name, n, obj in _sample_lines():
        if "_raw" in obj:
            # data health and risk samples are indexed events, not API objects
            assert name.startswith(("openai_audit_log_collection_gap", "openai_risk_threshold")), (name, n)
            continue
        count += 1
        where = "%s:%d" % (name, n)
        assert AUDIT_ID.match(obj["id"]), where
        assert obj["object"] == "organization.audit_log", where
        assert isinstance(obj["effective_at"], int), where
        assert set(obj) - {"id", "object", "type", "effective_at", "actor", "project", "_indextime", obj["type"]} == set(), where
        if obj.get("_indextime") is not None:
            assert obj["_indextime"] >= obj["effective_at"], where
        actor = obj.get("actor")
        if actor is not None:
            assert actor["type"] in ("session", "api_key"), where
            assert actor["type"] in actor, where
    assert count > 250


def test_samples_cover_the_catalogs_edge_cases():
    lines = [obj for _, _, obj in _sample_lines() if "_raw" not in obj]
    ranges = [r for o in lines for k in ("ip_allowlist.updated", "ip_allowlist.created") for r in o.get(k, {}).get("allowed_ips", [])]
    assert "0.0.0.0/0" in ranges and "::/0" in ranges
    ids = [o["organization.updated"]["changes_requested"].get("api_call_logging_project_ids")
           for o in lines if "organization.updated" in o]
    assert any(isinstance(i, str) for i in ids) and any(isinstance(i, list) for i in ids)
    assert any("scopes" in o.get("api_key.updated", {}).get("data", {}) for o in lines)
    assert any("scopes" in o.get("api_key.updated", {}).get("changes_requested", {}) for o in lines)
    assert any(o.get("actor", "missing") is None for o in lines)
    assert any(o.get("_indextime", 0) - o["effective_at"] >= 86400 for o in lines)


def test_samples_validate_against_the_spec():
    if not SHARED_SPEC.exists():
        pytest.skip("the spec extract is not beside the repository")
    jsonschema = pytest.importorskip("jsonschema")
    spec = yaml.safe_load(SHARED_SPEC.read_text(encoding="utf-8"))
    schema = dict(spec["components"]["schemas"]["AuditLog"])
    schema["components"] = spec["components"]
    validator = jsonschema.Draft202012Validator(schema)
    for name, n, obj in _sample_lines():
        if "_raw" in obj:
            continue
        data = {k: v for k, v in obj.items() if k != "_indextime"}
        # CONTRACT.md: `type` is an open string (external_storage.* is newer than the spec, the
        # older checkpoint_permission.* spelling is not in it), and api_call_logging_project_ids
        # may be an array although the spec types it as a string: those two are accepted
        errors = sorted((e for e in validator.iter_errors(data)
                         if list(e.path) != ["type"]
                         and list(e.path)[-1:] != ["api_call_logging_project_ids"]), key=str)
        assert not errors, "%s:%d: %s" % (name, n, errors[0].message)


def test_contentctl_export(project, tmp_path):
    """The export that `contentctl validate` accepts (contentctl 5.6.2, run by hand: see the
    module docstring): no add-on-only keys, sample files and lookup CSVs inside the project."""
    target = tmp_path / "cc"
    target.mkdir()
    with pytest.raises(bd.BuildError):
        bd.export_contentctl(project, target)
    (target / "contentctl.yml").write_text("app: {}\n")
    bd.export_contentctl(project, target)
    dets = sorted((target / "detections" / "cloud").glob("*.yml"))
    assert len(dets) == len(project["detections"])
    for path in dets:
        doc = yaml.safe_load(path.read_text())
        assert "deployment" not in doc and "_file" not in doc
        for test in doc["tests"]:
            for data in test["attack_data"]:
                assert (target / data["data"]).is_file()
    for lk in project["lookups"]:
        doc = yaml.safe_load((target / "lookups" / (lk["name"] + ".yml")).read_text())
        assert "filename" not in doc and "collection" not in doc
        if lk["lookup_type"] == "csv":
            assert (target / "lookups" / (lk["name"] + ".csv")).is_file()
