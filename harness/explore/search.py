"""Search strategies over `World` states: breadth-first (shortest trace), depth-first, random.

Each distinct state (by `World.digest`, a blake2b of the canonical fingerprint) is expanded
once. The visited table keeps, per state, its parent digest and the action that reached it,
so a violation's trace is rebuilt by walking parents back to the initial state; breadth-first
search therefore reports a shortest one. Random walks draw only from a seeded
`harness.runtime.chooser.Chooser` (deterministic per seed).
"""

from __future__ import annotations

import gc
import resource
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import attrs

from harness.checks.violation import Violation
from harness.explore.bounds import STRATEGIES, Bounds, BoundsError
from harness.explore.ghost import Found
from harness.explore.levels import (
    Driver,
    LevelProgress,
    LevelSearch,
    collision_probability,
    critical_path,
)
from harness.explore.symmetry import symmetry_for
from harness.explore.world import Action, World
from harness.runtime.chooser import Chooser

PROGRESS_EVERY = 50_000
"""New states between progress calls (a multiple of FREEZE_EVERY)."""
FREEZE_EVERY = 2_000
"""New states between `gc.freeze` calls: the states kept are never garbage (the search
makes no reference cycles), so the collector need not walk them again and again; without
this, collections take about a third of a long search."""


BOUNDS_THAT_REFUSE: tuple[str, ...] = ("inflight", "max_round", "depth")
"""The bounds that refuse a transition the protocol would take: a step sending beyond
``inflight``, a ballot beyond ``max_round``, any step from a state at ``depth``. (Budgets
such as ticks and crashes define which actions exist; they refuse nothing.)"""


@attrs.frozen(kw_only=True)
class ExploreResult:
    """What one exploration found.

    Attributes:
        bounds, strategy: what ran.
        violation: the first violated property, or None.
        schedule: on violation, the actions from the initial state to it, each as
            ``(action, true_us)`` (true time when it ran); empty otherwise.
        states: distinct states reached. transitions: successors computed.
        max_depth: longest path explored.
        refused: per bound of `BOUNDS_THAT_REFUSE`, the transitions it refused.
        ends: states reached at which the protocol had nothing left to do (no action, or
            only refused client requests that change nothing): the ends of paths that no
            bound cut.
        exhausted: every state reachable within the bounds was expanded (False when a
            violation or ``max_states`` stopped the search, and for random walks). Given
            as ``complete=`` when built (its name before `complete` learned about bounds
            that cut every path).
        stopped_at_max_states: ``max_states`` stopped the search.
        elapsed_s: wall seconds (not part of any verdict). peak_rss_kb: process peak RSS.
    """

    bounds: Bounds
    strategy: str
    violation: Violation | None
    schedule: tuple[tuple[Action, int], ...]
    states: int
    transitions: int
    max_depth: int
    exhausted: bool = attrs.field(alias="complete")
    elapsed_s: float
    peak_rss_kb: int
    refused: dict[str, int] = attrs.field(factory=lambda: dict.fromkeys(BOUNDS_THAT_REFUSE, 0))
    ends: int = 0
    stopped_at_max_states: bool = False
    parallel: dict[str, Any] | None = None
    """A parallel search's figures (`harness.explore.levels`): partitions, per-partition
    work and memory, states moved by rebalancing, fingerprint bits and collision bound.
    None for one process; display only, in no verdict."""

    @property
    def cut_short(self) -> bool:
        """Bounds refused transitions and no path reached its end: every path from the
        initial state was cut by a bound, so the search says nothing about the protocol
        beyond its first steps (a vacuous search)."""
        return sum(self.refused.values()) > 0 and self.ends == 0

    @property
    def complete(self) -> bool:
        """Exhausted and not cut short: a "no violation" here is a verdict on the bounded
        space. Refused transitions on some paths are the documented under-approximation."""
        return self.exhausted and not self.cut_short

    @property
    def verdict(self) -> str:
        """``violation``, ``ok`` (complete, nothing found) or ``unknown`` (nothing found in
        a search that was not complete: capped, cut short, or random walks)."""
        if self.violation is not None:
            return "violation"
        return "ok" if self.complete else "unknown"

    def incomplete_reason(self) -> str:
        """Why a search without violation is not complete (empty if it is)."""
        if self.violation is not None or self.complete:
            return ""
        if self.strategy == "random":
            return "random walks cover some paths only"
        if self.stopped_at_max_states:
            return f"stopped at --max-states {self.states}"
        cut = ", ".join(f"{k}={v}" for k, v in self.refused.items() if v)
        return f"every path was cut by a bound (transitions refused: {cut})"

    @property
    def states_per_s(self) -> float:
        return self.states / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "bounds": self.bounds.to_json(),
            "strategy": self.strategy,
            "symmetry": {"enabled": self.bounds.symmetry,
                         **symmetry_for(self.bounds).to_json()},
            "verdict": self.verdict,
            "violation": None if self.violation is None else self.violation.to_json(),
            "schedule_length": len(self.schedule),
            "states": self.states,
            "transitions": self.transitions,
            "max_depth": self.max_depth,
            "complete": self.complete,
            "exhausted": self.exhausted,
            "cut_short": self.cut_short,
            "refused": dict(self.refused),
            "ends": self.ends,
            "incomplete_reason": self.incomplete_reason() or None,
            "elapsed_s": round(self.elapsed_s, 3),
            "states_per_s": round(self.states_per_s, 1),
            "peak_rss_kb": self.peak_rss_kb,
            **({} if self.parallel is None else {"parallel": self.parallel}),
        }


def explore(
    bounds: Bounds,
    *,
    strategy: str = "bfs",
    max_states: int | None = None,
    walks: int = 1000,
    seed: int = 0,
    progress: Callable[[int, int, int], None] | None = None,
    jobs: int = 1,
    executor: str | None = None,
    level_progress: LevelProgress | None = None,
) -> ExploreResult:
    """Explore the states reachable within ``bounds`` until a violation or exhaustion.

    ``max_states`` stops the search early (the result is then not ``complete``); for
    ``random``, ``walks`` walks from the initial state, each until a dead end or the depth
    bound. ``progress(states, transitions, depth)`` is called every 50,000 new states (BFS
    and DFS). Raises BoundsError for an unknown strategy, ``max_states < 1`` or
    ``walks < 1``.

    ``jobs > 1`` (worker processes) or ``executor="dask://HOST:PORT"`` (Dask workers) run
    breadth-first search in parallel (`harness.explore.levels`): the same states,
    transitions, depth, verdict and trace as one process; ``level_progress(states,
    transitions, depth, frontier sizes)`` is then called once per level. BoundsError for
    another strategy, ``jobs`` outside 1..64 or an unreachable scheduler.
    """
    if strategy not in STRATEGIES:
        raise BoundsError(f"unknown strategy {strategy!r}; choose from {', '.join(STRATEGIES)}")
    if max_states is not None and max_states < 1:
        raise BoundsError(f"max-states must be >= 1, got max_states={max_states}")
    if strategy == "random" and walks < 1:
        raise BoundsError(f"walks must be >= 1, got walks={walks}")
    if jobs != 1 or executor is not None:
        return _explore_parallel(bounds, strategy, max_states, jobs, executor, level_progress)
    started = time.perf_counter()
    tally = _Tally()
    if strategy == "random":
        out = _random_walks(bounds, walks, seed, max_states, tally)
    else:
        try:
            out = _graph_search(bounds, strategy, max_states, progress, tally)
        finally:
            gc.unfreeze()
    violation, schedule, states, transitions, depth, exhausted = out
    return ExploreResult(
        bounds=bounds,
        strategy=strategy,
        violation=violation,
        schedule=schedule,
        states=states,
        transitions=transitions,
        max_depth=depth,
        complete=exhausted,
        elapsed_s=time.perf_counter() - started,
        peak_rss_kb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        refused=tally.refused,
        ends=tally.ends,
        stopped_at_max_states=tally.stopped,
    )


def _explore_parallel(
    bounds: Bounds,
    strategy: str,
    max_states: int | None,
    jobs: int,
    executor: str | None,
    progress: LevelProgress | None,
) -> ExploreResult:
    from harness.explore.drivers import DaskDriver, ProcessDriver, parse_executor

    if strategy != "bfs":
        raise BoundsError(f"a parallel search is breadth-first only, got strategy={strategy}")
    started = time.perf_counter()
    driver: Driver = (ProcessDriver(bounds, jobs) if executor is None
                      else DaskDriver(bounds, parse_executor(executor)))
    try:
        search = LevelSearch(bounds, driver, max_states, progress)
        violation, schedule, states, transitions, depth, exhausted = search.run()
        stats = driver.call("stats", [()] * driver.parts)
    finally:
        driver.close()
    held = sum(s["visited_bytes"] + s["records_bytes"] for s in stats)
    parallel = {
        "partitions": driver.parts,
        "executor": "processes" if executor is None else executor,
        "workers": stats,
        "rebalanced_states": search.rebalanced,
        "critical_path_cpu_s": round(critical_path(
            [s.pop("level_cpu_s") for s in stats]), 3),
        "fingerprint_bits": 128,
        "collision_probability": collision_probability(states),
        "table_bytes_per_state": round(held / states, 1),
        "worker_rss_bytes_per_state": round(
            sum(s["peak_rss_kb"] for s in stats) * 1024 / states, 1),
    }
    return ExploreResult(
        bounds=bounds, strategy=strategy, violation=violation, schedule=schedule,
        states=states, transitions=transitions, max_depth=depth, complete=exhausted,
        elapsed_s=time.perf_counter() - started,
        peak_rss_kb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        refused=search.refused, ends=search.ends, stopped_at_max_states=search.stopped,
        parallel=parallel,
    )


class _Tally:
    """What the bounds refused, how many paths ended on their own, whether max_states hit."""

    def __init__(self) -> None:
        self.refused = dict.fromkeys(BOUNDS_THAT_REFUSE, 0)
        self.ends = 0
        self.stopped = False


_Out = tuple[Violation | None, tuple[tuple[Action, int], ...], int, int, int, bool]


def _graph_search(
    bounds: Bounds,
    strategy: str,
    max_states: int | None,
    progress: Callable[[int, int, int], None] | None,
    tally: _Tally,
) -> _Out:
    init = World.initial(bounds)
    root = init.digest()
    parents: dict[bytes, tuple[bytes, Action, int] | None] = {root: None}
    frontier: deque[tuple[World, bytes, int]] = deque([(init, root, 0)])
    pop = frontier.popleft if strategy == "bfs" else frontier.pop
    transitions = 0
    max_depth = 0
    limit = bounds.depth
    refused = tally.refused
    while frontier:
        world, digest, depth = pop()
        max_depth = max(max_depth, depth)
        actions = world.actions()
        if limit is not None and depth >= limit:
            if actions:
                refused["depth"] += len(actions)
            else:
                tally.ends += 1
            continue
        moved = False  # some action led to a state (new or seen), or a bound refused one
        for action in actions:
            transitions += 1
            try:
                nxt = world.successor(action, depth + 1)
            except Found as found:
                path = _path(parents, digest)
                path.append((action, _action_time(world, action)))
                return found.violation, tuple(path), len(parents), transitions, depth + 1, False
            if isinstance(nxt, str):
                if nxt != "dominated":
                    refused[nxt] += 1
                    moved = True
                continue
            moved = True
            d = nxt.digest()
            if d in parents:
                continue
            parents[d] = (digest, action, nxt.now_us)
            frontier.append((nxt, d, depth + 1))
            if len(parents) % FREEZE_EVERY == 0:
                gc.freeze()
                if progress is not None and len(parents) % PROGRESS_EVERY == 0:
                    progress(len(parents), transitions, depth + 1)
            if max_states is not None and len(parents) >= max_states:
                tally.stopped = True
                return None, (), len(parents), transitions, max_depth, False
        if not moved:
            tally.ends += 1
    return None, (), len(parents), transitions, max_depth, True


def _action_time(world: World, action: Action) -> int:
    if action[0] == "tick":
        return max(world.now_us, world.timers[action[1]])
    return world.now_us


def _path(
    parents: dict[bytes, tuple[bytes, Action, int] | None], digest: bytes
) -> list[tuple[Action, int]]:
    path: list[tuple[Action, int]] = []
    link = parents[digest]
    while link is not None:
        parent, action, at = link
        path.append((action, at))
        link = parents[parent]
    path.reverse()
    return path


def _random_walks(
    bounds: Bounds, walks: int, seed: int, max_states: int | None, tally: _Tally
) -> _Out:
    chooser = Chooser(seed)
    seen: set[bytes] = set()
    transitions = 0
    max_depth = 0
    limit = bounds.depth if bounds.depth is not None else 200
    steps = None  # one step memo for every walk
    for _ in range(walks):
        world = World.initial(bounds, steps)
        steps = world.steps
        seen.add(world.digest())
        path: list[tuple[Action, int]] = []
        for depth in range(limit):
            actions = world.actions()
            if not actions:
                tally.ends += 1
                break
            action = actions[chooser.choose("explore.action", len(actions))]
            transitions += 1
            at = _action_time(world, action)
            try:
                nxt = world.successor(action, depth + 1)
            except Found as found:
                path.append((action, at))
                return found.violation, tuple(path), len(seen), transitions, depth + 1, False
            if isinstance(nxt, str):
                if nxt != "dominated":
                    tally.refused[nxt] += 1
                break
            path.append((action, at))
            world = nxt
            seen.add(world.digest())
            max_depth = max(max_depth, depth + 1)
        else:
            tally.refused["depth"] += 1
        if max_states is not None and len(seen) >= max_states:
            tally.stopped = True
            break
    return None, (), len(seen), transitions, max_depth, False


def replay_schedule(bounds: Bounds, schedule: list[Action]) -> tuple[World, Violation | None]:
    """Re-run ``schedule`` in the explorer; return the last state and the violation, if any.

    Raises ValueError if an action is not enabled where the schedule uses it.
    """
    world = World.initial(bounds)
    for i, action in enumerate(schedule):
        if tuple(action) not in world.actions():
            raise ValueError(f"schedule action not enabled: step={i + 1} action={action!r}")
        try:
            nxt = world.after(tuple(action), i + 1)
        except Found as found:
            return world, found.violation
        if nxt is None:
            raise ValueError(f"schedule leaves the ballot bound: step={i + 1}")
        world = nxt
    return world, None
