"""S15: a replica's durable log agrees with the chosen log at and below its commit index, and no
accepted ballot exceeds its promise.

Why it is worth its own check: a replica that rewrites a slot it already knows is chosen (a late
copy of an old-ballot Accept, say) breaks nothing visible at once. Its applied state is right
and its commit index is chosen (S2 and S4 hold), but it now ships the wrong value as chosen in
catch-up replies and re-applies it from its own WAL after a restart. And an entry accepted above
the promise is a state Paxos never allows: the replica would then accept an older ballot's
value over it. S15 flags either the step it happens.

Incremental, so it can run after every step: a step can only break S15 by persisting an accept
(checked against the replica's commit index and promise after the step) or by moving the
commit index over entries it already holds (the newly covered slots are checked). A recovered
replica is checked whole. The promise never goes backwards within an incarnation (S3), so a
ballot that was within the promise stays within it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from consensus.records import AcceptRecord, decode_record
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

    def on_step(
        self, node_id: int, replica: Any, persisted: Sequence[bytes], where: Where
    ) -> Violation | None:
        """Check what one step of ``node_id`` persisted (raw records) and newly committed."""
        commit = replica.commit_index
        promised = replica.promised
        decoded = self._decoded
        for raw in persisted:
            if raw[:1] != b"A":
                continue
            record = decoded.get(raw)
            if record is None:
                fresh = decode_record(raw)
                assert isinstance(fresh, AcceptRecord)
                record = decoded[raw] = fresh
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

    def on_recover(self, node_id: int, replica: Any, where: Where) -> Violation | None:
        """Check the whole durable log a node recovered (a new incarnation starts here)."""
        self.commit_checked.pop(node_id, None)
        commit = replica.commit_index
        promised = replica.promised
        for slot, entry in sorted(replica.accepted.items()):
            v = self._check_entry(node_id, slot, entry.ballot, entry.command, commit, promised,
                                  where)
            if v is not None:
                return v
        self.commit_checked[node_id] = commit
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
