"""Quorum and lease arithmetic against naive versions."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus.quorum import (
    Membership,
    is_single_change,
    lease_length_us,
    lease_wait_us,
    majority,
    next_change,
    quorum_time,
    quorums_intersect,
)


def test_majority_small_groups() -> None:
    assert [majority(n) for n in range(1, 8)] == [1, 2, 2, 3, 3, 4, 4]
    with pytest.raises(ValueError, match="n=0"):
        majority(0)


@pytest.mark.parametrize("n", range(1, 7))
def test_any_two_majorities_intersect(n: int) -> None:
    q = majority(n)
    sets = [set(c) for c in itertools.combinations(range(n), q)]
    assert all(a & b for a in sets for b in sets)
    if n > 1:  # and q - 1 would not
        small = [set(c) for c in itertools.combinations(range(n), q - 1)]
        assert any(not (a & b) for a in small for b in small)


@given(st.lists(st.integers(0, 1000), max_size=7), st.integers(1, 7))
def test_quorum_time_matches_naive(times: list[int], quorum: int) -> None:
    got = quorum_time(times, quorum)
    if len(times) < quorum:
        assert got is None
        return
    naive = max(t for t in times if sum(1 for u in times if u >= t) >= quorum)
    assert got == naive


@given(st.integers(0, 10**9), st.integers(0, 200_000))
def test_lease_wait_covers_slow_and_fast_clocks(remaining: int, ppm: int) -> None:
    rho = Fraction(ppm, 10**6)
    wait = lease_wait_us(remaining, ppm)
    # true time the remaining lease may last <= true time the wait surely lasts
    assert Fraction(remaining) / (1 - rho) <= Fraction(wait) / (1 + rho)
    assert wait - 1 < Fraction(remaining) * (1 + rho) / (1 - rho) or remaining == 0


@given(st.integers(1, 10**9), st.integers(0, 200_000))
def test_lease_length_never_outlives_grant(lease: int, ppm: int) -> None:
    rho = Fraction(ppm, 10**6)
    kept = lease_length_us(lease, ppm)
    # leader's kept time on a fast clock lasts at most kept/(1-rho) true time; grant lasts at
    # least lease/(1+rho) true time on a fast acceptor clock
    assert Fraction(kept) / (1 - rho) <= Fraction(lease) / (1 + rho) * (1 + rho) / (1 - rho)
    assert kept <= lease
    assert kept > lease * (1 - rho) / (1 + rho) - 1


# ---------------------------------------------------------------------- membership
def _memberships(max_id: int = 6) -> st.SearchStrategy[Membership]:
    """Random valid configurations over ids 1..max_id."""

    @st.composite
    def build(draw: st.DrawFn) -> Membership:
        kinds = draw(st.lists(st.sampled_from("sl-"), min_size=max_id, max_size=max_id))
        storage = tuple(i + 1 for i, k in enumerate(kinds) if k == "s")
        logs = tuple(i + 1 for i, k in enumerate(kinds) if k == "l")
        if not storage:
            storage, logs = (1,), tuple(i for i in logs if i != 1)
        if len(logs) > len(storage):
            logs = logs[: len(storage)]
        return Membership(storage, logs)

    return build()


def _quorums(m: Membership) -> list[set[int]]:
    v = m.voters
    return [set(c) for k in range(len(v) + 1) for c in itertools.combinations(v, k)
            if len(c) * 2 > len(v)]


def test_membership_validates() -> None:
    assert Membership((1, 2, 3), (4,)).voters == (1, 2, 3, 4)
    assert Membership((1, 2, 3), (4,)).quorum == 3
    with pytest.raises(ValueError, match="at least one storage"):
        Membership((), ())
    with pytest.raises(ValueError, match="more log replicas than storage"):
        Membership((1,), (2, 3))
    with pytest.raises(ValueError, match="either storage or log"):
        Membership((1, 2), (2,))
    with pytest.raises(ValueError, match="sorted"):
        Membership((2, 1))


@given(_memberships(), st.sets(st.integers(1, 6)))
def test_is_quorum_matches_naive(m: Membership, ids: set[int]) -> None:
    assert m.is_quorum(ids) == any(q <= ids for q in _quorums(m))


@given(_memberships(), _memberships())
def test_quorums_intersect_matches_naive(a: Membership, b: Membership) -> None:
    naive = all(qa & qb for qa in _quorums(a) for qb in _quorums(b))
    assert quorums_intersect(a, b) == naive


@given(_memberships(), _memberships())
def test_single_changes_keep_quorums_intersecting(a: Membership, b: Membership) -> None:
    if is_single_change(a, b):
        assert quorums_intersect(a, b) and quorums_intersect(b, a)
        assert len(set(a.voters) ^ set(b.voters)) == 1


@given(_memberships(), _memberships())
def test_next_change_walks_one_voter_at_a_time_adding_first(
    a: Membership, b: Membership
) -> None:
    if set(a.storage) & set(b.logs) or set(a.logs) & set(b.storage):
        with pytest.raises(ValueError, match="change kind"):
            next_change(a, b)
        return
    path = [a]
    while (nxt := next_change(path[-1], b)) is not None:
        path.append(nxt)
        assert len(path) <= 13
    assert path[-1] == b
    assert len(path) - 1 == len(set(a.voters) ^ set(b.voters))  # each voter moved once
    if set(b.storage) - set(a.storage) or (
        set(b.logs) - set(a.logs) and len(a.logs) < len(a.storage)
    ):
        assert len(path[1].voters) > len(a.voters)  # an addition comes first when valid
    for x, y in itertools.pairwise(path):
        assert is_single_change(x, y) and quorums_intersect(x, y)


def test_one_step_swap_of_a_dead_replica_breaks_intersection() -> None:
    old, new = Membership((1, 2, 3)), Membership((1, 2), (4,))
    assert next_change(old, new, one_step=True) == new
    assert not quorums_intersect(old, new)  # {2, 3} and {1, 4} are both quorums
    assert next_change(old, new) == Membership((1, 2, 3), (4,))
