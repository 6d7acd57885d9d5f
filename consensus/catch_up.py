"""Catch-up: a lagging replica asks a peer for the chosen entries it misses, or for a
snapshot plus the entries after it (streamed in checksummed chunks when large, see
`consensus.snapshot_stream`). A mixin of `consensus.acceptor.AcceptorCore`, which supplies the
state and the effect plumbing declared here.
"""

from __future__ import annotations

import logging

from consensus.ballot import Ballot
from consensus.config import Timing
from consensus.members import ConfigLog
from consensus.messages import CatchUpReply, CatchUpRequest, SlotEntry
from consensus.probes import probe
from consensus.records import DurableRecord
from consensus.roles import Role
from consensus.snapshot_stream import Assembly, cut_chunk

logger = logging.getLogger(__name__)

CATCH_UP_MAX_ENTRIES = 256
"""Most entries one CatchUpReply carries; the receiver asks again for the rest."""


class CatchUpMixin(ConfigLog):
    """Asking for, serving and taking catch-up (see the module docstring)."""

    role: Role
    _peers: tuple[int, ...]
    _now: int
    _timing: Timing
    _promised: Ballot
    _is_log: bool
    _assembly: Assembly | None
    _catch_up_from: int
    _catch_up_retry_us: int
    _catch_up_target: int

    def _send(self, dst: int, msg: object) -> None:
        raise NotImplementedError  # AcceptorCore defines it

    def _persist(self, record: DurableRecord) -> None:
        raise NotImplementedError  # AcceptorCore defines it

    def _persist_accept(self, slot: int, ballot: Ballot, command: bytes) -> None:
        raise NotImplementedError  # AcceptorCore defines it

    def _install(self, slot: int, snapshot: bytes, config_slot: int, config: bytes) -> None:
        raise NotImplementedError  # AcceptorCore defines it

    def _promise(self, ballot: Ballot) -> None:
        raise NotImplementedError  # AcceptorCore defines it

    def _request_catch_up(self, preferred: int, from_slot: int) -> None:
        """Ask a peer for chosen entries from ``from_slot``; retry others, one at a time."""
        if not self._peers:
            return
        if from_slot == self._catch_up_from and self._now < self._catch_up_retry_us:
            return
        if from_slot == self._catch_up_from and self._catch_up_target in self._peers:
            i = self._peers.index(self._catch_up_target)
            target = self._peers[(i + 1) % len(self._peers)]
        else:
            target = preferred if preferred in self._peers else self._peers[0]
        probe("catch-up.requested")
        self._catch_up_from = from_slot
        self._catch_up_target = target
        self._catch_up_retry_us = self._now + 4 * self._timing.heartbeat_interval_us
        asm = self._assembly
        if asm is not None and asm.source != target:
            asm = self._assembly = None  # the stream stalled: start over from the new peer
        self._send(target, CatchUpRequest(ballot=self._promised, from_slot=from_slot,
                                          log_only=self._is_log,
                                          snapshot_offset=0 if asm is None else len(asm.data)))

    def _on_catch_up_request(self, src: int, m: CatchUpRequest) -> None:
        d = self._durable
        snap_slot, snapshot, start = 0, b"", m.from_slot
        if m.from_slot <= d.snapshot_slot:
            if self._is_log and not m.log_only:
                return  # no state machine to give; the asker tries another peer
            snapshot = b"" if m.log_only else d.snapshot
            snap_slot, start = d.snapshot_slot, d.snapshot_slot + 1
            if len(snapshot) > self.config.snapshot_chunk_bytes:
                self._send_chunk(src, m.snapshot_offset, snapshot, start)
                return
        entries: list[SlotEntry] = []
        acc = d.accepted
        s = start
        while s <= self.commit_index and len(entries) < CATCH_UP_MAX_ENTRIES:
            e = acc.get(s)
            if e is None:
                break
            entries.append(SlotEntry(slot=s, ballot=e.ballot, command=e.command))
            s += 1
        if snap_slot or entries:
            config_slot, config = self._config_command_at(snap_slot) if snap_slot else (0, b"")
            reply = CatchUpReply(
                ballot=self._promised,
                snapshot_slot=snap_slot,
                snapshot=snapshot,
                entries=tuple(entries),
                config_slot=config_slot,
                config=config,
            )
            probe("catch-up.served")
            self._send(src, reply)

    def _send_chunk(self, dst: int, offset: int, snapshot: bytes, start: int) -> None:
        """Stream one chunk of this node's snapshot; the last one brings the entries after it."""
        probe("catch-up.snapshot-chunk")
        d = self._durable
        chunk, checksum = cut_chunk(snapshot, offset, self.config.snapshot_chunk_bytes)
        offset = offset if 0 <= offset < len(snapshot) else 0
        entries: list[SlotEntry] = []
        if offset + len(chunk) == len(snapshot):
            acc, s = d.accepted, start
            while s <= self.commit_index and len(entries) < CATCH_UP_MAX_ENTRIES:
                e = acc.get(s)
                if e is None:
                    break
                entries.append(SlotEntry(slot=s, ballot=e.ballot, command=e.command))
                s += 1
        config_slot, config = self._config_command_at(d.snapshot_slot)
        self._send(dst, CatchUpReply(
            ballot=self._promised, snapshot_slot=d.snapshot_slot, snapshot=chunk,
            entries=tuple(entries), config_slot=config_slot, config=config,
            snapshot_offset=offset, snapshot_total=len(snapshot), snapshot_checksum=checksum,
        ))

    def _take_chunk(self, src: int, m: CatchUpReply) -> bytes | None:
        """Add a streamed chunk; return the whole snapshot once complete, else ask for more."""
        asm = self._assembly
        if asm is not None and asm.source != src:
            # Another peer's stream (asked before a retry moved on): answering it too would
            # run two streams whose snapshots, taken at different slots, restart each other.
            return None
        if asm is None or asm.slot != m.snapshot_slot or asm.total != m.snapshot_total:
            asm = self._assembly = Assembly(m.snapshot_slot, m.snapshot_total, source=src)
        if not asm.add(m.snapshot_offset, m.snapshot, m.snapshot_checksum):
            logger.warning("node=%d dropped snapshot chunk from src=%d offset=%d (checksum or "
                           "order)", self.node_id, src, m.snapshot_offset)
        if asm.complete:
            self._assembly = None
            return bytes(asm.data)
        self._catch_up_retry_us = self._now + 4 * self._timing.heartbeat_interval_us
        self._send(src, CatchUpRequest(ballot=self._promised, from_slot=self.commit_index + 1,
                                       log_only=self._is_log, snapshot_offset=len(asm.data)))
        return None

    def _on_catch_up_reply(self, src: int, m: CatchUpReply) -> None:
        if self.role is Role.LEADER:
            return  # a leader's log is complete up to its commit index
        if m.snapshot_slot > self.commit_index:
            snapshot = self._take_chunk(src, m) if m.snapshot_total else m.snapshot
            if snapshot is None:
                return  # more chunks to come
            probe("catch-up.snapshot-installed")
            self._install(m.snapshot_slot, snapshot, m.config_slot, m.config)
        acc = self._durable.accepted
        taken = False
        for e in m.entries:
            if e.slot <= self.commit_index:
                continue
            if e.slot != self.commit_index + 1:
                break
            old = acc.get(e.slot)
            # An entry at a higher ballot than the chosen one holds the chosen value too.
            if old is None or old.ballot < e.ballot:
                # Keep accepted <= promised (S15): promise the entry's ballot first, so a late
                # Accept of an older ballot is refused instead of rewriting a chosen slot.
                self._promise(e.ballot)
                self._persist_accept(e.slot, e.ballot, e.command)
            self.commit_index = e.slot
            taken = True
        if taken:
            probe("catch-up.entries-applied")
        self._catch_up_retry_us = 0
