"""Named scenarios measured on a replica group: ``replica-loss`` (issue 5).

``replica-loss``: a storage replica of a group (3 storage replicas unless told otherwise, and
optionally log replicas) fails permanently while clients write.
The leader's failure detector (``replica_dead_after_s``) notices, adds a log replica (a spare
started on demand through `consensus.effects.StartReplica`), which copies only the WAL suffix
it needs, then rebuilds a storage replica from a snapshot plus the log, and finally removes
the log replica. Reported (simulated seconds from the failure):

- ``quorum_restored_after``: every write is again durable on as many caught-up voters as
  before the failure, one of them the added log replica;
- ``replica_rebuilt_after``: as many caught-up storage replicas as before (the spare replaced
  the dead one in the committed configuration and applied the log).

The driver is a small deterministic discrete-event loop over `consensus.Replica` (true time,
no clock drift, no other faults); it is not the trio simulator. Links: ``latency_us`` plus
size / ``bandwidth_mb_s``, one message at a time per directed link (FIFO). A message that
carries a state-machine snapshot is charged ``data_mb`` (the B-tree it stands for); log
entries and other messages are charged their encoded size. Every random choice comes from
``harness.chooser.Chooser(seed)``.

Optional faults: ``partition_s`` isolates the leader for that long right after healing
starts (a leader change in the middle of the membership change). Checked after every step:
S1 (every replica's committed entries agree), S12 and S13 (`harness.membership_invariants`);
the first violation ends the run and is reported.
"""

from __future__ import annotations

import heapq
import json
import logging
from typing import Any

import attrs

from consensus import VARIANTS, Replica, ReplicaConfig, Role, Timing
from consensus.effects import (
    Apply,
    InstallSnapshot,
    Persist,
    Send,
    SetTimer,
    StartReplica,
)
from consensus.events import ClientWrite, Compact, Event, Receive, Tick
from consensus.messages import SlotEntry
from consensus.quorum import Membership
from harness.chooser import Chooser
from harness.membership_invariants import MembershipInvariants

logger = logging.getLogger(__name__)

SCENARIOS: tuple[str, ...] = ("replica-loss",)
_MB = 1_000_000


@attrs.frozen(kw_only=True)
class ReplicaLossOptions:
    """Options of the replica-loss scenario (times in simulated seconds unless ``_us``).

    ``replicas`` storage and ``log_replicas`` log replicas form the initial configuration.
    Raises ValueError for negative sizes, a bandwidth <= 0, a failure before 0, fewer than
    3 storage replicas, or a configuration `consensus.quorum.Membership` rejects (more log
    replicas than storage replicas).
    """

    seed: int = 0
    replicas: int = 3
    log_replicas: int = 0
    data_mb: int = attrs.field(default=100)
    bandwidth_mb_s: float = 100.0
    latency_us: int = 500
    fail_at_s: float = 2.0
    replica_dead_after_s: float = 1.0
    write_interval_us: int = 10_000
    duration_s: float = 60.0
    partition_s: float = 0.0
    variant: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.replicas < 1:
            raise ValueError(
                f"a group needs at least one storage replica, got replicas={self.replicas}"
            )
        if self.log_replicas < 0:
            raise ValueError(f"log_replicas must be >= 0, got log_replicas={self.log_replicas}")
        ids = range(1, self.replicas + self.log_replicas + 1)
        Membership(tuple(ids[: self.replicas]), tuple(ids[self.replicas :]))
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
        if self.bandwidth_mb_s <= 0:
            raise ValueError(
                f"bandwidth_mb_s must be > 0, got bandwidth_mb_s={self.bandwidth_mb_s}"
            )
        if self.fail_at_s < 0 or self.replica_dead_after_s <= 0:
            raise ValueError(
                f"fail_at_s must be >= 0 and replica_dead_after_s > 0, got "
                f"fail_at_s={self.fail_at_s} replica_dead_after_s={self.replica_dead_after_s}"
            )


@attrs.frozen(kw_only=True)
class ReplicaLossResult:
    """What the replica-loss scenario measured (seconds after the failure; None: never)."""

    options: ReplicaLossOptions
    failed_node: int
    log_replica: int
    new_storage_replica: int
    quorum_restored_after: float | None
    replica_rebuilt_after: float | None
    writes_committed: int
    bytes_to_log_replica: int
    bytes_to_new_storage_replica: int
    violation: str | None = None

    def to_json(self) -> dict[str, Any]:
        d = attrs.asdict(self)
        d["scenario"] = "replica-loss"
        return d


def _size_bytes(msg: object, data_bytes: int) -> int:
    snapshot = getattr(msg, "snapshot", b"")
    size = 64
    if snapshot:
        size += data_bytes
    for e in getattr(msg, "entries", ()):
        size += 24 + len(e.command) if isinstance(e, SlotEntry) else 0
    for c in getattr(msg, "commands", ()):
        size += 8 + len(c)
    return size


class _Loop:
    """Storage replicas 1..r, then the log replicas, then a storage spare and a log spare."""

    def __init__(self, opts: ReplicaLossOptions) -> None:
        self.opts = opts
        r, n_logs = opts.replicas, opts.log_replicas
        self.STORAGE = tuple(range(1, r + 1))
        self.LOGS = tuple(range(r + 1, r + n_logs + 1))
        self.SPARE = r + n_logs + 1
        self.LOG_SPARE = r + n_logs + 2
        self.chooser = Chooser(opts.seed)
        self.now = 0
        self.queue: list[tuple[int, int, int, Event]] = []
        self.seq = 0
        self.link_free: dict[tuple[int, int], int] = {}
        self.timer: dict[int, int] = {}
        self.replicas: dict[int, Replica] = {}
        self.applied: dict[int, list[bytes]] = {}
        self.bytes_to: dict[int, int] = {}
        self.data_bytes = opts.data_mb * _MB
        self.cut: int | None = None  # node isolated by the partition, if any
        self.checker = MembershipInvariants()
        self.chosen: dict[int, bytes] = {}
        self.checked: dict[int, int] = {}  # node -> commit index checked up to
        self.violation: str | None = None
        self.steps = 0
        self.timing = Timing(heartbeat_interval_us=50_000, election_timeout_us=500_000,
                             election_jitter_us=500_000, lease_duration_us=1_000_000)
        for n in self.STORAGE + self.LOGS:
            self.start(n)

    def config(self, n: int) -> ReplicaConfig:
        return ReplicaConfig(
            node_id=n, members=self.STORAGE, log_members=self.LOGS, timing=self.timing,
            spares=(self.SPARE,),
            log_spares=(self.LOG_SPARE,),
            replica_dead_after_us=int(self.opts.replica_dead_after_s * 1e6),
            variant=self.opts.variant,
        )

    def start(self, n: int) -> None:
        if n in self.replicas:
            return
        self.replicas[n] = Replica(self.config(n), self.chooser.choose)
        self.applied[n] = []
        self.timer[n] = self.now
        self.push(self.now, n, Tick())

    def push(self, at: int, node: int, event: Event) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (at, self.seq, node, event))

    def step(self, n: int, event: Event) -> None:
        r = self.replicas.get(n)
        if r is None:
            return
        effects = r.step(event, self.now)
        for e in effects:
            if isinstance(e, Send):
                self.send(n, e.dst, e.msg)
            elif isinstance(e, SetTimer):
                self.timer[n] = e.at_us
                self.push(e.at_us, n, Tick())
            elif isinstance(e, Apply):
                self.applied[n].append(e.command)
                if e.slot % 100 == 0:
                    snap = json.dumps([c.hex() for c in self.applied[n]]).encode()
                    self.push(self.now, n, Compact(slot=e.slot, snapshot=snap))
            elif isinstance(e, InstallSnapshot):
                self.applied[n] = [bytes.fromhex(c) for c in json.loads(e.snapshot)]
            elif isinstance(e, StartReplica):
                self.start(e.node_id)
            elif not isinstance(e, Persist):
                continue  # replies: the clients only count commits
        self.steps += 1
        if self.violation is None:
            self.check(n, r, effects)

    def check(self, n: int, r: Replica, effects: list[Any]) -> None:
        """S1 over newly committed slots of node ``n``, then S12 and S13."""
        acc = r.accepted
        for s in range(self.checked.get(n, 0) + 1, r.commit_index + 1):
            e = acc.get(s)
            if e is not None and self.chosen.setdefault(s, e.command) != e.command:
                self.violation = f"S1: node {n} committed a different value at slot {s}"
                return
        self.checked[n] = r.commit_index
        v = self.checker.on_step(n, r, effects, self.now, self.steps)
        if v is not None:
            self.violation = v.message

    def send(self, src: int, dst: int, msg: object) -> None:
        if self.cut in (src, dst):
            return  # partitioned away
        size = _size_bytes(msg, self.data_bytes)
        self.bytes_to[dst] = self.bytes_to.get(dst, 0) + size
        transfer_us = int(size * 1e6 / (self.opts.bandwidth_mb_s * _MB))
        begin = max(self.now, self.link_free.get((src, dst), 0))
        self.link_free[(src, dst)] = begin + transfer_us
        self.push(begin + transfer_us + self.opts.latency_us, dst, Receive(src=src, msg=msg))

    def leader(self) -> Replica | None:
        for n in sorted(self.replicas):
            r = self.replicas[n]
            if r.role is Role.LEADER and r.is_serving(self.now):
                return r
        return None


def run_replica_loss(opts: ReplicaLossOptions) -> ReplicaLossResult:
    """Run the replica-loss scenario and return what it measured."""
    loop = _Loop(opts)
    fail_us = int(opts.fail_at_s * 1e6)
    end_us = fail_us + int(opts.duration_s * 1e6)
    next_write = 0
    write_no = 0
    victim = 0
    restored: float | None = None
    rebuilt: float | None = None
    cut_from = fail_us + int((opts.replica_dead_after_s + 0.001) * 1e6)
    cut_until = cut_from + int(opts.partition_s * 1e6)
    while loop.queue and loop.now <= end_us and rebuilt is None and loop.violation is None:
        at, _, node, event = heapq.heappop(loop.queue)
        if isinstance(event, Tick) and loop.timer.get(node) != at:
            continue  # a replaced timer
        loop.now = at
        while next_write <= at:
            leader = loop.leader()
            if leader is not None:
                write_no += 1
                cmd = b"w%08d" % write_no + b"." * 90
                loop.step(leader.node_id, ClientWrite(client_id=1, request_id=write_no,
                                                      command=cmd))
            next_write += opts.write_interval_us
        if not victim and at >= fail_us:
            leader = loop.leader()
            if leader is not None:
                victim = max(n for n in loop.STORAGE if n != leader.node_id)
                del loop.replicas[victim]  # permanent: never returns
                logger.info("replica-loss: node=%d failed at t=%d us", victim, at)
        if opts.partition_s and loop.cut is None and cut_from <= at < cut_until:
            leader = loop.leader()
            loop.cut = None if leader is None else leader.node_id
        elif loop.cut is not None and at >= cut_until:
            loop.cut = None
        loop.step(node, event)
        if victim:
            restored, rebuilt = _measure(loop, fail_us, restored, rebuilt)
    leader = loop.leader()
    return ReplicaLossResult(
        options=opts,
        failed_node=victim,
        log_replica=loop.LOG_SPARE,
        new_storage_replica=loop.SPARE,
        quorum_restored_after=restored,
        replica_rebuilt_after=rebuilt,
        writes_committed=0 if leader is None else leader.commit_index,
        bytes_to_log_replica=loop.bytes_to.get(loop.LOG_SPARE, 0),
        bytes_to_new_storage_replica=loop.bytes_to.get(loop.SPARE, 0),
        violation=loop.violation,
    )


def _measure(loop: _Loop, fail_us: int, restored: float | None, rebuilt: float | None
             ) -> tuple[float | None, float | None]:
    leader = loop.leader()
    if leader is None:
        return restored, rebuilt
    cfg = leader.committed_membership
    mark = leader.commit_index - leader.config.window
    healthy = [v for v in cfg.voters if v in loop.replicas
               and loop.replicas[v].commit_index >= mark]
    since_s = (loop.now - fail_us) / 1e6
    before = len(loop.STORAGE) + len(loop.LOGS)
    if restored is None and loop.LOG_SPARE in healthy and len(healthy) >= before:
        restored = since_s
    storage_ok = [v for v in cfg.storage if v in healthy and v in loop.replicas
                  and loop.replicas[v].applied_index >= mark]
    if rebuilt is None and loop.SPARE in storage_ok and len(storage_ok) >= len(loop.STORAGE):
        rebuilt = since_s
    return restored, rebuilt
