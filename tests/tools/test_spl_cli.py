"""python -m tools.spl detect / run, as other checks call them."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tools.spl.testing import write_app

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NOW = 1767225600


def run_cli(*args):
    p = subprocess.run([sys.executable, "-m", "tools.spl"] + list(args), cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    return p.returncode, [json.loads(l) for l in p.stdout.splitlines() if l.strip()], p.stderr


def login(i, user, country, t, **extra):
    d = {"id": "audit_log-%d" % i, "object": "organization.audit_log", "type": "login.succeeded",
         "effective_at": t,
         "actor": {"type": "session", "session": {"user": {"id": "u-" + user, "email": user},
                                                  "ip_address": "198.51.100.%d" % i,
                                                  "ip_address_details": {"country": country}}}}
    d.update(extra)
    return d


@pytest.fixture
def app_dir(tmp_path):
    return write_app(str(tmp_path / "app"), {
        "props.conf": """
            [openai:audit]
            KV_MODE = json
            FIELDALIAS-user = actor.session.user.email AS user
            FIELDALIAS-country = actor.session.ip_address_details.country AS src_country
        """,
        "macros.conf": """
            [openai_audit]
            definition = sourcetype="openai:audit"
        """,
        "collections.conf": "[geo]\nfield.user = string\n",
        "transforms.conf": """
            [geo_lookup]
            external_type = kvstore
            collection = geo
            fields_list = _key, user, src_country
        """,
        "savedsearches.conf": """
            [Geo - Baseline]
            search = `openai_audit` type=login.succeeded | stats count by user, src_country \\
              | table user src_country | outputlookup geo_lookup
            dispatch.earliest_time = -30d
            disabled = 1

            [Login From New Country]
            search = `openai_audit` type=login.succeeded _index_earliest=-20m \\
              | lookup geo_lookup user, src_country OUTPUT user AS known \\
              | where isnull(known) | stats count by user, src_country
            dispatch.earliest_time = -24h
            dispatch.latest_time = now
            disabled = 1
            cron_schedule = */5 * * * *
        """,
    })


def write_jsonl(path, objs):
    with open(path, "w") as f:
        for o in objs:
            f.write(json.dumps(o) + "\n")
    return str(path)


def test_detect_runs_baselines_first_over_history(tmp_path, app_dir):
    history = write_jsonl(tmp_path / "h.jsonl", [login(1, "a@x.com", "US", NOW - 86400 * 3)])
    events = write_jsonl(tmp_path / "e.jsonl", [
        login(2, "a@x.com", "US", NOW - 60),               # known pair: benign
        login(3, "a@x.com", "FR", NOW - 120),              # new country: fires
        login(4, "b@x.com", "FR", NOW - 7200, _indextime=NOW - 30),   # late event, indexed now: fires
        login(5, "c@x.com", "FR", NOW - 7200),             # indexed long ago: outside the index window
    ])
    rc, rows, err = run_cli("detect", "--app", app_dir, "--events", events, "--now", str(NOW),
                            "--baseline", history)
    assert rc == 0, err
    assert rows == [
        {"search_name": "Login From New Country", "row": {"user": "a@x.com", "src_country": "FR", "count": "1"}},
        {"search_name": "Login From New Country", "row": {"user": "b@x.com", "src_country": "FR", "count": "1"}},
    ]
    # without the history the baseline starts empty, so the known pair fires too
    rc, rows, err = run_cli("detect", "--app", app_dir, "--events", events, "--now", str(NOW))
    assert rc == 0, err
    assert {(r["row"]["user"], r["row"]["src_country"]) for r in rows} == {
        ("a@x.com", "US"), ("a@x.com", "FR"), ("b@x.com", "FR")}


def test_detect_all_time_and_single_search(tmp_path, app_dir):
    events = write_jsonl(tmp_path / "e.jsonl", [login(5, "c@x.com", "FR", NOW - 86400 * 400)])
    rc, rows, err = run_cli("detect", "--app", app_dir, "--events", events, "--all-time",
                            "--search", "Login From New Country")
    assert rc == 0, err
    assert [r["row"]["user"] for r in rows] == ["c@x.com"]
    rc, rows, err = run_cli("detect", "--app", app_dir, "--events", events, "--search", "nope")
    assert rc == 2 and "nope" in err


def test_run_prints_rows_in_order_with_multivalues(tmp_path, app_dir):
    events = write_jsonl(tmp_path / "e.jsonl", [login(1, "a@x.com", "US", NOW - 10),
                                                login(2, "a@x.com", "DE", NOW - 20)])
    rc, rows, err = run_cli("run", "--app", app_dir, "--events", events, "--now", str(NOW),
                            "`openai_audit` | stats values(src_country) as c, count by user")
    assert rc == 0, err
    assert rows == [{"user": "a@x.com", "c": ["DE", "US"], "count": "2"}]
    rc, rows, err = run_cli("run", "--app", app_dir, "--events", events, "--now", str(NOW),
                            "`openai_audit` | nosuchcommand")
    assert rc == 2 and "nosuchcommand" in err


def test_bad_events_file_is_a_clear_error(tmp_path, app_dir):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1}\nnot json\n')
    rc, rows, err = run_cli("run", "--app", app_dir, "--events", str(bad), "*")
    assert rc == 1 and "bad.jsonl:2" in err


def test_lookups_dir_seeds_kv_store_and_named_baseline_prints_rows(tmp_path, app_dir):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "geo.json").write_text(json.dumps([{"user": "a@x.com", "src_country": "FR"}]))
    events = write_jsonl(tmp_path / "e.jsonl", [login(3, "a@x.com", "FR", NOW - 120),
                                                login(4, "a@x.com", "DE", NOW - 130)])
    rc, rows, err = run_cli("detect", "--app", app_dir, "--events", events, "--now", str(NOW),
                            "--lookups", str(seeds))
    assert rc == 0, err
    assert [r["row"]["src_country"] for r in rows] == ["DE"]
    history = write_jsonl(tmp_path / "h.jsonl", [login(1, "b@x.com", "US", NOW - 86400)])
    rc, rows, err = run_cli("detect", "--app", app_dir, "--events", events, "--now", str(NOW),
                            "--baseline", history, "--search", "Geo - Baseline")
    assert rc == 0, err
    assert rows == [{"search_name": "Geo - Baseline", "row": {"user": "b@x.com", "src_country": "US"}}]
    rc, rows, err = run_cli("detect", "--app", app_dir, "--events", events, "--lookups", str(tmp_path / "nope"))
    assert rc == 2 and "nope" in err
