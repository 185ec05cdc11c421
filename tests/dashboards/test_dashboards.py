"""The two Dashboard Studio views shipped in the add-on (issue 9).

- Both views parse (Dashboard Studio: <dashboard version="2"> with a JSON definition).
- The definitions hold together: every reference (data source, visualization, input, layout,
  token) points at something that exists, every panel is placed once, every input is used
  (``definition_problems``, itself tested on broken copies). When node/npm can fetch them, the
  definitions are also validated with Splunk's published schemas (npm @splunk/dashboard-definition
  and @splunk/visualization-schemas), see splunk_schema_check.js.
- Every data source query runs through the offline SPL evaluator (tools/spl) over demo data, with
  the tokens set to their defaults (and to test values for the filters), without error, and gives
  the rows the demo data calls for. The demo data is made the way `make demo` makes it: the
  API stand-in serves the scenario, the engine's collector pulls it (so the checkpoints are the
  engine's own records, stored as solnlib's KV store checkpointer stores them), the input's log
  lines are written by solnlib's own logging functions, and the add-on's detections are run over
  the collected events to decide which alerts fired (index=_audit), which notables and which risk
  events Enterprise Security would hold.
"""
from __future__ import annotations

import copy
import json
import logging
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Dict, List
from urllib.parse import quote

import pytest
from solnlib import log as solnlog

import ta_openai_audit_splunk as splunk_side
from ta_openai_audit.checkpoint import MemoryCheckpointStore
from ta_openai_audit.client import AuditLogClient
from ta_openai_audit.collector import Collector
from ta_openai_audit.errors import (
    ApiUnavailableError, AuthenticationError, CheckpointError, ConfigurationError,
)
from ta_openai_audit.settings import InputSettings
from tools.openai_api_sim import DEFAULT_KEY, ApiSim, scenario_names
from tools.openai_api_sim.generator import make_event
from tools.spl import App

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "package"
VIEWS_DIR = PACKAGE / "default" / "data" / "ui" / "views"
NAV = PACKAGE / "default" / "data" / "ui" / "nav" / "default.xml"
VIEWS = ("openai_audit_overview", "openai_audit_input_health")
APP_ID = "TA-openai-audit"
GAP_RULE = "TA-openai-audit - OpenAI Audit Log Collection Gap - Rule"
NOW = 1795647600  # the demo's "now": 2026-11-25 23:00 UTC
LOG_DIR = "/opt/splunk/var/log/splunk"

# Dashboard Studio's vocabulary (help.splunk.com, "What is a dashboard definition?" and the
# data source / input / layout references).
TOP_LEVEL = {"title", "description", "dataSources", "visualizations", "inputs", "defaults", "layout",
             "expressions", "applicationProperties"}
DS_TYPES = {"ds.search", "ds.chain", "ds.savedSearch", "ds.test"}
INPUT_TYPES = {"input.timerange", "input.dropdown", "input.multiselect", "input.text", "input.number",
               "input.checkbox", "input.radio"}
NO_DATA_VIZ = {"splunk.markdown", "splunk.image", "splunk.rectangle", "splunk.ellipse", "abslayout.line"}
ID_RE = re.compile(r"^[A-Za-z0-9_-]+$")
TOKEN_RE = re.compile(r"\$([^$\s]*)\$")
GRID_WIDTH = 1200
# Where a query may start: the add-on's events, or the Splunk data the panel is about.
QUERY_ORIGINS = ("`openai_audit`", "`openai_audit_risk`", "index=_internal ", "index=_audit ",
                 "index=notable ", "| inputlookup openai_audit_checkpoints")


# ----------------------------------------------------------------------------------- loading
def load_view(name: str):
    root = ET.parse(str(VIEWS_DIR / (name + ".xml"))).getroot()
    return root, json.loads(root.find("definition").text)


def token_defaults(definition: Dict[str, Any]) -> Dict[str, str]:
    """Token -> default value, as the dashboard starts (a time range gives .earliest/.latest)."""
    out = {}
    for inp in definition.get("inputs", {}).values():
        opts = inp.get("options", {})
        token, default = opts.get("token"), opts.get("defaultValue")
        if inp["type"] == "input.timerange":
            earliest, _, latest = str(default).partition(",")
            out[token + ".earliest"], out[token + ".latest"] = earliest, latest
        else:
            out[token] = default
    return out


def substitute(text: str, tokens: Dict[str, str]) -> str:
    """Dashboard Studio's token substitution, with its filters: |s quotes the value (escaping the
    quotes and backslashes in it), |u URL-encodes it, |h and |n leave it as it is here."""
    def one(m):
        name, *filters = m.group(1).split("|")
        if name not in tokens:
            raise KeyError("token $%s$ has no value" % name)
        value = tokens[name]
        for f in filters:
            if f == "s":
                value = '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"')
            elif f == "u":
                value = quote(value, safe="")
            elif f not in ("h", "n"):
                raise ValueError("unknown token filter |%s in $%s$" % (f, m.group(1)))
        return value
    return TOKEN_RE.sub(one, text)


def data_source_query(definition: Dict[str, Any], ds_id: str, tokens: Dict[str, str]):
    """(SPL, earliest, latest) of a data source, tokens substituted, defaults applied."""
    ds = definition["dataSources"][ds_id]
    params = dict(definition.get("defaults", {}).get("dataSources", {}).get(ds["type"], {})
                  .get("options", {}).get("queryParameters", {}))
    params.update(ds["options"].get("queryParameters", {}))
    return (substitute(ds["options"]["query"], tokens), substitute(params.get("earliest", ""), tokens),
            substitute(params.get("latest", ""), tokens))


# ------------------------------------------------------------------- the definition check
def definition_problems(d: Dict[str, Any]) -> List[str]:
    """Everything that would make Dashboard Studio refuse the definition or show a broken panel:
    unknown sections, ids it does not accept, references to data sources, visualizations or
    inputs that do not exist, tokens no input sets, panels placed twice or never, overlapping or
    out-of-grid blocks, inputs and data sources nothing uses."""
    problems: List[str] = []
    for key in d:
        if key not in TOP_LEVEL:
            problems.append("unknown top-level section %r" % key)
    dss = d.get("dataSources", {})
    vizs = d.get("visualizations", {})
    inputs = d.get("inputs", {})
    for section, items in (("dataSources", dss), ("visualizations", vizs), ("inputs", inputs)):
        for item_id in items:
            if not ID_RE.match(item_id):
                problems.append("%s id %r is not [A-Za-z0-9_-]+" % (section, item_id))
    if set(dss) & set(vizs) or set(dss) & set(inputs) or set(vizs) & set(inputs):
        problems.append("an id is used twice across dataSources/visualizations/inputs")

    # tokens: set by inputs (a time range sets <token>.earliest and <token>.latest)
    tokens = set()
    for input_id, inp in inputs.items():
        if inp.get("type") not in INPUT_TYPES:
            problems.append("input %s: unknown type %r" % (input_id, inp.get("type")))
        opts = inp.get("options", {})
        token = opts.get("token")
        if not token or not ID_RE.match(token):
            problems.append("input %s: no valid options.token" % input_id)
            continue
        if "defaultValue" not in opts:
            problems.append("input %s: no options.defaultValue (its searches would wait for a value)" % input_id)
        if inp.get("type") == "input.timerange":
            tokens |= {token + ".earliest", token + ".latest"}
        else:
            tokens.add(token)
        for ref in inp.get("dataSources", {}).values():
            if ref not in dss:
                problems.append("input %s: data source %r does not exist" % (input_id, ref))

    used_tokens = set()

    def check_tokens(where: str, text: str, allow_row: bool = False) -> None:
        if text.count("$") % 2:
            problems.append("%s: odd number of '$' (a stray $ starts a token in Dashboard Studio)" % where)
        for m in TOKEN_RE.finditer(text):
            name = m.group(1).split("|", 1)[0]
            if allow_row and name.startswith("row."):
                continue
            used_tokens.add(name)
            if name not in tokens:
                problems.append("%s: token $%s$ is set by no input" % (where, name))

    defaults_ds = d.get("defaults", {}).get("dataSources", {})
    for ds_type, conf in defaults_ds.items():
        for key, value in conf.get("options", {}).get("queryParameters", {}).items():
            check_tokens("defaults %s queryParameters.%s" % (ds_type, key), value)

    for ds_id, ds in dss.items():
        ds_type = ds.get("type")
        opts = ds.get("options", {})
        if ds_type not in DS_TYPES:
            problems.append("data source %s: unknown type %r" % (ds_id, ds_type))
        if ds_type in ("ds.search", "ds.chain"):
            query = opts.get("query")
            if not isinstance(query, str) or not query.strip():
                problems.append("data source %s: no options.query" % ds_id)
            else:
                check_tokens("data source %s query" % ds_id, query)
        if ds_type == "ds.chain" and opts.get("extend") not in dss:
            problems.append("data source %s: extends %r, which does not exist" % (ds_id, opts.get("extend")))
        if ds_type == "ds.savedSearch" and not opts.get("ref"):
            problems.append("data source %s: no options.ref" % ds_id)
        for key, value in opts.get("queryParameters", {}).items():
            check_tokens("data source %s queryParameters.%s" % (ds_id, key), value)

    referenced = {ref for v in list(vizs.values()) + list(inputs.values())
                  for ref in v.get("dataSources", {}).values()}
    referenced |= {ds.get("options", {}).get("extend") for ds in dss.values()}
    for ds_id in dss:
        if ds_id not in referenced:
            problems.append("data source %s is used by no visualization or input" % ds_id)

    for viz_id, viz in vizs.items():
        vtype = viz.get("type")
        if not isinstance(vtype, str) or not vtype.startswith(("splunk.", "abslayout.", "viz.")):
            problems.append("visualization %s: unknown type %r" % (viz_id, vtype))
        refs = viz.get("dataSources", {})
        if vtype not in NO_DATA_VIZ and "primary" not in refs:
            problems.append("visualization %s: no dataSources.primary" % viz_id)
        for role, ref in refs.items():
            if ref not in dss:
                problems.append("visualization %s: dataSources.%s %r does not exist" % (viz_id, role, ref))
        for handler in viz.get("eventHandlers", []):
            opts = handler.get("options", {})
            if handler.get("type") == "drilldown.customUrl":
                check_tokens("visualization %s drilldown url" % viz_id, opts.get("url", ""), allow_row=True)
                for m in TOKEN_RE.finditer(opts.get("url", "")):
                    name = m.group(1).split("|", 1)[0]
                    if name.startswith("row.") and not re.match(r"^row\.[^.]+\.value$", name):
                        problems.append("visualization %s: row token %r is not row.<field>.value" % (viz_id, name))
            elif handler.get("type") == "drilldown.setToken":
                for t in opts.get("tokens", []):
                    if t.get("token") not in tokens:
                        problems.append("visualization %s: sets token %r, which no input shows" % (viz_id, t.get("token")))
                    if "key" in t and not re.match(r"^row\.[^.]+\.value$", t["key"]):
                        problems.append("visualization %s: setToken key %r is not row.<field>.value" % (viz_id, t["key"]))
            else:
                problems.append("visualization %s: unexpected event handler %r" % (viz_id, handler.get("type")))

    # layout: Splunk's current format, tabs -> layoutDefinitions -> structure
    layout = d.get("layout", {})
    for key in layout:
        if key not in ("options", "tabs", "globalInputs", "layoutDefinitions"):
            problems.append("layout: unknown key %r" % key)
    definitions = layout.get("layoutDefinitions", {})
    tab_items = layout.get("tabs", {}).get("items", [])
    if not tab_items:
        problems.append("layout: no tabs.items")
    for tab in tab_items:
        if tab.get("layoutId") not in definitions:
            problems.append("layout tab %r: layoutId %r does not exist" % (tab.get("label"), tab.get("layoutId")))
    placed: Dict[str, int] = {}
    for layout_id, ld in definitions.items():
        if ld.get("type") not in ("grid", "absolute"):
            problems.append("layout %s: type %r is not grid or absolute" % (layout_id, ld.get("type")))
        boxes = []
        for item in ld.get("structure", []):
            item_id = item.get("item")
            if item_id in vizs:
                placed[item_id] = placed.get(item_id, 0) + 1
            elif not (ld.get("type") == "absolute" and item_id in inputs):
                problems.append("layout %s: item %r is not a visualization" % (layout_id, item_id))
            pos = item.get("position", {})
            if not all(isinstance(pos.get(k), int) and pos.get(k) >= 0 for k in ("x", "y", "w", "h")):
                problems.append("layout %s: item %r has no integer position x/y/w/h" % (layout_id, item_id))
                continue
            if ld.get("type") == "grid":
                if pos["x"] + pos["w"] > GRID_WIDTH or pos["w"] == 0 or pos["h"] == 0:
                    problems.append("layout %s: item %r does not fit the %d px grid" % (layout_id, item_id, GRID_WIDTH))
                for other_id, o in boxes:
                    if pos["x"] < o["x"] + o["w"] and o["x"] < pos["x"] + pos["w"] and \
                            pos["y"] < o["y"] + o["h"] and o["y"] < pos["y"] + pos["h"]:
                        problems.append("layout %s: %r overlaps %r" % (layout_id, item_id, other_id))
                boxes.append((item_id, pos))
    for viz_id in vizs:
        if placed.get(viz_id, 0) != 1:
            problems.append("visualization %s is placed %d times in the layout" % (viz_id, placed.get(viz_id, 0)))
    global_inputs = layout.get("globalInputs", [])
    for input_id in global_inputs:
        if input_id not in inputs:
            problems.append("layout.globalInputs: input %r does not exist" % input_id)
    for input_id in inputs:
        if input_id not in global_inputs and not any(
                it.get("item") == input_id for ld in definitions.values() for it in ld.get("structure", [])):
            problems.append("input %s is not shown (not in globalInputs nor on a canvas)" % input_id)
        token = inputs[input_id].get("options", {}).get("token")
        if inputs[input_id].get("type") == "input.timerange":
            if not {token + ".earliest", token + ".latest"} <= used_tokens:
                problems.append("input %s: its time range is used by no search" % input_id)
        elif token not in used_tokens:
            problems.append("input %s: token %r is used by no search" % (input_id, token))
    return problems


# ------------------------------------------------------------------------------ static tests
@pytest.mark.parametrize("name", VIEWS)
def test_view_is_a_dashboard_studio_view(name):
    root, definition = load_view(name)
    assert root.tag == "dashboard" and root.get("version") == "2"
    assert root.findtext("label").strip() == definition["title"]
    assert definition["dataSources"] and definition["visualizations"]


@pytest.mark.parametrize("name", VIEWS)
def test_definition_references_hold_together(name):
    _, definition = load_view(name)
    assert definition_problems(definition) == []


@pytest.mark.parametrize("name", VIEWS)
def test_every_query_starts_from_the_addon_macro_or_the_data_it_is_about(name):
    _, definition = load_view(name)
    for ds_id, ds in definition["dataSources"].items():
        assert ds["options"]["query"].startswith(QUERY_ORIGINS), ds_id


def _break(definition, how):
    d = copy.deepcopy(definition)
    viz_id = next(v for v, viz in d["visualizations"].items() if "primary" in viz.get("dataSources", {}))
    structure = d["layout"]["layoutDefinitions"]["layout_main"]["structure"]
    if how == "viz -> missing data source":
        d["visualizations"][viz_id]["dataSources"]["primary"] = "ds_missing"
        return d, "ds_missing"
    if how == "layout -> missing visualization":
        structure[0]["item"] = "viz_missing"
        return d, "viz_missing"
    if how == "visualization never placed":
        d["visualizations"]["viz_orphan"] = copy.deepcopy(d["visualizations"][viz_id])
        return d, "viz_orphan"
    if how == "globalInputs -> missing input":
        d["layout"]["globalInputs"].append("input_missing")
        return d, "input_missing"
    if how == "query token set by no input":
        ds = next(iter(d["dataSources"].values()))
        ds["options"]["query"] += " | search x=$nosuchtoken$"
        return d, "nosuchtoken"
    if how == "stray dollar in a query":
        ds_id = next(iter(d["dataSources"]))
        d["dataSources"][ds_id]["options"]["query"] += ' | eval x=replace(x, "a$", "")'
        return d, ds_id
    if how == "data source nothing uses":
        d["dataSources"]["ds_unused"] = {"type": "ds.search", "options": {"query": "`openai_audit`"}}
        return d, "ds_unused"
    if how == "tab -> missing layout":
        d["layout"]["tabs"]["items"][0]["layoutId"] = "layout_missing"
        return d, "layout_missing"
    if how == "overlapping panels":
        structure[1]["position"] = dict(structure[0]["position"])
        return d, structure[1]["item"]
    if how == "input token used by no search":
        d["inputs"]["input_extra"] = {"type": "input.text", "options": {"token": "unused", "defaultValue": "*"}}
        d["layout"]["globalInputs"].append("input_extra")
        return d, "unused"
    raise AssertionError(how)


BREAKAGES = ("viz -> missing data source", "layout -> missing visualization", "visualization never placed",
             "globalInputs -> missing input", "query token set by no input", "stray dollar in a query",
             "data source nothing uses", "tab -> missing layout", "overlapping panels",
             "input token used by no search")


@pytest.mark.parametrize("how", BREAKAGES)
def test_the_definition_check_catches_dangling_references(how):
    _, definition = load_view("openai_audit_overview")
    broken, culprit = _break(definition, how)
    problems = definition_problems(broken)
    assert any(culprit in p for p in problems), problems


def test_nav_keeps_the_ucc_pages_and_adds_both_dashboards():
    # ucc-gen writes default/data/ui/nav/default.xml only when the package has none, and copies the
    # package over its output: this file is the nav of the built add-on.
    nav = ET.parse(str(NAV)).getroot()
    views = [v.get("name") for v in nav.iter("view")]
    assert set(views) == {"inputs", "configuration", "dashboard", "search", *VIEWS}
    assert [v.get("name") for v in nav.iter("view") if v.get("default") == "true"] == ["configuration"]
    for name in VIEWS:
        assert (VIEWS_DIR / (name + ".xml")).is_file()


def test_checkpoint_lookup_is_a_read_view_of_the_engine_collection():
    app = App.load(str(PACKAGE))
    stanza = app.confs["transforms"]["openai_audit_checkpoints"]
    assert stanza["external_type"].strip() == "kvstore"
    assert stanza["collection"].strip() == splunk_side.CHECKPOINT_COLLECTION
    assert [f.strip() for f in stanza["fields_list"].split(",")] == ["_key", "state"]
    assert "field.state" in app.confs["collections"][splunk_side.CHECKPOINT_COLLECTION]


# ------------------------------------------------------------ Splunk's published schema (npm)
SCHEMA_PACKAGES = ("@splunk/dashboard-definition@29.6.0", "@splunk/visualization-schemas@28.6.0",
                   "ajv@8.20.0")


@pytest.fixture(scope="session")
def splunk_schema_modules(request):
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node:
        pytest.skip("node is not installed: Splunk's npm schema cannot run (the definition check above still ran)")
    cache = request.config.cache.mkdir("dashboard-studio-schema")
    modules = cache / "node_modules"
    marker = cache / "installed.txt"
    if not marker.exists() or marker.read_text() != " ".join(SCHEMA_PACKAGES):
        if not npm:
            pytest.skip("npm is not installed: Splunk's npm schema cannot be fetched")
        (cache / "package.json").write_text('{"name": "schema-check", "version": "1.0.0", "private": true}')
        try:
            result = subprocess.run(
                [npm, "install", "--no-audit", "--no-fund", "--ignore-scripts", "--prefix", str(cache),
                 *SCHEMA_PACKAGES], capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            pytest.skip("npm install of Splunk's schema packages timed out (registry unreachable?)")
        if result.returncode != 0:
            pytest.skip("npm could not install Splunk's schema packages (registry unreachable?): %s"
                        % result.stderr.strip()[-300:])
        marker.write_text(" ".join(SCHEMA_PACKAGES))
    return node, modules


def _schema_check(node, modules, paths):
    return subprocess.run([node, str(Path(__file__).with_name("splunk_schema_check.js")), *map(str, paths)],
                          capture_output=True, text=True, timeout=120, env={"NODE_PATH": str(modules)})


def test_definitions_pass_splunks_published_schema(splunk_schema_modules, tmp_path):
    node, modules = splunk_schema_modules
    paths = []
    for name in VIEWS:
        _, definition = load_view(name)
        path = tmp_path / (name + ".json")
        path.write_text(json.dumps(definition))
        paths.append(path)
    result = _schema_check(node, modules, paths)
    reports = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["errors"] for r in reports] == [[] for _ in VIEWS], result.stdout + result.stderr
    assert result.returncode == 0


def test_the_published_schema_check_rejects_a_broken_definition(splunk_schema_modules, tmp_path):
    node, modules = splunk_schema_modules
    _, definition = load_view("openai_audit_overview")
    definition["visualizations"]["viz_categories"]["options"]["legendDisply"] = "off"  # misspelt option
    definition["visualizations"]["viz_login_map"]["options"]["layers"][0]["type"] = "dots"
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(definition))
    result = _schema_check(node, modules, [path])
    errors = json.loads(result.stdout)["errors"]
    assert result.returncode == 1
    assert any("legendDisply" in e for e in errors) and any("viz_login_map" in e for e in errors)


# ------------------------------------------------------------------------------- demo data
class InputLog:
    """One input's log file as splunkd indexes it (index=_internal, source
    .../ta-openai-audit_<input>.log): what is written through ``logger``, with solnlib's line format,
    stamped with the time in ``at``."""

    FORMATTER = logging.Formatter(solnlog.Logs._default_log_format)

    def __init__(self, name: str, scenario: str):
        self.name = name
        self.at = 0.0
        self.records: List[logging.LogRecord] = []
        log = self

        class Capture(logging.Handler):
            def emit(self, record):
                record.created, record.msecs = log.at, 0
                log.records.append(record)

        self.logger = logging.getLogger("test-dashboards.ta-openai-audit_%s.%s" % (name, scenario))
        self.logger.handlers[:] = [Capture()]
        self.logger.propagate = False
        self.logger.setLevel(logging.DEBUG)

    def events(self) -> List[Dict[str, Any]]:
        """The lines written since the last call, as _internal events."""
        out = [{"_raw": self.FORMATTER.format(record), "_time": record.created, "index": "_internal",
                "sourcetype": "ta-openai-audit_%s-too_small" % self.name,
                "source": "%s/ta-openai-audit_%s.log" % (LOG_DIR, self.name), "host": "hf1"}
               for record in self.records]
        self.records.clear()
        return out


class _JsonSink:
    """The collector's sink: keeps every event, parsed back from the JSON text it was given."""

    def __init__(self) -> None:
        self.events: List[Dict[str, Any]] = []

    def emit(self, raw: str, effective_at: int, event: Dict[str, Any], backfill: bool) -> None:
        self.events.append(json.loads(raw))

    def flush(self) -> None:
        pass


class Demo:
    """What a Splunk search head would hold after `make demo`: the audit events, the inputs'
    log lines in _internal, alert/notable/risk events for the detections that fire, and the
    checkpoint records in the KV store."""

    def __init__(self, scenario: str, lookups_dir: Path):
        self.scenario = scenario
        self.collected: Dict[str, List[Dict[str, Any]]] = {}  # account -> audit log dicts
        self.summaries: Dict[str, Any] = {}  # account -> the collector's RunSummary
        self.store = MemoryCheckpointStore()
        self._collect()
        self.extra_events: List[Dict[str, Any]] = []
        self.errors: List[Dict[str, str]] = []
        self.runs: Dict[str, List[int]] = {}
        self._input_logs()
        self.fired: Dict[str, List[Dict[str, Any]]] = {}
        self._detections()
        records = [{"_key": key, "state": json.dumps(state)} for key, state in self.store.records.items()]
        # a record the collector cannot read (hand-edited, or from another version)
        records.append({"_key": "openai_audit_logs://broken", "state": "{not json"})
        (lookups_dir / (splunk_side.CHECKPOINT_COLLECTION + ".json")).write_text(json.dumps(records))
        self.app = App.load(str(PACKAGE), lookups_dir=str(lookups_dir))
        self.app.index_events(self.audit_events())
        self.app.index_events(self.extra_events)

    # -- the audit log, collected by the engine from the API stand-in
    def _collect(self) -> None:
        with ApiSim(scenario=self.scenario, seed=1, anchor=NOW - 120) as sim:
            # "prod": a full run, both streams; "lab": stopped by splunkd after its first page,
            # so its checkpoint holds a window being walked
            for account, fields, stop_after_first_page in (
                    ("prod", {"tenant_scoped": "1"}, False), ("lab", {}, True)):
                stanza = {"account": account, "index": "main", "start": "7", "interval": "60"}
                stanza.update(fields)
                settings = InputSettings.from_stanza(stanza, now=NOW)
                client = AuditLogClient(sim.base_url, DEFAULT_KEY, read_timeout=10, time_budget=30)
                got = _JsonSink()
                try:
                    self.summaries[account] = Collector(
                        client, self.store, splunk_side.checkpoint_key(account), settings, clock=lambda: NOW,
                        should_stop=(lambda: bool(got.events)) if stop_after_first_page else None,
                    ).run(got)
                finally:
                    client.close()
                self.collected[account] = got.events

    def audit_events(self) -> List[Dict[str, Any]]:
        out = []
        for account, logs in self.collected.items():
            for obj in logs:
                out.append({"_raw": json.dumps(obj, separators=(",", ":"), ensure_ascii=False),
                            "_time": obj["effective_at"], "_indextime": max(obj["effective_at"] + 90, NOW - 60),
                            "sourcetype": "openai:audit", "source": "openai_audit:" + account,
                            "index": "main", "host": "hf1"})
        return out

    # -- the inputs' log files, written by solnlib's functions with solnlib's line format
    def _input_logs(self) -> None:
        errors = {
            "prod": [(NOW - 1800, ApiUnavailableError("the API kept answering 503 for 30 s; the next run retries")),
                     (NOW - 7200, AuthenticationError("the API refused the admin key (401): check the account"))],
            "lab": [(NOW - 900, CheckpointError("the KV store collection ta_openai_audit_checkpoints cannot be opened")),
                    (NOW - 5400, ConfigurationError("account 'lab' does not exist: add it on the Configuration page"))],
        }
        categories = {ApiUnavailableError: "Server Error", AuthenticationError: "Authentication Error",
                      CheckpointError: "Checkpoint Error", ConfigurationError: "Configuration Error"}
        for name in ("prod", "lab"):
            log = InputLog(name, self.scenario)
            logger = log.logger
            key = splunk_side.checkpoint_key(name)
            # three earlier, empty runs an hour apart, then the run that collected the demo
            counts = [0, 0, 0, len(self.collected[name])]
            self.runs[name] = counts
            for i, n in enumerate(counts):
                log.at = NOW - 3600 * (len(counts) - 1 - i) - 30
                solnlog.modular_input_start(logger, name)
                solnlog.events_ingested(logger, key, splunk_side.SOURCETYPE, n, "main", account=name)
                if i == len(counts) - 1:  # what the shim logs after the run that collected the demo
                    summary = self.summaries[name]
                    for stream in summary.streams:
                        logger.info("checkpoint_summary input=%s %s", name,
                                    stream.checkpoint_line(log.at, summary.clock_skew, 900))
                solnlog.modular_input_end(logger, name)
            for when, exc in errors[name]:
                log.at = when
                splunk_side.log_collector_error(logger, exc, "input %s: " % name)
                self.errors.append({"input": name, "category": categories[type(exc)], "message": str(exc)})
            log.at = NOW - 600
            logger.warning("input=%s a warning that is not an error", name)
            self.extra_events += log.events()
        # an unforeseen failure: full traceback, several lines
        log = InputLog("prod", self.scenario)
        log.at = NOW - 300
        try:
            raise KeyError("effective_at")
        except KeyError as exc:
            splunk_side.log_unexpected_error(log.logger, exc, "input prod: ")
        self.errors.append({"input": "prod", "category": "Unexpected Error", "message": "KeyError"})
        self.extra_events += log.events()
        # another add-on's input in the same index must not count
        self.extra_events.append({
            "_raw": "2026-11-25 19:59:00,000 log_level=INFO pid=1 tid=MainThread file=log.py:log_event:1 | "
                    "action=events_ingested modular_input_name=other://x sourcetype_ingested=other "
                    "n_events=999 event_input=x event_index=main",
            "_time": NOW - 60, "index": "_internal", "sourcetype": "splunk_ta_other_x-too_small",
            "source": LOG_DIR + "/splunk_ta_other_x.log", "host": "hf1"})

    # -- detections: which fire over the collected events; their alert, notable and risk events
    def _detections(self) -> None:
        app = App.load(str(PACKAGE))
        app.index_events(self.audit_events())
        for name in sorted(app.saved_searches):
            if app.is_baseline(name):
                continue
            rows = app.run_saved_search(name, now=NOW, all_time=True)
            if rows:
                self.fired[name] = rows
        firings = [(name, NOW - 300 * (i + 1)) for i, name in enumerate(sorted(self.fired))]
        firings.append((GAP_RULE, NOW - 86400))  # the gap rule fired once, a day ago
        self.sids: Dict[str, str] = {}
        self.risk: Dict[str, int] = {}
        for i, (name, when) in enumerate(firings):
            sid = "scheduler__nobody_VEEtb3BlbmFpLWF1ZGl0__RMD5%012x_at_%d_%d" % (i + 1, when, 100 + i)
            self.sids.setdefault(name, sid)
            self.extra_events.append(self._audit(name, APP_ID, sid, when))
            rows = self.fired.get(name, [])
            first = rows[0] if rows else {}
            user = first.get("user", "unknown")
            if isinstance(user, list):
                user = user[0]
            self.extra_events.append({
                "_raw": '%d, search_name="%s", orig_sid="%s", rule_title="%s fired", severity="high", user="%s"'
                        % (when + 5, name, sid, name, user),
                "_time": when + 5, "index": "notable", "sourcetype": "stash", "source": name, "host": "sh1"})
            if name in self.fired:
                self.risk[user] = self.risk.get(user, 0) + 72
                self.extra_events.append({
                    "_raw": '%d, search_name="%s", risk_object="%s", risk_object_type="user", risk_score=72'
                            % (when + 5, name, user),
                    "_time": when + 5, "index": "risk", "sourcetype": "stash", "source": name, "host": "sh1"})
        # another app's alert must not show
        self.extra_events.append(self._audit("Some other alert", "search", "scheduler__admin_search__x", NOW - 400))

    @staticmethod
    def _audit(name: str, app: str, sid: str, when: float) -> Dict[str, Any]:
        stamp = time.strftime("%m-%d-%Y %H:%M:%S.000", time.gmtime(when))
        raw = ('Audit:[timestamp=%s, user=splunk-system-user, action=alert_fired, ss_user="nobody", '
               'ss_app="%s", ss_name="%s", sid="%s", alert_actions="", severity=4, trigger_time=%d, '
               'digest_mode=0, triggered_alerts=1][n/a]' % (stamp, app, name, sid, int(when)))
        return {"_raw": raw, "_time": when, "index": "_audit", "sourcetype": "audittrail",
                "source": "audittrail", "host": "sh1"}


SCENARIOS = ("attack-story", "steady")


@pytest.fixture(scope="module", params=SCENARIOS)
def demo(request, tmp_path_factory):
    if request.param not in scenario_names():
        pytest.skip("scenario %r is not in tools/openai_api_sim yet" % request.param)
    return Demo(request.param, tmp_path_factory.mktemp("lookups-" + request.param))


def run(demo: Demo, view: str, ds_id: str, now: float = NOW, **token_values: str):
    return run_on(demo.app, view, ds_id, now, **token_values)


def run_on(app: App, view: str, ds_id: str, now: float = NOW, **token_values: str):
    """A data source's rows on the events of ``app``, its tokens at their defaults or the values given."""
    _, definition = load_view(view)
    tokens = token_defaults(definition)
    tokens.update(token_values)
    query, earliest, latest = data_source_query(definition, ds_id, tokens)
    return app.search(query, now=now, earliest=earliest, latest=latest)


ALL_DATA_SOURCES = [(view, ds_id) for view in VIEWS for ds_id in load_view(view)[1]["dataSources"]]
# Data sources that must be empty on the demo data at its "now" (and get rows later, see below).
EMPTY_AT_NOW = {("openai_audit_input_health", "ds_gap_now")}


@pytest.mark.parametrize("view,ds_id", ALL_DATA_SOURCES, ids=["%s:%s" % p for p in ALL_DATA_SOURCES])
def test_every_search_runs_and_gives_rows_on_demo_data(demo, view, ds_id):
    rows = run(demo, view, ds_id)
    if (view, ds_id) in EMPTY_AT_NOW:
        assert rows == []
    else:
        assert rows, "%s %s gave no rows on the %s demo data" % (view, ds_id, demo.scenario)


# ------------------------------------------------------------------------ overview content
def gap_hours(demo: Demo) -> int:
    """The collection gap threshold the detection and the panels share (macros.conf)."""
    return int(demo.app.macros["openai_audit_collection_gap_hours"]["definition"])


def _n(value) -> float:
    return float(value[0] if isinstance(value, list) else value)


def test_overview_totals_count_every_collected_event(demo):
    kpis = run(demo, "openai_audit_overview", "ds_kpis")[0]
    assert int(kpis["events"]) == sum(len(v) for v in demo.collected.values())
    failed = sum(1 for logs in demo.collected.values() for o in logs if o["type"] in ("login.failed", "logout.failed"))
    assert int(kpis["failed_logins"]) == failed


def test_overview_events_over_time_adds_up(demo):
    rows = run(demo, "openai_audit_overview", "ds_events_over_time")
    total = sum(_n(v) for r in rows for k, v in r.items() if k != "_time")
    assert total == sum(len(v) for v in demo.collected.values())
    assert all(int(r["_time"]) % 3600 == 0 for r in rows)


def test_login_map_has_both_outcomes_at_the_reported_coordinates(demo):
    rows = run(demo, "openai_audit_overview", "ds_login_map")
    assert {r["action"] for r in rows} == {"success", "failure"}
    expected = 0
    for logs in demo.collected.values():
        for o in logs:
            details = ((o.get("actor") or {}).get("session") or {}).get("ip_address_details") or {}
            if o["type"].split(".")[0] in ("login", "logout") and details.get("latitude") and details.get("longitude"):
                expected += 1
    assert sum(int(r["count"]) for r in rows) == expected
    for r in rows:
        assert -90 <= float(r["src_lat"]) <= 90 and -180 <= float(r["src_lon"]) <= 180 and r["src_country"]


def test_user_filter_narrows_every_table_to_that_user(demo):
    actors = run(demo, "openai_audit_overview", "ds_top_actors")
    target = next(r["src_user"] for r in actors if r["src_user"] != "unknown" and int(r["changes"]) > 0)
    total = int(run(demo, "openai_audit_overview", "ds_kpis")[0]["events"])
    mine = int(run(demo, "openai_audit_overview", "ds_kpis", user=target)[0]["events"])
    assert 0 < mine < total
    changes = run(demo, "openai_audit_overview", "ds_admin_changes", user=target)
    assert changes and all(target in (r.get("actor"), r.get("account")) for r in changes)
    # wildcards work; quotes typed into the box stay inside the value (|s), they cannot widen it
    domain = "*@" + target.split("@", 1)[1] if "@" in target else target
    assert mine <= int(run(demo, "openai_audit_overview", "ds_kpis", user=domain)[0]["events"]) <= total
    assert run(demo, "openai_audit_overview", "ds_kpis", user='nobody" OR user="*')[0]["events"] == "0"
    # the drilldown sets the text input's token from the clicked row
    _, definition = load_view("openai_audit_overview")
    handler = definition["visualizations"]["viz_top_actors"]["eventHandlers"][0]
    assert handler["options"]["tokens"] == [{"token": "user", "key": "row.src_user.value"}]
    assert definition["inputs"]["input_user"]["options"]["token"] == "user"


def test_project_filter_keeps_that_project_and_all_keeps_org_level_events(demo):
    projects = run(demo, "openai_audit_overview", "ds_projects")
    assert all(r["label"].endswith("(%s)" % r["project_id"]) for r in projects)
    logs = [o for v in demo.collected.values() for o in v]
    pid = projects[0]["project_id"]
    in_project = sum(1 for o in logs if (o.get("project") or {}).get("id") == pid)
    assert int(run(demo, "openai_audit_overview", "ds_kpis", project=pid)[0]["events"]) == in_project > 0
    no_project = sum(1 for o in logs if not o.get("project"))
    assert no_project > 0
    assert int(run(demo, "openai_audit_overview", "ds_kpis")[0]["events"]) == len(logs)


def test_admin_changes_and_key_lifecycle_split_the_changes(demo):
    changes = run(demo, "openai_audit_overview", "ds_admin_changes")
    lifecycle = run(demo, "openai_audit_overview", "ds_key_lifecycle")
    assert not {r["type"] for r in changes} & {r["type"] for r in lifecycle}
    assert all(r["type"].startswith(("api_key.", "service_account.", "tenant.admin_api_key.",
                                     "tenant.project_api_key.", "tenant.service_account."))
               for r in lifecycle)
    assert not any(r["type"].startswith(("login.", "logout.")) or r["type"].endswith(".looked_up")
                   for r in changes)
    times = [r["time"] for r in changes]
    assert times == sorted(times, reverse=True)
    created = [r for r in lifecycle if r["type"] == "api_key.created"]
    assert created and any(r.get("scopes") for r in created)


def test_detections_that_fired_link_to_their_results(demo):
    rows = run(demo, "openai_audit_overview", "ds_alerts_fired")
    strip = lambda n: n[len(APP_ID) + 3:-len(" - Rule")]  # noqa: E731
    assert {r["detection"] for r in rows} == {strip(n) for n in list(demo.fired) + [GAP_RULE]}
    assert demo.fired, "the demo data should make at least one detection fire"
    for r in rows:
        assert r["sid"] == demo.sids[r["ss_name"]]
    _, definition = load_view("openai_audit_overview")
    url = definition["visualizations"]["viz_alerts_fired"]["eventHandlers"][0]["options"]["url"]
    assert url.startswith("/app/%s/@go?sid=" % APP_ID) and "$row.sid.value" in url
    assert all(r["sid"].startswith("scheduler__") for r in rows)


def test_enterprise_security_panels_show_this_addons_notables_and_risk(demo):
    notables = run(demo, "openai_audit_overview", "ds_notables")
    assert {r["orig_sid"] for r in notables} <= set(demo.sids.values())
    assert len(notables) == len(demo.fired) + 1
    risk = run(demo, "openai_audit_overview", "ds_risk")
    assert len(risk) == min(20, len(demo.risk))
    for r in risk:
        assert int(r["risk_score"]) == demo.risk[r["risk_object"]] and r["risk_object_type"] == "user"
    assert [int(r["risk_score"]) for r in risk] == sorted((int(r["risk_score"]) for r in risk), reverse=True)


# -------------------------------------------------------------------- input health content
def test_events_ingested_per_input_matches_what_the_collector_wrote(demo):
    rows = {r["input"]: r for r in run(demo, "openai_audit_input_health", "ds_ingested_per_input")}
    assert set(rows) == {"prod", "lab"}
    for name, counts in demo.runs.items():
        assert int(rows[name]["events"]) == sum(counts) == len(demo.collected[name])
        assert int(rows[name]["runs"]) == len(counts)
        assert int(rows[name]["events_last_run"]) == counts[-1]
        assert rows[name]["account"] == name and rows[name]["index"] == "main"
    kpis = run(demo, "openai_audit_input_health", "ds_kpis")[0]
    assert int(kpis["events"]) == sum(len(v) for v in demo.collected.values())
    assert int(kpis["inputs"]) == 2
    hourly = run(demo, "openai_audit_input_health", "ds_ingested_over_time")
    assert sum(int(r["Events ingested"]) for r in hourly) == int(kpis["events"])


def test_errors_by_category_and_recent_errors(demo):
    expected: Dict[str, int] = {}
    for e in demo.errors:
        expected[e["category"]] = expected.get(e["category"], 0) + 1
    rows = run(demo, "openai_audit_input_health", "ds_errors_by_category")
    assert {r["category"]: int(r["count"]) for r in rows} == expected
    assert int(run(demo, "openai_audit_input_health", "ds_error_total")[0]["errors"]) == len(demo.errors)
    recent = run(demo, "openai_audit_input_health", "ds_recent_errors")
    assert len(recent) == len(demo.errors)
    for e in demo.errors:
        assert any(r["input"] == e["input"] and r["category"] == e["category"] and e["message"] in r["message"]
                   for r in recent), e
    assert not any("warning that is not an error" in r["message"] for r in recent)


def test_time_since_last_event_per_account(demo):
    rows = {r["account"]: r for r in run(demo, "openai_audit_input_health", "ds_last_event")}
    assert set(rows) == {"prod", "lab"}
    for account, logs in demo.collected.items():
        last = max(o["effective_at"] for o in logs)
        assert rows[account]["last_event"] == time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(last))
        assert abs(float(rows[account]["hours_since_last_event"]) - (NOW - last) / 3600) <= 0.051
        assert rows[account]["status"] == "receiving"
    hours = gap_hours(demo)
    later = run(demo, "openai_audit_input_health", "ds_last_event", now=NOW + (hours + 1) * 3600)
    assert {r["status"] for r in later} == {"silent for %d h or more" % hours}


def test_checkpoint_state_is_read_from_the_kv_store_records(demo):
    rows = {(r["input"], r["stream"]): r for r in run(demo, "openai_audit_input_health", "ds_checkpoints")}
    assert set(rows) == {("prod", "all"), ("prod", "tenant"), ("lab", "all"), ("broken", "all")}
    for (name, stream), row in rows.items():
        key = splunk_side.checkpoint_key(name) + (":tenant" if stream == "tenant" else "")
        assert row["checkpoint_key"] == key
        state = demo.store.records.get(key)
        if state is None:
            assert row["status"].startswith("unreadable")
            continue
        if state["walk"] is not None:
            assert row["status"] == "walking a window"
            slices = state["walk"]["slices"]
            start = min(piece["start"] for piece in slices)
            assert row["walk_window"].startswith(time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(start)))
            assert int(row["walk_slices"]) == len(slices)
        else:
            assert row["status"] == "up to date"
            assert row["collected_up_to"].startswith(time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(state["high_water"])))
            assert abs(float(row["minutes_behind"]) - (NOW - state["high_water"]) / 60) <= 0.051
    assert rows[("lab", "all")]["status"] == "walking a window"
    assert rows[("prod", "all")]["status"] == "up to date"


def test_collection_state_is_read_from_the_checkpoint_summary_lines(demo):
    rows = {(r["input"], r["stream"]): r for r in run(demo, "openai_audit_input_health", "ds_collection_state")}
    assert set(rows) == {("prod", "all"), ("prod", "tenant"), ("lab", "all")}
    for (name, stream), row in rows.items():
        state = demo.store.records[splunk_side.checkpoint_key(name) + (":tenant" if stream == "tenant" else "")]
        summary = next(s for s in demo.summaries[name].streams if s.name == stream)
        assert int(row["events"]) == summary.events and int(row["runs"]) == 1
        assert row["clock"] == "ok"  # the API stand-in's Date header agrees with this host
        if state["high_water"] is None:
            assert row["status"] == "initial window (backfill) not finished" and "minutes_behind" not in row
        else:
            assert row["status"] == "collecting"
            assert abs(float(row["minutes_behind"]) - (NOW - state["high_water"]) / 60) <= 0.051
    assert rows[("lab", "all")]["last_state"] == "stopped"


def test_late_event_panel_reads_the_collectors_own_summary_lines(demo):
    rows = {(r["input"], r["stream"]): r for r in run(demo, "openai_audit_input_health", "ds_late_events")}
    assert set(rows) == {("prod", "all"), ("prod", "tenant"), ("lab", "all")}
    for (name, stream), row in rows.items():
        summary = next(s for s in demo.summaries[name].streams if s.name == stream)
        assert int(row["runs_measured"]) == 1 and int(row["overlap"]) == 900
        assert int(row["late_events"]) == summary.late_events
        assert int(row["throttled"]) == summary.throttled
        assert (int(row["most_slices"]), int(row["most_in_flight"])) == (summary.slices, summary.concurrency)
        # the demo's only run is each stream's initial window: no lateness is measured there
        assert summary.lateness_max is None and "lateness_max" not in row
        assert row["last_run_lateness_max"] == row["last_run_lateness_p99"] == "-"
        assert row["late_status"] == "no event read after the initial window"


def test_late_event_panel_shows_what_the_sweep_caught():
    """The engine's collector polls the API stand-in once a minute (lag 60 s, overlap 120 s) while
    it publishes one event late, at a second a poll had already read: the next poll catches it (a
    quiet input reads the sweep with the new window) and the panel, over the collector's own checkpoint_summary lines, shows what the summaries counted."""
    interval, lag, overlap = 60, 60, 120
    background = [make_event("login.succeeded", seed=i, effective_at=NOW - 3000 + 300 * i, event_id="audit_log-bg%d" % i)
                  for i in range(10)]
    late = make_event("api_key.created", seed=99, effective_at=NOW - 90, event_id="audit_log-late")
    fresh = make_event("login.failed", seed=98, effective_at=NOW + 30, event_id="audit_log-fresh")
    settings = InputSettings.from_stanza({"account": "lab", "index": "main", "start": str(NOW - 3600),
                                          "interval": str(interval), "lag_seconds": str(lag),
                                          "overlap_seconds": str(overlap), "tenant_scoped": "0"}, now=NOW)
    store, log, summaries, sent = MemoryCheckpointStore(), InputLog("lab", "sweep"), [], []
    with ApiSim(events=background, anchor=NOW) as sim:
        for poll in range(4):
            at = NOW + poll * interval
            if poll == 1:  # published after the first poll read their seconds, or before the window reached them
                sim.add_events([late, fresh])
            client = AuditLogClient(sim.base_url, DEFAULT_KEY, read_timeout=10, time_budget=30)
            sink = _JsonSink()
            try:
                summary = Collector(client, store, splunk_side.checkpoint_key("lab"), settings, clock=lambda: at).run(sink)
            finally:
                client.close()
            assert summary.errors == []
            sent += [e["id"] for e in sink.events]
            summaries.append(summary.streams[0])
            log.at = at
            log.logger.info("checkpoint_summary input=lab %s",
                            summary.streams[0].checkpoint_line(at, summary.clock_skew, overlap))
    assert sorted(sent) == sorted([e["id"] for e in background] + [late["id"], fresh["id"]])
    assert sum(s.late_events for s in summaries) == 1  # the late event, caught at NOW + 60
    app = App.load(str(PACKAGE))
    app.index_events(log.events())
    row, = run_on(app, "openai_audit_input_health", "ds_late_events", now=NOW + 3 * interval + 30)
    assert row["late_status"] == "late events caught by the sweep"
    assert int(row["late_events"]) == 1 and int(row["runs_measured"]) == 4
    measured = [s for s in summaries if s.lateness_max is not None]
    assert int(row["lateness_max"]) == max(s.lateness_max for s in measured)
    assert int(row["lateness_p99"]) == max(s.lateness_p99 for s in measured)
    # A quiet input reads the sweep and the new window as one range, so the next poll (NOW + 60)
    # caught the late event, 150 s after its time (a busy one would wait for the sweep proper).
    assert int(row["lateness_max"]) == NOW + interval - late["effective_at"] == 150
    assert row["last_run_lateness_max"] == ("-" if summaries[-1].lateness_max is None else str(summaries[-1].lateness_max))
    assert int(row["overlap"]) == overlap and int(row["throttled"]) == 0


# A checkpoint_summary line as the input wrote it before issue 16 (without the late-event and backfill
# fields), and the fields issue 16 appends to it.
OLD_SUMMARY = ("checkpoint_summary input={input} stream={stream} window_start=1795600000 window_end=1795603540 "
               "high_water=1795603540 lag_behind_now=60 events={events} pages=1 requests=1 errors=0 clock_skew=0.4 "
               "overlap={overlap} state=drained")
NEW_FIELDS = (" late_events={late} lateness_max={max} lateness_p99={p99} slices={slices} concurrency={concurrency}"
              " throttled={throttled}")


def test_late_event_panel_on_checkpoint_summary_lines_old_and_new():
    """Sample lines: runs from before the late-event sweep (no such fields), a backfill after an
    outage read in slices with 429s, steady runs with and without late events, runs that read nothing
    ("-"), and a run outside the time range."""
    lines = {  # input -> (hours ago, stream, new fields or None for a line from before the change)
        "prod": [
            (30, "all", dict(late=50, max=5000, p99=4000, slices=1, concurrency=1, throttled=9)),  # out of range
            (20, "all", None),
            (6, "all", dict(late=0, max=7260, p99=7100, slices=8, concurrency=4, throttled=2)),
            (3, "all", dict(late=2, max=1012, p99=118, slices=2, concurrency=2, throttled=0)),
            (2, "all", dict(late=1, max=985, p99=120, slices=2, concurrency=2, throttled=1)),
            (1, "all", dict(late=0, max=115, p99=110, slices=2, concurrency=2, throttled=0)),
            (2, "tenant", None),
            (1, "tenant", None),
        ],
        "lab": [
            (5, "all", dict(late=0, max=100, p99=90, slices=2, concurrency=1, throttled=0)),
            (1, "all", dict(late=0, max="-", p99="-", slices=0, concurrency=0, throttled=0)),
        ],
    }
    app = App.load(str(PACKAGE))
    for name, runs in lines.items():
        log = InputLog(name, "late-events")
        for hours, stream, new in runs:
            log.at = NOW - hours * 3600
            log.logger.info(OLD_SUMMARY.format(input=name, stream=stream, events=7, overlap=900)
                            + (NEW_FIELDS.format(**new) if new else ""))
        app.index_events(log.events())
    rows = {(r["input"], r["stream"]): r for r in run_on(app, "openai_audit_input_health", "ds_late_events")}
    assert set(rows) == {("prod", "all"), ("prod", "tenant"), ("lab", "all")}

    prod = rows[("prod", "all")]
    assert prod["late_status"] == "late events caught by the sweep"
    assert int(prod["late_events"]) == 3 and int(prod["runs_measured"]) == 4
    # worst run in range (the backlog after the outage) and the latest run
    assert (int(prod["lateness_max"]), int(prod["lateness_p99"])) == (7260, 7100)
    assert (prod["last_run_lateness_max"], prod["last_run_lateness_p99"]) == ("115", "110")
    assert int(prod["overlap"]) == 900 and int(prod["throttled"]) == 3
    assert (int(prod["most_slices"]), int(prod["most_in_flight"])) == (8, 4)  # the backlog's run

    # only lines from before the change: a row that says so, no figure made up
    tenant = rows[("prod", "tenant")]
    assert tenant["late_status"].startswith("not measured")
    assert int(tenant["runs_measured"]) == 0
    assert not {"late_events", "lateness_max", "lateness_p99", "last_run_lateness_max", "throttled",
                "most_slices", "most_in_flight"} & set(tenant)

    # the latest run read nothing ("-"): the range still has a measured run
    lab = rows[("lab", "all")]
    assert lab["late_status"] == "no late event" and int(lab["late_events"]) == 0
    assert (int(lab["lateness_max"]), lab["last_run_lateness_max"], lab["last_run_lateness_p99"]) == (100, "-", "-")
    assert (int(lab["most_slices"]), int(lab["most_in_flight"])) == (2, 1)

    # runs that read nothing after the initial window: no lateness at all
    only_dash = App.load(str(PACKAGE))
    log = InputLog("lab", "late-events-none")
    log.at = NOW - 600
    log.logger.info(OLD_SUMMARY.format(input="lab", stream="all", events=0, overlap=900)
                    + NEW_FIELDS.format(late=0, max="-", p99="-", slices=0, concurrency=0, throttled=0))
    only_dash.index_events(log.events())
    row, = run_on(only_dash, "openai_audit_input_health", "ds_late_events")
    assert row["late_status"] == "no event read after the initial window" and "lateness_max" not in row


def test_collection_gap_panel_shows_what_the_detection_sees(demo):
    hours = gap_hours(demo)
    later = NOW + int((hours + 0.5) * 3600)  # inside the hour in which the saved search reports the gap
    panel = run(demo, "openai_audit_input_health", "ds_gap_now", now=later)
    detection = demo.app.run_saved_search(GAP_RULE, now=later)
    assert {r["source"] for r in panel} == {r["source"] for r in detection} == {"openai_audit:prod", "openai_audit:lab"}
    # the panel keeps showing the gap after the detection's one-hour window
    much_later = NOW + (hours + 18) * 3600
    panel = run(demo, "openai_audit_input_health", "ds_gap_now", now=much_later)
    assert {r["source"] for r in panel} == {"openai_audit:prod", "openai_audit:lab"}
    assert all(float(r["gap_hours"]) >= hours + 17 for r in panel)
    assert demo.app.run_saved_search(GAP_RULE, now=much_later) == []
    alerts = run(demo, "openai_audit_input_health", "ds_gap_alerts")
    assert [r["ss_name"] for r in alerts] == [GAP_RULE] and alerts[0]["sid"] == demo.sids[GAP_RULE]
