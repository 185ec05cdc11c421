"""Fault campaign: 100,000 events through a hostile API stand-in, the real CLI as a process.

Faults on every request drawn from a seeded RNG: 10% 5xx (500/502/503), 5% 429 (half with
Retry-After 0 or 1 s), 2% connection resets, 1% truncated bodies. 3% of the events arrive late
(visible up to 15 scaled minutes after their effective_at, inside the overlap). One run is killed
20 times with SIGKILL at seeded random moments and restarted from its checkpoint; the other has
the same faults and no kills. Time is scaled 60x (campaign_support.py says how).

    .venv/bin/python -m pytest tests/campaign/test_fault_campaign.py -m slow -s
"""
from __future__ import annotations

import time

import pytest

from tests.campaign.campaign_support import PAGE, EventPlan, duplicate_report, figures, run_campaign

KILLS = 20


def _run(tmp_path, seed: int, kills: int):
    t0 = int(time.time()) + 8  # generating and loading the events takes a few seconds
    plan = EventPlan(seed=seed, t0=t0)
    deadline = plan.last_visible + 90
    result = run_campaign(plan, str(tmp_path), kills=kills, seed=seed, deadline=deadline)
    dups = duplicate_report(result)
    return plan, result, dups


def _common_assertions(plan, result, dups):
    written = dups["written"]
    assert not result.timed_out, "not everything was written in time: %d of %d ids; missing e.g. %s" % (
        len(written), len(plan.by_id), sorted(set(plan.by_id) - set(written))[:5])
    assert result.bad_lines == [], "lines that are not the served event: %s" % result.bad_lines[:3]
    # Every id the stand-in served reached the output...
    not_written = result.served - set(written)
    assert not not_written, "served but never written: %d, e.g. %s" % (len(not_written), sorted(not_written)[:5])
    # ... and so did every event, the late ones included (all were inside the overlap).
    missing = set(plan.by_id) - set(written)
    assert not missing, "never written: %d (late: %d), e.g. %s" % (
        len(missing), len(missing & {e["id"] for e, _ in plan.late}), sorted(missing)[:5])
    # Faults really happened, of every kind.
    faults = result.sim_stats["faults"]
    for kind in ("500", "502", "503", "429", "429-retry-after", "reset", "truncate"):
        assert faults.get(kind, 0) > 0, "no %s fault was injected: %s" % (kind, faults)
    # A process that was not killed never writes an id twice (overlap re-reads are skipped).
    assert dups["within_process"] == 0
    assert "Traceback" not in "".join(result.stderr)
    # The final stop is SIGTERM: the CLI finishes its page and exits 0.
    assert result.returncodes[-1] == 0, "".join(result.stderr)[-3000:]


@pytest.mark.slow
def test_campaign_with_kills_loses_nothing_and_repeats_at_most_a_page_per_kill(tmp_path, capsys):
    plan, result, dups = _run(tmp_path, seed=5, kills=KILLS)
    with capsys.disabled():
        print("\n" + figures("%d SIGKILLs" % KILLS, plan, result, dups))
    assert result.kills == KILLS
    assert result.returncodes[:KILLS] == [-9] * KILLS
    _common_assertions(plan, result, dups)
    # Duplicates come only from kills: each restarted process repeats at most the page that was
    # in flight when its predecessor died, i.e. ids among the last 100 written before it started.
    for process in dups["per_process"]:
        assert process["repeated"] <= PAGE, process
        assert process["outside_last_page"] == [], process
    assert dups["per_process"][0]["repeated"] == 0
    assert dups["total_duplicates"] <= PAGE * result.kills
    # At most one cut line per kill, each the last line of a killed process.
    assert result.partial_lines <= result.kills


@pytest.mark.slow
def test_campaign_without_kills_writes_every_id_exactly_once(tmp_path, capsys):
    plan, result, dups = _run(tmp_path, seed=6, kills=0)
    with capsys.disabled():
        print("\n" + figures("no kills", plan, result, dups))
    assert result.kills == 0 and result.partial_lines == 0
    _common_assertions(plan, result, dups)
    repeated = {i: c for i, c in dups["written"].items() if c != 1}
    assert repeated == {}, "written more than once without any kill: %d ids" % len(repeated)
    assert len(dups["written"]) == len(plan.by_id)
