"""Durable Raft records: what a node writes to its WAL, and replaying them.

Each record is one type byte then big-endian fields:

- ``H`` hard state: term, voted_for (-1: none). Written before any vote or response that
  relies on it leaves.
- ``E`` entry: index, term, command. Appending at ``index`` drops every entry >= index first
  (so a conflicting suffix is replaced by the same record that replaces it).
- ``X`` truncate-from: drop every entry >= index (a conflict found in AppendEntries).
- ``S`` snapshot: index, term, config length, config, state machine bytes. Entries <= index
  are dropped (and later ones too if they disagree on index's term).
- ``K`` checkpoint: term, voted_for. Resets the state; the ``S`` and ``E`` records written
  with it in one ``Persist(checkpoint=True)`` rebuild the rest, so the host may drop every
  earlier WAL record.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

import attrs

from consensus.raft.log import RaftLog

_HARD = struct.Struct(">Qq")
_ENTRY = struct.Struct(">QQ")
_INDEX = struct.Struct(">Q")
_SNAP = struct.Struct(">QQI")


def encode_hard(term: int, voted_for: int | None) -> bytes:
    return b"H" + _HARD.pack(term, -1 if voted_for is None else voted_for)


def encode_checkpoint(term: int, voted_for: int | None) -> bytes:
    return b"K" + _HARD.pack(term, -1 if voted_for is None else voted_for)


def encode_entry(index: int, term: int, command: bytes) -> bytes:
    return b"E" + _ENTRY.pack(index, term) + command


def encode_truncate(index: int) -> bytes:
    return b"X" + _INDEX.pack(index)


def encode_snapshot(index: int, term: int, config: bytes, data: bytes) -> bytes:
    return b"S" + _SNAP.pack(index, term, len(config)) + config + data


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
        if kind in (b"H", b"K"):
            if len(data) != 1 + _HARD.size:
                raise ValueError(f"hard-state record has wrong length: len={len(data)}")
            term, vote = _HARD.unpack_from(data, 1)
            self.term, self.voted_for = term, None if vote < 0 else vote
            if kind == b"K":
                self.log = RaftLog()
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
        elif kind == b"S":
            if len(data) < 1 + _SNAP.size:
                raise ValueError(f"snapshot record too short: len={len(data)}")
            index, term, n = _SNAP.unpack_from(data, 1)
            body = data[1 + _SNAP.size:]
            if len(body) < n:
                raise ValueError(f"snapshot record config cut short: len={len(data)}")
            if index >= self.log.snap_index:
                self.log.compact(index, term, bytes(body[:n]), bytes(body[n:]))
        else:
            raise ValueError(f"unknown raft record kind={kind!r}")

    def checkpoint_records(self) -> tuple[bytes, ...]:
        """Records that alone rebuild this state (for ``Persist(checkpoint=True)``)."""
        log = self.log
        out = [encode_checkpoint(self.term, self.voted_for),
               encode_snapshot(log.snap_index, log.snap_term, log.snap_config, log.snapshot)]
        out.extend(encode_entry(i, t, c) for i, t, c in log.items())
        return tuple(out)


def replay(records: Iterable[bytes]) -> RaftDurable:
    """The durable state ``records`` describe, in order; ValueError on a bad record."""
    state = RaftDurable()
    for data in records:
        if not data:
            raise ValueError("empty raft record")
        state.apply(bytes(data))
    return state
