"""Explicit-state search of any registered protocol, through the protocol interface alone.

`harness.explore.world` is the Multi-Paxos explorer: its ghost checks read accept records
and promises, its bounds count ballot rounds, its symmetry relabels ballots. This module
needs of a replica only ``step``, ``clone``, ``state_fingerprint`` and the views of
`harness.runtime.ports.ProtocolReplica`, so any protocol whose `ProtocolSpec.explorer` is
true can be searched (``paxlab explore --protocol NAME``).

A state: every node's replica, its durable WAL records and its state machine (a dict),
each node's timer, the messages in flight (a multiset), the client operations and their
history, and the shared checks' ghost (the applied log, the highest acknowledged slot).
Actions, as in the Multi-Paxos explorer: ``("tick", n)`` (true time moves to n's timer, n
ticks), ``("deliver"|"drop"|"dup", dst, src, msg_repr)``, ``("request", op, n)`` (client op
``op``: writes first, then strong reads, `harness.explore.clients`) and ``("crash", n)`` (n
loses its volatile state and restarts at once from its WAL, state machine from slot 1).
Bounds: ``writes``, ``reads``, ``crashes``, ``ticks``, ``drops``, ``dups``, ``inflight`` and
``depth`` of `harness.explore.bounds.Bounds`; the Multi-Paxos-only ones must stay at their
defaults.

Checked in every state, with the definitions of `harness.checks.shared`: S2 (a slot is
applied with one command everywhere, in order per node), S6 (at most one node serving at the
state's true time), S8 online (a strong read reflects every acknowledged write), S10 (a node
acknowledges only what it applied) and linearizability of the completed operations (S8).
Not checked: the Multi-Paxos ghost checks (S1, S3..S5, S12..S15), which need its records.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable
from typing import Any

import attrs

from consensus.effects import Apply, InstallSnapshot, Persist, Reply, Send, ServeRead, SetTimer
from consensus.events import Receive, Tick
from harness.checks.history import HistoryEvent
from harness.checks.linearizability import check_linearizability
from harness.checks.shared import lease_exclusive
from harness.checks.violation import Violation
from harness.explore.bounds import EXPLORE_TIMING, Bounds
from harness.explore.clients import client_request, nominal, op_spec
from harness.explore.ghost import Found, kv_apply

Action = tuple[Any, ...]


@attrs.frozen
class Ghost:
    """The shared checks' memory along one path (never changed: replaced)."""

    applied: tuple[bytes, ...] = ()  # the applied log: slot i+1's command
    last: tuple[int, ...] = ()  # each node's last applied slot
    acked: int = 0  # the highest acknowledged slot


class GenericWorld:
    """One state (see the module doc); successors are new objects."""

    def __init__(self, make: Callable[..., Any], bounds: Bounds, variant: str | None) -> None:
        n = bounds.replicas
        self.make, self.bounds, self.variant, self.now_us = make, bounds, variant, 0
        self.replicas: list[Any] = [None] * n
        self.wals: list[tuple[bytes, ...]] = [()] * n
        self.kvs: list[dict[bytes, bytes]] = [{} for _ in range(n)]
        self.timers = [0] * n
        self.msgs: dict[tuple[int, int, str], tuple[Any, int]] = {}
        self.ops: list[tuple[str, int]] = [("idle", -1)] * (bounds.writes + bounds.reads)
        self.used = {"crashes": 0, "ticks": 0, "drops": 0, "dups": 0}
        self.history: tuple[HistoryEvent, ...] = ()
        self.ghost = Ghost(last=(0,) * n)
        for node in range(n):
            self._start(node, 0)

    def _fork(self) -> GenericWorld:
        w = object.__new__(GenericWorld)
        w.__dict__.update(self.__dict__)
        for name in ("replicas", "wals", "kvs", "timers", "ops"):
            setattr(w, name, list(getattr(self, name)))
        w.msgs, w.used = dict(self.msgs), dict(self.used)
        return w

    @property
    def inflight(self) -> int:
        return sum(count for _, count in self.msgs.values())

    def actions(self) -> list[Action]:
        """Every action enabled here, in a fixed order."""
        b, used, up = self.bounds, self.used, range(len(self.replicas))
        out: list[Action] = []
        if b.ticks is None or used["ticks"] < b.ticks:
            out.extend(("tick", n) for n in up)
        for kind, budget, limit in (("deliver", None, 0), ("drop", "drops", b.drops),
                                    ("dup", "dups", b.dups)):
            if budget is None or used[budget] < limit:
                out.extend((kind, *key) for key in self.msgs)
        for op, (status, _) in enumerate(self.ops):
            if status == "idle":
                out.extend(("request", op, n) for n in up)
        if used["crashes"] < b.crashes:
            out.extend(("crash", n) for n in up)
        return out

    def after(self, action: Action, step: int) -> GenericWorld | str:
        """The successor by ``action``, or the bound that refused it (``"inflight"``);
        raises `Found` if a property breaks on the way or in the new state."""
        w = self._fork()
        kind = action[0]
        if kind == "tick":
            w.used["ticks"] += 1
            w.now_us = max(self.now_us, self.timers[action[1]])
            w._step(action[1], Tick(), step)
        elif kind == "request":
            op, node = action[1], action[2]
            event, f, value = client_request(self.bounds, op)
            w.ops[op] = ("sent", node)
            w.history += (HistoryEvent(process=op, type="invoke", f=f, key="k", value=value,
                                       time=w.now_us * 1000),)
            w._step(node, event, step)
        elif kind == "crash":
            w.used["crashes"] += 1
            w._start(action[1], step)
        else:
            key = (action[1], action[2], action[3])
            msg, count = w.msgs.pop(key)
            if kind == "dup":
                w.used["dups"] += 1
                w.msgs[key] = (msg, count + 1)
            else:
                if count > 1:
                    w.msgs[key] = (msg, count - 1)
                if kind == "drop":
                    w.used["drops"] += 1
                else:
                    w._step(key[0], Receive(src=key[1], msg=msg), step)
        if w.inflight > self.bounds.max_inflight:
            return "inflight"
        leaders = {n: r for n, r in enumerate(w.replicas) if r.role.value == "leader"}
        _raise(lease_exclusive(leaders, dict.fromkeys(leaders, w.now_us), w.now_us, step))
        return w

    def _start(self, node: int, step: int) -> None:
        self.replicas[node] = self.make(
            node_id=node, members=self.bounds.members, timing=EXPLORE_TIMING,
            variant=self.variant, choose=nominal,
            records=self.wals[node], applied_slot=0,
        )
        self.kvs[node] = {}
        last = list(self.ghost.last)
        last[node] = 0
        self.ghost = attrs.evolve(self.ghost, last=tuple(last))
        self._step(node, Tick(), step)

    def _step(self, node: int, event: Any, step: int) -> None:
        replica = self.replicas[node].clone()
        self.replicas[node] = replica
        effects = replica.step(event, self.now_us)
        where: dict[str, Any] = {"time_us": self.now_us, "step": step, "node": node}
        kv, ghost = dict(self.kvs[node]), self.ghost
        for e in effects:
            t = type(e)
            if t is Persist:
                self.wals[node] = e.records if e.checkpoint else self.wals[node] + e.records
            elif t is Send:
                key = (e.dst, node, repr(e.msg))
                self.msgs[key] = (e.msg, self.msgs.get(key, (None, 0))[1] + 1)
            elif t is SetTimer:
                self.timers[node] = e.at_us
            elif t is Apply:
                ghost = _apply(ghost, node, e.slot, e.command, where)
                kv_apply(kv, e.command)
            elif t is Reply and e.slot is not None:
                if ghost.last[node] < e.slot:
                    _raise(Violation(property="S10", message=f"S10: node {node} acknowledged "
                                     f"the write at slot {e.slot} unapplied", slot=e.slot,
                                     **where))
                ghost = attrs.evolve(ghost, acked=max(ghost.acked, e.slot))
                self._complete(e.client_id, "ok", None, step)
            elif t is Reply:
                self._complete(e.client_id, "info" if e.indeterminate else "fail", None, step)
            elif t is ServeRead:
                if e.strong and replica.applied_index < ghost.acked:
                    _raise(Violation(property="S8", message=f"S8: node {node} served a strong "
                                     f"read at applied slot {replica.applied_index}, missing "
                                     f"the acknowledged write at slot {ghost.acked}",
                                     slot=ghost.acked, **where))
                value = kv.get(e.key)
                self._complete(e.client_id, "ok", None if value is None else value.decode(),
                               step)
            elif t is InstallSnapshot:
                raise RuntimeError("the explorer never compacts, yet got InstallSnapshot")
        self.kvs[node], self.ghost = kv, ghost
        self.msgs = {k: self.msgs[k] for k in sorted(self.msgs)}  # canonical order

    def _complete(self, client: int, type_: str, value: Any, step: int) -> None:
        op = client - 1
        status, node = self.ops[op]
        if status != "sent":
            return
        self.ops[op] = ("done", node)
        f, written = op_spec(self.bounds, op)
        if f == "put":
            value = written.decode()
        self.history += (HistoryEvent(process=op, type=type_, f=f, key="k", value=value,
                                      time=self.now_us * 1000),)
        if type_ == "ok":
            result = check_linearizability(self.history, "kv", timeout_s=None)
            if result.verdict == "violation":
                _raise(Violation(property="S8", message="S8: the completed client operations "
                                 f"are not linearizable ({result.summary()})", time_us=self.now_us,
                                 step=step, node=node, key="k"))

    def digest(self) -> bytes:
        """16-byte blake2b of the canonical state (never ``hash()``)."""
        h = hashlib.blake2b(digest_size=16)
        h.update(repr((self.now_us, self.timers, self.wals, [sorted(kv.items()) for kv in
                       self.kvs], [(k, c) for k, (_, c) in self.msgs.items()], self.ops,
                       sorted(self.used.items()), self.ghost,
                       [(e.process, e.type, e.value) for e in self.history])).encode())
        for r in self.replicas:
            h.update(r.state_fingerprint())
        return h.digest()


def _apply(ghost: Ghost, node: int, slot: int, command: bytes, where: dict[str, Any]) -> Ghost:
    """S2: ``node`` applies ``command`` at ``slot``; returns the ghost after it."""
    if slot != ghost.last[node] + 1:
        _raise(Violation(property="S2", message=f"S2: node {node} applied slot {slot} right "
                         f"after slot {ghost.last[node]}", slot=slot, **where))
    applied = ghost.applied
    if slot <= len(applied) and applied[slot - 1] != command:
        _raise(Violation(property="S2", message=f"S2: node {node} applied a command at slot "
                         f"{slot} that differs from the one applied there before", slot=slot,
                         **where))
    if slot > len(applied):
        applied += (command,)
    last = list(ghost.last)
    last[node] = slot
    return Ghost(applied=applied, last=tuple(last), acked=ghost.acked)


def _raise(violation: Violation | None) -> None:
    if violation is not None:
        raise Found(violation)


@attrs.frozen(kw_only=True)
class GenericResult:
    """What a search found: ``verdict`` ``ok`` (every state within the bounds checked, some
    path ran to its end), ``incomplete`` (capped by ``max_states``, or every path was cut by
    a bound: no verdict) or ``violation`` (with the shortest ``schedule`` reaching it)."""

    verdict: str
    states: int
    transitions: int
    max_depth: int
    ends: int
    refused: dict[str, int]
    violation: Violation | None = None
    schedule: tuple[Action, ...] = ()


def explore_generic(
    make_replica: Callable[..., Any], bounds: Bounds, *, variant: str | None = None,
    max_states: int | None = None,
) -> GenericResult:
    """Breadth-first search of every state within ``bounds`` (see the module doc)."""
    try:
        start = GenericWorld(make_replica, bounds, variant)
    except Found as found:
        return GenericResult(verdict="violation", states=1, transitions=0, max_depth=0, ends=0,
                             refused={}, violation=found.violation)
    seen = {start.digest()}
    queue: deque[tuple[GenericWorld, tuple[Action, ...]]] = deque([(start, ())])
    transitions = max_depth = ends = 0
    refused = {"inflight": 0, "depth": 0}
    capped = False
    while queue:
        world, path = queue.popleft()
        max_depth = max(max_depth, len(path))
        actions = world.actions()
        if not actions:
            ends += 1
            continue
        if bounds.depth is not None and len(path) >= bounds.depth:
            refused["depth"] += 1
            continue
        for action in actions:
            transitions += 1
            schedule = (*path, action)
            try:
                nxt = world.after(action, len(schedule))
            except Found as found:
                return GenericResult(
                    verdict="violation", states=len(seen), transitions=transitions,
                    max_depth=max_depth, ends=ends, refused=refused,
                    violation=found.violation, schedule=schedule,
                )
            if isinstance(nxt, str):
                refused[nxt] += 1
                continue
            digest = nxt.digest()
            if digest in seen:
                continue
            if max_states is not None and len(seen) >= max_states:
                capped = True
                continue
            seen.add(digest)
            queue.append((nxt, schedule))
    verdict = "incomplete" if capped or ends == 0 else "ok"
    return GenericResult(verdict=verdict, states=len(seen), transitions=transitions,
                         max_depth=max_depth, ends=ends, refused=refused)
