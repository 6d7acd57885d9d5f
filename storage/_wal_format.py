"""On-disk format of the write-ahead log: segment headers and records.

Segment file ``{name}-{first_lsn:016x}.wal`` starts with a 24-byte header::

    magic 8s "PAXLWAL\\0" | version u16 | reserved u16 (0) | first_lsn u64 | crc32c u32

(little-endian; the CRC covers the 20 bytes before it). Records follow back to back::

    crc u32 | length u32 | lsn u64 | header_crc u32 | payload (length bytes)

``header_crc`` is CRC32C of ``length`` and ``lsn``; ``crc`` is CRC32C of everything after
itself (``length``, ``lsn``, ``header_crc`` and the payload). The separate header CRC is what
lets recovery tell a torn write from corruption: a record whose header is intact but whose
payload runs past the end of the file is torn (the disk model tears writes by cutting them
short); a record whose header fails its CRC is corrupt, wherever it is.
"""

from __future__ import annotations

import re
import struct
from array import array

import crc32c

from storage.errors import CorruptionError

SEGMENT_MAGIC = b"PAXLWAL\x00"
FORMAT_VERSION = 1
_SEGMENT_HEADER = struct.Struct("<8sHHQI")
SEGMENT_HEADER_BYTES = _SEGMENT_HEADER.size  # 24
_RECORD_HEADER = struct.Struct("<IIQI")
RECORD_HEADER_BYTES = _RECORD_HEADER.size  # 20
_LENGTH_LSN = struct.Struct("<IQ")
_U32 = struct.Struct("<I")
MAX_PAYLOAD_BYTES = 0xFFFF_FFFF

_crc = crc32c.crc32c


def segment_file_name(name: str, first_lsn: int) -> str:
    """Return the file name of the segment of WAL ``name`` whose first record is ``first_lsn``."""
    return f"{name}-{first_lsn:016x}.wal"


def parse_segment_file_name(name: str, file: str) -> int | None:
    """Return the first LSN encoded in ``file``, or None if it is not a segment name of ``name``."""
    m = re.fullmatch(rf"{re.escape(name)}-([0-9a-f]{{16}})\.wal", file)
    return None if m is None else int(m.group(1), 16)


def encode_segment_header(first_lsn: int) -> bytes:
    """Return the 24-byte header of a segment starting at ``first_lsn``."""
    head = _SEGMENT_HEADER.pack(SEGMENT_MAGIC, FORMAT_VERSION, 0, first_lsn, 0)[:-4]
    return head + _U32.pack(_crc(head))


def check_segment_header(data: bytes, *, file: str, first_lsn: int) -> None:
    """Raise CorruptionError unless ``data`` is a valid header for a segment at ``first_lsn``."""
    if len(data) < SEGMENT_HEADER_BYTES:
        raise CorruptionError(
            f"segment header incomplete: size_bytes={len(data)}", file=file, offset=0
        )
    magic, version, _reserved, found_lsn, crc = _SEGMENT_HEADER.unpack_from(data, 0)
    if magic != SEGMENT_MAGIC:
        raise CorruptionError(f"wrong magic in WAL segment: magic={magic!r}", file=file, offset=0)
    if _crc(data[: SEGMENT_HEADER_BYTES - 4]) != crc:
        raise CorruptionError("segment header checksum mismatch", file=file, offset=0)
    if version != FORMAT_VERSION:
        raise CorruptionError(
            f"unsupported WAL format: version={version} supported={FORMAT_VERSION}",
            file=file,
            offset=0,
        )
    if found_lsn != first_lsn:
        raise CorruptionError(
            f"segment header disagrees with its name: header_lsn={found_lsn} "
            f"name_lsn={first_lsn}",
            file=file,
            offset=0,
        )


def encode_record(out: bytearray, lsn: int, payload: bytes) -> int:
    """Append the record ``(lsn, payload)`` to ``out``; return its size in bytes."""
    n = len(payload)
    length_lsn = _LENGTH_LSN.pack(n, lsn)
    header_crc = _crc(length_lsn)
    crc = _crc(payload, _crc(_U32.pack(header_crc), header_crc))
    out += _RECORD_HEADER.pack(crc, n, lsn, header_crc)
    out += payload
    return RECORD_HEADER_BYTES + n


def _header_error(data: bytes, off: int, lsn: int, *, file: str, base_offset: int) -> None:
    """Raise CorruptionError if the 20-byte record header at ``off`` is bad or out of order."""
    _rec_crc, _length, rec_lsn, header_crc = _RECORD_HEADER.unpack_from(data, off)
    if _crc(memoryview(data)[off + 4 : off + 16]) != header_crc:
        raise CorruptionError(
            f"record header checksum mismatch: expected_lsn={lsn}",
            file=file,
            offset=base_offset + off,
        )
    if rec_lsn != lsn:
        raise CorruptionError(
            f"record LSN out of sequence: expected_lsn={lsn} found_lsn={rec_lsn}",
            file=file,
            offset=base_offset + off,
        )


def scan_records(
    data: bytes, lsn: int, offsets: array[int], *, file: str, base_offset: int
) -> tuple[int, int]:
    """Verify the records in ``data``, starting with ``lsn``; append their file offsets.

    ``data`` holds file bytes from ``base_offset``. Scanning stops at the first record that
    is incomplete (fewer than 20 bytes left, or an intact header whose payload runs past the
    end of ``data``); the caller decides whether that is a chunk boundary or a torn tail.

    Returns ``(stop, next_lsn)``: ``stop`` is the position in ``data`` where scanning ended
    (``len(data)`` if every record was complete), ``next_lsn`` the LSN expected there.
    Raises CorruptionError (file and offset) on a header or payload checksum failure or an
    LSN out of sequence.

    Speed: a complete record costs one CRC (the record CRC covers the header fields too);
    the header CRC is checked only to explain a failure or to judge an incomplete record.
    """
    view = memoryview(data)
    end = len(data)
    off = 0
    unpack = _RECORD_HEADER.unpack_from
    crc = _crc
    add = offsets.append
    while end - off >= RECORD_HEADER_BYTES:
        rec_crc, length, rec_lsn, _header_crc = unpack(data, off)
        rec_end = off + RECORD_HEADER_BYTES + length
        if rec_end > end:
            _header_error(data, off, lsn, file=file, base_offset=base_offset)
            break  # an intact header whose payload is not all here
        if crc(view[off + 4 : rec_end]) != rec_crc:
            _header_error(data, off, lsn, file=file, base_offset=base_offset)
            raise CorruptionError(
                f"record checksum mismatch: lsn={lsn} length_bytes={length}",
                file=file,
                offset=base_offset + off,
            )
        if rec_lsn != lsn:
            _header_error(data, off, lsn, file=file, base_offset=base_offset)
        add(base_offset + off)
        off = rec_end
        lsn += 1
    return off, lsn


def decode_records(
    data: bytes, lsn: int, *, file: str, base_offset: int
) -> list[tuple[int, bytes]]:
    """Return every record in ``data`` (which must hold whole records), verified.

    Raises CorruptionError on any checksum failure, LSN out of sequence or a partial record
    (the index said whole records were there, so a short read means the file changed).
    """
    view = memoryview(data)
    end = len(data)
    off = 0
    out: list[tuple[int, bytes]] = []
    add = out.append
    unpack = _RECORD_HEADER.unpack_from
    crc = _crc
    while off < end:
        if end - off < RECORD_HEADER_BYTES:
            raise CorruptionError(
                f"record cut short: expected_lsn={lsn}", file=file, offset=base_offset + off
            )
        rec_crc, length, rec_lsn, _header_crc = unpack(data, off)
        rec_end = off + RECORD_HEADER_BYTES + length
        if rec_end > end or crc(view[off + 4 : rec_end]) != rec_crc or rec_lsn != lsn:
            _header_error(data, off, lsn, file=file, base_offset=base_offset)
            raise CorruptionError(
                f"record checksum mismatch or cut short: lsn={lsn} length_bytes={length}",
                file=file,
                offset=base_offset + off,
            )
        add((lsn, data[off + RECORD_HEADER_BYTES : rec_end]))
        off = rec_end
        lsn += 1
    return out
