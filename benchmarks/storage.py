"""Storage benchmarks: WAL group commit and WAL recovery on real files.

Run ``python -m benchmarks.storage`` (full size: 100 MB recovery) or with ``--quick``
(small sizes, a few seconds). Prints a few figures and a result hash over what was written
and recovered (not over timings), so two runs of the same size print the same hash. Then
runs the B-tree benchmarks of `benchmarks.storage_btree` if that module exists.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.util
import tempfile
import time
from pathlib import Path

from storage import WAL, FileDisk

RECORD_PAYLOAD_BYTES = 100
BATCH_RECORDS = 1000


def _payload(i: int) -> bytes:
    """A deterministic 100-byte payload for record ``i``."""
    head = i.to_bytes(8, "little")
    return head * (RECORD_PAYLOAD_BYTES // 8) + head[: RECORD_PAYLOAD_BYTES % 8]


def bench_group_commit(root: Path, records: int, result: hashlib.blake2b) -> None:
    """Append ``records`` 100-byte records, syncing every `BATCH_RECORDS`; print rates."""
    disk = FileDisk(root)
    wal = WAL.open(disk)
    fsyncs = 0
    start = time.perf_counter()
    for i in range(1, records + 1):
        wal.append(_payload(i))
        if i % BATCH_RECORDS == 0:
            wal.sync()
            fsyncs += 1
    if wal.sync():
        fsyncs += 1
    elapsed_s = time.perf_counter() - start
    result.update(wal.durable_lsn.to_bytes(8, "little"))
    print(
        f"wal group commit: records={records} batch={BATCH_RECORDS} "
        f"records/s={records / elapsed_s:,.0f} fsyncs/s={fsyncs / elapsed_s:,.1f} "
        f"seconds={elapsed_s:.2f}"
    )
    wal.close()
    disk.close()


def bench_recovery(root: Path, total_bytes: int, result: hashlib.blake2b) -> None:
    """Write a WAL of about ``total_bytes`` of 100-byte records, then time its recovery."""
    disk = FileDisk(root)
    wal = WAL.open(disk)
    i = 0
    while wal.segment_files and _wal_bytes(disk, wal) < total_bytes:
        for _ in range(50 * BATCH_RECORDS):
            i += 1
            wal.append(_payload(i))
        wal.sync()
    wal.close()
    disk.close()
    disk = FileDisk(root)
    size_bytes = sum(disk.size(f) for f in disk.list())
    start, cpu_start = time.perf_counter(), time.process_time()
    wal = WAL.open(disk)
    open_s, open_cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
    assert wal.last_lsn == i, f"recovered last_lsn={wal.last_lsn} written={i}"
    start = time.perf_counter()
    digest = hashlib.blake2b(digest_size=16)
    count = 0
    for _lsn, data in wal.records():
        count += 1
        if count % 1000 == 0:
            digest.update(data)
    scan_s = time.perf_counter() - start
    result.update(digest.digest())
    result.update(count.to_bytes(8, "little"))
    mb = size_bytes / 1e6
    print(
        f"wal recovery: size_MB={mb:.1f} records={count} open_seconds={open_s:.2f} "
        f"open_cpu_seconds={open_cpu_s:.2f} open_MB/s={mb / open_s:,.0f} "
        f"records()_seconds={scan_s:.2f} "
        f"records()_MB/s={mb / scan_s:,.0f}"
    )
    wal.close()
    disk.close()


def _wal_bytes(disk: FileDisk, wal: WAL) -> int:
    return sum(disk.size(f) for f in wal.segment_files)


def main(argv: list[str] | None = None) -> None:
    """Run the storage benchmarks; ``--quick`` for small sizes."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.storage")
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    args = parser.parse_args(argv)
    quick: bool = args.quick
    result = hashlib.blake2b(digest_size=8)
    with tempfile.TemporaryDirectory(prefix="paxlab-bench-") as tmp:
        bench_group_commit(Path(tmp) / "commit", 20_000 if quick else 300_000, result)
        bench_recovery(Path(tmp) / "recovery", 5_000_000 if quick else 100_000_000, result)
    print(f"result hash: {result.hexdigest()}")
    if importlib.util.find_spec("benchmarks.storage_btree") is None:
        return
    btree_main = importlib.import_module("benchmarks.storage_btree").main
    btree_main(quick)


if __name__ == "__main__":
    main()
