"""B-tree under SimDisk's random write faults: never wrong data for the LSN it reports.

Bit flips and misdirected writes hit pages and superblocks at random. A reopened tree must
either raise CorruptionError or hold exactly the contents of the checkpoint whose LSN it
reports (a misdirected superblock write may leave an older checkpoint in place, which is
consistent: the caller replays its log from that older LSN).
"""

from __future__ import annotations

import random

import pytest

from storage import CorruptionError, SimDisk, SimDiskFaults
from storage.btree import BTree


@pytest.mark.parametrize("seed", range(40))
def test_random_write_faults_never_return_wrong_data(seed: int) -> None:
    faults = SimDiskFaults(bit_flip_probability=0.03, misdirected_write_probability=0.03)
    disk = SimDisk(seed=seed, faults=faults)
    r = random.Random(seed)
    tree = BTree.open(disk, fanout=4, min_compact_bytes=512)
    model: dict[bytes, bytes] = {}
    history: dict[int, dict[bytes, bytes]] = {0: {}}
    detected = 0
    for lsn in range(1, 30):
        for _ in range(r.randrange(1, 30)):
            key = b"%02d" % r.randrange(60)
            if r.random() < 0.7:
                model[key] = r.randbytes(r.randrange(8))
                tree.put(key, model[key])
            else:
                model.pop(key, None)
                tree.delete(key)
        tree.checkpoint(lsn)
        history[lsn] = dict(model)
        try:
            reopened = BTree.open(disk)
        except CorruptionError:
            detected += 1
            continue
        assert dict(reopened.scan()) == history[reopened.checkpoint_lsn]
    injected = disk.fault_counts["bit_flip"] + disk.fault_counts["misdirected_write"]
    assert injected > 0 or detected == 0
