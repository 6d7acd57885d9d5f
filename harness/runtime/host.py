"""The host loop of one node: a Replica, a WAL and a KV state machine on a Disk.

The same host runs inside the simulator and (later) over real TCP; only the ports handed to
it differ: a `Transport` (send a message to a peer), a `ClientPort` (answer a client), a
`TimerPort` (the replica's one timer) and, for the simulator, an observer that sees every
replica step. The host never reads a clock: the caller passes the node's local time.

Effects are performed in list order (consensus.effects): consecutive `Persist` effects are
appended to the WAL and made durable with one ``sync`` (group commit) before the next other
effect; the simulated fsync latency is charged as extra delay on every message and reply
that leaves after it. ``Apply`` results are kept by slot for the `Reply` that refers to them.
Every ``checkpoint_every`` applied slots the host checkpoints the KV store and feeds
``Compact(slot, snapshot)`` to the replica, which answers with a ``Persist(checkpoint=True)``
after which the WAL prefix before it is dropped.

Storage errors (``storage.StorageError``) propagate to the caller: the node fail-stops.

Crash points (FoundationDB's BUGGIFY): a simulator may set ``crash_point``, asked at the
places where a crash between steps can never land: after appending a Persist's records but
before they are written (``mid-append``: the WAL buffers appends until its sync, so they are
lost whole), inside the WAL's write and fsync (``torn-append``: the hook arms the disk to
crash at the fsync, so the write survives whole, torn or not at all), after an fsync before
the effects that follow it (``fsync-then-send``), before acknowledging a write to its client
(``before-reply``) and before a KV checkpoint (``mid-checkpoint``: the hook arms the disk to
crash inside it, `storage.SimDisk.arm_crash`, and says whether it did). When the hook says
so the host raises `storage.SimulatedCrash` and the caller crashes the node. Unset (real
worlds), nothing is asked and nothing changes.

The ports and ``ClientOutcome`` live in `harness.runtime.ports`, ``GroupSpec`` and ``Backend`` in
`harness.runtime.backend`; both are re-exported here.
"""

from __future__ import annotations

from typing import Any

from consensus.effects import (
    Apply,
    Effect,
    InstallSnapshot,
    Persist,
    Reply,
    Send,
    ServeRead,
    SetTimer,
    StartReplica,
)
from consensus.events import Compact, Event, Tick
from harness.runtime.backend import Backend, GroupSpec, MakeReplica, default_backend
from harness.runtime.ports import (
    CRASH_POINTS,
    TIMEOUT,
    ClientOutcome,
    ClientPort,
    CrashPointHook,
    DiskLike,
    KvLike,
    ReplicaFactory,
    ReplicaLike,
    SpawnPort,
    StepObserver,
    StorageOpener,
    TimerPort,
    Transport,
    WalLike,
)
from storage.errors import SimulatedCrash

_RESULTS_KEPT = 4096


class CrashInStep(SimulatedCrash):
    """A crash point fired while the host performed a step's effects: the first
    ``performed`` of them are known to have happened (the observer is shown those; unsynced
    Persists are not among them: they may or may not survive the crash)."""

    def __init__(self, point: str, performed: int) -> None:
        super().__init__(point)
        self.performed = performed


class Host:
    """One node: performs a replica's effects against its storage and ports.

    Args:
        node_id: this node.
        disk: its disk (``last_fsync_latency_us`` is charged after each sync).
        make_replica, open_storage: see `ReplicaFactory`, `StorageOpener`.
        transport, clients, timers: the ports.
        observer: sees every replica step (None: nobody).
        spawner: starts spare nodes a healing leader adds (None: the group has no spares,
            and a `StartReplica` effect is an error).
        checkpoint_every: applied slots between KV checkpoints + compaction (0 = never).
    """

    def __init__(
        self,
        node_id: int,
        disk: DiskLike,
        *,
        make_replica: ReplicaFactory,
        open_storage: StorageOpener,
        transport: Transport,
        clients: ClientPort,
        timers: TimerPort,
        observer: StepObserver | None = None,
        spawner: SpawnPort | None = None,
        checkpoint_every: int = 0,
    ) -> None:
        self.node_id = node_id
        self.disk = disk
        self._make_replica = make_replica
        self._open_storage = open_storage
        self._transport = transport
        self._clients = clients
        self._timers = timers
        self.observer = observer  # may be wrapped before a run (Simulation.add_step_listener)
        self._spawner = spawner
        self.checkpoint_every = checkpoint_every
        self.replica: Any = None
        self.wal: WalLike | None = None
        self.kv: KvLike | None = None
        self._results: dict[int, Any] = {}
        self._last_checkpoint_slot = 0
        self.crash_point: CrashPointHook | None = None  # set by a simulator only
        # ask ``crash_point(node, "mid-send")`` before each Send (set by a simulator only: the
        # churn fault), so what a step broadcasts reaches only some peers; off, a step's sends
        # are all performed or none
        self.crash_sends = False

    def recover(self) -> None:
        """Recover storage and build the replica from it; the caller then steps a `Tick`.

        Raises storage.StorageError if the WAL or KV store fails recovery.
        """
        wal, kv = self._open_storage(self.disk)
        self.wal, self.kv = wal, kv
        records = [payload for _, payload in wal.records()]
        self._results = {}
        self._last_checkpoint_slot = kv.applied_lsn
        self.replica = self._make_replica(records, kv.applied_lsn)

    def start(self, now_us: int) -> None:
        """`recover`, then give the replica its first Tick at local time ``now_us``."""
        self.recover()
        self.step(Tick(), now_us)

    def stop(self) -> None:
        """Drop all volatile state (a crash); the disk is the caller's to crash."""
        self.replica = None
        self.wal = None
        self.kv = None
        self._results = {}

    def step(self, event: Event, now_us: int) -> list[Effect]:
        """Step the replica with ``event`` at local time ``now_us`` and perform its effects."""
        replica = self.replica
        effects: list[Effect] = replica.step(event, now_us)
        try:
            self._perform(effects)
        except CrashInStep as crash:
            # The effects performed before the crash happened (a Persist may be durable, a
            # message sent): the observer sees the step with exactly those.
            if self.observer is not None:
                self.observer(self.node_id, replica, event, effects[: crash.performed], now_us)
            raise
        observer = self.observer
        if observer is not None:
            observer(self.node_id, replica, event, effects, now_us)
        kv = self.kv
        if (
            self.checkpoint_every
            and kv is not None
            and kv.applied_lsn - self._last_checkpoint_slot >= self.checkpoint_every
        ):
            self._last_checkpoint_slot = kv.applied_lsn
            crash_point = self.crash_point
            armed = crash_point is not None and crash_point(self.node_id, "mid-checkpoint")
            kv.checkpoint()  # an armed disk raises SimulatedCrash inside it
            if armed:
                self._armed_disk().disarm_crash()  # the checkpoint ended before the armed operation
            self.step(Compact(slot=kv.applied_lsn, snapshot=kv.snapshot()), now_us)
        return effects

    def _sync(self, truncate_before: int) -> int:
        """Make the appended records durable; returns the fsync latency (us) to charge."""
        wal = self.wal
        assert wal is not None
        wal.sync()
        if truncate_before > 1:
            wal.truncate_prefix(truncate_before - 1)
        return self.disk.last_fsync_latency_us

    def _armed_disk(self) -> Any:
        """The disk a crash-point hook armed (a simulated disk: it has ``disarm_crash``)."""
        return self.disk

    def _sync_or_crash(self, truncate_before: int, performed: int) -> int:
        """`_sync`, unless the crash point ``torn-append`` arms the disk to crash inside the
        WAL's write-then-fsync: the write may then survive whole, torn, or not at all. Only
        the effects before ``performed`` (the first unsynced Persist) are known to have
        happened; what survived shows at recovery (which counts it as durable from then)."""
        crash_point = self.crash_point
        if crash_point is None or not crash_point(self.node_id, "torn-append"):
            return self._sync(truncate_before)
        try:
            latency = self._sync(truncate_before)
        except SimulatedCrash:
            raise CrashInStep("torn-append", performed) from None
        self._armed_disk().disarm_crash()  # the sync ended before the armed operation
        return latency

    def _perform(self, effects: list[Any]) -> None:
        node = self.node_id
        delay_us = 0
        unsynced = False
        truncate_before = 0
        unsynced_from = 0  # the first Persist not yet synced (a crash point shows effects before)
        crash_point = self.crash_point
        crash_sends = self.crash_sends
        # Branches in order of frequency; effects typed Any (no cast() call per effect).
        for i, effect in enumerate(effects):
            kind = type(effect)
            if kind is Persist:
                wal = self.wal
                assert wal is not None
                first = 0
                for record in effect.records:
                    lsn = wal.append(record)
                    first = first or lsn
                if effect.checkpoint and first:
                    truncate_before = first
                if not unsynced:
                    unsynced, unsynced_from = True, i
                if crash_point is not None and crash_point(node, "mid-append"):
                    raise CrashInStep("mid-append", unsynced_from)  # buffered, never written
                continue
            if unsynced:
                delay_us += self._sync_or_crash(truncate_before, unsynced_from)
                unsynced, truncate_before = False, 0
                if crash_point is not None and crash_point(node, "fsync-then-send"):
                    raise CrashInStep("fsync-then-send", i)
            if kind is Send:
                if crash_sends and crash_point is not None and crash_point(node, "mid-send"):
                    raise CrashInStep("mid-send", i)  # the sends before this one went out
                self._transport.send(node, effect.dst, effect.msg, delay_us)
            elif kind is SetTimer:
                self._timers.set_timer(node, effect.at_us)
            elif kind is Apply:
                kv = self.kv
                assert kv is not None
                results = self._results
                results[effect.slot] = kv.apply(effect.slot, effect.command)
                if len(results) > _RESULTS_KEPT:
                    del results[next(iter(results))]
            elif kind is Reply:
                if (
                    crash_point is not None
                    and effect.slot is not None
                    and crash_point(node, "before-reply")
                ):
                    raise CrashInStep("before-reply", i)
                self._reply(effect, delay_us)
            elif kind is ServeRead:
                assert self.kv is not None
                value = self.kv.get(effect.key)
                self._clients.read_served(node, effect.strong, effect.key, value)
                outcome = ClientOutcome(status="ok", value=value)
                self._clients.answer(node, effect.client_id, effect.request_id, outcome, delay_us)
            elif kind is InstallSnapshot:
                assert self.kv is not None
                self.kv.install_snapshot(effect.snapshot, effect.slot)
                self._results.clear()
            elif kind is StartReplica and self._spawner is not None:
                self._spawner.start_replica(effect.node_id, effect.log_replica)
            else:
                raise TypeError(f"host cannot perform effect type={kind.__name__}")
        if unsynced:
            self._sync_or_crash(truncate_before, unsynced_from)

    def _reply(self, reply: Reply, delay_us: int) -> None:
        if reply.slot is None:
            outcome = ClientOutcome(
                status="error",
                error=reply.error or "refused",
                leader_hint=reply.leader_hint,
                indeterminate=reply.indeterminate,
            )
        else:
            result = self._results.get(reply.slot)
            if result is None:
                # Applied in an earlier incarnation: the result is gone, the write happened.
                outcome = ClientOutcome(status="error", error="result-unknown", indeterminate=True)
            else:
                outcome = ClientOutcome(status="ok", value=result.value, applied=result.ok)
        self._clients.answer(self.node_id, reply.client_id, reply.request_id, outcome, delay_us)


# The ports and the backend are re-exported: `from harness.runtime.host import ...` works.
__all__ = [
    "CRASH_POINTS",
    "TIMEOUT",
    "Backend",
    "ClientOutcome",
    "ClientPort",
    "CrashPointHook",
    "DiskLike",
    "GroupSpec",
    "Host",
    "KvLike",
    "MakeReplica",
    "ReplicaFactory",
    "ReplicaLike",
    "SpawnPort",
    "StepObserver",
    "StorageOpener",
    "TimerPort",
    "Transport",
    "WalLike",
    "default_backend",
]
