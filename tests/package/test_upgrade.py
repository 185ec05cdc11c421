"""Issue 14.1: what admins put in the tuning lists survives an upgrade done the way Splunk does it.

Version N is the .spl `make package` builds, installed into a fake SPLUNK_HOME/etc/apps. Its
KV store lives outside the app, in SPLUNK_HOME/var/lib/splunk/kvstore (one JSON file per
collection here), and "splunkd" is the offline SPL evaluator (tools/spl) running the app's
searches against that store. Version N+1 is N with a new version, new shipped defaults for a list
and one more admin list, converted the way the lead converts a list (one YAML key, regenerate).
It is installed over N in the two ways that replace package files:
- an app upgrade (Apps > Install app from file > Upgrade app, or `splunk install app <spl> -update 1`):
  every file the package holds replaces its copy, lookups/ included (Splunk has no local/ for
  lookups); local/ and files the package does not hold stay;
- a deployment server push without excludeFromUpdate: the client's app directory becomes the
  server's copy, "all locally-generated content will be deleted or overwritten"
  (https://docs.splunk.com/Documentation/Splunk/latest/Updating/Excludecontent).
"""
import json
import re
import shutil
import tarfile
from pathlib import Path

import pytest

from tools import build_detections as bd
from tools.spl import App

ROOT = Path(__file__).resolve().parents[2]
APP = "TA-openai-audit"
VERSION = json.loads((ROOT / "globalConfig.json").read_text())["meta"]["version"]
SPL = ROOT / "dist" / ("%s-%s.spl" % (APP, VERSION))
SAMPLES = ROOT / "tests" / "detections" / "samples"
OUTSIDE = "TA-openai-audit - OpenAI Sensitive Change from Outside Corporate Network - Rule"
NOW = 1795620000


class SplunkHome:
    """etc/apps holds the app; the KV store is a folder of <collection>.json outside it."""

    def __init__(self, root: Path):
        self.apps = root / "etc" / "apps"
        self.kvstore = root / "var" / "lib" / "splunk" / "kvstore" / APP
        self.apps.mkdir(parents=True)
        self.kvstore.mkdir(parents=True)

    @property
    def app_dir(self) -> Path:
        return self.apps / APP

    def records(self, collection: str) -> list:
        path = self.kvstore / (collection + ".json")
        return json.loads(path.read_text()) if path.exists() else []

    def write_records(self, collection: str, records: list) -> None:
        """What the Lookup Editor app does through storage/collections/data."""
        (self.kvstore / (collection + ".json")).write_text(json.dumps(records))

    def install(self, package: Path, how: str) -> None:
        if how == "deployment server" and self.app_dir.exists():
            shutil.rmtree(self.app_dir)
        # "app upgrade": copy over what is there; package files replace theirs, nothing is removed
        shutil.copytree(package, self.app_dir, dirs_exist_ok=True)

    def splunkd(self) -> App:
        """The app as splunkd loads it, reading and writing this KV store."""
        return App.load(str(self.app_dir), lookups_dir=str(self.kvstore))

    def start(self, now: int) -> App:
        """splunkd starts at `now`: the scheduled searches with run_on_startup run, the KV store keeps
        what they wrote."""
        app = self.splunkd()
        app.run_startup_searches(now)
        transforms = app.confs["transforms"]
        for stanza, st in transforms.items():
            if st.get("external_type") == "kvstore":
                self.write_records(st["collection"], app.lookup_rows(stanza))
        return app


def extract_spl(dest: Path) -> Path:
    if not SPL.exists():
        pytest.fail("%s is missing: run `make package` first" % SPL.relative_to(ROOT))
    with tarfile.open(SPL, "r:gz") as tar:
        tar.extractall(dest, filter="data")
    return dest / APP


NEW_LIST_YAML = """name: openai_partner_asns
id: 6c0e4d1e-1111-4c1b-9d55-6a54b1f0c0de
version: 1
date: '2026-12-01'
author: TA-openai-audit detection engineering
lookup_type: csv
description: Autonomous systems of the organization's egress.
max_matches: 1
min_matches: 0
"""


def next_version(built: Path, work: Path) -> Path:
    """N+1: N with another version, other shipped examples for the corporate CIDRs, and one more
    admin list written in the plain CSV lookup format and converted with `maintained_by: admin`."""
    project = work / "project"
    for part in ("detections", "package/default", "package/lookups", "docs", "tests/detections/samples"):
        shutil.copytree(ROOT / part, project / part)
    shutil.copy(ROOT / "globalConfig.json", project / "globalConfig.json")  # the version the build checks
    (project / "detections" / "lookups" / "openai_partner_asns.yml").write_text(
        NEW_LIST_YAML + "maintained_by: admin\n")
    (project / "package" / "lookups" / "openai_partner_asns.csv").write_text(
        "asn,description\n# 64496,example only\n")
    (project / "package" / "lookups" / "openai_corporate_cidrs.csv").write_text(
        "cidr,description\n# 203.0.113.0/24,another example only\n")
    assert bd.main(["--root", str(project)]) == 0
    package = shutil.copytree(built, work / APP)
    for conf in ("transforms.conf", "collections.conf", "savedsearches.conf"):
        shutil.copy(project / "package" / "default" / conf, package / "default" / conf)
    for csv_name in ("openai_partner_asns.csv", "openai_corporate_cidrs.csv"):
        shutil.copy(project / "package" / "lookups" / csv_name, package / "lookups" / csv_name)
    app_conf = package / "default" / "app.conf"
    text, n = re.subn(r"^version = .*$", "version = 99.0.0", app_conf.read_text(), flags=re.M)
    assert n >= 1
    app_conf.write_text(text)
    return package


def sample_events() -> list:
    """Alice's allowlist change from 185.220.101.7, and a rate limit change by an API key of the
    service account svc_acct_AgjLIPEZw3iMN9YJrLwA4KHY (not on the automation list)."""
    lines = (SAMPLES / "openai_sensitive_change_from_outside_corporate_network.tp.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    return [e for e in events if e["type"] in ("ip_allowlist.updated", "rate_limit.updated")][:2]


def reasons(app: App) -> dict:
    app.index_events(sample_events())
    return {(r["user"], r["reason"]) for r in app.run_saved_search(OUTSIDE, now=NOW, all_time=True)}


ALICE_OUTSIDE = ("alice.smith@example.com", "non_corporate_source")
KEY_NOT_LISTED = ("svc_acct_AgjLIPEZw3iMN9YJrLwA4KHY", "api_key_not_on_automation_list")


@pytest.mark.parametrize("how", ["app upgrade", "deployment server"])
def test_admin_lists_survive_an_upgrade_and_the_detections_still_read_them(tmp_path, how):
    home = SplunkHome(tmp_path / "splunk")
    built = extract_spl(tmp_path / "n")
    home.install(built, how)

    # first start of version N: every admin list is seeded once from its shipped defaults
    app = home.start(NOW)
    lists = sorted(n[len("TA-openai-audit - Admin List "):] for n in app.saved_searches
                   if n.startswith("TA-openai-audit - Admin List "))
    assert "openai_corporate_cidrs" in lists and len(lists) >= 8
    seeds = {r["_key"]: float(r["seeded_time"]) for r in home.records("openai_admin_list_seeds")}
    assert sorted(seeds) == lists
    shipped = [r["cidr"] for r in home.records("openai_corporate_cidrs")]
    assert shipped and all(c.startswith("# ") for c in shipped)
    assert reasons(home.splunkd()) == {ALICE_OUTSIDE, KEY_NOT_LISTED}

    # the admin fills the lists (Lookup Editor: records in the KV store), empties one on purpose,
    # and types a service account id as OpenAI shows it, capitals included
    home.write_records("openai_corporate_cidrs", [{"_key": "a1", "cidr": "185.220.101.0/24", "description": "VPN"}])
    home.write_records("openai_automation_actors", [
        {"_key": "a2", "actor": "svc_acct_AgjLIPEZw3iMN9YJrLwA4KHY", "description": "terraform"}])
    home.write_records("openai_sensitive_scopes", [])
    home.start(NOW + 3600)  # the hourly run lowercases the new actor id
    assert [r["actor"] for r in home.records("openai_automation_actors")] == ["svc_acct_agjlipezw3imn9yjrlwa4khy"]
    assert reasons(home.splunkd()) == set()
    before = {c: home.records(c) for c in lists}

    # version N+1 goes over it; its package really replaces lookups/ (where the lists used to live)
    home.install(next_version(built, tmp_path / "n1"), how)
    assert "another example only" in (home.app_dir / "lookups" / "openai_corporate_cidrs.csv").read_text()
    assert re.search(r"^version = 99\.0\.0$", (home.app_dir / "default" / "app.conf").read_text(), re.M)
    home.start(NOW + 7200)

    # every list as the admin left it (the emptied one stays empty), the new list seeded once
    assert {c: home.records(c) for c in lists} == before
    assert [r["asn"] for r in home.records("openai_partner_asns")] == ["# 64496"]
    seeds_after = {r["_key"]: float(r["seeded_time"]) for r in home.records("openai_admin_list_seeds")}
    assert sorted(seeds_after) == sorted(lists + ["openai_partner_asns"])
    assert {k: seeds_after[k] for k in lists} == seeds == {k: NOW for k in lists}
    assert seeds_after["openai_partner_asns"] == NOW + 7200
    # and the detection still treats the admin's range as corporate and the admin's key as automation
    assert reasons(home.splunkd()) == set()

    # a restart is not a second seeding
    home.start(NOW + 10800)
    assert {c: home.records(c) for c in lists} == before
    assert [r["asn"] for r in home.records("openai_partner_asns")] == ["# 64496"]


def test_rows_added_before_the_first_run_are_kept_beside_the_defaults(tmp_path):
    """Seeding is recorded per list: a list without a seed record is seeded even when the admin
    already added rows, and those rows are kept beside the defaults."""
    home = SplunkHome(tmp_path / "splunk")
    home.install(extract_spl(tmp_path / "n"), "app upgrade")
    home.write_records("openai_byok_managers", [{"_key": "k1", "user": "Key.Custodian@Example.com"}])
    home.start(NOW)
    users = sorted(r["user"] for r in home.records("openai_byok_managers"))
    assert users[-1] == "key.custodian@example.com" and users[0].startswith("# ") and len(users) == 2
