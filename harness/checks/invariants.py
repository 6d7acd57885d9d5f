"""Multi-Paxos's online safety invariants, checked after every simulator step from the global view.

These are the checks that live with the Multi-Paxos protocol (`harness.runtime.protocols`
names `OnlineInvariants` as its invariant factory): they read its durable records (accepts,
promises), its messages and its views (``promised``, ``recovery_slot``, ``accepted``). The
simulator runs them before the checks every protocol gets (`harness.checks.shared`), which
know only effects and the generic views; S2, S8, S9 and S10 are checked here again against
the *chosen* log (stronger than the shared checks' applied log).

The simulator calls these hooks; each returns the first `Violation` it finds, or None. They
read replicas and effects and never change them.

Checked here (names as in docs/properties.md):

- S1 agreement: a slot is *chosen* once a write quorum has durably accepted the same
  (slot, ballot): a majority of the members, or with membership changes a quorum of the
  configuration that decides that (slot, ballot) (`harness.checks.quorum_view`); two chosen values
  for one slot, or two values proposed for one (slot, ballot), violate S1. Durable acceptance
  is read from the `AcceptRecord` of each `Persist` (`harness.checks.accepts`, which also keeps the
  chosen log the other checks read).
- S2 applied prefixes agree: every `Apply(slot, command)` applies the chosen command of that slot.
- S3 promises never go backwards: a replica's promised ballot never drops within an incarnation,
  and after a restart it is at least every ballot the node ever sent a `Promise` or an `Accepted`
  for (a promise the peers relied on); and it recovered every entry it durably accepted above its
  recovered snapshot, and a configuration no older than it recorded (`harness.checks.durable_log`).
- S4 commit index monotone and chosen: within an incarnation `commit_index` never drops, and
  every slot at or below it is chosen.
- S5 a leader serves nothing (write reply, strong read) before its recovered suffix is committed.
- S6 at most one replica serving under a lease at any true time (``is_serving`` at each node's
  local reading of the current true time); and its acceptor half: a Promise reports every lease
  grant to another ballot that may still run (`harness.checks.lease_grants`); and its leader
  half: a serving window is backed by a quorum of every configuration a successor may use
  (`harness.checks.lease_backing`).
- S8 (online part) a strong read reflects every write acknowledged before it was served; the full
  linearizability check runs on the history after the run.
- S9 every read returns the value of the key in the chosen log at the reader's applied slot.
- S10 a write is acknowledged only once it is chosen (durable on a write quorum).
- S14 a command applied at a slot was proposed for that slot (bytes failing their checksum and
  returned anyway would show up here).

- S15 a replica's durable log agrees with the chosen log at and below its commit index, and no
  accepted ballot exceeds its promise (`harness.checks.durable_log`).

S12 (configuration changes keep quorums intersecting) and S13 (log replicas never lead or serve
reads) are checked by `harness.checks.membership`, called at the end of `on_step`. The other half
of S13, that a log replica drops only what every storage replica has applied (so each storage
replica can still catch up from it), is checked here: the ``truncate_to`` of every `Accept` a
leader sends is at most the highest slot each storage voter of its committed configuration
has applied.

Not checked here: S8 in full (history checker).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from consensus.effects import Apply, InstallSnapshot, Persist, Reply, Send, ServeRead, SetTimer
from consensus.membership import is_config
from consensus.messages import Accept, Accepted, Promise
from consensus.quorum import Membership
from consensus.records import AcceptRecord, encode_record
from consensus.roles import Role
from harness.checks.accepts import AcceptVotes, Where
from harness.checks.durable_log import DurableLogInvariant
from harness.checks.lease_backing import LeaseBacking
from harness.checks.lease_grants import LeaseGrants
from harness.checks.membership import MembershipInvariants
from harness.checks.shared import lease_exclusive
from harness.checks.violation import Violation

_Handler = Callable[[int, Any, Any, Where], "Violation | None"]
_PROMISING = (Promise, Accepted)  # messages that promise their ballot to the receiver


def _ignore(node_id: int, replica: Any, effect: Any, where: Where) -> None:
    """Effects no online invariant looks at (timers, unknown kinds)."""


class OnlineInvariants:
    """Watches every step of one run (see the module docstring for what it checks).

    Args:
        members: ids of the voting members (a majority of them is a write quorum); see
            `set_initial` for a group whose nodes are not all voters at the start.
    """

    def __init__(self, members: Sequence[int]) -> None:
        self.votes = AcceptVotes(members)  # S1, and the chosen log
        self.log = self.votes.log
        self._promised_seen: dict[int, Any] = {}  # volatile promised, per incarnation
        self._promised_sent: dict[int, Any] = {}  # highest ballot promised to peers, ever
        self._commit_seen: dict[int, int] = {}  # per incarnation
        self._max_acked_slot = 0
        self._applied_high: dict[int, int] = {}  # node -> highest slot it ever applied
        self._promisers: dict[Any, set[int]] = {}  # ballot -> nodes that sent it a Promise
        self._leading: dict[int, bool] = {}  # node -> was leader after its last step
        self._pending_reads: list[tuple[int, bool, bytes, bytes | None]] = []
        self._membership = MembershipInvariants()  # S12, S13
        self._durable_log = DurableLogInvariant(self.log.chosen)  # S15
        self._lease_grants = LeaseGrants()  # S6: Promises report every running grant
        self._lease_backing = LeaseBacking()  # S6: a serving lease is backed by every quorum
        self._where = Where(0, 0, 0)  # on_step's, refilled per step
        # The check of each effect type (dispatch by type instead of an isinstance chain).
        self._handlers: dict[type, _Handler] = {
            Persist: lambda n, r, e, w: self.votes.on_persist(n, e.records, w),
            Send: self._on_send_effect,
            Apply: lambda n, r, e, w: self._on_apply(n, e, w),
            Reply: lambda n, r, e, w: None if e.slot is None else self._on_ack(r, e.slot, w),
            ServeRead: lambda n, r, e, w: self._on_strong_read(r, w) if e.strong else None,
            InstallSnapshot: lambda n, r, e, w: self._on_snapshot(n, e.slot, w),
        }

    def set_initial(self, initial: Membership) -> None:
        """The group starts in ``initial`` (other nodes are spares); call before any step."""
        self.votes.set_initial(initial)

    @property
    def members(self) -> tuple[int, ...]:
        """The voting members of the initial configuration."""
        return self.votes.members

    @property
    def quorum(self) -> int:
        """The size of a write quorum of the initial configuration."""
        return self.votes.quorum

    # ---- hooks -------------------------------------------------------------------------

    def on_step(
        self,
        node_id: int,
        replica: Any,
        event: object,
        effects: Sequence[object],
        true_us: int,
        local_us: int,
        step: int,
    ) -> Violation | None:
        """Check one node's step after the host performed ``effects``."""
        where = self._where  # one record, refilled per step: violations copy its fields
        where.time_us = true_us
        where.step = step
        where.node = node_id
        applied = replica.applied_index  # S13's truncation check: what each node applied, ever
        if applied > self._applied_high.get(node_id, 0):
            self._applied_high[node_id] = applied
        # The frequent effect types first, inline; the rest by the handler table.
        effect: Any
        persisted: list[bytes] = []
        for effect in effects:
            kind = type(effect)
            if kind is Send:
                msg = effect.msg
                if isinstance(msg, _PROMISING):
                    self._note_promise(node_id, msg.ballot)
                    if msg.__class__ is Promise:
                        self._promisers.setdefault(msg.ballot, set()).add(node_id)
                elif msg.__class__ is Accept and msg.truncate_to:
                    v = self._check_truncate(node_id, replica, msg.truncate_to, where)
                    if v is not None:
                        return v
                continue
            if kind is SetTimer:
                continue
            if kind is Persist:
                persisted.extend(effect.records)
                v = self.votes.on_persist(node_id, effect.records, where)
            elif kind is Apply:
                v = self._on_apply(node_id, effect, where)
            else:
                handler = self._handlers.get(kind)
                if handler is None:
                    handler = self._handler_for(kind)
                v = handler(node_id, replica, effect, where)
            if v is not None:
                return v
        # S3/S4 monotonicity: nothing to check unless promised or commit_index moved.
        promised = replica.promised
        commit = replica.commit_index
        v = None
        if (
            promised is not self._promised_seen.get(node_id)
            or commit != self._commit_seen.get(node_id, 0)
        ):
            v = self._check_monotone(node_id, promised, commit, where)
        if v is None:
            durable_log = self._durable_log
            if persisted or commit != durable_log.commit_checked.get(node_id, 0):
                v = durable_log.on_step(node_id, replica, persisted, where)
        if v is None:
            v = self._lease_grants.on_step(node_id, replica, event, effects, local_us, where)
        if v is None:
            v = self._lease_backing.on_step(node_id, replica, event, local_us, where)
        if v is None and self._pending_reads:
            v = self._check_reads(node_id, replica, where)
        leading = replica.role is Role.LEADER
        if leading is not self._leading.get(node_id, False):
            self._leading[node_id] = leading
            if leading and v is None and getattr(replica, "membership_changed", False):
                v = self._check_phase1_quorums(node_id, replica, where)
        if v is None:
            membership = self._membership
            if membership.log_kind.get(node_id) is not False or getattr(
                replica, "membership_changed", False
            ):
                v = membership.on_step(node_id, replica, effects, true_us, step)
        return v

    def _handler_for(self, cls: type) -> _Handler:
        """The check for effects of type ``cls`` (by its nearest known base), cached."""
        handler: _Handler = _ignore
        for base in cls.__mro__:
            found = self._handlers.get(base)
            if found is not None:
                handler = found
                break
        self._handlers[cls] = handler
        return handler

    def on_recover(self, node_id: int, replica: Any, true_us: int, step: int) -> Violation | None:
        """Check a node right after it restarted from its disk (S3 across restart).

        What the node recovered counts as durably accepted from now on: a write whose fsync
        failed may still have reached the disk before the crash, and the node may then
        acknowledge it without persisting it again.
        """
        self._commit_seen.pop(node_id, None)
        self._promised_seen.pop(node_id, None)
        self._lease_grants.on_recover(node_id)
        self._lease_backing.on_recover(node_id)
        recovered = tuple(
            encode_record(AcceptRecord(slot, entry.ballot, entry.command))
            for slot, entry in sorted(replica.accepted.items())
        )
        where = Where(true_us, step, node_id)
        if recovered:
            v = self.votes.on_persist(node_id, recovered, where)
            if v is not None:
                return v
        sent = self._promised_sent.get(node_id)
        if sent is not None and replica.promised < sent:
            return Violation(
                property="S3",
                message=(
                    f"S3: node {node_id} recovered promised={replica.promised} below the "
                    f"ballot {sent} it promised before the crash"
                ),
                time_us=true_us,
                step=step,
                node=node_id,
            )
        return self._durable_log.on_recover(node_id, replica, where)

    def on_read(
        self,
        node_id: int,
        strong: bool,
        key: bytes | str,
        value: bytes | str | None,
        true_us: int,
        step: int,
    ) -> Violation | None:
        """Record a read the host served; it is checked in the same step's `on_step`."""
        k = key.encode() if isinstance(key, str) else key
        val = value.encode() if isinstance(value, str) else value
        self._pending_reads.append((node_id, strong, k, val))
        return None

    def on_final_state(
        self, node_id: int, applied_slot: int, checksum: str, true_us: int, step: int
    ) -> Violation | None:
        """Durability after healing: a node's whole state equals the chosen log's at its slot.

        Every acknowledged write is chosen (checked at the acknowledgement), so if the node's
        state machine lost or changed one (a torn page, a bad recovery), its checksum differs.
        """
        where = Where(true_us, step, node_id)
        if not self.log.is_chosen_prefix(applied_slot):
            return Violation(
                property="S4",
                message=f"S4: node {node_id} applied up to slot {applied_slot}, not all chosen",
                slot=applied_slot,
                **where.fields(),
            )
        expected = self.log.checksum_at(applied_slot)
        if checksum != expected:
            return Violation(
                property="S10",
                message=(
                    f"S10: node {node_id} state at slot {applied_slot} has checksum "
                    f"{checksum}, the chosen log gives {expected}: writes lost or changed"
                ),
                slot=applied_slot,
                **where.fields(),
            )
        return None

    def on_final_acknowledged(
        self, node_id: int, applied_slot: int, true_us: int, step: int
    ) -> Violation | None:
        """Durability after healing: a converged node applied every acknowledged write.

        With `on_final_state` (its state is the chosen log's at ``applied_slot``) this says
        every acknowledged write is in its final state.
        """
        if applied_slot < self._max_acked_slot:
            return Violation(
                property="S10",
                message=(
                    f"S10: node {node_id} ended at slot {applied_slot}, without the write "
                    f"acknowledged at slot {self._max_acked_slot}"
                ),
                slot=self._max_acked_slot,
                time_us=true_us,
                step=step,
                node=node_id,
            )
        return None

    def check_global(
        self,
        replicas: Mapping[int, Any],
        local_now_us: Mapping[int, int],
        true_us: int,
        step: int,
    ) -> Violation | None:
        """S6: at most one replica may be serving under a lease at this true time."""
        return lease_exclusive(replicas, local_now_us, true_us, step)

    # ---- details -----------------------------------------------------------------------

    def _on_send_effect(self, node_id: int, replica: Any, effect: Send, where: Where) -> None:
        msg = effect.msg
        if isinstance(msg, _PROMISING):
            self._note_promise(node_id, msg.ballot)

    def _note_promise(self, node_id: int, ballot: Any) -> None:
        """``node_id`` sent a message promising ``ballot`` (S3 across restarts)."""
        best = self._promised_sent.get(node_id)
        if best is None or (ballot is not best and ballot > best):
            self._promised_sent[node_id] = ballot

    def _check_phase1_quorums(self, node_id: int, replica: Any, where: Where) -> Violation | None:
        """S12: a node that just became leader holds promises from a quorum of its committed
        configuration and of the newest one in its log: either may govern the slots it will
        decide. Promises are counted as sent (a superset of what it received)."""
        ballot = replica.promised
        voters = self._promisers.get(ballot, set()) | {node_id}
        for cfg in (replica.committed_membership, replica.membership):
            if not cfg.is_quorum(voters):
                return Violation(
                    property="S12",
                    message=(
                        f"S12: node {node_id} became leader of {ballot} with promises from "
                        f"{sorted(voters)} only, no quorum of the configuration {cfg} it may use"
                    ),
                    **where.fields(),
                )
        return None

    def _check_truncate(
        self, node_id: int, replica: Any, truncate_to: int, where: Where
    ) -> Violation | None:
        """S13: log replicas may drop slots <= ``truncate_to`` only if every storage voter
        applied them; else a lagging storage replica could find them nowhere but at the leader."""
        high = self._applied_high
        # The committed configuration's storage voters: the leader counted them all when it
        # computed ``truncate_to`` (a configuration appended later in the same step may not be).
        for voter in replica.committed_membership.storage:
            applied = high.get(voter, 0)
            if applied < truncate_to:
                return Violation(
                    property="S13",
                    message=(
                        f"S13: leader {node_id} let log replicas drop slots <= {truncate_to}, "
                        f"but storage voter {voter} has applied only up to slot {applied}"
                    ),
                    slot=truncate_to,
                    **where.fields(),
                )
        return None

    def _on_apply(self, node_id: int, effect: Apply, where: Where) -> Violation | None:
        slot = effect.slot
        chosen = self.log.chosen.get(slot)
        if chosen is None:
            return Violation(
                property="S4",
                message=f"S4: node {node_id} applied slot {slot}, which is not chosen",
                slot=slot,
                **where.fields(),
            )
        if chosen != effect.command and not (effect.command == b"" and is_config(chosen)):
            proposed = self.votes.proposed_by_slot.get(slot, set())
            prop = "S2" if effect.command in proposed or effect.command == b"" else "S14"
            return Violation(
                property=prop,
                message=(
                    f"{prop}: node {node_id} applied a command at slot {slot} that is not "
                    "the chosen one"
                    + ("" if prop == "S2" else " (and was never proposed: corrupted bytes)")
                ),
                slot=slot,
                **where.fields(),
            )
        return None

    def _on_snapshot(self, node_id: int, slot: int, where: Where) -> Violation | None:
        if not self.log.is_chosen_prefix(slot):
            return Violation(
                property="S4",
                message=f"S4: node {node_id} installed a snapshot at slot {slot} not yet chosen",
                slot=slot,
                **where.fields(),
            )
        return None

    def _on_ack(self, replica: Any, slot: int, where: Where) -> Violation | None:
        if slot not in self.log.chosen:
            return Violation(
                property="S10",
                message=f"S10: write at slot {slot} acknowledged before a write quorum had it",
                slot=slot,
                **where.fields(),
            )
        v = self._check_recovered(replica, "acknowledged a write", where)
        if v is None:
            self._max_acked_slot = max(self._max_acked_slot, slot)
        return v

    def _on_strong_read(self, replica: Any, where: Where) -> Violation | None:
        v = self._check_recovered(replica, "served a strong read", where)
        if v is not None:
            return v
        if replica.applied_index < self._max_acked_slot:
            return Violation(
                property="S8",
                message=(
                    f"S8: node {replica.node_id} served a strong read at applied slot "
                    f"{replica.applied_index}, missing the acknowledged write at slot "
                    f"{self._max_acked_slot}"
                ),
                slot=self._max_acked_slot,
                **where.fields(),
            )
        return None

    def _check_recovered(self, replica: Any, what: str, where: Where) -> Violation | None:
        role = getattr(replica.role, "value", replica.role)
        if role == "leader" and replica.commit_index < replica.recovery_slot:
            return Violation(
                property="S5",
                message=(
                    f"S5: leader {replica.node_id} {what} with commit_index="
                    f"{replica.commit_index} below its recovered suffix "
                    f"recovery_slot={replica.recovery_slot}"
                ),
                slot=replica.recovery_slot,
                **where.fields(),
            )
        return None

    def _check_monotone(
        self, node_id: int, promised: Any, commit: int, where: Where
    ) -> Violation | None:
        """S3 and S4 within an incarnation, for the replica's current promised and commit."""
        before = self._promised_seen.get(node_id)
        if before is not None and promised is not before and promised < before:
            return Violation(
                property="S3",
                message=f"S3: node {node_id} promised went back from {before} to {promised}",
                **where.fields(),
            )
        self._promised_seen[node_id] = promised
        seen = self._commit_seen.get(node_id, 0)
        if commit < seen:
            return Violation(
                property="S4",
                message=f"S4: node {node_id} commit index went back from {seen} to {commit}",
                **where.fields(),
            )
        if commit > seen:
            missing = self.log.first_unchosen(seen + 1, commit)
            if missing is not None:
                return Violation(
                    property="S4",
                    message=(
                        f"S4: node {node_id} commit_index={commit} covers slot {missing}, "
                        "which is not chosen"
                    ),
                    slot=missing,
                    **where.fields(),
                )
            self._commit_seen[node_id] = commit
        return None

    def _check_reads(self, node_id: int, replica: Any, where: Where) -> Violation | None:
        reads, self._pending_reads = self._pending_reads, []
        for reader, strong, key, value in reads:
            if reader != node_id:
                continue
            expected = self.log.value_at(key, replica.applied_index)
            if expected != value:
                kind = "strong" if strong else "eventual"
                return Violation(
                    property="S9",
                    message=(
                        f"S9: node {node_id} returned {value!r} for {kind} read of key "
                        f"{key.decode(errors='replace')!r}, but at its applied slot "
                        f"{replica.applied_index} the chosen log has {expected!r}"
                    ),
                    key=key.decode(errors="replace"),
                    **where.fields(),
                )
        return None
