"""On-disk formats of the B-tree: checksummed pages and the two-slot superblock.

A page is ``header | body``. The header (28 bytes, little endian) holds the magic ``PXBP``,
the page kind (leaf, internal, meta), the entry count, a page id unique within the tree's
history, the body length and a CRC32C over the header (crc field excluded) and the body.

A parent does not only know where its child lives: it stores a `PageRef` (offset, length,
page id, CRC32C) for each child, and the superblock stores one for the root and the meta
page. So a page that is intact but not the one expected (a misdirected or lost write, a stale
page) is detected like a flipped bit.

The superblock file holds two 512-byte slots; each checkpoint writes the slot that does not
hold the checkpoint it replaces, so a torn superblock write leaves the previous one intact.
The valid slot with the highest sequence number wins.
"""

from __future__ import annotations

import struct
from itertools import accumulate
from typing import NamedTuple

import attrs
import crc32c

from storage.errors import CorruptionError

PAGE_MAGIC = b"PXBP"
SUPER_MAGIC = b"PXSB"
FORMAT_VERSION = 1

KIND_LEAF = 1
KIND_INTERNAL = 2
KIND_META = 3

SLOT_SIZE_BYTES = 512

# magic, kind, 3 pad bytes, count, page_id, body_len; then the crc.
_HEAD = struct.Struct("<4sBxxxIQI")
_CRC = struct.Struct("<I")
HEADER_SIZE_BYTES = _HEAD.size + _CRC.size
_REF = struct.Struct("<QIQI")
# magic, version, seq, gen, lsn, root ref, meta ref, count, page_count, next_page_id,
# live_bytes, fanout; then the crc.
_SUPER = struct.Struct("<4sIQQq" + "QIQI" * 2 + "QQQQI")


class PageRef(NamedTuple):
    """Where a page lives and what it must be: byte offset, length, page id, CRC32C."""

    offset: int
    length: int
    page_id: int
    crc: int


@attrs.frozen(kw_only=True)
class Superblock:
    """One superblock slot: names the checkpoint's page file, root and meta pages.

    ``seq`` orders checkpoints (higher is newer); ``gen`` names the page file;
    ``lsn`` is the checkpoint's LSN (0: none); ``count`` the number of keys;
    ``page_count`` the number of tree pages (meta excluded); ``next_page_id`` the id the
    next written page gets; ``live_bytes`` the bytes of the page file this checkpoint uses.
    """

    seq: int
    gen: int
    lsn: int
    root: PageRef
    meta: PageRef
    count: int
    page_count: int
    next_page_id: int
    live_bytes: int
    fanout: int

    def encode(self) -> bytes:
        """Return the slot bytes (exactly `SLOT_SIZE_BYTES`)."""
        body = _SUPER.pack(
            SUPER_MAGIC, FORMAT_VERSION, self.seq, self.gen, self.lsn,
            *self.root, *self.meta,
            self.count, self.page_count, self.next_page_id, self.live_bytes, self.fanout,
        )
        data = body + _CRC.pack(crc32c.crc32c(body))
        return data + bytes(SLOT_SIZE_BYTES - len(data))

    @classmethod
    def decode(cls, data: bytes) -> Superblock | None:
        """Return the slot's superblock, or None if it is short, torn or fails its checksum."""
        end = _SUPER.size
        if len(data) < end + _CRC.size:
            return None
        (crc,) = _CRC.unpack_from(data, end)
        if crc32c.crc32c(data[:end]) != crc:
            return None
        f = _SUPER.unpack_from(data, 0)
        if f[0] != SUPER_MAGIC or f[1] != FORMAT_VERSION:
            return None
        return cls(
            seq=f[2], gen=f[3], lsn=f[4], root=PageRef(*f[5:9]), meta=PageRef(*f[9:13]),
            count=f[13], page_count=f[14], next_page_id=f[15], live_bytes=f[16], fanout=f[17],
        )


def encode_page(kind: int, count: int, page_id: int, body: bytes) -> tuple[bytes, int]:
    """Return ``(page bytes, crc)`` for a page of ``kind`` with ``count`` entries."""
    head = _HEAD.pack(PAGE_MAGIC, kind, count, page_id, len(body))
    crc = crc32c.crc32c(body, crc32c.crc32c(head))
    return head + _CRC.pack(crc) + body, crc


def leaf_body(keys: list[bytes], vals: list[bytes]) -> bytes:
    """Return a leaf body: key lengths, value lengths (u32 each), keys, values."""
    n = len(keys)
    return b"".join((
        struct.pack(f"<{2 * n}I", *map(len, keys), *map(len, vals)),
        *keys,
        *vals,
    ))


def internal_body(keys: list[bytes], refs: list[PageRef]) -> bytes:
    """Return an internal body: key lengths, child refs (len(keys) + 1), keys."""
    n = len(keys)
    return b"".join((
        struct.pack(f"<{n}I", *map(len, keys)),
        struct.pack("<" + "QIQI" * (n + 1), *(x for ref in refs for x in ref)),
        *keys,
    ))


def read_page(
    data: bytes, ref: PageRef, kinds: tuple[int, ...], file: str
) -> tuple[int, int, bytes]:
    """Check ``data`` (read at ``ref``) is the page ``ref`` names; return ``(kind, count, body)``.

    Raises `CorruptionError` (naming ``file`` and the page offset) on a short read, wrong
    magic, kind, id or length, or a checksum mismatch.
    """
    if len(data) != ref.length or len(data) < HEADER_SIZE_BYTES:
        raise CorruptionError(
            f"btree page is short: want_bytes={ref.length} got_bytes={len(data)}",
            file=file, offset=ref.offset,
        )
    magic, got_kind, count, page_id, body_len = _HEAD.unpack_from(data, 0)
    (crc,) = _CRC.unpack_from(data, _HEAD.size)
    if magic != PAGE_MAGIC:
        raise CorruptionError(
            f"btree page has wrong magic: magic={magic!r}", file=file, offset=ref.offset
        )
    actual = crc32c.crc32c(data[HEADER_SIZE_BYTES:], crc32c.crc32c(data[: _HEAD.size]))
    if actual != crc or crc != ref.crc:
        raise CorruptionError(
            f"btree page fails its checksum: stored={crc:#x} computed={actual:#x} "
            f"expected={ref.crc:#x}",
            file=file, offset=ref.offset,
        )
    body_ok = body_len == ref.length - HEADER_SIZE_BYTES
    if got_kind not in kinds or page_id != ref.page_id or not body_ok:
        raise CorruptionError(
            f"btree page is not the one referenced: kind={got_kind} want_kinds={kinds} "
            f"page_id={page_id} want_page_id={ref.page_id}",
            file=file, offset=ref.offset,
        )
    return got_kind, count, data[HEADER_SIZE_BYTES:]


def decode_leaf(
    count: int, body: bytes, ref: PageRef, file: str
) -> tuple[list[bytes], list[bytes]]:
    """Return ``(keys, values)`` of a checked leaf body; CorruptionError if malformed."""
    try:
        lens = struct.unpack_from(f"<{2 * count}I", body, 0)
    except struct.error:
        raise CorruptionError(
            f"btree leaf too short for its count: count={count}", file=file, offset=ref.offset
        ) from None
    offs = list(accumulate(lens, initial=8 * count))
    if offs[-1] != len(body):
        raise CorruptionError(
            f"btree leaf lengths do not add up: sum={offs[-1]} body_bytes={len(body)}",
            file=file, offset=ref.offset,
        )
    keys = [body[offs[j] : offs[j + 1]] for j in range(count)]
    vals = [body[offs[j] : offs[j + 1]] for j in range(count, 2 * count)]
    return keys, vals


def decode_internal(
    count: int, body: bytes, ref: PageRef, file: str
) -> tuple[list[bytes], list[PageRef]]:
    """Return ``(keys, child refs)`` of a checked internal body; CorruptionError if malformed."""
    try:
        lens = struct.unpack_from(f"<{count}I", body, 0)
        flat = struct.unpack_from("<" + "QIQI" * (count + 1), body, 4 * count)
    except struct.error:
        raise CorruptionError(
            f"btree internal page too short for its count: count={count}",
            file=file, offset=ref.offset,
        ) from None
    refs = [PageRef(*flat[j : j + 4]) for j in range(0, len(flat), 4)]
    offs = list(accumulate(lens, initial=4 * count + _REF.size * (count + 1)))
    if offs[-1] != len(body):
        raise CorruptionError(
            f"btree internal page lengths do not add up: sum={offs[-1]} body_bytes={len(body)}",
            file=file, offset=ref.offset,
        )
    keys = [body[offs[j] : offs[j + 1]] for j in range(count)]
    return keys, refs
