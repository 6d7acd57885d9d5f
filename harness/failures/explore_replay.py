"""Replay an explore schedule through the simulator's host loop and its online invariants.

The explorer steps bare replicas; this module re-runs the same explicit schedule with the
machinery of a simulated run: one `harness.runtime.host.Host` per node (WAL and KV store on a
`storage.SimDisk` without faults, the replica built by `harness.runtime.host.default_backend`),
inside ``trio.run`` with a ``MockClock`` moved to each step's true time, checked by
`harness.checks.invariants.OnlineInvariants` after every step (and S6 with ``check_global``; S12
and S13 with it too) and, at the end, by the linearizability checker on the client history.
Spares are hosts that boot when a leader's `consensus.effects.StartReplica` reaches the
host's spawner (after the step that emitted it, as the explorer does); a killed node's host
stops for good, and messages to a node that is not running are lost. So a violation the
explorer reports is confirmed by independent code, the one simulator runs use.

Entry points: `replay_explore(folder)` for an artifact written by ``paxlab explore``;
`replay_actions(bounds, actions)` for a schedule in memory. Both return a `ReplayOutcome`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import trio
import trio.testing

from consensus.events import Event, Receive, StepDown, Tick
from harness.checks.history import HistoryRecorder
from harness.checks.invariants import OnlineInvariants
from harness.checks.linearizability import check_linearizability
from harness.checks.violation import Violation
from harness.explore.bounds import EXPLORE_TIMING, Bounds
from harness.explore.clients import client_request, op_spec
from harness.explore.world import Action
from harness.failures.explore_artifact import read_explore_artifact
from harness.runtime.chooser import Chooser
from harness.runtime.host import ClientOutcome, GroupSpec, Host, default_backend
from storage import SimDisk


@attrs.frozen(kw_only=True)
class ReplayOutcome:
    """What a replay saw: the first violation (or None), steps run, the client history."""

    violation: Violation | None
    steps: int
    history: tuple[dict[str, Any], ...]


def replay_explore(folder: str | Path) -> ReplayOutcome:
    """Replay the explore artifact in ``folder``; raises ValueError if it is not one."""
    bounds, actions, _ = read_explore_artifact(folder)
    return replay_actions(bounds, actions)


def replay_actions(bounds: Bounds, actions: Sequence[Action]) -> ReplayOutcome:
    """Run ``actions`` (explore actions, in order) through hosts in trio; see module doc.

    Raises ValueError if an action cannot run (a message not in flight, a node not up).
    """
    world = _HostWorld(bounds)

    async def main() -> None:
        clock = trio.lowlevel.current_clock()
        assert isinstance(clock, trio.testing.MockClock)
        world.start()
        for action in actions:
            if world.violation is not None:
                break
            world.run(tuple(action))
            clock.jump(max(0.0, world.now_us / 1e6 - trio.current_time()))
            await trio.lowlevel.checkpoint()
        world.finish()

    try:
        trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    except BaseExceptionGroup as group:  # Ctrl-C: a plain KeyboardInterrupt for callers
        if group.subgroup(KeyboardInterrupt) is not None:
            raise KeyboardInterrupt from None
        raise
    return ReplayOutcome(
        violation=world.violation,
        steps=world.steps,
        history=tuple(e.to_json() for e in world.recorder.events),
    )


class _HostWorld:
    """Hosts, the in-flight message multiset, timers and clients: the explorer's world,
    run by the simulator's host code. Implements the host's Transport, ClientPort and
    TimerPort."""

    def __init__(self, bounds: Bounds) -> None:
        self.bounds = bounds
        self.members = bounds.members
        self.now_us = 0
        self.steps = 0
        self.violation: Violation | None = None
        self.inv = OnlineInvariants(self.members)
        self.msgs: dict[tuple[int, int, str], list[Any]] = {}
        nodes = range(bounds.nodes)
        self.timers: dict[int, int] = dict.fromkeys(nodes, 0)
        self.up: dict[int, bool] = dict.fromkeys(nodes, False)
        self.starting: list[int] = []  # spares a StartReplica asked for during this step
        self.recorder = HistoryRecorder()
        backend = default_backend(EXPLORE_TIMING)
        chooser = Chooser.replaying([])
        group = None
        if bounds.membership:
            group = GroupSpec(replicas=bounds.replicas, log_spares=bounds.log_spare_ids,
                              spares=bounds.spare_ids, dead_after_us=bounds.dead_after_us or 0)
        self.hosts: dict[int, Host] = {}
        for n in nodes:
            self.hosts[n] = Host(
                n,
                SimDisk(n, choose=chooser.choose),
                make_replica=backend.replica_factory(
                    n, self.members, bounds.variant, chooser, group
                ),
                open_storage=backend.open_storage,
                transport=self,
                clients=self,
                timers=self,
                observer=self._observe,
                spawner=self if group is not None else None,
            )

    # ---- ports ------------------------------------------------------------------------
    def send(self, src: int, dst: int, msg: Any, extra_delay_us: int) -> None:
        if not self.up[dst] and dst not in self.starting:
            return  # not running: lost (as in the explorer)
        self.msgs.setdefault((dst, src, repr(msg)), []).append(msg)

    def start_replica(self, node: int, log_replica: bool) -> None:
        if not self.up[node] and node >= self.bounds.replicas and node not in self.starting:
            self.starting.append(node)

    def set_timer(self, node: int, at_local_us: int) -> None:
        self.timers[node] = at_local_us

    def answer(
        self, node: int, client_id: int, request_id: int, outcome: ClientOutcome, extra: int
    ) -> None:
        op = client_id - 1
        if op not in self.recorder.open_processes():
            return
        t = self.now_us * 1000
        if outcome.status == "ok":
            f, _ = op_spec(self.bounds, op)
            value = None
            if f == "get" and outcome.value is not None:
                value = outcome.value.decode()
            self.recorder.complete(op, "ok", value, time=t)
        else:
            kind = "info" if outcome.indeterminate else "fail"
            self.recorder.complete(op, kind, time=t, error=outcome.error)

    def read_served(self, node: int, strong: bool, key: bytes, value: bytes | None) -> None:
        self._found(self.inv.on_read(node, strong, key, value, self.now_us, self.steps))

    # ---- running ----------------------------------------------------------------------
    def _found(self, v: Violation | None) -> None:
        if v is not None and self.violation is None:
            self.violation = v

    def _observe(
        self, node: int, replica: Any, event: Event, effects: list[Any], local_us: int
    ) -> None:
        self.steps += 1
        self._found(self.inv.on_step(node, replica, event, effects, self.now_us, self.now_us,
                                     self.steps))

    def _replicas(self) -> dict[int, Any]:
        return {n: h.replica for n, h in self.hosts.items() if self.up[n]}

    def _check_s6(self, at_us: int) -> None:
        reps = self._replicas()
        self._found(self.inv.check_global(reps, dict.fromkeys(reps, at_us), at_us, self.steps))

    def _boot(self, node: int) -> None:
        host = self.hosts[node]
        host.recover()
        self.up[node] = True
        self._found(self.inv.on_recover(node, host.replica, self.now_us, self.steps))
        host.step(Tick(), self.now_us)

    def start(self) -> None:
        for n in self.members:
            self._boot(n)

    def run(self, action: Action) -> None:
        kind = action[0]
        if kind == "tick":
            node = action[1]
            end = max(self.now_us, self.timers[node])
            for r in self._replicas().values():
                until = r.lease_until_us
                if until is not None and self.now_us < until - 1 < end:
                    self._check_s6(until - 1)
            self.now_us = end
            self._step(node, Tick())
        elif kind in ("deliver", "drop", "dup"):
            key = (action[1], action[2], action[3])
            queue = self.msgs.get(key)
            if not queue:
                raise ValueError(f"replay: message not in flight: action={action!r}")
            if kind == "dup":
                queue.append(queue[0])
            else:
                msg = queue.pop()
                if not queue:
                    del self.msgs[key]
                if kind == "deliver":
                    self._step(key[0], Receive(src=key[1], msg=msg))
        elif kind == "request":
            self._request(action[1], action[2])
        elif kind == "crash":
            node = action[1]
            host = self.hosts[node]
            host.stop()
            host.disk.crash()
            self.up[node] = False
            self._boot(node)
        elif kind == "step-down":
            self._step(action[1], StepDown())
        elif kind == "kill":
            node = action[1]
            self.hosts[node].stop()
            self.up[node] = False
            self.msgs = {k: q for k, q in self.msgs.items() if k[0] != node}
        else:
            raise ValueError(f"replay: unknown action={action!r}")
        self._check_s6(self.now_us)

    def _step(self, node: int, event: Event) -> None:
        if not self.up[node]:
            raise ValueError(f"replay: node is down: node={node}")
        self.hosts[node].step(event, self.now_us)
        starting, self.starting = self.starting, []
        for spare in starting:
            self._boot(spare)

    def _request(self, op: int, node: int) -> None:
        ev, f, value = client_request(self.bounds, op)
        self.recorder.invoke(op, f, "k", value, time=self.now_us * 1000)
        self._step(node, ev)

    def finish(self) -> None:
        """Linearizability (S8) of the client history, if nothing was found earlier."""
        if self.violation is not None:
            return
        result = check_linearizability(self.recorder.events, "kv", timeout_s=None)
        if result.verdict == "violation":
            self.violation = Violation(
                property="S8", time_us=self.now_us, step=self.steps, key="k",
                message=f"S8: the client history is not linearizable ({result.summary()})",
            )
