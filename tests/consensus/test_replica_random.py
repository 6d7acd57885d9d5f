"""Random delivery orders, drops, duplicates, crashes and ticks for 3 nodes (hypothesis).

Checked after every action: S1 (one value per chosen slot: every replica's entries at slots
<= its commit index agree with every other's), S2 (applied prefixes agree), S3 (promises never
go backwards, across restarts too), S6 (at most one replica serving: all clocks here move
together, so each local clock is true time), write replies name the slot holding that write;
and after healing, liveness: a leader serves and all replicas converge.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus import Ballot
from consensus.effects import Reply
from tests.consensus.group import Group

ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(
            ["deliver", "deliver", "drop", "dup", "time", "run", "run", "isolate", "pause",
             "write", "write", "write", "crash", "restart", "compact"]
        ),
        st.integers(0, 1000),
        st.integers(0, 1000),
    ),
    min_size=30,
    max_size=150,
)


class Checker:
    def __init__(self, g: Group) -> None:
        self.g = g
        self.chosen: dict[int, bytes] = {}
        self.applied: dict[int, bytes] = {}
        self.promised: dict[int, Ballot] = {i: Ballot.ZERO for i in g.members}
        self.writes: dict[tuple[int, int], bytes] = {}
        g.on_apply = self.on_apply

    def on_apply(self, node: int, slot: int, command: bytes) -> None:
        first = self.applied.setdefault(slot, command)
        assert first == command, f"S2: node={node} slot={slot} {command!r} != {first!r}"

    def check(self) -> None:
        for i, n in self.g.nodes.items():
            if not n.alive:
                continue
            r = n.replica
            assert r.promised >= self.promised[i], f"S3: node={i}"
            self.promised[i] = r.promised
            for s, e in r.accepted.items():
                if s <= r.commit_index:
                    first = self.chosen.setdefault(s, e.command)
                    assert first == e.command, f"S1: node={i} slot={s}"
            for s, cmd in n.sm.items():
                first = self.applied.setdefault(s, cmd)
                assert first == cmd, f"S2: node={i} slot={s}"
            for rep in n.replies:
                if rep.slot is not None:
                    assert n.sm.get(rep.slot) == self.writes[(rep.client_id, rep.request_id)]
            n.replies.clear()
        serving = [i for i, n in self.g.nodes.items()
                   if n.alive and n.replica.is_serving(n.clock_us)]
        assert len(serving) <= 1, f"S6: serving={serving}"


def _dropper(g: Group, per_2000: int) -> Callable[[int, int, object], bool]:
    return lambda src, dst, msg: g.rng.randrange(2000) < per_2000


def _cutter(node: int) -> Callable[[int, int, object], bool]:
    return lambda src, dst, msg: node in (src, dst)


def run_actions(
    actions: list[tuple[str, int, int]], variant: str | None = None, n: int = 3
) -> Checker:
    g = Group(n, seed=len(actions), variant=variant)
    c = Checker(g)
    write_no = 0
    for kind, a, b in actions:
        node = g.members[a % n]
        if kind == "write" and g.nodes[node].alive:
            write_no += 1
            cmd = b"c%d" % write_no
            c.writes[(1, write_no)] = cmd
            g.write(node, 1, write_no, cmd)
        else:
            apply_fault(g, kind, node, a, b)
        c.check()
    return c


def apply_fault(g: Group, kind: str, node: int, a: int, b: int) -> None:
    """Perform a schedule action other than a client request or a reconfiguration
    (shared with the membership schedules); one that does not apply now does nothing."""
    if kind in ("deliver", "drop", "dup") and g.network:
        idx = b % len(g.network)
        if kind == "deliver":
            g.deliver(idx)
        elif kind == "drop":
            g.network.pop(idx)
        else:
            g.network.append(g.network[idx])
    elif kind == "run":
        # deliver everything in flight (dropping about b/2000 of it), then a timer fires
        g.run(a * 300, drop=_dropper(g, b))
    elif kind == "isolate":
        # a partition: node ``node`` is cut off while time runs
        g.run(b * 300, drop=_cutter(node))
    elif kind == "pause":
        # node ``node`` is paused (its clock runs on, it handles nothing) while time runs
        g.paused = {node}
        g.run(b * 300)
        g.paused = set()
    elif kind == "time":
        g.advance(b * 200)
        g.tick_due()
    elif kind == "crash" and g.nodes[node].alive:
        g.crash(node)
    elif kind == "restart" and not g.nodes[node].alive:
        g.restart(node)
    elif kind == "compact" and g.nodes[node].alive:
        g.compact(node)


def heal_and_check(c: Checker) -> None:
    g = c.g
    for i in g.members:
        if not g.nodes[i].alive:
            g.restart(i)
    leader = g.elect(max_us=20_000_000)
    g.write(leader, 2, 1, b"final")
    c.writes[(2, 1)] = b"final"
    g.run(500_000)
    c.check()
    sms = [n.sm for n in g.nodes.values()]
    assert all(sm == sms[0] for sm in sms)
    applied = {n.applied_slot for n in g.nodes.values()}
    assert len(applied) == 1
    assert b"final" in sms[0].values()
    assert any(isinstance(e, Reply) and e.slot for e in g.nodes[leader].effects)


@given(ACTIONS)
def test_random_schedules_keep_s1_s2_s3_s6_and_converge(
    actions: list[tuple[str, int, int]],
) -> None:
    heal_and_check(run_actions(actions))


@pytest.mark.slow
@settings(max_examples=1000)
@given(ACTIONS)
def test_random_schedules_five_nodes(actions: list[tuple[str, int, int]]) -> None:
    heal_and_check(run_actions(actions, n=5))
