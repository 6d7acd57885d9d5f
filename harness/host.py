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
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

import attrs

from consensus import Replica, ReplicaConfig, Timing
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
from consensus.quorum import Membership
from harness.chooser import Chooser
from storage import WAL, Command, KVStore, SimDisk


class ReplicaLike(Protocol):
    """The part of `consensus.Replica` the host drives."""

    def step(self, event: Any, now_us: int) -> list[Any]: ...


class ResultLike(Protocol):
    ok: bool
    value: bytes | None


class WalLike(Protocol):
    def append(self, payload: bytes) -> int: ...

    def sync(self) -> Any: ...

    def records(self, start_lsn: int = ...) -> Iterator[tuple[int, bytes]]: ...

    def truncate_prefix(self, lsn: int) -> Any: ...


class KvLike(Protocol):
    applied_lsn: int

    def apply(self, lsn: int, command: bytes) -> Any: ...

    def get(self, key: bytes) -> bytes | None: ...

    def checksum(self) -> str: ...

    def snapshot(self) -> bytes: ...

    def install_snapshot(self, snapshot: bytes, lsn: int) -> Any: ...

    def checkpoint(self) -> Any: ...


class DiskLike(Protocol):
    last_fsync_latency_us: int

    def crash(self) -> Any: ...


@attrs.frozen(kw_only=True)
class ClientOutcome:
    """What a node answers a client.

    Attributes:
        status: ``"ok"`` (served), ``"error"`` (refused), or ``"timeout"`` (set by the client
            side when no answer came in time).
        value: for a read, the value (None = absent); for a write, the state machine's result
            value (append: the new full value; cas: the value after it).
        applied: for a write, the state machine's ``Result.ok`` (cas: whether it matched).
        error, leader_hint, indeterminate: from `consensus.effects.Reply`.
    """

    status: str
    value: bytes | None = None
    applied: bool = True
    error: str | None = None
    leader_hint: int | None = None
    indeterminate: bool = False


TIMEOUT = ClientOutcome(status="timeout", indeterminate=True)


class Transport(Protocol):
    def send(self, src: int, dst: int, msg: Any, extra_delay_us: int) -> None:
        """Send ``msg`` from ``src`` to ``dst``, leaving ``extra_delay_us`` from now."""


class ClientPort(Protocol):
    def answer(
        self,
        node: int,
        client_id: int,
        request_id: int,
        outcome: ClientOutcome,
        extra_delay_us: int,
    ) -> None:
        """Deliver ``outcome`` to the client, leaving ``extra_delay_us`` from now."""

    def read_served(self, node: int, strong: bool, key: bytes, value: bytes | None) -> None:
        """A read was served (for online checks of S6/S9)."""


class TimerPort(Protocol):
    def set_timer(self, node: int, at_local_us: int) -> None: ...


class SpawnPort(Protocol):
    def start_replica(self, node: int, log_replica: bool) -> None:
        """Start spare ``node`` if it is not running yet (`consensus.effects.StartReplica`)."""


StepObserver = Callable[[int, Any, Event, list[Effect], int], None]
"""Called after every replica step, once its effects are performed: (node, replica, event,
effects, local time of the step in us). Not called for a step whose effects failed with a
storage error."""

ReplicaFactory = Callable[[Sequence[bytes], int], ReplicaLike]
"""Build a replica from the WAL records and the KV store's applied slot."""

StorageOpener = Callable[[Any], tuple[WalLike, KvLike]]
"""Open (recover) the WAL and KV store on a disk; raises storage.StorageError."""

_RESULTS_KEPT = 4096


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
        self._perform(effects)
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
            kv.checkpoint()
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

    def _perform(self, effects: list[Any]) -> None:
        node = self.node_id
        delay_us = 0
        unsynced = False
        truncate_before = 0
        # Branches in order of frequency; effects typed Any (no cast() call per effect).
        for effect in effects:
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
                unsynced = True
                continue
            if unsynced:
                delay_us += self._sync(truncate_before)
                unsynced, truncate_before = False, 0
            if kind is Send:
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
            self._sync(truncate_before)

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


MakeReplica = Callable[..., ReplicaLike]
"""``make(node_id=, members=, timing=, variant=, choose=, records=, applied_slot=, **group)``
where ``group`` is `GroupSpec.replica_kwargs` (empty for a group without spares)."""


@attrs.frozen(kw_only=True)
class GroupSpec:
    """Which nodes a simulated group has beyond its storage replicas ``0..replicas-1``.

    ``log_members`` are log replicas of the initial configuration (they run from the start);
    ``log_spares`` and ``spares`` (storage) are started only when a healing leader adds them;
    ``dead_after_us`` is the leader's failure detector (`consensus.ReplicaConfig.
    replica_dead_after_us`; 0 = no healing).
    """

    replicas: int
    log_members: tuple[int, ...] = ()
    log_spares: tuple[int, ...] = ()
    spares: tuple[int, ...] = ()
    dead_after_us: int = 0

    @classmethod
    def for_run(
        cls, replicas: int, healing: bool, dead_after_us: int, log_replicas: int = 0
    ) -> GroupSpec:
        """The group of a run: storage replicas, then ``log_replicas`` log replicas, then
        (with ``healing``) one log spare and one storage spare.

        Raises ValueError for a configuration that cannot be safe
        (`consensus.quorum.Membership`: more log replicas than storage replicas).
        """
        logs = tuple(range(replicas, replicas + log_replicas))
        Membership(tuple(range(replicas)), logs)
        if not healing:
            return cls(replicas=replicas, log_members=logs)
        spare = replicas + log_replicas
        return cls(
            replicas=replicas,
            log_members=logs,
            log_spares=(spare,),
            spares=(spare + 1,),
            dead_after_us=dead_after_us,
        )

    @property
    def members(self) -> tuple[int, ...]:
        """The initial storage replicas."""
        return tuple(range(self.replicas))

    @property
    def nodes(self) -> tuple[int, ...]:
        """Every node that may ever run, sorted."""
        return tuple(sorted(self.members + self.log_members + self.log_spares + self.spares))

    @property
    def initial(self) -> Membership:
        """The initial configuration."""
        return Membership(self.members, self.log_members)

    def replica_kwargs(self) -> dict[str, Any]:
        """Extra `MakeReplica` arguments (none for a plain group, so stand-ins need not know)."""
        if not (self.log_members or self.log_spares or self.spares):
            return {}
        return {
            "log_members": self.log_members,
            "spares": self.spares,
            "log_spares": self.log_spares,
            "replica_dead_after_us": self.dead_after_us,
        }


@attrs.frozen(kw_only=True)
class Backend:
    """What a simulated node runs: the replica, its storage, its disk, the command encoding.

    `default_backend` is the real thing (`consensus.Replica` on `storage`); tests may pass
    stand-ins. ``make_disk(node, faults, chooser)`` builds a node's disk (kept across
    restarts); ``encode`` builds client commands (`harness.workload.CommandEncoder`).
    """

    timing: Timing = attrs.field(factory=Timing)
    make_replica: MakeReplica
    open_storage: StorageOpener
    make_disk: Callable[[int, Any, Chooser], Any]
    encode: Callable[..., bytes]

    def replica_factory(
        self,
        node: int,
        members: tuple[int, ...],
        variant: str | None,
        chooser: Chooser,
        group: GroupSpec | None = None,
    ) -> ReplicaFactory:
        """Bind everything but the recovered state, for one node's `Host`."""
        extra = {} if group is None else group.replica_kwargs()

        def make(records: Sequence[bytes], applied_slot: int) -> ReplicaLike:
            return self.make_replica(
                node_id=node,
                members=members,
                timing=self.timing,
                variant=variant,
                choose=chooser.choose,
                records=records,
                applied_slot=applied_slot,
                **extra,
            )

        return make


def default_backend(timing: Timing | None = None) -> Backend:
    """`consensus.Replica` over `storage.WAL` and `storage.KVStore` on a `storage.SimDisk`."""

    def make_replica(**kw: Any) -> ReplicaLike:
        config = ReplicaConfig(
            node_id=kw["node_id"],
            members=kw["members"],
            timing=kw["timing"],
            variant=kw["variant"],
            log_members=kw.get("log_members", ()),
            spares=kw.get("spares", ()),
            log_spares=kw.get("log_spares", ()),
            replica_dead_after_us=kw.get("replica_dead_after_us", 0),
        )
        return Replica(config, kw["choose"], records=kw["records"], applied_slot=kw["applied_slot"])

    def open_storage(disk: Any) -> tuple[WalLike, KvLike]:
        return WAL.open(disk, "wal"), KVStore.open(disk, "kv")

    def make_disk(node: int, faults: Any, chooser: Chooser) -> Any:
        return SimDisk(node, faults=faults, choose=chooser.choose)

    def encode(**kw: Any) -> bytes:
        return Command(**kw).encode()

    return Backend(
        timing=timing or Timing(),
        make_replica=make_replica,
        open_storage=open_storage,
        make_disk=make_disk,
        encode=encode,
    )
