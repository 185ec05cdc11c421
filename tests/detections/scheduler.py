"""Run the add-on's saved searches as Splunk's scheduler and Enterprise Security would, over a stretch
of simulated time, and count what an analyst would get: notables, risk events, triggered alerts.

What is emulated, and from which documentation:
- Each saved search runs at the ticks of its own cron_schedule (savedsearches.conf.spec
  `cron_schedule`), baselines included, in time order. With continuous scheduling
  (`realtime_schedule = 0`) "the scheduler never skips scheduled execution periods", and each run
  "returns information for the time frame over which it was scheduled to run" (Knowledge Manager
  Manual, "Configure the priority of scheduled searches"): a run scheduled at T may start later
  (a `delay`), but its dispatch.earliest/latest_time and the `_index_*` modifiers in the search
  resolve against T, while now() and addinfo's info_search_time are its start time.
- An event exists for a run once it is indexed: the index holds only events whose _indextime is
  at or before the run's start.
- Alert suppression (savedsearches.conf.spec `alert.suppress`, `alert.suppress.fields`,
  `alert.suppress.period`, per result with `alert.digest_mode = 0`): a result whose values of the
  suppress fields match a result that triggered less than `period` before is dropped, for every
  action of the search (Enterprise Security's notable throttling is these keys).
- Actions: `action.notable = 1` makes one notable per kept result; `action.risk = 1` one risk event
  per value of each risk object field, written to index=risk with the search name as source, the
  result's risk_score when it has one (else the configured score), the risk message with its $tokens$
  filled, threat objects, at the run's start time; the risk correlation search reads them back.
  `alert.track = 1` makes a Triggered Alert per kept result (plain Splunk).

    python tests/detections/scheduler.py      prints the benign-organisation figure (one line per search)
"""
from __future__ import annotations

import json
import re
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tools.spl import App  # noqa: E402

APP_DIR = ROOT / "package"
LOOKUPS = Path(__file__).resolve().parent / "lookups"


# ----------------------------------------------------------------------------- cron

def _cron_field(text: str, lo: int, hi: int) -> set:
    values = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, s = part.split("/", 1)
            step = int(s)
        if part == "*":
            a, b = lo, hi
        elif "-" in part:
            a, b = (int(x) for x in part.split("-", 1))
        else:
            a = b = int(part)
            if step != 1:
                b = hi
        if not (lo <= a <= b <= hi) or step < 1:
            raise ValueError("cron field %r out of range %d-%d" % (text, lo, hi))
        values.update(range(a, b + 1, step))
    return values


def cron_ticks(expr: str, start: int, end: int) -> List[int]:
    """The minutes in [start, end) (epoch seconds, UTC) that a five-field cron expression selects."""
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError("cron_schedule %r does not have five fields" % expr)
    minute, hour, dom, month, dow = (_cron_field(f, lo, hi) for f, (lo, hi) in
                                     zip(fields, ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))))
    ticks = []
    t = start - start % 60 + (60 if start % 60 else 0)
    while t < end:
        tm = time.gmtime(t)
        if (tm.tm_min in minute and tm.tm_hour in hour and tm.tm_mday in dom and tm.tm_mon in month
                and (tm.tm_wday + 1) % 7 in dow):
            ticks.append(t)
        t += 60
    return ticks


# ----------------------------------------------------------------------------- results

@dataclass
class Firing:
    search: str
    scheduled: int
    started: int
    row: dict
    suppressed: bool


@dataclass
class Report:
    firings: List[Firing] = field(default_factory=list)
    notables: Dict[str, int] = field(default_factory=lambda: defaultdict(int))
    risk_events: Dict[str, int] = field(default_factory=lambda: defaultdict(int))
    alerts: Dict[str, int] = field(default_factory=lambda: defaultdict(int))
    suppressed: Dict[str, int] = field(default_factory=lambda: defaultdict(int))
    runs: int = 0

    def kept(self, search: str) -> List[Firing]:
        return [f for f in self.firings if f.search == search and not f.suppressed]

    def risk_objects(self, search: str) -> set:
        """The values of `user` in the kept results of a search."""
        return {u for f in self.kept(search) for u in _values(f.row.get("user"))}

    def table(self, title: str, searches: Iterable[str], days: float = 1.0) -> str:
        """One line per search (notables, risk events, triggered alerts, suppressed results per day),
        then the totals."""
        names = sorted(searches)
        width = max(len(_short(n)) for n in names)
        head = "%-*s %9s %11s %7s %10s" % (width, "search (per day)", "notables", "risk events", "alerts",
                                           "suppressed")
        lines = [title, head, "-" * len(head)]
        tot = [0, 0, 0, 0]
        for n in names:
            vals = [self.notables[n], self.risk_events[n], self.alerts[n], self.suppressed[n]]
            tot = [a + b for a, b in zip(tot, vals)]
            lines.append("%-*s %9g %11g %7g %10g" % ((width, _short(n)) + tuple(v / days for v in vals)))
        lines.append("-" * len(head))
        lines.append("%-*s %9g %11g %7g %10g" % ((width, "TOTAL") + tuple(v / days for v in tot)))
        return "\n".join(lines)


def _short(name: str) -> str:
    return re.sub(r"^TA-openai-audit - | - Rule$", "", name)


def _values(v) -> list:
    if v is None:
        return []
    return list(v) if isinstance(v, list) else [v]


def _fill_tokens(text: str, row: dict) -> str:
    return re.sub(r"\$([A-Za-z_][\w.]*)\$", lambda m: ",".join(_values(row.get(m.group(1)))), text)


# ----------------------------------------------------------------------------- the scheduler

Delay = Callable[[str, int], int]


class Scheduler:
    """Saved searches of an app run at their cron ticks over events that arrive as they are indexed.

    events: audit log objects, each with an `_indextime` key, and optionally `_source` (the event's
    source; default openai_audit:acme)."""

    def __init__(self, events: Iterable[dict], lookups: Path = LOOKUPS, app_dir: Path = APP_DIR,
                 overrides: Optional[Dict[str, Dict[str, str]]] = None, history: Iterable[dict] = (),
                 seeded_at: Optional[int] = None):
        """overrides: saved search keys to change ({name: {key: value}}); history: audit log objects
        the baselines are seeded with at `seeded_at`, as docs/detections.md tells admins to."""
        self.app = App.load(str(app_dir), lookups_dir=str(lookups))
        for name, keys in (overrides or {}).items():
            self.app.saved_searches[name].update(keys)
        history = list(history)
        if history:
            self.app.index_events(history)
            for name in [n for n in self.app.saved_searches if self.app.is_baseline(n)]:
                self.app.seed_baseline(name, now=seeded_at)
            self.app.clear_events()
        pending = []
        for obj in events:
            obj = dict(obj)
            source = obj.pop("_source", "openai_audit:acme")
            if "_indextime" not in obj:
                raise ValueError("event %s has no _indextime" % obj.get("id"))
            pending.append((obj["_indextime"], source, obj))
        pending.sort(key=lambda p: p[0])
        self.pending = pending
        self.suppress_until: Dict[Tuple[str, tuple], float] = {}

    def _index_until(self, t: int) -> None:
        batch: Dict[str, list] = defaultdict(list)
        while self.pending and self.pending[0][0] <= t:
            _, source, obj = self.pending.pop(0)
            batch[source].append(obj)
        for source, objs in batch.items():
            self.app.index_events(objs, source=source)

    def searches(self, only: Optional[Iterable[str]] = None) -> List[str]:
        names = [n for n, st in self.app.saved_searches.items() if st.get("cron_schedule")]
        return [n for n in names if only is None or n in set(only) or self.app.is_baseline(n)]

    def run(self, start: int, end: int, only: Optional[Iterable[str]] = None,
            delay: Optional[Delay] = None) -> Report:
        """Every scheduled run with a scheduled time in [start, end), `delay(name, scheduled)` seconds
        late (default 0)."""
        delay = delay or (lambda name, t: 0)
        runs = []
        for name in self.searches(only):
            baseline = self.app.is_baseline(name)
            for t in cron_ticks(self.app.saved_searches[name]["cron_schedule"], start, end):
                runs.append((t + delay(name, t), t, 0 if baseline else 1, name))
        # The scheduler's queue: by start time, then scheduled time (a scheduler that fell behind
        # catches up in scheduled order), baselines before detections scheduled the same minute.
        runs.sort()
        report = Report()
        for started, scheduled, _, name in runs:
            self._index_until(started)
            rows = self.app.run_saved_search(name, now=scheduled, started=started)
            report.runs += 1
            if not self.app.is_baseline(name):
                self._actions(name, scheduled, started, rows, report)
        return report

    def _actions(self, name: str, scheduled: int, started: int, rows: list, report: Report) -> None:
        st = self.app.saved_searches[name]
        fields = [f.strip() for f in st.get("alert.suppress.fields", "").split(",") if f.strip()]
        suppress = st.get("alert.suppress") == "1"
        period = _seconds(st.get("alert.suppress.period", "0")) if suppress else 0
        risk_objects = json.loads(st.get("action.risk.param._risk", "[]")) if st.get("action.risk") == "1" else []
        new_risk = []
        for row in rows:
            key = (name, tuple(json.dumps(row.get(f), sort_keys=True) for f in fields))
            if suppress and self.suppress_until.get(key, float("-inf")) > started:
                report.firings.append(Firing(name, scheduled, started, row, True))
                report.suppressed[name] += 1
                continue
            if suppress:
                self.suppress_until[key] = started + period
            report.firings.append(Firing(name, scheduled, started, row, False))
            if st.get("action.notable") == "1":
                report.notables[name] += 1
            if st.get("alert.track") == "1":
                report.alerts[name] += 1
            threats = [v for ro in risk_objects if "threat_object_field" in ro
                       for v in _values(row.get(ro["threat_object_field"]))]
            for ro in risk_objects:
                if "risk_object_field" not in ro:
                    continue
                for obj in _values(row.get(ro["risk_object_field"])):
                    raw = {"search_name": name, "risk_object": obj, "risk_object_type": ro["risk_object_type"],
                           "risk_score": str(row.get("risk_score") or ro["risk_score"]),
                           "risk_message": _fill_tokens(st.get("action.risk.param._risk_message", ""), row),
                           "threat_object": threats}
                    new_risk.append({"_raw": json.dumps(raw), "_time": started, "_indextime": started + 1,
                                     "index": "risk", "source": name, "sourcetype": "stash", **raw})
                    report.risk_events[name] += 1
        if new_risk:
            self.app.index_events(new_risk)


def _seconds(spec: str) -> int:
    m = re.match(r"^(\d+)([smhd]?)$", spec.strip())
    if not m:
        raise ValueError("alert.suppress.period %r" % spec)
    return int(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


FIRST_SEEN = ("OpenAI Login from New Country or ASN", "OpenAI Sensitive Change from Unseen TLS Fingerprint",
              "OpenAI Multiple TLS Fingerprints for One User")


def benign_figure() -> Tuple[Scheduler, Report, str]:
    """The benign-organisation day and its figure: one line per search, the total, and what the
    first-seen searches reported about users who had no history (no baseline is seeded)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from benign_org import DAY_START, USERS, benign_day
    sched = Scheduler(benign_day())
    report = sched.run(DAY_START, DAY_START + 86400)
    detections = [n for n in sched.searches() if not sched.app.is_baseline(n)]
    text = report.table("Benign %d-user organisation, one day, detections enabled at install without seeded "
                        "baselines (%d scheduled runs)" % (USERS, report.runs), detections)
    first_seen = ["TA-openai-audit - %s - Rule" % n for n in FIRST_SEEN]
    text += "\nfirst-seen searches, users without history: %d notables, %d risk events on %d users (goal: 0)" % (
        sum(report.notables[n] for n in first_seen), sum(report.risk_events[n] for n in first_seen),
        len(set().union(*(report.risk_objects(n) for n in first_seen))))
    return sched, report, text


def main() -> int:
    print(benign_figure()[2])
    return 0


if __name__ == "__main__":
    sys.exit(main())
