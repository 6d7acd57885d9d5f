"""Every broken variant is caught by the explorer, and its trace replays in the host loop
(`harness.failures.explore_replay`, checked by the simulator's own `OnlineInvariants`) with the same
violated property. The correct protocol at the same bounds finds nothing."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from harness.explore import Bounds, explore, replay_schedule
from harness.failures.explore_replay import replay_actions

# Small bounds per variant, enough to show the bug in a few seconds (the defaults take
# longer; see the slow test below).
SMALL: dict[str, tuple[dict[str, Any], set[str]]] = {
    "no-lease-wait": (dict(ticks=3, writes=0, reads=0, crashes=0), {"S6"}),
    "quorum-one": (dict(ticks=1, writes=1, reads=0, crashes=1), {"S1", "S4", "S10"}),
    "no-persist-promise": (dict(ticks=1, writes=0, reads=0, crashes=1), {"S3", "S1"}),
    "stale-read": (dict(ticks=1, writes=1, reads=1, crashes=0), {"S8", "S9"}),
    "one-step-swap": (dict(ticks=2, writes=1, reads=0, crashes=0), {"S12"}),
}


@pytest.fixture(autouse=True)
def _quiet() -> None:
    logging.getLogger("consensus").setLevel(logging.CRITICAL)


@pytest.mark.parametrize("variant", sorted(SMALL))
def test_variant_found_and_replayed(variant: str) -> None:
    kw, expected = SMALL[variant]
    bounds = Bounds(variant=variant, inflight=3, **kw)
    result = explore(bounds)
    assert result.violation is not None
    assert result.violation.property in expected
    actions = [a for a, _ in result.schedule]
    # The explorer itself repeats it ...
    _, again = replay_schedule(bounds, actions)
    assert again is not None and again.property == result.violation.property
    # ... and so does the simulator's host loop with the simulator's invariants.
    outcome = replay_actions(bounds, actions)
    assert outcome.violation is not None
    assert outcome.violation.property == result.violation.property
    # BFS: no prefix of the schedule already violates (the trace is a shortest one).
    _, shorter = replay_schedule(bounds, actions[:-1])
    assert shorter is None


def test_correct_protocol_small_bounds_pass() -> None:
    bounds = Bounds(ticks=2, writes=0, reads=0, crashes=0, inflight=3)
    result = explore(bounds)
    assert result.violation is None
    assert result.complete
    assert result.states > 1000  # it did explore elections, not a trivial space


def test_correct_protocol_with_clients_and_crash_pass() -> None:
    bounds = Bounds(ticks=1, writes=1, reads=1, crashes=1, inflight=3)
    result = explore(bounds, max_states=3000)
    assert result.violation is None
    assert result.states == 3000


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(SMALL))
def test_variant_default_bounds(variant: str) -> None:
    result = explore(Bounds(variant=variant))
    assert result.violation is not None
    assert result.violation.property in SMALL[variant][1]
    outcome = replay_actions(result.bounds, [a for a, _ in result.schedule])
    assert outcome.violation is not None
    assert outcome.violation.property == result.violation.property


@pytest.mark.slow
def test_default_configuration_exhaustive_passes() -> None:
    result = explore(Bounds())
    assert result.violation is None
    assert result.complete
