"""pytest-splunk-addon's CIM field tests, run offline over any set of events (issue 17).

Reads the data-model definitions copied from pytest-splunk-addon 7.0.5
(tests/knowledge/data_models/, see its README) and builds the same searches its
`test_cim_required_fields` runs on a live Splunk, then runs them through the add-on's
search-time knowledge in tools/spl and keeps the answer per event:

- every tags.conf stanza of the add-on maps to the datasets whose tag set it carries, a child
  dataset only under a mapped parent (data_model.py `_get_mapped_datasets`);
- the events of a dataset are `search <constraint of each dataset on the path> | search <stanza>`
  (test_templates.py); a dataset with no event fails ("0 Events mapped with the dataset");
- each required field of the dataset, and each conditional one in the events its condition
  selects, must be in every event, single-valued unless the definition says multi_value, and
  valid: `if(lower(tostring(<validity>)) IN (<expected>) AND NOT lower(tostring(<validity>)) IN
  ("", "-", "unknown", "null", "(null)"), <validity>, null())` is not null, after `| nomv <field>`
  for a multivalue field (field_test_adapter.py, data_set.py).
The searches that select events run through tools/spl's search; the validity expressions through
its eval, on each event's fields (with a multivalue field joined by newlines, as nomv does).
"""
from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Dict, List, Optional

from tools.spl.conf import parse_conf_file
from tools.spl.evalexpr import Context, Expr
from tools.spl.searchexpr import SearchExpr

DATA_MODELS_DIR = Path(__file__).resolve().parent / "data_models"
EMPTY_VALUES = ["", "-", "unknown", "null", "(null)"]  # cim_tests/data_set.py
TESTED_TYPES = ("required", "conditional")             # cim_tests/test_generator.py default
BASE = 'sourcetype="openai:audit"'
NO_EVENTS = "(events)"  # the field column of a dataset that gets no event at all
FIGURES: List[str] = []  # lines the knowledge tests' conftest prints at the end of the run


class Dataset:
    def __init__(self, obj: dict, model: str, parent: "Dataset" = None):
        self.name = obj["name"]
        self.model = model
        self.tags = obj["tags"]
        self.constraint = obj.get("search_constraints")
        self.fields = obj["fields"]
        self.path = (parent.path + [self]) if parent else [self]
        self.children = [Dataset(c, model, self) for c in obj.get("child_dataset", [])]

    @property
    def key(self) -> str:
        """The dataset's path of names, e.g. All_Changes.Account_Management."""
        return ".".join(d.name for d in self.path)

    def matches(self, tags) -> bool:
        return any(set(group) <= set(tags) for group in self.tags)


@functools.lru_cache(maxsize=None)
def load_models() -> List[Dataset]:
    roots = []
    for path in sorted(DATA_MODELS_DIR.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        roots += [Dataset(o, doc["model_name"]) for o in doc["objects"]]
    return roots


def mapped_datasets(roots: List[Dataset], tags) -> List[Dataset]:
    out = []

    def walk(sets):
        for ds in sets:
            if ds.matches(tags):
                out.append(ds)
                walk(ds.children)
    walk(roots)
    return out


@functools.lru_cache(maxsize=None)
def tag_stanzas(app_dir: Path) -> Dict[str, List[str]]:
    tags = parse_conf_file(str(app_dir / "default" / "tags.conf"))
    return {stanza: sorted(t for t, v in keys.items() if v == "enabled")
            for stanza, keys in tags.items() if stanza != "default"}


def _spl_list(values) -> str:
    return ", ".join(json.dumps(str(v).lower()) for v in values)


def validity_expression(field: dict) -> str:
    """field_test_adapter.py get_validity_expression, for a data-model field (whose
    negative_values are EMPTY_VALUES and expected_values default to none)."""
    validity = field.get("validity") or field["name"]
    normalized = "lower(tostring(%s))" % validity
    predicates = []
    expected = field.get("expected_values") or []
    if expected and "*" not in expected:
        predicates.append("(%s) IN (%s)" % (normalized, _spl_list(expected)))
    predicates.append("NOT (%s) IN (%s)" % (normalized, _spl_list(EMPTY_VALUES)))
    return "if(%s, %s, null())" % (" AND ".join(predicates), validity)


def tested_fields(ds: Dataset):
    return [f for f in ds.fields if f.get("type", "required") in TESTED_TYPES]


@functools.lru_cache(maxsize=None)
def _validity(expr_text: str) -> Expr:
    return Expr(expr_text, Context(now=0.0))


@functools.lru_cache(maxsize=None)
def _search(text: str) -> SearchExpr:
    return SearchExpr(text, 0.0)


def field_failure(row: dict, field: dict) -> Optional[str]:
    """Why one event fails one field test (None when it passes): missing, multivalue, invalid."""
    name = field["name"]
    vals = row.get(name)
    n = 0 if vals is None else len(vals) if isinstance(vals, list) else 1
    if n == 0:
        return "missing"
    if n > 1 and not field.get("multi_value"):
        return "multivalue %r" % (vals,)
    if n > 1:
        row = dict(row, **{name: "\n".join(vals)})  # | nomv <field>
    if _validity(validity_expression(field))(row) is None:
        return "invalid %r" % (vals,)
    return None


def run(app, events) -> dict:
    """Index `events` (audit log objects, each with a unique id) into `app` and run every field
    test: the events of each dataset (and of each conditional field's condition) come from
    searches through tools/spl, the validity expressions from its eval. Returns {"rows": {id:
    extracted fields}, "tagged": {dataset key: set of ids}, "failures": {(dataset key, field):
    {id: reason}}, "selected": {(dataset key, field): ids the test looked at}}."""
    app.clear_events()
    app.index_events(events)
    rows = {ev["id"]: app.extract(ev) for ev in events}
    roots = load_models()
    tagged: Dict[str, set] = {}
    failures: Dict[tuple, Dict[str, str]] = {}
    selected: Dict[tuple, set] = {}

    def ids_of(spl):
        return {r["id"] for r in app.search(spl + " | table id", all_time=True)}

    for stanza, tags in tag_stanzas(Path(app.app_dir)).items():
        for ds in mapped_datasets(roots, tags):
            base = BASE + "".join(" | search %s" % d.constraint for d in ds.path if d.constraint)
            base += " | search %s" % stanza
            tagged.setdefault(ds.key, set()).update(ids_of(base))
            for field in tested_fields(ds):
                key = (ds.key, field["name"])
                ids = ids_of(base + " | search %s" % field["condition"]) if field.get("condition") else ids_of(base)
                selected.setdefault(key, set()).update(ids)
                for i in ids:
                    reason = field_failure(rows[i], field)
                    if reason:
                        failures.setdefault(key, {})[i] = reason
    for key, ids in tagged.items():
        if not ids:
            failures[(key, NO_EVENTS)] = {}
    return {"rows": rows, "tagged": tagged, "failures": failures, "selected": selected}


def row_failures(row: dict, app_dir: Path) -> List[tuple]:
    """The field tests of run() for one event's fields, with its tag stanzas and the datasets'
    constraints and conditions evaluated on the event itself: [(dataset key, field, reason)]."""
    out = []
    roots = load_models()
    for stanza, tags in tag_stanzas(app_dir).items():
        if not _search(stanza)(row):
            continue
        for ds in mapped_datasets(roots, tags):
            if not all(_search(d.constraint)(row) for d in ds.path if d.constraint):
                continue
            for field in tested_fields(ds):
                if field.get("condition") and not _search(field["condition"])(row):
                    continue
                reason = field_failure(row, field)
                if reason and (ds.key, field["name"], reason) not in out:
                    out.append((ds.key, field["name"], reason))
    return out


def excused(row: dict, failure: tuple, exceptions: List[dict]) -> bool:
    """Whether a row of the exceptions table covers this failure of this event."""
    return any(e["dataset"] == failure[0] and e["field"] == failure[1] and e["events"]
               and _search(e["events"])(row) for e in exceptions)


# ------------------------------------------------------------------ the exceptions table

TABLE_HEADING = "## Fields the audit log cannot supply"


def read_exceptions(doc: Path) -> List[dict]:
    """The rows of the table under TABLE_HEADING in docs/cim.md: dataset | field | events | why.
    `events` is a search expression in backquotes (the events the exception covers), or "-" for
    a dataset that gets no event."""
    text = doc.read_text(encoding="utf-8")
    section = text.split(TABLE_HEADING, 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) != 4 or cells[0] in ("dataset", "---") or set(cells[0]) <= {"-"}:
            continue
        dataset, field, events, why = cells
        m = re.fullmatch(r"`([^`]+)`", events)
        rows.append({"dataset": dataset.strip("`"), "field": field.strip("`"),
                     "events": m.group(1) if m else None, "why": why})
    return rows
