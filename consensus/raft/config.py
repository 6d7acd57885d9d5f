"""Raft configuration: who the node is, the initial membership, timing and the variant.

Roles and the variant flags live here too, so every other module of `consensus.raft` reads
its switches from one place.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

import attrs

from consensus.config import Timing

VARIANTS: tuple[str, ...] = (
    "no-prevote", "no-check-quorum", "commit-old-term", "single-server-change-bug"
)
"""Deliberately weakened Raft versions, for studying them and proving the checkers:

- ``no-prevote``: a node whose election timer fires campaigns at once with a higher term,
  so a node cut off from the leader keeps bumping its term and deposes the leader when it
  comes back (liveness, not safety).
- ``no-check-quorum``: a leader never steps down for want of a responsive quorum, so a
  leader cut off from its quorum stays leader (refusing nothing, committing nothing) while
  the rest elect another one (liveness, not safety; followers still honour leases).
- ``commit-old-term``: a leader commits an entry of an earlier term as soon as a majority
  holds it, and appends no no-op when elected (the Raft paper's Figure 8: a committed,
  applied entry can be overwritten, so two nodes apply different commands at one index).
- ``single-server-change-bug``: a new leader starts a membership change before an entry of
  its own term is committed (the bug in single-server changes found in 2015: two leaders in
  one term or a committed entry lost).
"""


class Role(enum.Enum):
    """What a Raft node does now (values as the contract spells them)."""

    FOLLOWER = "follower"
    CANDIDATE = "candidate"
    LEADER = "leader"
    LEARNER = "learner"


@attrs.frozen
class RaftFlags:
    """The protocol switches a variant turns off."""

    pre_vote: bool = True
    check_quorum: bool = True
    own_term_commit: bool = True
    config_after_own_commit: bool = True

    @classmethod
    def for_variant(cls, variant: str | None) -> RaftFlags:
        """Return the flags of ``variant`` (None: the correct protocol)."""
        if variant is None:
            return cls()
        return {
            "no-prevote": cls(pre_vote=False),
            "no-check-quorum": cls(check_quorum=False),
            "commit-old-term": cls(own_term_commit=False),
            "single-server-change-bug": cls(config_after_own_commit=False),
        }[variant]


def _ids(value: Iterable[int]) -> tuple[int, ...]:
    return tuple(value)


def _check_ids(instance: object, attribute: attrs.Attribute[tuple[int, ...]],
               value: tuple[int, ...]) -> None:
    if list(value) != sorted(set(value)) or any(m < 0 for m in value):
        raise ValueError(f"{attribute.name} must be sorted, distinct, >= 0, got {value}")


def _check_variant(instance: object, attribute: object, value: str | None) -> None:
    if value is not None and value not in VARIANTS:
        raise ValueError(f"unknown raft variant {value!r}; choose from {', '.join(VARIANTS)}")


@attrs.frozen
class RaftConfig:
    """One Raft node's view of its group at start.

    ``members`` are the initial voters, ``learners`` the initial non-voting members (they
    receive the log, never vote, never lead). ``node_id`` need not be in either: a node
    outside the initial configuration waits to be added by a leader. ``max_batch`` bounds the
    entries of one AppendEntries.

    Raises ValueError for an unknown variant, unsorted or overlapping ids, or no voters.
    """

    node_id: int
    members: tuple[int, ...] = attrs.field(converter=_ids, validator=_check_ids)
    learners: tuple[int, ...] = attrs.field(default=(), converter=_ids, validator=_check_ids)
    timing: Timing = attrs.field(factory=Timing)
    variant: str | None = attrs.field(default=None, validator=_check_variant)
    max_batch: int = 64

    def __attrs_post_init__(self) -> None:
        if not self.members:
            raise ValueError("a raft group needs at least one voter, got members=()")
        if set(self.members) & set(self.learners):
            raise ValueError(
                f"a node is a voter or a learner, got members={self.members} "
                f"learners={self.learners}"
            )
        if self.max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got max_batch={self.max_batch}")

    @property
    def flags(self) -> RaftFlags:
        """The protocol switches of this config's variant."""
        return RaftFlags.for_variant(self.variant)
