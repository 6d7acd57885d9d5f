"""Elections: randomized timeouts through choose, PreVote, votes persisted before they
leave, one vote per term, up-to-date logs, lease refusal, CheckQuorum."""

from __future__ import annotations

from collections.abc import Sequence

from consensus.effects import Apply, Persist, Send, SetTimer
from consensus.events import Receive, Tick
from consensus.raft import RaftConfig, RaftReplica, Role
from consensus.raft.messages import AppendEntries, RequestVote, RequestVoteResponse
from consensus.raft.records import replay
from tests.consensus.raft.group import TIMING, Group

ET, L = TIMING.election_timeout_us, TIMING.lease_duration_us


def make(node: int, members: tuple[int, ...] = (0, 1, 2), pick: int = 0,
         records: tuple[bytes, ...] = (), variant: str | None = None) -> RaftReplica:
    asked: list[tuple[str, int]] = []

    def choose(label: str, n: int) -> int:
        asked.append((label, n))
        return min(pick, n - 1)

    node_ = RaftReplica(RaftConfig(node_id=node, members=members, timing=TIMING,
                                   variant=variant), choose, records=records)
    node_.asked = asked  # type: ignore[attr-defined]
    return node_


def sends(effects: Sequence[object]) -> list[Send]:
    return [e for e in effects if isinstance(e, Send)]


def test_election_timeout_is_drawn_through_choose() -> None:
    n = make(0, pick=1234)
    effects = n.step(Tick(), 0)
    assert effects == [SetTimer(at_us=ET + 1234)]
    assert n.asked == [("election.jitter", TIMING.election_jitter_us + 1)]  # type: ignore[attr-defined]
    assert n.step(Tick(), ET) == []  # an early tick is a no-op
    assert n.role is Role.FOLLOWER


def test_single_node_elects_itself_and_commits_its_noop() -> None:
    n = make(0, members=(0,))
    n.step(Tick(), 0)
    effects = n.step(Tick(), ET)
    assert n.role is Role.LEADER and n.term == 1 and n.voted_for == 0
    assert n.commit_index == 1 and n.applied_index == 1
    assert Apply(slot=1, command=b"") in effects
    first_apply = next(k for k, e in enumerate(effects) if isinstance(e, Apply))
    assert any(isinstance(e, Persist) for e in effects[:first_apply])


def test_prevote_asks_without_bumping_the_term() -> None:
    n = make(0)
    n.step(Tick(), 0)
    effects = n.step(Tick(), ET)
    assert n.role is Role.CANDIDATE and n.term == 0
    assert not any(isinstance(e, Persist) for e in effects)
    msgs = [s.msg for s in sends(effects)]
    assert msgs == [RequestVote(term=1, last_index=0, last_term=0, pre_vote=True)] * 2


def test_a_prevote_changes_nothing_at_the_receiver() -> None:
    n = make(1)
    n.step(Tick(), 0)
    effects = n.step(Receive(src=0, msg=RequestVote(term=5, last_index=0, last_term=0,
                                                    pre_vote=True)), 10)
    assert sends(effects)[0].msg == RequestVoteResponse(term=5, granted=True, pre_vote=True)
    assert n.term == 0 and n.voted_for is None
    assert not any(isinstance(e, Persist) for e in effects)
    assert (n.term, n.voted_for, n.role) == (0, None, Role.FOLLOWER)


def test_without_prevote_a_timeout_bumps_and_persists_the_term_before_asking() -> None:
    n = make(0, variant="no-prevote")
    n.step(Tick(), 0)
    effects = n.step(Tick(), ET)
    assert isinstance(effects[0], Persist)
    assert replay(effects[0].records).term == 1 and replay(effects[0].records).voted_for == 0
    assert sends(effects)[0].msg == RequestVote(term=1, last_index=0, last_term=0)


def test_vote_is_persisted_before_the_grant_leaves_and_given_once_per_term() -> None:
    n = make(1)
    n.step(Tick(), 0)
    effects = n.step(Receive(src=0, msg=RequestVote(term=1, last_index=0, last_term=0)), 10)
    assert isinstance(effects[0], Persist)
    state = replay(effects[0].records)
    assert (state.term, state.voted_for) == (1, 0)
    assert sends(effects)[0].msg == RequestVoteResponse(term=1, granted=True)
    again = n.step(Receive(src=2, msg=RequestVote(term=1, last_index=9, last_term=1)), 20)
    assert sends(again)[0].msg == RequestVoteResponse(term=1, granted=False)
    dup = n.step(Receive(src=0, msg=RequestVote(term=1, last_index=0, last_term=0)), 30)
    assert sends(dup)[0].msg == RequestVoteResponse(term=1, granted=True)


def test_vote_refused_to_a_candidate_with_an_older_log() -> None:
    n = make(1)
    n.step(Tick(), 0)
    n.step(Receive(src=0, msg=AppendEntries(term=2, prev_index=0, prev_term=0,
                                            entries=((2, b"x"),), commit=0, stamp_us=0)), 10)
    t = 10 + L + 1  # the lease it honours has run out
    effects = n.step(Receive(src=2, msg=RequestVote(term=3, last_index=5, last_term=1)), t)
    assert sends(effects)[0].msg == RequestVoteResponse(term=3, granted=False)
    assert n.term == 3 and n.voted_for is None


def test_a_node_honouring_a_lease_refuses_votes_without_adopting_the_term() -> None:
    n = make(1)
    n.step(Tick(), 0)
    n.step(Receive(src=0, msg=AppendEntries(term=1, prev_index=0, prev_term=0, entries=(),
                                            commit=0, stamp_us=0)), 100)
    for msg in (RequestVote(term=2, last_index=0, last_term=0),
                RequestVote(term=2, last_index=0, last_term=0, pre_vote=True)):
        effects = n.step(Receive(src=2, msg=msg), 100 + L - 1)
        assert sends(effects)[0].msg.granted is False
        assert n.term == 1 and n.voted_for is None
    effects = n.step(Receive(src=2, msg=RequestVote(term=2, last_index=0, last_term=0)),
                     100 + L)
    assert sends(effects)[0].msg == RequestVoteResponse(term=2, granted=True)


def test_a_node_honouring_a_lease_does_not_campaign() -> None:
    n = make(1)
    n.step(Tick(), 0)
    n.step(Receive(src=0, msg=AppendEntries(term=1, prev_index=0, prev_term=0, entries=(),
                                            commit=0, stamp_us=0)), 100)
    effects = n.step(Tick(), 100 + ET)  # its election timeout, inside the lease
    assert n.role is Role.FOLLOWER and not sends(effects)
    assert effects[-1].at_us >= 100 + L  # type: ignore[union-attr]


def test_a_restarted_node_assumes_it_honours_a_full_lease() -> None:
    n = make(1)
    n.step(Tick(), 0)
    effects = n.step(Receive(src=0, msg=RequestVote(term=1, last_index=0, last_term=0)), 0)
    records = tuple(r for e in effects if isinstance(e, Persist) for r in e.records)
    back = make(1, records=records)
    back.step(Tick(), 5_000)
    effects = back.step(Receive(src=2, msg=RequestVote(term=2, last_index=0, last_term=0)),
                        5_000 + L - 1)
    assert sends(effects)[0].msg.granted is False and back.term == 1 and back.voted_for == 0


def test_three_nodes_elect_exactly_one_leader() -> None:
    g = Group((0, 1, 2))
    g.tick(0, 2 * ET + TIMING.election_jitter_us)
    g.pump(2 * ET + TIMING.election_jitter_us)
    assert g.leaders() == [0]
    assert all(g.node(i).term == 1 and g.node(i).leader_id == 0 for i in (0, 1, 2))
    assert g.node(0).commit_index == 1  # its no-op, on all three
    assert all(list(g.node(i).log_entries()) == [(1, 1, b"")] for i in (0, 1, 2))


def test_check_quorum_leader_without_answers_steps_down() -> None:
    g = Group((0, 1, 2))
    t = 2 * ET + TIMING.election_jitter_us
    g.tick(0, t)
    g.pump(t)
    assert g.leaders() == [0]
    g.outbox = []
    g.tick(0, t + ET)  # nobody answered for an election timeout
    g.tick(0, t + 2 * ET)
    assert g.node(0).role is Role.FOLLOWER and g.node(0).term == 1


def test_without_check_quorum_the_leader_stays() -> None:
    g = Group((0, 1, 2), variant="no-check-quorum")
    t = 2 * ET + TIMING.election_jitter_us
    g.tick(0, t)
    g.pump(t)
    g.outbox = []
    for k in range(1, 20):
        g.tick(0, t + k * ET)
    assert g.node(0).role is Role.LEADER
