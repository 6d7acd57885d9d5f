"""The explorer's checks (`harness.explore.ghost`) agree with the simulator's
`OnlineInvariants` run by the host loop (`harness.failures.explore_replay`) on random schedules."""

from __future__ import annotations

import logging

from hypothesis import given, settings

from harness.explore import Bounds, replay_schedule
from harness.explore.world import Action
from harness.failures.explore_replay import replay_actions
from harness.testing import strategies as pst

logging.getLogger("consensus").setLevel(logging.CRITICAL)

CASES = [
    Bounds(ticks=2, writes=1, reads=1, crashes=1, inflight=4),
    Bounds(variant="quorum-one", ticks=1, writes=1, reads=1, crashes=1, inflight=4),
    Bounds(variant="stale-read", ticks=1, writes=1, reads=1, crashes=0, inflight=4),
    Bounds(variant="no-persist-promise", ticks=2, writes=0, reads=0, crashes=1, inflight=4),
]


def _check(bounds: Bounds, actions: list[Action]) -> None:
    _, mine = replay_schedule(bounds, actions)
    theirs = replay_actions(bounds, actions).violation
    if mine is None:
        # The host replay also runs the full linearizability check at the end, which the
        # explorer runs at each completion: both see every completed op, so both agree.
        assert theirs is None, theirs
    else:
        assert theirs is not None and theirs.property == mine.property, (mine, theirs)


@given(pst.schedules(CASES[0], max_steps=25))
@settings(max_examples=20)
def test_agree_correct(actions: list[Action]) -> None:
    _check(CASES[0], actions)


@given(pst.schedules(CASES[1], max_steps=25))
@settings(max_examples=20)
def test_agree_quorum_one(actions: list[Action]) -> None:
    _check(CASES[1], actions)


@given(pst.schedules(CASES[2], max_steps=25))
@settings(max_examples=20)
def test_agree_stale_read(actions: list[Action]) -> None:
    _check(CASES[2], actions)


@given(pst.schedules(CASES[3], max_steps=25))
@settings(max_examples=20)
def test_agree_no_persist_promise(actions: list[Action]) -> None:
    _check(CASES[3], actions)


STEP_DOWN = Bounds(ticks=3, writes=1, reads=1, crashes=1, step_downs=1, inflight=6)


@given(pst.schedules(STEP_DOWN, max_steps=25))
@settings(max_examples=20)
def test_agree_with_step_downs(actions: list[Action]) -> None:
    _check(STEP_DOWN, actions)


def test_only_leaders_are_told_to_step_down_and_only_within_the_bound() -> None:
    from collections import deque

    from harness.explore.world import World

    def leaders(w: World) -> list[int]:
        return [n for n, r in enumerate(w.replicas) if r is not None and r.role.value == "leader"]

    first = World.initial(STEP_DOWN)
    queue, led = deque([first]), None
    while queue and led is None:  # breadth-first to the first state with a leader
        w = queue.popleft()
        downs = [a[1] for a in w.actions() if a[0] == "step-down"]
        assert downs == leaders(w)
        if downs:
            led = w
        queue.extend(x for a in w.actions() if (x := w.after(a)) is not None)
    assert led is not None
    node = leaders(led)[0]
    nxt = led.after(("step-down", node))
    assert nxt is not None and node not in leaders(nxt) and nxt.used["step-downs"] == 1
    assert not [a for a in nxt.actions() if a[0] == "step-down"]  # the bound is used
    plain = World.initial(Bounds(ticks=3, writes=1, reads=1, crashes=1, inflight=4))
    assert "step-downs" not in plain.used  # fingerprints of other bounds unchanged
    assert not [a for a in plain.actions() if a[0] == "step-down"]
