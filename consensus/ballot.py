"""Ballots and log entries: the two values every other consensus module speaks in."""

from __future__ import annotations

from typing import ClassVar

import attrs


def _non_negative(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {attribute.name}={value}")


@attrs.frozen(order=False, eq=False)
class Ballot:
    """A Paxos ballot: ordered by ``round``, then by ``node`` (the proposer's id).

    Two proposers never share a ballot because the node id is part of it. ``Ballot.ZERO`` is
    below every ballot a proposer uses (rounds start at 1): "promised nothing yet".
    """

    round: int = attrs.field(validator=_non_negative)
    node: int = attrs.field(validator=_non_negative)

    ZERO: ClassVar[Ballot]

    def __repr__(self) -> str:
        return f"Ballot({self.round}, {self.node})"

    # Hand-written comparisons: ballots are compared on every message, and attrs' generic
    # ones build tuples (and its __ne__ goes through a generic wrapper). The hash is that of
    # (round, node); nothing may depend on it (attrs' own hash differed per process).
    def __eq__(self, other: object) -> bool:
        if other.__class__ is not Ballot:
            return NotImplemented
        return self.round == other.round and self.node == other.node

    def __ne__(self, other: object) -> bool:
        if other.__class__ is not Ballot:
            return NotImplemented
        return self.round != other.round or self.node != other.node

    def __hash__(self) -> int:
        return hash((self.round, self.node))

    def __lt__(self, other: Ballot) -> bool:
        return self.round < other.round or (self.round == other.round and self.node < other.node)

    def __le__(self, other: Ballot) -> bool:
        return self.round < other.round or (self.round == other.round and self.node <= other.node)

    def __gt__(self, other: Ballot) -> bool:
        return self.round > other.round or (self.round == other.round and self.node > other.node)

    def __ge__(self, other: Ballot) -> bool:
        return self.round > other.round or (self.round == other.round and self.node >= other.node)


Ballot.ZERO = Ballot(0, 0)


@attrs.frozen
class Entry:
    """What an acceptor durably accepted in one slot: ``command`` under ``ballot``.

    ``command == b""`` is a no-op (a gap filled by a recovering leader).
    """

    ballot: Ballot
    command: bytes
