"""Configuration validation, variant flags, ballots, the role table."""

from __future__ import annotations

import attrs
import pytest

from consensus import VARIANTS, Ballot, ReplicaConfig, Role, Timing
from consensus.config import Flags
from consensus.roles import TRANSITIONS, check_transition


def test_ballots_order_by_round_then_node() -> None:
    assert Ballot.ZERO < Ballot(1, 0) < Ballot(1, 2) < Ballot(2, 1)
    assert sorted([Ballot(2, 1), Ballot(1, 3), Ballot(1, 2)]) == [
        Ballot(1, 2), Ballot(1, 3), Ballot(2, 1)]
    with pytest.raises(ValueError, match="round"):
        Ballot(-1, 0)


def test_config_validates() -> None:
    with pytest.raises(ValueError, match="node must be a member"):
        ReplicaConfig(node_id=4, members=(1, 2, 3))
    with pytest.raises(ValueError, match="unknown variant"):
        ReplicaConfig(node_id=1, members=(1, 2, 3), variant="fast")
    with pytest.raises(ValueError, match="sorted"):
        ReplicaConfig(node_id=1, members=(2, 1))
    with pytest.raises(ValueError, match="window"):
        ReplicaConfig(node_id=1, members=(1,), window=0)
    with pytest.raises(ValueError, match="drift_bound_ppm"):
        Timing(drift_bound_ppm=1_000_000)
    t = Timing()
    assert (t.heartbeat_interval_us, t.election_timeout_us, t.election_jitter_us,
            t.lease_duration_us, t.drift_bound_ppm) == (50_000, 500_000, 500_000, 1_000_000,
                                                        10_000)


def test_each_variant_turns_off_exactly_one_flag() -> None:
    nominal = Flags()
    assert all(getattr(nominal, f) for f in ("lease_wait", "majority_commit",
                                             "persist_promise", "strong_read_needs_lease"))
    seen = set()
    for v in VARIANTS:
        flags = ReplicaConfig(node_id=1, members=(1,), variant=v).flags
        off = [k for k, val in attrs.asdict(flags).items() if not val]
        assert len(off) == 1
        seen.add(off[0])
    assert len(seen) == len(VARIANTS)


def test_role_table() -> None:
    check_transition(Role.CANDIDATE, Role.LEADER)
    with pytest.raises(RuntimeError, match="from=follower to=leader"):
        check_transition(Role.FOLLOWER, Role.LEADER)
    with pytest.raises(RuntimeError):
        check_transition(Role.LEADER, Role.CANDIDATE)
    assert all(new is not Role.LEADER or old is Role.CANDIDATE for old, new in TRANSITIONS)
