"""The strategies produce valid values and shrink toward the nominal run."""

from __future__ import annotations

import logging

from hypothesis import find, given, settings
from hypothesis import strategies as st

from harness.explore import Bounds, explore, replay_schedule
from harness.sim.runspec import DEFAULT_FAULTS, RunOptions
from harness.testing import strategies as pst

logging.getLogger("consensus").setLevel(logging.CRITICAL)

SMALL = Bounds(ticks=1, writes=1, reads=1, crashes=1, inflight=3)
NPP = Bounds(variant="no-persist-promise", ticks=1, writes=0, reads=0, crashes=1, inflight=3)


@given(pst.run_options(max_ops=20))
@settings(max_examples=20)
def test_run_options_valid(options: RunOptions) -> None:
    assert 1 <= options.ops <= 20
    assert options.replicas in (3, 5)
    assert set(options.faults) <= set(DEFAULT_FAULTS)
    assert RunOptions.from_json(options.to_json()) == options


def test_fault_sets_shrink_to_none() -> None:
    assert find(pst.fault_sets(), lambda fs: True) == ()
    assert find(pst.fault_sets(), lambda fs: "crash" in fs) == ("crash",)


def test_choice_lists_shrink_to_nominal() -> None:
    assert find(pst.choice_lists(), lambda xs: True) == []
    assert find(pst.choice_lists(), lambda xs: sum(xs) >= 3) in ([3], [1, 2], [2, 1])


@given(pst.schedules(SMALL, max_steps=15))
@settings(max_examples=15)
def test_schedules_replay_clean_on_correct_protocol(actions: list[tuple[object, ...]]) -> None:
    _, violation = replay_schedule(SMALL, actions)
    assert violation is None


def test_schedules_shrink_to_minimal_failing_one() -> None:
    def fails(actions: list[tuple[object, ...]]) -> bool:
        return replay_schedule(NPP, actions)[1] is not None

    minimal = find(pst.schedules(NPP, max_steps=12), fails, settings=settings(max_examples=2000))
    _, violation = replay_schedule(NPP, minimal)
    assert violation is not None and violation.property == "S3"
    # BFS gives the shortest (tick, probe, reply, prepare, crash); shrinking gets close.
    shortest = explore(NPP).schedule
    assert len(shortest) == 5 and shortest[-1][0][0] == "crash"
    assert len(shortest) <= len(minimal) <= len(shortest) + 3
    assert minimal[-1][0] == "crash"


@given(st.data())
@settings(max_examples=5)
def test_workloads_valid(data: st.DataObject) -> None:
    w = data.draw(pst.workloads())
    assert w.attempt_timeout_us <= 1_000_000 < w.op_timeout_us + 1
