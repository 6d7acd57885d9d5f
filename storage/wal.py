"""`WAL`: a segmented, append-only write-ahead log with group commit, on any `Disk`.

Records get contiguous LSNs 1, 2, 3, ... `WAL.append` only buffers; `WAL.sync` writes the
buffer with one write and makes it durable with one fsync (group commit). The log is split
into segment files (format in `storage._wal_format`) so `truncate_prefix` can drop old
records a whole file at a time.

Recovery (`WAL.open`) verifies every record. The only thing it repairs is a torn tail: an
incomplete record at the very end of the last segment, which it cuts off durably and counts
in `recovery_dropped_bytes`. Anything else wrong (a checksum failure even at the very end, a
bad segment header, an LSN gap or duplicate, a short non-last segment) raises
`storage.CorruptionError` naming file and offset; nothing is truncated or deleted then.

Fail-stop: once a disk operation fails (fsync above all: after a failed fsync the durable
contents are unknown), the WAL is poisoned and every later call raises
`storage.StorageClosedError` naming the original failure.
"""

from __future__ import annotations

import bisect
import logging
from array import array
from collections.abc import Iterator

import attrs

from storage._wal_format import (
    MAX_PAYLOAD_BYTES,
    RECORD_HEADER_BYTES,
    SEGMENT_HEADER_BYTES,
    check_segment_header,
    decode_records,
    encode_record,
    encode_segment_header,
    parse_segment_file_name,
    scan_records,
    segment_file_name,
)
from storage.disk import Disk, check_name
from storage.errors import CorruptionError, StorageClosedError

logger = logging.getLogger(__name__)

DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024
_READ_CHUNK_BYTES = 4 * 1024 * 1024
_ITER_CHUNK_BYTES = 1024 * 1024


@attrs.define
class _Segment:
    """In-memory index of one segment file.

    ``offsets[i]`` is the file offset of record ``first_lsn + i``. ``end`` is the logical
    end including bytes still buffered; ``written`` is how much of it is on the disk.
    """

    file: str
    first_lsn: int
    offsets: array[int]
    end: int
    written: int

    @property
    def last_lsn(self) -> int:
        return self.first_lsn + len(self.offsets) - 1


class WAL:
    """A segmented write-ahead log; build it with `WAL.open`.

    Attributes:
        recovery_dropped_bytes: bytes of torn tail cut off by the recovery in `open` (0 if
            none).
    """

    def __init__(self, disk: Disk, name: str, segment_bytes: int) -> None:
        """Internal: use `WAL.open`, which recovers the existing log."""
        self._disk = disk
        self._name = name
        self._segment_bytes = segment_bytes
        self._segments: list[_Segment] = []
        self._buf = bytearray()
        self._last_lsn = 0
        self._durable_lsn = 0
        self._version = 0
        self._closed: str | None = None
        self.recovery_dropped_bytes = 0

    # -- open and recovery ------------------------------------------------------------------

    @classmethod
    def open(
        cls, disk: Disk, name: str = "wal", *, segment_bytes: int = DEFAULT_SEGMENT_BYTES
    ) -> WAL:
        """Open (or create) the WAL ``name`` on ``disk``, recovering what is there.

        ``segment_bytes`` is the size at which a new segment file is started (a record
        larger than that gets a segment of its own). Files not starting with ``name + "-"``
        are ignored (other users share the disk).

        Raises CorruptionError for anything but a torn tail (see the module docstring),
        including a file that starts with the prefix but is not a segment name ("foreign
        file in WAL"); DiskIOError if the disk fails a read or the final fsync.
        """
        check_name(name)
        if segment_bytes < SEGMENT_HEADER_BYTES + RECORD_HEADER_BYTES:
            raise ValueError(f"segment_bytes too small: segment_bytes={segment_bytes}")
        wal = cls(disk, name, segment_bytes)
        found: list[tuple[int, str]] = []
        for file in disk.list():
            if not file.startswith(name + "-"):
                continue
            first = parse_segment_file_name(name, file)
            if first is None or first < 1:
                raise CorruptionError(f"foreign file in WAL: name={name}", file=file, offset=0)
            found.append((first, file))
        found.sort()
        if not found:
            wal._create_segment(1)
            return wal
        expected = found[0][0]
        for i, (first, file) in enumerate(found):
            if first != expected:
                raise CorruptionError(
                    f"LSN gap or overlap between segments: expected_lsn={expected} "
                    f"segment_lsn={first}",
                    file=file,
                    offset=0,
                )
            seg = wal._recover_segment(file, first, last=i == len(found) - 1)
            wal._segments.append(seg)
            expected = seg.last_lsn + 1
        wal._last_lsn = wal._durable_lsn = expected - 1
        disk.fsync(wal._segments[-1].file)  # survivors of a killed process become durable
        return wal

    def _recover_segment(self, file: str, first_lsn: int, *, last: bool) -> _Segment:
        disk = self._disk
        size = disk.size(file)
        if size < SEGMENT_HEADER_BYTES:
            return self._recover_torn_header(file, first_lsn, size, last=last)
        header = disk.read(file, 0, SEGMENT_HEADER_BYTES)
        check_segment_header(header, file=file, first_lsn=first_lsn)
        offsets: array[int] = array("Q")
        lsn = first_lsn
        off = SEGMENT_HEADER_BYTES
        want = _READ_CHUNK_BYTES
        while off < size:
            data = disk.read(file, off, min(want, size - off))
            stop, lsn = scan_records(data, lsn, offsets, file=file, base_offset=off)
            if off + len(data) < size:  # more file after this chunk: continue from the stop
                want = _READ_CHUNK_BYTES if stop else want * 2
                off += stop
                continue
            if stop < len(data):
                off = self._drop_torn_tail(file, off + stop, size, last=last)
                break
            off += stop
        return _Segment(file, first_lsn, offsets, off, off)

    def _drop_torn_tail(self, file: str, at: int, size: int, *, last: bool) -> int:
        """Cut an incomplete final record at ``at`` durably; return the new end."""
        if not last:
            raise CorruptionError(
                f"incomplete record in a non-last segment: size_bytes={size}",
                file=file,
                offset=at,
            )
        dropped = size - at
        logger.warning("WAL torn tail dropped: file=%s offset=%d bytes=%d", file, at, dropped)
        self._disk.truncate(file, at)
        self._disk.fsync(file)
        self.recovery_dropped_bytes += dropped
        return at

    def _recover_torn_header(self, file: str, first_lsn: int, size: int, *, last: bool) -> _Segment:
        """A last segment shorter than its header was torn while being created: rewrite it."""
        expected = encode_segment_header(first_lsn)
        if not last or self._disk.read(file) != expected[:size]:
            raise CorruptionError(
                f"segment shorter than its header: size_bytes={size}", file=file, offset=0
            )
        logger.warning("WAL torn segment header rewritten: file=%s bytes=%d", file, size)
        self._disk.write(file, 0, expected)
        self._disk.fsync(file)
        self.recovery_dropped_bytes += size
        return _Segment(file, first_lsn, array("Q"), SEGMENT_HEADER_BYTES, SEGMENT_HEADER_BYTES)

    def _create_segment(self, first_lsn: int) -> None:
        """Create a segment file holding only its header, durably."""
        file = segment_file_name(self._name, first_lsn)
        try:
            self._disk.write(file, 0, encode_segment_header(first_lsn))
            self._disk.fsync(file)
        except Exception as exc:
            self._poison(exc)
            raise
        end = SEGMENT_HEADER_BYTES
        self._segments.append(_Segment(file, first_lsn, array("Q"), end, end))

    # -- state ------------------------------------------------------------------------------

    def _poison(self, exc: BaseException) -> None:
        if self._closed is None:
            self._closed = f"WAL poisoned after a disk failure: error={exc!r}"
            logger.error("%s (name=%s)", self._closed, self._name)

    def _check_open(self) -> None:
        if self._closed is not None:
            raise StorageClosedError(self._closed)

    @property
    def first_lsn(self) -> int:
        """LSN of the oldest record kept (``last_lsn + 1`` when the log is empty)."""
        return self._segments[0].first_lsn

    @property
    def last_lsn(self) -> int:
        """LSN of the last appended record (durable or not); ``first_lsn - 1`` if empty."""
        return self._last_lsn

    @property
    def durable_lsn(self) -> int:
        """LSN up to which every record is durable (survives a crash)."""
        return self._durable_lsn

    @property
    def segment_files(self) -> list[str]:
        """Names of the segment files, oldest first."""
        return [seg.file for seg in self._segments]

    # -- writing ----------------------------------------------------------------------------

    def append(self, payload: bytes) -> int:
        """Buffer a record; return its LSN (``last_lsn + 1``). Not durable until `sync`.

        May write and fsync when it starts a new segment. Raises StorageClosedError if
        closed or poisoned, ValueError if the payload exceeds 4 GiB - 1.
        """
        if self._closed is not None:
            raise StorageClosedError(self._closed)
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise ValueError(f"payload too large: length_bytes={len(payload)}")
        tail = self._segments[-1]
        if tail.offsets and tail.end + RECORD_HEADER_BYTES + len(payload) > self._segment_bytes:
            self._roll()
            tail = self._segments[-1]
        lsn = self._last_lsn + 1
        tail.offsets.append(tail.end)
        tail.end += encode_record(self._buf, lsn, payload)
        self._last_lsn = lsn
        return lsn

    def _flush(self) -> None:
        """Write the buffer to the tail segment (volatile until fsync)."""
        buf = self._buf
        if buf:
            tail = self._segments[-1]
            self._disk.write(tail.file, tail.written, bytes(buf))
            tail.written += len(buf)
            buf.clear()

    def _roll(self) -> None:
        """Make the tail segment durable, then start the next one."""
        try:
            self._flush()
            self._disk.fsync(self._segments[-1].file)
        except Exception as exc:
            self._poison(exc)
            raise
        self._durable_lsn = self._last_lsn
        self._create_segment(self._last_lsn + 1)

    def sync(self) -> int:
        """Make every appended record durable: one write and one fsync (group commit).

        Returns how many records this call made durable (0 if there was nothing to do; a
        segment roll inside `append` makes records durable too, those are not counted).
        Raises DiskIOError if the disk fails (the WAL is then poisoned) and
        StorageClosedError if closed or poisoned.
        """
        if self._closed is not None:
            raise StorageClosedError(self._closed)
        before = self._durable_lsn
        if before == self._last_lsn:
            return 0
        try:
            self._flush()
            self._disk.fsync(self._segments[-1].file)
        except Exception as exc:
            self._poison(exc)
            raise
        self._durable_lsn = self._last_lsn
        return self._durable_lsn - before

    # -- reading ----------------------------------------------------------------------------

    def records(self, start_lsn: int | None = None) -> Iterator[tuple[int, bytes]]:
        """Yield ``(lsn, payload)`` from ``start_lsn`` (default `first_lsn`) to `last_lsn`.

        Streams in chunks of about 1 MiB, verifying every checksum again (a record that
        went bad since recovery raises CorruptionError, it is never returned). The end is
        fixed when iteration starts. Raises ValueError if ``start_lsn < first_lsn`` (those
        records were dropped), RuntimeError if the log is truncated during iteration.
        """
        self._check_open()
        start = self.first_lsn if start_lsn is None else start_lsn
        if start < self.first_lsn:
            raise ValueError(
                f"records before first_lsn were dropped: start_lsn={start} "
                f"first_lsn={self.first_lsn}"
            )
        return self._iter_records(start, self._last_lsn)

    def _iter_records(self, start: int, stop: int) -> Iterator[tuple[int, bytes]]:
        version = self._version
        firsts = [seg.first_lsn for seg in self._segments]
        index = max(0, bisect.bisect_right(firsts, start) - 1)
        for seg in list(self._segments[index:]):
            lo, hi = max(start, seg.first_lsn), min(stop, seg.last_lsn)
            while lo <= hi:
                self._check_open()
                if self._version != version:
                    raise RuntimeError("WAL truncated during records() iteration")
                offsets = seg.offsets
                i = lo - seg.first_lsn
                begin = offsets[i]
                limit = hi - seg.first_lsn + 1
                j = bisect.bisect_right(offsets, begin + _ITER_CHUNK_BYTES, i + 1, limit)
                finish = offsets[j] if j < len(offsets) else seg.end
                data = self._read(seg, begin, finish)
                yield from decode_records(data, lo, file=seg.file, base_offset=begin)
                lo = seg.first_lsn + j

    def _read(self, seg: _Segment, begin: int, finish: int) -> bytes:
        """Return segment bytes ``[begin, finish)``, from the disk and the unwritten buffer."""
        parts = []
        if begin < seg.written:
            want = min(finish, seg.written) - begin
            part = self._disk.read(seg.file, begin, want)
            if len(part) != want:
                raise CorruptionError(
                    f"segment shorter than its index: wanted_bytes={want} got_bytes={len(part)}",
                    file=seg.file,
                    offset=begin + len(part),
                )
            parts.append(part)
        if finish > seg.written and seg is self._segments[-1]:
            lo = max(begin, seg.written) - seg.written
            parts.append(bytes(self._buf[lo : finish - seg.written]))
        return parts[0] if len(parts) == 1 else b"".join(parts)

    # -- truncation -------------------------------------------------------------------------

    def truncate_prefix(self, lsn: int) -> None:
        """Allow dropping records ``<= lsn``: deletes, durably, whole segments holding only
        such records. Never deletes the tail segment or the one holding `last_lsn`, so
        `first_lsn` may stay ``<= lsn``. Raises StorageClosedError if closed or poisoned.
        """
        self._check_open()
        segments = self._segments
        while len(segments) > 1 and segments[0].last_lsn <= lsn:
            seg = segments[0]
            if seg.offsets and seg.last_lsn == self._last_lsn:
                break
            try:
                self._disk.delete(seg.file)
            except Exception as exc:
                self._poison(exc)
                raise
            segments.pop(0)
            self._version += 1

    def truncate_suffix(self, lsn: int) -> None:
        """Durably remove every record with LSN ``> lsn``; the next append gets ``lsn + 1``.

        ``lsn`` may range from ``first_lsn - 1`` (empty the log) up; at or past `last_lsn`
        it does nothing. Raises ValueError below ``first_lsn - 1``; DiskIOError if the disk
        fails (poisoned then); StorageClosedError if closed or poisoned.
        """
        self._check_open()
        if lsn < self.first_lsn - 1:
            raise ValueError(
                f"cannot truncate below the first kept record: lsn={lsn} "
                f"first_lsn={self.first_lsn}"
            )
        if lsn >= self._last_lsn:
            return
        self._version += 1
        segments = self._segments
        try:
            while len(segments) > 1 and segments[-1].first_lsn > lsn:
                self._disk.delete(segments[-1].file)
                segments.pop()
                self._buf.clear()
            tail = segments[-1]
            keep = lsn - tail.first_lsn + 1
            new_end = tail.offsets[keep] if keep < len(tail.offsets) else tail.end
            del tail.offsets[keep:]
            if new_end >= tail.written:
                del self._buf[new_end - tail.written :]
            else:
                self._buf.clear()
                self._disk.truncate(tail.file, new_end)
                self._disk.fsync(tail.file)
                tail.written = new_end
            tail.end = new_end
        except Exception as exc:
            self._poison(exc)
            raise
        self._last_lsn = lsn
        self._durable_lsn = min(self._durable_lsn, lsn)

    def close(self) -> None:
        """Close the WAL; records appended since the last `sync` are discarded (not written).

        Later calls raise StorageClosedError. Closing twice is allowed.
        """
        if self._closed is None:
            self._closed = f"WAL is closed: name={self._name}"
        self._buf.clear()
