"""Quorum and lease arithmetic as small pure functions (checked against naive versions in tests).

All times are local microseconds (ints). rho is given in parts per million (``ppm``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import attrs

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


# ---------------------------------------------------------------------- membership
def _sorted_ids(value: Iterable[int]) -> tuple[int, ...]:
    return tuple(value)


@attrs.frozen
class Membership:
    """A configuration: the voting storage replicas and the voting log replicas.

    Every voter (storage or log) counts the same in phase 1 and phase 2: a quorum is a
    majority of ``voters``. Only storage replicas may lead or serve reads. Validated when built
    (ValueError): ids sorted, distinct, >= 0, the two sets disjoint, at least one storage
    replica, and no more log replicas than storage replicas (else the log replicas could form a
    quorum of their own with the dead and nobody could ever serve from what they hold).
    """

    storage: tuple[int, ...] = attrs.field(converter=_sorted_ids)
    logs: tuple[int, ...] = attrs.field(default=(), converter=_sorted_ids)

    def __attrs_post_init__(self) -> None:
        for name, ids in (("storage", self.storage), ("logs", self.logs)):
            if list(ids) != sorted(set(ids)) or any(i < 0 for i in ids):
                raise ValueError(f"{name} ids must be sorted, distinct and >= 0, got {name}={ids}")
        if not self.storage:
            raise ValueError("a configuration needs at least one storage replica, got storage=()")
        if set(self.storage) & set(self.logs):
            raise ValueError(
                f"a node is either storage or log replica, got storage={self.storage} "
                f"logs={self.logs}"
            )
        if len(self.logs) > len(self.storage):
            raise ValueError(
                f"more log replicas than storage replicas: storage={self.storage} logs={self.logs}"
            )

    @property
    def voters(self) -> tuple[int, ...]:
        """Every voting member, sorted."""
        return tuple(sorted(self.storage + self.logs))

    @property
    def quorum(self) -> int:
        """Size of a phase-1 and phase-2 quorum: a majority of the voters."""
        return majority(len(self.storage) + len(self.logs))

    def is_quorum(self, ids: Iterable[int]) -> bool:
        """True iff ``ids`` include a majority of this configuration's voters."""
        voters = set(self.voters)
        return len(voters.intersection(ids)) >= self.quorum

    def mask(self, bit: Mapping[int, int]) -> int:
        """Bitmask of the voters given each node's bit (nodes missing from ``bit`` ignored)."""
        m = 0
        for v in self.voters:
            m |= bit.get(v, 0)
        return m


def quorums_intersect(a: Membership, b: Membership) -> bool:
    """True iff every quorum of ``a`` shares a voter with every quorum of ``b`` (S12).

    Disjoint quorums exist iff both can be filled while splitting the shared voters:
    a quorum of ``a`` needs at least ``qa - |a only|`` shared voters, one of ``b`` at least
    ``qb - |b only|``; they fit side by side iff those needs sum to at most ``|shared|``.
    """
    va, vb = set(a.voters), set(b.voters)
    shared = len(va & vb)
    need_a = max(0, a.quorum - (len(va) - shared))
    need_b = max(0, b.quorum - (len(vb) - shared))
    return need_a + need_b > shared


def is_single_change(a: Membership, b: Membership) -> bool:
    """True iff ``b`` adds or removes exactly one voter of ``a`` (and changes nothing else)."""
    va, vb = set(a.voters), set(b.voters)
    if len(va ^ vb) != 1:
        return False
    return set(a.storage) & vb == set(b.storage) & va and set(a.logs) & vb == set(b.logs) & va


def next_change(current: Membership, target: Membership, *, one_step: bool = False
                ) -> Membership | None:
    """Return the next configuration on the way from ``current`` to ``target`` (None: there).

    Safe path (``one_step`` False): one voter at a time, every addition before any removal
    (storage additions, log additions, storage removals, log removals: the first of these
    that gives a valid configuration, so a log replica keeps the quorum up until storage
    replicas are back), so consecutive configurations have intersecting quorums.
    ``one_step`` (the unsafe "one-step-swap" variant) jumps straight to ``target``.
    Raises ValueError if a node would change kind (storage <-> log): remove it, then add it.
    """
    if current == target:
        return None
    both = set(current.storage) & set(target.logs) | set(current.logs) & set(target.storage)
    if both:
        raise ValueError(f"a node cannot change kind in place, got nodes={sorted(both)}")
    if one_step:
        return target
    cs, cl = current.storage, current.logs
    steps = [((*cs, i), cl) for i in target.storage if i not in cs]
    steps += [(cs, (*cl, i)) for i in target.logs if i not in cl]
    steps += [(tuple(s for s in cs if s != i), cl) for i in cs if i not in target.storage]
    steps += [(cs, tuple(s for s in cl if s != i)) for i in cl if i not in target.logs]
    for storage, logs in steps:
        if storage and len(logs) <= len(storage):
            return Membership(tuple(sorted(storage)), tuple(sorted(logs)))
    raise AssertionError(f"no valid step from current={current} to target={target}")
