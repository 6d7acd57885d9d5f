"""harness.checks.accepts: a slot is chosen once a write quorum durably accepted it; S1 clashes."""

from __future__ import annotations

from consensus.ballot import Ballot
from consensus.quorum import Membership
from consensus.records import AcceptRecord, encode_record
from harness.checks.accepts import AcceptVotes, Where
from storage.kv import Command

B1 = Ballot(1, 1)
B2 = Ballot(2, 2)
HERE = Where(time_us=7, step=3, node=2)


def put(key: str, value: str) -> bytes:
    return Command(op="put", key=key.encode(), value=value.encode()).encode()


def record(slot: int, ballot: Ballot, command: bytes) -> bytes:
    return encode_record(AcceptRecord(slot, ballot, command))


def test_chosen_once_a_majority_persisted_the_same_slot_and_ballot() -> None:
    votes = AcceptVotes((1, 2, 3))
    raw = record(1, B1, put("k", "a"))
    assert votes.on_persist(1, [raw], HERE) is None
    assert 1 not in votes.log.chosen
    assert votes.on_persist(2, [bytes(raw)], HERE) is None  # equal bytes, another object
    assert votes.log.chosen[1] == put("k", "a")
    assert votes.log.value_at(b"k", 1) == b"a"
    assert votes.proposed_by_slot[1] == {put("k", "a")}


def test_non_accept_records_are_ignored() -> None:
    votes = AcceptVotes((1, 2, 3))
    assert votes.on_persist(1, [b"Pxyz"], HERE) is None
    assert votes.log.chosen == {}


def test_two_values_under_one_ballot_violate_s1_with_where_fields() -> None:
    votes = AcceptVotes((1, 2, 3))
    assert votes.on_persist(1, [record(4, B1, put("k", "a"))], HERE) is None
    v = votes.on_persist(2, [record(4, B1, put("k", "b"))], HERE)
    assert v is not None and v.property == "S1" and v.slot == 4
    assert (v.time_us, v.step, v.node) == (7, 3, 2)


def test_a_second_value_chosen_for_a_slot_violates_s1() -> None:
    votes = AcceptVotes((1, 2, 3))
    for node in (1, 2):
        assert votes.on_persist(node, [record(1, B1, put("k", "a"))], HERE) is None
    assert votes.on_persist(1, [record(1, B2, put("k", "b"))], HERE) is None
    v = votes.on_persist(3, [record(1, B2, put("k", "b"))], HERE)
    assert v is not None and v.property == "S1" and "two different values" in v.message


def test_set_initial_counts_quorums_of_the_initial_voters_only() -> None:
    votes = AcceptVotes((0, 1, 2, 3, 4))
    votes.set_initial(Membership((0, 1, 2), ()))
    assert votes.members == (0, 1, 2) and votes.quorum == 2
    raw = record(1, B1, put("k", "a"))
    votes.on_persist(0, [raw], HERE)
    votes.on_persist(1, [raw], HERE)
    assert 1 in votes.log.chosen
