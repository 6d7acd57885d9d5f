"""Quorum and lease arithmetic as small pure functions (checked against naive versions in tests).

All times are local microseconds (ints). rho is given in parts per million (``ppm``).
"""

from __future__ import annotations

from collections.abc import Sequence

_PPM = 1_000_000


def majority(n: int) -> int:
    """Return the smallest number of members of an ``n``-member group that is a majority."""
    if n < 1:
        raise ValueError(f"a group needs at least one member, got n={n}")
    return n // 2 + 1


def popcount(mask: int) -> int:
    """Return the number of voters in a bitmask of member indexes."""
    return mask.bit_count()


def quorum_time(times: Sequence[int], quorum: int) -> int | None:
    """Return the latest time t such that at least ``quorum`` of ``times`` are >= t.

    None if fewer than ``quorum`` times are given. Used for lease stamps: a lease round stamped
    t is acknowledged by a quorum once ``quorum`` members echoed a stamp >= t.
    """
    if quorum < 1:
        raise ValueError(f"quorum must be >= 1, got quorum={quorum}")
    if len(times) < quorum:
        return None
    return sorted(times, reverse=True)[quorum - 1]


def lease_wait_us(remaining_us: int, drift_ppm: int) -> int:
    """Return how long (own local time) a new leader waits out a lease reported as remaining.

    A remaining R read on a clock that may run slow by rho lasts at most R/(1-rho) true time;
    waiting W on a clock that may run fast lasts at least W/(1+rho). So W = R(1+rho)/(1-rho),
    rounded up. 0 remaining means no wait.
    """
    if remaining_us <= 0:
        return 0
    num = remaining_us * (_PPM + drift_ppm)
    den = _PPM - drift_ppm
    return -(-num // den)


def lease_length_us(lease_us: int, drift_ppm: int) -> int:
    """Return how long (own local time) a leader may use a lease granted for ``lease_us``.

    The acceptor grants L on its own clock from when it received the round, which is after the
    leader stamped it; the leader keeps L(1-rho)/(1+rho) from its stamp, rounded down.
    """
    return lease_us * (_PPM - drift_ppm) // (_PPM + drift_ppm)
