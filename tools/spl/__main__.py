"""Command line:

  python -m tools.spl detect --app DIR --events FILE.jsonl [--now EPOCH | --all-time]
                             [--search NAME] [--lookups DIR] [--baseline FILE.jsonl]
  python -m tools.spl run --app DIR --events FILE.jsonl [--now EPOCH] [--lookups DIR] 'SPL'

Both print one JSON object per result row. Exit status 2 on a refused search or conf (the message
names what is unsupported), 1 on bad input files.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import List, Optional

from .app import App
from .errors import SplError


def _read_jsonl(path: str) -> List[dict]:
    out = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as e:
                raise ValueError("%s:%d: not JSON: %s" % (path, lineno, e))
            if not isinstance(obj, dict):
                raise ValueError("%s:%d: not a JSON object" % (path, lineno))
            out.append(obj)
    return out


def _print(obj) -> None:
    # UTF-8 whatever the locale says, so any event text prints
    line = json.dumps(obj, ensure_ascii=False) + "\n"
    buf = getattr(sys.stdout, "buffer", None)
    if buf is not None:
        sys.stdout.flush()
        buf.write(line.encode("utf-8", "surrogatepass"))
        buf.flush()
    else:
        sys.stdout.write(line)


def cmd_detect(args) -> int:
    app = App.load(args.app, lookups_dir=args.lookups)
    names = list(app.saved_searches)
    if args.search and args.search not in app.saved_searches:
        raise SplError("no saved search named %r" % args.search)
    baselines = [n for n in names if app.is_baseline(n)]
    detections = [n for n in names if n not in baselines]
    # Baselines first, over the history only, so detections compare new events with it.
    # Without --baseline they do not run: their lookups start empty (or as --lookups seeds them).
    if baselines and args.baseline:
        app.index_events(_read_jsonl(args.baseline))
        for name in baselines:
            rows = app.seed_baseline(name, now=args.now)
            if args.search == name:
                for row in rows:
                    _print({"search_name": name, "row": row})
        app.clear_events()
    app.index_events(_read_jsonl(args.events))
    for name in detections:
        if args.search and name != args.search:
            continue
        for row in app.run_saved_search(name, now=args.now, all_time=args.all_time):
            _print({"search_name": name, "row": row})
    return 0


def cmd_run(args) -> int:
    app = App.load(args.app, lookups_dir=args.lookups)
    app.index_events(_read_jsonl(args.events))
    for row in app.search(args.spl, now=args.now, all_time=args.all_time):
        _print(row)
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.spl", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("detect", help="run every saved search of the app")
    d.add_argument("--app", required=True)
    d.add_argument("--events", required=True)
    g = d.add_mutually_exclusive_group()
    g.add_argument("--now", type=float)
    g.add_argument("--all-time", action="store_true")
    d.add_argument("--search")
    d.add_argument("--lookups")
    d.add_argument("--baseline")
    r = sub.add_parser("run", help="run one ad-hoc search")
    r.add_argument("--app", required=True)
    r.add_argument("--events", required=True)
    g2 = r.add_mutually_exclusive_group()
    g2.add_argument("--now", type=float)
    g2.add_argument("--all-time", action="store_true")
    r.add_argument("--lookups")
    r.add_argument("spl")
    args = p.parse_args(argv)
    try:
        return cmd_detect(args) if args.cmd == "detect" else cmd_run(args)
    except SplError as e:
        sys.stderr.write("spl error: %s\n" % e)
        return 2
    except (OSError, ValueError) as e:
        sys.stderr.write("error: %s\n" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
