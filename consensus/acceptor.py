"""The acceptor and learner half of a replica: state every role shares, and the messages every
role answers the same way (Prepare, Accept, Release, Probe, catch-up).

`Replica` (consensus.replica) adds the roles on top. Rules kept here:
- durable state changes go through `_persist`, which queues an encoded record; `_send` (the one
  chokepoint for outgoing messages) first turns queued records into a `Persist` effect, so a
  Promise or Accepted always leaves after the Persist it depends on;
- a slot is applied only once known chosen: its entry was accepted under the ballot of the
  leader that reported the commit, or it came from a peer's chosen prefix (catch-up);
- the value of an entry at or below the commit index is never changed (a newer ballot may
  re-accept the same value), and no entry is accepted above the promise (catch-up promises an
  entry's ballot before storing it): S15.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType

from consensus.ballot import Ballot, Entry
from consensus.catch_up import CatchUpMixin
from consensus.config import ReplicaConfig
from consensus.effects import Apply, Effect, InstallSnapshot, Persist, Send
from consensus.membership import CONFIG_MAGIC, is_config
from consensus.messages import (
    Accept,
    Accepted,
    Nack,
    Prepare,
    Probe,
    ProbeReply,
    Promise,
    Release,
    SlotEntry,
)
from consensus.probes import probe
from consensus.records import (
    AcceptRecord,
    CheckpointRecord,
    ConfigRecord,
    DurableRecord,
    PromiseRecord,
    SnapshotRecord,
    encode_accept,
    encode_commit,
    encode_record,
    replay,
)
from consensus.roles import Role
from consensus.snapshot_stream import Assembly

logger = logging.getLogger(__name__)

class AcceptorCore(CatchUpMixin):
    """Shared replica state and the role-independent message handlers (see module doc).

    A log replica (``config.is_log_replica``) answers like any acceptor but has no state
    machine: it emits no Apply or InstallSnapshot (``applied_index`` stays 0), keeps snapshot
    slots without their bytes, and drops entries only up to what the leader reports every
    storage replica has applied (``Accept.truncate_to``).
    """

    def __init__(
        self,
        config: ReplicaConfig,
        choose: Callable[[str, int], int],
        *,
        records: Sequence[bytes] = (),
        applied_slot: int = 0,
    ) -> None:
        if applied_slot < 0:
            raise ValueError(f"applied_slot must be >= 0, got applied_slot={applied_slot}")
        self.config = config
        self.node_id = config.node_id
        self._choose = choose
        self._flags = config.flags
        self._timing = config.timing
        self._is_log = config.is_log_replica
        self._log_kind = frozenset(config.log_members + config.log_spares)
        self._bit: dict[int, int] = {m: 1 << i for i, m in enumerate(config.universe)}
        self._durable = replay(records)
        self._recovered = bool(records)
        self._promised: Ballot = self._durable.promised
        self._max_round = self._promised.round
        self.role = Role.FOLLOWER
        self.leader_ballot: Ballot | None = None
        self.commit_index = max(
            self._durable.commit_hint, self._durable.snapshot_slot, applied_slot
        )
        self.applied_index = applied_slot
        self._last_heard_us: int | None = None
        # Lease grants: the latest grant (to _grant_ballot) and the end of every earlier grant
        # to other ballots, which a Release of the latest must not forget.
        self._grant_until_us = 0
        self._grant_ballot: Ballot | None = None
        self._earlier_grants_until_us = 0
        self._catch_up_from = 0
        self._catch_up_retry_us = 0
        self._catch_up_target = -1
        self._now = 0
        self._out: list[Effect] = []
        self._pending_records: list[bytes] = []
        self._init_configs()
        self._assembly: Assembly | None = None  # a snapshot being streamed in
        self._peers: tuple[int, ...] = ()
        self._peers_key: int | None = None  # committed configuration slot they were made for
        self._refresh_peers()

    def _refresh_peers(self) -> None:
        """Peers = voters of the committed and the current configuration, but this node.

        Recomputed only when the configuration entries changed (`_rescan_configs` clears
        ``_peers_key``) or the commit index moved past a configuration entry.
        """
        if not self._cfg_slots:
            if self._peers_key is None:
                self._peers = tuple(v for v in self._current.voters if v != self.node_id)
                self._peers_key = -1
            return
        key = self._config_command_at(self.commit_index)[0]
        if key == self._peers_key:
            return
        self._peers_key = key
        voters = set(self.committed_membership.voters) | set(self.membership.voters)
        voters.discard(self.node_id)
        self._peers = tuple(sorted(voters))

    # ------------------------------------------------------------------ inspection
    @property
    def promised(self) -> Ballot:
        """The highest ballot promised (persisted too, except under no-persist-promise)."""
        return self._promised

    @property
    def accepted(self) -> Mapping[int, Entry]:
        """Durably accepted entries still in the log (slots > the snapshot slot)."""
        return MappingProxyType(self._durable.accepted)

    @property
    def snapshot_slot(self) -> int:
        """The slot of the latest snapshot this replica holds (0: none)."""
        return self._durable.snapshot_slot

    # ------------------------------------------------------------------ effects plumbing
    def _persist(self, record: DurableRecord) -> None:
        """Queue ``record`` for the next Persist and apply it to the durable state now."""
        self._pending_records.append(encode_record(record))
        self._durable.apply(record)
        if isinstance(record, AcceptRecord):
            if is_config(record.command) or record.slot in self._cfg_slots:
                self._rescan_configs()
        elif isinstance(record, (SnapshotRecord, CheckpointRecord, ConfigRecord)):
            self._rescan_configs()  # a ConfigRecord changes the base configuration

    def _persist_accept(self, slot: int, ballot: Ballot, command: bytes) -> None:
        """`_persist` of ``AcceptRecord(slot, ballot, command)``, without building it (hot)."""
        self._pending_records.append(encode_accept(slot, ballot, command))
        d = self._durable
        if slot > d.snapshot_slot:
            d.accepted[slot] = Entry(ballot, command)
        if command.startswith(CONFIG_MAGIC) or slot in self._cfg_slots:
            self._rescan_configs()

    def _flush(self) -> None:
        """Emit one Persist for the queued records (with a commit hint if it advanced)."""
        pending = self._pending_records
        if not pending:
            return
        d = self._durable
        if self.commit_index > d.commit_hint:  # _persist(CommitRecord(commit_index)), inlined
            pending.append(encode_commit(self.commit_index))
            d.commit_hint = self.commit_index
        self._out.append(Persist(records=tuple(pending)))
        self._pending_records = []

    def _send(self, dst: int, msg: object) -> None:
        """The one exit for messages: queued durable records are persisted before it leaves."""
        if self._pending_records:
            self._flush()
        self._out.append(Send(dst=dst, msg=msg))

    def _promise(self, ballot: Ballot) -> None:
        """Promise ``ballot`` (>= promised) durably, unless the variant skips the Persist."""
        if ballot > self._promised:
            self._promised = ballot
            if ballot.round > self._max_round:
                self._max_round = ballot.round
            if self._flags.persist_promise:
                self._persist(PromiseRecord(ballot))

    def _draw_timeout(self) -> int:
        """Return a fresh randomized election timeout (0 jitter is the nominal choice)."""
        t = self._timing
        return t.election_timeout_us + self._choose("election.jitter", t.election_jitter_us + 1)

    def _grant(self, ballot: Ballot) -> None:
        """Grant the leader of ``ballot`` a lease of L from now (this node's clock)."""
        if ballot != self._grant_ballot:
            if self._grant_until_us > self._earlier_grants_until_us:
                self._earlier_grants_until_us = self._grant_until_us
            self._grant_ballot = ballot
        self._grant_until_us = self._now + self._timing.lease_duration_us

    def _release(self, ballot: Ballot) -> None:
        """The leader of ``ballot`` gave its lease up: forget that grant, keep earlier ones."""
        if self._grant_ballot == ballot:
            self._grant_until_us = min(self._grant_until_us, self._now)

    def _grant_remaining_us(self, to: Ballot) -> int:
        """How long the leases this node granted (to anyone but ``to``) still run."""
        until = self._earlier_grants_until_us
        if self._grant_ballot != to:
            until = max(until, self._grant_until_us)
        return max(0, until - self._now)

    def _hears_leader(self) -> bool:
        if self.role is Role.LEADER:
            return True
        heard = self._last_heard_us
        return (
            self.leader_ballot is not None
            and heard is not None
            and self._now - heard < self._timing.election_timeout_us
        )

    def _entries_from(self, from_slot: int) -> tuple[SlotEntry, ...]:
        acc = self._durable.accepted
        return tuple(
            SlotEntry(slot=s, ballot=acc[s].ballot, command=acc[s].command)
            for s in sorted(s for s in acc if s >= from_slot)
        )

    def _own_promise(self, ballot: Ballot, from_slot: int) -> Promise:
        """The Promise this node gives ``ballot`` (call after promising it)."""
        d = self._durable
        with_snapshot = d.snapshot_slot >= from_slot
        config_slot, config = self._config_command_at(d.snapshot_slot)
        return Promise(
            ballot=ballot,
            from_slot=from_slot,
            entries=self._entries_from(from_slot),
            commit_index=self.commit_index,
            lease_remaining_us=self._grant_remaining_us(ballot),
            snapshot_slot=d.snapshot_slot if with_snapshot else 0,
            snapshot=d.snapshot if with_snapshot else b"",
            config_slot=config_slot if with_snapshot else 0,
            config=config if with_snapshot else b"",
        )

    # ------------------------------------------------------------------ hooks for roles
    def _on_follow(self, ballot: Ballot) -> None:
        """Called when an Accept from the leader of ``ballot`` was accepted."""

    def _on_promised(self) -> None:
        """Called after this node promised a Prepare from another node."""

    # ------------------------------------------------------------------ acceptor handlers
    def _on_prepare(self, src: int, m: Prepare) -> None:
        if m.ballot < self._promised:
            probe("acceptor.nack")
            self._send(src, Nack(ballot=self._promised, rejected=m.ballot))
            return
        if m.ballot > self._promised:
            self.leader_ballot = None
        self._promise(m.ballot)
        self._on_promised()
        self._send(src, self._own_promise(m.ballot, m.from_slot))

    def _on_accept(self, src: int, m: Accept) -> None:
        ballot = m.ballot
        if ballot < self._promised:
            probe("acceptor.nack")
            self._send(src, Nack(ballot=self._promised, rejected=ballot))
            return
        if ballot > self._promised:
            self._promise(ballot)
        self.leader_ballot = ballot
        self._last_heard_us = self._now
        self._grant(ballot)
        self._on_follow(ballot)
        acc = self._durable.accepted
        snap = self._durable.snapshot_slot
        commit = self.commit_index
        slot = m.first_slot
        stale = False
        for command in m.commands:
            if slot > snap:
                old = acc.get(slot)
                if old is None or old.ballot != ballot:
                    if slot <= commit and old is not None and old.command != command:
                        stale = True  # a value known chosen is never changed (S15)
                    else:
                        self._persist_accept(slot, ballot, command)
            slot += 1
        if m.commit_index > self.commit_index:
            self._learn_commit(src, ballot, m.commit_index)
        if self._is_log and m.truncate_to > self._durable.snapshot_slot:
            self._compact_to(min(m.truncate_to, self.commit_index), b"")
        if stale:
            # Cannot happen while accepted <= promised holds: any ballot >= the promise
            # proposes the chosen value. Never acknowledge a value this node knows lost.
            logger.error("node=%d refused Accept %r: it differs from a chosen slot <= %d",
                         self.node_id, ballot, commit)
            return
        reply = Accepted(
            ballot=ballot, first_slot=m.first_slot, last_slot=slot - 1, stamp_us=m.stamp_us,
            applied_index=self.applied_index,
        )
        self._send(src, reply)

    def _learn_commit(self, src: int, ballot: Ballot, leader_commit: int) -> None:
        """Advance commit_index over entries the leader of ``ballot`` reported chosen.

        Only entries accepted under that very ballot are known to be the chosen values; an
        entry from an older ballot, or a gap, stops the advance and asks for catch-up.
        """
        if leader_commit <= self.commit_index:
            return
        acc = self._durable.accepted
        s = self.commit_index + 1
        while s <= leader_commit:
            e = acc.get(s)
            if e is None or e.ballot != ballot:
                break
            s += 1
        self.commit_index = s - 1
        if self.commit_index < leader_commit:
            probe("acceptor.commit-gap")
            self._request_catch_up(src, self.commit_index + 1)

    def _on_release(self, src: int, m: Release) -> None:
        probe("acceptor.lease-released")
        self._release(m.ballot)
        if self.leader_ballot == m.ballot and self.role is Role.FOLLOWER:
            self._last_heard_us = None

    def _on_probe(self, src: int, m: Probe) -> None:
        reply = ProbeReply(ballot=self._promised, probe_id=m.probe_id, hears=self._hears_leader())
        self._send(src, reply)

    def _install(self, slot: int, snapshot: bytes, config_slot: int, config: bytes) -> None:
        """Adopt a peer's snapshot at ``slot`` (chosen) and the configuration in force there."""
        self._persist(SnapshotRecord(slot, b"" if self._is_log else snapshot))
        if config:
            self._persist(ConfigRecord(config_slot, config))
        self.commit_index = slot

    def _compact_to(self, slot: int, snapshot: bytes) -> None:
        """Drop entries <= ``slot`` (chosen), keeping the configuration; persist a checkpoint."""
        d = self._durable
        if slot <= d.snapshot_slot:
            return
        probe("compaction")
        config_slot, config = self._config_command_at(slot)
        d.snapshot_slot = slot
        d.snapshot = snapshot
        d.config_slot, d.config = config_slot, config
        d.commit_hint = max(d.commit_hint, self.commit_index)
        for s in [s for s in d.accepted if s <= slot]:
            del d.accepted[s]
        self._rescan_configs()
        self._pending_records = []  # the checkpoint below describes them too
        records = tuple(encode_record(r) for r in d.checkpoint_records())
        self._out.append(Persist(records=records, checkpoint=True))

    # ------------------------------------------------------------------ learner
    def _apply_committed(self) -> None:
        """Emit InstallSnapshot/Apply for everything committed, in slot order.

        Configuration entries are applied as no-ops (``command=b""``). A log replica applies
        nothing.
        """
        if self.applied_index >= self.commit_index or self._is_log:
            return
        self._flush()  # what we learned is durable before the state machine uses it
        d = self._durable
        if self.applied_index < d.snapshot_slot:
            self._out.append(InstallSnapshot(slot=d.snapshot_slot, snapshot=d.snapshot))
            self.applied_index = d.snapshot_slot
        acc = d.accepted
        out = self._out
        for s in range(self.applied_index + 1, self.commit_index + 1):
            command = acc[s].command
            out.append(Apply(slot=s, command=b"" if command.startswith(CONFIG_MAGIC) else command))
        self.applied_index = self.commit_index
