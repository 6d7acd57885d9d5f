"""B-tree and KV benchmarks: puts/s, gets/s, checkpoint and reopen time, KV apply cost.

Run ``python -m benchmarks.storage_btree`` (1M keys of 16 bytes, 100-byte values) or with
``--quick`` (100k keys). Rates are given per wall-clock second and per CPU second of this
process (the latter is steadier on a busy machine). Checkpoints go to real files in a
temporary directory. Prints a few figures and a result hash over the tree's contents and
shape (not over timings), so two runs of the same size print the same hash.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import tempfile
import time
from pathlib import Path

from storage import FileDisk
from storage.btree import BTree
from storage.kv import Command, KVStore

KEY_BYTES = 16
VALUE_BYTES = 100
FANOUT = 64


def bench_btree(root: Path, n: int, result: hashlib.blake2b) -> None:
    """Insert ``n`` random keys, look them all up, checkpoint, update, reopen; print rates."""
    r = random.Random(1)
    keys = [r.randbytes(KEY_BYTES) for _ in range(n)]
    value = bytes(range(VALUE_BYTES))
    disk = FileDisk(root)
    tree = BTree.open(disk, "bench", fanout=FANOUT)
    put, get = tree.put, tree.get
    start, start_cpu = time.perf_counter(), time.process_time()
    for k in keys:
        put(k, value)
    put_s, put_cpu_s = time.perf_counter() - start, time.process_time() - start_cpu
    order = keys[:]
    r.shuffle(order)
    start, start_cpu = time.perf_counter(), time.process_time()
    found = sum(1 for k in order if get(k) is not None)
    get_s, get_cpu_s = time.perf_counter() - start, time.process_time() - start_cpu
    assert found == len(set(keys)), f"lookups found={found} keys={len(set(keys))}"
    start = time.perf_counter()
    tree.checkpoint(1)
    full_s = time.perf_counter() - start
    full_bytes = disk.size(tree.pages_name())
    for k in keys[: n // 1000]:
        put(k, value[::-1])
    start = time.perf_counter()
    tree.checkpoint(2)
    incr_s = time.perf_counter() - start
    incr_bytes = disk.size(tree.pages_name()) - full_bytes
    disk.close()
    disk = FileDisk(root)
    start = time.perf_counter()
    again = BTree.open(disk, "bench")
    open_s = time.perf_counter() - start
    digest = hashlib.blake2b(digest_size=16)
    for i, (k, v) in enumerate(again.scan()):
        if i % 997 == 0:
            digest.update(k + v)
    result.update(digest.digest())
    for number in (len(again), again.height, again.node_count, full_bytes, incr_bytes):
        result.update(number.to_bytes(8, "little"))
    disk.close()
    print(
        f"btree: keys={n} fanout={FANOUT} puts/s={n / put_s:,.0f} gets/s={n / get_s:,.0f} "
        f"(per CPU second: puts={n / put_cpu_s:,.0f} gets={n / get_cpu_s:,.0f}) "
        f"height={again.height}"
    )
    print(
        f"btree checkpoint: full_seconds={full_s:.2f} full_MB={full_bytes / 1e6:.1f} "
        f"incremental({n // 1000} updates)_seconds={incr_s:.3f} "
        f"incremental_KB={incr_bytes / 1e3:.0f} reopen_seconds={open_s:.2f}"
    )


def bench_kv_apply(n: int, result: hashlib.blake2b) -> None:
    """Apply ``n`` encoded puts (with client dedup) to a KV store; print microseconds each."""
    value = b"v" * VALUE_BYTES
    commands = [
        Command(
            op="put", key=b"key-%08d" % (i % 10_000), value=value,
            client_id=i % 16, request_id=i // 16 + 1,
        ).encode()
        for i in range(n)
    ]
    with tempfile.TemporaryDirectory(prefix="paxlab-bench-kv-") as tmp:
        kv = KVStore.open(FileDisk(tmp))
        apply = kv.apply
        start, start_cpu = time.perf_counter(), time.process_time()
        for lsn, command in enumerate(commands, 1):
            apply(lsn, command)
        apply_s, apply_cpu_s = time.perf_counter() - start, time.process_time() - start_cpu
    result.update(kv.checksum().encode())
    print(
        f"kv apply: commands={n} us/apply={apply_s / n * 1e6:.2f} "
        f"(CPU us/apply={apply_cpu_s / n * 1e6:.2f})"
    )


def main(quick: bool = False) -> None:
    """Run the B-tree and KV benchmarks (``quick``: 100k keys instead of 1M)."""
    n = 100_000 if quick else 1_000_000
    result = hashlib.blake2b(digest_size=8)
    with tempfile.TemporaryDirectory(prefix="paxlab-bench-btree-") as tmp:
        bench_btree(Path(tmp), n, result)
    bench_kv_apply(n // 10, result)
    print(f"result hash: {result.hexdigest()}")


def _cli(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.storage_btree")
    parser.add_argument("--quick", action="store_true", help="100k keys instead of 1M")
    main(parser.parse_args(argv).quick)


if __name__ == "__main__":
    _cli()
