"""Fixtures for the CIM knowledge tests (issue 7); helpers live in knowledge_support.py."""
from __future__ import annotations

import csv
import json
import random

import pytest

from tests.knowledge.knowledge_support import APP_DIR, LOOKUP_CSV


@pytest.fixture(scope="session")
def app():
    from tools.spl import App
    return App.load(str(APP_DIR))


@pytest.fixture(scope="session")
def event_type_rows():
    with LOOKUP_CSV.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="session")
def exact_map(event_type_rows):
    return {r["type"]: r for r in event_type_rows if "*" not in r["type"]}


@pytest.fixture(scope="session")
def generated_events():
    """One event of every type (149 known + 1 unknown) per actor kind (session, user key, service
    account key, null), and (event with sorted keys, original object) pairs for a third of them."""
    from tools.openai_api_sim.generator import corpus
    events = corpus(seed=7, effective_at=1764100800)
    rng = random.Random(7)
    reordered = []
    for ev in events[::3]:
        # A HEC/file replay may write keys in any order (jq -S sorts them).
        reordered.append(({"_raw": json.dumps(ev, sort_keys=True), "_time": ev["effective_at"]}, ev))
    rng.shuffle(reordered)
    return events, reordered


def pytest_terminal_summary(terminalreporter):
    """The CIM figure of test_knowledge_cim_definitions.py: events valid / tagged, per dataset."""
    from tests.knowledge.cim_definitions import FIGURES
    if FIGURES:
        terminalreporter.write_sep("-", "CIM data-model definitions")
        for line in FIGURES:
            terminalreporter.write_line(line)
