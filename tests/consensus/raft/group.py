"""A tiny in-test Raft group: nodes, a WAL and a state machine per node, messages in hand.

`Group` performs effects the way `harness.runtime.host.Host` does (Persist durable at once,
checkpoint truncating the WAL, Apply into a list of commands, Compact fed back) and checks
the safety properties after every step (`Checker`). Messages are collected, not delivered:
a test (or `tests.consensus.raft.driver`) decides which to deliver, drop or duplicate.
"""

from __future__ import annotations

import marshal
import random
from collections.abc import Callable

import attrs

from consensus.config import Timing
from consensus.effects import Apply, InstallSnapshot, Persist, Reply, Send, ServeRead, SetTimer
from consensus.events import Compact, Event, Receive, Tick
from consensus.raft import RaftConfig, RaftReplica, Role

TIMING = Timing(heartbeat_interval_us=50_000, election_timeout_us=500_000,
                election_jitter_us=500_000, lease_duration_us=1_000_000, drift_bound_ppm=10_000)


class Violation(AssertionError):
    """A safety property failed (the message names it)."""


@attrs.define
class Msg:
    src: int
    dst: int
    msg: object


@attrs.define
class Checker:
    """Election Safety, Log Matching, Leader Completeness, State Machine Safety, leases."""

    leaders: dict[int, int] = attrs.Factory(dict)  # term -> leader
    entries: dict[tuple[int, int], tuple[bytes, int | None]] = attrs.Factory(dict)
    committed: dict[int, tuple[int, bytes, int]] = attrs.Factory(dict)  # index -> term, cmd, seen
    applied: dict[int, bytes] = attrs.Factory(dict)
    serves: list[tuple[int, int, int, int]] = attrs.Factory(list)  # node, term, start, end (true)
    leader_completeness: bool = True  # off: let a schedule run on to a later violation

    def check_node(self, n: RaftReplica) -> None:
        if n.role is Role.LEADER:
            other = self.leaders.setdefault(n.term, n.node_id)
            if other != n.node_id:
                raise Violation(
                    f"election safety: nodes {other} and {n.node_id} lead term {n.term}")
        prev_term: int | None = n.log.snap_term
        for index, term, command in n.log_entries():
            seen = self.entries.setdefault((index, term), (command, prev_term))
            if seen != (command, prev_term):
                raise Violation(f"log matching: node {n.node_id} index {index} term {term}")
            prev_term = term
        for index in range(max(n.log.snap_index + 1, 1), n.commit_index + 1):
            term, command = n.log.entry(index)
            known = self.committed.get(index)
            if known is None:
                self.committed[index] = (term, command, n.term)
            elif (known[0], known[1]) != (term, command):
                raise Violation(f"state machine safety: committed index {index} differs")
        if n.role is Role.LEADER and self.leader_completeness:
            for index, (cterm, ccmd, cseen) in self.committed.items():
                if n.term > cseen and index > n.log.snap_index and (
                        index > n.log.last_index or n.log.entry(index) != (cterm, ccmd)):
                    raise Violation(f"leader completeness: leader {n.node_id} term {n.term} "
                                    f"lacks committed index {index}")

    def check_apply(self, node: int, index: int, command: bytes) -> None:
        have = self.applied.setdefault(index, command)
        if have != command:
            raise Violation(f"state machine safety: node {node} applied {command!r} at {index}, "
                            f"another node {have!r}")

    def check_serve(self, node: int, term: int, start: int, end: int) -> None:
        for other, oterm, ostart, oend in self.serves:
            if oterm == term:
                continue
            if (oterm < term and start < oend) or (oterm > term and end > ostart):
                raise Violation(f"lease exclusivity: node {node} term {term} serves at {start} "
                                f"while node {other} term {oterm} holds a lease to {oend}")
        self.serves.append((node, term, start, end))


class Group:
    """Nodes ``members + extra``; ``clock(node, true_us) -> local_us`` and its inverse."""

    def __init__(self, members: tuple[int, ...], *, learners: tuple[int, ...] = (),
                 extra: tuple[int, ...] = (), variant: str | None = None, seed: int = 0,
                 timing: Timing = TIMING, compact_every: int = 0,
                 drift_ppm: dict[int, int] | None = None, checker: Checker | None = None) -> None:
        self.members, self.learners, self.variant, self.timing = members, learners, variant, timing
        self.ids = tuple(sorted(members + learners + extra))
        self.rng = random.Random(seed)
        self.drift = drift_ppm or {}
        self.compact_every = compact_every
        self.wal: dict[int, list[bytes]] = {i: [] for i in self.ids}
        self.sm: dict[int, list[bytes]] = {i: [] for i in self.ids}  # applied commands
        self.ckpt: dict[int, tuple[int, bytes]] = {i: (0, b"") for i in self.ids}
        self.nodes: dict[int, RaftReplica | None] = {i: None for i in self.ids}
        self.timer: dict[int, int | None] = {i: None for i in self.ids}
        self.at_crash: dict[int, tuple[object, ...]] = {}
        self.outbox: list[Msg] = []
        self.replies: list[tuple[int, Reply]] = []
        self.reads: list[tuple[int, ServeRead]] = []
        self.checker = checker or Checker()
        self.term_bumps = 0
        self.on_step: Callable[[int, list[object]], None] | None = None
        for i in self.ids:
            self.start(i, 0)

    # ------------------------------------------------------------------ clocks
    def local(self, node: int, true_us: int) -> int:
        return true_us + true_us * self.drift.get(node, 0) // 1_000_000

    def true_of(self, node: int, local_us: int) -> int:
        d = self.drift.get(node, 0)
        t = local_us * 1_000_000 // (1_000_000 + d)
        while self.local(node, t) < local_us:
            t += 1
        return t

    # ------------------------------------------------------------------ lifecycle
    def node(self, i: int) -> RaftReplica:
        n = self.nodes[i]
        assert n is not None, f"node {i} is down"
        return n

    def start(self, i: int, true_us: int) -> None:
        cfg = RaftConfig(node_id=i, members=self.members, learners=self.learners,
                         timing=self.timing, variant=self.variant)
        rng = random.Random(self.rng.random())

        def choose(label: str, n: int) -> int:
            return rng.randrange(n)

        slot, _ = self.ckpt[i]
        self.sm[i] = self.sm[i][:slot]
        n = RaftReplica(cfg, choose, records=list(self.wal[i]), applied_slot=slot)
        # every step's records are durable here at once, so nothing durable may be missing
        before = self.at_crash.pop(i, None)
        after = (n.term, n.voted_for, n.log.snap_index, list(n.log_entries()))
        if before is not None and before != after:
            raise Violation(f"durability: node {i} recovered {after[:3]}, had {before[:3]}")
        self.nodes[i] = n
        self.step(i, Tick(), true_us)

    def crash(self, i: int) -> None:
        n = self.node(i)
        self.at_crash[i] = (n.term, n.voted_for, n.log.snap_index, list(n.log_entries()))
        self.nodes[i] = None
        self.timer[i] = None

    # ------------------------------------------------------------------ stepping
    def step(self, i: int, event: Event, true_us: int) -> list[object]:
        n = self.node(i)
        before = n.term
        now = self.local(i, true_us)
        effects = n.step(event, now)
        if n.term > before:
            self.term_bumps += n.term - before
        for e in effects:
            self.perform(i, e, true_us)
        self.checker.check_node(n)
        if self.on_step is not None:
            self.on_step(i, list(effects))
        if (self.compact_every and self.nodes[i] is n
                and n.applied_index - self.ckpt[i][0] >= self.compact_every):
            slot = n.applied_index
            snap = marshal.dumps(tuple(self.sm[i][:slot]), 2)
            self.ckpt[i] = (slot, snap)
            self.step(i, Compact(slot=slot, snapshot=snap), true_us)
        return list(effects)

    def perform(self, i: int, e: object, true_us: int) -> None:
        n = self.node(i)
        if isinstance(e, Persist):
            if e.checkpoint:
                self.wal[i] = []
            self.wal[i].extend(e.records)
        elif isinstance(e, Send):
            self.outbox.append(Msg(i, e.dst, e.msg))
        elif isinstance(e, SetTimer):
            self.timer[i] = e.at_us
        elif isinstance(e, Apply):
            assert e.slot == len(self.sm[i]) + 1, (i, e.slot, len(self.sm[i]))
            self.sm[i].append(e.command)
            self.checker.check_apply(i, e.slot, e.command)
        elif isinstance(e, InstallSnapshot):
            cmds = list(marshal.loads(e.snapshot)) if e.snapshot else []
            assert len(cmds) == e.slot
            for k, c in enumerate(cmds):
                self.checker.check_apply(i, k + 1, c)
            self.sm[i] = cmds
            self.ckpt[i] = (e.slot, e.snapshot)
        elif isinstance(e, Reply):
            self.replies.append((i, e))
        elif isinstance(e, ServeRead):
            self.reads.append((i, e))
            if e.strong:
                end = self.true_of(i, n.lease_until_us)
                self.checker.check_serve(i, n.term, true_us, end)

    def deliver(self, m: Msg, true_us: int) -> list[object]:
        if self.nodes[m.dst] is None:
            return []
        return self.step(m.dst, Receive(src=m.src, msg=m.msg), true_us)

    def tick(self, i: int, true_us: int) -> list[object]:
        return self.step(i, Tick(), true_us)

    # ------------------------------------------------------------------ hand schedules
    def take(self, pred: Callable[[Msg], bool]) -> list[Msg]:
        """Remove and return the queued messages ``pred`` accepts."""
        taken = [m for m in self.outbox if pred(m)]
        self.outbox = [m for m in self.outbox if not pred(m)]
        return taken

    def pump(self, true_us: int, allow: Callable[[Msg], bool] = lambda m: True,
             rounds: int = 50) -> None:
        """Deliver queued messages ``allow`` accepts (drop the rest) until none are left."""
        for _ in range(rounds):
            batch, self.outbox = self.outbox, []
            if not batch:
                return
            for m in batch:
                if allow(m):
                    self.deliver(m, true_us)

    def leaders(self) -> list[int]:
        return [i for i, n in self.nodes.items() if n is not None and n.role is Role.LEADER]
