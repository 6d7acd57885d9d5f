"""Durable records: what a replica asks its host to persist, their encoding, and replay.

Each record is one WAL payload: a kind byte, then fixed big-endian fields, then at most one
variable-length bytes field (the rest of the record). Replaying a node's records in order
gives back its `DurableState` (S3: promises never go backwards, across restarts too).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

import attrs

from consensus.ballot import Ballot, Entry

_BALLOT = struct.Struct(">QI")
_SLOT = struct.Struct(">Q")
_ACCEPT = struct.Struct(">QQI")
_CHECKPOINT = struct.Struct(">QIQQ")


@attrs.frozen
class PromiseRecord:
    """The node promised ``ballot`` (never to accept anything below it)."""

    ballot: Ballot


@attrs.frozen
class AcceptRecord:
    """The node accepted ``command`` at ``slot`` under ``ballot``."""

    slot: int
    ballot: Ballot
    command: bytes


@attrs.frozen
class CommitRecord:
    """Every slot <= ``slot`` is chosen, and the node's entries there are the chosen values."""

    slot: int


@attrs.frozen
class SnapshotRecord:
    """The node installed a state machine snapshot taken at ``slot``; entries <= slot dropped."""

    slot: int
    snapshot: bytes


@attrs.frozen
class CheckpointRecord:
    """Start of a checkpoint: with the AcceptRecords after it, the whole durable state.

    Replay discards everything before it.
    """

    promised: Ballot
    commit_index: int
    snapshot_slot: int
    snapshot: bytes


@attrs.frozen
class ConfigRecord:
    """The configuration in force at ``slot`` (a `consensus.membership` command).

    Written when entries up to ``slot`` are dropped (compaction, an installed snapshot), so the
    configuration their configuration entries set is not lost with them.
    """

    slot: int
    config: bytes


DurableRecord = (
    PromiseRecord | AcceptRecord | CommitRecord | SnapshotRecord | CheckpointRecord | ConfigRecord
)


def encode_accept(slot: int, ballot: Ballot, command: bytes) -> bytes:
    """Return the WAL payload of ``AcceptRecord(slot, ballot, command)`` (without building it)."""
    return b"A" + _ACCEPT.pack(slot, ballot.round, ballot.node) + command


def encode_commit(slot: int) -> bytes:
    """Return the WAL payload of ``CommitRecord(slot)`` (without building it)."""
    return b"C" + _SLOT.pack(slot)


def encode_record(record: DurableRecord) -> bytes:
    """Return the WAL payload of ``record``."""
    if isinstance(record, AcceptRecord):
        return encode_accept(record.slot, record.ballot, record.command)
    if isinstance(record, PromiseRecord):
        return b"P" + _BALLOT.pack(record.ballot.round, record.ballot.node)
    if isinstance(record, CommitRecord):
        return encode_commit(record.slot)
    if isinstance(record, SnapshotRecord):
        return b"S" + _SLOT.pack(record.slot) + record.snapshot
    if isinstance(record, ConfigRecord):
        return b"M" + _SLOT.pack(record.slot) + record.config
    p = record.promised
    head = _CHECKPOINT.pack(p.round, p.node, record.commit_index, record.snapshot_slot)
    return b"K" + head + record.snapshot


def _fixed(data: bytes, layout: struct.Struct, kind: str) -> tuple[int, ...]:
    if len(data) < 1 + layout.size:
        raise ValueError(f"{kind} record too short: len={len(data)} need={1 + layout.size}")
    return layout.unpack_from(data, 1)


def decode_record(data: bytes) -> DurableRecord:
    """Return the record encoded in ``data``.

    Raises ValueError if ``data`` is not a record this module wrote (unknown kind, too short,
    or trailing bytes after a fixed-size record).
    """
    if not data:
        raise ValueError("empty record")
    kind = data[:1]
    if kind == b"A":
        slot, rnd, node = _fixed(data, _ACCEPT, "accept")
        return AcceptRecord(slot, Ballot(rnd, node), bytes(data[1 + _ACCEPT.size :]))
    if kind == b"P":
        if len(data) != 1 + _BALLOT.size:
            raise ValueError(f"promise record has wrong length: len={len(data)}")
        rnd, node = _fixed(data, _BALLOT, "promise")
        return PromiseRecord(Ballot(rnd, node))
    if kind == b"C":
        if len(data) != 1 + _SLOT.size:
            raise ValueError(f"commit record has wrong length: len={len(data)}")
        return CommitRecord(_fixed(data, _SLOT, "commit")[0])
    if kind == b"S":
        (slot,) = _fixed(data, _SLOT, "snapshot")
        return SnapshotRecord(slot, bytes(data[1 + _SLOT.size :]))
    if kind == b"K":
        rnd, node, commit, snap_slot = _fixed(data, _CHECKPOINT, "checkpoint")
        return CheckpointRecord(
            Ballot(rnd, node), commit, snap_slot, bytes(data[1 + _CHECKPOINT.size :])
        )
    if kind == b"M":
        (slot,) = _fixed(data, _SLOT, "config")
        return ConfigRecord(slot, bytes(data[1 + _SLOT.size :]))
    raise ValueError(f"unknown record kind={kind!r}")


@attrs.define
class DurableState:
    """Everything a replica keeps across a crash (HardState in etcd's terms).

    ``accepted`` holds only slots > ``snapshot_slot``. ``commit_hint`` is a commit index the
    node once knew (slots <= it chosen, with the node's entries there); it may lag.
    ``config`` (b"": the initial one) is the configuration command in force at ``config_slot``,
    kept for configuration entries dropped with compacted slots.
    """

    promised: Ballot = Ballot.ZERO
    accepted: dict[int, Entry] = attrs.Factory(dict)
    commit_hint: int = 0
    snapshot_slot: int = 0
    snapshot: bytes = b""
    config_slot: int = 0
    config: bytes = b""

    def apply(self, record: DurableRecord) -> None:
        """Update this state with one record, exactly as replay does."""
        if isinstance(record, AcceptRecord):
            if record.slot > self.snapshot_slot:
                self.accepted[record.slot] = Entry(record.ballot, record.command)
        elif isinstance(record, PromiseRecord):
            self.promised = max(self.promised, record.ballot)
        elif isinstance(record, CommitRecord):
            self.commit_hint = max(self.commit_hint, record.slot)
        elif isinstance(record, SnapshotRecord):
            if record.slot > self.snapshot_slot:
                self.snapshot_slot = record.slot
                self.snapshot = record.snapshot
                self.commit_hint = max(self.commit_hint, record.slot)
                for slot in [s for s in self.accepted if s <= record.slot]:
                    del self.accepted[slot]
        elif isinstance(record, ConfigRecord):
            if record.slot >= self.config_slot:
                self.config_slot = record.slot
                self.config = record.config
        else:
            self.promised = record.promised
            self.accepted = {}
            self.commit_hint = record.commit_index
            self.snapshot_slot = record.snapshot_slot
            self.snapshot = record.snapshot
            self.config_slot = 0
            self.config = b""

    def checkpoint_records(self) -> list[DurableRecord]:
        """Return records that alone rebuild this state (a CheckpointRecord first)."""
        out: list[DurableRecord] = [
            CheckpointRecord(self.promised, self.commit_hint, self.snapshot_slot, self.snapshot)
        ]
        if self.config:
            out.append(ConfigRecord(self.config_slot, self.config))
        for slot in sorted(self.accepted):
            e = self.accepted[slot]
            out.append(AcceptRecord(slot, e.ballot, e.command))
        return out


def replay(records: Iterable[bytes]) -> DurableState:
    """Return the durable state the encoded ``records`` describe, in order.

    Raises ValueError on a record that does not decode.
    """
    state = DurableState()
    for data in records:
        state.apply(decode_record(data))
    return state
