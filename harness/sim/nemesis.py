"""The nemesis: a seeded schedule of faults, kept within a budget so runs stay repairable.

Every nemesis tick (``tick_interval_us`` of true time) each enabled fault source asks its
named predicate (``_should_partition``, ``_should_crash``, ...) whether to start a fault now;
each predicate is one chooser draw under its own label, and 0 (False) is "no fault". A fault
that lasts (partition, crash, pause, lossy network) schedules its own end. One options record
per fault source, units in names (TigerBeetle's packet simulator and storage options).

Fault budget (f = (n - 1) // 2 for the n nodes running at the start): crashes, pauses, failed
nodes and permanent failures not yet replaced together never exceed f at a time; disk
corruption is enabled on at most f nodes for the whole run (drawn at the start,
`disk_fault_nodes`). A node whose storage fails recovery stays down and counts against the
budget for the rest of the run. Clock faults are new drifts within rho, jitter (small drift
changes) and steps made as slews (the clock runs at rate rho until it has gained or lost the
step, then returns to its drift), all within rho at every instant; in runs with unsafe clocks
only, also drift beyond rho and instant forward steps.

Crash points (``crash`` fault): besides crashing a node between steps on a tick, the nemesis
answers the host's crash-point hook (`should_crash_at`): a crash inside a step, at a point a
tick can never hit (between a WAL append and its fsync, between an fsync and the sends after
it, before a write's reply, inside a B-tree checkpoint). It is the same crash within the same
budget, counted per point in `crash_point_counts` and recorded as a ``crash`` fault.

Adversarial timing (``adversarial``): periods in which the network holds packets for seconds
and delivers late copies (`harness.sim.network.TimingAttack`), and replays of messages from any
earlier point of the run. They take no node down, so they need no budget: the protocol must
tolerate any delay, duplication and reordering. They stop with the fault phase (held packets
still arrive, at most ``max_hold_us`` later), so the liveness phase stays repairable.

A permanent failure (``permanent``, at most ``max_failures`` per run) stops a storage replica
for good; it counts against the budget until a storage spare has been started in its place
(the leader heals the group, `started`). It strikes only while no spare has been started yet:
a group whose spares were used up (healing after a false suspicion uses them too) could not
heal again, and the run could not end repaired. Nodes with corrupting disks may also end down
for good (their storage can fail recovery), so a permanent failure only picks a node that keeps
those nodes and the permanently failed ones within f together.

Membership changes (``membership``, Raft only): the group has nodes running outside the
configuration from the start, and the nemesis asks a leader for a one-server change (add a
node outside the voters, or remove a voter other than itself): per tick the leader of the
moment, and the moment a node is elected, after a drawn delay of at most a few milliseconds
(`elected`), so changes race the start of terms. They take no node down and need no budget;
the protocol decides when a change enters its log. Beside ``churn`` and partitions this
finds the 2015 single-server change bug (docs/raft.md).

The nemesis acts on a `Cluster` (the simulator), which it never inspects beyond that API.
Its options live in `harness.sim.nemesis_options` and are re-exported here.
"""

from __future__ import annotations

from typing import Protocol

from harness.runtime.chooser import Chooser
from harness.sim.clock import NodeClock, signed_choice
from harness.sim.nemesis_options import (
    AdversarialOptions,
    ChurnOptions,
    ClockFaultOptions,
    CrashOptions,
    DiskFaultOptions,
    LossOptions,
    MembershipOptions,
    NemesisOptions,
    PartitionOptions,
    PauseOptions,
    PermanentOptions,
    ScheduledFault,
)
from harness.sim.network import SHAPES, Network
from storage.simdisk import SimDiskFaults

# crash point -> its chooser label (`should_crash_at` runs for every WAL append and sync)
_CRASH_POINT_LABELS: dict[str, str] = {}


class Cluster(Protocol):
    """What the nemesis may do to the simulated group (implemented by the simulator)."""

    network: Network
    clocks: dict[int, NodeClock]

    def now_us(self) -> int: ...

    def leader(self) -> int | None: ...

    def schedule_after(self, delay_us: int, action: str, node: int | None) -> None:
        """Call back `Nemesis.end(action, node)` after ``delay_us`` of true time."""

    def crash(self, node: int) -> None: ...

    def corrupt_wal_tail(self, node: int, within_bytes: int) -> str | None:
        """Flip a bit in the last ``within_bytes`` of ``node``'s newest WAL segment (the
        file hit, or None)."""

    def fail_permanently(self, node: int) -> None:
        """Stop ``node`` for good (it never restarts)."""

    def restart(self, node: int) -> bool:
        """Restart ``node``; False if its storage failed recovery (it stays down for good)."""

    def pause(self, node: int) -> None: ...

    def resume(self, node: int) -> None: ...

    def clock_changed(self, node: int) -> None: ...

    def record_fault(self, fault: str, nodes: list[int], detail: str) -> None: ...

    def step_down(self, node: int) -> None:
        """Ask ``node`` to step down (`consensus.events.StepDown`) if it is up."""

    def replay(self, src: int, dst: int, msg: object) -> None:
        """Send ``msg`` from ``src`` to ``dst`` once more (an old message, replayed)."""

    def is_leader(self, node: int) -> bool:
        """Whether ``node`` is up and in the leader role now."""

    def configuration(self, node: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """``(voters, learners)`` of the configuration in force at ``node`` (which is up)."""

    def reconfigure(self, node: int, voters: tuple[int, ...], learners: tuple[int, ...]) -> None:
        """Ask ``node`` (`consensus.events.Reconfigure`) to move the group to ``voters`` and
        ``learners``, if it is up."""


class Nemesis:
    """Draws and applies faults for one run (see the module docstring).

    Args:
        members: ids of the nodes running at the start.
        options: fault sources; only those named in ``options.faults`` act.
        chooser: the run's chooser.
        rho_ppm: the protocol's drift bound.
        unsafe_clocks: allow clock faults beyond rho.
        log_nodes: nodes that run as log replicas (never failed permanently).
    """

    def __init__(
        self,
        members: tuple[int, ...],
        options: NemesisOptions,
        chooser: Chooser,
        *,
        rho_ppm: int,
        unsafe_clocks: bool = False,
        log_nodes: tuple[int, ...] = (),
    ) -> None:
        self.members = members
        self.log_nodes = log_nodes
        self.options = options
        self.chooser = chooser
        self.rho_ppm = rho_ppm
        self.unsafe_clocks = unsafe_clocks
        self.budget = (len(members) - 1) // 2
        self.crashed: list[int] = []
        self.paused: list[int] = []
        self.failed: list[int] = []
        self.dead: list[int] = []  # failed permanently
        self.replacements = 0  # storage spares started since
        self.spares_started = False
        self._scheduled = 0  # faults of options.schedule applied so far
        self.partitioned = False
        self.lossy = False
        self.attacking = False
        self.gray = False  # a scheduled gray failure is on
        self.active = True
        self.disk_fault_nodes = self._draw_disk_fault_nodes()
        self.crash_point_counts: dict[str, int] = {}
        self.slewing: dict[int, int] = {}  # node -> the drift it returns to after its slew
        self._last_leader: int | None = None  # the leader at the last adversarial tick

    # -- set-up -----------------------------------------------------------------------------

    def _draw_disk_fault_nodes(self) -> tuple[int, ...]:
        if "disk" not in self.options.faults or self.budget == 0:
            return ()
        count = self.chooser.choose("nemesis.disk.count", self.budget + 1)
        pool = list(self.members)
        chosen = []
        for _ in range(count):
            chosen.append(pool.pop(self.chooser.choose("nemesis.disk.node", len(pool))))
        return tuple(sorted(chosen))

    def disk_faults(self, node: int) -> SimDiskFaults:
        """The fault rates of ``node``'s disk (fixed for the run)."""
        if "disk" not in self.options.faults:
            return self.options.disk.nominal
        if node in self.disk_fault_nodes:
            return self.options.disk.corrupting
        return self.options.disk.everyone

    # -- predicates -------------------------------------------------------------------------

    def _enabled(self, fault: str) -> bool:
        return fault in self.options.faults

    def _down(self) -> int:
        unreplaced = max(0, len(self.dead) - self.replacements)
        return len(self.crashed) + len(self.paused) + len(self.failed) + unreplaced

    def _should_partition(self) -> bool:
        p = self.options.partition.probability
        return not self.partitioned and self.chooser.chance("nemesis.partition", p)

    def _should_crash(self) -> bool:
        p = self.options.crash.probability
        return self._down() < self.budget and self.chooser.chance("nemesis.crash", p)

    def should_crash_at(self, point: str) -> bool:
        """Whether a node crashes at crash point ``point`` now (one draw under
        ``nemesis.crashpoint.<point>``; False, the nominal path, outside the fault phase or
        the budget)."""
        if point == "mid-send":  # asked only in runs with the churn fault (`Host.crash_sends`)
            if not self.active or self._down() >= self.budget:
                return False
            return self.chooser.chance("nemesis.crashpoint.mid-send",
                                       self.options.churn.send_probability)
        if not self.active or "crash" not in self.options.faults or self._down() >= self.budget:
            return False
        c = self.options.crash
        p = c.checkpoint_probability if point == "mid-checkpoint" else c.point_probability
        label = _CRASH_POINT_LABELS.get(point)
        if label is None:
            label = _CRASH_POINT_LABELS[point] = f"nemesis.crashpoint.{point}"
        return self.chooser.chance(label, p)

    def crashed_at(self, cluster: Cluster, node: int, point: str) -> None:
        """``node`` crashed at crash point ``point`` (the host raised `storage.SimulatedCrash`):
        crash it, count it, and schedule its restart like any crash."""
        for pool in (self.paused, self.crashed):
            if node in pool:
                pool.remove(node)
        self.crashed.append(node)
        self.crash_point_counts[point] = self.crash_point_counts.get(point, 0) + 1
        cluster.crash(node)
        self._maybe_corrupt_tail(cluster, node)
        if point == "mid-send":
            ch = self.options.churn
            lasts = self._duration("nemesis.churn.us", ch.min_down_us, ch.max_down_us)
        else:
            c = self.options.crash
            lasts = self._duration("nemesis.crash.us", c.min_down_us, c.max_down_us)
        cluster.record_fault("crash", [node], f"crash point {point}: down for {lasts}us")
        if self.active:
            cluster.schedule_after(lasts, "restart", node)
        else:
            self.end(cluster, "restart", node)

    def _maybe_corrupt_tail(self, cluster: Cluster, node: int) -> None:
        """A crashed node with a corrupting disk may come back with its WAL tail damaged."""
        d = self.options.disk
        if node not in self.disk_fault_nodes or "disk" not in self.options.faults:
            return
        if not self.chooser.chance("nemesis.disk.tail", d.tail_probability):
            return
        hit = cluster.corrupt_wal_tail(node, d.tail_bytes)
        if hit is not None:
            cluster.record_fault("disk", [node], f"bit flip in the last {d.tail_bytes} bytes "
                                 f"of {hit}")

    def _should_pause(self) -> bool:
        p = self.options.pause.probability
        return self._down() < self.budget and self.chooser.chance("nemesis.pause", p)

    def _may_fail_permanently(self) -> bool:
        o = self.options.permanent
        return (
            not self.spares_started
            and len(self.dead) < o.max_failures
            and self._down() < self.budget
        )

    def _should_fail_permanently(self) -> bool:
        p = self.options.permanent.probability
        return self._may_fail_permanently() and self.chooser.chance("nemesis.permanent", p)

    def _should_clock(self) -> bool:
        return self.chooser.chance("nemesis.clock", self.options.clock.probability)

    def _should_jitter(self) -> bool:
        return self.chooser.chance("nemesis.clock.jitter", self.options.clock.jitter_probability)

    def _should_loss(self) -> bool:
        p = self.options.loss.probability
        return not self.lossy and self.chooser.chance("nemesis.loss", p)

    def _should_attack(self) -> bool:
        p = self.options.adversarial.probability
        return not self.attacking and self.chooser.chance("nemesis.adversarial", p)

    def _should_replay(self) -> bool:
        p = self.options.adversarial.replay_probability
        return self.chooser.chance("nemesis.replay", p)

    def _duration(self, label: str, lo: int, hi: int) -> int:
        return lo + self.chooser.choose(label, max(hi - lo, 0) + 1)

    def _pick_up_node(
        self, label: str, for_good: bool = False, exclude: int | None = None
    ) -> int | None:
        """A drawn node that is neither crashed, paused nor failed (None if there is none).

        ``for_good``: a storage replica whose loss keeps the nodes that may be lost for good
        (dead, or with a corrupting disk) within the budget. ``exclude``: never this node.
        """
        down = set(self.crashed) | set(self.paused) | set(self.failed) | set(self.dead)
        if exclude is not None:
            down.add(exclude)
        if for_good:
            down |= set(self.log_nodes)
            lost = set(self.dead) | set(self.failed) | set(self.disk_fault_nodes)
            down |= {n for n in self.members if len(lost | {n}) > self.budget}
        pool = [n for n in self.members if n not in down]
        return pool[self.chooser.choose(label, len(pool))] if pool else None

    # -- the tick ---------------------------------------------------------------------------

    def tick(self, cluster: Cluster) -> None:
        """Maybe start one fault of each enabled source (fault phase only)."""
        if not self.active:
            return
        o = self.options
        if self._enabled("partition") and self._should_partition():
            shape = SHAPES[self.chooser.choose("nemesis.partition.shape", len(SHAPES))]
            self.partition(cluster, shape)
        if self._enabled("loss") and self._should_loss():
            cluster.network.options = o.loss.lossy
            self.lossy = True
            lo = o.loss
            lasts = self._duration("nemesis.loss.us", lo.min_duration_us, lo.max_duration_us)
            cluster.record_fault("loss", [], f"lossy network for {lasts}us")
            cluster.schedule_after(lasts, "lossless", None)
        if self._enabled("crash") and self._should_crash():
            node = self._pick_up_node("nemesis.crash.node")
            if node is not None:
                self.crashed.append(node)
                cluster.crash(node)
                self._maybe_corrupt_tail(cluster, node)
                c = o.crash
                lasts = self._duration("nemesis.crash.us", c.min_down_us, c.max_down_us)
                cluster.record_fault("crash", [node], f"down for {lasts}us")
                cluster.schedule_after(lasts, "restart", node)
        if self._enabled("pause") and self._should_pause():
            node = self._pick_up_node("nemesis.pause.node")
            if node is not None:
                self.paused.append(node)
                cluster.pause(node)
                pa = o.pause
                lasts = self._duration("nemesis.pause.us", pa.min_pause_us, pa.max_pause_us)
                cluster.record_fault("pause", [node], f"paused for {lasts}us")
                cluster.schedule_after(lasts, "resume", node)
        if self._enabled("clock") and self._should_clock():
            self._clock_fault(cluster)
        if self._enabled("clock") and self._should_jitter():
            self._jitter(cluster)
        if self._enabled("permanent") and self._should_fail_permanently():
            self._fail_permanently(cluster, exclude=None)
        if self._enabled("adversarial"):
            self._adversarial(cluster)
        if self._enabled("membership"):
            self._membership(cluster)
        schedule, now = o.schedule, cluster.now_us()
        while self._scheduled < len(schedule) and schedule[self._scheduled].at_us <= now:
            fault = schedule[self._scheduled]
            self._scheduled += 1
            if fault.fault == "partition":
                self.partition(cluster, fault.shape, fault.lasts_us)
            elif fault.fault == "permanent":
                if self._may_fail_permanently():
                    self._fail_permanently(cluster, exclude=cluster.leader())
            else:
                self._at_leader(cluster, fault)

    def _at_leader(self, cluster: Cluster, fault: ScheduledFault) -> None:
        """Apply a scheduled fault aimed at the leader of the moment (`ScheduledFault`)."""
        leader = cluster.leader()
        if leader is None or leader in self.crashed or leader in self.paused:
            cluster.record_fault(fault.fault, [], "no leader to aim at: nothing done")
            return
        if fault.fault == "crash-leader":
            self.crashed.append(leader)
            cluster.crash(leader)
            until = f"for {fault.lasts_us}us" if fault.lasts_us else "until the fault phase ends"
            cluster.record_fault("crash", [leader], f"scheduled: the leader crashed {until}")
            if fault.lasts_us:
                cluster.schedule_after(fault.lasts_us, "restart", leader)
        elif fault.fault == "gray-leader":
            cluster.network.degrade(leader, fault.loss_probability, fault.delay_us)
            self.gray = True
            cluster.record_fault(
                "gray", [leader], f"packets to and from the leader lost with p="
                f"{fault.loss_probability} and {fault.delay_us}us late"
            )
            if fault.lasts_us:
                cluster.schedule_after(fault.lasts_us, "gray-end", None)
        else:  # clock-drift
            rho = self.rho_ppm
            for node in self.members:
                drift = -rho if node == leader else rho
                cluster.clocks[node].set_drift(drift, cluster.now_us())
                cluster.clock_changed(node)
            cluster.record_fault(
                "clock-step", [leader], f"scheduled: the leader's clock at -{rho}ppm, every "
                f"other at +{rho}ppm"
            )

    def _adversarial(self, cluster: Cluster) -> None:
        """Maybe start a period of adversarial timing; maybe replay a few old messages."""
        a = self.options.adversarial
        network = cluster.network
        if self._should_attack():
            network.attack = a.attack
            self.attacking = True
            lasts = self._duration("nemesis.adversarial.us", a.min_duration_us, a.max_duration_us)
            cluster.record_fault("adversarial", [], f"adversarial timing for {lasts}us")
            cluster.schedule_after(lasts, "timely", None)
        leader = cluster.leader()
        if leader is not None and leader != self._last_leader:
            self._last_leader = leader
            if self.chooser.chance("nemesis.stepdown", a.step_down_probability):
                after = self.chooser.choose("nemesis.stepdown.after.us", a.step_down_within_us)
                cluster.schedule_after(after, "step-down", leader)
        history = network.history
        if history and self._should_replay():
            count = 1 + self.chooser.choose("nemesis.replay.count", max(a.max_replays, 1))
            for _ in range(count):
                src, dst, msg = history[self.chooser.choose("nemesis.replay.message",
                                                            len(history))]
                cluster.replay(src, dst, msg)
            cluster.record_fault("replay", [], f"{count} old message(s) sent again")

    def _membership(self, cluster: Cluster) -> None:
        """Maybe ask the leader of the moment for a one-server change (``membership``, one
        draw per tick under ``nemesis.membership``)."""
        leader = cluster.leader()
        if leader is None or leader in self.crashed or leader in self.paused:
            return
        if self.chooser.chance("nemesis.membership", self.options.membership.probability):
            self._ask_change(cluster, leader)

    def elected(self, cluster: Cluster, node: int) -> None:
        """``node`` has just become leader (``membership``): with ``new_leader_probability``
        ask it for a change after a delay drawn up to ``new_leader_within_us``
        (``nemesis.membership.elected``, ``...after.us``): a change racing the start of its
        term, before it has committed anything."""
        o = self.options.membership
        if not self.active or not self.chooser.chance("nemesis.membership.elected",
                                                      o.new_leader_probability):
            return
        after = self.chooser.choose("nemesis.membership.after.us", o.new_leader_within_us + 1)
        cluster.schedule_after(after, "reconfigure", node)

    def _ask_change(self, cluster: Cluster, leader: int) -> None:
        """Ask ``leader`` for a one-server change: add or remove (``nemesis.membership.add``,
        True = add) and which node (``nemesis.membership.node``): a running node outside the
        voters (crashed ones too: they catch up when they come back), or a voter other than
        the leader while more than ``min_voters`` remain. The leader alone decides when the
        change enters its log (one at a time; the correct Raft only once an entry of its
        term is committed)."""
        o = self.options.membership
        voters, learners = cluster.configuration(leader)
        addable = [n for n in self.members if n not in voters]
        removable = [n for n in voters if n != leader] if len(voters) > o.min_voters else []
        if not addable and not removable:
            return
        add = bool(addable) and (
            not removable or self.chooser.chance("nemesis.membership.add", o.add_probability)
        )
        pool = addable if add else removable
        node = pool[self.chooser.choose("nemesis.membership.node", len(pool))]
        target = tuple(sorted((*voters, node))) if add else tuple(v for v in voters if v != node)
        rest = tuple(n for n in learners if n != node)
        what = "add" if add else "remove"
        cluster.record_fault("membership", [leader], f"leader asked to {what} node {node}: "
                             f"voters {list(voters)} -> {list(target)}")
        cluster.reconfigure(leader, target, rest)

    def _fail_permanently(self, cluster: Cluster, exclude: int | None) -> None:
        node = self._pick_up_node("nemesis.permanent.node", for_good=True, exclude=exclude)
        if node is not None:
            self.dead.append(node)
            cluster.fail_permanently(node)
            cluster.record_fault("permanent", [node], "failed for good")

    def partition(self, cluster: Cluster, shape: str, lasts_us: int | None = None) -> None:
        """Partition the network in ``shape`` (`harness.sim.network.SHAPES`) for ``lasts_us``
        (None: a duration drawn from `PartitionOptions`)."""
        detail = cluster.network.partition(shape, leader=cluster.leader())
        self.partitioned = True
        if lasts_us is None:
            p = self.options.partition
            lasts_us = self._duration(
                "nemesis.partition.us", p.min_duration_us, p.max_duration_us
            )
        cluster.record_fault("partition", [], f"{detail} for {lasts_us}us")
        cluster.schedule_after(lasts_us, "heal", None)

    def started(self, node: int, log_replica: bool) -> None:
        """A spare ``node`` started (the leader is adding it): it may now be faulted, and a
        storage spare replaces a permanent failure in the budget."""
        self.spares_started = True
        if node not in self.members:
            self.members = (*self.members, node)
        if log_replica:
            self.log_nodes = (*self.log_nodes, node)
        else:
            self.replacements += 1

    def membership_changing(self, cluster: Cluster) -> None:
        """A leader has just proposed adding a spare (a configuration change, pending until it
        commits). With permanent failures on, strike while it is pending: with chance
        ``PermanentOptions.strike_probability`` isolate the leader within a few milliseconds, so a
        successor must win phase 1 in both configurations and the old leader's lease must be
        respected by a quorum of each (``nemesis.reconfig.strike``, ``...after.us``)."""
        if not self.active or self.partitioned or not self._enabled("permanent"):
            return
        p = self.options.permanent.strike_probability
        if not self.chooser.chance("nemesis.reconfig.strike", p):
            return
        after = self.chooser.choose("nemesis.reconfig.after.us", 3_000)
        cluster.schedule_after(after, "strike", None)

    def _clock_fault(self, cluster: Cluster) -> None:
        if self.unsafe_clocks:
            self._unsafe_clock_fault(cluster)
            return
        node = self.members[self.chooser.choose("nemesis.clock.node", len(self.members))]
        if node in self.slewing:
            return  # one change at a time: the slew ends first
        o = self.options.clock
        if self.chooser.chance("nemesis.clock.slew", o.safe_step_probability):
            self._slew(cluster, node)
            return
        bound = self.rho_ppm
        drift = signed_choice(self.chooser.choose("nemesis.clock.drift", 2 * bound + 1))
        cluster.clocks[node].set_drift(drift, cluster.now_us())
        cluster.record_fault("clock-step", [node], f"drift now {drift}ppm")
        cluster.clock_changed(node)

    def _slew(self, cluster: Cluster, node: int) -> None:
        """Step ``node``'s clock by a drawn amount the way NTP slews it: at rate +-rho until
        the reading has moved that far against its drift, then back to that drift."""
        o = self.options.clock
        clock = cluster.clocks[node]
        step = 1 + self.chooser.choose("nemesis.clock.slew.us", max(o.max_safe_step_us, 1))
        back = self.chooser.chance("nemesis.clock.slew.back", 0.5)
        rate = -self.rho_ppm if back else self.rho_ppm
        gain_ppm = abs(rate - clock.drift_ppm)
        if gain_ppm == 0:
            return  # already at that edge of the bound: the step is a no-op drift change
        lasts = -(-step * 1_000_000 // gain_ppm)
        self.slewing[node] = clock.drift_ppm
        clock.set_drift(rate, cluster.now_us())
        sign = "-" if back else "+"
        cluster.record_fault(
            "clock-step", [node], f"slewing {sign}{step}us at {rate}ppm for {lasts}us"
        )
        cluster.clock_changed(node)
        cluster.schedule_after(lasts, "slew-end", node)

    def _jitter(self, cluster: Cluster) -> None:
        """A small change of one clock's drift, kept within rho in safe runs."""
        node = self.members[self.chooser.choose("nemesis.clock.node", len(self.members))]
        if node in self.slewing:
            return
        clock = cluster.clocks[node]
        j = self.options.clock.jitter_ppm
        change = signed_choice(self.chooser.choose("nemesis.clock.jitter.ppm", 2 * j + 1))
        bound = max(self.rho_ppm, abs(clock.drift_ppm)) if self.unsafe_clocks else self.rho_ppm
        drift = max(-bound, min(bound, clock.drift_ppm + change))
        if drift == clock.drift_ppm:
            return
        clock.set_drift(drift, cluster.now_us())
        cluster.record_fault("clock-step", [node], f"jitter: drift now {drift}ppm")
        cluster.clock_changed(node)

    def _unsafe_clock_fault(self, cluster: Cluster) -> None:
        """Beyond rho, aimed where leases break: the leader's clock slows (its lease outlives
        the grants behind it), or a follower's clock jumps forward (its grant ends early)."""
        o = self.options.clock
        now = cluster.now_us()
        leader = cluster.leader()
        if leader is not None and not self.chooser.chance("nemesis.clock.step", o.step_probability):
            bound = self.rho_ppm * o.unsafe_drift_factor
            drift = -bound + self.chooser.choose("nemesis.clock.drift", bound + 1)
            cluster.clocks[leader].set_drift(drift, now)
            cluster.record_fault("clock-step", [leader], f"drift now {drift}ppm (unsafe)")
            cluster.clock_changed(leader)
            return
        node = self.members[self.chooser.choose("nemesis.clock.node", len(self.members))]
        delta = 1 + self.chooser.choose("nemesis.clock.step.us", o.max_step_us)
        cluster.clocks[node].step(delta, now)
        cluster.record_fault("clock-step", [node], f"stepped forward {delta}us (unsafe)")
        cluster.clock_changed(node)

    # -- ends and the liveness phase --------------------------------------------------------

    def end(self, cluster: Cluster, action: str, node: int | None) -> None:
        """Finish a fault started earlier (called back by the cluster)."""
        if action == "heal":
            if self.partitioned:
                cluster.network.heal()
                self.partitioned = False
                cluster.record_fault("heal", [], "network healed")
        elif action == "lossless":
            if self.lossy:
                cluster.network.options = self.options.network
                self.lossy = False
                cluster.record_fault("heal", [], "network lossless")
        elif action == "gray-end":
            if self.gray:
                cluster.network.restore()
                self.gray = False
                cluster.record_fault("heal", [], "gray failure over")
        elif action == "timely":
            if self.attacking:
                counts = cluster.network.attack_counts
                cluster.network.attack = None
                self.attacking = False
                done = " ".join(f"{k}={v}" for k, v in counts.items())
                cluster.record_fault("timely", [], f"adversarial timing over (so far: {done})")
        elif action == "restart" and node is not None and node in self.crashed:
            self.crashed.remove(node)
            if cluster.restart(node):
                cluster.record_fault("restart", [node], "restarted")
            else:
                self.failed.append(node)
                cluster.record_fault("restart", [node], "storage failed recovery: stays down")
        elif action == "step-down" and node is not None:
            if self.active:
                cluster.record_fault("step-down", [node], "told to step down")
                cluster.step_down(node)
        elif action == "reconfigure" and node is not None:
            if self.active and cluster.is_leader(node):
                self._ask_change(cluster, node)
        elif action == "strike":
            if self.active and not self.partitioned:
                cluster.record_fault("strike", [], "a membership change is pending")
                self.partition(cluster, "isolate-leader")
        elif action == "slew-end" and node is not None and node in self.slewing:
            cluster.clocks[node].set_drift(self.slewing.pop(node), cluster.now_us())
            cluster.clock_changed(node)
        elif action == "resume" and node is not None and node in self.paused:
            self.paused.remove(node)
            cluster.resume(node)
            cluster.record_fault("resume", [node], "resumed")

    def fail_stopped(self, cluster: Cluster, node: int, restart_after_us: int) -> None:
        """``node`` stopped itself on a storage error: a crash the nemesis did not pick.

        It counts against the budget like a crash and restarts after ``restart_after_us``
        (at once in the liveness phase).
        """
        for pool in (self.paused, self.crashed):
            if node in pool:
                pool.remove(node)
        self.crashed.append(node)
        cluster.record_fault("crash", [node], "fail-stop on a storage error")
        if self.active:
            cluster.schedule_after(restart_after_us, "restart", node)
        else:
            self.end(cluster, "restart", node)

    def stop(self, cluster: Cluster) -> None:
        """Enter the liveness phase: no new faults; heal, restart and resume everything."""
        self.active = False
        self.end(cluster, "heal", None)
        self.end(cluster, "lossless", None)
        self.end(cluster, "timely", None)
        self.end(cluster, "gray-end", None)
        for node in list(self.crashed):
            self.end(cluster, "restart", node)
        for node in list(self.paused):
            self.end(cluster, "resume", node)


__all__ = [  # the options are re-exported: `from harness.sim.nemesis import NemesisOptions` works
    "AdversarialOptions",
    "ChurnOptions",
    "ClockFaultOptions",
    "Cluster",
    "CrashOptions",
    "DiskFaultOptions",
    "LossOptions",
    "MembershipOptions",
    "Nemesis",
    "NemesisOptions",
    "PartitionOptions",
    "PauseOptions",
    "PermanentOptions",
    "ScheduledFault",
]
