"""The simulated cluster: nodes, clocks, network, nemesis and the ports they are driven by.

`Cluster` builds one run's world from the options and the chooser (every draw in a fixed
order) and implements the ports: for hosts (`harness.runtime.host.Transport`, ``ClientPort``,
``TimerPort``, ``SpawnPort``) and for the nemesis (crash, restart, pause, clock changes,
permanent failures, spares). Stepping a node outside the loop (`_step`) is here too; the loop
that pops the queue, and steps nodes itself, is `harness.sim.Simulation._advance`.
"""

from __future__ import annotations

import functools
import heapq
import inspect
import itertools
from typing import Any

import attrs

from consensus.events import Receive, Reconfigure, StepDown
from harness.runtime import protocols
from harness.runtime.chooser import Chooser
from harness.runtime.host import Backend, ClientOutcome, GroupSpec, Host, StepObserver
from harness.sim.buggify import Knobs, draw_knobs
from harness.sim.clock import NodeClock, signed_choice
from harness.sim.links import Links
from harness.sim.membership import ConfigChanges
from harness.sim.nemesis import Nemesis
from harness.sim.network import Network
from harness.sim.observer import Observer
from harness.sim.options import SimOptions
from harness.sim.queue import ANSWER, DELIVER, NEMESIS_END, START, TICK, TIMER
from harness.sim.runspec import RunOptions
from harness.sim.stale_leader import StaleLeaders, stale_bound_us
from harness.sim.trace import Trace
from harness.sim.workload import Workload
from storage.errors import SimulatedCrash, StorageError


def _takes_keywords(fn: Any) -> bool:
    """Whether ``fn`` accepts arbitrary keyword arguments (the storage knobs)."""
    params = inspect.signature(fn).parameters.values()
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


class Cluster:
    """One run's world: nodes, network, clocks, nemesis, workload, trace (see module doc)."""

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
        membership = "membership" in options.faults
        self.group = group = GroupSpec.for_run(
            options.replicas,
            "permanent" in options.faults,
            sim_options.replica_dead_after_us,
            sim_options.log_replicas,
            sim_options.nemesis.membership.outside_nodes if membership else 0,
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
        self._transmit = self.network.transmit
        self._remember = "adversarial" in options.faults  # keep messages for replays
        if self._remember:
            self._transmit = self.network.transmit_attacked
            self.network.history_size = nem_options.adversarial.history_size
        self.nemesis = Nemesis(
            group.running,
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
            clients=options.clients,
            client_crashes="crash" in options.faults,
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
        self.checks = Observer(
            self, trace, invariants=sim_options.online_invariants, protocol=backend.protocol,
            stale=self._stale_leaders(backend.protocol, options.unsafe_clocks,
                                      nem_options.clock.max_safe_step_us),
        )
        if self.checks.invariants is not None:
            self.checks.invariants.set_initial(group.initial)
        world = " ".join(
            f"n{n}:offset={c.local_at(0)},drift={c.drift_ppm}ppm" for n, c in self.clocks.items()
        )
        trace.add(f"0 world {world} disk_fault_nodes={list(self.nemesis.disk_fault_nodes)}")
        self.knobs = Knobs(checkpoint_every=sim_options.checkpoint_every)
        open_storage = backend.open_storage
        replica_knobs: dict[str, Any] = {}
        if backend.buggify and sim_options.buggify:
            defaults = self.knobs
            self.knobs = draw_knobs(chooser, defaults)
            if _takes_keywords(open_storage):
                open_storage = functools.partial(open_storage, **self.knobs.storage_kwargs())
            else:  # a wrapped storage opener (tests): its sizes stay the defaults
                self.knobs = attrs.evolve(
                    self.knobs, wal_segment_bytes=defaults.wal_segment_bytes,
                    btree_fanout=defaults.btree_fanout,
                    btree_min_compact_bytes=defaults.btree_min_compact_bytes,
                )
            trace.add(f"0 knobs {self.knobs.describe()}")
            replica_knobs = self.knobs.replica_kwargs()
        self.hosts: dict[int, Host] = {}
        for n in self.members:
            disk = backend.make_disk(n, self.nemesis.disk_faults(n), chooser)
            self.hosts[n] = Host(
                n,
                disk,
                make_replica=backend.replica_factory(
                    n, group.members, options.variant, chooser, group, replica_knobs
                ),
                open_storage=open_storage,
                transport=self,
                clients=self,
                timers=self,
                observer=self.checks.observe,
                spawner=self,
                checkpoint_every=self.knobs.checkpoint_every,
            )
            self.hosts[n].crash_point = self._crash_point
            self.hosts[n].crash_sends = "churn" in options.faults
        self.delivered = 0  # peer messages delivered to a live node
        self.config_changes: ConfigChanges | None = None
        if membership:
            self.config_changes = ConfigChanges(on_elected=self._elected)
            self.add_step_listener(self.config_changes.observe)

    # -- the queue ----------------------------------------------------------------------------

    def _push(self, at_us: int, kind: int, a: Any, b: Any) -> None:
        heapq.heappush(self.heap, (at_us, next(self._seq), kind, a, b))

    def now_us(self) -> int:
        return self.now

    def local_now(self, node: int) -> int:
        return self.clocks[node].local_at(self.now)

    def clock_piece(self, node: int) -> tuple[int, int, int]:
        return self.clocks[node].piece()

    # -- ports for hosts (Transport, ClientPort, TimerPort) -----------------------------------

    def send(self, src: int, dst: int, msg: Any, extra_delay_us: int) -> None:
        if self.links is not None:
            extra_delay_us = self.links.depart(src, dst, msg, self.now + extra_delay_us) - self.now
        delays = self._transmit(src, dst)
        if self._remember:
            self.network.remember(src, dst, msg)
        if delays:
            event = Receive(src=src, msg=msg)
            leaves_us = self.now + extra_delay_us
            for delay in delays:
                entry = (leaves_us + delay, next(self._seq), DELIVER, dst, event)
                heapq.heappush(self.heap, entry)

    def replay(self, src: int, dst: int, msg: Any) -> None:
        """The nemesis sends an old message again (through today's links, at today's delays)."""
        delays = self.network.transmit(src, dst)
        if delays:
            self.network.attack_counts["replayed"] += 1
        event = Receive(src=src, msg=msg)
        for delay in delays:
            heapq.heappush(self.heap, (self.now + delay, next(self._seq), DELIVER, dst, event))

    def _client_delay(self) -> int:
        jitter = self.chooser.choose("net.client.delay", self.so.client_delay_jitter_us + 1)
        return self.so.client_delay_min_us + jitter

    def answer(
        self, node: int, client_id: int, request_id: int, outcome: ClientOutcome, extra: int
    ) -> None:
        at = self.now + extra + self._client_delay()
        entry = (at, next(self._seq), ANSWER, client_id, (request_id, node, outcome))
        heapq.heappush(self.heap, entry)  # `_push`, inlined

    def read_served(self, node: int, strong: bool, key: bytes, value: bytes | None) -> None:
        self.checks.read_served(node, strong, key, value)

    def set_timer(self, node: int, at_local_us: int) -> None:
        self.timer_at[node] = at_local_us
        gen = self.timer_gen[node] = self.timer_gen[node] + 1
        due = self.clocks[node].true_at(at_local_us, self.now)
        heapq.heappush(self.heap, (due, next(self._seq), TIMER, node, gen))  # `_push`, inlined

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
        self._push(self.now + delay_us, NEMESIS_END, action, node)

    def crash(self, node: int) -> None:
        self.status[node] = "crashed"
        self.hosts[node].stop()
        self.hosts[node].disk.crash()
        self.timer_gen[node] += 1
        self.timer_at[node] = None
        self.held[node].clear()
        self.checks.down(node)

    def corrupt_wal_tail(self, node: int, within_bytes: int) -> str | None:
        disk: Any = self.hosts[node].disk  # a SimDisk (Backend.make_disk)
        flip = getattr(disk, "flip_tail_bit", None)
        return None if flip is None else flip("wal-", within_bytes)

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
        self._step(node, TICK)
        return True

    def fail_permanently(self, node: int) -> None:
        self.crash(node)
        self.status[node] = "dead"

    def start_replica(self, node: int, log_replica: bool) -> None:
        """`harness.runtime.host.SpawnPort`: a leader adds spare ``node`` (its own event)."""
        if self.status.get(node) == "absent":
            self.status[node] = "starting"
            self._push(self.now, START, node, log_replica)

    def _start_spare(self, node: int, log_replica: bool) -> None:
        kind = "log replica" if log_replica else "storage replica"
        self.checks.fault("start", [node], f"spare started as a {kind}")
        self.nemesis.started(node, log_replica)
        self.nemesis.membership_changing(self)
        self.restart(node)

    def _stale_leaders(self, protocol: str, unsafe: bool, step_us: int) -> StaleLeaders | None:
        """S19 for a protocol whose leaders step down when cut off, in a run whose clocks
        keep within rho (`harness.sim.stale_leader`)."""
        if unsafe or not protocols.get(protocol).steps_down_alone:
            return None
        t = self.timing
        bound = stale_bound_us(t.election_timeout_us, t.heartbeat_interval_us,
                               t.drift_bound_ppm, step_us)
        return StaleLeaders(self.members, self.network.link_up, bound)

    def pause(self, node: int) -> None:
        self.status[node] = "paused"

    def resume(self, node: int) -> None:
        self.status[node] = "up"
        self.checks.resumed(node)
        held, self.held[node] = self.held[node], []
        for kind, a, b in held:  # while timing is adversarial, spread among new traffic
            self._push(self.now + (self.network.resume_delay() if kind == DELIVER else 0),
                       kind, a, b)

    def clock_changed(self, node: int) -> None:
        self.checks.clock_changed(node)
        at = self.timer_at[node]
        if at is not None and self.status[node] != "crashed":
            self.set_timer(node, at)

    def record_fault(self, fault: str, nodes: list[int], detail: str) -> None:
        self.checks.fault(fault, nodes, detail)

    def step_down(self, node: int) -> None:
        if self.status[node] == "up":
            self._step(node, StepDown())

    def _elected(self, node: int) -> None:
        """``node`` became leader in the step being observed (the ``membership`` fault)."""
        self.nemesis.elected(self, node)

    def is_leader(self, node: int) -> bool:
        replica = self.hosts[node].replica
        return self.status[node] == "up" and replica is not None and (
            replica.role.value == "leader")

    def configuration(self, node: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        replica = self.hosts[node].replica
        return tuple(replica.members), tuple(replica.learners)

    def reconfigure(self, node: int, voters: tuple[int, ...], learners: tuple[int, ...]) -> None:
        if self.status[node] == "up":
            self._step(node, Reconfigure(storage=voters, logs=learners))

    # -- stepping nodes -----------------------------------------------------------------------

    def _step(self, node: int, event: Any) -> None:
        try:
            self.hosts[node].step(event, self.clocks[node].local_at(self.now))
        except StorageError as exc:
            self._fail_stop(node, exc)
        except SimulatedCrash as exc:
            self._crashed_at(node, exc)

    def _crash_point(self, node: int, point: str) -> bool:
        """`harness.runtime.ports.CrashPointHook`: the nemesis decides; for a checkpoint, the
        disk is armed to crash before one of its first four writes and fsyncs (a checkpoint
        does at least that many: pages, fsync, superblock, fsync); for a WAL sync, before its
        fsync (a segment roll first makes that the new segment's)."""
        if point == "mid-send" and self.checks.roles[node] != "leader":
            return False  # churn crashes leaders: what they broadcast reaches a minority
        disk: Any = self.hosts[node].disk  # a SimDisk (Backend.make_disk)
        arming = point in ("mid-checkpoint", "torn-append")
        if arming and not hasattr(disk, "arm_crash"):
            return False  # a stand-in disk cannot crash inside an operation
        if not self.nemesis.should_crash_at(point):
            return False
        if point == "mid-checkpoint":
            disk.arm_crash(self.chooser.choose("nemesis.crashpoint.ops", 4), point)
        elif point == "torn-append":
            disk.arm_crash(1, point)  # the WAL's write happens, its fsync does not
        return True

    def _crashed_at(self, node: int, exc: SimulatedCrash) -> None:
        """A crash point fired inside ``node``'s step: the node is gone from that instant."""
        self.nemesis.crashed_at(self, node, exc.point)

    def _fail_stop(self, node: int, exc: StorageError) -> None:
        """A storage error in ``node``'s step: it stops (a crash) and restarts later."""
        self.checks.note(node, f"fail-stop on {type(exc).__name__}: {exc}")
        self.crash(node)
        self.nemesis.fail_stopped(self, node, self.so.failstop_restart_us)
