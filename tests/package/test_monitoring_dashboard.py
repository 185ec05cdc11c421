"""UCC's monitoring dashboard (built by `make package`): its data volume panels count this add-on's
license usage. UCC filters license_usage.log by source = the input name unless globalConfig sets
dashboard.settings.custom_license_usage; our events have source openai_audit:<account>, so the
filter is the sourcetype the input writes."""
import json
import re
from pathlib import Path

import pytest

import ta_openai_audit_splunk as splunk_side

DEFINITIONS = Path(__file__).resolve().parents[2] / "output" / "TA-openai-audit" / "appserver" / "static" / "js" / \
    "build" / "custom"
LICENSE_FILTER = re.compile(r"source=\*license_usage\.log type=Usage \((\w+) IN \(([^)]*)\)\)")


@pytest.fixture(scope="module")
def license_queries():
    if not (DEFINITIONS / "overview_definition.json").exists():
        pytest.fail("the monitoring dashboard is not built at %s: run `make package` first" % DEFINITIONS)
    queries = []
    for path in sorted(DEFINITIONS.glob("*_definition.json")):
        for source in json.loads(path.read_text(encoding="utf-8"))["dataSources"].values():
            query = source.get("options", {}).get("query", "")
            if "license_usage.log" in query:
                queries.append((path.name, query))
    # the overview's data volume, and the data ingestion tab and its modal
    assert {name for name, _ in queries} >= {"overview_definition.json", "data_ingestion_tab_definition.json",
                                            "data_ingestion_modal_definition.json"}
    return queries


def test_every_license_usage_panel_selects_the_sourcetype_the_input_writes(license_queries):
    for name, query in license_queries:
        match = LICENSE_FILTER.search(query)
        assert match, (name, query)
        field, values = match.groups()
        assert field == "st", (name, query)  # license_usage.log's sourcetype field
        assert [v.strip().strip('\\"') for v in values.split(",")] == [splunk_side.SOURCETYPE], (name, query)

