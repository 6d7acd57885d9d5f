"""Child process for the kill test: append and sync forever, printing each synced LSN.

Usage: ``python _wal_child.py ROOT SEED``. Opens (recovering) the WAL in ROOT on a FileDisk,
then appends records whose payload is `payload(lsn)` in seeded batches, and after each
``sync`` prints the durable LSN on its own line (flushed): from then on that LSN must
survive a SIGKILL. Runs until killed (or 1,000,000 records).
"""

from __future__ import annotations

import random
import sys

from storage import WAL, FileDisk

SEGMENT_BYTES = 64 * 1024


def payload(lsn: int) -> bytes:
    """The payload of record ``lsn`` (the parent checks recovered records against it)."""
    return f"<{lsn}>".encode() * (1 + lsn % 7)


def main() -> None:
    root, seed = sys.argv[1], int(sys.argv[2])
    rng = random.Random(seed)
    wal = WAL.open(FileDisk(root), segment_bytes=SEGMENT_BYTES)
    print(f"recovered {wal.last_lsn}", flush=True)
    while wal.last_lsn < 1_000_000:
        for _ in range(rng.randrange(1, 200)):
            wal.append(payload(wal.last_lsn + 1))
        wal.sync()
        print(wal.durable_lsn, flush=True)


if __name__ == "__main__":
    main()
