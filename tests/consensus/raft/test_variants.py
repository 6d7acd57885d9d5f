"""Must-fail and must-pass cases: each variant is caught (or shows its liveness defect)
where the correct protocol is not."""

from __future__ import annotations

import pytest

from consensus.raft import Role
from tests.consensus.raft.driver import Driver, Faults
from tests.consensus.raft.group import Checker, Group, Violation
from tests.consensus.raft.schedules import config_bug, figure8


def test_figure8_schedule_is_safe_with_the_own_term_commit_rule() -> None:
    g = figure8(None)
    assert g.node(4).role is not Role.LEADER  # 1 and 2 hold an entry of term 3
    assert g.node(1).commit_index == 3


def test_commit_old_term_breaks_leader_completeness_on_figure8() -> None:
    with pytest.raises(Violation, match="leader completeness"):
        figure8("commit-old-term")


def test_commit_old_term_breaks_state_machine_safety_on_figure8() -> None:
    with pytest.raises(Violation, match="state machine safety"):
        figure8("commit-old-term", Checker(leader_completeness=False))


def test_config_change_waits_for_own_term_commit() -> None:
    g, won = config_bug(None)
    assert not won
    assert g.node(1).members == (1, 2, 3)


def test_single_server_change_bug_loses_a_committed_entry() -> None:
    with pytest.raises(Violation, match="leader completeness"):
        config_bug("single-server-change-bug")
    with pytest.raises(Violation, match="state machine safety"):
        config_bug("single-server-change-bug", Checker(leader_completeness=False))


def _partition_run(variant: str | None, cut: set[tuple[str, str]]) -> tuple[Group, int, int]:
    """Elect a leader, block the links ``cut`` names (L: the leader, A and B: the others)
    for 10 s, heal for 3 s. Returns the group, term bumps during the cut and after it."""
    g = Group((0, 1, 2), variant=variant, seed=3)
    d = Driver(g, 3, Faults(drop=0.0, dup=0.0, chaos=False))
    d.run(3_000_000)
    (leader,) = g.leaders()
    other = [i for i in g.ids if i != leader]
    names = {"L": leader, "A": other[0], "B": other[1]}
    d.blocked = {(names[a], names[b]) for a, b in cut}
    before = g.term_bumps
    d.until(13_000_000)
    during = g.term_bumps - before
    d.blocked = set()
    before = g.term_bumps
    d.until(16_000_000)
    return g, during, g.term_bumps - before


CUT_A = {("L", "A"), ("A", "L")}


def test_prevote_keeps_a_node_cut_from_the_leader_from_bumping_terms() -> None:
    g, during, after = _partition_run(None, CUT_A)
    assert during == 0 and after == 0
    assert len(g.leaders()) == 1


def test_no_prevote_cut_node_bumps_its_term_and_deposes_the_leader_on_healing() -> None:
    _, during, after = _partition_run("no-prevote", CUT_A)
    assert during >= 5  # a fresh term every election timeout, refused by the lease holder
    assert after >= 1  # its higher term reaches the leader, which steps down


CUT_L = {("L", "A"), ("A", "L"), ("L", "B"), ("B", "L")}


def _stale_leadership(variant: str | None) -> tuple[int, int]:
    """Isolate the leader for 10 s; return (steps it still led, steps in total)."""
    g = Group((0, 1, 2), variant=variant, seed=4)
    d = Driver(g, 4, Faults(drop=0.0, dup=0.0, chaos=False))
    d.run(3_000_000)
    (leader,) = g.leaders()
    others = [i for i in g.ids if i != leader]
    d.blocked = {(leader, o) for o in others} | {(o, leader) for o in others}
    d.until(4_500_000)  # CheckQuorum's window is one election timeout
    stale = g.node(leader).role is Role.LEADER
    d.until(13_000_000)
    still = g.node(leader).role is Role.LEADER
    new = [i for i in g.leaders() if i != leader]
    return int(stale) + int(still), len(new)


def test_check_quorum_steps_an_isolated_leader_down() -> None:
    stale, new = _stale_leadership(None)
    assert stale == 0 and new == 1


def test_no_check_quorum_leaves_an_isolated_leader_in_place() -> None:
    stale, new = _stale_leadership("no-check-quorum")
    assert stale == 2 and new == 1  # two leaders (different terms) for the whole cut
