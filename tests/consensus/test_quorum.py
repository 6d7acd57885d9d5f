"""Quorum and lease arithmetic against naive versions."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus.quorum import lease_length_us, lease_wait_us, majority, quorum_time


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
