"""B-tree: operations against a dict, shape invariants, checkpoints, reopen, corruption."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from storage import CorruptionError, DiskIOError, FileDisk, SimDisk, StorageClosedError
from storage._btree_pages import SLOT_SIZE_BYTES
from storage.btree import BTree


def keys_of(n: int, seed: int = 1) -> list[bytes]:
    r = random.Random(seed)
    return [r.randbytes(r.randrange(0, 12)) for _ in range(n)]


def test_put_get_delete_scan_match_a_dict() -> None:
    r = random.Random(5)
    tree = BTree.open(SimDisk(), fanout=4)
    model: dict[bytes, bytes] = {}
    for step in range(3000):
        key = bytes([r.randrange(60)])
        if r.random() < 0.6:
            value = r.randbytes(r.randrange(5))
            assert tree.put(key, value) == model.get(key)
            model[key] = value
        else:
            assert tree.delete(key) == model.pop(key, None)
        if step % 97 == 0:
            tree.check_invariants()
        assert len(tree) == len(model)
    tree.check_invariants()
    for k in range(60):
        assert tree.get(bytes([k])) == model.get(bytes([k]))
    assert list(tree.scan()) == sorted(model.items())


@pytest.mark.parametrize("fanout", [4, 5, 7, 64])
def test_shape_invariants_through_growth_and_shrinking(fanout: int) -> None:
    tree = BTree.open(SimDisk(), fanout=fanout)
    keys = sorted(set(keys_of(2000)))
    random.Random(fanout).shuffle(keys)
    for k in keys:
        tree.put(k, k)
    tree.check_invariants()
    assert tree.height > 1
    for k in keys[: len(keys) - 3]:
        assert tree.delete(k) == k
        if len(tree) % 50 == 0:
            tree.check_invariants()
    tree.check_invariants()
    assert tree.height == 1
    assert sorted(keys[-3:]) == [k for k, _ in tree.scan()]


def test_scan_bounds_are_lo_inclusive_hi_exclusive() -> None:
    tree = BTree.open(SimDisk(), fanout=4)
    for i in range(0, 100, 2):
        tree.put(b"%03d" % i, b"v%d" % i)
    assert [k for k, _ in tree.scan(b"010", b"020")] == [b"010", b"012", b"014", b"016", b"018"]
    assert [k for k, _ in tree.scan(b"011", b"013")] == [b"012"]
    assert [k for k, _ in tree.scan(b"097")] == [b"098"]
    assert [k for k, _ in tree.scan(None, b"004")] == [b"000", b"002"]
    assert list(tree.scan(b"050", b"050")) == []
    assert list(tree.scan(b"x")) == []


def test_scan_raises_when_tree_changes_underneath() -> None:
    tree = BTree.open(SimDisk(), fanout=4)
    for i in range(50):
        tree.put(b"%02d" % i, b"")
    it = tree.scan()
    next(it)
    tree.put(b"zz", b"")
    with pytest.raises(RuntimeError, match="changed during scan"):
        list(it)


def test_rejects_non_bytes() -> None:
    tree = BTree.open(SimDisk())
    with pytest.raises(TypeError, match="key"):
        tree.put("a", b"")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="value"):
        tree.put(b"a", bytearray(b""))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="fanout"):
        BTree.open(SimDisk(), fanout=3)


def test_checkpoint_then_reopen_restores_contents_and_lsn() -> None:
    disk = SimDisk()
    tree = BTree.open(disk, "t", fanout=8)
    assert tree.checkpoint_lsn == 0
    for k in keys_of(500):
        tree.put(k, k * 3)
    tree.checkpoint(7, meta=b"hello")
    tree.put(b"after", b"lost")
    disk.crash()
    again = BTree.open(disk, "t", fanout=32)
    assert again.checkpoint_lsn == 7
    assert again.meta == b"hello"
    assert again.fanout == 8  # kept from disk
    assert list(again.scan()) == [(k, v) for k, v in tree.scan() if k != b"after"]
    again.check_invariants()


def test_checkpoint_lsn_must_not_go_back() -> None:
    tree = BTree.open(SimDisk())
    tree.checkpoint(5)
    with pytest.raises(ValueError, match="lsn=4"):
        tree.checkpoint(4)
    tree.checkpoint(5)


def test_incremental_checkpoint_writes_only_dirty_path() -> None:
    disk = SimDisk()
    tree = BTree.open(disk, fanout=16)
    for i in range(5000):
        tree.put(b"%06d" % i, b"x" * 20)
    tree.checkpoint(1)
    size = disk.size(tree.pages_name())
    tree.put(b"%06d" % 1234, b"y")
    tree.checkpoint(2)
    grown = disk.size(tree.pages_name()) - size
    assert 0 < grown < 3 * 1000  # one leaf and its ancestors, not the whole tree
    assert BTree.open(disk).get(b"%06d" % 1234) == b"y"


def test_compaction_moves_to_new_page_file_and_deletes_old() -> None:
    disk = SimDisk()
    tree = BTree.open(disk, fanout=8, min_compact_bytes=0)
    for i in range(300):
        tree.put(b"%04d" % i, b"v")
    tree.checkpoint(1)
    first = tree.pages_name()
    for lsn in range(2, 40):
        tree.put(b"%04d" % (lsn * 7), b"w%d" % lsn)
        tree.checkpoint(lsn)
    assert tree.pages_name() != first
    assert not disk.exists(first)
    pages = [n for n in disk.list() if n.startswith("btree-pages-")]
    assert pages == [tree.pages_name()]
    assert list(BTree.open(disk).scan()) == list(tree.scan())


def test_replace_all_bulk_loads_a_valid_tree() -> None:
    disk = SimDisk()
    tree = BTree.open(disk, fanout=5)
    tree.put(b"old", b"x")
    tree.checkpoint(1)
    for n in (0, 1, 5, 6, 26, 400):
        items = [(b"%05d" % i, b"v%d" % i) for i in range(n)]
        tree.replace_all(items)
        tree.check_invariants()
        assert list(tree.scan()) == items
    tree.checkpoint(2)
    assert list(BTree.open(disk).scan()) == items
    with pytest.raises(ValueError, match="strictly increasing"):
        tree.replace_all([(b"b", b""), (b"a", b"")])
    assert len(tree) == 400


def test_works_on_file_disk(tmp_path: Path) -> None:
    disk = FileDisk(tmp_path)
    tree = BTree.open(disk, "f", fanout=8)
    for k in keys_of(300, seed=2):
        tree.put(k, b"v" + k)
    tree.checkpoint(3)
    tree.delete(keys_of(1, seed=2)[0])
    tree.checkpoint(4)
    again = BTree.open(FileDisk(tmp_path), "f")
    assert list(again.scan()) == list(tree.scan())
    assert again.checkpoint_lsn == 4


def test_both_superblock_slots_bad_raises_corruption() -> None:
    disk = SimDisk()
    tree = BTree.open(disk)
    tree.put(b"a", b"1")
    tree.checkpoint(1)
    tree.checkpoint(2)
    BTree.open(disk)
    disk.flip_bit("btree-super", SLOT_SIZE_BYTES + 10, 0)  # slot 1 holds lsn 2
    assert BTree.open(disk).checkpoint_lsn == 1  # falls back to the other slot
    disk.flip_bit("btree-super", 10, 3)
    with pytest.raises(CorruptionError, match="both slots") as info:
        BTree.open(disk)
    assert info.value.file == "btree-super"
    assert disk.exists("btree-super")  # nothing deleted


def test_every_bit_flip_in_live_pages_is_detected() -> None:
    disk = SimDisk()
    tree = BTree.open(disk, fanout=4)
    for i in range(40):
        tree.put(b"k%02d" % i, b"value-%d" % i)
    tree.checkpoint(1)
    name = tree.pages_name()
    size = disk.size(name)
    for offset in range(0, size, 3):
        disk.flip_bit(name, offset, offset % 8)
        with pytest.raises(CorruptionError) as info:
            BTree.open(disk)
        assert info.value.file == name
        disk.flip_bit(name, offset, offset % 8)
    assert list(BTree.open(disk).scan()) == list(tree.scan())


def test_misdirected_page_write_is_detected() -> None:
    disk = SimDisk()
    tree = BTree.open(disk, fanout=4)
    for i in range(40):
        tree.put(b"k%02d" % i, b"v")
    tree.checkpoint(1)
    tree.put(b"k05", b"new")
    disk.misdirect_next_write(tree.pages_name(), 100)
    tree.checkpoint(2)
    with pytest.raises(CorruptionError):
        BTree.open(disk)


def test_latent_read_error_propagates() -> None:
    disk = SimDisk()
    tree = BTree.open(disk)
    tree.put(b"a", b"1")
    tree.checkpoint(1)
    disk.add_read_error(tree.pages_name(), 0, 10)
    with pytest.raises(DiskIOError):
        BTree.open(disk)


def test_failed_fsync_fail_stops_checkpoints_but_keeps_last() -> None:
    disk = SimDisk()
    tree = BTree.open(disk)
    tree.put(b"a", b"1")
    tree.checkpoint(1)
    tree.put(b"a", b"2")
    disk.fail_next_fsync()
    with pytest.raises(DiskIOError):
        tree.checkpoint(2)
    with pytest.raises(StorageClosedError):
        tree.checkpoint(3)
    assert tree.get(b"a") == b"2"
    disk.crash()
    again = BTree.open(disk)
    assert (again.checkpoint_lsn, again.get(b"a")) == (1, b"1")


def test_latent_read_error_in_unused_bytes_does_not_fail_open() -> None:
    disk = SimDisk()
    tree = BTree.open(disk, fanout=4)
    for i in range(40):
        tree.put(b"k%02d" % i, b"v")
    tree.checkpoint(1)
    tree.put(b"k00", b"w")  # the leaf of k00 and its ancestors get new pages
    tree.checkpoint(2)
    # Offset 0 held the leftmost leaf of checkpoint 1 (pages are written children first).
    disk.add_read_error(tree.pages_name(), 0, 30)
    again = BTree.open(disk)
    assert again.get(b"k00") == b"w"
    assert list(again.scan()) == list(tree.scan())


@pytest.mark.bench
def test_benchmark_runs_quick(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks.storage_btree import main

    main(quick=True)
    out = capsys.readouterr().out
    assert "puts/s=" in out and "gets/s=" in out and "result hash: " in out
