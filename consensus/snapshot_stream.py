"""Streaming a state-machine snapshot to a lagging replica in chunks, each with a checksum.

A snapshot larger than `SNAPSHOT_CHUNK_BYTES` travels as a series of `CatchUpReply` messages,
one chunk each (``snapshot_offset``, ``snapshot_total``, ``snapshot_checksum``), each asked
for by the receiver with the offset it has reached. A chunk whose checksum does not match is
dropped (S14: corrupt bytes are never installed), and the receiver asks again. Only a complete,
verified snapshot is installed. Small snapshots go in one message as before (no checksum
fields), so existing traces do not change.
"""

from __future__ import annotations

import hashlib

import attrs

SNAPSHOT_CHUNK_BYTES = 1 << 20
"""Most snapshot bytes one CatchUpReply carries."""


def chunk_checksum(chunk: bytes) -> int:
    """Return the 64-bit checksum of one chunk (blake2b, so stable across processes)."""
    return int.from_bytes(hashlib.blake2b(chunk, digest_size=8).digest(), "big")


def cut_chunk(
    snapshot: bytes, offset: int, chunk_bytes: int = SNAPSHOT_CHUNK_BYTES
) -> tuple[bytes, int]:
    """Return (the chunk of ``snapshot`` starting at ``offset``, at most ``chunk_bytes``
    long, and its checksum).

    An offset past the end starts again at 0 (the asker lost track).
    """
    if not 0 <= offset < len(snapshot):
        offset = 0
    chunk = snapshot[offset : offset + chunk_bytes]
    return chunk, chunk_checksum(chunk)


@attrs.define
class Assembly:
    """The chunks of the snapshot taken at ``slot`` received so far, in order, from peer
    ``source`` (-1: not known). One stream at a time: chunks of two peers' snapshots (taken
    at different slots) would restart each other's assembly forever."""

    slot: int
    total: int
    data: bytearray = attrs.Factory(bytearray)
    source: int = -1

    @property
    def complete(self) -> bool:
        return len(self.data) == self.total

    def add(self, offset: int, chunk: bytes, checksum: int) -> bool:
        """Append ``chunk`` if it is the next one and intact; return whether it was taken."""
        if offset != len(self.data) or chunk_checksum(chunk) != checksum:
            return False
        if len(self.data) + len(chunk) > self.total:
            return False
        self.data.extend(chunk)
        return True
