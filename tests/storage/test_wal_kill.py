"""Real files, real crashes: SIGKILL a child process writing the WAL, then recover.

Every LSN the child reported as synced must be intact after reopening, in every round
(the same WAL directory is reopened and extended round after round).
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from storage import WAL, FileDisk
from tests.storage._wal_child import SEGMENT_BYTES, payload

CHILD = Path(__file__).with_name("_wal_child.py")


def _run_and_kill(root: Path, seed: int, delay_s: float) -> tuple[int, int]:
    """Start the child, let it run ``delay_s`` after its first sync, SIGKILL it.

    Returns ``(recovered_at_start, last_reported_synced_lsn)``.
    """
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), str(root), str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert first.startswith(b"recovered "), (first, proc.stderr.read() if proc.stderr else b"")
    recovered = int(first.split()[1])
    proc.stdout.readline()  # at least one sync happened
    time.sleep(delay_s)
    proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL, err
    lines = [line for line in out.split(b"\n")[:-1] if line]  # complete lines only
    synced = int(lines[-1]) if lines else recovered
    return recovered, synced


def test_sigkill_keeps_every_synced_record(tmp_path: Path) -> None:
    rng = random.Random(20261126)
    previous_last = 0
    for round_no in range(5):
        recovered, synced = _run_and_kill(tmp_path, round_no, rng.uniform(0.02, 0.3))
        assert recovered == previous_last  # the child saw what we verified last round
        wal = WAL.open(FileDisk(tmp_path), segment_bytes=SEGMENT_BYTES)
        assert wal.last_lsn >= synced > recovered
        got = list(wal.records())
        assert [lsn for lsn, _ in got] == list(range(1, wal.last_lsn + 1))
        assert all(data == payload(lsn) for lsn, data in got)
        previous_last = wal.last_lsn
        wal.close()
    assert len(FileDisk(tmp_path).list()) > 1  # several segments were exercised
