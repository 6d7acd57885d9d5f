"""S1 agreement from durable accepts: which (slot, ballot) a write quorum accepted, and with it
the chosen log (`harness.checks.statemodel.ChosenLog`) every other online check reads.

A slot is *chosen* once a write quorum has durably accepted the same (slot, ballot): a
majority of the members, or with membership changes a quorum of the configuration that
decides that (slot, ballot) (`harness.checks.quorum_view`). Two chosen values for one slot, or two
values proposed for one (slot, ballot), violate S1. Durable acceptance is read from the
`AcceptRecord` bytes of each `Persist` (and of what a node recovered from its disk).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from consensus.membership import is_config
from consensus.quorum import Membership
from consensus.records import AcceptRecord, CheckpointRecord, decode_record, encode_accept
from harness.checks.quorum_view import QuorumView
from harness.checks.statemodel import ChosenLog
from harness.checks.violation import Violation


def checkpoint_accepts(raw: bytes) -> list[bytes]:
    """The accept records a checkpoint record (``K``) holds, encoded as their own records: a
    checkpoint durably records the entries it holds, which may include accepts whose own
    records it replaced (a replica drops its pending records when it checkpoints)."""
    record = decode_record(raw)
    assert isinstance(record, CheckpointRecord)
    return [encode_accept(slot, ballot, command) for slot, ballot, command in record.entries]


class Where:
    """When and at which node a check runs (the common part of every `Violation`)."""

    __slots__ = ("node", "step", "time_us")

    def __init__(self, time_us: int, step: int, node: int) -> None:
        self.time_us = time_us
        self.step = step
        self.node = node

    def fields(self) -> dict[str, Any]:
        return {"time_us": self.time_us, "step": self.step, "node": self.node}


class AcceptVotes:
    """Durable accepts per (slot, ballot) of one run, and the chosen log they imply.

    Args:
        members: ids of the voting members (a majority of them is a write quorum); see
            `set_initial` for a group whose nodes are not all voters at the start.
    """

    def __init__(self, members: Sequence[int]) -> None:
        self.members = tuple(sorted(members))
        self.quorum = len(self.members) // 2 + 1
        self._view = QuorumView(Membership(self.members, ()))
        # (slot, ballot round, ballot node) -> command proposed, and -> the nodes that durably
        # accepted it; raw accept record -> its (slot, round, node), command and voters.
        self._proposed: dict[tuple[int, int, int], bytes] = {}
        self._votes: dict[tuple[int, int, int], set[int]] = {}
        self._accepts: dict[bytes, tuple[tuple[int, int, int], bytes, set[int]]] = {}
        self.proposed_by_slot: dict[int, set[bytes]] = {}  # every command proposed per slot
        self.log = ChosenLog()

    def set_initial(self, initial: Membership) -> None:
        """The group starts in ``initial`` (other nodes are spares); call before any step."""
        self.members = initial.voters
        self.quorum = initial.quorum
        self._view = QuorumView(initial)

    def on_persist(
        self, node_id: int, records: Sequence[bytes], where: Where
    ) -> Violation | None:
        """``node_id`` made ``records`` durable: count its votes; S1 if two values clash."""
        memo = self._accepts
        for raw in records:
            if raw[:1] != b"A":  # only accepted entries matter here; skip decoding the rest
                if raw[:1] == b"K":  # a checkpoint: its entries are durable accepts too
                    v = self.on_persist(node_id, checkpoint_accepts(raw), where)
                    if v is not None:
                        return v
                continue
            seen = memo.get(raw)
            if seen is None:
                # First sight of these bytes: decode and check them. Other nodes accepting
                # the same entry persist the same bytes and skip straight to the vote.
                record = decode_record(raw)
                assert isinstance(record, AcceptRecord)
                slot, command = record.slot, record.command
                key = (slot, record.ballot.round, record.ballot.node)
                proposed = self._proposed.setdefault(key, command)
                if proposed != command:
                    return Violation(
                        property="S1",
                        message=(
                            f"S1: two values proposed for slot {slot} under ballot "
                            f"{record.ballot}"
                        ),
                        slot=slot,
                        **where.fields(),
                    )
                by_slot = self.proposed_by_slot.get(slot)
                if by_slot is None:
                    by_slot = self.proposed_by_slot[slot] = set()
                by_slot.add(command)
                self._view.on_proposed(slot, key[1:], command, is_config(command))
                votes = self._votes.get(key)
                if votes is None:
                    votes = self._votes[key] = set()
                seen = memo[raw] = (key, command, votes)  # the votes set, shared with _votes
            key, command, votes = seen
            votes.add(node_id)
            view = self._view
            if view.changed:
                reached = view.config_for(key[0], key[1:]).is_quorum(votes)
            else:
                reached = len(votes) == self.quorum
            if reached:
                slot = key[0]
                chosen = self.log.chosen.get(slot)
                if chosen is not None and chosen != command:
                    return Violation(
                        property="S1",
                        message=f"S1: slot {slot} chosen with two different values",
                        slot=slot,
                        **where.fields(),
                    )
                if chosen is None:
                    self.log.choose(slot, command)
                    if is_config(command):
                        view.on_chosen(slot, command)
            if len(votes) == len(self.members):
                memo.pop(raw, None)  # every member has it: it will rarely be seen again
        return None
