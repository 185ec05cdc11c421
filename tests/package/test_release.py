"""Releases: the version is written once (globalConfig.json meta.version) and found the same
everywhere it appears; the changelog ships as the release notes and has a CIM note per release."""
import json
import re
import tarfile
from pathlib import Path

import pytest

import ta_openai_audit
from ta_openai_audit.client import AuditLogClient

ROOT = Path(__file__).resolve().parents[2]
VERSION = json.loads((ROOT / "globalConfig.json").read_text(encoding="utf-8"))["meta"]["version"]
SPL = ROOT / "dist" / ("TA-openai-audit-%s.spl" % VERSION)
CHANGELOG = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
RELEASE = re.compile(r"^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2}|unreleased)$", re.M)


@pytest.fixture(scope="module")
def shipped():
    """The package's files that carry the version or the release notes, as text."""
    if not SPL.exists():
        pytest.fail("%s is missing: run `make package` first" % SPL.relative_to(ROOT))
    names = ("default/app.conf", "app.manifest", "VERSION", "bin/ta_openai_audit/__init__.py", "RELEASE_NOTES.md")
    with tarfile.open(SPL, "r:gz") as tar:
        return {name: tar.extractfile("TA-openai-audit/" + name).read().decode("utf-8") for name in names}


def test_app_conf_carries_the_version(shipped):
    stanzas = {}
    for line in shipped["default/app.conf"].splitlines():
        header = re.fullmatch(r"\[(\w+)\]", line)
        if header:
            current = stanzas.setdefault(header.group(1), {})
        elif " = " in line and not line.startswith("#"):
            key, value = line.split(" = ", 1)
            current[key] = value
    assert stanzas["launcher"]["version"] == stanzas["id"]["version"] == VERSION


def test_ucc_version_file_carries_the_version(shipped):
    assert set(shipped["VERSION"].split()) == {VERSION}  # UCC writes the version twice


def test_app_manifest_carries_the_version(shipped):
    assert json.loads(shipped["app.manifest"])["info"]["id"]["version"] == VERSION
    source = json.loads((ROOT / "package" / "app.manifest").read_text(encoding="utf-8"))
    assert source["info"]["id"]["version"] == VERSION


def test_the_engine_reports_the_version_in_its_user_agent(shipped):
    assert ta_openai_audit.__version__ == VERSION
    assert re.search(r'^__version__ = "%s"$' % re.escape(VERSION), shipped["bin/ta_openai_audit/__init__.py"], re.M)
    client = AuditLogClient("https://api.openai.com/v1", "sk-admin-" + "x" * 60)
    try:
        assert client.session.headers["User-Agent"].startswith("TA-openai-audit/%s " % VERSION)
    finally:
        client.close()


def test_the_changelog_ships_as_the_release_notes_the_manifest_names(shipped):
    notes = json.loads(shipped["app.manifest"])["info"]["releaseNotes"]
    assert notes["text"].lstrip("./") == "RELEASE_NOTES.md"
    assert shipped["RELEASE_NOTES.md"] == CHANGELOG


def test_every_release_is_listed_newest_first_with_a_cim_note():
    releases = RELEASE.findall(CHANGELOG)
    assert releases and releases[0][0] == VERSION
    versions = [tuple(map(int, v.split("."))) for v, _ in releases]
    assert versions == sorted(set(versions), reverse=True)
    sections = RELEASE.split(CHANGELOG)[3::3]  # the text after each release heading
    for (version, _), text in zip(releases, sections):
        cim = re.search(r"^### CIM fields\n+(\S.*)", text, re.M)
        assert cim, "release %s has no CIM fields note" % version
