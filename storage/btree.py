"""A persistent B+tree from bytes keys to bytes values, with copy-on-write checkpoints.

The tree lives in memory (`storage._btree_core.MemTree`: get, put, delete, scan, len). It
reaches the disk only in `BTree.checkpoint`, which makes the current contents durable as of a
caller-given LSN:

1. Every node changed since the last checkpoint (and so every ancestor of one) is written as
   a new checksummed page, appended to the page file ``<name>-pages-<gen>``. Pages the last
   complete checkpoint uses are never overwritten: the file only grows.
2. The page file is fsynced.
3. A superblock naming the root page, the LSN, the key and page counts is written to the
   slot of ``<name>-super`` that does not hold the last checkpoint, then fsynced. The first
   checkpoint creates the file by write-new-then-rename, so it always has a valid slot.

A crash at any moment leaves the last complete checkpoint readable; `BTree.open` loads the
valid slot with the highest sequence number.

Space: when the page file holds more dead bytes (replaced pages, crash leftovers) than live
ones, and at least ``min_compact_bytes``, the checkpoint instead writes the whole tree to a
fresh page file ``<name>-pages-<gen + 1>`` and deletes the old file once the superblock
naming the new one is durable. At open, page files of older generations are deleted (a newer
complete checkpoint no longer needs them), and so are those of newer generations (an
unfinished compaction) when the other superblock slot is valid or empty, so that no damaged
superblock could name them; nothing else is ever deleted.

Corruption (both superblock slots invalid, a page failing its checksum, wrong magic, a page
not the one its parent references) makes `BTree.open` raise `storage.CorruptionError`
naming the file and offset. Nothing is deleted to repair it.
"""

from __future__ import annotations

import logging

from storage._btree_core import MemTree, _Node
from storage._btree_pages import (
    KIND_INTERNAL,
    KIND_LEAF,
    KIND_META,
    SLOT_SIZE_BYTES,
    PageRef,
    Superblock,
    decode_internal,
    decode_leaf,
    encode_page,
    internal_body,
    leaf_body,
    read_page,
)
from storage.disk import Disk, check_name
from storage.errors import CorruptionError, DiskIOError, StorageClosedError

log = logging.getLogger(__name__)

_NO_REF = PageRef(0, 0, 0, 0)


class BTree(MemTree):
    """A B+tree with durable checkpoints on a `Disk`. Create with `BTree.open`.

    Attributes:
        checkpoint_lsn: the LSN of the last complete checkpoint (0: none yet).
        meta: the opaque bytes stored with the last checkpoint (b"" if none).
        fanout: the maximum number of keys per leaf and children per internal node.

    Not thread-safe; an iterator from `scan` must not outlive a change to the tree.
    """

    def __init__(
        self, disk: Disk, name: str, fanout: int, min_compact_bytes: int
    ) -> None:
        super().__init__(fanout)
        check_name(f"{name}-super")
        self._disk = disk
        self.name = name
        self.min_compact_bytes = min_compact_bytes
        self.checkpoint_lsn = 0
        self.meta = b""
        self._seq = 0
        self._gen = 0
        self._slot = 1
        self._next_page_id = 1
        self._live_bytes = 0
        self._meta_ref = _NO_REF
        self._failed = False

    @property
    def super_name(self) -> str:
        """The superblock's file name."""
        return f"{self.name}-super"

    def pages_name(self, gen: int | None = None) -> str:
        """The page file name of generation ``gen`` (None: the current one)."""
        return f"{self.name}-pages-{self._gen if gen is None else gen:010d}"

    @classmethod
    def open(
        cls,
        disk: Disk,
        name: str = "btree",
        *,
        fanout: int = 64,
        min_compact_bytes: int = 1 << 20,
    ) -> BTree:
        """Load the last complete checkpoint of tree ``name`` on ``disk`` (empty if none).

        ``fanout`` applies to a new tree; an existing one keeps the fan-out it was written
        with. Raises `storage.CorruptionError` if the checkpoint is damaged (see the module
        docstring) and `storage.DiskIOError` if the disk fails a read.
        """
        tree = cls(disk, name, fanout, min_compact_bytes)
        if disk.exists(tree.super_name):
            tree._load()
        return tree

    def _load(self) -> None:
        disk, sname = self._disk, self.super_name
        data = disk.read(sname, 0, 2 * SLOT_SIZE_BYTES)
        slots = [
            Superblock.decode(data[s * SLOT_SIZE_BYTES : (s + 1) * SLOT_SIZE_BYTES])
            for s in (0, 1)
        ]
        valid = [(sb.seq, s, sb) for s, sb in enumerate(slots) if sb is not None]
        if not valid:
            raise CorruptionError(
                "btree superblock fails its checksum in both slots", file=sname, offset=0
            )
        _, slot, sb = max(valid)
        other = data[(1 - slot) * SLOT_SIZE_BYTES : (2 - slot) * SLOT_SIZE_BYTES]
        other_empty = not other.strip(b"\0")
        if len(valid) == 1 and not other_empty:  # torn by a crash, or damaged
            log.warning("btree %s: superblock slot %d invalid, using %d", self.name, 1 - slot, slot)
        self.fanout = sb.fanout
        self._min = sb.fanout // 2
        self._gen = sb.gen
        pname = self.pages_name()
        depths: list[int] = []
        counts = [0, 0]  # keys, nodes

        def fetch(ref: PageRef) -> bytes:
            if whole is not None:
                return whole[ref.offset : ref.offset + ref.length]
            return disk.read(pname, ref.offset, ref.length)

        def load(ref: PageRef, depth: int) -> _Node:
            kind, count, body = read_page(fetch(ref), ref, (KIND_LEAF, KIND_INTERNAL), pname)
            counts[1] += 1
            if kind == KIND_LEAF:
                keys, vals = decode_leaf(count, body, ref, pname)
                counts[0] += count
                depths.append(depth)
                return _Node(keys, vals, None, ref)
            keys, refs = decode_internal(count, body, ref, pname)
            return _Node(keys, [], [load(r, depth + 1) for r in refs], ref)

        if not disk.exists(pname):
            raise CorruptionError(
                f"btree superblock names a missing page file: pages={pname}",
                file=sname, offset=slot * SLOT_SIZE_BYTES,
            )
        try:  # one read is much faster than a read per page on a real disk
            whole: bytes | None = disk.read(pname)
        except DiskIOError:  # maybe in bytes no page uses: read page by page
            whole = None
        root = load(sb.root, 1)
        _, _, meta = read_page(fetch(sb.meta), sb.meta, (KIND_META,), pname)
        if counts != [sb.count, sb.page_count] or len(set(depths)) != 1:
            raise CorruptionError(
                f"btree checkpoint does not match its superblock: count={sb.count} "
                f"loaded={counts[0]} pages={sb.page_count} loaded_pages={counts[1]} "
                f"leaf_depths={sorted(set(depths))}",
                file=sname, offset=slot * SLOT_SIZE_BYTES,
            )
        self._root = root
        self._len, self._nodes, self._height = sb.count, sb.page_count, depths[0]
        self._seq, self._slot = sb.seq, slot
        self._next_page_id = sb.next_page_id
        self._live_bytes, self._meta_ref, self.meta = sb.live_bytes, sb.meta, meta
        self.checkpoint_lsn = sb.lsn
        # The other slot is valid (older) or was never written: no superblock can name a
        # page file of a newer generation, so it is the leftover of an unfinished compaction.
        newer_unused = len(valid) == 2 or other_empty
        prefix = f"{self.name}-pages-"
        for fname in disk.list():
            suffix = fname[len(prefix) :]
            if not (fname.startswith(prefix) and suffix.isdigit()) or int(suffix) == sb.gen:
                continue
            if int(suffix) < sb.gen or newer_unused:
                log.info("btree %s: deleting unused page file %s", self.name, fname)
                disk.delete(fname)

    def checkpoint(self, lsn: int, meta: bytes = b"") -> None:
        """Make the current contents and ``meta`` durable as the checkpoint at ``lsn``.

        When it returns, `open` loads exactly this state. Raises ValueError if ``lsn`` is
        below `checkpoint_lsn`. A disk error propagates and fail-stops checkpoints (later
        calls raise `storage.StorageClosedError`; reopen from disk), since what reached the
        disk is then unknown; the in-memory tree stays usable.
        """
        if self._failed:
            raise StorageClosedError(
                f"btree checkpoint failed earlier: name={self.name}; reopen it from disk"
            )
        if type(lsn) is not int or lsn < self.checkpoint_lsn:
            raise ValueError(
                f"checkpoint lsn must not go back: lsn={lsn!r} checkpoint_lsn={self.checkpoint_lsn}"
            )
        if type(meta) is not bytes:
            raise TypeError(f"checkpoint meta must be bytes, got meta={meta!r}")
        undo: list[tuple[_Node, PageRef | None]] = []
        try:
            self._write_checkpoint(lsn, meta, undo)
        except BaseException:
            for node, ref in reversed(undo):
                node.ref = ref
            self._failed = True
            raise

    def _write_checkpoint(
        self, lsn: int, meta: bytes, undo: list[tuple[_Node, PageRef | None]]
    ) -> None:
        disk = self._disk
        old_name = self.pages_name()
        size = disk.size(old_name) if disk.exists(old_name) else 0
        reachable = self._live_bytes - self._garbage_bytes - self._meta_ref.length
        compact = size - reachable > max(reachable, self.min_compact_bytes)
        gen = self._gen + 1 if compact else self._gen
        pname = self.pages_name(gen)
        if compact and disk.exists(pname):
            disk.delete(pname)  # an unfinished compaction no complete checkpoint names
        base = 0 if compact else size
        chunks: list[bytes] = []
        offset, page_id = base, self._next_page_id

        def emit(kind: int, count: int, body: bytes) -> PageRef:
            nonlocal offset, page_id
            page, crc = encode_page(kind, count, page_id, body)
            ref = PageRef(offset, len(page), page_id, crc)
            chunks.append(page)
            offset += len(page)
            page_id += 1
            return ref

        def write(node: _Node) -> PageRef:
            if node.ref is not None and not compact:
                return node.ref
            if node.kids is None:
                ref = emit(KIND_LEAF, len(node.keys), leaf_body(node.keys, node.vals))
            else:
                refs = [write(kid) for kid in node.kids]
                ref = emit(KIND_INTERNAL, len(node.keys), internal_body(node.keys, refs))
            undo.append((node, node.ref))
            node.ref = ref
            return ref

        root_ref = write(self._root)
        meta_ref = emit(KIND_META, 0, meta)
        data = b"".join(chunks)
        disk.write(pname, base, data)
        disk.fsync(pname)
        live = len(data) + (0 if compact else reachable)
        sb = Superblock(
            seq=self._seq + 1, gen=gen, lsn=lsn, root=root_ref, meta=meta_ref, count=self._len,
            page_count=self._nodes, next_page_id=page_id, live_bytes=live, fanout=self.fanout,
        )
        slot = 1 - self._slot
        sname = self.super_name
        if disk.exists(sname):
            disk.write(sname, slot * SLOT_SIZE_BYTES, sb.encode())
            disk.fsync(sname)
        else:
            assert slot == 0, "a tree without a superblock file has no checkpoint"
            tmp = f"{sname}.tmp"
            disk.write(tmp, 0, sb.encode())
            disk.fsync(tmp)
            disk.rename(tmp, sname)
        if compact and disk.exists(old_name):
            disk.delete(old_name)
        self._seq, self._gen, self._slot = sb.seq, gen, slot
        self._next_page_id, self._live_bytes, self._garbage_bytes = page_id, live, 0
        self._meta_ref, self.meta, self.checkpoint_lsn = meta_ref, meta, lsn
        log.debug(
            "btree %s: checkpoint lsn=%d seq=%d gen=%d wrote_bytes=%d live_bytes=%d",
            self.name, lsn, sb.seq, gen, len(data), live,
        )

    def replace_all(self, items: list[tuple[bytes, bytes]]) -> None:
        """Replace the whole contents with ``items`` (strictly increasing keys), in memory.

        Raises ValueError if the keys are not strictly increasing; nothing changes then.
        """
        self._bulk_load(items)
