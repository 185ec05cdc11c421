"""A loopback stand-in for the OpenAI audit log API (tests, demo, benchmarks; never shipped).

    from tools.openai_api_sim import ApiSim, DEFAULT_KEY
    with ApiSim(scenario="steady", seed=1) as sim:
        requests.get(sim.base_url + "/organization/audit_logs",
                     headers={"Authorization": "Bearer " + DEFAULT_KEY})

See README.md beside this file for the CLI, fault specs, control surface and scenarios.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Dict, Iterable, Optional

from .scenarios import build, scenario_names
from .server import DEFAULT_KEY, NO_PERMISSION_KEY, FaultSpec, SimHTTPServer, SimState, parse_faults
from .store import EventStore

__all__ = ["ApiSim", "DEFAULT_KEY", "NO_PERMISSION_KEY", "FaultSpec", "parse_faults",
           "scenario_names"]


class ApiSim:
    """The stand-in server, in a background thread. Use as a context manager or start()/stop().

    events: audit log dicts to serve (visible at once); scenario: a name from scenarios/;
    scenario_params: overrides of the scenario's params; anchor: the "now" scenario times are
    relative to (default: the time of construction); seed: drives the scenario's randomness and
    the fault draws; faults: fault specs ``NAME@RATE[:ARG]``; key: the valid admin key;
    no_permission_keys: keys answered with 403; track_ids: keep the set of served ids (off for
    memory benchmarks); max_concurrent: audit log requests served at once, beyond which a request
    gets 429 with ``Retry-After: 1`` (None: no limit).
    """

    def __init__(self, events: Optional[Iterable[Dict[str, Any]]] = None,
                 scenario: Optional[str] = None, *, seed: int = 0, latency_ms: float = 0.0,
                 faults: Optional[Iterable[Any]] = None, key: str = DEFAULT_KEY,
                 no_permission_keys: Iterable[str] = (NO_PERMISSION_KEY,), port: int = 0,
                 anchor: Optional[int] = None, scenario_params: Optional[Dict[str, Any]] = None,
                 track_ids: bool = True, max_concurrent: Optional[int] = None):
        self.anchor = int(anchor if anchor is not None else time.time())
        self.seed = seed
        sources = []  # type: List[Any]
        delayed = []  # type: List[Any]
        if scenario is not None:
            delayed, sources = build(scenario, self.anchor, seed, scenario_params)
        elif scenario_params:
            raise ValueError("scenario_params given without a scenario")
        self.store = EventStore(sources)
        if events is not None:
            self.store.add_events(events)
        by_delay = {}  # type: Dict[float, List[Dict[str, Any]]]
        for ev, delay in delayed:
            by_delay.setdefault(delay, []).append(ev)
        for delay, evs in sorted(by_delay.items()):
            self.store.add_events(evs, visible_after=delay)
        self.state = SimState(self.store, key=key, no_permission_keys=tuple(no_permission_keys),
                              faults=faults, seed=seed, latency_ms=latency_ms, track_ids=track_ids,
                              max_concurrent=max_concurrent)
        self._port = port
        self._server = None  # type: Optional[SimHTTPServer]
        self._thread = None  # type: Optional[threading.Thread]

    # -- lifecycle --
    def start(self) -> "ApiSim":
        if self._server is not None:
            return self
        self._server = SimHTTPServer(self.state, self._port)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="openai-api-sim", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> "ApiSim":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- addresses --
    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("ApiSim is not started")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d" % self.port

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    # -- control surface (same operations as /_sim/ over HTTP) --
    def add_events(self, events: Iterable[Dict[str, Any]], visible_after: float = 0.0) -> int:
        """Add events; they are invisible to queries until ``visible_after`` seconds from now."""
        return self.store.add_events(events, visible_after=visible_after)

    def set_faults(self, specs: Optional[Iterable[Any]]) -> None:
        self.state.set_faults(specs)

    def set_latency(self, latency_ms: float) -> None:
        self.state.latency_ms = float(latency_ms)

    def set_max_concurrent(self, max_concurrent: Optional[int]) -> None:
        self.state.set_max_concurrent(max_concurrent)

    def stats(self) -> Dict[str, Any]:
        return self.state.stats()

    def served_ids(self) -> set:
        return self.state.served_ids()

    def reset(self) -> None:
        """Clear counters and served ids and restart the fault draws from the seed (events stay)."""
        self.state.reset()
