"""The deterministic simulator: one replica group, its clients and the nemesis, in one trio run.

Shape (DESIGN.md sections 3 and 4; TigerBeetle's VOPR): the simulator owns an ordered event
queue, a heap of ``(true_us, seq, kind, a, b)``. The loop (`Simulation._advance`) pops the
earliest event and handles it synchronously: a message delivery or a timer is a plain call
of `Host.step` on one node, no trio switch. Client tasks are trio tasks; they await results
the loop hands them (`_Pending`), and their timeouts and pauses are queue events too.

The loop is run by whichever task is about to block: a client that parks (awaits its next
answer or pause) or ends runs it until one waiter is woken, hands over to that task (no
switch at all if it woke itself) and parks. So exactly one task is runnable at any time and
trio's scheduler never decides an order; one trio switch per client wakeup, none per
message. Clients start one at a time, each running until it first parks. trio's seeded
deterministic scheduling (`harness.determinism`) stays on all the same. True time is the
simulator's; trio's ``MockClock`` is moved to it at every wakeup.

A run: options drawn and logged first; then the fault phase (clients issue ``options.ops``
operations while the nemesis injects faults); then the liveness phase (everything healed,
restarted, resumed; within ``liveness_bound_us`` there must be a serving leader and every
live replica must have applied the same slots to the same state); then a strong read of
every key; then the linearizability check of the history (S8). The first violation ends the
run. `run` returns a `RunResult`; ``run(options, replay=result.choices)`` repeats it.

With the ``permanent`` fault the group also has spare nodes (`harness.host.GroupSpec`: a log
spare and a storage spare), which run nothing until a healing leader's ``StartReplica``
starts them; clients address storage nodes only. A node failed for good never restarts; the
liveness phase then also requires that the leader healed the group (see `not_converged`).
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import trio
import trio.testing

from consensus.events import ClientRead, ClientWrite, Receive, Tick
from harness.chooser import Chooser
from harness.clock import ClockOptions, NodeClock, signed_choice
from harness.determinism import deterministic_scheduling
from harness.host import (
    TIMEOUT,
    Backend,
    ClientOutcome,
    GroupSpec,
    Host,
    StepObserver,
    default_backend,
)
from harness.links import Links
from harness.nemesis import Nemesis, NemesisOptions
from harness.network import Network
from harness.runspec import RunOptions, RunResult, Violation
from harness.trace import Observer, Trace
from harness.workload import Workload, WorkloadOptions
from storage.errors import StorageError

_DELIVER, _TIMER, _WAKE, _ANSWER, _NEMESIS, _NEMESIS_END, _CHECK, _START = range(8)
_FAULT, _LIVENESS, _FINAL, _DONE = range(4)
_TICK = Tick()  # frozen and field-less: one instance serves every timer
_PHASES = ("fault", "liveness", "final-reads", "done")


@attrs.frozen(kw_only=True)
class SimOptions:
    """Simulator settings beyond `RunOptions` (defaults are the standard run).

    Attributes:
        client_delay_min_us, client_delay_jitter_us: one-way client <-> node delay.
        checkpoint_every: applied slots between KV checkpoints and log compaction.
        liveness_bound_us: after healing, the time allowed to converge.
        liveness_check_us: how often convergence is checked.
        fault_phase_max_us: clients start no new operation after this true time.
        failstop_restart_us: a node that fail-stopped on a storage error restarts after this.
        online_invariants: check `harness.invariants` after every step.
        check_history: check the history for linearizability (S8) at the end.
        max_steps: a run taking more steps is a liveness failure (a livelock guard).
        replica_dead_after_us: with spares (the ``permanent`` fault), how long a leader hears
            nothing from a storage replica before it replaces it.
        log_replicas: log replicas in the initial configuration (beside ``replicas``).
        bandwidth_mb_s: per directed link (`harness.links`); 0 = packets have no size.
        snapshot_bytes: with a bandwidth, what a message carrying a snapshot is charged
            (0 = its real size).
    """

    nemesis: NemesisOptions = attrs.field(factory=NemesisOptions)
    workload: WorkloadOptions = attrs.field(factory=WorkloadOptions)
    clock: ClockOptions = attrs.field(factory=ClockOptions)
    client_delay_min_us: int = 100
    client_delay_jitter_us: int = 200
    checkpoint_every: int = 256
    liveness_bound_us: int = 10_000_000
    liveness_check_us: int = 50_000
    fault_phase_max_us: int = 120_000_000
    failstop_restart_us: int = 200_000
    online_invariants: bool = True
    check_history: bool = True
    max_steps: int = 5_000_000
    replica_dead_after_us: int = 1_000_000
    log_replicas: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    bandwidth_mb_s: float = attrs.field(default=0.0, validator=attrs.validators.ge(0))
    snapshot_bytes: int = attrs.field(default=0, validator=attrs.validators.ge(0))


class _Pending:
    """A client's wait for one answer (or a pause); resolved once by the loop."""

    __slots__ = ("client_id", "done", "node", "outcome", "request_id", "task")

    def __init__(self, client_id: int = 0, request_id: int = 0, node: int = -1) -> None:
        self.client_id = client_id
        self.request_id = request_id
        self.node = node
        self.done = False
        self.outcome: ClientOutcome = TIMEOUT
        self.task: trio.lowlevel.Task | None = None


_SPAWNED = _Pending()  # `_advance` started a task: the caller parks and lets it run
_OVER = _Pending()  # `_advance` found the run over: wake the main task


def _abort(raise_cancel: Any) -> trio.lowlevel.Abort:
    """A parked task may be cancelled (the run is over); nothing to undo."""
    return trio.lowlevel.Abort.SUCCEEDED


class _Clients:
    """What client tasks see of the simulator: the storage nodes, time, requests, sleep."""

    def __init__(self, sim: Simulation, members: tuple[int, ...]) -> None:
        self.members = members
        self.now_us = sim.now_us
        self.request = sim.request
        self.sleep = sim.sleep


class Simulation:
    """One run's world: nodes, network, clocks, nemesis, clients, trace (see module doc)."""

    def __init__(
        self,
        options: RunOptions,
        chooser: Chooser,
        *,
        backend: Backend,
        sim_options: SimOptions,
        trace: Trace,
    ) -> None:
        self.options = options
        self.chooser = chooser
        self.so = sim_options
        self.trace = trace
        self.group = group = GroupSpec.for_run(
            options.replicas,
            "permanent" in options.faults,
            sim_options.replica_dead_after_us,
            sim_options.log_replicas,
        )
        bandwidth = sim_options.bandwidth_mb_s
        self.links = Links(bandwidth, sim_options.snapshot_bytes) if bandwidth else None
        self.members = group.nodes  # every node that may run (spares included)
        self.timing = backend.timing
        rho = self.timing.drift_bound_ppm
        co = sim_options.clock
        self.clocks: dict[int, NodeClock] = {}
        for n in self.members:
            offset = chooser.choose("clock.offset", co.max_offset_us + 1)
            drift = signed_choice(chooser.choose("clock.drift", 2 * rho + 1))
            self.clocks[n] = NodeClock(
                offset_us=offset, drift_ppm=drift, bound_ppm=rho, unsafe=options.unsafe_clocks
            )
        nem_options = attrs.evolve(sim_options.nemesis, faults=options.faults)
        self.network = Network(self.members, nem_options.network, chooser)
        self.nemesis = Nemesis(
            group.members + group.log_members,
            nem_options,
            chooser,
            rho_ppm=rho,
            unsafe_clocks=options.unsafe_clocks,
            log_nodes=group.log_members,
        )
        self.workload = Workload(
            ops=options.ops,
            keys=options.keys,
            chooser=chooser,
            encode=backend.encode,
            options=sim_options.workload,
        )
        self.now = 0
        self.heap: list[tuple[int, int, int, Any, Any]] = []
        self._seq = itertools.count(1)  # ties in true time break by push order
        self.status: dict[int, str] = dict.fromkeys(self.members, "up")
        for n in group.log_spares + group.spares:
            self.status[n] = "absent"  # until a healing leader starts it
        self.held: dict[int, list[tuple[int, Any, Any]]] = {n: [] for n in self.members}
        self.timer_at: dict[int, int | None] = dict.fromkeys(self.members)
        self.timer_gen: dict[int, int] = dict.fromkeys(self.members, 0)
        self.pending: dict[int, _Pending] = {}
        self.checks = Observer(self, trace, invariants=sim_options.online_invariants)
        if self.checks.invariants is not None:
            self.checks.invariants.set_initial(group.initial)
        self.clients = _Clients(self, tuple(sorted(group.members + group.spares)))
        world = " ".join(
            f"n{n}:offset={c.local_at(0)},drift={c.drift_ppm}ppm" for n, c in self.clocks.items()
        )
        trace.add(f"0 world {world} disk_fault_nodes={list(self.nemesis.disk_fault_nodes)}")
        self.hosts: dict[int, Host] = {}
        for n in self.members:
            disk = backend.make_disk(n, self.nemesis.disk_faults(n), chooser)
            self.hosts[n] = Host(
                n,
                disk,
                make_replica=backend.replica_factory(
                    n, group.members, options.variant, chooser, group
                ),
                open_storage=backend.open_storage,
                transport=self,
                clients=self,
                timers=self,
                observer=self.checks.observe,
                spawner=self,
                checkpoint_every=sim_options.checkpoint_every,
            )
        self.delivered = 0  # peer messages delivered to a live node
        self.phase = _FAULT
        self.active_clients = 0
        self.final_done = False
        self.liveness_deadline = 0
        self._woken: _Pending | None = None  # set by the loop's handlers: whom to wake
        self._starting = True  # clients are being started: a parking task wakes main
        self._over = False
        self._main_task: trio.lowlevel.Task | None = None
        self._trio_now_us = 0
        self._clock: trio.testing.MockClock | None = None
        self._nursery: trio.Nursery | None = None

    # -- the queue ----------------------------------------------------------------------------

    def _push(self, at_us: int, kind: int, a: Any, b: Any) -> None:
        heapq.heappush(self.heap, (at_us, next(self._seq), kind, a, b))

    def now_us(self) -> int:
        return self.now

    def local_now(self, node: int) -> int:
        return self.clocks[node].local_at(self.now)

    # -- ports for hosts (Transport, ClientPort, TimerPort) -----------------------------------

    def send(self, src: int, dst: int, msg: Any, extra_delay_us: int) -> None:
        if self.links is not None:
            extra_delay_us = self.links.depart(src, dst, msg, self.now + extra_delay_us) - self.now
        delays = self.network.transmit(src, dst)
        if delays:
            event = Receive(src=src, msg=msg)
            leaves_us = self.now + extra_delay_us
            for delay in delays:
                entry = (leaves_us + delay, next(self._seq), _DELIVER, dst, event)
                heapq.heappush(self.heap, entry)

    def _client_delay(self) -> int:
        jitter = self.chooser.choose("net.client.delay", self.so.client_delay_jitter_us + 1)
        return self.so.client_delay_min_us + jitter

    def answer(
        self, node: int, client_id: int, request_id: int, outcome: ClientOutcome, extra: int
    ) -> None:
        at = self.now + extra + self._client_delay()
        self._push(at, _ANSWER, client_id, (request_id, node, outcome))

    def read_served(self, node: int, strong: bool, key: bytes, value: bytes | None) -> None:
        self.checks.read_served(node, strong, key, value)

    def set_timer(self, node: int, at_local_us: int) -> None:
        self.timer_at[node] = at_local_us
        self.timer_gen[node] += 1
        due = self.clocks[node].true_at(at_local_us, self.now)
        self._push(due, _TIMER, node, self.timer_gen[node])

    def add_step_listener(self, listener: StepObserver) -> None:
        """Call ``listener`` after every replica step, after the online checks (before the run;
        a listener only watches: it must not change what the run does)."""
        for host in self.hosts.values():
            inner = host.observer

            def observe(
                n: int, replica: Any, event: Any, effects: list[Any], local: int,
                inner: StepObserver | None = inner,
            ) -> None:
                if inner is not None:
                    inner(n, replica, event, effects, local)
                listener(n, replica, event, effects, local)

            host.observer = observe

    # -- the Cluster API for the nemesis ------------------------------------------------------

    def leader(self) -> int | None:
        return self.checks.leader()

    def schedule_after(self, delay_us: int, action: str, node: int | None) -> None:
        self._push(self.now + delay_us, _NEMESIS_END, action, node)

    def crash(self, node: int) -> None:
        self.status[node] = "crashed"
        self.hosts[node].stop()
        self.hosts[node].disk.crash()
        self.timer_gen[node] += 1
        self.timer_at[node] = None
        self.held[node].clear()
        self.checks.down(node)

    def restart(self, node: int) -> bool:
        host = self.hosts[node]
        try:
            host.recover()
        except StorageError as exc:
            self.status[node] = "failed"
            self.hosts[node].stop()
            self.checks.down(node)
            self.checks.note(node, f"storage failed recovery: {type(exc).__name__}: {exc}")
            return False
        self.status[node] = "up"
        self.checks.recovered(node, host.replica)
        self._step(node, _TICK)
        return True

    def fail_permanently(self, node: int) -> None:
        self.crash(node)
        self.status[node] = "dead"

    def start_replica(self, node: int, log_replica: bool) -> None:
        """`harness.host.SpawnPort`: a leader adds spare ``node``; it starts as its own event."""
        if self.status.get(node) == "absent":
            self.status[node] = "starting"
            self._push(self.now, _START, node, log_replica)

    def _start_spare(self, node: int, log_replica: bool) -> None:
        kind = "log replica" if log_replica else "storage replica"
        self.checks.fault("start", [node], f"spare started as a {kind}")
        self.nemesis.started(node, log_replica)
        self.restart(node)

    def pause(self, node: int) -> None:
        self.status[node] = "paused"

    def resume(self, node: int) -> None:
        self.status[node] = "up"
        held, self.held[node] = self.held[node], []
        for kind, a, b in held:
            self._push(self.now, kind, a, b)

    def clock_changed(self, node: int) -> None:
        at = self.timer_at[node]
        if at is not None and self.status[node] != "crashed":
            self.set_timer(node, at)

    def record_fault(self, fault: str, nodes: list[int], detail: str) -> None:
        self.checks.fault(fault, nodes, detail)

    # -- stepping nodes -----------------------------------------------------------------------

    def _step(self, node: int, event: Any) -> None:
        try:
            self.hosts[node].step(event, self.clocks[node].local_at(self.now))
        except StorageError as exc:
            self._fail_stop(node, exc)

    def _fail_stop(self, node: int, exc: StorageError) -> None:
        """A storage error in ``node``'s step: it stops (a crash) and restarts later."""
        self.checks.note(node, f"fail-stop on {type(exc).__name__}: {exc}")
        self.crash(node)
        self.nemesis.fail_stopped(self, node, self.so.failstop_restart_us)

    def _arrive(self, kind: int, node: int, payload: Any) -> None:
        status = self.status[node]
        if status == "up":
            if kind == _DELIVER:
                if type(payload) is Receive:
                    self.delivered += 1
                self._step(node, payload)
            elif payload == self.timer_gen[node]:
                at = self.timer_at[node]
                if at is not None and self.clocks[node].local_at(self.now) < at:
                    self.set_timer(node, at)  # the clock slowed since the timer was set
                else:
                    self.timer_at[node] = None
                    self._step(node, _TICK)
        elif status == "paused":
            self.held[node].append((kind, node, payload))

    # -- the ClusterAPI for client tasks -------------------------------------------------------

    async def request(
        self, node: int, event: ClientWrite | ClientRead, timeout_us: int
    ) -> ClientOutcome:
        p = _Pending(event.client_id, event.request_id, node)
        self.pending[event.client_id] = p
        self._push(self.now + self._client_delay(), _DELIVER, node, event)
        self._push(self.now + timeout_us, _WAKE, p, None)
        await self._park(p)
        return p.outcome

    async def sleep(self, delay_us: int) -> None:
        p = _Pending()
        self._push(self.now + delay_us, _WAKE, p, None)
        await self._park(p)

    def _resolve(self, p: _Pending, outcome: ClientOutcome) -> None:
        if not p.done:
            p.done = True
            p.outcome = outcome
            self._woken = p

    # -- handing the one running turn between tasks --------------------------------------------

    async def _park(self, p: _Pending) -> None:
        """Block the current task until ``p`` is resolved, running the loop meanwhile."""
        p.task = trio.lowlevel.current_task()
        if self._starting:
            assert self._main_task is not None
            trio.lowlevel.reschedule(self._main_task)
        else:
            nxt = self._advance()
            self._hand_over(nxt)
            if nxt is p:
                return  # woke itself: no switch
        await trio.lowlevel.wait_task_rescheduled(_abort)

    def _hand_over(self, nxt: _Pending) -> None:
        """Make the task `_advance` chose runnable (the caller then parks or ends)."""
        if nxt is _OVER:
            self._over = True
            assert self._main_task is not None
            trio.lowlevel.reschedule(self._main_task)
            return
        assert self._clock is not None
        self._clock.jump((self.now - self._trio_now_us) / 1e6)  # trio's clock shows true time
        self._trio_now_us = self.now
        if nxt is not _SPAWNED and nxt.task is not trio.lowlevel.current_task():
            assert nxt.task is not None
            trio.lowlevel.reschedule(nxt.task)

    def _ended(self) -> None:
        """The current task ends: pass the turn on (to main while clients are starting)."""
        if self._starting:
            assert self._main_task is not None
            trio.lowlevel.reschedule(self._main_task)
        elif not self._over:
            self._hand_over(self._advance())

    # -- phases -------------------------------------------------------------------------------

    async def _client(self, process: int) -> None:
        try:
            await self.workload.client(self.clients, process)
        finally:
            self.active_clients -= 1
        self._ended()

    async def _final(self) -> None:
        await self.workload.final_reads(self.clients, self.options.clients)
        self.final_done = True
        self._ended()

    def _begin_liveness(self) -> None:
        self.phase = _LIVENESS
        self.checks.fault("liveness", [], "fault phase over: heal, restart, resume")
        self.nemesis.stop(self)
        self.liveness_deadline = self.now + self.so.liveness_bound_us
        self._push(self.now + self.so.liveness_check_us, _CHECK, None, None)

    def _check_liveness(self) -> None:
        if self.phase != _LIVENESS:
            return
        why = self.not_converged()
        if why is None:
            self.phase = _FINAL
            assert self._nursery is not None
            self._nursery.start_soon(self._final)
            self._woken = _SPAWNED
        elif self.now >= self.liveness_deadline:
            bound = self.so.liveness_bound_us
            self.checks.violate("liveness", f"not converged {bound}us after healing: {why}")
        else:
            self._push(self.now + self.so.liveness_check_us, _CHECK, None, None)

    def not_converged(self) -> str | None:
        """Why the live replicas have not converged (None: they have).

        Converged: some replica serves under a lease, and every live storage replica of its
        committed configuration has applied its commit index, with the same KV checksum. In a
        group with spares, the leader has also healed: its committed configuration holds no
        node failed by the ``permanent`` fault, and while all its storage voters are up, no
        log spare either (a node whose storage failed recovery is also down for good, and
        with the spares used up the log replica rightly stays).
        """
        up = [n for n in self.members if self.status[n] == "up"]
        leaders = [n for n in up if self.hosts[n].replica.is_serving(self.local_now(n))]
        if not leaders:
            return f"no serving leader among live nodes {up}"
        leader = self.hosts[leaders[0]].replica
        target = leader.commit_index
        group = self.group
        live = [n for n in up if n not in group.log_members]
        if group.log_spares or group.spares:
            committed = leader.committed_membership
            status = self.status
            dead = any(status[n] == "dead" for n in committed.voters)
            all_up = all(status[n] == "up" for n in committed.storage)
            if dead or (all_up and any(n in group.log_spares for n in committed.voters)):
                return f"group not healed: committed configuration {committed}"
            live = [n for n in committed.storage if self.status[n] == "up"]
        for n in live:
            kv = self.hosts[n].kv
            assert kv is not None
            if kv.applied_lsn < target:
                return f"node {n} applied {kv.applied_lsn} < commit index {target}"
        sums = {n: self.hosts[n].kv.checksum() for n in live}  # type: ignore[union-attr]
        if len(set(sums.values())) > 1:
            return f"kv checksums differ: {sums}"
        return None

    def final_check(self) -> Violation | None:
        """After the run: the final reads done (liveness), the history linearizable (S8)."""
        checks = self.checks
        if checks.violation is None and self.phase != _DONE:
            checks.violate("liveness", f"run ended early: phase={_PHASES[self.phase]}")
        if checks.violation is None and self.workload.final_failed:
            key = self.workload.final_failed[0]
            checks.violate("liveness", f"final strong read failed: key={key}", key=key)
        if checks.violation is None and self.so.check_history:
            checks.found(self.workload.check_linearizable(self.now, self.trace.steps))
        return checks.violation

    async def main(self) -> None:
        """The trio entry point: start nodes and clients, run the loop, wait for the end."""
        clock = trio.lowlevel.current_clock()
        assert isinstance(clock, trio.testing.MockClock)
        self._clock = clock
        self._main_task = trio.lowlevel.current_task()
        for n in self.group.members + self.group.log_members:
            self.restart(n)
        if self.nemesis.options.faults:
            self._push(self.nemesis.options.tick_interval_us, _NEMESIS, None, None)
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self.active_clients = self.options.clients
            for i in range(self.options.clients):  # one at a time: each runs until it parks
                nursery.start_soon(self._client, i)
                await trio.lowlevel.wait_task_rescheduled(_abort)
            self._starting = False
            nxt = self._advance()
            if nxt is not _OVER:
                self._hand_over(nxt)
                await trio.lowlevel.wait_task_rescheduled(_abort)  # until the run is over
            self._over = True
            nursery.cancel_scope.cancel()

    def _advance(self) -> _Pending:
        """Run the queue until a waiter is woken (returned), a task started (`_SPAWNED`) or
        the run is over (`_OVER`: a violation, the final reads done, or nothing left)."""
        checks = self.checks
        # What the last wakeup changed: clients may have ended, the final reads finished.
        if self.phase == _FAULT and self.active_clients == 0:
            self._begin_liveness()
        elif self.phase == _FINAL and self.final_done:
            self.phase = _DONE
        self._after_event()
        heap = self.heap
        pop = heapq.heappop
        arrive = self._arrive
        status = self.status
        hosts = self.hosts
        clocks = self.clocks
        while heap and checks.violation is None and self.phase != _DONE:
            at, _, kind, a, b = pop(heap)
            self.now = at
            if kind == _DELIVER and type(b) is Receive and status[a] == "up":
                # The common case, inlined: a peer message reaches a live node.
                self.delivered += 1
                try:
                    hosts[a].step(b, clocks[a].local_at(at))
                except StorageError as exc:
                    self._fail_stop(a, exc)
            elif kind <= _TIMER:
                arrive(kind, a, b)
            elif kind == _ANSWER:
                p = self.pending.get(a)
                request_id, node, outcome = b
                if p is not None and p.request_id == request_id and p.node == node:
                    self._resolve(p, outcome)
            elif kind == _WAKE:
                self._resolve(a, TIMEOUT)
            elif kind == _NEMESIS:
                self.nemesis.tick(self)
                if self.nemesis.active:
                    self._push(self.now + self.nemesis.options.tick_interval_us, _NEMESIS, 0, 0)
            elif kind == _NEMESIS_END:
                self.nemesis.end(self, a, b)
            elif kind == _START:
                self._start_spare(a, b)
            else:
                self._check_liveness()
            woken = self._woken
            if woken is not None:
                self._woken = None
                return woken  # `_after_event` runs when the woken task hands the turn back
            self._after_event()
        return _OVER

    def _after_event(self) -> None:
        if self.now > self.so.fault_phase_max_us and not self.workload.stopped:
            self.workload.stopped = True
        if self.trace.steps > self.so.max_steps:
            self.checks.violate("liveness", f"no end after max_steps={self.so.max_steps} steps")


def simulate(
    options: RunOptions,
    *,
    replay: Sequence[int] | None = None,
    trace: Trace | None = None,
    backend: Backend | None = None,
    sim_options: SimOptions | None = None,
    prepare: Callable[[Simulation], None] | None = None,
) -> Simulation:
    """Run one simulation to its end and return it (unchecked history; see `run`).

    ``prepare`` is called with the built simulation before it runs, to attach passive
    observers (the NDJSON trace writer); it must not change what the run does.
    """
    chooser = Chooser(options.seed, replay=replay)
    trace = trace or Trace()
    trace.add(f"0 options {options.to_json()!r}")
    sim = Simulation(
        options,
        chooser,
        backend=backend or default_backend(),
        sim_options=sim_options or SimOptions(),
        trace=trace,
    )
    if prepare is not None:
        prepare(sim)
    with deterministic_scheduling(options.seed):
        trio.run(sim.main, clock=trio.testing.MockClock(autojump_threshold=0))
    return sim


def run(
    options: RunOptions,
    *,
    replay: Sequence[int] | None = None,
    keep_trace: bool = True,
    trace_until: int | None = None,
    backend: Backend | None = None,
    sim_options: SimOptions | None = None,
    prepare: Callable[[Simulation], None] | None = None,
) -> RunResult:
    """Run one simulation and check it; see the module docstring.

    ``replay``: a choice list to repeat (`RunResult.choices`) instead of drawing from the seed.
    ``keep_trace``: keep the trace lines in the result (the fingerprint is always computed).
    ``trace_until``: keep only the first that many lines. ``backend``: the replica and storage
    to run (default: `consensus.Replica` on `storage`); ``sim_options``: simulator settings;
    ``prepare``: see `simulate`.
    """
    wall_start = time.perf_counter()  # wall time is reported, never simulated
    trace = Trace(keep=keep_trace, until=trace_until)
    sim = simulate(
        options, replay=replay, trace=trace, backend=backend, sim_options=sim_options,
        prepare=prepare,
    )
    violation = sim.final_check()
    return RunResult(
        options=options,
        verdict="ok" if violation is None else "violation",
        violation=violation,
        ops=dict(sim.workload.counts),
        sim_time_s=sim.now / 1e6,
        wall_time_s=time.perf_counter() - wall_start,
        fingerprint=trace.fingerprint(),
        steps=trace.steps,
        choices=tuple(sim.chooser.choices),
        history=tuple(e.to_json() for e in sim.workload.recorder.events),
        trace=tuple(trace.lines),
        unsafe=options.unsafe_clocks,
        timeline=tuple(sim.checks.timeline),
    )


__all__ = ["SimOptions", "Simulation", "run", "simulate"]
