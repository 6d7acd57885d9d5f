"""One explored state: replicas, their WALs and state machines, in-flight messages, clients.

A `World` is never changed once built: `World.after(action)` returns the successor (copying
only the replica that steps, `harness.explore.clone.copy_replica`) or raises `Found` if a
property breaks on the way. Actions are tuples, the labels of the explicit schedule:

- ``("tick", n)``: true time moves to node n's timer deadline (if later) and n gets a Tick;
- ``("deliver", dst, src, msg_repr)``: one copy of an in-flight message is delivered;
- ``("drop", dst, src, msg_repr)`` / ``("dup", ...)``: one copy is lost / duplicated;
- ``("request", op, n)``: client op ``op`` is sent to node n (writes, then strong reads);
- ``("crash", n)``: n loses its volatile state (WAL records are durable once persisted) and
  restarts at once: it recovers from its WAL (state machine rebuilt from slot 1) and ticks;
- ``("kill", n)``: storage replica n stops for good (messages to it are lost from then on);
- ``("step-down", n)``: leader n is told to step down (`consensus.events.StepDown`).

Spares (``Bounds.spares``, ``log_spares``) are not running until a leader's
`consensus.effects.StartReplica` starts them; messages to a node that is not running are lost.

Crash and restart are one transition: a node that stays down for a while is, to everyone
else, a node that receives nothing and does nothing for that while (messages to it wait in
flight), which the free order of transitions already covers; so the merge loses no
behaviour and saves the down states.

Message and client delivery are instantaneous in true time; arbitrary delay is modelled by
the freedom to deliver in any order. `fingerprint` is canonical bytes (no ``hash()``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from consensus import Replica, Role
from consensus.effects import (
    Apply,
    InstallSnapshot,
    Persist,
    Reply,
    Send,
    ServeRead,
    SetTimer,
    StartReplica,
)
from consensus.events import Event, Receive, StepDown, Tick
from harness.checks.history import HistoryEvent
from harness.checks.linearizability import check_linearizability
from harness.checks.violation import Violation
from harness.explore.bounds import Bounds
from harness.explore.clients import KEY, client_request, make_replica, nominal, op_spec
from harness.explore.ghost import Found, Ghost, check_s6, check_s6_until, kv_apply, writes_ghost
from harness.explore.steps import LocalSteps
from harness.explore.symmetry import (
    Symmetry,
    relabelled_fingerprints,
    symmetry_for,
    world_fingerprint,
)

Action = tuple[Any, ...]

_TICK = "tick"
_STEP_DOWN = "step-down"
"""The step memo's name for a Tick event (deliveries are named (src, repr), requests by op)."""

__all__ = ["KEY", "Action", "World", "make_replica", "nominal", "op_spec"]


class World:
    """One state (see the module doc). Build the initial one with `World.initial`."""

    __slots__ = (
        "beyond", "bounds", "fpc", "ghost", "ghost_owned", "history", "inflight", "kfps", "kvs",
        "msgs", "now_us", "ops", "replicas", "rfps", "sfps", "steps", "sym", "timers", "used",
        "wal_digests", "wals",
    )

    bounds: Bounds
    now_us: int
    replicas: list[Replica | None]
    rfps: list[bytes]
    kvs: list[dict[bytes, bytes]]
    timers: list[int]
    wals: list[tuple[bytes, ...]]
    wal_digests: list[bytes]
    msgs: dict[tuple[int, int, str], tuple[object, int]]
    inflight: int
    beyond: bool
    ops: list[tuple[str, int]]
    used: dict[str, int]
    history: tuple[HistoryEvent, ...]
    ghost: Ghost
    ghost_owned: bool
    kfps: list[bytes]
    sym: Symmetry
    steps: LocalSteps
    sfps: list[tuple[bytes, ...]]
    fpc: tuple[Any, bytes, Any, bytes, Any, Any, bytes, bytes] | None

    @classmethod
    def initial(cls, bounds: Bounds, steps: LocalSteps | None = None) -> World:
        """Every replica started (first Tick at time 0; spares not), nothing in flight, no
        client op sent. ``steps``: a step memo to share (one made for ``bounds`` already,
        e.g. by an earlier walk); None makes a new one."""
        w = object.__new__(cls)
        n = bounds.nodes
        w.bounds = bounds
        w.now_us = 0
        w.replicas = [None] * n
        w.rfps = [b"-"] * n
        w.kvs = [{} for _ in range(n)]
        w.timers = [0] * n
        w.wals = [() for _ in range(n)]
        w.wal_digests = [b"" for _ in range(n)]
        w.msgs = {}
        w.inflight = 0
        w.beyond = False
        w.ops = [("idle", -1)] * (bounds.writes + bounds.reads)
        w.used = {"crashes": 0, "ticks": 0, "drops": 0, "dups": 0}
        if bounds.kills:
            w.used["kills"] = 0
        if bounds.step_downs:
            w.used["step-downs"] = 0
        w.history = ()
        w.ghost = Ghost(bounds.replicas, membership=bounds.membership)
        w.ghost_owned = True
        w.kfps = [b"[]"] * n
        w.sym = symmetry_for(bounds)
        w.steps = LocalSteps(bounds, w.sym) if steps is None else steps
        w.sfps = [()] * n
        w.fpc = None
        for node in bounds.members:
            w._start(node, 0)
        return w

    def _fork(self) -> World:
        w = object.__new__(World)
        w.bounds = self.bounds
        w.now_us = self.now_us
        w.replicas = list(self.replicas)
        w.rfps = list(self.rfps)
        w.kvs = list(self.kvs)
        w.timers = list(self.timers)
        w.wals = list(self.wals)
        w.wal_digests = list(self.wal_digests)
        w.msgs = self.msgs
        w.inflight = self.inflight
        w.beyond = False
        w.ops = self.ops  # `ops` and `used` are replaced, never changed in place
        w.used = self.used
        w.history = self.history
        w.ghost = self.ghost  # forked on the first write (`_own_ghost`)
        w.ghost_owned = False
        w.kfps = list(self.kfps)
        w.sym = self.sym
        w.steps = self.steps
        w.sfps = self.sfps if self.sym.trivial else list(self.sfps)
        w.fpc = self.fpc
        return w

    # ---- transitions ------------------------------------------------------------------

    def actions(self) -> list[Action]:
        """Every action enabled here, in a fixed order."""
        b, used = self.bounds, self.used
        out: list[Action] = []
        up = [n for n, r in enumerate(self.replicas) if r is not None]
        if b.ticks is None or used["ticks"] < b.ticks:
            # initial replicas beyond `candidates` never fire their election timer
            k, first_spare = b.n_candidates, b.replicas
            out.extend(("tick", n) for n in up if n < k or n >= first_spare)
        for key in self.msgs:
            if self.replicas[key[0]] is not None:
                out.append(("deliver", *key))
        if used["drops"] < b.drops:
            out.extend(("drop", *key) for key in self.msgs)
        if used["dups"] < b.dups:
            out.extend(("dup", *key) for key in self.msgs)
        # A request a node refuses changes nothing but the op's status, and `after` drops
        # such successors (a failed op takes part in no check): offer only nodes that serve.
        writers = readers = None
        for op, (status, _) in enumerate(self.ops):
            if status != "idle":
                continue
            if op < b.writes:
                if writers is None:
                    writers = [n for n in up if self.replicas[n].role is Role.LEADER]  # type: ignore[union-attr]
                out.extend(("request", op, n) for n in writers)
            else:
                if readers is None:
                    readers = [n for n in up if _may_serve_read(self.replicas[n])]
                out.extend(("request", op, n) for n in readers)
        if used["crashes"] < b.crashes:
            out.extend(("crash", n) for n in up)
        if b.kills and used["kills"] < b.kills:
            out.extend(("kill", n) for n in up if n < b.replicas)
        if b.step_downs and used["step-downs"] < b.step_downs:
            out.extend(
                ("step-down", n) for n in up
                if self.replicas[n].role is Role.LEADER  # type: ignore[union-attr]
            )
        return out

    def after(self, action: Action, step: int = 0) -> World | None:
        """Return the successor by ``action`` (None: a bound refused it, or it is dominated;
        `successor` says which).

        Raises `Found` if a property breaks during the transition or in the new state;
        ``step`` (the path length) goes into the violation.
        """
        nxt = self.successor(action, step)
        return nxt if isinstance(nxt, World) else None

    def successor(self, action: Action, step: int = 0) -> World | str:
        """Like `after`, but a successor that is not explored is named: ``"max_round"`` (a
        ballot beyond the round bound), ``"inflight"`` (more messages in flight than the
        bound), or ``"dominated"`` (a refused client request that changed nothing: not a
        bound, the state adds nothing to check)."""
        w = self._fork()
        kind = action[0]
        if kind == "tick":
            node = action[1]
            at = max(self.now_us, self.timers[node])
            check_s6_until(self.replicas, self.now_us, at, step)
            w.now_us = at
            w._use("ticks")
            w._step(node, _TICK, Tick, step)
        elif kind in ("deliver", "drop", "dup"):
            key = (action[1], action[2], action[3])
            msg, count = self.msgs[key]
            msgs = dict(self.msgs)
            if kind == "dup":
                msgs[key] = (msg, count + 1)
                w._use("dups")
            elif count > 1:
                msgs[key] = (msg, count - 1)
            else:
                del msgs[key]
            w.inflight += 1 if kind == "dup" else -1
            w.msgs = msgs
            if kind == "drop":
                w._use("drops")
            elif kind == "deliver":
                w._step(key[0], key[1:], lambda: Receive(src=key[1], msg=msg), step)
        elif kind == "request":
            op, node = action[1], action[2]
            w._request(op, node, step)
            if w.ops[op][0] == "done" and w.history[-1].type == "fail" and (
                w.rfps[node] == self.rfps[node] and w.msgs is self.msgs
            ):
                # Refused without any effect: the state is this one minus a client op that
                # can never matter (failed ops do not take part in any check). Not explored.
                return "dominated"
        elif kind == "crash":
            node = action[1]
            w._use("crashes")
            w._start(node, step)
        elif kind == "step-down":
            w._use("step-downs")
            w._step(action[1], _STEP_DOWN, StepDown, step)
        elif kind == "kill":
            node = action[1]
            w._use("kills")
            w.replicas[node] = None
            w.rfps[node], w.wal_digests[node], w.kfps[node] = b"killed", b"", b"[]"
            w.sfps[node] = (b"killed",) * (len(w.sym.perms) - 1)
            w.msgs = {k: v for k, v in self.msgs.items() if k[0] != node}
            w.inflight = sum(c for _, c in w.msgs.values())
        else:
            raise ValueError(f"unknown explore action: action={action!r}")
        if w.beyond:  # a stepped replica's ballot is above max_round
            return "max_round"
        if w.msgs is not self.msgs and w.inflight > self.bounds.max_inflight:
            return "inflight"
        check_s6(w.replicas, w.now_us, step)
        return w

    def _use(self, budget: str) -> None:
        self.used = {**self.used, budget: self.used[budget] + 1}

    def _set_op(self, op: int, value: tuple[str, int]) -> None:
        ops = list(self.ops)
        ops[op] = value
        self.ops = ops

    def _own_ghost(self) -> Ghost:
        if not self.ghost_owned:
            self.ghost = self.ghost.fork()
            self.ghost_owned = True
        return self.ghost

    def _start(self, node: int, step: int) -> None:
        r, fp, sfps = self.steps.recover(node, self.wal_digests[node], self.wals[node])
        self.replicas[node] = r
        self.rfps[node] = fp
        if not self.sym.trivial:
            self.sfps[node] = sfps
        self.kvs[node] = {}
        self.kfps[node] = b"[]"
        self.ghost.on_recover(node, r, self._where(node, step))
        self._step(node, _TICK, Tick, step, first=True)

    def _request(self, op: int, node: int, step: int) -> None:
        ev, f, hval = client_request(self.bounds, op)
        self._set_op(op, ("sent", node))
        self._history(HistoryEvent(process=op, type="invoke", f=f, key="k", value=hval,
                                   time=self.now_us * 1000))
        self._step(node, op, lambda: ev, step)

    def _history(self, event: HistoryEvent) -> None:
        self.history = (*self.history, event)

    def _complete(self, client: int, type_: str, value: Any, step: int, error: str | None) -> None:
        op = client - 1
        status, node = self.ops[op]
        if status != "sent":
            return
        self._set_op(op, ("done", node))
        f, wval = op_spec(self.bounds, op)
        if f == "put":
            value = wval.decode()
        self._history(HistoryEvent(process=op, type=type_, f=f, key="k", value=value,
                                   time=self.now_us * 1000, error=error))
        if type_ == "ok":
            summary = _not_linearizable(self.history)
            if summary is not None:
                raise Found(Violation(
                    property="S8", time_us=self.now_us, step=step, node=node, key="k",
                    message=f"S8: the completed client operations are not linearizable "
                            f"({summary})",
                ))

    def _where(self, node: int, step: int) -> dict[str, Any]:
        return {"time_us": self.now_us, "step": step, "node": node}

    def _step(
        self,
        node: int,
        event_key: object,
        make_event: Callable[[], Event],
        step: int,
        first: bool = False,
    ) -> None:
        """Step ``node`` by the event ``event_key`` names (``make_event`` builds it; the
        memo, `harness.explore.steps`, keys on the name) and perform its effects."""
        old = self.replicas[node]
        assert old is not None
        local = self.steps.step(node, old, self.rfps[node], event_key, make_event, self.now_us)
        r = local.replica
        before = None if first else (old.promised, old.commit_index)
        self.replicas[node] = r
        effects = local.effects
        reprs = iter(local.reprs)
        where = self._where(node, step)
        writes = self.bounds.membership or writes_ghost(effects)
        ghost = self._own_ghost() if writes else self.ghost
        kv = self.kvs[node]
        kv_owned = False  # copied on the first Apply (most steps apply nothing)
        results: dict[int, tuple[bool, bytes | None]] = {}
        msgs: dict[tuple[int, int, str], tuple[object, int]] | None = None
        starting: list[int] = []
        for e in effects:
            t = type(e)
            if t is Persist:
                assert isinstance(e, Persist)
                ghost.on_persist(node, e.records, where, r)
                if e.checkpoint:  # the host drops every earlier record (truncate_prefix)
                    self.wals[node] = e.records
                    h = hashlib.blake2b(b"checkpoint", digest_size=16)
                else:
                    self.wals[node] = self.wals[node] + e.records
                    h = hashlib.blake2b(self.wal_digests[node], digest_size=16)
                for rec in e.records:
                    h.update(rec)
                self.wal_digests[node] = h.digest()
            elif t is Send:
                assert isinstance(e, Send)
                ghost.on_send(node, e.msg)
                msg_repr = next(reprs)
                if self.replicas[e.dst] is None and e.dst not in starting:
                    continue  # not running (killed, or a spare nobody started): lost
                if msgs is None:
                    msgs = dict(self.msgs)
                key = (e.dst, node, msg_repr)
                have = msgs.get(key)
                msgs[key] = (e.msg, 1 if have is None else have[1] + 1)
                self.inflight += 1
            elif t is Apply:
                assert isinstance(e, Apply)
                ghost.on_apply(node, e.slot, e.command, where)
                if not kv_owned:
                    kv = self.kvs[node] = dict(kv)
                    kv_owned = True
                results[e.slot] = kv_apply(kv, e.command)
            elif t is Reply:
                assert isinstance(e, Reply)
                if e.slot is not None:
                    ghost.on_ack(r, e.slot, where)
                    self._complete(e.client_id, "ok", None, step, None)
                else:
                    type_ = "info" if e.indeterminate else "fail"
                    self._complete(e.client_id, type_, None, step, e.error)
            elif t is ServeRead:
                assert isinstance(e, ServeRead)
                if e.strong:
                    ghost.on_strong_read(r, where)
                value = kv.get(e.key)
                ghost.on_read_value(node, r.applied_index, e.key, value, where)
                self._complete(e.client_id, "ok", None if value is None else value.decode(),
                               step, None)
            elif t is SetTimer:
                assert isinstance(e, SetTimer)
                self.timers[node] = e.at_us
            elif t is StartReplica:
                assert isinstance(e, StartReplica)
                if self.replicas[e.node_id] is None and e.node_id >= self.bounds.replicas:
                    starting.append(e.node_id)
            elif t is InstallSnapshot:
                raise RuntimeError("explorer never compacts, yet got InstallSnapshot")
        if msgs is not None:
            self.msgs = {k: msgs[k] for k in sorted(msgs)}  # canonical order
        ghost.check_monotone(node, before, r, where)
        if ghost.minv is not None:
            v = ghost.minv.on_step(node, r, effects, self.now_us, step)
            if v is not None:
                raise Found(v)
        if r.promised.round > self.bounds.max_round:
            self.beyond = True
        self.rfps[node] = local.fp
        if kv_owned:
            self.kfps[node] = repr(sorted(kv.items())).encode()
        if not self.sym.trivial:
            self.sfps[node] = local.sfps
        for spare in starting:
            self._start(spare, step)

    # ---- identity ---------------------------------------------------------------------

    def fingerprint(self) -> bytes:
        """Canonical bytes of the whole state (`harness.explore.symmetry.world_fingerprint`):
        equal states, equal bytes, in any process; under a symmetry group, equal bytes for
        states that differ by a permutation of interchangeable nodes."""
        return world_fingerprint(self)

    def with_symmetry(self, sym: Symmetry) -> World:
        """This state, fingerprinted under ``sym`` (for tests comparing reductions)."""
        w = self._fork()
        w.sym = sym
        w.sfps = [
            (b"killed",) * (len(sym.perms) - 1) if r is None else relabelled_fingerprints(r, sym)
            for r in self.replicas
        ]
        return w

    def digest(self) -> bytes:
        """16-byte blake2b of `fingerprint` (what the visited set stores)."""
        return hashlib.blake2b(self.fingerprint(), digest_size=16).digest()

    def describe(self) -> str:
        """One line for traces: time, roles, in-flight count, client ops."""
        roles = " ".join(
            f"n{n}:{'down' if r is None else r.role.value}" for n, r in enumerate(self.replicas)
        )
        return f"t={self.now_us}us {roles} inflight={self.inflight} ops={self.ops}"


_LINEARIZABLE: dict[tuple[Any, ...], str | None] = {}
_LINEARIZABLE_MAX = 100_000


def _not_linearizable(history: tuple[HistoryEvent, ...]) -> str | None:
    """The checker's summary if ``history`` is not linearizable, else None. Memoised on the
    events without their times (the checker orders by position; times are display only)."""
    key = tuple((e.process, e.type, e.f, e.key, e.value, e.error) for e in history)
    if key in _LINEARIZABLE:
        return _LINEARIZABLE[key]
    result = check_linearizability(history, "kv", timeout_s=None)
    summary = result.summary() if result.verdict == "violation" else None
    if len(_LINEARIZABLE) >= _LINEARIZABLE_MAX:
        _LINEARIZABLE.clear()
    _LINEARIZABLE[key] = summary
    return summary


def _may_serve_read(r: Any) -> bool:
    """False iff ``r`` refuses a strong read at once (`Replica._on_client_read`): a log
    replica, or a non-leader when strong reads need a lease."""
    if r.config.is_log_replica:
        return False
    return r.role is Role.LEADER or not r.config.flags.strong_read_needs_lease
