"""The explorer's step memo (`harness.explore.steps`): a memoised step is the step a fresh
copy would take, shared replicas are never changed, and a search gives the same counts with
the memo as without it."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from harness.explore import Bounds, explore
from harness.explore import world as world_module
from harness.explore.clone import copy_replica
from harness.explore.steps import Local, LocalSteps

CASES = [
    Bounds(),
    Bounds(variant="no-persist-promise"),
    Bounds(spares=1, kills=1, crashes=0, reads=0),
    Bounds(replicas=3, candidates=1),  # a non-trivial symmetry group
]


@pytest.fixture(autouse=True)
def _quiet() -> None:
    logging.getLogger("consensus").setLevel(logging.CRITICAL)


class _Checked(LocalSteps):
    """Recomputes every hit from a fresh copy and records disagreements."""

    __slots__ = ("bad", "checked")

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.bad: list[str] = []
        self.checked = 0

    def step(self, node, old, old_fp, event_key, make_event, now_us):  # type: ignore[no-untyped-def]
        local = super().step(node, old, old_fp, event_key, make_event, now_us)
        fresh = copy_replica(old)
        effects = fresh.step(make_event(), now_us)
        self.checked += 1
        if fresh.state_fingerprint() != local.fp or repr(effects) != repr(local.effects):
            self.bad.append(f"node={node} event={event_key!r} now_us={now_us}")
        return local


class _NoMemo(LocalSteps):
    """Steps every time (the explorer as it was before the memo)."""

    __slots__ = ()

    def step(self, *args: Any) -> Local:
        self._steps.clear()
        return super().step(*args)


@pytest.mark.parametrize("bounds", CASES, ids=lambda b: repr(b)[7:60])
def test_memoised_steps_equal_fresh_steps(
    bounds: Bounds, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[_Checked] = []

    def build(*args: Any) -> _Checked:
        made.append(_Checked(*args))
        return made[-1]

    monkeypatch.setattr(world_module, "LocalSteps", build)
    explore(bounds, max_states=3_000)
    memo = made[0]
    assert memo.hits > memo.misses > 0  # the memo is in use, and mostly hits
    assert memo.checked == memo.hits + memo.misses
    assert memo.bad == []
    # shared successors were never changed by the states that share them
    for local in memo._steps.values():
        assert local.replica.state_fingerprint() == local.fp


@pytest.mark.parametrize("bounds", CASES[:3], ids=lambda b: repr(b)[7:60])
def test_search_counts_do_not_depend_on_the_memo(
    bounds: Bounds, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_memo = explore(bounds, max_states=4_000)
    monkeypatch.setattr(world_module, "LocalSteps", _NoMemo)
    without = explore(bounds, max_states=4_000)
    assert (with_memo.states, with_memo.transitions, with_memo.max_depth) == (
        without.states, without.transitions, without.max_depth
    )
    assert with_memo.violation == without.violation
    assert with_memo.schedule == without.schedule
