"""Durable records: what a replica asks its host to persist, their encoding, and replay.

Each record is one WAL payload: a kind byte, then fixed big-endian fields, then at most one
variable-length bytes field (the rest of the record). Replaying a node's records in order
gives back its `DurableState` (S3: promises never go backwards, across restarts too).

A checkpoint is one record (the promise, the snapshot, the configuration and every accepted
entry above the snapshot), so the WAL's checksum makes it all-or-nothing: a crash inside its
fsync leaves it whole or drops it, never a prefix. A checkpoint split over several records
could be torn after its first one, and replay would then forget the configuration and every
accepted entry above the snapshot: votes the node already gave.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

import attrs

from consensus.ballot import Ballot, Entry

_BALLOT = struct.Struct(">QI")
_SLOT = struct.Struct(">Q")
_ACCEPT = struct.Struct(">QQI")
_CHECKPOINT = struct.Struct(">QIQQQII")  # promised, commit, snapshot slot, config slot, lengths
_ENTRY = struct.Struct(">QQII")  # slot, ballot round, ballot node, command length


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
    """The whole durable state in one record (see the module docstring).

    Replay discards everything before it. ``entries`` are the accepted entries above
    ``snapshot_slot`` as ``(slot, ballot, command)``, in slot order; ``config`` (b"": the
    initial one) is the configuration in force at ``config_slot``.
    """

    promised: Ballot
    commit_index: int
    snapshot_slot: int
    snapshot: bytes
    config_slot: int = 0
    config: bytes = b""
    entries: tuple[tuple[int, Ballot, bytes], ...] = ()


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
    return _encode_checkpoint(record)


def _encode_checkpoint(record: CheckpointRecord) -> bytes:
    p = record.promised
    parts = [
        b"K",
        _CHECKPOINT.pack(
            p.round, p.node, record.commit_index, record.snapshot_slot, record.config_slot,
            len(record.config), len(record.entries),
        ),
        record.config,
    ]
    for slot, ballot, command in record.entries:
        parts.append(_ENTRY.pack(slot, ballot.round, ballot.node, len(command)))
        parts.append(command)
    parts.append(record.snapshot)
    return b"".join(parts)


def _decode_checkpoint(data: bytes) -> CheckpointRecord:
    rnd, node, commit, snap_slot, config_slot, config_len, count = _fixed(
        data, _CHECKPOINT, "checkpoint"
    )
    at = 1 + _CHECKPOINT.size
    config = bytes(data[at : at + config_len])
    at += config_len
    entries = []
    for _ in range(count):
        if len(data) < at + _ENTRY.size:
            raise ValueError(f"checkpoint record too short for its entries: len={len(data)}")
        slot, e_rnd, e_node, length = _ENTRY.unpack_from(data, at)
        at += _ENTRY.size
        if len(data) < at + length:
            raise ValueError(f"checkpoint record too short for its entries: len={len(data)}")
        entries.append((slot, Ballot(e_rnd, e_node), bytes(data[at : at + length])))
        at += length
    if len(config) != config_len:
        raise ValueError(f"checkpoint record too short for its configuration: len={len(data)}")
    return CheckpointRecord(
        Ballot(rnd, node), commit, snap_slot, bytes(data[at:]), config_slot, config,
        tuple(entries),
    )


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
        return _decode_checkpoint(data)
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
            self.accepted = {slot: Entry(b, command) for slot, b, command in record.entries}
            self.commit_hint = record.commit_index
            self.snapshot_slot = record.snapshot_slot
            self.snapshot = record.snapshot
            self.config_slot = record.config_slot
            self.config = record.config

    def checkpoint_records(self) -> list[DurableRecord]:
        """Return records that alone rebuild this state: one `CheckpointRecord`."""
        entries = tuple((s, e.ballot, e.command) for s, e in sorted(self.accepted.items()))
        return [
            CheckpointRecord(
                self.promised, self.commit_hint, self.snapshot_slot, self.snapshot,
                self.config_slot, self.config, entries,
            )
        ]


def replay(records: Iterable[bytes]) -> DurableState:
    """Return the durable state the encoded ``records`` describe, in order.

    Raises ValueError on a record that does not decode.
    """
    state = DurableState()
    for data in records:
        state.apply(decode_record(data))
    return state
