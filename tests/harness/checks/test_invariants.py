"""Online invariants: each property on a step sequence that must pass and one that must fail."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from consensus.ballot import Ballot
from consensus.effects import Apply, Persist, Reply, Send, ServeRead
from consensus.messages import Accept, Promise
from consensus.quorum import Membership
from consensus.records import AcceptRecord, decode_record, encode_record
from consensus.roles import Role
from harness.checks.invariants import OnlineInvariants
from storage.kv import Command

B1 = Ballot(1, 1)
B2 = Ballot(2, 2)


@attrs.define
class FakeReplica:
    node_id: int
    promised: Ballot = Ballot.ZERO
    commit_index: int = 0
    applied_index: int = 0
    role: str = "follower"
    recovery_slot: int = 0
    serving_until_us: int = -1
    accepted: dict[int, Any] = attrs.Factory(dict)
    snapshot_slot: int = 0
    committed_config_slot: int = 0

    def is_serving(self, now_us: int) -> bool:
        return now_us < self.serving_until_us


def put(key: str, value: str, request_id: int = 0) -> bytes:
    return Command(
        op="put",
        key=key.encode(),
        value=value.encode(),
        request_id=request_id,
        client_id=1 if request_id else 0,
    ).encode()


def accept(slot: int, ballot: Ballot, command: bytes) -> Persist:
    return Persist(records=(encode_record(AcceptRecord(slot, ballot, command)),))


class Run:
    """Drives an OnlineInvariants through steps, like the simulator does."""

    def __init__(self, members: tuple[int, ...] = (1, 2, 3)) -> None:
        self.inv = OnlineInvariants(members)
        self.replicas = {n: FakeReplica(n) for n in members}
        self.step_no = 0

    def step(self, node: int, *effects: Any, reads: tuple[Any, ...] = ()) -> Any:
        """Step ``node``; like a real acceptor, it promised every ballot it accepts under."""
        self.step_no += 1
        replica = self.replicas[node]
        for e in effects:
            for raw in getattr(e, "records", ()):
                record = decode_record(raw)
                if isinstance(record, AcceptRecord) and record.ballot > replica.promised:
                    replica.promised = record.ballot
        for strong, key, value in reads:
            self.inv.on_read(node, strong, key, value, self.step_no, self.step_no)
        return self.inv.on_step(
            node,
            self.replicas[node],
            None,
            list(effects),
            self.step_no,
            self.step_no,
            self.step_no,
        )

    def choose(
        self, slot: int, ballot: Ballot, command: bytes, nodes: tuple[int, ...] = (1, 2)
    ) -> None:
        for n in nodes:
            assert self.step(n, accept(slot, ballot, command)) is None


def test_agreement_passes_and_catches_two_chosen_values() -> None:
    run = Run()
    run.choose(1, B1, put("k", "a"))
    assert run.inv.log.chosen[1] == put("k", "a")
    # A later ballot choosing the same value is fine...
    run.choose(1, B2, put("k", "a"), nodes=(2, 3))
    # ...a different value is not.
    run2 = Run()
    run2.choose(1, B1, put("k", "a"))
    assert run2.step(2, accept(1, B2, put("k", "b"))) is None  # one vote: not chosen yet
    v = run2.step(3, accept(1, B2, put("k", "b")))
    assert v is not None and v.property == "S1" and v.slot == 1


def test_two_values_under_one_ballot_is_s1() -> None:
    run = Run()
    run.step(1, accept(1, B1, put("k", "a")))
    v = run.step(2, accept(1, B1, put("k", "b")))
    assert v is not None and v.property == "S1"


def test_apply_must_be_the_chosen_command() -> None:
    run = Run()
    run.choose(1, B1, put("k", "a"))
    run.replicas[3].applied_index = 1
    assert run.step(3, Apply(slot=1, command=put("k", "a"))) is None
    v = Run()
    v.choose(1, B1, put("k", "a"))
    v.step(3, accept(1, Ballot(1, 3), put("k", "z")))  # proposed, never chosen
    got = v.step(3, Apply(slot=1, command=put("k", "z")))
    assert got is not None and got.property == "S2"
    corrupt = v.step(2, Apply(slot=1, command=put("k", "?")))
    assert corrupt is not None and corrupt.property == "S14"


def test_apply_of_unchosen_slot_is_s4() -> None:
    run = Run()
    run.step(1, accept(1, B1, put("k", "a")))
    v = run.step(1, Apply(slot=1, command=put("k", "a")))
    assert v is not None and v.property == "S4"


def test_commit_index_must_be_chosen_and_monotone() -> None:
    run = Run()
    run.choose(1, B1, put("k", "a"))
    run.replicas[1].commit_index = 1
    assert run.step(1) is None
    run.replicas[1].commit_index = 2  # slot 2 not chosen
    v = run.step(1)
    assert v is not None and v.property == "S4" and v.slot == 2
    run.replicas[2].commit_index = 1
    assert run.step(2) is None
    run.replicas[2].commit_index = 0
    back = run.step(2)
    assert back is not None and back.property == "S4" and "went back" in back.message


def test_promise_must_survive_restart() -> None:
    run = Run()
    run.replicas[2].promised = B2
    msg = Promise(ballot=B2, from_slot=1, entries=(), commit_index=0, lease_remaining_us=0)
    assert run.step(2, Send(dst=1, msg=msg)) is None
    assert run.inv.on_recover(2, FakeReplica(2, promised=B2), 10, 10) is None
    v = run.inv.on_recover(2, FakeReplica(2, promised=B1), 11, 11)
    assert v is not None and v.property == "S3" and v.node == 2


def test_promised_must_not_drop_within_an_incarnation() -> None:
    run = Run()
    run.replicas[1].promised = B2
    assert run.step(1) is None
    run.replicas[1].promised = B1
    v = run.step(1)
    assert v is not None and v.property == "S3"


def test_leader_serves_nothing_before_recovered_suffix_commits() -> None:
    run = Run()
    run.choose(1, B1, put("k", "a"))
    leader = run.replicas[1]
    leader.role, leader.recovery_slot, leader.commit_index = "leader", 2, 1
    v = run.step(1, Reply(client_id=1, request_id=1, slot=1))
    assert v is not None and v.property == "S5"
    leader.recovery_slot = 1
    assert run.step(1, Reply(client_id=1, request_id=1, slot=1)) is None


def test_ack_before_quorum_is_s10() -> None:
    run = Run()
    run.step(1, accept(1, B1, put("k", "a")))
    v = run.step(1, Reply(client_id=1, request_id=1, slot=1))
    assert v is not None and v.property == "S10"


def test_strong_read_must_see_acknowledged_writes() -> None:
    run = Run()
    run.choose(1, B1, put("k", "a"))
    run.replicas[1].applied_index = 1
    assert run.step(1, Reply(client_id=1, request_id=1, slot=1)) is None
    fresh = ServeRead(client_id=2, request_id=1, key=b"k", strong=True)
    assert run.step(1, fresh, reads=((True, b"k", b"a"),)) is None
    v = run.step(3, fresh, reads=((True, b"k", None),))  # node 3 applied nothing
    assert v is not None and v.property == "S8"


@pytest.mark.parametrize(
    ("applied", "value", "ok"),
    [(0, None, True), (1, b"a", True), (2, b"b", True), (1, b"b", False), (2, None, False)],
)
def test_reads_return_the_chosen_state_at_the_applied_slot(
    applied: int, value: bytes | None, ok: bool
) -> None:
    run = Run()
    run.choose(1, B1, put("k", "a"))
    run.choose(2, B1, put("k", "b"))
    run.replicas[3].applied_index = applied
    eventual = ServeRead(client_id=2, request_id=1, key=b"k", strong=False)
    v = run.step(3, eventual, reads=((False, b"k", value),))
    assert (v is None) == ok
    if not ok:
        assert v.property == "S9" and v.key == "k"


def test_at_most_one_replica_serving_under_a_lease() -> None:
    run = Run()
    run.replicas[1].serving_until_us = 100
    assert run.inv.check_global(run.replicas, {1: 50, 2: 50, 3: 50}, 50, 1) is None
    run.replicas[2].serving_until_us = 80
    v = run.inv.check_global(run.replicas, {1: 50, 2: 60, 3: 50}, 50, 2)
    assert v is not None and v.property == "S6"
    # Node 2's clock already reads past its lease end: only node 1 serves.
    assert run.inv.check_global(run.replicas, {1: 50, 2: 90, 3: 50}, 50, 3) is None


def test_final_state_must_match_the_chosen_log() -> None:
    from storage.kv import KVStore
    from storage.simdisk import SimDisk

    run = Run()
    run.choose(1, B1, put("k", "a"))
    run.choose(2, B1, put("j", "b"))
    kv = KVStore.open(SimDisk(1), "kv")
    kv.apply(1, put("k", "a"))
    assert run.inv.on_final_state(3, 1, kv.checksum(), 5, 5) is None
    kv.apply(2, put("j", "b"))
    assert run.inv.on_final_state(3, 2, kv.checksum(), 5, 5) is None
    lost = KVStore.open(SimDisk(2), "kv")
    lost.apply(1, put("k", "a"))
    lost.apply(2, b"")  # the write at slot 2 vanished
    v = run.inv.on_final_state(3, 2, lost.checksum(), 6, 6)
    assert v is not None and v.property == "S10"
    beyond = run.inv.on_final_state(3, 3, kv.checksum(), 7, 7)
    assert beyond is not None and beyond.property == "S4"


def test_entries_recovered_from_disk_count_as_accepted() -> None:
    # Seed 872 of the default sweep: node 3's fsync failed and it crashed, yet the accepted
    # entry reached the disk; after restart it acknowledges the entry without persisting it
    # again. That vote is real: the slot is chosen, and applying it is no violation.
    from consensus.ballot import Entry

    run = Run()
    run.step(1, accept(1, B1, put("k", "a")))
    recovered = FakeReplica(3, promised=B1)
    recovered.accepted = {1: Entry(B1, put("k", "a"))}
    assert run.inv.on_recover(3, recovered, 5, 5) is None
    assert run.inv.log.chosen[1] == put("k", "a")
    assert run.step(1, Apply(slot=1, command=put("k", "a"))) is None


def test_recovered_entry_that_conflicts_is_s1() -> None:
    from consensus.ballot import Entry

    run = Run()
    run.choose(1, B1, put("k", "a"))
    recovered = FakeReplica(3, promised=B1)
    recovered.accepted = {1: Entry(B1, put("k", "b"))}
    v = run.inv.on_recover(3, recovered, 5, 5)
    assert v is not None and v.property == "S1"


GROUP = Membership(storage=(1, 2, 3), logs=(4,))


@attrs.define
class MemberReplica(FakeReplica):
    committed_membership: Membership = GROUP


def _heartbeat(truncate_to: int) -> Send:
    msg = Accept(ballot=B1, first_slot=3, commands=(), commit_index=2, stamp_us=0,
                 truncate_to=truncate_to)
    return Send(dst=4, msg=msg)


def test_log_replicas_drop_only_what_every_storage_voter_applied() -> None:
    run = Run()
    run.replicas = {n: MemberReplica(n) for n in (1, 2, 3)}
    run.choose(1, B1, put("k", "a"))
    run.choose(2, B1, put("k", "b"))
    for n, applied in ((1, 2), (2, 2), (3, 1)):
        run.replicas[n].applied_index = applied
        assert run.step(n) is None
    # Every storage voter applied slot 1: log replicas may drop it.
    assert run.step(1, _heartbeat(1)) is None
    # Node 3 applied only slot 1: dropping slot 2 leaves it nothing to catch up from.
    v = run.step(1, _heartbeat(2))
    assert v is not None and v.property == "S13" and v.slot == 2
    assert "storage voter 3" in v.message
    # What a node applied counts even if it later restarted with less (the leader's report
    # may predate the restart).
    run.replicas[3].applied_index = 2
    assert run.step(3) is None
    run.replicas[3].applied_index = 0
    assert run.step(3) is None
    assert run.step(1, _heartbeat(2)) is None


@attrs.define
class Candidate(MemberReplica):
    membership: Membership = GROUP
    membership_changed: bool = True

    def pending_memberships(self) -> list[Membership]:  # read by the S12 chain check
        newer = self.membership != self.committed_membership
        return [self.committed_membership, self.membership][: 1 + newer]


def _elect(newest: Membership, promisers: tuple[int, ...],
           committed: Membership = GROUP) -> Any:
    """Node 1 is elected under ballot B1 after ``promisers`` sent it a Promise."""
    run = Run(members=(1, 2, 3, 4))
    run.replicas = {n: Candidate(n, membership=newest, committed_membership=committed)
                    for n in (1, 2, 3, 4)}
    promise = Promise(ballot=B1, from_slot=1, entries=(), commit_index=0, lease_remaining_us=0)
    for n in promisers:
        run.replicas[n].promised = B1
        assert run.step(n, Send(dst=1, msg=promise)) is None
    leader = run.replicas[1]
    leader.promised, leader.role = B1, Role.LEADER
    return run.step(1)


def test_a_new_leader_holds_a_quorum_of_every_configuration_it_may_use() -> None:
    # Committed (1, 2, 3) + log replica 4: quorum 3 of 4 voters; node 1 and two promisers.
    assert _elect(GROUP, (2, 3)) is None
    # Only node 2 promised: a majority of the storage replicas, no quorum of the 4 voters.
    v = _elect(GROUP, (2,))
    assert v is not None and v.property == "S12" and "promises from [1, 2] only" in v.message
    # A newer configuration in its log (storage 1, 2, 3, 4: quorum 3) needs its own quorum
    # even when the committed one (storage 1, 2, 3: quorum 2) is satisfied.
    three, four = Membership(storage=(1, 2, 3), logs=()), Membership(storage=(1, 2, 3, 4), logs=())
    assert _elect(four, (2, 3), committed=three) is None
    v = _elect(four, (2,), committed=three)
    assert v is not None and v.property == "S12" and "(1, 2, 3, 4)" in v.message
