"""The names and shapes the harness registry relies on (kept exactly)."""

from __future__ import annotations

import attrs
import pytest

from consensus.config import Timing
from consensus.events import Tick
from consensus.raft import VARIANTS, RaftConfig, RaftReplica, Role, make_replica
from consensus.raft import messages as m
from tests.consensus.raft.test_replication import T0, elected


def test_views_of_a_leader_and_a_follower() -> None:
    g = elected()
    lead, follower = g.node(0), g.node(1)
    assert {r.value for r in Role} == {"leader", "follower", "candidate", "learner"}
    assert (lead.node_id, lead.role.value, lead.term, lead.voted_for) == (0, "leader", 1, 0)
    assert (lead.commit_index, lead.applied_index) == (1, 1)
    assert list(lead.log_entries()) == [(1, 1, b"")]
    assert (lead.first_index, lead.snapshot_index) == (1, 0)
    assert lead.members == (0, 1, 2) and lead.learners == ()
    assert lead.is_serving and lead.lease_until_us > g.local(0, T0)
    assert follower.role.value == "follower" and not follower.is_serving
    assert follower.lease_until_us == 0
    assert isinstance(lead.state_fingerprint(), bytes)
    assert isinstance(lead.clone(), RaftReplica)


def test_make_replica_takes_the_backend_keywords_and_ignores_extras() -> None:
    n = make_replica(node_id=2, members=(0, 1, 2), timing=Timing(), variant="no-prevote",
                     choose=lambda label, k: 0, records=[], applied_slot=0, window=8,
                     snapshot_chunk_bytes=1024, log_members=(), spares=(), log_spares=(),
                     replica_dead_after_us=0)
    assert n.config == RaftConfig(node_id=2, members=(0, 1, 2), timing=Timing(),
                                  variant="no-prevote")
    assert n.step(Tick(), 0)


def test_config_validation() -> None:
    assert VARIANTS == ("no-prevote", "no-check-quorum", "commit-old-term",
                        "single-server-change-bug")
    for bad in ({"members": ()}, {"members": (2, 1)}, {"members": (0, 1), "learners": (1,)},
                {"members": (0,), "variant": "nope"}):
        with pytest.raises(ValueError):
            RaftConfig(node_id=0, **bad)


@pytest.mark.parametrize("cls", [m.RequestVote, m.RequestVoteResponse, m.AppendEntries,
                                 m.AppendEntriesResponse, m.InstallSnapshot])
def test_messages_are_frozen_slotted_attrs(cls: type) -> None:
    assert attrs.has(cls) and "__slots__" in vars(cls)
    fields = attrs.fields(cls)
    msg = cls(**{f.name: (() if f.name == "entries" else b"" if f.name in ("config", "data")
                          else 0) for f in fields})
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        msg.term = 1  # type: ignore[attr-defined]
