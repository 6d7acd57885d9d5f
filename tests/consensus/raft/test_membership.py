"""Learners and single-server membership changes (configurations apply when appended)."""

from __future__ import annotations

import pytest

from consensus.effects import Send
from consensus.events import ClientWrite, Receive, Reconfigure, Tick
from consensus.raft import RaftConfig, RaftReplica, Role
from consensus.raft.leader import next_step
from consensus.raft.log import Members
from consensus.raft.messages import AppendEntries, RequestVote
from tests.consensus.raft.group import TIMING, Group
from tests.consensus.raft.schedules import campaign
from tests.consensus.raft.test_elections import sends
from tests.consensus.raft.test_replication import T0

HB = TIMING.heartbeat_interval_us


def with_learner() -> Group:
    g = Group((0, 1, 2), learners=(3,))
    won, _ = campaign(g, 0, lambda m: True, 0)
    assert won
    return g


def test_a_learner_never_votes_never_campaigns_but_gets_the_log() -> None:
    g = with_learner()
    learner = g.node(3)
    assert learner.role is Role.LEARNER
    assert list(learner.log_entries()) == list(g.node(0).log_entries())
    g.outbox = []
    effects = learner.step(Tick(), 10**9)
    assert not sends(effects) and learner.role is Role.LEARNER
    for pre in (True, False):
        msg = RequestVote(term=9, last_index=99, last_term=9, pre_vote=pre)
        out = g.step(3, Receive(src=1, msg=msg), 10**9)
        assert [s.msg.granted for s in sends(out)] == [False]


def test_a_learner_does_not_count_towards_commit() -> None:
    g = with_learner()
    t = 4 * T0
    g.step(0, ClientWrite(client_id=1, request_id=1, command=b"x"), t)
    g.pump(t, lambda m: m.src in (0, 3) and m.dst in (0, 3))  # only the learner answers
    assert g.node(3).log.last_index == g.node(0).log.last_index
    assert g.node(0).commit_index < g.node(0).log.last_index


def test_candidates_ask_voters_only() -> None:
    cfg = RaftConfig(node_id=0, members=(0, 1, 2), learners=(3,), timing=TIMING)
    n = RaftReplica(cfg, lambda label, k: 0)
    n.step(Tick(), 0)
    effects = n.step(Tick(), T0)
    assert sorted(s.dst for s in effects if isinstance(s, Send)) == [1, 2]


def test_next_step_changes_one_voter_at_a_time_additions_first() -> None:
    cur = Members((0, 1, 2), (3,))
    target = Members((0, 3, 4), ())
    path = [cur]
    while path[-1] != target:
        path.append(next_step(path[-1], target))
        assert len(set(path[-2].voters) ^ set(path[-1].voters)) <= 1
        assert len(path) < 10
    assert path[1] == Members((0, 1, 2, 3), ())  # the learner promoted first
    assert path[2] == Members((0, 1, 2, 3, 4), ())


def test_reconfigure_adds_a_voter_that_applies_on_append() -> None:
    g = Group((0, 1, 2), extra=(3,))
    won, t = campaign(g, 0, lambda m: True, 0)
    assert won
    g.tick(0, t + HB)
    g.pump(t + HB)
    g.step(0, Reconfigure(storage=(0, 1, 2, 3)), t + HB + 1)
    assert g.node(0).members == (0, 1, 2, 3)  # in force when appended
    g.tick(0, t + 2 * HB)
    g.pump(t + 2 * HB, lambda m: m.src != 0 or m.dst != 1)  # 1 misses it for now
    assert g.node(2).members == (0, 1, 2, 3)
    assert g.node(1).members == (0, 1, 2)
    assert g.node(3).members == (0, 1, 2, 3) and g.node(3).role is Role.FOLLOWER
    assert g.node(0).commit_index == g.node(0).log.last_index  # 0, 2, 3 are a quorum of 4


def test_reconfigure_waits_until_an_entry_of_the_leaders_term_commits() -> None:
    g = Group((0, 1, 2), extra=(3,))
    won, t = campaign(g, 0, lambda m: not isinstance(m.msg, AppendEntries), 0)
    assert won and g.node(0).commit_index == 0
    g.outbox = []
    g.step(0, Reconfigure(storage=(0, 1, 2, 3)), t + 1)
    assert g.node(0).members == (0, 1, 2)  # not yet: its no-op is uncommitted
    g.tick(0, t + HB)
    g.pump(t + HB)
    g.tick(0, t + 2 * HB)
    g.pump(t + 2 * HB)
    assert g.node(0).members == (0, 1, 2, 3)


def test_bug_variant_changes_config_at_once() -> None:
    g = Group((0, 1, 2), extra=(3,), variant="single-server-change-bug")
    won, t = campaign(g, 0, lambda m: not isinstance(m.msg, AppendEntries), 0)
    assert won and g.node(0).commit_index == 0
    g.step(0, Reconfigure(storage=(0, 1, 2, 3)), t + 1)
    assert g.node(0).members == (0, 1, 2, 3)


def test_one_change_at_a_time_and_the_leader_never_removes_itself() -> None:
    g = Group((0, 1, 2), extra=(3, 4))
    won, t = campaign(g, 0, lambda m: True, 0)
    assert won
    g.step(0, Reconfigure(storage=(1, 2, 3)), t + 1)
    assert g.node(0).members == (0, 1, 2)
    g.outbox = []
    g.step(0, Reconfigure(storage=(0, 1, 2, 3, 4)), t + 2)
    assert g.node(0).members == (0, 1, 2, 3)  # 4 waits for this one to commit
    g.pump(t + 2, lambda m: False)
    g.tick(0, t + HB)
    assert g.node(0).members == (0, 1, 2, 3)
    for k in range(2, 6):
        g.tick(0, t + k * HB)
        g.pump(t + k * HB)
    assert g.node(0).members == (0, 1, 2, 3, 4)
    with pytest.raises(ValueError, match="bad raft configuration"):
        g.step(0, Reconfigure(storage=(), logs=(1,)), t + 10 * HB)
