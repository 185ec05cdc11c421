"""docs/deployment.md's sizing figures are the ones the shipped savedsearches.conf produces."""
import collections
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "package"))
from test_conf_lint import parse_conf  # noqa: E402


def cron_values(field, low, high):
    values = set()
    for part in field.split(","):
        base, _, step = part.partition("/")
        first, last = (low, high) if base == "*" else map(int, (base.split("-") + [base])[:2])
        values.update(range(first, last + 1, int(step or 1)))
    return values


def runs_per_hour(cron):
    minute, hour, day, month, weekday = cron.split()
    assert (day, month, weekday) == ("*", "*", "*"), cron  # every schedule the add-on ships is daily
    return len(cron_values(minute, 0, 59)) * len(cron_values(hour, 0, 23)) / 24


def test_sizing_states_the_scheduled_searches_and_runs_per_hour():
    stanzas, errors = parse_conf(ROOT / "package" / "default" / "savedsearches.conf")
    assert errors == []
    rates = [runs_per_hour(s["cron_schedule"]) for name, s in stanzas.items()
             if name != "default" and s.get("enableSched") == "1"]
    by_rate = collections.Counter(rates)
    parts = []
    for rate, count in sorted(by_rate.items(), reverse=True):
        parts.append("%d hourly" % count if rate == 1 else "%d every %d minutes" % (count, 60 / rate))
    expected = "%d searches, %d runs per hour (%s)" % (len(rates), sum(rates), ", ".join(parts))
    doc = re.sub(r"\s+", " ", (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8"))
    assert expected in doc


def test_cron_reading():
    assert runs_per_hour("*/15 * * * *") == 4 and runs_per_hour("10 * * * *") == 1
    assert runs_per_hour("0,30 */2 * * *") == 1
