"""S6 on intervals of true time (`harness.checks.lease_overlap`): histories that must pass,
histories that must fail, and one the step-time sampling check misses."""

from __future__ import annotations

from harness.checks.invariants import OnlineInvariants
from harness.checks.lease_overlap import LeaseOverlap, first_true_at, serving_interval

EXACT = (0, 0, 1_000_000)  # a perfect clock: local == true


def test_mapping_local_windows_to_true_time_is_exact() -> None:
    fast = (1_000, 5_000, 1_010_000)  # 1% fast, reading 5000 at true 1000
    assert first_true_at(fast, 5_000) == 1_000
    assert first_true_at(fast, 5_101) == 1_100  # 100 true us read as 101 local
    assert first_true_at(fast, 5_102) == 1_101
    i = serving_interval(3, fast, (5_101, 6_111), 1_000, 10_000)
    assert i is not None and (i.start_us, i.end_us) == (1_100, 2_100)
    assert serving_interval(3, fast, (5_101, 6_111), 3_000, 10_000) is None  # window over


def test_handover_without_overlap_passes() -> None:
    c = LeaseOverlap()
    assert c.update(0, 0, EXACT, (0, 100)) is None
    assert c.update(1, 50, EXACT, (100, 300)) is None  # waits out node 0's lease
    assert c.update(0, 150, EXACT, None) is None
    assert c.update(1, 400, EXACT, None) is None
    assert c.finish(500) is None
    assert c.intervals == 2


def test_overlap_between_steps_fails_where_sampling_at_steps_passes() -> None:
    # node 0 serves [0, 100); node 1 starts serving at 50. Steps at 0, 45 (node 1 not yet
    # serving), 120 (node 0 no longer serving): no step sees two serving replicas.
    class Leader:
        def __init__(self, start: int, end: int) -> None:
            self.window = (start, end)

        def is_serving(self, now_us: int) -> bool:
            return self.window[0] <= now_us < self.window[1]

    a, b = Leader(0, 100), Leader(50, 150)
    sampled = OnlineInvariants((0, 1))
    for t in (0, 45, 120):
        assert sampled.check_global({0: a, 1: b}, {0: t, 1: t}, t, step=t) is None
    c = LeaseOverlap()
    assert c.update(0, 0, EXACT, a.window) is None
    assert c.update(1, 45, EXACT, b.window) is None
    assert c.update(1, 120, EXACT, b.window) is None  # node 1 closes [50, 120)
    v = c.update(0, 200, EXACT, None)  # node 0 closes [0, 100): the overlap [50, 100)
    assert v is not None and v.property == "S6" and v.time_us == 50
    assert "[50, 100)" in v.message


def test_drifting_clocks_are_mapped_before_comparing() -> None:
    # node 0's lease ends at local 1_000_000 on a clock 1% slow: true 1_010_102. Node 1 on a
    # perfect clock starts serving at true 1_010_000: they overlap for 102 true us.
    slow = (0, 0, 990_000)
    c = LeaseOverlap()
    assert c.update(0, 0, slow, (0, 1_000_000)) is None
    assert c.update(1, 0, EXACT, (1_010_000, 2_000_000)) is None
    assert c.down(0, 3_000_000) is None  # node 0's interval is kept until node 1 closes
    v = c.finish(3_000_000)
    assert v is not None and v.time_us == 1_010_000
    assert "[1010000, 1010102)" in v.message
    # started at 1_010_102 instead: no overlap
    c = LeaseOverlap()
    c.update(0, 0, slow, (0, 1_000_000))
    c.update(1, 0, EXACT, (1_010_102, 2_000_000))
    assert c.finish(3_000_000) is None


def test_a_clock_change_splits_the_interval_at_the_change() -> None:
    c = LeaseOverlap()
    assert c.update(0, 0, EXACT, (0, 1_000)) is None
    # at true 500 the clock slows to half speed: local 1000 is reached at true 1500
    assert c.clock_changed(0, 500, (500, 500, 500_000)) is None
    assert c.update(1, 600, EXACT, (1_400, 3_000)) is None
    v = c.finish(4_000)
    assert v is not None and v.time_us == 1_400 and "[1400, 1500)" in v.message
    assert c.clock_changed(2, 10, EXACT) is None  # a node with nothing open: nothing happens


def test_a_crash_ends_the_serving_interval() -> None:
    c = LeaseOverlap()
    c.update(0, 0, EXACT, (0, 1_000))
    assert c.down(0, 200) is None  # crashed at 200: it serves nothing after
    c.update(1, 300, EXACT, (300, 900))
    assert c.finish(1_000) is None
    assert not c.is_open(0)
