"""S12 and S13 online checks, fed by an in-memory replica group."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import Phase, given, settings

from consensus import Ballot, ReplicaConfig, Role
from consensus.effects import Reply, ServeRead
from consensus.events import Event, Reconfigure
from consensus.quorum import Membership
from harness.checks.membership import MembershipInvariants
from harness.checks.violation import Violation
from tests.consensus.group import Group
from tests.consensus.test_membership_random import ACTIONS, run_membership_actions


class Watched(Group):
    """A Group whose every step goes through the membership checker."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.checker = MembershipInvariants()
        self.violations: list[Violation] = []
        self.steps = 0
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def step(self, i: int, event: Event) -> list[object]:  # type: ignore[override]
        effects = super().step(i, event)
        self.steps += 1
        v = self.checker.on_step(i, self.replica(i), effects, self.nodes[i].clock_us, self.steps)
        if v is not None:
            self.violations.append(v)
        return effects  # type: ignore[return-value]


@pytest.mark.parametrize("variant", [None, "one-step-swap"])
def test_s12_flags_a_one_step_swap_only(variant: str | None) -> None:
    g = Watched(3, log_spares=1, variant=variant)
    leader = g.elect()
    dead = max(i for i in g.storage if i != leader)
    keep = tuple(i for i in g.storage if i != dead)
    g.step(leader, Reconfigure(storage=keep, logs=(4,)))
    g.run(500_000)
    assert g.replica(leader).committed_membership == Membership(keep, (4,))
    if variant is None:
        assert g.violations == []
    else:
        assert g.violations and g.violations[0].property == "S12"
        assert "quorums" in g.violations[0].message


def test_s13_log_replica_in_a_healthy_group_passes() -> None:
    g = Watched(2, logs=1)
    leader = g.elect()
    g.write(leader, 1, 1, b"a")
    g.read(3, 1, 2, strong=False)
    g.run(200_000)
    assert g.violations == []


@given(ACTIONS)
def test_random_membership_schedules_pass_s12_and_s13(
    actions: list[tuple[str, int, int]],
) -> None:
    c = run_membership_actions(actions, group=Watched)
    assert c.g.violations == []  # type: ignore[attr-defined]


def test_random_one_step_swap_schedules_fail_s12() -> None:
    found: list[Violation] = []

    @settings(max_examples=300, database=None, phases=[Phase.generate])
    @given(ACTIONS)
    def search(actions: list[tuple[str, int, int]]) -> None:
        c = run_membership_actions(actions, "one-step-swap", s12=False, group=Watched)
        found.extend(c.g.violations)  # type: ignore[attr-defined]
        assert not found

    with pytest.raises(AssertionError):
        search()
    assert found[0].property == "S12"


@attrs.define
class FakeLogReplica:
    role: Role
    promised: Ballot = Ballot.ZERO
    commit_index: int = 0
    applied_index: int = 0  # a log replica applies nothing
    config: ReplicaConfig = attrs.field(
        factory=lambda: ReplicaConfig(node_id=3, members=(1, 2), log_members=(3,))
    )


@pytest.mark.parametrize(
    ("role", "effects", "what"),
    [
        (Role.LEADER, [], "is leader"),
        (Role.CANDIDATE, [], "is candidate"),
        (Role.FOLLOWER, [ServeRead(client_id=1, request_id=1, key=b"k", strong=False)],
         "emitted ServeRead"),
        (Role.FOLLOWER, [Reply(client_id=1, request_id=1, slot=4)], "acknowledged a write"),
    ],
)
def test_s13_catches_a_log_replica_that_leads_or_serves(
    role: Role, effects: list[object], what: str
) -> None:
    v = MembershipInvariants().on_step(3, FakeLogReplica(role), effects, 10, 1)
    assert v is not None and v.property == "S13" and what in v.message and v.node == 3


def test_online_invariants_report_s13_from_the_simulators_hook() -> None:
    from harness.checks.invariants import OnlineInvariants

    online = OnlineInvariants(members=(1, 2))
    v = online.on_step(3, FakeLogReplica(Role.LEADER), object(), [], 10, 10, 1)
    assert v is not None and v.property == "S13"


def test_fork_is_independent_and_history_lists_chosen_configurations() -> None:
    checker = MembershipInvariants()
    checker._chain[3] = Membership((0, 1, 2), (3,))
    checker._slots.append(3)
    copy = checker.fork()
    copy._chain[7] = Membership((0, 1, 2))
    copy._slots.append(7)
    assert checker.history() == ((3, Membership((0, 1, 2), (3,))),)
    assert [slot for slot, _ in copy.history()] == [3, 7]
