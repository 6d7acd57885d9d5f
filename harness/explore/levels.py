"""The coordinator of a parallel breadth-first search: levels over `Partition` s.

Each level: even out the partitions' frontiers if they drifted apart (`REBALANCE_AT`),
expand (`Partition.expand`), send the claims to their owners (`Partition.resolve`), hand
the answers back (`Partition.adopt`) and number the next level (`Partition.rank`). Only
digests and claim keys travel (the answers name just the claims that lost: states visited
before, and the winning keys of states claimed twice), plus the excess states of a
rebalance.

The result is the one-process search's (`harness.explore.search`), count for count: a full
level's counts do not depend on order, and where the one-process search stops inside a level
(a violation, ``max_states``) the stop point is a claim key, the global order of that
search, and `Partition.tally_until` counts up to it. The violation and its trace come from
replaying the stop state's parent records from the initial state, as one process met them.

Drivers (`harness.explore.drivers`) run the partitions in worker processes or on Dask; the
coordinator calls ``driver.call(method, args)`` with one argument tuple per partition and
gets one result per partition.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable
from typing import Any, Protocol

from harness.checks.violation import Violation
from harness.explore.bounds import Bounds
from harness.explore.ghost import Found
from harness.explore.partition import ACTION_BITS, ACTION_MASK, DIGEST
from harness.explore.world import Action, World

REBALANCE_AT = 0.02
"""Rebalance when a partition's frontier is more than this fraction above the mean (and at
least `REBALANCE_MIN` states): the level waits for its slowest partition."""
REBALANCE_MIN = 8

_REFUSED = ("inflight", "max_round", "depth")


class Driver(Protocol):
    parts: int

    def call(self, method: str, args: list[tuple[Any, ...]]) -> list[Any]: ...

    def call_one(self, part: int, method: str, args: tuple[Any, ...]) -> Any: ...

    def close(self) -> None: ...


class ExploreWorkerError(RuntimeError):
    """A partition failed (its traceback is in the message)."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a parallel search, with the counts of the levels finished so far."""

    def __init__(self, states: int, transitions: int, depth: int) -> None:
        super().__init__(f"interrupted: states={states} transitions={transitions} "
                         f"depth={depth}")
        self.states, self.transitions, self.depth = states, transitions, depth


def collision_probability(states: int, bits: int = 8 * DIGEST) -> float:
    """Probability that two of ``states`` distinct states share a ``bits``-bit fingerprint
    (so one is never expanded): at most n(n-1)/2 pairs times 2^-bits, ~ n^2 / 2^(bits+1)."""
    return states * (states - 1) / 2.0 * math.ldexp(1.0, -bits)


def critical_path(level_cpu: list[list[float]]) -> float:
    """The CPU seconds of each level's slowest partition, summed (``level_cpu[w][l]``:
    partition w's CPU in level l). The level's barrier makes the others wait for it, so on
    an otherwise idle machine with a core per partition this bounds the search's wall time
    from below; the sum of all partitions' CPU over this is the speed-up such a machine
    could give at most."""
    levels = max((len(ts) for ts in level_cpu), default=0)
    return sum(max(ts[lvl] if lvl < len(ts) else 0.0 for ts in level_cpu)
               for lvl in range(levels))


LevelProgress = Callable[[int, int, int, list[int]], None]
"""``progress(states, transitions, depth, frontier sizes per partition)`` once per level."""

_Out = tuple[Violation | None, tuple[tuple[Action, int], ...], int, int, int, bool]


class LevelSearch:
    """One parallel search over ``driver`` s partitions (see the module doc)."""

    def __init__(self, bounds: Bounds, driver: Driver, max_states: int | None,
                 progress: LevelProgress | None) -> None:
        self.bounds, self.driver, self.max_states, self.progress = (
            bounds, driver, max_states, progress)
        self.refused = dict.fromkeys(_REFUSED, 0)
        self.ends = 0
        self.stopped = False
        self.states = 1
        self.transitions = 0
        self.rebalanced = 0
        self._depth = 0

    def _add(self, tallies: list[dict[str, Any]]) -> None:
        for t in tallies:
            self.transitions += t["transitions"]
            self.ends += t["ends"]
            for k, v in t["refused"].items():
                self.refused[k] += v

    def run(self) -> _Out:
        """Search until a violation, ``max_states`` or exhaustion; Ctrl-C raises
        `Interrupted` with the counts of the finished levels."""
        try:
            return self._levels()
        except KeyboardInterrupt:
            raise Interrupted(self.states, self.transitions, self._depth) from None

    def _levels(self) -> _Out:
        drv, k = self.driver, self.driver.parts
        sizes = drv.call("size", [()] * k)
        self._depth = depth = 0
        max_depth = 0
        while sum(sizes):
            max_depth = depth
            self._rebalance(sizes)
            outs = drv.call("expand", [()] * k)
            found = [o["violation"] for o in outs if o["violation"] is not None]
            vck, vparent = min(found) if found else (None, b"")
            res = drv.call("resolve", [([outs[w]["claims"].get(o) for w in range(k)], vck)
                                       for o in range(k)])
            new = sum(r["below"] if vck is not None else r["new"] for r in res)
            need = 0 if self.max_states is None else max(1, self.max_states - self.states)
            if self.max_states is not None and new >= need:
                keys = array("q")
                for blob in drv.call("winner_keys", [()] * k):
                    keys.frombytes(blob)
                stop = sorted(keys)[need - 1]
                self._add(drv.call("tally_until", [(stop,)] * k))
                self.states += need
                self.stopped = True
                return None, (), self.states, self.transitions, max_depth, False
            if vck is not None:
                self._add(drv.call("tally_until", [(vck,)] * k))
                self.states += new
                violation, schedule = self._trace(vparent, vck & ACTION_MASK)
                return violation, schedule, self.states, self.transitions, depth + 1, False
            self._add(outs)
            self.states += new
            contested = [r["contested"] for r in res]
            keys_by = drv.call("adopt", [([r["old"][w] for r in res], contested)
                                         for w in range(k)])
            sizes = drv.call("rank", [(keys_by,)] * k)
            self._depth = depth = depth + 1
            if self.progress is not None:
                self.progress(self.states, self.transitions, depth, sizes)
        return None, (), self.states, self.transitions, max_depth, True

    def _rebalance(self, sizes: list[int]) -> None:
        """Move the excess of the fullest partitions to the emptiest, in pairs, when the
        fullest is more than `REBALANCE_AT` above the mean."""
        k, total = len(sizes), sum(sizes)
        mean = total / k
        if max(sizes) - mean <= max(REBALANCE_MIN, REBALANCE_AT * mean):
            return
        target = [total // k + (1 if i < total % k else 0) for i in range(k)]
        order = sorted(range(k), key=lambda i: sizes[i] - target[i])
        moves: list[tuple[int, int, int]] = []
        give, take = order[0], order[-1]  # emptiest, fullest
        have = list(sizes)
        while have[take] > target[take] and have[give] < target[give]:
            n = min(have[take] - target[take], target[give] - have[give])
            moves.append((take, give, n))
            have[take] -= n
            have[give] += n
            order = sorted(range(k), key=lambda i: have[i] - target[i])
            give, take = order[0], order[-1]
        for src, dst, n in moves:
            blob = self.driver.call_one(src, "take", (n,))
            self.driver.call_one(dst, "give", (blob,))
            self.rebalanced += n
        sizes[:] = have

    def _trace(self, parent: bytes, last: int) -> tuple[Violation, tuple[tuple[Action, int], ...]]:
        """Rebuild the path to ``parent`` from the partitions' records and replay it from the
        initial state, then the action ``last`` (which must raise `Found`)."""
        drv, k = self.driver, self.driver.parts
        indices = [last]
        d = parent
        while True:
            got = [r for r in drv.call("record", [(d,)] * k) if r is not None]
            if not got:
                break
            d, aidx = got[0]
            indices.append(aidx)
        indices.reverse()
        world = World.initial(self.bounds)
        path: list[tuple[Action, int]] = []
        for step, aidx in enumerate(indices, start=1):
            action = world.actions()[aidx]
            at = max(world.now_us, world.timers[action[1]]) if action[0] == "tick" else (
                world.now_us)
            try:
                nxt = world.successor(action, step)
            except Found as found:
                path.append((action, at))
                if step != len(indices):
                    break
                return found.violation, tuple(path)
            if isinstance(nxt, str):
                break
            path.append((action, nxt.now_us))
            world = nxt
        raise ExploreWorkerError(f"replaying the parent records did not reach the violation: "
                                 f"steps={len(indices)}")


__all__ = ["ACTION_BITS", "Driver", "ExploreWorkerError", "Interrupted", "LevelSearch",
           "collision_probability", "critical_path"]
