"""The public surface of `consensus` stays what the contract names."""

from __future__ import annotations

import consensus
from consensus import Ballot, Replica, ReplicaConfig, Role
from consensus.events import Tick


def test_public_names() -> None:
    assert sorted(consensus.__all__) == sorted(
        ["VARIANTS", "Ballot", "Entry", "Replica", "ReplicaConfig", "Role", "Timing"]
    )
    for name in consensus.__all__:
        assert getattr(consensus, name) is not None


def test_inspection_surface() -> None:
    r = Replica(ReplicaConfig(1, (1, 2, 3)), lambda label, n: 0)
    r.step(Tick(), 0)
    assert r.node_id == 1 and r.role is Role.FOLLOWER and r.role.value == "follower"
    assert r.promised == Ballot.ZERO and r.leader_ballot is None
    assert dict(r.accepted) == {} and r.commit_index == r.applied_index == r.recovery_slot == 0
    assert r.lease_until_us is None and not r.is_serving(0)
    assert r.state_fingerprint() == r.state_fingerprint()
    assert isinstance(r.state_fingerprint(), bytes)
