"""What `make package` produces: the .spl Splunk installs, with nothing Splunk Cloud rejects."""
import json
import re
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VERSION = json.loads((ROOT / "globalConfig.json").read_text())["meta"]["version"]
SPL = ROOT / "dist" / ("TA-openai-audit-%s.spl" % VERSION)
COMPILED = re.compile(r"\.(so|pyd|pyc|pyo|dylib|dll|exe)$|/__pycache__/")


@pytest.fixture(scope="module")
def members():
    if not SPL.exists():
        pytest.fail("%s is missing: run `make package` first" % SPL.relative_to(ROOT))
    with tarfile.open(SPL, "r:gz") as tar:
        return tar.getmembers()


def test_single_top_level_directory_named_after_the_app(members):
    assert {m.name.split("/")[0] for m in members} == {"TA-openai-audit"}


def test_no_compiled_code(members):
    assert [m.name for m in members if COMPILED.search(m.name)] == []


def test_a_private_app_does_not_ask_splunkbase_for_updates(members):
    # globalConfig meta.checkForUpdates: false -> app.conf [package] check_for_updates = false
    with tarfile.open(SPL, "r:gz") as tar:
        app_conf = tar.extractfile("TA-openai-audit/default/app.conf").read().decode()
    assert re.search(r"^\[package\][^\[]*^check_for_updates = false$", app_conf, re.M)


def test_only_bin_scripts_are_executable(members):
    executable = [m.name for m in members if m.isfile() and m.mode & 0o111]
    assert executable and all(re.fullmatch(r"TA-openai-audit/bin/[^/]+\.py", n) for n in executable), executable


def test_tools_and_tests_are_not_shipped(members):
    names = [m.name for m in members]
    assert not [n for n in names if re.search(r"/(tools|tests|detections|openai_api_sim|splunkd_sim)/", n)]


def test_vendored_libraries_are_the_pinned_pure_python_ones(members):
    names = {m.name for m in members}
    for dist in ("requests-2.32.5.dist-info", "solnlib-8.2.0.dist-info", "splunk_sdk-2.1.1.dist-info"):
        assert "TA-openai-audit/lib/%s/METADATA" % dist in names
    assert not [n for n in names if "/lib/grpc" in n or "/lib/opentelemetry" in n or "/lib/google/" in n]


# conf files Splunk itself defines; every other .conf the add-on ships is "custom"
SPLUNK_CONFS = {"app", "props", "transforms", "eventtypes", "tags", "macros", "savedsearches",
                "collections", "inputs", "restmap", "web", "server"}


def test_custom_confs_reload_and_replicate_across_a_search_head_cluster(members):
    with tarfile.open(SPL, "r:gz") as tar:
        app_conf = tar.extractfile("TA-openai-audit/default/app.conf").read().decode()
        server_conf = tar.extractfile("TA-openai-audit/default/server.conf").read().decode()
    custom = {re.match(r"TA-openai-audit/default/([^/]+)\.conf$", m.name).group(1)
              for m in members if re.match(r"TA-openai-audit/default/[^/]+\.conf$", m.name)} - SPLUNK_CONFS
    assert {"analyticstories", "ta_openai_audit_settings"} <= custom
    for conf in sorted(custom):
        assert re.search(r"^reload\.%s = simple$" % conf, app_conf, re.M), conf
        assert re.search(r"^conf_replication_include\.%s = true$" % conf, server_conf, re.M), conf
