"""True version requirements: the Splunk versions the add-on declares are the ones whose Python can
import everything the package vendors, no lower and no higher."""
import email.parser
import json
import re
import tarfile
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
GLOBAL_CONFIG = json.loads((ROOT / "globalConfig.json").read_text(encoding="utf-8"))
VERSION = GLOBAL_CONFIG["meta"]["version"]
SPL = ROOT / "dist" / ("TA-openai-audit-%s.spl" % VERSION)

# The Python each Splunk Enterprise release runs add-ons with by default ("python3"). 9.3 moved from
# 3.7 to 3.9: https://help.splunk.com/splunk-enterprise/administer/python-3-migration/9.1/overview/
# python-development-with-splunk-enterprise ("Splunk Enterprise 9.3 uses the Python 3.9 interpreter
# by default"). Splunk 10 adds 3.13, which inputs.conf/restmap.conf opt into (python.required).
SPLUNK_PYTHON = {"9.0": "3.7", "9.1": "3.7", "9.2": "3.7", "9.3": "3.9", "9.4": "3.9", "10.0": "3.9"}


@pytest.fixture(scope="module")
def vendored():
    """{distribution: Requires-Python} of every distribution in the package's lib/."""
    if not SPL.exists():
        pytest.fail("%s is missing: run `make package` first" % SPL.relative_to(ROOT))
    found = {}
    with tarfile.open(SPL, "r:gz") as tar:
        for member in tar.getmembers():
            if re.fullmatch(r"TA-openai-audit/lib/[^/]+\.dist-info/METADATA", member.name):
                metadata = email.parser.Parser().parsestr(tar.extractfile(member).read().decode("utf-8"))
                found[metadata["Name"]] = metadata.get("Requires-Python") or ""
    assert {"solnlib", "requests", "splunk-sdk", "splunktaucclib"} <= set(found)
    return found


def manifest_minimum():
    manifest = json.loads((ROOT / "package" / "app.manifest").read_text(encoding="utf-8"))
    requirement = manifest["platformRequirements"]["splunk"]["Enterprise"]
    match = re.fullmatch(r">=(\d+)\.(\d+)\.0", requirement)
    assert match, requirement
    return "%s.%s" % match.groups()


def refusing(vendored, python):
    return sorted(name for name, spec in vendored.items() if Version(python) not in SpecifierSet(spec))


def test_every_supported_python_imports_every_vendored_library(vendored):
    for python in GLOBAL_CONFIG["meta"]["supportedPythonVersion"]:
        assert refusing(vendored, python) == [], python


def test_the_declared_minimum_splunk_is_the_first_whose_python_can_run_the_add_on(vendored):
    runnable = [v for v in sorted(SPLUNK_PYTHON, key=Version) if not refusing(vendored, SPLUNK_PYTHON[v])]
    assert manifest_minimum() == runnable[0]
    assert min(GLOBAL_CONFIG["meta"]["supportedPythonVersion"], key=Version) == SPLUNK_PYTHON[runnable[0]]


def test_readme_compatibility_table_states_the_minimum():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Compatibility", 1)[1].split("\n## ", 1)[0]
    assert "Splunk Enterprise %s" % manifest_minimum() in section
    for python in GLOBAL_CONFIG["meta"]["supportedPythonVersion"]:
        assert "Python %s" % python in section
