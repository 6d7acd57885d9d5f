"""Hypothesis stateful test: the B-tree against a dict, through checkpoints, crashes and flips.

After every crash (between operations, or at any disk operation inside a checkpoint, with
SimDisk keeping a random prefix of the unsynced writes, the last one torn) the reopened tree
must equal the model as of the last complete checkpoint. A bit flipped anywhere in the page
file is either detected (CorruptionError) or harmless (the reopened state is still exact).
"""

from __future__ import annotations

import builtins
import contextlib

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from storage import CorruptionError, Disk, SimDisk
from storage.btree import BTree

KEYS = st.binary(min_size=0, max_size=3).map(lambda b: b[:1] * len(b))  # few distinct keys
VALUES = st.binary(max_size=12)


class _Crash(Exception):
    """Raised by `CrashingDisk` at the chosen operation: power is cut here."""


class CrashingDisk(Disk):
    """Delegates to a SimDisk and raises `_Crash` instead of the ``limit``-th mutating op.

    Records whether the superblock write was issued and whether it was made durable.
    """

    def __init__(self, disk: SimDisk, limit: int) -> None:
        self.disk = disk
        self.limit = limit
        self.super_written = False
        self.super_durable = False

    def _tick(self) -> None:
        self.limit -= 1
        if self.limit < 0:
            raise _Crash

    def list(self) -> builtins.list[str]:
        return self.disk.list()

    def exists(self, name: str) -> bool:
        return self.disk.exists(name)

    def size(self, name: str) -> int:
        return self.disk.size(name)

    def read(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        return self.disk.read(name, offset, length)

    def write(self, name: str, offset: int, data: bytes) -> None:
        self._tick()
        self.disk.write(name, offset, data)
        self.super_written |= name.endswith("-super")

    def append(self, name: str, data: bytes) -> int:
        self._tick()
        return self.disk.append(name, data)

    def truncate(self, name: str, size: int) -> None:
        self._tick()
        self.disk.truncate(name, size)

    def fsync(self, name: str) -> None:
        self._tick()
        self.disk.fsync(name)
        self.super_durable |= name.endswith("-super")

    def delete(self, name: str) -> None:
        self._tick()
        self.disk.delete(name)

    def rename(self, src: str, dst: str) -> None:
        self._tick()
        self.disk.rename(src, dst)
        self.super_durable |= dst.endswith("-super")


class BTreeMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.disk = SimDisk(seed=11)
        self.tree = BTree.open(self.disk, fanout=4, min_compact_bytes=256)
        self.model: dict[bytes, bytes] = {}
        self.durable: dict[bytes, bytes] = {}
        self.lsn = 0

    def reopen(self, disk: Disk) -> None:
        self.tree = BTree.open(disk, fanout=4, min_compact_bytes=256)
        self.model = dict(self.tree.scan())

    @rule(key=KEYS, value=VALUES)
    def put(self, key: bytes, value: bytes) -> None:
        assert self.tree.put(key, value) == self.model.get(key)
        self.model[key] = value

    @rule(key=KEYS)
    def delete(self, key: bytes) -> None:
        assert self.tree.delete(key) == self.model.pop(key, None)

    @rule(key=KEYS)
    def get(self, key: bytes) -> None:
        assert self.tree.get(key) == self.model.get(key)

    @rule(lo=st.none() | KEYS, hi=st.none() | KEYS)
    def scan(self, lo: bytes | None, hi: bytes | None) -> None:
        want = sorted(
            (k, v)
            for k, v in self.model.items()
            if (lo is None or k >= lo) and (hi is None or k < hi)
        )
        assert list(self.tree.scan(lo, hi)) == want

    @rule(many=st.integers(1, 40), value=VALUES)
    def put_many(self, many: int, value: bytes) -> None:
        for i in range(many):
            key = b"m%02d" % i
            self.tree.put(key, value)
            self.model[key] = value

    @rule()
    def checkpoint(self) -> None:
        self.lsn += 1
        self.tree.checkpoint(self.lsn, meta=b"m%d" % self.lsn)
        self.durable = dict(self.model)

    @rule()
    def crash(self) -> None:
        self.disk.crash()
        self.reopen(self.disk)
        assert self.model == self.durable

    @rule(limit=st.integers(0, 8))
    def crash_inside_checkpoint(self, limit: int) -> None:
        self.lsn += 1
        crashing = CrashingDisk(self.disk, limit)
        self.tree._disk = crashing
        before, after = dict(self.durable), dict(self.model)
        with contextlib.suppress(_Crash):
            self.tree.checkpoint(self.lsn)
        self.disk.crash()
        self.reopen(self.disk)
        if crashing.super_durable:
            assert self.model == after
        elif crashing.super_written:
            assert self.model in (before, after)
        else:
            assert self.model == before
        self.durable = dict(self.model)

    @precondition(lambda self: self.tree.checkpoint_lsn > 0)
    @rule(data=st.data())
    def flip_bit_in_pages(self, data: st.DataObject) -> None:
        name = self.tree.pages_name()
        offset = data.draw(st.integers(0, self.disk.size(name) - 1))
        bit = data.draw(st.integers(0, 7))
        self.disk.flip_bit(name, offset, bit)
        try:
            reopened = BTree.open(self.disk)
        except CorruptionError as exc:
            assert exc.file == name
        else:
            assert dict(reopened.scan()) == self.durable
        self.disk.flip_bit(name, offset, bit)

    @invariant()
    def shape_is_valid(self) -> None:
        self.tree.check_invariants()
        assert len(self.tree) == len(self.model)


TestBTreeStateful = BTreeMachine.TestCase
# Each example is a few milliseconds: run more of them than the profile's default.
_profile = settings()
TestBTreeStateful.settings = settings(_profile, max_examples=max(200, _profile.max_examples))


def test_crash_at_every_operation_of_a_compacting_checkpoint() -> None:
    outcomes = set()
    for limit in range(12):
        disk = SimDisk(seed=limit)
        tree = BTree.open(disk, fanout=4, min_compact_bytes=0)
        old = {b"%03d" % i: b"old" for i in range(100)}
        for k, v in old.items():
            tree.put(k, v)
        tree.checkpoint(1)
        new = dict.fromkeys(old, b"new")  # every page replaced: the next checkpoint compacts
        for k, v in new.items():
            tree.put(k, v)
        crashing = CrashingDisk(disk, limit)
        tree._disk = crashing
        with contextlib.suppress(_Crash):
            tree.checkpoint(2)
        disk.crash()
        again = BTree.open(disk)
        got = dict(again.scan())
        if crashing.super_durable:
            assert (got, again.checkpoint_lsn) == (new, 2)
            assert again.pages_name() == "btree-pages-0000000001"
        elif crashing.super_written:
            assert got in (old, new)
        else:
            assert (got, again.checkpoint_lsn) == (old, 1)
        outcomes.add(again.checkpoint_lsn)
        again.put(b"after", b"x")
        again.checkpoint(3)  # works over whatever the crash left behind
        third = BTree.open(disk)
        assert dict(third.scan()) == {**got, b"after": b"x"}
        assert [n for n in disk.list() if "-pages-" in n] == [third.pages_name()]
    assert outcomes == {1, 2}
