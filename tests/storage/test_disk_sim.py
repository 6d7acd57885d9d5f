"""SimDisk crash semantics, each injectable fault, and determinism for a seed."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest

from storage import DiskIOError, SimDisk, SimDiskFaults
from storage.simdisk import FAULT_KINDS, SeededChoose


def scripted(values: dict[str, list[int]]) -> Callable[[str, int], int]:
    """A choose() answering from per-label queues (then 0), clamped to n - 1."""

    def choose(label: str, n: int) -> int:
        queue = values.get(label, [])
        return min(queue.pop(0), n - 1) if queue else 0

    return choose


def test_crash_loses_unsynced_keeps_synced() -> None:
    d = SimDisk(seed=3)
    d.write("a", 0, b"synced")
    d.fsync("a")
    d.append("a", b"-volatile")
    d.write("b", 0, b"never synced")
    d.crash(torn=False)
    assert d.read("a") == b"synced"
    assert d.exists("b")  # creation is durable
    assert d.read("b") == b""
    assert d.fault_counts["crash"] == 1


def test_crash_choice_zero_keeps_nothing_unsynced() -> None:
    d = SimDisk(choose=scripted({}))
    d.write("a", 0, b"base")
    d.fsync("a")
    d.append("a", b"more")
    d.crash()
    assert d.read("a") == b"base"
    assert d.fault_counts["torn_write"] == 0


def test_crash_keeps_prefix_with_torn_last_write() -> None:
    d = SimDisk(choose=scripted({"disk.crash.keep": [2], "disk.crash.tear": [3]}))
    d.write("a", 0, b"base")
    d.fsync("a")
    d.append("a", b"11111")
    d.append("a", b"22222")
    d.append("a", b"33333")
    d.crash()
    assert d.read("a") == b"base11111" + b"22"
    assert d.fault_counts["torn_write"] == 1


def test_crash_replays_truncate_in_order() -> None:
    d = SimDisk(choose=scripted({"disk.crash.keep": [2]}))
    d.write("a", 0, b"abcdef")
    d.fsync("a")
    d.truncate("a", 2)
    d.append("a", b"XY")
    d.append("a", b"lost")
    d.crash()
    assert d.read("a") == b"abXY"


def test_fsync_makes_durable() -> None:
    d = SimDisk()
    d.write("a", 0, b"abc")
    assert d.durable_bytes("a") == b""
    d.fsync("a")
    assert d.durable_bytes("a") == b"abc"
    assert d.fsync_count == 1


def test_rename_and_delete_are_durable() -> None:
    d = SimDisk()
    d.write("tmp", 0, b"x")
    d.fsync("tmp")
    d.write("gone", 0, b"y")
    d.rename("tmp", "final")
    d.delete("gone")
    d.crash(torn=False)
    assert d.list() == ["final"]
    assert d.read("final") == b"x"


def test_flip_bit_explicit() -> None:
    d = SimDisk()
    d.write("a", 0, b"\x00\x00")
    d.fsync("a")
    d.flip_bit("a", 1, 3)
    assert d.read("a") == b"\x00\x08"
    d.crash(torn=False)
    assert d.read("a") == b"\x00\x08"  # on the medium
    assert d.fault_counts["bit_flip"] == 1
    with pytest.raises(ValueError):
        d.flip_bit("a", 2, 0)


def test_flip_bit_on_unsynced_data_survives_fsync() -> None:
    d = SimDisk()
    d.write("a", 0, b"\x00")
    d.flip_bit("a", 0, 0)
    d.fsync("a")
    assert d.durable_bytes("a") == b"\x01"


def test_random_bit_flip_on_write() -> None:
    d = SimDisk(seed=5, faults=SimDiskFaults(bit_flip_probability=1.0))
    data = bytes(64)
    d.write("a", 0, data)
    stored = d.read("a")
    diff = [i for i in range(64) if stored[i] != data[i]]
    assert len(diff) == 1
    assert bin(stored[diff[0]]).count("1") == 1
    assert d.fault_counts["bit_flip"] == 1


def test_latent_read_error_explicit_and_healed_by_write() -> None:
    d = SimDisk()
    d.write("a", 0, b"0123456789")
    d.fsync("a")
    d.add_read_error("a", 4, 2)
    assert d.read("a", 0, 4) == b"0123"
    assert d.read("a", 6) == b"6789"
    with pytest.raises(DiskIOError, match="latent read error"):
        d.read("a", 3, 2)
    with pytest.raises(DiskIOError):
        d.read("a")
    d.crash(torn=False)
    with pytest.raises(DiskIOError):
        d.read("a", 5, 1)
    d.write("a", 4, b"xx")
    assert d.read("a") == b"0123xx6789"
    assert d.fault_counts["latent_read_error"] == 1


def test_random_latent_error_on_write() -> None:
    d = SimDisk(faults=SimDiskFaults(latent_error_probability=1.0))
    d.write("a", 0, b"abc")
    with pytest.raises(DiskIOError):
        d.read("a")
    assert d.fault_counts["latent_read_error"] == 1


def test_misdirected_write_explicit() -> None:
    d = SimDisk()
    d.write("a", 0, b"aaaaaaaa")
    d.misdirect_next_write("a", 2)
    assert d.append("a", b"XY") == 8  # where it should have gone
    assert d.read("a") == b"aaXYaaaa"
    assert d.fault_counts["misdirected_write"] == 1
    d.append("a", b"Z")
    assert d.read("a") == b"aaXYaaaaZ"


def test_random_misdirected_write_lands_elsewhere() -> None:
    d = SimDisk(seed=2, faults=SimDiskFaults(misdirected_write_probability=1.0))
    d.write("a", 0, b"x" * 10)  # file empty: misdirected to offset 1
    assert d.read("a") == b"\x00" + b"x" * 10
    before = d.read("a")
    d.write("a", 11, b"yy")
    after = d.read("a")
    assert after[11:13] != b"yy" or len(after) != 13 or after[:11] != before
    assert d.fault_counts["misdirected_write"] == 2


def test_fsync_failure_explicit_and_random() -> None:
    d = SimDisk()
    d.write("a", 0, b"abc")
    d.fail_next_fsync("a")
    with pytest.raises(DiskIOError, match="fsync failure"):
        d.fsync("a")
    assert d.durable_bytes("a") == b""
    d.fsync("a")  # one-shot
    assert d.durable_bytes("a") == b"abc"
    d.fail_next_fsync()
    with pytest.raises(DiskIOError):
        d.fsync("a")
    r = SimDisk(faults=SimDiskFaults(fsync_failure_probability=1.0))
    r.write("b", 0, b"x")
    with pytest.raises(DiskIOError):
        r.fsync("b")
    assert d.fault_counts["fsync_failure"] == 2
    assert r.fault_counts["fsync_failure"] == 1


def test_slow_fsync_latency() -> None:
    faults = SimDiskFaults(
        fsync_latency_us=100, slow_fsync_probability=1.0, slow_fsync_latency_us=5000
    )
    d = SimDisk(faults=faults)
    d.write("a", 0, b"x")
    d.fsync("a")
    assert d.last_fsync_latency_us == 5100
    assert d.fault_counts["slow_fsync"] == 1
    e = SimDisk(faults=SimDiskFaults(fsync_latency_us=7))
    e.write("a", 0, b"x")
    e.fsync("a")
    assert e.last_fsync_latency_us == 7
    e.delay_next_fsync(1000)
    e.fsync("a")
    assert e.last_fsync_latency_us == 1007
    e.fsync("a")
    assert e.last_fsync_latency_us == 7
    assert e.total_fsync_latency_us == 7 + 1007 + 7
    assert e.fault_counts["slow_fsync"] == 1


def test_fault_free_disk_draws_nothing() -> None:
    calls: list[str] = []

    def choose(label: str, n: int) -> int:
        calls.append(label)
        return 0

    d = SimDisk(choose=choose)
    d.write("a", 0, b"abc")
    d.fsync("a")
    d.read("a")
    assert calls == []
    assert all(v == 0 for v in d.fault_counts.values())
    assert set(d.fault_counts) == set(FAULT_KINDS)


def test_faults_validate() -> None:
    with pytest.raises(ValueError, match="bit_flip_probability"):
        SimDiskFaults(bit_flip_probability=1.5)
    with pytest.raises(ValueError, match="fsync_latency_us"):
        SimDiskFaults(fsync_latency_us=-1)


def _workload(seed: int) -> tuple[list[tuple[str, bytes]], dict[str, int]]:
    faults = SimDiskFaults(
        bit_flip_probability=0.2,
        latent_error_probability=0.1,
        misdirected_write_probability=0.1,
        fsync_failure_probability=0.1,
        slow_fsync_probability=0.3,
        slow_fsync_latency_us=900,
    )
    d = SimDisk(seed=seed, faults=faults)
    for i in range(200):
        name = f"f{i % 3}"
        d.append(name, bytes([i % 256]) * (1 + i % 17))
        if i % 7 == 0:
            with contextlib.suppress(DiskIOError):
                d.fsync(name)
        if i % 50 == 49:
            d.crash()
    out = []
    for name in d.list():
        try:
            out.append((name, d.read(name)))
        except DiskIOError:
            out.append((name, b"<io error>"))
    return out, dict(d.fault_counts)


def test_same_seed_same_bytes_and_faults() -> None:
    a = _workload(11)
    assert a == _workload(11)
    assert a != _workload(12)
    counts = a[1]
    assert all(counts[k] > 0 for k in FAULT_KINDS), counts


def test_seeded_choose_matches_harness_chooser() -> None:
    from harness.runtime.chooser import Chooser

    mine, theirs = SeededChoose(9), Chooser(9)
    for label, n in [("x", 10), ("y", 3), ("x", 1000), ("z", 1), ("y", 2)]:
        assert mine(label, n) == theirs.choose(label, n)
