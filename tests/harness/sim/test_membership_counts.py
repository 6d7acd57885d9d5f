"""`harness.sim.membership.ConfigChanges` on stand-in replicas: a configuration entry counts as
proposed only when a leader's configuration changes in its own step, as committed only once
a commit index covers it with the same term, never when another entry replaced it; and the
nemesis hears of each election once."""

from __future__ import annotations

from typing import Any

import attrs

from harness.sim.membership import ConfigChanges


@attrs.define
class _Log:
    last_index: int = 0


@attrs.define
class _Role:
    value: str = "follower"


@attrs.define
class _Replica:
    members: tuple[int, ...] = (0, 1, 2, 3)
    learners: tuple[int, ...] = ()
    role: _Role = attrs.Factory(_Role)
    term: int = 1
    commit_index: int = 0
    log: _Log = attrs.Factory(_Log)
    terms: dict[int, int] = attrs.Factory(dict)

    def term_at(self, index: int) -> int | None:
        return self.terms.get(index)


def _step(changes: ConfigChanges, node: int, replica: Any) -> None:
    changes.observe(node, replica, None, [], 0)


def test_proposed_then_committed_with_the_same_term() -> None:
    elected: list[int] = []
    changes = ConfigChanges(on_elected=elected.append)
    leader, follower = _Replica(), _Replica()
    _step(changes, 0, leader)
    _step(changes, 1, follower)
    leader.role.value = "leader"
    _step(changes, 0, leader)
    _step(changes, 0, leader)
    assert elected == [0]  # once per term
    leader.members, leader.log.last_index, leader.terms[5] = (0, 1, 2, 3, 4), 5, 1
    _step(changes, 0, leader)
    assert (changes.proposed, changes.committed) == (1, 0)
    follower.members = (0, 1, 2, 3, 4)  # a follower adopting it is no new proposal
    follower.commit_index, follower.terms[5] = 4, 1
    _step(changes, 1, follower)
    assert (changes.proposed, changes.committed) == (1, 0)  # not covered yet
    follower.commit_index = 5
    _step(changes, 1, follower)
    _step(changes, 0, leader)
    assert (changes.proposed, changes.committed) == (1, 1)  # counted once


def test_an_entry_replaced_before_it_committed_never_counts() -> None:
    changes = ConfigChanges()
    leader = _Replica(role=_Role("leader"))
    _step(changes, 0, leader)
    leader.members, leader.log.last_index = (0, 1, 2), 7
    _step(changes, 0, leader)
    other = _Replica(commit_index=7, terms={7: 2})  # term 2 committed there, not term 1
    _step(changes, 2, other)
    assert (changes.proposed, changes.committed) == (1, 0)
    restarted = _Replica()  # back without the entry (never synced), a follower: no proposal
    _step(changes, 0, restarted)
    assert changes.proposed == 1
