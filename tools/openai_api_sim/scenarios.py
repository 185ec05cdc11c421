"""Scenarios: data files under scenarios/ turned into event sources.

A scenario file (JSON) has a ``params`` object of defaults that callers may override
(``ApiSim(scenario_params=...)``, CLI ``--param k=v``); any string value ``"$name"`` elsewhere in
the file is replaced by that parameter. Sections, all optional:

- ``org``: size of the made-up organisation (users, projects, service_accounts).
- ``background``: ``events`` random events over ``span_seconds`` ending ``end_offset`` seconds
  before the anchor, types drawn by ``weights``; ``every_type`` adds one of each known type plus
  the unknown future type; ``actors: "office_sessions"`` restricts actors to admins in the offices;
  ``quiet``: [[from, to], ...] offset ranges left without background events.
- ``story``: explicit steps (see README.md), each at an ``at`` offset (seconds, negative = past).
- ``same_second``: ``count`` events sharing one effective_at (``at``).
- ``late``: ``count`` events in the past made visible only ``visible_after`` seconds after start.
- ``backfill``: ``n`` lazily generated events over ``span_seconds`` (no per-event memory).

All times are offsets from the anchor (the server's start time unless overridden).
"""
from __future__ import annotations

import json
import os
import random
import re
from typing import Any, Dict, List, Optional, Tuple

from .backfill import BackfillSource
from .generator import (
    EVENT_TYPES, SITES, Org, fingerprint, make_event, office_ip, random_actor, random_id,
    service_account_actor, session_actor, stable_id, user_key_actor,
)

SCENARIO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scenarios")


def scenario_names() -> List[str]:
    return sorted(f[:-5] for f in os.listdir(SCENARIO_DIR) if f.endswith(".json"))


def load_scenario(name: str, params: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    path = os.path.join(SCENARIO_DIR, name + ".json")
    if not re.match(r"^[a-z0-9-]+$", name or "") or not os.path.exists(path):
        raise ValueError("unknown scenario %r (known: %s)" % (name, ", ".join(scenario_names())))
    with open(path, encoding="utf-8") as f:
        spec = json.load(f)
    values = dict(spec.get("params", {}))
    for k, v in (params or {}).items():
        if k not in values:
            raise ValueError("scenario %s has no parameter %r (has: %s)"
                             % (name, k, ", ".join(sorted(values)) or "none"))
        values[k] = type(values[k])(v) if values[k] is not None and isinstance(v, str) else v

    def subst(obj: Any) -> Any:
        if isinstance(obj, str) and obj.startswith("$") and obj[1:] in values:
            return values[obj[1:]]
        if isinstance(obj, list):
            return [subst(x) for x in obj]
        if isinstance(obj, dict):
            return {k: subst(v) for k, v in obj.items() if k != "params"}
        return obj

    spec = subst(spec)
    spec["params"] = values
    return spec


class Builder:
    """Turns a loaded scenario into (events with visibility delays, lazy sources)."""

    def __init__(self, spec: Dict[str, Any], anchor: int, seed: int):
        self.spec, self.anchor, self.seed = spec, anchor, seed
        self.rng = random.Random(seed)
        o = spec.get("org", {})
        self.org = Org(users=int(o.get("users", 2000)), projects=int(o.get("projects", 40)),
                       service_accounts=int(o.get("service_accounts", 30)))

    # -- name resolution for story steps --
    def user(self, email: str) -> Dict[str, str]:
        return Org.user(email)

    def project(self, name: str) -> Dict[str, str]:
        return Org.project(name)

    def resolve(self, obj: Any) -> Any:
        """Placeholders in story payloads: {project:NAME} {user:EMAIL} {service_account:NAME}
        {key:OWNER} {id:PREFIX} (a fresh random id with that prefix)."""
        if isinstance(obj, str):
            m = re.match(r"^\{(project|user|service_account|key|id):(.*)\}$", obj)
            if not m:
                return obj
            kind, arg = m.groups()
            if kind == "project":
                return Org.project(arg)["id"]
            if kind == "user":
                return Org.user(arg)["id"]
            if kind == "service_account":
                return Org.service_account(arg)["id"]
            if kind == "key":
                return Org.api_key_id(Org.user(arg)["id"] if "@" in arg else Org.service_account(arg)["id"])
            return random_id(self.rng, arg)
        if isinstance(obj, list):
            return [self.resolve(x) for x in obj]
        if isinstance(obj, dict):
            return {k: self.resolve(v) for k, v in obj.items()}
        return obj

    def actor(self, a: Any) -> Any:
        """Story actor: null, or {"session": EMAIL, "ip": IP, "device": N, "fingerprint": NAME,
        "user_agent"/"ja3"/"ja4": ...},
        {"user_key": EMAIL}, {"service_account": NAME}."""
        if a is None:
            return None
        if "session" in a:
            user = Org.user(a["session"])
            fp = fingerprint(a["session"], int(a.get("device", 0)))
            if "fingerprint" in a:  # a named browser from the file's "fingerprints" section
                named = self.spec.get("fingerprints", {}).get(a["fingerprint"])
                if named is None:
                    raise ValueError("story actor %r: no fingerprint %r" % (a, a["fingerprint"]))
                fp.update(named)
            for k in ("user_agent", "ja3", "ja4"):
                if k in a:
                    fp[k] = a[k]
            ip = a.get("ip") or SITES["hq"]["prefix"] + str(20 + int(user["id"][-2:], 36) % 200)
            return session_actor(user, ip, fp=fp)
        if "user_key" in a:
            return user_key_actor(Org.user(a["user_key"]))
        if "service_account" in a:
            return service_account_actor(Org.service_account(a["service_account"]))
        raise ValueError("story actor %r: expected session, user_key or service_account" % (a,))

    # -- sections --
    def background(self) -> List[Dict[str, Any]]:
        bg = self.spec.get("background")
        if not bg:
            return []
        n = int(bg.get("events", 0))
        span = int(bg.get("span_seconds", 2 * 86400))
        end = int(bg.get("end_offset", 60))
        weights = bg.get("weights") or {"login.succeeded": 1}
        types, w = zip(*sorted(weights.items()))
        picks = list(self.rng.choices(types, weights=w, k=n))
        if bg.get("every_type"):
            picks.extend(EVENT_TYPES)
        out = []
        office_only = bg.get("actors") == "office_sessions"
        story_users = self.story_users()
        quiet = [(int(a), int(b)) for a, b in bg.get("quiet", [])]
        for t in picks:
            eff = self.anchor - end - self.rng.randint(0, span)
            while any(self.anchor + a <= eff < self.anchor + b for a, b in quiet):
                eff = self.anchor - end - self.rng.randint(0, span)
            kw = {}  # type: Dict[str, Any]
            if t.startswith(("login.", "logout.")):
                # Story users keep the timeline the story gives them (no accidental travel).
                kw["actor"] = random_actor(self.rng, self.org, t, exclude=story_users)
            elif office_only:
                user = self.rng.choice(self.org.admins)
                kw["actor"] = session_actor(user, office_ip(self.rng, user))
            out.append(make_event(t, rng=self.rng, org=self.org, effective_at=eff, **kw))
        return out

    def story_users(self) -> set:
        users = set()
        for step in self.spec.get("story", []):
            a = step.get("actor")
            if isinstance(a, dict):
                for k in ("session", "user_key"):
                    v = a.get(k)
                    users.update(v if isinstance(v, list) else [v] if v else [])
        return users

    def story(self) -> List[Tuple[Dict[str, Any], float]]:
        out = []
        for i, step in enumerate(self.spec.get("story", [])):
            if "type" not in step or "at" not in step:
                raise ValueError("story step %d: needs type and at" % i)
            repeat, every = int(step.get("repeat", 1)), int(step.get("every", 1))
            for r in range(repeat):
                kw = {}  # type: Dict[str, Any]
                if "actor" in step:
                    actor_spec = step["actor"]
                    if isinstance(actor_spec, dict) and isinstance(actor_spec.get("ip"), list):
                        actor_spec = dict(actor_spec, ip=actor_spec["ip"][r % len(actor_spec["ip"])])
                    if isinstance(actor_spec, dict) and isinstance(actor_spec.get("session"), list):
                        actor_spec = dict(actor_spec, session=actor_spec["session"][r % len(actor_spec["session"])])
                    kw["actor"] = self.actor(actor_spec)
                if "project" in step:
                    kw["project"] = None if step["project"] is None else Org.project(step["project"])
                if "payloads" in step:  # one per repetition, cycled
                    kw["payload"] = self.resolve(step["payloads"][r % len(step["payloads"])])
                elif "payload" in step:
                    kw["payload"] = self.resolve(step["payload"])
                ev = make_event(step["type"], rng=self.rng, org=self.org,
                                effective_at=self.anchor + int(step["at"]) + r * every, **kw)
                out.append((ev, float(step.get("visible_after", 0.0))))
        return out

    def same_second(self) -> List[Dict[str, Any]]:
        ss = self.spec.get("same_second")
        if not ss:
            return []
        eff = self.anchor + int(ss.get("at", -3600))
        types = ss.get("types") or ["login.succeeded"]
        return [make_event(types[i % len(types)], rng=self.rng, org=self.org, effective_at=eff)
                for i in range(int(ss.get("count", 250)))]

    def late(self) -> List[Tuple[Dict[str, Any], float]]:
        lt = self.spec.get("late")
        if not lt:
            return []
        lo, hi = lt.get("offset_range", [-600, -120])
        delay = float(lt.get("visible_after", 5.0))
        types = lt.get("types") or ["login.succeeded", "api_key.created", "invite.sent"]
        return [(make_event(types[i % len(types)], rng=self.rng, org=self.org,
                            effective_at=self.anchor + self.rng.randint(int(lo), int(hi))), delay)
                for i in range(int(lt.get("count", 20)))]

    def sources(self) -> List[Any]:
        bf = self.spec.get("backfill")
        if not bf:
            return []
        return [BackfillSource(int(bf["n"]), anchor=self.anchor + int(bf.get("end_offset", 0)),
                               seed=self.seed, span_seconds=int(bf.get("span_seconds", 6 * 86400)),
                               types=bf.get("types"), org=self.org)]

    def events(self) -> List[Tuple[Dict[str, Any], float]]:
        """All in-memory events with their visibility delay in seconds."""
        out = [(ev, 0.0) for ev in self.background()]
        out += self.story()
        out += [(ev, 0.0) for ev in self.same_second()]
        out += self.late()
        return out


def build(name: str, anchor: int, seed: int = 0,
          params: Optional[Dict[str, Any]] = None) -> Tuple[List[Tuple[Dict[str, Any], float]], List[Any]]:
    b = Builder(load_scenario(name, params), anchor, seed)
    return b.events(), b.sources()


__all__ = ["build", "load_scenario", "scenario_names", "stable_id", "SCENARIO_DIR"]
