"""Roles, the legal role transitions (as data), and each role's volatile state.

All role-dependent fields live in one record per role, so `_become_<role>` replaces them at
once and nothing of an old role's state can leak into the next one.
"""

from __future__ import annotations

import enum

import attrs

from consensus.ballot import Ballot
from consensus.events import ClientRead, ClientWrite
from consensus.messages import Promise
from consensus.quorum import Membership


class Role(enum.Enum):
    """What a replica currently does (values as the contract spells them)."""

    FOLLOWER = "follower"
    CANDIDATE = "candidate"
    LEADER = "leader"


TRANSITIONS: frozenset[tuple[Role, Role]] = frozenset(
    {
        (Role.FOLLOWER, Role.FOLLOWER),  # restart the election timer, e.g. after recovery
        (Role.FOLLOWER, Role.CANDIDATE),  # gray-failure check: a majority hears no leader
        (Role.CANDIDATE, Role.CANDIDATE),  # phase 1 timed out: retry with a higher round
        (Role.CANDIDATE, Role.LEADER),  # a quorum promised
        (Role.CANDIDATE, Role.FOLLOWER),  # saw a higher ballot
        (Role.LEADER, Role.FOLLOWER),  # saw a higher ballot, lost its quorum, or told to
    }
)
"""Every legal (from, to) pair; anything else (a follower becoming leader without phase 1, a
leader campaigning) is a bug and raises RuntimeError."""


def check_transition(old: Role, new: Role) -> None:
    """Raise RuntimeError unless a replica may go from role ``old`` to ``new``."""
    if (old, new) not in TRANSITIONS:
        raise RuntimeError(f"illegal role transition: from={old.value} to={new.value}")


@attrs.define
class FollowerState:
    """Election timing and the gray-failure probe of a follower.

    ``timeout_us``: the randomized election timeout drawn for this round of waiting.
    ``deadline_us``: when (local) to run the gray-failure check next. ``probe_id``: the
    current probe (0: none sent yet). ``not_hearing``: bitmask of members (self included) that
    answered the current probe saying they hear no leader.
    """

    timeout_us: int
    deadline_us: int
    probe_id: int = 0
    not_hearing: int = 0


@attrs.define
class CandidateState:
    """Phase 1 in progress under ``ballot``; ``promises`` by node (self included).

    ``asked``: bitmask of the nodes sent a Prepare (more are asked when promises reveal a
    configuration with new voters).
    """

    ballot: Ballot
    deadline_us: int
    from_slot: int
    promises: dict[int, Promise] = attrs.Factory(dict)
    asked: int = 0


@attrs.define
class LeaderState:
    """Phase 2 under ``ballot``.

    ``next_slot``: the next free slot. ``votes``: for each proposed, not yet chosen slot, the
    bitmask of members that durably accepted it under ``ballot``. ``stamps``: per peer, the
    highest lease stamp it echoed; ``own_stamp_us``: the last round this leader sent.
    ``recovery_slot``: end of the suffix recovered in phase 1. ``quorum_since_us``: when the
    leader was elected or last changed configuration; with no quorum stamp yet, it steps down
    an election timeout after it. ``lease_wait_until_us``: when
    leases granted to predecessors have surely run out. ``pending``: slot -> (client, request)
    of writes to answer once applied and serving. ``queue``: writes waiting for window room.
    ``reads``: (commit index at arrival, read) of strong reads waiting to be served.
    ``first_own_slot``: the first slot proposed under ``ballot`` (0: none yet); a
    configuration change waits until it is committed. ``target``: the configuration the
    leader is moving the group to, one change at a time (None: none). ``applied``: per peer,
    the applied slot it last reported. ``heard_us``: per peer, when its last reply came.
    """

    ballot: Ballot
    next_slot: int
    recovery_slot: int
    elected_us: int
    quorum_since_us: int
    lease_wait_until_us: int
    next_heartbeat_us: int
    own_stamp_us: int
    quorum_stamp_us: int | None = None
    votes: dict[int, int] = attrs.Factory(dict)
    stamps: dict[int, int] = attrs.Factory(dict)
    pending: dict[int, tuple[int, int]] = attrs.Factory(dict)
    queue: list[ClientWrite] = attrs.Factory(list)
    reads: list[tuple[int, ClientRead]] = attrs.Factory(list)
    first_own_slot: int = 0
    target: Membership | None = None
    applied: dict[int, int] = attrs.Factory(dict)
    heard_us: dict[int, int] = attrs.Factory(dict)
