"""The detections' YAML schema (contentctl's rules and this add-on's), the generated confs, the
shipped lookups and the sample files.

tools/build_detections.py checks contentctl's rules that matter here and this add-on's own (output
fields, windows, lookups and macros resolve); the tests below prove each rule rejects what it
should. Splunk's contentctl 5.6.2 itself runs in tests/contentctl (its own virtualenv, made by
`make contentctl-venv`, because its pins clash with this project's).
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

SPEC = ROOT / "docs" / "api" / "openapi-audit-logs.yaml"


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
    shutil.copy(ROOT / "globalConfig.json", root / "globalConfig.json")
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
    (lambda d: d["tags"].update(throttling={"fields": ["user", "allowlist_id", "tenant", "severity"], "period": "3600s"}),
     "throttling field 'tenant'"),
    # suppression on the actor alone hides the actor's next, different event
    (lambda d: d["tags"].update(throttling={"fields": ["user"], "period": "3600s"}), "would hide a different event"),
    # a critical row must not be suppressed by an earlier high one on the same object
    (lambda d: d["tags"].update(throttling={"fields": ["user", "allowlist_id"], "period": "3600s"}),
     "would hide a different event"),
    (lambda d: d.update(search=d["search"].replace("`openai_audit` `openai_audit_skip_backfill` ", "`openai_audit` ", 1)),
     "backfilled events"),
    (lambda d: d.update(search=d["search"].replace("| `openai_audit_row_risk_score(72)`", "")),
     "an elevated row adds more risk"),
    (lambda d: d.update(search=d["search"].replace("| `openai_ip_allowlist_broadened_filter`",
                                                   "| eval seen=now() | `openai_ip_allowlist_broadened_filter`")),
     "use addinfo's info_max_time"),
    (lambda d: d["drilldown_searches"][0].update(search=d["drilldown_searches"][0]["search"] + " _index_earliest=-20m@m"),
     "uses _index_earliest"),
    (lambda d: d["drilldown_searches"][0].update(search='`openai_audit` user="$user$"'), "must match the actor"),
    (lambda d: d["drilldown_searches"][0].update(search='`openai_audit` (src_user="$user$" OR user="$user$") | rex "x$"'),
     "an unpaired $"),
    (lambda d: d["deployment"]["notable"].update(next_steps="1. Check $user$ and the $5 bill of $src$."),
     "is not a token"),
    (lambda d: d.update(search=d["search"].replace("`openai_allowlist_min_ipv4_prefix`", "`openai_nope`")),
     "macro `openai_nope` is not defined"),
    (lambda d: d.update(search=d["search"].replace("lookup openai_corporate_cidrs", "lookup corp_ranges")),
     "lookup 'corp_ranges' is not defined"),
    (lambda d: d["deployment"]["scheduling"].update(cron_schedule="*/15 * * * *"), "does not match the 15-minute"),
    (lambda d: d["deployment"]["scheduling"].update(cron_schedule="*/7 * * * *"), "is not every 5 or 15"),
    (lambda d: d["deployment"]["scheduling"].update(schedule_window=4), "schedule_window must be a string"),
    (lambda d: d["deployment"]["scheduling"].update(schedule_window="4m"), "schedule_window must be a string"),
    (lambda d: d.update(data_source=["OpenAI Logs"]), "data source 'OpenAI Logs' is not defined"),
    (lambda d: d["deployment"]["notable"].update(nes_fields=["user"]), "deployment.notable.nes_fields is unknown"),
    (lambda d: d["deployment"].update(alert_action={}), "deployment.alert_action is unknown"),
    (lambda d: d.update(search=d["search"].replace(" _index_latest=-5m@m", "")), "_index_latest"),
    (lambda d: d.update(id="not-a-uuid"), "not a UUID"),
    (lambda d: d["tags"].update(analytic_story=["No Such Story"]), "not defined in detections/stories"),
    (lambda d: d.update(tests=d["tests"][:1]), "near-miss"),
    (lambda d: d.update(drilldown_searches=d["drilldown_searches"][1:2]), "at least two drilldowns"),
])
def test_validation_rejects(project, change, message):
    errors = _mutated(project, STEM, change)
    assert any(message in e for e in errors), errors


@pytest.mark.parametrize("kind,stem,change,message", [
    ("lookups", "openai_byok_managers", lambda lk: lk.update(filename="byok.csv"), "filename is derived"),
    ("lookups", "openai_byok_managers", lambda lk: lk.update(fields=["user"]), "fields is derived"),
    ("lookups", "openai_byok_managers", lambda lk: lk.update(name="openai_byok_admins"), "file name must be"),
    ("lookups", "openai_known_projects", lambda lk: lk.update(collection="known"), "collection is derived"),
    ("lookups", "openai_known_projects", lambda lk: lk.update(fields=["project_id"]), "starting with _key"),
    ("lookups", "openai_corporate_cidrs", lambda lk: lk.update(match_type=["CIDR(range)"]), "bad match_type"),
    ("data_sources", "openai_audit_logs", lambda ds: ds["supported_TA"][0].update(version="0.0.9"),
     "supported_TA must list TA-openai-audit"),
    ("data_sources", "openai_audit_logs", lambda ds: ds.update(sourcetype="openai"), "sourcetype openai:audit"),
    ("baselines", "openai_baseline_known_projects", lambda b: b["deployment"].update(notable={}),
     "deployment.notable is unknown"),
])
def test_validation_rejects_lookup_data_source_and_baseline_mistakes(project, kind, stem, change, message):
    p = dict(project)
    p[kind] = [copy.deepcopy(x) for x in project[kind]]
    change(next(x for x in p[kind] if x["_file"].stem == stem))
    errors = bd.validate_project(p)
    assert any(message in e for e in errors), errors


def test_case_insensitive_admin_lists_are_looked_up_in_lower_case(project):
    """A case-insensitive admin list is a KV store list kept in lower case (KV store lookups ignore
    case_sensitive_match): a search that looks it up with the raw field is refused."""
    stem = "openai_tunnel_changed_by_non_network_admin"
    assert _mutated(project, stem, lambda d: None) == []
    errors = _mutated(project, stem, lambda d: d.update(search=d["search"].replace("user AS user_lc", "user")))
    assert any("openai_network_admins is a KV store list kept in lower case" in e for e in errors), errors


def test_kvstore_lookups_refuse_case_sensitive_match(project):
    p = dict(project)
    p["lookups"] = [dict(lk) for lk in project["lookups"]]
    next(lk for lk in p["lookups"] if lk["name"] == "openai_known_projects")["case_sensitive_match"] = False
    assert any("KV store lookups ignore case_sensitive_match" in e for e in bd.validate_project(p))


def test_admin_lists_are_kvstore_lookups_with_their_shipped_defaults_and_an_enabled_seed_search(project):
    transforms, collections, saved = conf("transforms.conf"), conf("collections.conf"), conf("savedsearches.conf")
    admin = [lk for lk in project["lookups"] if lk.get("maintained_by") == "admin"]
    assert len(admin) >= 8
    for lk in admin:
        st = transforms[lk["name"]]
        assert st["external_type"] == "kvstore" and st["collection"] == lk["name"] in collections
        assert st["fields_list"] == ", ".join(["_key"] + bd.lookup_fields(ROOT, lk)) and "case_sensitive_match" not in st
        assert transforms[lk["name"] + "_defaults"] == {"filename": bd.lookup_filename(lk)}
        seed = saved["TA-openai-audit - Admin List %s" % lk["name"]]
        assert seed["disabled"] == "0" and seed["run_on_startup"] == "true"
        assert seed["search"].startswith("| inputlookup %s_defaults " % lk["name"])
        assert seed["search"].endswith("key_field=list openai_admin_list_seeds")


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
        if det["type"] in ("TTP", "Anomaly"):
            assert st["search"].startswith("`openai_audit` `openai_audit_skip_backfill` ")
        assert st["search"].endswith("| `%s_filter`" % bd.snake(det["name"]))
        # plain Splunk: TTPs, the risk correlation and the health search are Triggered Alerts, one per
        # result; anomalies only feed ES's risk index
        assert st["alert.track"] == ("0" if det["type"] == "Anomaly" else "1") and st["alert.digest_mode"] == "0"
        if det["tags"].get("throttling"):
            assert st["alert.suppress"] == "1"
            assert st["alert.suppress.fields"].split(",") == det["tags"]["throttling"]["fields"]
        else:
            assert st["alert.suppress"] == "0" and "alert.suppress.fields" not in st
        # Enterprise Security
        assert st["action.correlationsearch.enabled"] == "1"
        assert st["action.correlationsearch.label"] == name
        assert len("endpoint - %s - Rule" % name) <= 99
        ann = json.loads(st["action.correlationsearch.annotations"])
        assert ann.get("mitre_attack", []) == (det["tags"].get("mitre_attack_id") or [])
        assert ann["analytic_story"] == det["tags"]["analytic_story"]
        # ESCU: TTPs (and the risk correlation) raise notables, anomalies and hunting searches do not
        assert st["action.notable"] == ("1" if det["type"] in ("TTP", "Correlation") else "0")
        assert st["action.notable.param.severity"] in bd.SEVERITIES
        prefix = "RBA: " if det["type"] == "Correlation" else ""  # contentctl's mark of RBA notables
        assert st["action.notable.param.rule_title"] == prefix + det["deployment"]["notable"]["rule_title"]
        drill = json.loads(st["action.notable.param.drilldown_searches"])
        assert len(drill) >= 2
        for d in drill:
            # usable hours later: no index-time window, nothing relative to when it runs
            assert not re.search(r"_index_(earliest|latest)|now\(\)|relative_time|%original", d["search"]), d
            assert d["earliest_offset"] == "$info_min_time$" and d["latest_offset"] == "$info_max_time$"
        steps = json.loads(st["action.notable.param.next_steps"])
        assert steps["version"] == 1 and steps["data"]
        if det["type"] not in ("TTP", "Anomaly"):
            assert "action.risk" not in st
        if det.get("rba"):
            risk = json.loads(st["action.risk.param._risk"])
            assert {"risk_object_field": "user", "risk_object_type": "user",
                    "risk_score": det["rba"]["risk_objects"][0]["score"]} in risk
            threats = {r["threat_object_field"] for r in risk if "threat_object_field" in r}
            assert {"src", "user_agent", "ja4"} <= threats
            assert st["action.risk"] == "1" and st["action.risk.param._risk_message"]
        # nothing AppInspect (cloud) flags: no script, command or webhook actions
        assert not [k for k in st if re.match(r"action\.(script|run|webhook|email|populate_lookup)", k)]


ES_TOKEN_KEYS = ("action.notable.param.rule_title", "action.notable.param.rule_description",
                 "action.risk.param._risk_message")


def test_every_dollar_in_what_es_substitutes_is_an_intended_token(project):
    """ES replaces $field$ in notable titles, descriptions, next steps, drilldowns and risk messages with
    the result's values, pairing the $ signs in order: a stray $ (a regex anchor, a price) shifts every
    later pair. Each pair must enclose a field the search produces (or a token ES fills itself)."""
    saved = conf("savedsearches.conf")
    by_stanza = {bd.stanza_name(d): d for d in project["detections"]}
    checked = 0
    for name, st in saved.items():
        if name not in by_stanza:
            continue
        produced = bd.output_fields(st["search"]) | bd.BUILTIN_TOKENS
        texts = [st[k] for k in ES_TOKEN_KEYS if k in st]
        texts.append(json.loads(st["action.notable.param.next_steps"])["data"])
        for d in json.loads(st["action.notable.param.drilldown_searches"]):
            texts += [d["name"], d["search"], d["earliest_offset"], d["latest_offset"]]
        for text in texts:
            assert text.count("$") % 2 == 0, (name, text)
            for token in text.split("$")[1::2]:
                assert re.match(r"^[A-Za-z_][\w.]*$", token) and token in produced, (name, token, text)
                checked += 1
    assert checked > 100


def test_the_time_base_must_come_from_addinfo_where_it_is_used():
    ok = '`openai_audit` x | addinfo | eval new=if(_indextime>=relative_time(info_max_time, "-20m@m"), 1, 0) | stats count by user'
    assert bd.addinfo_problems(ok) == []
    late = "`openai_audit` x | stats max(lastTime) as lastTime by user | addinfo | where lastTime>=relative_time(info_max_time, \"-90d@d\")"
    assert bd.addinfo_problems(late) == []
    dropped = "`openai_audit` x | addinfo | stats max(lastTime) as lastTime by user | where lastTime>=relative_time(info_max_time, \"-90d@d\")"
    assert bd.addinfo_problems(dropped)
    assert bd.addinfo_problems("`openai_audit` x | eval a=info_max_time | stats count")


def test_the_dollar_lint_finds_what_es_would_misread():
    assert bd.dollar_problems('`openai_audit` (src_user="$user$" OR user="$user$")') == []
    assert bd.dollar_problems('| rex "(?<x>\\d+)$" | search user="$user$"')  # the anchor pairs with $user
    assert bd.dollar_problems("costs $5 for $user$")


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
    assert text.startswith("# Where the add-on's events live")
    macros = conf("macros.conf")
    assert macros["openai_audit"]["definition"] == 'sourcetype="openai:audit"'
    assert macros["openai_audit"]["iseval"] == "0"
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
    transforms = conf("transforms.conf")
    for lk in project["lookups"]:
        if lk["lookup_type"] != "csv":
            assert transforms[lk["name"]]["fields_list"] == ", ".join(lk["fields"])
            continue
        filename = lk["name"] + ".csv"
        # an admin list's CSV holds its shipped defaults (the list itself is in the KV store)
        definition = lk["name"] + "_defaults" if lk.get("maintained_by") == "admin" else lk["name"]
        assert transforms[definition]["filename"] == filename
        with (ROOT / "package" / "lookups" / filename).open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        assert rows[0] and all(rows[0])
        assert len(rows) > 1, "%s: ship at least one commented example" % filename
        if filename in SHIPPED_DEFAULTS:
            assert all(r[0] and not r[0].startswith("#") and len(r) == len(rows[0]) for r in rows[1:]), filename
        else:
            assert all(r[0].startswith("# ") for r in rows[1:]), filename


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
    import jsonschema

    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
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
    """The export that tests/contentctl hands to contentctl: every YAML key kept except `deployment`,
    which takes contentctl's inline form; sample files and lookup CSVs inside the project; the
    project labelled like the add-on so that contentctl names the stanzas as we do."""
    target = tmp_path / "cc"
    target.mkdir()
    with pytest.raises(bd.BuildError):
        bd.export_contentctl(project, target)
    (target / "contentctl.yml").write_text("app: {}\nbuild_path: dist\n")
    bd.export_contentctl(project, target)
    settings = yaml.safe_load((target / "contentctl.yml").read_text())
    assert settings["build_path"] == "dist"
    assert settings["app"]["label"] == "TA-openai-audit"
    assert settings["app"]["version"] == json.loads((ROOT / "globalConfig.json").read_text())["meta"]["version"]
    dets = {path.name: yaml.safe_load(path.read_text()) for path in (target / "detections" / "cloud").glob("*.yml")}
    assert len(dets) == len(project["detections"])
    for det in project["detections"]:
        doc = dets[det["_file"].name]
        assert set(doc) == set(det) - {"_file"}
        assert {k: v for k, v in doc.items() if k not in ("deployment", "tests", "drilldown_searches")} == \
            {k: v for k, v in det.items() if k not in ("deployment", "tests", "_file", "drilldown_searches")}
        # contentctl requires its drilldown of production searches other than Hunting, and only of those
        added = [bd.CONTENTCTL_DRILLDOWN] if det["type"] != "Hunting" and det["status"] == "production" else []
        assert doc["drilldown_searches"] == det["drilldown_searches"] + added
        dep = doc["deployment"]
        assert dep["scheduling"] == det["deployment"]["scheduling"]
        action = {"rba": {"enabled": bool(det.get("rba")) and det["type"] in ("TTP", "Anomaly")}}
        if det["type"] in ("TTP", "Correlation"):
            notable = det["deployment"]["notable"]
            action["notable"] = {"rule_title": notable["rule_title"], "rule_description": notable["rule_description"],
                                 "nes_fields": det["tags"].get("throttling", {}).get("fields", [])}
        assert dep["alert_action"] == action
        for test in doc["tests"]:
            for data in test["attack_data"]:
                assert (target / data["data"]).is_file()
    for kind in ("macros", "stories", "data_sources", "lookups"):
        for item in project[kind]:
            doc = yaml.safe_load((target / kind / item["_file"].name).read_text())
            # maintained_by (admin lists) is this add-on's key, unknown to contentctl
            assert doc == {k: v for k, v in item.items() if k not in ("_file", "maintained_by")}
    for lk in project["lookups"]:
        if lk["lookup_type"] == "csv":
            assert (target / "lookups" / (lk["name"] + ".csv")).read_bytes() == \
                (ROOT / "package" / "lookups" / (lk["name"] + ".csv")).read_bytes()


def test_data_source_describes_the_events_the_input_writes(project):
    """The data source's example is an event of the API stand-in, written as the input writes it
    (compact JSON), and every field it lists is one the add-on gives that event at search time."""
    from ta_openai_audit.collector import compact_json
    from tools.openai_api_sim.generator import make_event
    from tools.spl import App
    (ds,) = project["data_sources"]
    assert ds["example_log"] == compact_json(make_event("api_key.created", seed=1, effective_at=1764100800))
    app = App.load(str(ROOT / "package"))
    extracted = app.extract(json.loads(ds["example_log"]))
    missing = [f for f in ds["fields"] if f not in extracted]
    assert missing == []
    assert len(ds["fields"]) == len(set(ds["fields"]))
    for det in project["detections"]:
        assert det["data_source"] == [ds["name"]]
