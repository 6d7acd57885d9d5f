"""Raft's own online checks (`harness.checks.raft`): each on steps that must pass and steps
that must fail, with fake views and Raft's real messages; and one planted persistence bug
caught through the simulator."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from consensus.effects import Persist, Send
from consensus.events import Receive
from consensus.raft import RaftReplica
from consensus.raft import make_replica as make_raft
from consensus.raft.messages import AppendEntries, RequestVote, RequestVoteResponse
from harness.checks.raft import RaftInvariants
from harness.checks.violation import Violation
from harness.runtime import protocols
from harness.sim import run
from harness.sim.runspec import RunOptions
from tests.consensus.raft.group import Checker
from tests.consensus.raft.group import Violation as GroupViolation
from tests.consensus.raft.schedules import config_bug, figure8


@attrs.define
class Role:
    value: str = "follower"


@attrs.define
class View:
    term: int = 0
    voted_for: int | None = None
    commit_index: int = 0
    role: Role = attrs.Factory(Role)
    is_serving: bool = False
    lease_until_us: int = 0
    terms: dict[int, int] = attrs.Factory(dict)  # the log: index -> term
    snapshot_index: int = 0
    members: tuple[int, ...] = (0, 1, 2)

    def term_at(self, index: int) -> int | None:
        return self.terms.get(index)


def _step(inv: RaftInvariants, node: int, view: View, *effects: Any) -> Violation | None:
    return inv.on_step(node, view, None, list(effects), 0, 0, 1)


def _prop(v: Violation | None) -> str | None:
    return None if v is None else v.property


def test_terms_and_votes_moving_forward_pass() -> None:
    inv = RaftInvariants()
    assert _step(inv, 0, View(term=1, voted_for=0)) is None
    assert _step(inv, 0, View(term=1, voted_for=0, commit_index=2)) is None
    assert _step(inv, 0, View(term=2, voted_for=None, commit_index=2)) is None
    assert _step(inv, 0, View(term=2, voted_for=1, commit_index=3)) is None


def test_term_going_back_or_a_second_vote_in_a_term_is_s3() -> None:
    inv = RaftInvariants()
    assert _step(inv, 0, View(term=3)) is None
    assert _prop(_step(inv, 0, View(term=2))) == "S3"
    inv = RaftInvariants()
    assert _step(inv, 0, View(term=3, voted_for=1)) is None
    assert _prop(_step(inv, 0, View(term=3, voted_for=2))) == "S3"


def test_commit_index_going_back_is_s4_but_a_restart_resets_it() -> None:
    inv = RaftInvariants()
    assert _step(inv, 0, View(commit_index=5)) is None
    assert _prop(_step(inv, 0, View(commit_index=4))) == "S4"
    inv = RaftInvariants()
    assert _step(inv, 0, View(commit_index=5)) is None
    assert inv.on_recover(0, View(commit_index=0), 1, 1) is None
    assert _step(inv, 0, View(commit_index=1)) is None


def test_two_leaders_of_one_term_are_s16() -> None:
    inv = RaftInvariants()
    leader = Role("leader")
    assert _step(inv, 0, View(term=1, role=leader)) is None
    assert _step(inv, 1, View(term=2, role=leader)) is None  # another term: fine
    assert _step(inv, 0, View(term=1, role=leader)) is None  # the same leader again
    v = _step(inv, 2, View(term=1, role=leader))
    assert _prop(v) == "S16" and v is not None and "nodes 0 and 2 both led term 1" in v.message


def _receive(inv: RaftInvariants, node: int, view: View, src: int,
             msg: Any) -> Violation | None:
    return inv.on_step(node, view, Receive(src=src, msg=msg), [], 0, 0, 1)


_LEADER = Role("leader")


_GRANT = RequestVoteResponse(term=2, granted=True, pre_vote=True)
_REFUSAL = RequestVoteResponse(term=1, granted=False)
_FIVE = (0, 1, 2, 3, 4)


def test_a_leader_deposed_by_a_term_raised_unanswered_is_s18() -> None:
    inv = RaftInvariants()
    assert _step(inv, 0, View(term=1, role=_LEADER)) is None
    assert _step(inv, 1, View(term=1)) is None
    assert _receive(inv, 1, View(term=1), 2, _REFUSAL) is None  # a refusal: no licence
    assert _step(inv, 1, View(term=2)) is None  # a timeout: an unanswered raise
    vote = RequestVote(term=2, last_index=0, last_term=0)
    v = _receive(inv, 0, View(term=2), 1, vote)
    assert _prop(v) == "S18" and v is not None
    assert "leader 0 of term 1 deposed by term 2: node 1 raised its term from 1 to 2 " \
        "with votes granted by no peer" in v.message


def test_a_raise_after_a_quorum_granted_or_taken_from_a_peer_deposes_legitimately() -> None:
    inv = RaftInvariants()
    assert _step(inv, 0, View(term=1, role=_LEADER)) is None
    assert _step(inv, 1, View(term=1)) is None
    assert _receive(inv, 1, View(term=2), 2, _GRANT) is None  # a pre-vote quorum: 1 and 2
    assert _receive(inv, 2, View(term=2), 1, RequestVote(term=2, last_index=0,
                                                          last_term=0)) is None  # taken
    grant = RequestVoteResponse(term=2, granted=True)
    assert _receive(inv, 2, View(term=2), 0, grant) is None  # granted since that raise
    assert _step(inv, 2, View(term=3)) is None  # granted by 0 and itself
    assert _receive(inv, 0, View(term=3), 2, RequestVote(term=3, last_index=0,
                                                         last_term=0)) is None


def test_s18_counts_grants_of_voters_only() -> None:
    inv = RaftInvariants()
    assert _step(inv, 0, View(term=1, role=_LEADER, members=_FIVE)) is None
    assert _step(inv, 1, View(term=1, members=_FIVE)) is None
    assert _receive(inv, 1, View(term=1, members=_FIVE), 5, _GRANT) is None  # a learner
    assert _receive(inv, 1, View(term=1, members=_FIVE), 2, _GRANT) is None
    assert _receive(inv, 1, View(term=1, members=_FIVE), 3, _REFUSAL) is None
    # granted by 1 and 2, two of five: a quorum is three
    assert _step(inv, 1, View(term=2, members=_FIVE)) is None
    v = _receive(inv, 0, View(term=2, members=_FIVE), 1, None)
    assert _prop(v) == "S18"


def test_an_unanswered_raise_that_deposes_nobody_is_not_reported() -> None:
    inv = RaftInvariants()
    assert _step(inv, 1, View(term=0)) is None
    assert _step(inv, 1, View(term=1)) is None  # a first election without PreVote
    assert _step(inv, 1, View(term=1, role=_LEADER)) is None
    assert _step(inv, 0, View(term=0)) is None
    assert _receive(inv, 0, View(term=1), 1, None) is None  # a follower, not a leader
    inv = RaftInvariants()  # a leader that stepped down before the term came is not deposed
    assert _step(inv, 0, View(term=1, role=_LEADER)) is None
    assert _step(inv, 0, View(term=1)) is None
    assert _step(inv, 1, View(term=1)) is None
    assert _step(inv, 1, View(term=2)) is None
    assert _receive(inv, 0, View(term=2), 1, None) is None


def test_a_restart_forgets_the_grants_before_it() -> None:
    inv = RaftInvariants()
    assert _step(inv, 0, View(term=1, role=_LEADER)) is None
    assert _step(inv, 1, View(term=1)) is None
    assert _receive(inv, 1, View(term=1), 2, _GRANT) is None
    assert inv.on_recover(1, View(term=1), 0, 1) is None  # what 1 was granted is gone
    assert _step(inv, 1, View(term=2)) is None
    assert _prop(_receive(inv, 0, View(term=2), 1, None)) == "S18"


@pytest.mark.parametrize(("variant", "verdict"), [(None, "ok"), ("no-prevote", "violation")])
def test_no_prevote_is_caught_by_s18_in_the_simulator(variant: str | None, verdict: str) -> None:
    """Seed 22 of the default faults: an isolated node raises its term unanswered and
    deposes the leader of term 1 when the partition heals."""
    result = run(RunOptions(seed=22, protocol="raft", variant=variant), keep_trace=False)
    assert result.verdict == verdict, result.violation
    assert variant is None or (result.violation is not None
                               and result.violation.property == "S18")


def test_leaders_holding_every_committed_entry_pass_s17() -> None:
    inv = RaftInvariants()
    log = {1: 1, 2: 1, 3: 2}
    assert _step(inv, 0, View(term=2, commit_index=3, terms=log)) is None
    assert _step(inv, 1, View(term=2, commit_index=2, terms=log)) is None  # agrees
    # a later leader holding the entries, one of them only in its snapshot
    assert _step(inv, 2, View(term=3, role=Role("leader"), terms={3: 2, 4: 3},
                              snapshot_index=2)) is None
    # a leader of the term the entries were committed in (votes granted before) owes nothing
    inv = RaftInvariants()
    assert _step(inv, 0, View(term=4, commit_index=1, terms={1: 4})) is None
    assert _step(inv, 1, View(term=4, role=Role("leader"), terms={})) is None


def test_a_later_leader_without_a_committed_entry_is_s17() -> None:
    inv = RaftInvariants()
    assert _step(inv, 0, View(term=4, commit_index=2, terms={1: 1, 2: 2})) is None
    v = _step(inv, 4, View(term=5, role=Role("leader"), terms={1: 1, 2: 3}))
    assert _prop(v) == "S17" and v is not None and v.slot == 2
    assert "without the committed entry of term 2 at index 2" in v.message
    inv = RaftInvariants()
    assert _step(inv, 0, View(term=4, commit_index=2, terms={1: 1, 2: 2})) is None
    v = _step(inv, 3, View(term=6, role=Role("leader"), terms={1: 1}))
    assert _prop(v) == "S17" and v is not None and "holds nothing" in v.message


def test_committing_another_entry_at_a_committed_index_is_s17() -> None:
    inv = RaftInvariants()
    assert _step(inv, 0, View(term=4, commit_index=2, terms={1: 1, 2: 2})) is None
    v = _step(inv, 1, View(term=5, commit_index=2, terms={1: 1, 2: 3}))
    assert _prop(v) == "S17" and v is not None and v.slot == 2


def test_restart_must_keep_the_term_and_vote_its_messages_promised() -> None:
    vote = Send(dst=2, msg=RequestVoteResponse(term=4, granted=True))
    inv = RaftInvariants()
    assert _step(inv, 1, View(term=4, voted_for=2), vote) is None
    assert inv.on_recover(1, View(term=4, voted_for=2), 1, 1) is None
    assert inv.on_recover(1, View(term=5, voted_for=None), 1, 1) is None  # later term: fine
    assert _prop(inv.on_recover(1, View(term=4, voted_for=None), 1, 1)) == "S3"
    assert _prop(inv.on_recover(1, View(term=3, voted_for=2), 1, 1)) == "S3"
    append = Send(dst=0, msg=AppendEntries(term=7, prev_index=0, prev_term=0, entries=(),
                                           commit=0, stamp_us=0))
    inv = RaftInvariants()
    assert _step(inv, 0, View(term=7), append) is None
    assert _prop(inv.on_recover(0, View(term=6), 1, 1)) == "S3"


def test_pre_votes_and_in_memory_state_promise_nothing_across_a_restart() -> None:
    inv = RaftInvariants()
    pre = Send(dst=1, msg=RequestVote(term=9, last_index=0, last_term=0, pre_vote=True))
    assert _step(inv, 0, View(term=3, voted_for=0), pre) is None  # never sent under term 3
    assert inv.on_recover(0, View(term=2), 1, 1) is None


class _ForgetsTerm(RaftReplica):
    """Planted bug: hard-state records (term and vote) are never persisted."""

    def step(self, event: Any, now_us: int) -> list[Any]:
        out = []
        for e in super().step(event, now_us):
            if type(e) is Persist:
                records = tuple(r for r in e.records if r[:1] != b"H")
                if not records:
                    continue
                e = Persist(records=records, checkpoint=e.checkpoint)
            out.append(e)
        return out


@pytest.fixture
def forgetful(monkeypatch: pytest.MonkeyPatch) -> None:
    def make(**kw: Any) -> RaftReplica:
        replica = make_raft(**kw)
        replica.__class__ = _ForgetsTerm
        return replica

    spec = attrs.evolve(protocols.get("raft"), name="raft-forgets", make_replica=make)
    monkeypatch.setitem(protocols.PROTOCOLS, "raft-forgets", spec)


@pytest.mark.usefixtures("forgetful")
def test_a_raft_that_does_not_persist_its_term_is_caught_in_the_simulator() -> None:
    found = []
    for seed in range(6):
        result = run(RunOptions(seed=seed, ops=200, faults=("crash",), protocol="raft-forgets"),
                     keep_trace=False)
        if result.violation is not None:
            found.append(result.violation.property)
    assert "S3" in found, found


def test_raft_runs_with_its_own_checks_and_the_shared_ones() -> None:
    spec = protocols.get("raft")
    assert spec.checks_label() == "shared + raft (S3, S4, S16, S17, S18)" and spec.explorer
    result = run(RunOptions(seed=0, protocol="raft"), keep_trace=False)
    assert result.verdict == "ok", result.violation
    assert result.ops["ok"] > 300


class _HarnessChecker(Checker):
    """The group driver's checker replaced by the harness's `RaftInvariants` (its own checks
    off), so the hand-built schedules exercise S17 on real replicas."""

    def __init__(self) -> None:
        super().__init__(leader_completeness=False)
        self.inv = RaftInvariants()
        self.nodes: dict[int, RaftReplica] = {}

    def check_node(self, n: RaftReplica) -> None:
        if self.nodes.get(n.node_id) is not n:
            if n.node_id in self.nodes:
                assert self.inv.on_recover(n.node_id, n, 0, 0) is None
            self.nodes[n.node_id] = n
        v = self.inv.on_step(n.node_id, n, None, [], 0, 0, 0)
        if v is not None:
            raise GroupViolation(v.message)

    def check_apply(self, node: int, index: int, command: bytes) -> None:
        """Only S17 here (State Machine Safety is the shared S2)."""


def test_s17_passes_the_hand_built_schedules_on_the_correct_raft() -> None:
    figure8(None, _HarnessChecker())
    _, won = config_bug(None, _HarnessChecker())
    assert not won


@pytest.mark.parametrize("schedule", [figure8, lambda v, c: config_bug(v, c)[0]])
def test_s17_catches_figure8_and_the_2015_bug_at_the_election(schedule: Any) -> None:
    variant = "commit-old-term" if schedule is figure8 else "single-server-change-bug"
    with pytest.raises(GroupViolation, match="S17: node 4 leads term" if schedule is figure8
                       else "S17: node 0 leads term"):
        schedule(variant, _HarnessChecker())
