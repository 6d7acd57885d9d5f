"""Random schedules with membership changes (hypothesis): S1, S2, S3, S6 and S12 hold for the
correct protocol, and the one-step-swap variant loses a chosen value (S1).

The group: storage replicas 1-3, a storage spare 4 and a log spare 5. A ``reconfig`` action
asks the current leader (if any) to move to one of `TARGETS`; crashes, partitions, pauses,
drops and compaction interleave with the changes, so leaders crash mid-change.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from consensus.events import Reconfigure
from consensus.membership import decode_config, is_config
from consensus.quorum import Membership, quorums_intersect
from tests.consensus.group import Group
from tests.consensus.test_replica_random import Checker, _cutter, apply_fault

TARGETS = (
    Membership((1, 2, 3)),
    Membership((1, 2, 3), (5,)),
    Membership((1, 2, 4), (5,)),
    Membership((1, 2), (5,)),
    Membership((2, 3, 4)),
    Membership((1, 3), (5,)),
)

ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(
            ["deliver", "deliver", "drop", "run", "run", "run", "isolate", "pause", "write",
             "write", "crash", "restart", "compact", "reconfig", "reconfig"]
        ),
        st.integers(0, 1000),
        st.integers(0, 1000),
    ),
    min_size=30,
    max_size=150,
)


class MembershipChecker(Checker):
    """Adds S12 over the chosen log: consecutive chosen configurations' quorums intersect."""

    def __init__(self, g: Group, *, s12: bool = True) -> None:
        super().__init__(g)
        self.s12 = s12

    def check(self) -> None:
        super().check()
        if not self.s12:
            return
        chain = [Membership(self.g.storage)]
        chain += [decode_config(c) for _, c in sorted(self.chosen.items()) if is_config(c)]
        for a, b in itertools.pairwise(chain):
            assert quorums_intersect(a, b), f"S12: chosen {a} then {b}"


def run_membership_actions(
    actions: list[tuple[str, int, int]], variant: str | None = None, *, s12: bool = True,
    group: type[Group] = Group,
) -> MembershipChecker:
    g = group(3, spares=1, log_spares=1, seed=len(actions), variant=variant)
    c = MembershipChecker(g, s12=s12)
    n = len(g.members)
    write_no = 0
    for kind, a, b in actions:
        node = g.members[a % n]
        if kind == "write" and g.nodes[node].alive:
            node = g.leader() or node  # most writes reach the leader, as clients retry there
            write_no += 1
            cmd = b"c%d" % write_no
            c.writes[(1, write_no)] = cmd
            g.write(node, 1, write_no, cmd)
        elif kind == "reconfig":
            leader = g.leader()
            target = TARGETS[b % len(TARGETS)]
            if leader is not None:
                g.step(leader, Reconfigure(storage=target.storage, logs=target.logs))
        else:
            apply_fault(g, kind, node, a, b)
        c.check()
    return c


def heal_and_check(c: MembershipChecker) -> None:
    g = c.g
    for i in g.members:
        if not g.nodes[i].alive:
            g.restart(i)
    leader = g.elect(max_us=20_000_000)
    g.write(leader, 2, 1, b"final")
    c.writes[(2, 1)] = b"final"
    g.run(1_000_000)
    c.check()
    cfg = g.replica(leader).committed_membership
    sms = [g.nodes[i].sm for i in cfg.storage]
    assert all(sm == sms[0] for sm in sms)
    assert b"final" in sms[0].values()
    for i in cfg.logs:
        assert g.nodes[i].sm == {} and g.replica(i).commit_index >= g.replica(leader).applied_index


@given(ACTIONS)
def test_membership_changes_keep_s1_s2_s3_s6_s12_and_converge(
    actions: list[tuple[str, int, int]],
) -> None:
    heal_and_check(run_membership_actions(actions))


@pytest.mark.slow
@settings(max_examples=1000)
@given(ACTIONS)
def test_membership_changes_many_schedules(actions: list[tuple[str, int, int]]) -> None:
    heal_and_check(run_membership_actions(actions))


def test_one_step_swap_breaks_s12_in_random_schedules() -> None:
    """Within a few hundred random schedules the unsafe variant chooses a configuration whose
    quorums miss its predecessor's (S12)."""
    found: list[str] = []

    @settings(max_examples=300, database=None, phases=[Phase.generate])
    @given(ACTIONS)
    def search(actions: list[tuple[str, int, int]]) -> None:
        try:
            run_membership_actions(actions, "one-step-swap")
        except AssertionError as exc:
            found.append(str(exc))
            raise

    with pytest.raises(AssertionError, match="S12"):
        search()
    assert found and found[0].startswith("S12")


@pytest.mark.parametrize("variant", [None, "one-step-swap"])
def test_swapping_a_dead_replica_for_a_log_replica(variant: str | None) -> None:
    """The dead replica D is swapped for log replica 5 while the other follower X misses the
    change; the leader commits with the log replica, then crashes; D comes back. One-step:
    X and D form an old quorum, never see the change and overwrite chosen slots (S1/S2).
    One voter at a time: the same schedule keeps every chosen value and makes progress."""
    g = Group(3, spares=1, log_spares=1, variant=variant)
    c = MembershipChecker(g, s12=False)
    leader = g.elect()
    x, dead = [i for i in g.storage if i != leader]
    c.writes[(1, 1)] = b"a"
    g.write(leader, 1, 1, b"a")
    g.run(50_000)
    g.crash(dead)
    g.step(leader, Reconfigure(storage=tuple(sorted({leader, x})), logs=(5,)))
    g.run(300_000, drop=_cutter(x))
    c.check()
    c.writes[(1, 2)] = b"b"
    g.write(leader, 1, 2, b"b")
    g.run(100_000, drop=_cutter(x))
    c.check()
    g.crash(leader)
    g.restart(dead)
    violation = None
    try:
        for k in range(100):
            g.run(50_000)
            c.check()
            now = g.leader()
            if now is not None and k % 10 == 0:
                c.writes[(3, k)] = b"x%d" % k
                g.write(now, 3, k, b"x%d" % k)
    except AssertionError as exc:
        violation = str(exc)
    if variant is None:
        assert violation is None
        assert g.replica(x).commit_index >= 10
    else:
        assert violation is not None and violation.startswith(("S1", "S2")), violation
