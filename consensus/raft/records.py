"""Durable Raft records: what a node writes to its WAL, and replaying them.

Each record is one type byte then big-endian fields:

- ``H`` hard state: term, voted_for (-1: none). Written before any vote or response that
  relies on it leaves.
- ``E`` entry: index, term, command. Appending at ``index`` drops every entry >= index first
  (so a conflicting suffix is replaced by the same record that replaces it).
- ``X`` truncate-from: drop every entry >= index (a conflict found in AppendEntries).
- ``K`` checkpoint: the whole durable state in one record (term, voted_for, the snapshot
  point with its configuration and state machine bytes, then every entry as term, length,
  command). Written alone in a ``Persist(checkpoint=True)``, after which the host may drop
  every earlier WAL record. One record, not a group: a crash tearing a multi-record write
  keeps a prefix of it, and a reset followed by only part of the log would lose entries.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

import attrs

from consensus.raft.log import RaftLog

_HARD = struct.Struct(">Qq")
_ENTRY = struct.Struct(">QQ")
_INDEX = struct.Struct(">Q")
_CKPT = struct.Struct(">QqQQIQQ")  # term, vote, snap index, snap term, config len, data len, n
_CKPT_ENTRY = struct.Struct(">QI")


def encode_hard(term: int, voted_for: int | None) -> bytes:
    return b"H" + _HARD.pack(term, -1 if voted_for is None else voted_for)


def encode_checkpoint(term: int, voted_for: int | None, log: RaftLog) -> bytes:
    """One record holding the whole durable state (see the module doc)."""
    head = _CKPT.pack(term, -1 if voted_for is None else voted_for, log.snap_index,
                      log.snap_term, len(log.snap_config), len(log.snapshot), len(log.entries))
    parts = [b"K", head, log.snap_config, log.snapshot]
    for t, command in log.entries:
        parts.append(_CKPT_ENTRY.pack(t, len(command)))
        parts.append(command)
    return b"".join(parts)


def _decode_checkpoint(data: bytes) -> tuple[int, int | None, RaftLog]:
    if len(data) < 1 + _CKPT.size:
        raise ValueError(f"checkpoint record too short: len={len(data)}")
    term, vote, index, sterm, nc, nd, n = _CKPT.unpack_from(data, 1)
    off = 1 + _CKPT.size
    if off + nc + nd > len(data):
        raise ValueError(f"checkpoint record cut short: len={len(data)}")
    log = RaftLog(index, sterm, bytes(data[off:off + nc]), bytes(data[off + nc:off + nc + nd]))
    off += nc + nd
    for _ in range(n):
        if off + _CKPT_ENTRY.size > len(data):
            raise ValueError(f"checkpoint record cut short: len={len(data)}")
        t, size = _CKPT_ENTRY.unpack_from(data, off)
        off += _CKPT_ENTRY.size
        if off + size > len(data):
            raise ValueError(f"checkpoint record cut short: len={len(data)}")
        log.entries.append((t, bytes(data[off:off + size])))
        off += size
    if off != len(data):
        raise ValueError(f"checkpoint record has trailing bytes: len={len(data)}")
    return term, None if vote < 0 else vote, log


def encode_entry(index: int, term: int, command: bytes) -> bytes:
    return b"E" + _ENTRY.pack(index, term) + command


def encode_truncate(index: int) -> bytes:
    return b"X" + _INDEX.pack(index)


@attrs.define
class RaftDurable:
    """Everything a Raft node keeps across a crash."""

    term: int = 0
    voted_for: int | None = None
    log: RaftLog = attrs.Factory(RaftLog)

    def apply(self, data: bytes) -> None:
        """Update this state with one encoded record, exactly as replay does.

        Raises ValueError for a record this module did not write.
        """
        kind = data[:1]
        if kind == b"H":
            if len(data) != 1 + _HARD.size:
                raise ValueError(f"hard-state record has wrong length: len={len(data)}")
            term, vote = _HARD.unpack_from(data, 1)
            self.term, self.voted_for = term, None if vote < 0 else vote
        elif kind == b"K":
            self.term, self.voted_for, self.log = _decode_checkpoint(data)
        elif kind == b"E":
            if len(data) < 1 + _ENTRY.size:
                raise ValueError(f"entry record too short: len={len(data)}")
            index, term = _ENTRY.unpack_from(data, 1)
            log = self.log
            if index <= log.snap_index:
                return  # already inside the snapshot
            if index > log.last_index + 1:
                raise ValueError(f"entry record leaves a gap: index={index} last={log.last_index}")
            log.truncate_from(index)
            log.append(term, bytes(data[1 + _ENTRY.size:]))
        elif kind == b"X":
            if len(data) != 1 + _INDEX.size:
                raise ValueError(f"truncate record has wrong length: len={len(data)}")
            self.log.truncate_from(_INDEX.unpack_from(data, 1)[0])
        else:
            raise ValueError(f"unknown raft record kind={kind!r}")

    def checkpoint_records(self) -> tuple[bytes, ...]:
        """Records that alone rebuild this state (for ``Persist(checkpoint=True)``)."""
        return (encode_checkpoint(self.term, self.voted_for, self.log),)


def replay(records: Iterable[bytes]) -> RaftDurable:
    """The durable state ``records`` describe, in order; ValueError on a bad record.

    Replay starts at the last checkpoint: it holds the whole durable state, and the records
    before it may be a partial prefix (a WAL drops whole segments only, so a segment may keep
    entry records whose predecessors are gone).
    """
    records = list(records)
    start = 0
    for i, data in enumerate(records):
        if data[:1] == b"K":
            start = i
    state = RaftDurable()
    for data in records[start:]:
        if not data:
            raise ValueError("empty raft record")
        state.apply(bytes(data))
    return state
