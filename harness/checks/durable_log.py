"""S15: a replica's durable log agrees with the chosen log at and below its commit index, and no
accepted ballot exceeds its promise.

Why it is worth its own check: a replica that rewrites a slot it already knows is chosen (a late
copy of an old-ballot Accept, say) breaks nothing visible at once. Its applied state is right
and its commit index is chosen (S2 and S4 hold), but it now ships the wrong value as chosen in
catch-up replies and re-applies it from its own WAL after a restart. And an entry accepted above
the promise is a state Paxos never allows: the replica would then accept an older ballot's
value over it. S15 flags either the step it happens.

The same module keeps, per node, the ballot of every entry it durably accepted (a shadow of its
WAL, applied like `consensus.records.replay`), and checks at each recovery that the node got
every one of them back (S3: durable state never goes backwards across a restart). A vote lost
by a bad recovery (a torn checkpoint, a record dropped as torn that was synced) is
caught the moment the node restarts, not thousands of steps later when it leads to a
divergence, if it ever does.

Incremental, so it can run after every step: a step can only break S15 by persisting an accept
(checked against the replica's commit index and promise after the step) or by moving the
commit index over entries it already holds (the newly covered slots are checked). A recovered
replica is checked whole. The promise never goes backwards within an incarnation (S3), so a
ballot that was within the promise stays within it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from consensus.records import (
    AcceptRecord,
    CheckpointRecord,
    ConfigRecord,
    SnapshotRecord,
    decode_record,
)
from harness.checks.accepts import Where
from harness.checks.violation import Violation


class DurableLogInvariant:
    """S15 for every replica of one run, from the chosen log ``chosen`` (slot -> command)."""

    def __init__(self, chosen: Mapping[int, bytes]) -> None:
        self._chosen = chosen
        # per node: S15 holds for slots <= this (read by `OnlineInvariants.on_step`, which
        # skips a step that persisted nothing and left the commit index where it was)
        self.commit_checked: dict[int, int] = {}
        # raw accept record -> decoded: every replica persists the same bytes for an entry
        self._decoded: dict[bytes, AcceptRecord] = {}
        # per node: slot -> (ballot, command) durably accepted
        self._held: dict[int, dict[int, tuple[Any, bytes]]] = {}
        self._snapshot: dict[int, int] = {}  # per node: its durable snapshot slot
        self._config: dict[int, int] = {}  # per node: slot of its durable ConfigRecord

    def on_step(
        self, node_id: int, replica: Any, persisted: Sequence[bytes], where: Where
    ) -> Violation | None:
        """Check what one step of ``node_id`` persisted (raw records) and newly committed."""
        commit = replica.commit_index
        promised = replica.promised
        held = None
        decoded = self._decoded
        for raw in persisted:
            if held is None:
                held = self._held.setdefault(node_id, {})
            cached = decoded.get(raw)
            record = decode_record(raw) if cached is None else cached
            if type(record) is not AcceptRecord:
                self._shadow(node_id, held, record)
                if type(record) is CheckpointRecord:  # its entries are checked like accepts
                    for slot, ballot, command in record.entries:
                        v = self._check_entry(node_id, slot, ballot, command, commit, promised,
                                              where)
                        if v is not None:
                            return v
                continue
            if cached is None:
                decoded[raw] = record
            if record.slot > self._snapshot.get(node_id, 0):
                held[record.slot] = (record.ballot, record.command)
            v = self._check_entry(node_id, record.slot, record.ballot, record.command, commit,
                                  promised, where)
            if v is not None:
                return v
        done = self.commit_checked.get(node_id, 0)
        if commit > done:
            accepted = replica.accepted
            for slot in range(done + 1, commit + 1):
                entry = accepted.get(slot)
                if entry is None:
                    continue
                v = self._check_entry(node_id, slot, entry.ballot, entry.command, commit,
                                      promised, where)
                if v is not None:
                    return v
        self.commit_checked[node_id] = commit
        return None

    def _shadow(self, node_id: int, held: dict[int, tuple[Any, bytes]], record: object) -> None:
        """Apply a durable record other than an accept to ``node_id``'s shadow."""
        if isinstance(record, CheckpointRecord):  # the whole durable state, in one record
            held.clear()
            held.update((slot, (ballot, command)) for slot, ballot, command in record.entries)
            self._snapshot[node_id] = record.snapshot_slot
            self._config[node_id] = record.config_slot
        elif isinstance(record, ConfigRecord):
            self._config[node_id] = max(self._config.get(node_id, 0), record.slot)
        elif isinstance(record, SnapshotRecord) and record.slot > self._snapshot.get(node_id, 0):
            self._snapshot[node_id] = record.slot
            for slot in [s for s in held if s <= record.slot]:
                del held[slot]

    def on_recover(self, node_id: int, replica: Any, where: Where) -> Violation | None:
        """Check the whole durable log a node recovered (a new incarnation starts here): S3,
        every durable accept above the recovered snapshot is back; S15, as after a step."""
        self.commit_checked.pop(node_id, None)
        v = self._check_nothing_lost(node_id, replica, where)
        self._held[node_id] = {s: (e.ballot, e.command) for s, e in replica.accepted.items()}
        self._snapshot[node_id] = replica.snapshot_slot
        self._config[node_id] = getattr(replica, "committed_config_slot", 0)
        if v is not None:
            return v
        commit = replica.commit_index
        promised = replica.promised
        for slot, entry in sorted(replica.accepted.items()):
            v = self._check_entry(node_id, slot, entry.ballot, entry.command, commit, promised,
                                  where)
            if v is not None:
                return v
        self.commit_checked[node_id] = commit
        return None

    def _check_nothing_lost(self, node_id: int, replica: Any, where: Where) -> Violation | None:
        """S3 across a restart: the recovered log holds every entry the node durably accepted
        (the same entry, or one of a higher ballot: an unsynced later accept may have survived),
        except those at or below the snapshot it recovered, and the configuration its
        compacted configuration entries set."""
        snapshot = replica.snapshot_slot
        config_slot = self._config.get(node_id, 0)
        if config_slot and getattr(replica, "committed_config_slot", 0) < config_slot:
            return Violation(
                property="S3",
                message=(
                    f"S3: node {node_id} durably recorded the configuration of slot "
                    f"{config_slot} but recovered an older one (committed configuration slot "
                    f"{replica.committed_config_slot}): its membership went back"
                ),
                **where.fields(),
            )
        accepted = replica.accepted
        for slot, (ballot, command) in sorted(self._held.get(node_id, {}).items()):
            if slot <= snapshot:
                continue
            entry = accepted.get(slot)
            if (
                entry is None
                or entry.ballot < ballot
                or (entry.ballot == ballot and entry.command != command)
            ):
                got = "nothing" if entry is None else (
                    f"ballot {entry.ballot}" if entry.ballot != ballot else "another value"
                )
                return Violation(
                    property="S3",
                    message=(
                        f"S3: node {node_id} durably accepted slot {slot} under ballot {ballot} "
                        f"but recovered {got} there (snapshot slot {snapshot}): a vote was lost"
                    ),
                    slot=slot,
                    **where.fields(),
                )
        return None

    def _check_entry(
        self,
        node_id: int,
        slot: int,
        ballot: Any,
        command: bytes,
        commit: int,
        promised: Any,
        where: Where,
    ) -> Violation | None:
        if ballot > promised:
            return Violation(
                property="S15",
                message=(
                    f"S15: node {node_id} holds slot {slot} accepted under ballot {ballot}, "
                    f"above its promise {promised}"
                ),
                slot=slot,
                **where.fields(),
            )
        if slot <= commit:
            chosen = self._chosen.get(slot)
            if chosen is not None and chosen != command:
                return Violation(
                    property="S15",
                    message=(
                        f"S15: node {node_id} holds {command[:32]!r} at slot {slot} (ballot "
                        f"{ballot}), at or below its commit index {commit}, but the chosen "
                        f"value is {chosen[:32]!r}"
                    ),
                    slot=slot,
                    **where.fields(),
                )
        return None
