"""S6's acceptor half: Promises must report every lease grant that may still run."""

from __future__ import annotations

from typing import Any

import attrs

from consensus.ballot import Ballot
from consensus.config import ReplicaConfig, Timing
from consensus.effects import Send
from consensus.events import Receive
from consensus.messages import Accept, Accepted, Nack, Promise, Release
from harness.checks.accepts import Where
from harness.checks.lease_grants import LeaseGrants

L = 1_000_000
OLD = Ballot(1, 1)  # the leader node 1 had
NEW = Ballot(2, 2)  # the leader node 2 has now
NEXT = Ballot(3, 3)  # node 3 asks for promises


@attrs.define
class Acceptor:
    config: ReplicaConfig = attrs.field(
        factory=lambda: ReplicaConfig(node_id=0, members=(0, 1, 2, 3),
                                      timing=Timing(lease_duration_us=L)))


def accept(ballot: Ballot) -> Accept:
    return Accept(ballot=ballot, first_slot=1, commands=(), commit_index=0, stamp_us=0)


def acked(ballot: Ballot) -> Send:
    return Send(dst=ballot.node, msg=Accepted(ballot=ballot, first_slot=1, last_slot=0,
                                              stamp_us=0))


def promise(remaining_us: int) -> Send:
    return Send(dst=3, msg=Promise(ballot=NEXT, from_slot=1, entries=(), commit_index=0,
                                   lease_remaining_us=remaining_us))


class Node0:
    """Steps acceptor node 0 through a LeaseGrants checker at chosen local times."""

    def __init__(self) -> None:
        self.check = LeaseGrants()
        self.replica = Acceptor()

    def step(self, local_us: int, event: object = None, *effects: Any) -> Any:
        return self.check.on_step(0, self.replica, event, list(effects), local_us,
                                  Where(local_us, 1, 0))


def test_a_promise_must_report_a_running_grant() -> None:
    node = Node0()
    assert node.step(100, Receive(src=2, msg=accept(NEW)), acked(NEW)) is None
    assert node.step(400, None, promise(L - 300)) is None  # exactly what is left: fine
    v = node.step(400, None, promise(L - 301))
    assert v is not None and v.property == "S6" and "grant to ballot Ballot(2, 2)" in v.message
    assert node.step(100 + L, None, promise(0)) is None  # the grant ended


def test_a_grant_to_the_asking_ballot_itself_need_not_be_reported() -> None:
    node = Node0()
    node.step(100, Receive(src=3, msg=accept(NEXT)), acked(NEXT))
    assert node.step(200, None, promise(0)) is None


def test_every_earlier_grant_counts_not_only_the_latest() -> None:
    node = Node0()
    node.step(100, Receive(src=1, msg=accept(OLD)), acked(OLD))
    node.step(200, Receive(src=2, msg=accept(NEW)), acked(NEW))
    # Node 2's leader released its lease; node 1's grant still runs.
    node.step(300, Receive(src=2, msg=Release(ballot=NEW)))
    v = node.step(400, None, promise(0))
    assert v is not None and "grant to ballot Ballot(1, 1)" in v.message
    assert node.step(400, None, promise(L - 300)) is None


def test_a_release_ends_only_the_grant_of_its_own_ballot() -> None:
    node = Node0()
    node.step(100, Receive(src=2, msg=accept(NEW)), acked(NEW))
    node.step(200, Receive(src=2, msg=Release(ballot=NEW)))
    assert node.step(300, None, promise(0)) is None
    # A late Release of an older leader must not cancel the current grant.
    later = Node0()
    later.step(100, Receive(src=2, msg=accept(NEW)), acked(NEW))
    later.step(200, Receive(src=1, msg=Release(ballot=OLD)))
    v = later.step(300, None, promise(0))
    assert v is not None and v.property == "S6"


def test_refused_accepts_grant_nothing() -> None:
    node = Node0()
    refused = Send(dst=1, msg=Nack(ballot=NEW, rejected=OLD))
    node.step(100, Receive(src=1, msg=accept(OLD)), refused)
    assert node.step(200, None, promise(0)) is None


def test_a_leader_grants_itself_until_it_steps_down() -> None:
    check = LeaseGrants()
    replica = Acceptor(ReplicaConfig(node_id=2, members=(0, 1, 2, 3),
                                     timing=Timing(lease_duration_us=L)))
    where = Where(0, 1, 2)
    assert check.on_step(2, replica, None, [Send(dst=0, msg=accept(NEW))], 100, where) is None
    v = check.on_step(2, replica, None, [promise(0)], 200, where)
    assert v is not None and v.property == "S6"
    release = Send(dst=0, msg=Release(ballot=NEW))
    assert check.on_step(2, replica, None, [release], 300, where) is None
    assert check.on_step(2, replica, None, [promise(0)], 400, where) is None


def test_a_restart_forgets_the_grants_and_replicas_without_timing_are_skipped() -> None:
    node = Node0()
    node.step(100, Receive(src=2, msg=accept(NEW)), acked(NEW))
    node.check.on_recover(0)
    assert node.step(200, None, promise(0)) is None
    bare = LeaseGrants()
    where = Where(0, 1, 0)
    assert bare.on_step(0, object(), Receive(src=2, msg=accept(NEW)), [acked(NEW)], 1,
                        where) is None
    assert bare.on_step(0, object(), None, [promise(0)], 2, where) is None
