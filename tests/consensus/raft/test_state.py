"""clone() and state_fingerprint(): independent copies, canonical bytes, every field named."""

from __future__ import annotations

import subprocess
import sys

from consensus.events import ClientWrite
from consensus.raft.state import COPIED, SHARED
from tests.consensus.raft.driver import Driver, Faults
from tests.consensus.raft.group import Group
from tests.consensus.raft.test_replication import T0, elected


def test_every_attribute_is_named_shared_or_copied() -> None:
    g = elected()
    assert set(vars(g.node(0))) == SHARED | COPIED
    assert not SHARED & COPIED


def test_clone_is_independent_and_fingerprints_equal() -> None:
    g = elected()
    n = g.node(0)
    c = n.clone()
    assert c.state_fingerprint() == n.state_fingerprint()
    c.step(ClientWrite(client_id=1, request_id=1, command=b"x"), T0 + 5)
    assert c.log.last_index == n.log.last_index + 1
    assert c.state_fingerprint() != n.state_fingerprint()
    assert list(n.log_entries()) != list(c.log_entries())


def _fingerprints(seed: int) -> list[bytes]:
    g = Group((0, 1, 2), seed=seed, compact_every=5)
    Driver(g, seed, Faults()).run(3_000_000)
    return [g.node(i).state_fingerprint() if g.nodes[i] else b"down" for i in g.ids]


def test_same_seed_same_fingerprints_across_hash_seeds() -> None:
    code = ("import sys; from tests.consensus.raft.test_state import _fingerprints as f; "
            "sys.stdout.write(b''.join(f(7)).hex())")
    outs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, text=True,
                       env={"PYTHONHASHSEED": h, "PYTHONPATH": "."}, timeout=60).stdout
        for h in ("0", "1", "123")
    }
    assert len(outs) == 1
    assert outs.pop() == b"".join(_fingerprints(7)).hex()
    assert _fingerprints(7) != _fingerprints(8)
