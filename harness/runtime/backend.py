"""What a simulated group runs: its nodes (`GroupSpec`) and their replica and storage
(`Backend`; `default_backend` is a registered protocol's replica, `consensus.Replica` unless
told otherwise, on `storage`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs

from consensus import Timing
from consensus.quorum import Membership
from harness.runtime import protocols
from harness.runtime.chooser import Chooser
from harness.runtime.ports import KvLike, ReplicaFactory, ReplicaLike, StorageOpener, WalLike
from storage import WAL, Command, KVStore, SimDisk
from storage.wal import DEFAULT_SEGMENT_BYTES

MakeReplica = Callable[..., ReplicaLike]
"""``make(node_id=, members=, timing=, variant=, choose=, records=, applied_slot=, **group)``
where ``group`` is `GroupSpec.replica_kwargs` (empty for a group without spares)."""


@attrs.frozen(kw_only=True)
class GroupSpec:
    """Which nodes a simulated group has beyond its storage replicas ``0..replicas-1``.

    ``log_members`` are log replicas of the initial configuration (they run from the start);
    ``log_spares`` and ``spares`` (storage) are started only when a healing leader adds them;
    ``dead_after_us`` is the leader's failure detector (`consensus.ReplicaConfig.
    replica_dead_after_us`; 0 = no healing). ``outside`` nodes run from the start outside
    the initial configuration (a replica that is in no configuration yet), so that
    membership changes the harness asks for can add them (the ``membership`` fault).
    """

    replicas: int
    log_members: tuple[int, ...] = ()
    log_spares: tuple[int, ...] = ()
    spares: tuple[int, ...] = ()
    dead_after_us: int = 0
    outside: tuple[int, ...] = ()

    @classmethod
    def for_run(
        cls, replicas: int, healing: bool, dead_after_us: int, log_replicas: int = 0,
        outside: int = 0,
    ) -> GroupSpec:
        """The group of a run: storage replicas, then ``log_replicas`` log replicas, then
        (with ``healing``) one log spare and one storage spare, then ``outside`` nodes
        running outside the configuration.

        Raises ValueError for a configuration that cannot be safe
        (`consensus.quorum.Membership`: more log replicas than storage replicas).
        """
        logs = tuple(range(replicas, replicas + log_replicas))
        Membership(tuple(range(replicas)), logs)
        if not healing:
            first = replicas + log_replicas
            return cls(replicas=replicas, log_members=logs,
                       outside=tuple(range(first, first + outside)))
        spare = replicas + log_replicas
        return cls(
            replicas=replicas,
            log_members=logs,
            log_spares=(spare,),
            spares=(spare + 1,),
            dead_after_us=dead_after_us,
            outside=tuple(range(spare + 2, spare + 2 + outside)),
        )

    @property
    def members(self) -> tuple[int, ...]:
        """The initial storage replicas."""
        return tuple(range(self.replicas))

    @property
    def nodes(self) -> tuple[int, ...]:
        """Every node that may ever run, sorted."""
        return tuple(sorted(self.members + self.log_members + self.log_spares + self.spares
                            + self.outside))

    @property
    def running(self) -> tuple[int, ...]:
        """The nodes that run from the start: the initial configuration and the outside
        nodes (spares start only when a leader adds them)."""
        return self.members + self.log_members + self.outside

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
    restarts); ``encode`` builds client commands (`harness.sim.workload.CommandEncoder`).
    ``buggify``: ``make_replica`` takes ``window`` and ``snapshot_chunk_bytes`` and
    ``open_storage`` takes ``segment_bytes``, ``fanout`` and ``min_compact_bytes`` keywords,
    so a simulator may draw them small (`harness.sim.buggify`). ``protocol``: the registered
    protocol (`harness.runtime.protocols`) whose invariants the simulator runs.
    """

    timing: Timing = attrs.field(factory=Timing)
    protocol: str = protocols.DEFAULT
    buggify: bool = False
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
        knobs: dict[str, Any] | None = None,
    ) -> ReplicaFactory:
        """Bind everything but the recovered state, for one node's `Host` (``knobs``: extra
        keywords for a ``buggify`` backend's ``make_replica``)."""
        extra = {} if group is None else group.replica_kwargs()
        extra.update(knobs or {})

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


def default_backend(timing: Timing | None = None, protocol: str = protocols.DEFAULT) -> Backend:
    """Protocol ``protocol``'s replica (`harness.runtime.protocols`; `consensus.Replica` by
    default) over `storage.WAL` and `storage.KVStore` on a `storage.SimDisk`. Raises
    `harness.runtime.protocols.ProtocolUnavailable` for a protocol that cannot run here."""
    make_replica = protocols.get(protocol).make_replica

    def open_storage(disk: Any, **kw: Any) -> tuple[WalLike, KvLike]:
        wal = WAL.open(disk, "wal", segment_bytes=kw.get("segment_bytes", DEFAULT_SEGMENT_BYTES))
        kv = KVStore.open(
            disk, "kv", fanout=kw.get("fanout", 64),
            min_compact_bytes=kw.get("min_compact_bytes", 1 << 20),
        )
        return wal, kv

    def make_disk(node: int, faults: Any, chooser: Chooser) -> Any:
        return SimDisk(node, faults=faults, choose=chooser.choose)

    def encode(**kw: Any) -> bytes:
        return Command(**kw).encode()

    return Backend(
        timing=timing or Timing(),
        protocol=protocol,
        buggify=True,
        make_replica=make_replica,
        open_storage=open_storage,
        make_disk=make_disk,
        encode=encode,
    )
