"""S6's leader half (`harness.checks.lease_backing`): a serving window backed by a quorum of
every configuration a successor may use passes; one that a configuration does not back fails.
(The catalogue mutant that counts the committed configuration only is the campaign's:
``paxlab mutants --only lease-quorum-committed-config-only``.)"""

from __future__ import annotations

from typing import Any

import attrs

from consensus.ballot import Ballot
from consensus.config import Timing
from consensus.events import Receive
from consensus.messages import Accepted
from consensus.quorum import Membership, lease_length_us
from harness.checks.accepts import Where
from harness.checks.lease_backing import LeaseBacking

L = lease_length_us(Timing().lease_duration_us, Timing().drift_bound_ppm)
B = Ballot(3, 0)
OLD = Membership((0, 1, 2), ())
NEW = Membership((0, 1, 2), (3,))


@attrs.define
class Role:
    value: str = "leader"


@attrs.define
class Config:
    timing: Timing = attrs.Factory(Timing)


@attrs.define
class Leader:
    window: tuple[int, int] | None
    configs: list[Membership]
    role: Role = attrs.Factory(Role)
    leader_ballot: Ballot = B
    config: Config = attrs.Factory(Config)

    def serving_window_us(self) -> tuple[int, int] | None:
        return self.window

    def pending_memberships(self) -> list[Membership]:
        return self.configs

    @property
    def membership(self) -> Membership:
        return self.configs[-1]


def _echo(check: LeaseBacking, leader: Any, src: int, stamp: int, local: int,
          ballot: Ballot = B) -> Any:
    event = Receive(src=src, msg=Accepted(ballot=ballot, first_slot=1, last_slot=0,
                                          stamp_us=stamp))
    return check.on_step(0, leader, event, local, Where(local, 1, 0))


def test_a_window_within_every_configurations_quorum_grant_passes() -> None:
    check = LeaseBacking()
    leader = Leader(None, [OLD, NEW])
    assert _echo(check, leader, 1, 1_000, 1_100) is None  # not serving yet
    assert _echo(check, leader, 3, 900, 1_200) is None
    # OLD: {0 at 1_300, 1 at 1_000} -> 1_000; NEW: {0, 1, 3} quorum 3 -> 900
    leader.window = (1_300, 900 + L)
    assert check.on_step(0, leader, None, 1_300, Where(1_300, 2, 0)) is None


def test_a_window_a_pending_configuration_does_not_back_is_s6() -> None:
    check = LeaseBacking()
    leader = Leader(None, [OLD, NEW])
    assert _echo(check, leader, 1, 1_000, 1_100) is None
    leader.window = (1_300, 1_000 + L)  # backed by OLD's quorum only: 3 never echoed
    v = check.on_step(0, leader, None, 1_300, Where(1_300, 2, 0))
    assert v is not None and v.property == "S6" and "no quorum of it echoed" in v.message
    assert _echo(check, leader, 3, 900, 1_400) is not None  # 3's grant is older: still too long
    leader.window = (1_400, 900 + L)
    assert check.on_step(0, leader, None, 1_400, Where(1_400, 3, 0)) is None


def test_a_configuration_appended_under_a_window_already_backed_is_checked_again() -> None:
    check = LeaseBacking()
    leader = Leader((1_300, 1_000 + L), [OLD])
    assert _echo(check, leader, 1, 1_000, 1_100) is None  # backed by 0 and 1
    assert check.on_step(0, leader, None, 1_200, Where(1_200, 2, 0)) is None  # same window
    leader.configs = [OLD, Membership((0, 1, 2), (3,))]  # a change appended: 3 never echoed
    v = check.on_step(0, leader, None, 1_300, Where(1_300, 3, 0))
    assert v is not None and v.property == "S6"


def test_stamps_belong_to_one_leadership() -> None:
    check = LeaseBacking()
    leader = Leader((1_300, 1_000 + L), [OLD])
    assert _echo(check, leader, 1, 1_000, 1_100, ballot=Ballot(2, 1)) is not None  # old ballot
    check = LeaseBacking()
    assert _echo(check, leader, 1, 1_000, 1_100) is None
    leader.leader_ballot = Ballot(4, 0)  # a new leadership: nothing echoed to it yet
    assert check.on_step(0, leader, None, 1_300, Where(1_300, 2, 0)) is not None
    check = LeaseBacking()
    assert _echo(check, leader, 1, 1_000, 1_100, ballot=Ballot(4, 0)) is None
    check.on_recover(0)
    assert check.on_step(0, leader, None, 1_300, Where(1_300, 2, 0)) is not None
    follower = Leader((1_300, 1_000 + L), [OLD], role=Role("follower"))
    assert check.on_step(0, follower, None, 1_300, Where(1_300, 2, 0)) is None
