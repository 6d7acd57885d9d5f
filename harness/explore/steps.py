"""Memoised replica steps: each distinct local transition is computed once per exploration.

A replica's step is a function of its state, the event and the time only (the sans-I/O
contract; its ``choose`` always answers 0 here), and its state is exactly what
`Replica.state_fingerprint` encodes: the explorer's visited table already relies on that.
Global states are (nearly) a product of local ones, so the same local transition recurs in
thousands of global states: in the default configuration 98% of the steps the search takes
are repeats. `LocalSteps` keeps, per (node, replica fingerprint, event, time), the successor
replica and its effects, plus what the explorer derives from them (fingerprints, the
in-flight keys of the sends).

A stored replica is shared by every state that reaches it and must never change: the
explorer copies a replica before stepping it (`harness.explore.clone.copy_replica`), here on
a miss only. tests/harness/explore/test_steps.py checks every memoised step against a fresh
one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from consensus import Replica
from consensus.effects import Send
from consensus.events import Event
from harness.explore.bounds import Bounds
from harness.explore.clients import make_replica
from harness.explore.clone import copy_replica
from harness.explore.symmetry import Symmetry, relabelled_fingerprints

MAX_ENTRIES = 200_000
"""Entries kept before the memo starts over (a bound on memory; only speed depends on it)."""


class Local:
    """One memoised step: the successor replica, its effects, and what the explorer derives.

    ``reprs`` are the in-flight keys (``repr(msg)``) of the `Send` effects, in order;
    ``sfps`` the successor's fingerprints under the symmetry group's other permutations."""

    __slots__ = ("effects", "fp", "replica", "reprs", "sfps")

    def __init__(
        self,
        replica: Replica,
        effects: list[Any],
        fp: bytes,
        sfps: tuple[bytes, ...],
        reprs: tuple[str, ...],
    ) -> None:
        self.replica = replica
        self.effects = effects
        self.fp = fp
        self.sfps = sfps
        self.reprs = reprs


class LocalSteps:
    """The memo of one exploration (its bounds and symmetry group fixed)."""

    __slots__ = ("_recovered", "_steps", "bounds", "hits", "misses", "sym")

    def __init__(self, bounds: Bounds, sym: Symmetry) -> None:
        self.bounds = bounds
        self.sym = sym
        self._steps: dict[tuple[Any, ...], Local] = {}
        self._recovered: dict[tuple[int, bytes], tuple[Replica, bytes, tuple[bytes, ...]]] = {}
        self.hits = 0
        self.misses = 0

    def step(
        self,
        node: int,
        old: Replica,
        old_fp: bytes,
        event_key: object,
        make_event: Callable[[], Event],
        now_us: int,
    ) -> Local:
        """``old`` (fingerprint ``old_fp``) stepped by the event ``event_key`` names
        (``make_event()`` builds it) at true time ``now_us``; ``old`` is not changed."""
        key = (node, old_fp, event_key, now_us)
        hit = self._steps.get(key)
        if hit is not None:
            self.hits += 1
            return hit
        self.misses += 1
        r = copy_replica(old)
        effects = r.step(make_event(), now_us)
        reprs = tuple(repr(e.msg) for e in effects if type(e) is Send)
        local = Local(r, effects, r.state_fingerprint(), relabelled_fingerprints(r, self.sym),
                      reprs)
        if len(self._steps) >= MAX_ENTRIES:
            self._steps.clear()
        self._steps[key] = local
        return local

    def recover(
        self, node: int, wal_digest: bytes, records: tuple[bytes, ...]
    ) -> tuple[Replica, bytes, tuple[bytes, ...]]:
        """Node ``node``'s replica recovered from ``records`` (digest ``wal_digest``), with
        its fingerprint and relabelled fingerprints; shared, never to be changed."""
        key = (node, wal_digest)
        hit = self._recovered.get(key)
        if hit is None:
            r = make_replica(self.bounds, node, records)
            hit = (r, r.state_fingerprint(), relabelled_fingerprints(r, self.sym))
            if len(self._recovered) >= MAX_ENTRIES:
                self._recovered.clear()
            self._recovered[key] = hit
        return hit
