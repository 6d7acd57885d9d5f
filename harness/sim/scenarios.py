"""Named scenarios measured on a replica group: ``replica-loss`` (a storage
replica fails for good and the group heals).

``replica-loss``: a storage replica of a group (3 storage replicas unless told otherwise, and
optionally log replicas) fails permanently while clients work. The leader's failure detector
(``replica_dead_after_s``) notices, adds a log replica (a spare started on demand through
`consensus.effects.StartReplica`), which copies only the WAL suffix it needs, then rebuilds a
storage replica from a snapshot plus the log, and finally removes the log replica. Reported
(simulated seconds from the failure):

- ``quorum_restored_after``: the leader's committed configuration again has as many caught-up
  voters as before the failure, one of them the added log replica;
- ``replica_rebuilt_after``: as many caught-up storage replicas as before, one of them the
  spare that replaced the dead one.

It is a run of the trio simulator (`harness.sim.run`): the ``permanent`` fault only, scripted
(`harness.sim.nemesis.ScheduledFault`) at ``fail_at_s`` on a replica other than the leader, with
link bandwidth on (`harness.sim.links`: a message carrying a snapshot is charged ``data_mb``, the
B-tree it stands for) and the online invariants after every step (S1..S15, with S12/S13).
``partition_s`` isolates the leader that long right after healing starts (a leader change in
the middle of the membership change). Every random choice comes from the run's chooser, so
the same options give the same result.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import attrs

from consensus import VARIANTS
from consensus.quorum import Membership
from harness.checks.violation import Violation
from harness.sim import SimOptions, Simulation, run
from harness.sim.nemesis import NemesisOptions, PermanentOptions, ScheduledFault
from harness.sim.network import NetworkOptions
from harness.sim.runspec import RunOptions

logger = logging.getLogger(__name__)

SCENARIOS: tuple[str, ...] = ("replica-loss",)
_MB = 1_000_000
_TICK_US = NemesisOptions().tick_interval_us


MIN_BANDWIDTH_MB_S = 0.1
"""The slowest link the scenario accepts: every message is charged its bytes over the link,
so a slower one makes each heartbeat take seconds and a run take hours of wall time."""
MAX_COPY_S = 86_400
"""The longest rebuild (data over bandwidth) the scenario simulates: one simulated day."""


@attrs.frozen(kw_only=True)
class ReplicaLossOptions:
    """Options of the replica-loss scenario (times in simulated seconds unless ``_us``).

    ``replicas`` storage and ``log_replicas`` log replicas form the initial configuration.
    ``ops`` client operations by ``clients`` clients keep the group busy (the run ends after
    them, as every simulator run does). Raises ValueError for negative sizes, a bandwidth
    below `MIN_BANDWIDTH_MB_S` or a copy longer than `MAX_COPY_S`, a failure before 0, fewer
    than 3 storage replicas, or a configuration `consensus.quorum.Membership` rejects (more
    log replicas than storage replicas).
    """

    seed: int = 0
    replicas: int = 3
    log_replicas: int = 0
    data_mb: int = attrs.field(default=100)
    bandwidth_mb_s: float = 100.0
    latency_us: int = 500
    fail_at_s: float = 2.0
    replica_dead_after_s: float = 1.0
    ops: int = 2000
    clients: int = 5
    partition_s: float = 0.0
    variant: str | None = None

    def __attrs_post_init__(self) -> None:
        for name in ("seed", "replicas", "log_replicas", "data_mb", "latency_us", "ops",
                     "clients"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{name} must be an int, got {name}={value!r}")
        for name in ("bandwidth_mb_s", "fail_at_s", "replica_dead_after_s", "partition_s"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {name}={value!r}")
        if self.replicas < 1:
            raise ValueError(
                f"a group needs at least one storage replica, got replicas={self.replicas}"
            )
        if self.log_replicas < 0:
            raise ValueError(f"log_replicas must be >= 0, got log_replicas={self.log_replicas}")
        ids = range(self.replicas + self.log_replicas)  # node ids as the simulator numbers them
        Membership(tuple(ids[: self.replicas]), tuple(ids[self.replicas :]))
        if self.log_replicas >= self.replicas:
            # healing adds a log replica, and a configuration may not hold more log
            # replicas than storage replicas (`consensus.quorum.Membership`)
            raise ValueError(
                f"replica-loss needs room for one more log replica: log_replicas must be < "
                f"replicas, got log_replicas={self.log_replicas} replicas={self.replicas}"
            )
        if self.replicas < 3:  # one loss leaves no quorum to heal with
            raise ValueError(
                f"replica-loss needs at least 3 storage replicas, got replicas={self.replicas}"
            )
        if self.variant is not None and self.variant not in VARIANTS:
            raise ValueError(f"unknown variant {self.variant!r}; choose from {', '.join(VARIANTS)}")
        if self.partition_s < 0:
            raise ValueError(f"partition_s must be >= 0, got partition_s={self.partition_s}")
        if self.data_mb < 0:
            raise ValueError(f"data_mb must be >= 0, got data_mb={self.data_mb}")
        if self.bandwidth_mb_s < MIN_BANDWIDTH_MB_S:
            raise ValueError(
                f"bandwidth_mb_s must be >= {MIN_BANDWIDTH_MB_S}, got "
                f"bandwidth_mb_s={self.bandwidth_mb_s}"
            )
        copy_s = self.data_mb / self.bandwidth_mb_s
        if copy_s > MAX_COPY_S:
            raise ValueError(
                f"copying data_mb={self.data_mb} at bandwidth_mb_s={self.bandwidth_mb_s} takes "
                f"{copy_s:,.0f} s of simulated time; the scenario copies at most {MAX_COPY_S:,} s"
            )
        if self.ops < 1 or self.clients < 1 or self.latency_us < 0:
            raise ValueError(
                f"ops and clients must be >= 1 and latency_us >= 0, got ops={self.ops} "
                f"clients={self.clients} latency_us={self.latency_us}"
            )
        if self.fail_at_s < 0 or self.replica_dead_after_s <= 0:
            raise ValueError(
                f"fail_at_s must be >= 0 and replica_dead_after_s > 0, got "
                f"fail_at_s={self.fail_at_s} replica_dead_after_s={self.replica_dead_after_s}"
            )


@attrs.frozen(kw_only=True)
class ReplicaLossResult:
    """What the replica-loss scenario measured (seconds after the failure; None: never).

    ``violation`` is the first violated property; a group that never healed (quorum not
    restored or replica not rebuilt by the end of the run) is a ``liveness`` violation, so
    ``verdict`` is ``"ok"`` only for a run that healed with no property violated.
    """

    options: ReplicaLossOptions
    failed_node: int
    log_replica: int
    new_storage_replica: int
    quorum_restored_after: float | None
    replica_rebuilt_after: float | None
    writes_committed: int
    bytes_to_log_replica: int
    bytes_to_new_storage_replica: int
    violation: Violation | None = None
    fingerprint: str = ""

    @property
    def healed(self) -> bool:
        return self.quorum_restored_after is not None and self.replica_rebuilt_after is not None

    @property
    def verdict(self) -> str:
        """``"ok"`` or ``"violation"``, as a run's."""
        return "ok" if self.violation is None else "violation"

    def to_json(self) -> dict[str, Any]:
        d = attrs.asdict(self, recurse=False)
        d["options"] = attrs.asdict(self.options)
        d["violation"] = None if self.violation is None else self.violation.to_json()
        d["verdict"] = self.verdict
        d["scenario"] = "replica-loss"
        return d


class _Meter:
    """Watches every step of the run (a passive step listener) for the two measurements."""

    def __init__(self, opts: ReplicaLossOptions) -> None:
        self.opts = opts
        self.sim: Simulation | None = None
        self.failed_at_us: int | None = None
        self.restored: float | None = None
        self.rebuilt: float | None = None
        self.writes_committed = 0

    def attach(self, sim: Simulation) -> None:
        self.sim = sim
        sim.add_step_listener(self.on_step)

    def on_step(self, node: int, replica: Any, event: Any, effects: list[Any], local: int) -> None:
        sim = self.sim
        assert sim is not None
        if self.failed_at_us is None:
            if not sim.nemesis.dead:
                return
            self.failed_at_us = max(e["time_us"] for e in sim.checks.timeline
                                    if e["kind"] == "fault" and e["fault"] == "permanent")
        if self.rebuilt is not None or replica.role.value != "leader":
            return
        if not replica.is_serving(local):
            return
        self.writes_committed = max(self.writes_committed, replica.commit_index)
        group = sim.group
        cfg: Membership = replica.committed_membership
        mark = replica.commit_index - replica.config.window
        up = {n for n, s in sim.status.items() if s == "up"}
        hosts = sim.hosts
        healthy = [v for v in cfg.voters if v in up and hosts[v].replica.commit_index >= mark]
        since_s = (sim.now - self.failed_at_us) / 1e6
        if (self.restored is None and set(group.log_spares) & set(healthy)
                and len(healthy) >= len(group.members) + len(group.log_members)):
            self.restored = since_s
        storage_ok = [v for v in cfg.storage if v in healthy
                      and hosts[v].replica.applied_index >= mark]
        if (self.rebuilt is None and set(group.spares) & set(storage_ok)
                and len(storage_ok) >= len(group.members)):
            self.rebuilt = since_s


def run_replica_loss(opts: ReplicaLossOptions) -> ReplicaLossResult:
    """Run the replica-loss scenario in the simulator and return what it measured."""
    fail_us = int(opts.fail_at_s * 1e6)
    dead_after_us = int(opts.replica_dead_after_s * 1e6)
    schedule = [ScheduledFault(at_us=fail_us, fault="permanent")]
    if opts.partition_s:
        schedule.append(ScheduledFault(
            at_us=fail_us + dead_after_us + _TICK_US, fault="partition",
            shape="isolate-leader", lasts_us=int(opts.partition_s * 1e6),
        ))
    sim_options = SimOptions(
        nemesis=NemesisOptions(
            schedule=tuple(schedule),
            # a measurement of the scripted failure: no strike on the membership change
            permanent=PermanentOptions(strike_probability=0.0),
            network=NetworkOptions(one_way_delay_min_us=opts.latency_us,
                                   one_way_delay_jitter_us=0),
        ),
        replica_dead_after_us=dead_after_us,
        log_replicas=opts.log_replicas,
        bandwidth_mb_s=opts.bandwidth_mb_s,
        snapshot_bytes=opts.data_mb * _MB,
        checkpoint_every=64,
        buggify=False,  # a measurement: production sizes (a snapshot charged per message)
    )
    options = RunOptions(
        seed=opts.seed, replicas=opts.replicas, ops=opts.ops, clients=opts.clients,
        faults=("permanent",), variant=opts.variant,
    )
    meter = _Meter(opts)
    result = run(options, sim_options=sim_options, keep_trace=False, prepare=meter.attach)
    sim = meter.sim
    assert sim is not None
    group = sim.group
    links = sim.links
    assert links is not None
    violation = result.violation
    if violation is None and (meter.restored is None or meter.rebuilt is None):
        violation = Violation(
            property="liveness", time_us=int(result.sim_time_s * 1e6), step=result.steps,
            message="liveness: the group did not heal within the scenario (quorum restored: "
            f"{meter.restored is not None}, replica rebuilt: {meter.rebuilt is not None})",
        )
    return ReplicaLossResult(
        options=opts,
        failed_node=sim.nemesis.dead[0] if sim.nemesis.dead else -1,
        log_replica=group.log_spares[0],
        new_storage_replica=group.spares[0],
        quorum_restored_after=meter.restored,
        replica_rebuilt_after=meter.rebuilt,
        writes_committed=meter.writes_committed,
        bytes_to_log_replica=links.bytes_to.get(group.log_spares[0], 0),
        bytes_to_new_storage_replica=links.bytes_to.get(group.spares[0], 0),
        violation=violation,
        fingerprint=result.fingerprint,
    )
