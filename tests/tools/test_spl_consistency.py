"""The evaluator's shortcuts (value index, stage-1 filtering, memos) never change a result:
every saved search of the add-on gives the same rows as a plain full-extraction run."""
from __future__ import annotations

import os
import random

import pytest

from tools.spl import App

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGE = os.path.join(ROOT, "package")
NOW = 1767225600


def _events():
    generator = pytest.importorskip("tools.openai_api_sim.generator")
    rng = random.Random(7)
    out = []
    for i in range(600):
        ev = generator.make_event(rng.choice(generator.EVENT_TYPES), rng=rng, effective_at=NOW - 7 * i)
        if i % 5 == 0:
            ev["_indextime"] = NOW - rng.randint(0, 900)  # some arrive late
        out.append(ev)
    return out


def test_optimized_and_reference_runs_agree_on_every_saved_search():
    if not os.path.exists(os.path.join(PACKAGE, "default", "savedsearches.conf")):
        pytest.skip("the add-on has no saved searches yet")
    events = _events()
    fast, slow = App.load(PACKAGE), App.load(PACKAGE, optimize=False)
    for app in (fast, slow):
        app.index_events(events)
    names = [n for n in fast.saved_searches if not fast.is_baseline(n)]
    assert names
    for name in names:
        for kw in ({"now": NOW}, {"now": NOW, "all_time": True}):
            assert fast.run_saved_search(name, **kw) == slow.run_saved_search(name, **kw), (name, kw)
    for spl in ('`openai_audit` type=login.* | stats count by type, action',
                '`openai_audit` | stats dc(user) as users, count by source',
                '`openai_audit` actor.type=session | stats count'):
        assert fast.search(spl, now=NOW, all_time=True) == slow.search(spl, now=NOW, all_time=True), spl
