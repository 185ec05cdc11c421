"""The event store and the list query: ordering, cursors, filters, visibility.

Order is newest first: ``effective_at`` descending, ties broken by ``id`` descending. Sources keep
their events in ascending (effective_at, id) order and expose ``key_at(k)`` / ``entry_at(k)``, so a
lazily computed source (the backfill) answers the same binary searches as a list does.
"""
from __future__ import annotations

import bisect
import heapq
import threading
import time
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

from .generator import is_tenant_scoped

Key = Tuple[int, str]
MAX_ID = "\U0010ffff"  # sorts after every id


class QueryError(ValueError):
    """A request the real API would refuse with 400."""

    def __init__(self, message: str, param: Optional[str] = None, code: Optional[str] = None):
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


def _bisect(n: int, key_at: Callable[[int], Key], key: Key, right: bool) -> int:
    """bisect_left/right over a virtual ascending sequence (Python 3.9 has no key= on bisect)."""
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) // 2
        k = key_at(mid)
        if k < key or (right and k == key):
            lo = mid + 1
        else:
            hi = mid
    return lo


class ListSource:
    """Events held in memory, each with the monotonic time it becomes visible."""

    def __init__(self) -> None:
        self._keys = []  # type: List[Key]
        self._entries = []  # type: List[Tuple[Dict[str, Any], float]]
        self._by_id = {}  # type: Dict[str, Key]

    def __len__(self) -> int:
        return len(self._keys)

    def key_at(self, k: int) -> Key:
        return self._keys[k]

    def entry_at(self, k: int) -> Tuple[Dict[str, Any], float]:
        return self._entries[k]

    def type_at(self, k: int) -> str:
        return self._entries[k][0]["type"]

    def key_of(self, event_id: str) -> Optional[Key]:
        return self._by_id.get(event_id)

    def add(self, events: Iterable[Dict[str, Any]], visible_at: float) -> int:
        batch = []
        seen = set()
        for ev in events:
            if not isinstance(ev, dict):
                raise ValueError("an audit log must be a JSON object, got %r" % type(ev).__name__)
            eid, eff = ev.get("id"), ev.get("effective_at")
            if not isinstance(eid, str) or not eid:
                raise ValueError("audit log without a string id: %r" % (ev,))
            if isinstance(eff, bool) or not isinstance(eff, int):
                raise ValueError("audit log %s: effective_at must be an integer" % eid)
            if not isinstance(ev.get("type"), str):
                raise ValueError("audit log %s: type must be a string" % eid)
            if eid in self._by_id or eid in seen:
                raise ValueError("duplicate audit log id %s" % eid)
            seen.add(eid)
            batch.append(((eff, eid), (ev, visible_at)))
        # Validate everything before changing anything: a bad batch loses nothing.
        if len(batch) > 64:
            merged = sorted(list(zip(self._keys, self._entries)) + batch, key=lambda p: p[0])
            self._keys = [p[0] for p in merged]
            self._entries = [p[1] for p in merged]
        else:
            for key, entry in batch:
                k = bisect.bisect_left(self._keys, key)
                self._keys.insert(k, key)
                self._entries.insert(k, entry)
        for key, _ in batch:
            self._by_id[key[1]] = key
        return len(batch)


def _actor_ids(ev: Dict[str, Any]) -> Tuple[set, set]:
    ids, emails = set(), set()
    actor = ev.get("actor") or {}
    if not isinstance(actor, dict):
        return ids, emails
    for part in ("session", "api_key"):
        obj = actor.get(part) or {}
        if not isinstance(obj, dict):
            continue
        if part == "api_key" and obj.get("id"):
            ids.add(obj["id"])
        for who in ("user", "service_account"):
            sub = obj.get(who) or {}
            if isinstance(sub, dict):
                if sub.get("id"):
                    ids.add(sub["id"])
                if sub.get("email"):
                    emails.add(sub["email"])
    return ids, emails


def resource_ids(ev: Dict[str, Any]) -> set:
    """What `resource_ids[]` matches: the payload's id and resource_id (documented in README)."""
    out = set()
    payload = ev.get(ev.get("type"))
    if isinstance(payload, dict):
        for k in ("id", "resource_id"):
            if isinstance(payload.get(k), str):
                out.add(payload[k])
        for k in ("configs", "certificates"):
            for item in payload.get(k) or []:
                if isinstance(item, dict) and isinstance(item.get("id"), str):
                    out.add(item["id"])
    return out


class Query:
    """Parsed, validated list parameters."""

    def __init__(self, params: Dict[str, List[str]]):
        def one(name: str) -> Optional[str]:
            vals = params.get(name)
            if not vals:
                return None
            if len(vals) > 1:
                raise QueryError("Parameter %s was given more than once." % name, name)
            return vals[0]

        def integer(name: str) -> Optional[int]:
            v = one(name)
            if v is None:
                return None
            try:
                return int(v)
            except ValueError:
                raise QueryError("Invalid value for %s: expected an integer, got %r." % (name, v),
                                 name, "invalid_value")

        known = {"limit", "after", "before", "tenant_only", "project_ids[]", "event_types[]",
                 "actor_ids[]", "actor_emails[]", "resource_ids[]"}
        known.update("effective_at[%s]" % op for op in ("gt", "gte", "lt", "lte"))
        for name in params:
            if name not in known:
                raise QueryError("Unrecognized request argument supplied: %s" % name, name,
                                 "unknown_parameter")
        limit = integer("limit")
        self.limit = 20 if limit is None else limit
        if not 1 <= self.limit <= 100:
            raise QueryError("Invalid 'limit': integer below minimum value or above maximum "
                             "value. Expected a value between 1 and 100, but got %d instead."
                             % self.limit, "limit", "invalid_value")
        self.after = one("after")
        self.before = one("before")
        if self.after is not None and self.before is not None:
            raise QueryError("Only one of after and before may be given.", "before")
        tenant = one("tenant_only")
        if tenant is None or tenant.lower() == "false":
            self.tenant_only = False
        elif tenant.lower() == "true":
            self.tenant_only = True
        else:
            raise QueryError("Invalid value for tenant_only: expected true or false.",
                             "tenant_only", "invalid_value")
        self.gt, self.gte = integer("effective_at[gt]"), integer("effective_at[gte]")
        self.lt, self.lte = integer("effective_at[lt]"), integer("effective_at[lte]")
        self.project_ids = set(params.get("project_ids[]", ())) or None
        self.event_types = set(params.get("event_types[]", ())) or None
        self.actor_ids = set(params.get("actor_ids[]", ())) or None
        self.actor_emails = set(params.get("actor_emails[]", ())) or None
        self.resource_ids = set(params.get("resource_ids[]", ())) or None
        if self.tenant_only and self.event_types:
            bad = sorted(t for t in self.event_types if not is_tenant_scoped(t))
            if bad:
                raise QueryError("When tenant_only is true, all event_types must be tenant-scoped; "
                                 "not tenant-scoped: %s." % ", ".join(bad), "event_types",
                                 "invalid_value")

    def bounds(self) -> Tuple[Key, Key]:
        """(lower, upper), both exclusive, on (effective_at, id) from the time filters."""
        lower = (-(2 ** 62), "")  # type: Key
        upper = (2 ** 62, MAX_ID)  # type: Key
        if self.gt is not None:
            lower = max(lower, (self.gt, MAX_ID))
        if self.gte is not None:
            lower = max(lower, (self.gte - 1, MAX_ID))
        if self.lt is not None:
            upper = min(upper, (self.lt, ""))
        if self.lte is not None:
            upper = min(upper, (self.lte, MAX_ID))
        return lower, upper

    def type_ok(self, etype: str) -> bool:
        """The part of the match decided by the type alone (cheap: checked before building)."""
        if is_tenant_scoped(etype) != self.tenant_only:
            return False
        return self.event_types is None or etype in self.event_types

    def matches(self, ev: Dict[str, Any]) -> bool:
        """The rest of the match (the caller has checked type_ok)."""
        if self.project_ids is not None:
            proj = ev.get("project")
            if not isinstance(proj, dict) or proj.get("id") not in self.project_ids:
                return False
        if self.actor_ids is not None or self.actor_emails is not None:
            ids, emails = _actor_ids(ev)
            if self.actor_ids is not None and not ids & self.actor_ids:
                return False
            if self.actor_emails is not None and not emails & self.actor_emails:
                return False
        if self.resource_ids is not None and not resource_ids(ev) & self.resource_ids:
            return False
        return True


class EventStore:
    """All sources together, queried as one list. Thread-safe."""

    def __init__(self, sources: Optional[List[Any]] = None, clock: Callable[[], float] = time.monotonic):
        self.added = ListSource()
        self.sources = [self.added] + list(sources or [])
        self.clock = clock
        self._lock = threading.Lock()

    def add_events(self, events: Iterable[Dict[str, Any]], visible_after: float = 0.0) -> int:
        if visible_after < 0:
            raise ValueError("visible_after must be >= 0")
        events = list(events)
        with self._lock:
            for ev in events:
                eid = ev.get("id") if isinstance(ev, dict) else None
                if isinstance(eid, str) and any(s.key_of(eid) for s in self.sources[1:]):
                    raise ValueError("duplicate audit log id %s" % eid)
            return self.added.add(events, self.clock() + visible_after)

    def __len__(self) -> int:
        return sum(len(s) for s in self.sources)

    def _key_of(self, event_id: str, param: str) -> Key:
        for s in self.sources:
            key = s.key_of(event_id)
            if key is not None:
                return key
        raise QueryError("No audit log found with id '%s'." % event_id, param, "invalid_cursor")

    @staticmethod
    def _desc(src: Any, lower: Key, upper: Key) -> Iterator[Tuple[Key, Any, int]]:
        k = _bisect(len(src), src.key_at, upper, right=False) - 1
        while k >= 0:
            key = src.key_at(k)
            if key <= lower:
                return
            yield key, src, k
            k -= 1

    @staticmethod
    def _asc(src: Any, lower: Key, upper: Key) -> Iterator[Tuple[Key, Any, int]]:
        k = _bisect(len(src), src.key_at, lower, right=True)
        n = len(src)
        while k < n:
            key = src.key_at(k)
            if key >= upper:
                return
            yield key, src, k
            k += 1

    def list(self, q: Query) -> Dict[str, Any]:
        """The response envelope for one list request."""
        with self._lock:
            now = self.clock()
            lower, upper = q.bounds()
            if q.after is not None:
                upper = min(upper, self._key_of(q.after, "after"))
            if q.before is not None:
                lower = max(lower, self._key_of(q.before, "before"))
            # A source whose types cannot match (a backfill without tenant types, asked with
            # tenant_only=true) is skipped instead of scanned to the end.
            sources = [s for s in self.sources
                       if getattr(s, "types", None) is None or any(q.type_ok(t) for t in set(s.types))]
            if q.before is None:
                its = [self._desc(s, lower, upper) for s in sources]
                stream = heapq.merge(*its, key=lambda p: p[0], reverse=True)
            else:
                its = [self._asc(s, lower, upper) for s in sources]
                stream = heapq.merge(*its, key=lambda p: p[0])
            page = []  # type: List[Dict[str, Any]]
            has_more = False
            for _key, src, k in stream:
                if not q.type_ok(src.type_at(k)):
                    continue
                ev, visible_at = src.entry_at(k)
                if visible_at > now or not q.matches(ev):
                    continue
                if len(page) == q.limit:
                    has_more = True
                    break
                page.append(ev)
            if q.before is not None:
                page.reverse()  # the items just newer than the cursor, still newest first
        return {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": has_more,
        }
