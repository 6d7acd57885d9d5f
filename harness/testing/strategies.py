"""Hypothesis strategies for paxlab: run options, fault sets, workloads, choice lists, and
explicit schedules over the sans-I/O replicas.

Every strategy shrinks toward the nominal run: fewer faults, fewer operations, choice 0
(deliver, no fault; `harness.runtime.chooser`), shorter schedules. A few lines make a test::

    from hypothesis import given
    from harness import strategies as pst

    @given(options=pst.run_options(max_ops=30), choices=pst.choice_lists())
    def test_my_variant(paxlab_run, options, choices):
        paxlab_run(options, choices)        # fixture from harness.testing.pytest_plugin

Strategies:
    fault_sets(): a subset of `harness.sim.runspec.DEFAULT_FAULTS` (shrinks to none).
    workloads(): `harness.sim.workload.WorkloadOptions` with small timings.
    run_options(): `harness.sim.runspec.RunOptions` (seed, replicas, ops, clients, keys, faults;
        ``protocol=`` any registered protocol, its faults drawn within its assumptions).
    choice_lists(): chooser replay lists (shrink toward [] and 0s = nominal).
    schedules(bounds): explorer action lists valid from `World.initial(bounds)`.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from harness.explore.bounds import Bounds
from harness.explore.ghost import Found
from harness.explore.world import Action, World
from harness.runtime import protocols
from harness.sim.runspec import DEFAULT_FAULTS, RunOptions
from harness.sim.workload import WorkloadOptions


def fault_sets(faults: tuple[str, ...] = DEFAULT_FAULTS) -> st.SearchStrategy[tuple[str, ...]]:
    """A subset of ``faults`` in canonical order; shrinks toward the empty set."""
    return st.lists(st.sampled_from(faults), unique=True).map(
        lambda chosen: tuple(f for f in faults if f in chosen)
    )


def workloads() -> st.SearchStrategy[WorkloadOptions]:
    """Client timings (true microseconds) around the defaults; shrinks toward small pauses."""
    return st.builds(
        WorkloadOptions,
        think_max_us=st.integers(0, 200_000),
        attempt_timeout_us=st.integers(100_000, 1_000_000),
        op_timeout_us=st.integers(1_000_000, 5_000_000),
    )


def run_options(
    *,
    replicas: tuple[int, ...] = (3, 5),
    max_ops: int = 50,
    max_clients: int = 3,
    max_keys: int = 3,
    faults: tuple[str, ...] | None = None,
    variant: str | None = None,
    protocol: str = protocols.DEFAULT,
) -> st.SearchStrategy[RunOptions]:
    """`RunOptions` for small simulated runs; shrinks to seed 0, few ops, no faults.

    ``faults``: the kinds to draw subsets of (default: the protocol's default faults,
    `harness.runtime.protocols.ProtocolSpec.default_faults`; Multi-Paxos: `DEFAULT_FAULTS`).
    Raises `harness.runtime.protocols.ProtocolUnavailable` for a protocol not in this tree.
    """
    spec = protocols.get(protocol)
    if faults is None:
        faults = spec.default_faults
    return st.builds(
        RunOptions,
        protocol=st.just(spec.name),
        seed=st.integers(0, 2**32 - 1),
        replicas=st.sampled_from(replicas),
        ops=st.integers(1, max_ops),
        clients=st.integers(1, max_clients),
        keys=st.integers(1, max_keys),
        faults=fault_sets(faults),
        variant=st.just(variant),
    )


def choice_lists(*, max_size: int = 200, max_value: int = 1000) -> st.SearchStrategy[list[int]]:
    """A chooser replay list; the chooser clamps each value to its range and answers 0 past
    the end, so every list is a valid run. Shrinks toward [] (the nominal run)."""
    return st.lists(st.integers(0, max_value), max_size=max_size)


@st.composite
def _schedule(draw: Any, bounds: Bounds, max_steps: int) -> list[Action]:
    world = World.initial(bounds)
    out: list[Action] = []
    for _ in range(draw(st.integers(0, max_steps))):
        actions = world.actions()
        if not actions:
            break
        action = actions[draw(st.integers(0, len(actions) - 1))]
        try:
            nxt = world.after(action, len(out) + 1)
        except Found:
            out.append(action)  # the schedule ends with the step that breaks a property
            break
        if nxt is None:
            break
        out.append(action)
        world = nxt
    return out


def schedules(bounds: Bounds, *, max_steps: int = 30) -> st.SearchStrategy[list[Action]]:
    """An explicit schedule of explorer actions, each enabled where it is used.

    A schedule that breaks a property ends with the step that breaks it (run it with the
    ``paxlab_schedule`` fixture or `harness.explore.replay_schedule` to see the violation).
    Shrinks toward short schedules and the first enabled action (ticks before deliveries).
    """
    return _schedule(bounds, max_steps)
