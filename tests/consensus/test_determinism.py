"""Replica state and message reprs do not depend on PYTHONHASHSEED (no set order, no hash())."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import hashlib
from tests.consensus.group import Group
g = Group(3, seed=5)
leader = g.elect()
for k in range(20):
    g.write(leader, 1, k, b"w%d" % k)
g.run(300_000)
g.crash(leader)
g.elect()
h = hashlib.blake2b()
for n in g.nodes.values():
    h.update(n.replica.state_fingerprint())
    for e in n.effects:
        h.update(repr(e).encode())
print(h.hexdigest())
"""


def _run(hash_seed: str) -> str:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=root, env=env, check=True,
                         capture_output=True, text=True)
    return out.stdout.strip()


def test_same_run_same_fingerprint_under_different_hash_seeds() -> None:
    a, b = _run("1"), _run("2")
    assert a == b
    assert len(a) == len(hashlib.blake2b().hexdigest())
