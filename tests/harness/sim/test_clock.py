"""harness.sim.clock: exact conversions, monotone readings, the rho bound for safe clocks."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.sim.clock import PPM, ClockOptions, NodeClock, signed_choice


def test_reading_follows_offset_and_drift() -> None:
    clock = NodeClock(offset_us=500, drift_ppm=10_000, bound_ppm=10_000)
    assert clock.local_at(0) == 500
    assert clock.local_at(1_000_000) == 500 + 1_010_000
    slow = NodeClock(offset_us=0, drift_ppm=-10_000, bound_ppm=10_000)
    assert slow.local_at(1_000_000) == 990_000


@given(
    offset=st.integers(0, 10**7),
    drift=st.integers(-10_000, 10_000),
    t=st.integers(0, 10**10),
    x=st.integers(0, 10**10),
)
def test_conversions_are_exact_inverses(offset: int, drift: int, t: int, x: int) -> None:
    clock = NodeClock(offset_us=offset, drift_ppm=drift, bound_ppm=10_000)
    assert clock.true_at(clock.local_at(t), 0) <= t
    due = clock.true_at(x, 0)
    assert clock.local_at(due) >= x
    if due > 0 and x > offset:
        assert clock.local_at(due - 1) < x


@given(
    drifts=st.lists(st.tuples(st.integers(1, 10**6), st.integers(-10_000, 10_000)), max_size=8)
)
def test_safe_clock_rate_stays_within_rho(drifts: list[tuple[int, int]]) -> None:
    clock = NodeClock(offset_us=0, drift_ppm=0, bound_ppm=10_000)
    t = 0
    readings = [(0, clock.local_at(0))]
    for gap, drift in drifts:
        t += gap
        clock.set_drift(drift, t)
        readings.append((t, clock.local_at(t)))
    t += 1000
    readings.append((t, clock.local_at(t)))
    for (t1, l1), (t2, l2) in itertools.pairwise(readings):
        # monotone, and the elapsed local time within (1 +- rho) of true (one us rounding)
        assert l2 >= l1
        assert abs((l2 - l1) - (t2 - t1)) <= (t2 - t1) * 10_000 // PPM + 1


def test_safe_clock_refuses_steps_and_excess_drift() -> None:
    clock = NodeClock(offset_us=0, drift_ppm=0, bound_ppm=10_000)
    with pytest.raises(ValueError, match="unsafe"):
        clock.step(10, 0)
    with pytest.raises(ValueError, match="rho"):
        clock.set_drift(10_001, 0)
    with pytest.raises(ValueError, match="rho"):
        NodeClock(offset_us=0, drift_ppm=-20_000, bound_ppm=10_000)


def test_unsafe_clock_steps_forward_only() -> None:
    clock = NodeClock(offset_us=0, drift_ppm=0, bound_ppm=10_000, unsafe=True)
    clock.set_drift(200_000, 0)
    clock.step(5_000, 1_000)
    assert clock.local_at(1_000) == 1_200 + 5_000
    with pytest.raises(ValueError, match="forward"):
        clock.step(-1, 2_000)


def test_true_at_never_before_now() -> None:
    clock = NodeClock(offset_us=100, drift_ppm=0, bound_ppm=0)
    assert clock.true_at(50, 1_000) == 1_000
    assert clock.true_at(2_100, 1_000) == 2_000


def test_options_validate() -> None:
    with pytest.raises(ValueError, match="max_offset_us"):
        ClockOptions(max_offset_us=-5)


def test_signed_choice_zero_is_nominal_and_covers_the_range() -> None:
    assert signed_choice(0) == 0
    assert sorted(signed_choice(c) for c in range(2 * 3 + 1)) == [-3, -2, -1, 0, 1, 2, 3]
