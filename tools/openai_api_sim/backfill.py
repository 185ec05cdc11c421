"""A lazily computed source of N events: nothing is stored per event.

Position j (0 = newest) lies in second ``anchor - 1 - floor(j * span / n)``. Each event's content
comes from a generator seeded by (seed, j); its id encodes j (an affine permutation of j in the
first 6 base-62 characters, the rest hashed) so ``after=<id>`` finds its place without a table.
Within one second the events are ordered by id, as the API orders ties, which takes sorting the
few events of that second; the last second computed is cached.
"""
from __future__ import annotations

import hashlib
import random
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .generator import ALNUM, Org, default_org, make_event

_M = 62 ** 6
_A = 1_000_003  # odd and not a multiple of 31, so invertible mod 62**6 (= 2**6 * 31**6)
_A_INV = pow(_A, -1, _M)
_B = 918_273_645
NEG_INF = float("-inf")


def _b62(n: int, width: int) -> str:
    out = []
    for _ in range(width):
        n, r = divmod(n, 62)
        out.append(ALNUM[r])
    return "".join(reversed(out))


def _unb62(s: str) -> int:
    n = 0
    for ch in s:
        n = n * 62 + ALNUM.index(ch)
    return n


class BackfillSource:
    def __init__(self, n: int, anchor: int, seed: int = 0, span_seconds: int = 6 * 86400,
                 types: Optional[Sequence[str]] = None, org: Optional[Org] = None):
        if n < 0 or n >= _M:
            raise ValueError("backfill n must be between 0 and %d" % (_M - 1))
        if span_seconds < 1:
            raise ValueError("backfill span_seconds must be >= 1")
        self.n, self.anchor, self.seed, self.span = n, anchor, seed, span_seconds
        self.org = org or default_org()
        self.types = tuple(types) if types else (
            "login.succeeded", "login.succeeded", "login.succeeded", "logout.succeeded",
            "login.failed", "api_key.created", "api_key.updated", "project.updated",
            "user.added", "invite.sent", "role.assignment.created", "rate_limit.updated")
        self._salt = hashlib.sha256(b"backfill:%d" % seed).digest()[:8]
        self._cached = None  # type: Optional[Tuple[int, List[Tuple[str, int]]]]

    def __len__(self) -> int:
        return self.n

    # -- positions and seconds --
    def _offset(self, j: int) -> int:
        return j * self.span // self.n

    def _first_j(self, offset: int) -> int:
        # smallest j with j * span // n >= offset
        return -(-offset * self.n // self.span)

    def _raw_id(self, j: int) -> str:
        h = hashlib.blake2b(j.to_bytes(8, "big"), digest_size=16, key=self._salt).digest()
        tail = _b62(int.from_bytes(h, "big"), 18)
        return "audit_log-" + _b62((j * _A + _B) % _M, 6) + tail

    def _j_of(self, event_id: str) -> Optional[int]:
        if not event_id.startswith("audit_log-") or len(event_id) != 34:
            return None
        try:
            j = ((_unb62(event_id[10:16]) - _B) * _A_INV) % _M
        except ValueError:
            return None
        if j >= self.n or self._raw_id(j) != event_id:
            return None
        return j

    def _second(self, offset: int) -> List[Tuple[str, int]]:
        """(id, j) of one second's events, in ascending id order."""
        if self._cached is not None and self._cached[0] == offset:
            return self._cached[1]
        lo, hi = self._first_j(offset), min(self.n, self._first_j(offset + 1))
        group = sorted((self._raw_id(j), j) for j in range(lo, hi))
        self._cached = (offset, group)
        return group

    def _locate(self, k: int) -> Tuple[int, str, int]:
        """Ascending index k -> (effective_at, id, seed index j)."""
        if not 0 <= k < self.n:
            raise IndexError(k)
        p = self.n - 1 - k  # position, 0 = newest
        offset = self._offset(p)
        group = self._second(offset)
        # positions of this second, newest first, are lo..hi-1; ids descending
        lo = self._first_j(offset)
        eid, j = group[len(group) - 1 - (p - lo)]
        return self.anchor - 1 - offset, eid, j

    # -- the source interface used by EventStore --
    def key_at(self, k: int) -> Tuple[int, str]:
        eff, eid, _ = self._locate(k)
        return eff, eid

    def entry_at(self, k: int) -> Tuple[Dict[str, Any], float]:
        eff, eid, j = self._locate(k)
        rng = random.Random(self.seed * 1_000_003 + j)
        etype = self.types[j % len(self.types)]
        return make_event(etype, rng=rng, org=self.org, effective_at=eff, event_id=eid), NEG_INF

    def type_at(self, k: int) -> str:
        return self.types[self._locate(k)[2] % len(self.types)]

    def key_of(self, event_id: str) -> Optional[Tuple[int, str]]:
        j = self._j_of(event_id)
        if j is None:
            return None
        return self.anchor - 1 - self._offset(j), event_id
