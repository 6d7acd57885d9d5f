"""WAL unit tests: append/sync/records, truncation at both ends, segments, recovery, faults."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage import WAL, CorruptionError, DiskIOError, FileDisk, SimDisk, StorageClosedError
from storage._wal_format import RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES, segment_file_name


def payload(i: int) -> bytes:
    return f"record-{i:05d}".encode() * (1 + i % 3)


def fill(wal: WAL, n: int, start: int = 1) -> None:
    for i in range(start, start + n):
        assert wal.append(payload(i)) == i


def test_fresh_wal_is_empty() -> None:
    wal = WAL.open(SimDisk())
    assert (wal.first_lsn, wal.last_lsn, wal.durable_lsn) == (1, 0, 0)
    assert list(wal.records()) == []
    assert wal.sync() == 0


def test_append_sync_records() -> None:
    disk = SimDisk()
    wal = WAL.open(disk)
    fill(wal, 10)
    assert wal.last_lsn == 10 and wal.durable_lsn == 0
    assert [p for _, p in wal.records()] == [payload(i) for i in range(1, 11)]  # buffered
    before = disk.fsync_count
    assert wal.sync() == 10
    assert disk.fsync_count == before + 1  # group commit: one fsync
    assert wal.durable_lsn == 10
    assert wal.sync() == 0
    assert list(wal.records(7)) == [(i, payload(i)) for i in range(7, 11)]
    assert list(wal.records(11)) == []


def test_records_mix_disk_and_buffer() -> None:
    wal = WAL.open(SimDisk())
    fill(wal, 5)
    wal.sync()
    fill(wal, 5, start=6)
    assert [lsn for lsn, _ in wal.records(3)] == list(range(3, 11))


def test_reopen_recovers_synced_only() -> None:
    disk = SimDisk()
    wal = WAL.open(disk)
    fill(wal, 4)
    wal.sync()
    fill(wal, 3, start=5)  # never synced, never written
    disk.crash(torn=False)
    again = WAL.open(disk)
    assert again.last_lsn == again.durable_lsn == 4
    assert list(again.records()) == [(i, payload(i)) for i in range(1, 5)]
    assert again.append(b"next") == 5


def test_segment_rollover_and_reopen() -> None:
    disk = SimDisk()
    wal = WAL.open(disk, segment_bytes=200)
    fill(wal, 30)
    wal.sync()
    files = wal.segment_files
    assert len(files) > 3
    assert files[0] == segment_file_name("wal", 1)
    assert disk.list() == files
    again = WAL.open(disk, segment_bytes=200)
    assert again.segment_files == files
    assert list(again.records()) == [(i, payload(i)) for i in range(1, 31)]
    assert next(again.records(17)) == (17, payload(17))


def test_large_record_gets_own_segment() -> None:
    wal = WAL.open(SimDisk(), segment_bytes=100)
    wal.append(b"a")
    wal.append(b"b" * 500)
    wal.append(b"c")
    wal.sync()
    assert len(wal.segment_files) == 3
    assert [p for _, p in wal.records()] == [b"a", b"b" * 500, b"c"]


def test_truncate_prefix_whole_segments() -> None:
    disk = SimDisk()
    wal = WAL.open(disk, segment_bytes=200)
    fill(wal, 30)
    wal.sync()
    n = len(wal.segment_files)
    wal.truncate_prefix(10)
    assert 1 < wal.first_lsn <= 11
    assert len(wal.segment_files) < n
    assert [lsn for lsn, _ in wal.records()] == list(range(wal.first_lsn, 31))
    with pytest.raises(ValueError, match="first_lsn"):
        list(wal.records(1))
    wal.truncate_prefix(10**6)  # keeps the segment holding last_lsn
    assert wal.first_lsn <= 30
    assert list(wal.records())[-1] == (30, payload(30))
    again = WAL.open(disk, segment_bytes=200)
    assert (again.first_lsn, again.last_lsn) == (wal.first_lsn, 30)


def test_truncate_suffix_durable_and_renumbers() -> None:
    disk = SimDisk()
    wal = WAL.open(disk, segment_bytes=200)
    fill(wal, 30)
    wal.sync()
    wal.truncate_suffix(12)
    assert wal.last_lsn == 12 and wal.durable_lsn == 12
    assert wal.append(b"new-13") == 13
    wal.sync()
    disk.crash()
    again = WAL.open(disk, segment_bytes=200)
    assert [p for _, p in again.records(11)] == [payload(11), payload(12), b"new-13"]


def test_truncate_suffix_in_buffer_and_to_empty() -> None:
    disk = SimDisk()
    wal = WAL.open(disk)
    fill(wal, 3)
    wal.sync()
    fill(wal, 3, start=4)
    wal.truncate_suffix(4)  # only buffered records removed
    assert [lsn for lsn, _ in wal.records()] == [1, 2, 3, 4]
    wal.truncate_suffix(0)
    assert (wal.first_lsn, wal.last_lsn) == (1, 0)
    assert wal.append(b"x") == 1
    wal.sync()
    assert list(WAL.open(disk).records()) == [(1, b"x")]
    with pytest.raises(ValueError):
        wal.truncate_suffix(-1)


def test_torn_tail_dropped_with_byte_count() -> None:
    disk = SimDisk()
    wal = WAL.open(disk)
    fill(wal, 5)
    wal.sync()
    file = wal.segment_files[0]
    size = disk.size(file)
    wal.append(b"z" * 100)
    wal.sync()
    disk.truncate(file, disk.size(file) - 40)  # the last write reached the medium short
    disk.fsync(file)
    again = WAL.open(disk)
    assert again.recovery_dropped_bytes == RECORD_HEADER_BYTES + 100 - 40
    assert again.last_lsn == 5
    assert disk.size(file) == size  # cut durably
    disk.crash(torn=False)
    assert WAL.open(disk).recovery_dropped_bytes == 0


def test_torn_group_commit_by_crash_keeps_whole_records() -> None:
    answers = {"disk.crash.keep": [1], "disk.crash.tear": [50]}

    def choose(label: str, n: int) -> int:
        queue = answers.get(label, [])
        return min(queue.pop(0), n - 1) if queue else 0

    disk = SimDisk(choose=choose)
    wal = WAL.open(disk)
    fill(wal, 3)
    wal.sync()
    fill(wal, 10, start=4)
    wal._flush()  # the batch write reached the disk, its fsync did not happen
    disk.crash()
    assert disk.fault_counts["torn_write"] == 1
    again = WAL.open(disk)
    assert again.recovery_dropped_bytes > 0
    assert again.last_lsn >= 3
    assert list(again.records()) == [(i, payload(i)) for i in range(1, again.last_lsn + 1)]


def test_torn_header_of_last_record_dropped() -> None:
    disk = SimDisk()
    wal = WAL.open(disk)
    fill(wal, 3)
    wal.sync()
    file = wal.segment_files[0]
    disk.append(file, b"\x01\x02\x03")
    disk.fsync(file)
    again = WAL.open(disk)
    assert again.recovery_dropped_bytes == 3
    assert again.last_lsn == 3


def _corrupt_at(disk: SimDisk, file: str, offset: int) -> None:
    disk.flip_bit(file, offset, 2)


@pytest.mark.parametrize("which", ["payload", "header", "crc"])
def test_corruption_in_middle_raises_with_file_and_offset(which: str) -> None:
    disk = SimDisk()
    wal = WAL.open(disk)
    fill(wal, 10)
    wal.sync()
    file = wal.segment_files[0]
    rec_off = wal._segments[0].offsets[4]  # record 5
    delta = {"payload": RECORD_HEADER_BYTES + 3, "header": 9, "crc": 1}[which]
    _corrupt_at(disk, file, rec_off + delta)
    with pytest.raises(CorruptionError) as info:
        WAL.open(disk)
    assert info.value.file == file
    assert info.value.offset == rec_off
    assert f"offset={rec_off}" in str(info.value)
    # Nothing was repaired: the file is unchanged and still fails.
    with pytest.raises(CorruptionError):
        WAL.open(disk)


def test_corrupt_last_complete_record_is_not_dropped() -> None:
    disk = SimDisk()
    wal = WAL.open(disk)
    fill(wal, 3)
    wal.sync()
    file = wal.segment_files[0]
    size = disk.size(file)
    _corrupt_at(disk, file, size - 1)
    with pytest.raises(CorruptionError, match="checksum"):
        WAL.open(disk)
    assert disk.size(file) == size


def test_corruption_detected_by_records_after_open() -> None:
    disk = SimDisk()
    wal = WAL.open(disk)
    fill(wal, 10)
    wal.sync()
    _corrupt_at(disk, wal.segment_files[0], disk.size(wal.segment_files[0]) - 2)
    with pytest.raises(CorruptionError):
        list(wal.records())


def test_wrong_magic() -> None:
    disk = SimDisk()
    WAL.open(disk).close()
    file = segment_file_name("wal", 1)
    disk.write(file, 0, b"NOTAWAL!")
    with pytest.raises(CorruptionError, match="wrong magic") as info:
        WAL.open(disk)
    assert info.value.file == file and info.value.offset == 0


def test_foreign_file_and_ignored_files() -> None:
    disk = SimDisk()
    disk.write("btree-0001", 0, b"not ours")
    disk.write("walrus", 0, b"not ours either")
    wal = WAL.open(disk)
    wal.append(b"a")
    wal.sync()
    assert WAL.open(disk).last_lsn == 1
    disk.write("wal-notes.txt", 0, b"?")
    with pytest.raises(CorruptionError, match="foreign file in WAL"):
        WAL.open(disk)


def test_missing_middle_segment_is_a_gap() -> None:
    disk = SimDisk()
    wal = WAL.open(disk, segment_bytes=200)
    fill(wal, 30)
    wal.sync()
    disk.delete(wal.segment_files[1])
    with pytest.raises(CorruptionError, match="LSN gap"):
        WAL.open(disk, segment_bytes=200)


def test_short_non_last_segment_is_corruption() -> None:
    disk = SimDisk()
    wal = WAL.open(disk, segment_bytes=200)
    fill(wal, 30)
    wal.sync()
    first = wal.segment_files[0]
    disk.truncate(first, disk.size(first) - 5)
    with pytest.raises(CorruptionError, match="non-last segment") as info:
        WAL.open(disk, segment_bytes=200)
    assert info.value.file == first


def test_torn_segment_creation_rewritten() -> None:
    disk = SimDisk()
    wal = WAL.open(disk)
    fill(wal, 2)
    wal.sync()
    name = segment_file_name("wal", 3)
    disk.write(name, 0, b"PAXL")  # a new segment whose header write was torn
    again = WAL.open(disk)
    assert again.recovery_dropped_bytes == 4
    assert disk.size(name) == SEGMENT_HEADER_BYTES
    assert again.append(b"c") == 3
    again.sync()
    assert [p for _, p in WAL.open(disk).records()] == [payload(1), payload(2), b"c"]


def test_poisoned_after_fsync_failure() -> None:
    disk = SimDisk()
    wal = WAL.open(disk)
    wal.append(b"a")
    disk.fail_next_fsync()
    with pytest.raises(DiskIOError):
        wal.sync()
    for call in (
        lambda: wal.append(b"b"),
        wal.sync,
        lambda: wal.records(),
        lambda: wal.truncate_prefix(1),
        lambda: wal.truncate_suffix(0),
    ):
        with pytest.raises(StorageClosedError, match=r"poisoned.*injected fsync failure"):
            call()


def test_poisoned_after_fsync_failure_during_roll() -> None:
    disk = SimDisk()
    wal = WAL.open(disk, segment_bytes=100)
    wal.append(b"x" * 50)
    disk.fail_next_fsync()
    with pytest.raises(DiskIOError):
        wal.append(b"y" * 50)
    with pytest.raises(StorageClosedError):
        wal.append(b"z")


def test_closed_refuses() -> None:
    wal = WAL.open(SimDisk())
    wal.close()
    wal.close()
    with pytest.raises(StorageClosedError, match="closed"):
        wal.append(b"x")


def test_latent_read_error_surfaces_on_open() -> None:
    disk = SimDisk()
    wal = WAL.open(disk)
    fill(wal, 5)
    wal.sync()
    disk.add_read_error(wal.segment_files[0], 60, 4)
    with pytest.raises(DiskIOError):
        WAL.open(disk)


def test_misdirected_write_detected() -> None:
    disk = SimDisk()
    wal = WAL.open(disk)
    fill(wal, 5)
    wal.sync()
    file = wal.segment_files[0]
    disk.misdirect_next_write(file, wal._segments[0].offsets[2])
    fill(wal, 3, start=6)
    wal.sync()
    with pytest.raises(CorruptionError) as info:
        WAL.open(disk)
    assert info.value.file == file


def test_file_disk_roundtrip(tmp_path: Path) -> None:
    disk = FileDisk(tmp_path)
    wal = WAL.open(disk, segment_bytes=4096)
    for i in range(1, 501):
        wal.append(payload(i))
        if i % 50 == 0:
            wal.sync()
    wal.close()
    disk.close()
    again = WAL.open(FileDisk(tmp_path), segment_bytes=4096)
    assert list(again.records()) == [(i, payload(i)) for i in range(1, 501)]
    assert len(again.segment_files) > 5


def test_misdirected_write_over_header_detected_by_records() -> None:
    disk = SimDisk()
    wal = WAL.open(disk)
    file = wal.segment_files[0]
    disk.misdirect_next_write(file, 0)  # the batch lands on the header: the file stays short
    wal.append(b"")
    wal.sync()
    with pytest.raises(CorruptionError, match="shorter than its index"):
        list(wal.records())
    with pytest.raises(CorruptionError):
        WAL.open(disk)


def test_public_exports() -> None:
    import storage
    from storage.filedisk import FileDisk as F
    from storage.simdisk import SimDisk as S
    from storage.simdisk import SimDiskFaults as SF
    from storage.wal import WAL as W

    assert (storage.FileDisk, storage.SimDisk, storage.SimDiskFaults, storage.WAL) == (F, S, SF, W)
