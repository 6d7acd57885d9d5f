"""The online checks every protocol gets, written against effects and the replica views only.

A protocol's own invariants (Multi-Paxos: S1 from durable accepts, S3, S4, S5, S12..S15,
`harness.checks.invariants`) know its messages and records; these know nothing but the
`consensus.effects` a replica emits and the views of `harness.runtime.ports.ProtocolReplica`
(``applied_index``, ``is_serving``), so they hold for Raft, Multi-Paxos and the example alike.

Checked here (names as in docs/properties.md):

- S2 applied prefixes agree: the first ``Apply(slot, command)`` any node emits fixes that
  slot's command (the *applied log*); every other node must apply the same command there, and
  each node applies its slots in order without gaps (after a restart, on from the applied
  slot it recovered; after an ``InstallSnapshot(slot)``, on from ``slot``, and every slot up
  to it must have been applied somewhere: a snapshot is a state some node reached).
- S6 at most one replica serving at any sampled true time (`lease_exclusive`; the observer
  also checks it exactly on intervals, `harness.checks.lease_overlap`).
- S8 (online part) a strong read reflects every write acknowledged before it was served.
- S9 every read returns the key's value in the applied log at the reader's applied slot.
- S10 a write is acknowledged only by a node that applied it; at the end, a converged node's
  whole state equals the applied log's at its slot and holds every acknowledged write.

Not checked here: whether a slot was *committed* before it was applied (that needs the
protocol's idea of a quorum: its own invariants), and S8 in full (the history checker).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from consensus.effects import Apply, InstallSnapshot, Reply, ServeRead
from harness.checks.accepts import Where
from harness.checks.statemodel import ChosenLog
from harness.checks.violation import Violation


class InvariantSet(Protocol):
    """The hooks the simulator calls (each returns the first `Violation` found, or None)."""

    def on_step(self, node_id: int, replica: Any, event: object, effects: Sequence[object],
                true_us: int, local_us: int, step: int) -> Violation | None: ...

    def on_recover(self, node_id: int, replica: Any, true_us: int,
                   step: int) -> Violation | None: ...

    def on_read(self, node_id: int, strong: bool, key: bytes | str, value: bytes | str | None,
                true_us: int, step: int) -> Violation | None: ...

    def on_final_state(self, node_id: int, applied_slot: int, checksum: str, true_us: int,
                       step: int) -> Violation | None: ...

    def on_final_acknowledged(self, node_id: int, applied_slot: int, true_us: int,
                              step: int) -> Violation | None: ...

    def check_global(self, replicas: Mapping[int, Any], local_now_us: Mapping[int, int],
                     true_us: int, step: int) -> Violation | None: ...


def serves_at(replica: Any, now_us: int) -> bool:
    """Whether ``replica`` serves writes and strong reads at its local time ``now_us``.

    The interface's ``is_serving(now_us)`` method answers directly. A replica whose
    ``is_serving`` is a property (its answer at its last step's time, as Raft's is) is read
    through its lease: it serves at ``now_us`` iff it leads and ``now_us`` is before
    ``lease_until_us`` (which such a replica keeps at 0 or None while it may not serve).
    """
    is_serving = replica.is_serving
    if callable(is_serving):
        return bool(is_serving(now_us))
    until = replica.lease_until_us
    if until is None:
        return bool(is_serving)
    return bool(replica.role.value == "leader" and now_us < until)


def lease_exclusive(
    replicas: Mapping[int, Any], local_now_us: Mapping[int, int], true_us: int, step: int
) -> Violation | None:
    """S6 sampled: at most one of ``replicas`` serves at this true time (each asked at its own
    local reading of it)."""
    serving = [n for n, r in replicas.items() if r is not None and serves_at(r, local_now_us[n])]
    if len(serving) > 1:
        return Violation(
            property="S6",
            message=f"S6: replicas {serving} all serve under a lease at true time {true_us}us",
            time_us=true_us,
            step=step,
            node=serving[-1],
        )
    return None


class SharedInvariants:
    """The shared checks of one run (see the module docstring). ``members`` is accepted for
    the factory signature of `harness.runtime.protocols.ProtocolSpec` and not needed."""

    name = "shared"

    def __init__(self, members: Sequence[int] = ()) -> None:
        self.log = ChosenLog()  # the applied log: the first command applied at each slot
        self._first: dict[int, int] = {}  # slot -> the node that applied it first
        self._applied: dict[int, int] = {}  # node -> last slot applied (this incarnation)
        self._max_acked_slot = 0
        self._pending_reads: list[tuple[int, bool, bytes, bytes | None]] = []
        self._where = Where(0, 0, 0)

    def set_initial(self, initial: Any) -> None:
        """Nothing to do: these checks do not count quorums."""

    def on_step(self, node_id: int, replica: Any, event: object, effects: Sequence[object],
                true_us: int, local_us: int, step: int) -> Violation | None:
        where = self._where
        where.time_us, where.step, where.node = true_us, step, node_id
        effect: Any
        for effect in effects:
            kind = type(effect)
            v = None
            if kind is Apply:
                v = self._on_apply(node_id, effect.slot, effect.command, where)
            elif kind is InstallSnapshot:
                v = self._on_snapshot(node_id, effect.slot, where)
            elif kind is Reply and effect.slot is not None:
                v = self._on_ack(node_id, effect.slot, where)
            elif kind is ServeRead and effect.strong:
                v = self._on_strong_read(node_id, replica, where)
            if v is not None:
                return v
        if self._pending_reads:
            return self._check_reads(node_id, replica, where)
        return None

    def on_recover(self, node_id: int, replica: Any, true_us: int,
                   step: int) -> Violation | None:
        """A restarted node applies on from the slot it recovered."""
        self._applied[node_id] = replica.applied_index
        return None

    def on_read(self, node_id: int, strong: bool, key: bytes | str, value: bytes | str | None,
                true_us: int, step: int) -> Violation | None:
        """Record a read the host served; it is checked in the same step's `on_step`."""
        k = key.encode() if isinstance(key, str) else key
        val = value.encode() if isinstance(value, str) else value
        self._pending_reads.append((node_id, strong, k, val))
        return None

    def on_final_state(self, node_id: int, applied_slot: int, checksum: str, true_us: int,
                       step: int) -> Violation | None:
        """S10 at the end: the node's whole state is the applied log's at its slot."""
        where = Where(true_us, step, node_id)
        if not self.log.is_chosen_prefix(applied_slot):
            return Violation(
                property="S10",
                message=(f"S10: node {node_id} ended at slot {applied_slot}, beyond every "
                         f"slot applied in the run ({self.log.prefix})"),
                slot=applied_slot, **where.fields())
        expected = self.log.checksum_at(applied_slot)
        if checksum != expected:
            return Violation(
                property="S10",
                message=(f"S10: node {node_id} state at slot {applied_slot} has checksum "
                         f"{checksum}, the applied log gives {expected}: writes lost or changed"),
                slot=applied_slot, **where.fields())
        return None

    def on_final_acknowledged(self, node_id: int, applied_slot: int, true_us: int,
                              step: int) -> Violation | None:
        """S10 at the end: a converged node applied every acknowledged write."""
        if applied_slot < self._max_acked_slot:
            return Violation(
                property="S10",
                message=(f"S10: node {node_id} ended at slot {applied_slot}, without the write "
                         f"acknowledged at slot {self._max_acked_slot}"),
                slot=self._max_acked_slot, time_us=true_us, step=step, node=node_id)
        return None

    def check_global(self, replicas: Mapping[int, Any], local_now_us: Mapping[int, int],
                     true_us: int, step: int) -> Violation | None:
        return lease_exclusive(replicas, local_now_us, true_us, step)

    # ---- details -----------------------------------------------------------------------

    def _on_apply(self, node_id: int, slot: int, command: bytes, where: Where) -> Violation | None:
        last = self._applied.get(node_id, 0)  # a node not seen yet starts empty
        if slot != last + 1:
            return Violation(
                property="S2",
                message=f"S2: node {node_id} applied slot {slot} right after slot {last}",
                slot=slot, **where.fields())
        self._applied[node_id] = slot
        log = self.log
        first = log.chosen.get(slot)
        if first is None:
            log.choose(slot, command)
            self._first[slot] = node_id
        elif first != command:
            return Violation(
                property="S2",
                message=(f"S2: node {node_id} applied a command at slot {slot} that differs "
                         f"from the one node {self._first[slot]} applied there"),
                slot=slot, **where.fields())
        return None

    def _on_snapshot(self, node_id: int, slot: int, where: Where) -> Violation | None:
        if not self.log.is_chosen_prefix(slot):
            return Violation(
                property="S2",
                message=(f"S2: node {node_id} installed a snapshot at slot {slot}, but slot "
                         f"{self.log.prefix + 1} was never applied by any node"),
                slot=slot, **where.fields())
        self._applied[node_id] = slot
        return None

    def _on_ack(self, node_id: int, slot: int, where: Where) -> Violation | None:
        if self._applied.get(node_id, 0) < slot or slot not in self.log.chosen:
            return Violation(
                property="S10",
                message=f"S10: node {node_id} acknowledged the write at slot {slot} unapplied",
                slot=slot, **where.fields())
        self._max_acked_slot = max(self._max_acked_slot, slot)
        return None

    def _on_strong_read(self, node_id: int, replica: Any, where: Where) -> Violation | None:
        if replica.applied_index < self._max_acked_slot:
            return Violation(
                property="S8",
                message=(f"S8: node {node_id} served a strong read at applied slot "
                         f"{replica.applied_index}, missing the acknowledged write at slot "
                         f"{self._max_acked_slot}"),
                slot=self._max_acked_slot, **where.fields())
        return None

    def _check_reads(self, node_id: int, replica: Any, where: Where) -> Violation | None:
        reads, self._pending_reads = self._pending_reads, []
        for reader, strong, key, value in reads:
            if reader != node_id:
                continue
            applied = replica.applied_index
            if not self.log.is_chosen_prefix(applied):
                return Violation(
                    property="S9",
                    message=(f"S9: node {node_id} served a read at applied slot {applied}, "
                             f"beyond every slot applied in the run ({self.log.prefix})"),
                    key=key.decode(errors="replace"), **where.fields())
            expected = self.log.value_at(key, applied)
            if expected != value:
                kind = "strong" if strong else "eventual"
                return Violation(
                    property="S9",
                    message=(f"S9: node {node_id} returned {value!r} for {kind} read of key "
                             f"{key.decode(errors='replace')!r}, but at its applied slot "
                             f"{applied} the applied log has {expected!r}"),
                    key=key.decode(errors="replace"), **where.fields())
        return None


class CheckSet:
    """Several invariant sets run as one: each hook asks them in order (the protocol's own
    first, then the shared ones) and returns the first violation."""

    def __init__(self, parts: Sequence[Any], names: Sequence[str]) -> None:
        self.parts = tuple(parts)
        self.names = tuple(names)

    @property
    def log(self) -> Any:
        """The log end-of-run checks read (`harness.checks.statemodel.ChosenLog`): the
        protocol's own when its set keeps one (Multi-Paxos: the chosen log, from durable
        accept quorums), else the shared applied log (the first command applied per slot)."""
        for part in self.parts:
            log = getattr(part, "log", None)
            if log is not None:
                return log
        return None

    def describe(self) -> str:
        """``"shared only"`` or ``"shared + NAME"``: what the run's checks are."""
        own = [n for n in self.names if n != "shared"]
        return "shared only" if not own else "shared + " + " + ".join(own)

    def set_initial(self, initial: Any) -> None:
        for part in self.parts:
            part.set_initial(initial)

    def on_step(self, node_id: int, replica: Any, event: object, effects: Sequence[object],
                true_us: int, local_us: int, step: int) -> Violation | None:
        for part in self.parts:
            v: Violation | None = part.on_step(
                node_id, replica, event, effects, true_us, local_us, step
            )
            if v is not None:
                return v
        return None

    def on_recover(self, node_id: int, replica: Any, true_us: int,
                   step: int) -> Violation | None:
        return self._first("on_recover", node_id, replica, true_us, step)

    def on_read(self, node_id: int, strong: bool, key: bytes | str, value: bytes | str | None,
                true_us: int, step: int) -> Violation | None:
        return self._first("on_read", node_id, strong, key, value, true_us, step)

    def on_final_state(self, node_id: int, applied_slot: int, checksum: str, true_us: int,
                       step: int) -> Violation | None:
        return self._first("on_final_state", node_id, applied_slot, checksum, true_us, step)

    def on_final_acknowledged(self, node_id: int, applied_slot: int, true_us: int,
                              step: int) -> Violation | None:
        return self._first("on_final_acknowledged", node_id, applied_slot, true_us, step)

    def check_global(self, replicas: Mapping[int, Any], local_now_us: Mapping[int, int],
                     true_us: int, step: int) -> Violation | None:
        # S6 is the same sampled check in every set: asking it once gives the same verdict
        v: Violation | None = self.parts[0].check_global(replicas, local_now_us, true_us, step)
        return v

    def _first(self, hook: str, *args: Any) -> Violation | None:
        for part in self.parts:
            v: Violation | None = getattr(part, hook)(*args)
            if v is not None:
                return v
        return None
