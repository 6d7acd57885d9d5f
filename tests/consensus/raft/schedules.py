"""Hand-built schedules on a `Group`: elect a chosen node among chosen peers, write, crash.

Time jumps of several seconds between phases let every lease expire, so only the messages a
schedule lets through decide who wins.
"""

from __future__ import annotations

from consensus.events import ClientWrite, Reconfigure
from consensus.raft import Role
from consensus.raft.messages import AppendEntries, RequestVote, RequestVoteResponse
from tests.consensus.raft.group import Checker, Group, Msg

GAP_US = 3_000_000


def among(nodes: set[int]) -> object:
    """A message filter: only messages between ``nodes``."""
    return lambda m: m.src in nodes and m.dst in nodes


def votes_among(nodes: set[int]) -> object:
    """Only vote messages between ``nodes`` (AppendEntries are dropped)."""
    return lambda m: (m.src in nodes and m.dst in nodes
                      and isinstance(m.msg, RequestVote | RequestVoteResponse))


def campaign(g: Group, node: int, allow: object, t: int, tries: int = 4) -> tuple[bool, int]:
    """Tick ``node`` after a gap and deliver what ``allow`` accepts, until it leads."""
    for _ in range(tries):
        t += GAP_US
        g.outbox = []
        g.tick(node, t)
        g.pump(t, allow)  # type: ignore[arg-type]
        if g.node(node).role is Role.LEADER:
            return True, t
    return False, t


def write(g: Group, node: int, command: bytes, t: int, allow: object) -> None:
    g.outbox = []
    g.step(node, ClientWrite(client_id=1, request_id=len(g.replies) + 100, command=command), t)
    g.pump(t, allow)  # type: ignore[arg-type]


def figure8(variant: str | None, checker: Checker | None = None) -> Group:
    """The Raft paper's Figure 8 (S1..S5 = nodes 0..4); returns the group at the end.

    (a) 0 leads, its entry reaches 1 only; (b) 4 leads with 2 and 3, writes, crashes;
    (c) 0 leads again with 1 and 2 and replicates its old entry to 2; (d) 4 campaigns with 1,
    2 and 3 and, if it wins, overwrites it. Raises `group.Violation` where a safety property
    fails.
    """
    g = Group((0, 1, 2, 3, 4), variant=variant, seed=8, checker=checker)
    ok, t = campaign(g, 0, among({0, 1, 2, 3, 4}), 0)
    assert ok
    write(g, 0, b"A", t, among({0, 1}))
    g.crash(0)
    ok, t = campaign(g, 4, votes_among({2, 3, 4}), t)
    assert ok
    write(g, 4, b"B", t, lambda m: False)
    g.crash(4)
    t += GAP_US
    g.start(0, t)
    ok, t = campaign(g, 0, among({0, 1, 2}), t)
    assert ok
    g.tick(0, t + 60_000)
    g.pump(t + 60_000, among({0, 1, 2}))  # type: ignore[arg-type]
    g.crash(0)
    t += GAP_US
    g.start(4, t)
    ok, t = campaign(g, 4, among({1, 2, 3, 4}), t)
    if ok:
        g.tick(4, t + 60_000)
        g.pump(t + 60_000, among({1, 2, 3, 4}))  # type: ignore[arg-type]
    return g


def config_bug(variant: str | None, checker: Checker | None = None) -> tuple[Group, bool]:
    """The 2015 single-server change bug (S1..S5 = nodes 0..4; voters 0..3, 4 outside).

    0 leads and adds 4, the entry reaching 4 only; 1 is elected by 1, 2, 3 and at once
    removes 0, committing that with 2 alone; then 0 campaigns with 3 and 4. Returns the
    group and whether 0 won that last election. Raises `group.Violation` on a safety failure.
    """
    g = Group((0, 1, 2, 3), extra=(4,), variant=variant, seed=15, checker=checker)
    everyone = {0, 1, 2, 3, 4}
    ok, t = campaign(g, 0, among(everyone), 0)
    assert ok
    g.tick(0, t + 60_000)
    g.pump(t + 60_000, among(everyone))  # type: ignore[arg-type]
    g.step(0, Reconfigure(storage=(0, 1, 2, 3, 4)), t + 70_000)
    g.tick(0, t + 120_000)
    g.pump(t + 120_000, among({0, 4}))  # type: ignore[arg-type]
    assert g.node(4).members == (0, 1, 2, 3, 4)
    g.crash(0)
    ok, t = campaign(g, 1, votes_among({1, 2, 3}), t)
    assert ok
    g.outbox = []
    g.step(1, Reconfigure(storage=(1, 2, 3)), t)
    for k in range(1, 6):
        g.tick(1, t + k * 60_000)
        g.pump(t + k * 60_000, lambda m: _between(m, {1, 2}) or (
            _between(m, {1, 3}) and not _carries_config(m)))
    t += GAP_US
    g.start(0, t)
    won, t = campaign(g, 0, among({0, 3, 4}), t)
    if won:
        for k in range(1, 4):
            g.tick(0, t + k * 60_000)
            g.pump(t + k * 60_000, among({0, 3, 4}))  # type: ignore[arg-type]
    return g, won


def _between(m: Msg, nodes: set[int]) -> bool:
    return m.src in nodes and m.dst in nodes


def _carries_config(m: Msg) -> bool:
    return isinstance(m.msg, AppendEntries) and any(
        c.startswith(b"\xff\xff\xff\xff") for _, c in m.msg.entries)
