"""S1 with membership changes: a slot is chosen by a quorum of the configuration that decides it.

Each case feeds `OnlineInvariants` the durable accepts (`Persist` of `AcceptRecord`) of a
group that changes configuration, and checks a history that must pass and one that must fail.
"""

from __future__ import annotations

from typing import Any

import attrs

from consensus.ballot import Ballot
from consensus.effects import Apply, Persist
from consensus.membership import encode_config
from consensus.quorum import Membership
from consensus.records import AcceptRecord, encode_record
from harness.checks.invariants import OnlineInvariants
from harness.checks.quorum_view import QuorumView
from storage.kv import Command

INITIAL = Membership((0, 1, 2), ())
ADD_LOG = Membership((0, 1, 2), (3,))  # add-before-remove: 4 voters, quorum 3
SWAPPED = Membership((0, 1), (3,))  # one-step swap of 2 for log replica 3: quorum 2 of 3
ABOVE_ALL = Ballot(1 << 30, 0)  # the fake acceptors' promise: above every ballot they accept (S15)


@attrs.define
class FakeReplica:
    node_id: int
    promised: Ballot = Ballot.ZERO
    commit_index: int = 0
    applied_index: int = 0
    role: str = "follower"
    recovery_slot: int = 0


def put(value: str) -> bytes:
    return Command(op="put", key=b"k", value=value.encode(), client_id=1, request_id=1).encode()


class Group:
    """Drives OnlineInvariants with accepts, one Persist per (node, slot, ballot, command)."""

    def __init__(self) -> None:
        self.inv = OnlineInvariants(range(5))
        self.inv.set_initial(INITIAL)
        self.step = 0

    def accept(self, nodes: tuple[int, ...], slot: int, ballot: Ballot, command: bytes) -> Any:
        for n in nodes:
            self.step += 1
            persist = Persist(records=(encode_record(AcceptRecord(slot, ballot, command)),))
            acceptor = FakeReplica(n, promised=ABOVE_ALL)
            v = self.inv.on_step(n, acceptor, None, [persist], self.step, self.step, self.step)
            if v is not None:
                return v
        return None

    def chosen(self, slot: int) -> bytes | None:
        return self.inv.log.chosen.get(slot)


def test_new_configuration_needs_its_own_quorum() -> None:
    g = Group()
    b = Ballot(1, 0)
    assert g.accept((0, 1, 3), 1, b, encode_config(ADD_LOG)) is None
    assert g.chosen(1) == encode_config(ADD_LOG)
    # {0, 3} is a majority of the initial three but not a quorum of the four voters
    assert g.accept((0, 3), 2, b, put("v")) is None
    assert g.chosen(2) is None
    assert g.accept((1,), 2, b, put("v")) is None
    assert g.chosen(2) == put("v")


def test_votes_below_the_new_quorum_for_two_values_are_not_a_violation() -> None:
    g = Group()
    b0, b1 = Ballot(1, 0), Ballot(2, 1)
    for b in (b0, b1):
        assert g.accept((0, 1, 3), 1, b, encode_config(ADD_LOG)) is None
    assert g.accept((0, 3), 2, b0, put("v")) is None  # 2 of 4: not chosen
    assert g.accept((1, 2), 2, b1, put("w")) is None  # 2 of 4: not chosen
    assert g.chosen(2) is None
    v = g.accept((3,), 2, b1, put("w"))  # {1, 2, 3}: w is chosen
    assert v is None and g.chosen(2) == put("w")
    v = g.accept((1,), 2, b0, put("v"))  # {0, 1, 3}: v chosen too -> S1
    assert v is not None and v.property == "S1" and v.slot == 2


def test_one_step_swap_split_brain_is_two_chosen_values() -> None:
    g = Group()
    swap_leader, old_leader = Ballot(1, 0), Ballot(1, 2)
    # node 0 swapped 2 for log replica 3 in one step; {0, 3} is a quorum of the new config
    assert g.accept((0, 3), 1, swap_leader, encode_config(SWAPPED)) is None
    assert g.accept((0, 3), 2, swap_leader, put("v")) is None
    assert g.chosen(2) == put("v")
    # node 2 never saw the change (its log ends before slot 1, so it proposes from there):
    # {1, 2} is a quorum of the configuration it still uses
    v = g.accept((1, 2), 1, old_leader, put("w"))
    assert v is not None and v.property == "S1" and v.slot == 1


def test_old_quorum_without_a_change_is_no_violation() -> None:
    g = Group()
    b = Ballot(1, 2)
    assert g.accept((1, 2), 1, b, put("w")) is None  # a majority of the initial three
    assert g.chosen(1) == put("w")


def test_a_configuration_entry_applies_as_a_no_op() -> None:
    g = Group()
    b = Ballot(1, 0)
    assert g.accept((0, 1, 3), 1, b, encode_config(ADD_LOG)) is None
    node = FakeReplica(1, promised=ABOVE_ALL)
    v = g.inv.on_step(1, node, None, [Apply(slot=1, command=b"")], 99, 99, 99)
    assert v is None
    v = g.inv.on_step(1, node, None, [Apply(slot=1, command=put("x"))], 99, 99, 99)
    assert v is not None and v.property in ("S2", "S14")


def test_view_falls_back_to_the_chosen_configuration_below_a_ballots_first_slot() -> None:
    view = QuorumView(INITIAL)
    view.on_proposed(1, (1, 0), encode_config(ADD_LOG), True)
    view.on_chosen(1, encode_config(ADD_LOG))
    view.on_proposed(5, (2, 1), put("v"), False)  # ballot (2, 1) starts above the change
    assert view.config_for(5, (2, 1)) == ADD_LOG
    assert view.config_for(1, (1, 0)) == ADD_LOG  # takes effect for its own slot
    view.on_proposed(7, (3, 2), put("w"), False)
    view.on_proposed(6, (3, 2), encode_config(SWAPPED), True)
    assert view.config_for(7, (3, 2)) == SWAPPED
    assert view.config_for(6, (3, 2)) == SWAPPED
    assert QuorumView(INITIAL).config_for(3, (1, 1)) == INITIAL
