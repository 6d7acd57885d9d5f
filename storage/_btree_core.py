"""The in-memory B+tree: nodes with sorted key lists, searched with bisect.

Shape (``fanout`` = f >= 4): a leaf holds at most f keys, an internal node at most f
children (f - 1 separator keys). Every node but the root holds at least f // 2 keys (leaf)
or f // 2 children (internal). All leaves are at the same depth. Separator ``keys[i]`` of an
internal node bounds its children: keys in ``kids[i]`` are < ``keys[i]`` <= keys in
``kids[i + 1]``.

Copy-on-write bookkeeping for checkpoints: ``node.ref`` is the `PageRef` of the page holding
the node as of the last checkpoint, or None when the node changed since (dirty). Every change
dirties the whole root-to-node path, so a clean node has only clean descendants and a
checkpoint visits dirty nodes only. ``_garbage_bytes`` counts the bytes of last-checkpoint
pages that the in-memory tree no longer uses.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from itertools import pairwise

from storage._btree_pages import PageRef


class _Node:
    """A leaf (``kids is None``, ``vals`` parallel to ``keys``) or an internal node
    (``kids`` has one more entry than ``keys``; ``vals`` is empty)."""

    __slots__ = ("keys", "kids", "ref", "vals")

    def __init__(
        self,
        keys: list[bytes],
        vals: list[bytes],
        kids: list[_Node] | None,
        ref: PageRef | None = None,
    ) -> None:
        self.keys = keys
        self.vals = vals
        self.kids = kids
        self.ref = ref


def _kids(node: _Node) -> list[_Node]:
    """Return an internal node's children (for code that knows the node is internal)."""
    kids = node.kids
    assert kids is not None, "expected an internal node"
    return kids


def _check_bytes(key: object, name: str = "key") -> None:
    if type(key) is not bytes:
        raise TypeError(f"btree {name}s must be bytes, got {name}={key!r}")


class MemTree:
    """The B+tree operations; `storage.btree.BTree` adds persistence on top."""

    def __init__(self, fanout: int = 64) -> None:
        if not isinstance(fanout, int) or fanout < 4:
            raise ValueError(f"btree fanout must be an int >= 4, got fanout={fanout!r}")
        self.fanout = fanout
        self._min = fanout // 2
        self._root = _Node([], [], None)
        self._len = 0
        self._nodes = 1
        self._height = 1
        self._version = 0
        self._garbage_bytes = 0

    def __len__(self) -> int:
        return self._len

    @property
    def height(self) -> int:
        """Number of levels (1: the root is a leaf)."""
        return self._height

    @property
    def node_count(self) -> int:
        """Number of nodes (leaves and internal)."""
        return self._nodes

    def _drop(self, node: _Node) -> None:
        """Note that ``node``'s last-checkpoint page (if any) is no longer in use."""
        ref = node.ref
        if ref is not None:
            self._garbage_bytes += ref.length
            node.ref = None

    def get(self, key: bytes) -> bytes | None:
        """Return the value stored under ``key``, or None if absent."""
        node = self._root
        while node.kids is not None:
            node = node.kids[bisect_right(node.keys, key)]
        keys = node.keys
        i = bisect_left(keys, key)
        if i < len(keys) and keys[i] == key:
            return node.vals[i]
        return None

    def put(self, key: bytes, value: bytes) -> bytes | None:
        """Store ``value`` under ``key``; return the previous value, or None if it was new."""
        if type(key) is not bytes:
            _check_bytes(key)
        if type(value) is not bytes:
            _check_bytes(value, "value")
        self._version += 1
        node = self._root
        path: list[tuple[_Node, int]] = []
        while True:
            if node.ref is not None:
                self._drop(node)
            kids = node.kids
            if kids is None:
                break
            i = bisect_right(node.keys, key)
            path.append((node, i))
            node = kids[i]
        keys = node.keys
        vals = node.vals
        i = bisect_left(keys, key)
        if i < len(keys) and keys[i] == key:
            old = vals[i]
            vals[i] = value
            return old
        keys.insert(i, key)
        vals.insert(i, value)
        self._len += 1
        if len(keys) > self.fanout:
            self._split(node, path)
        return None

    def _split(self, node: _Node, path: list[tuple[_Node, int]]) -> None:
        """Split the overfull ``node``, cascading up ``path`` (its ancestors, dirty)."""
        while True:
            mid = len(node.keys) // 2
            if node.kids is None:
                right = _Node(node.keys[mid:], node.vals[mid:], None)
                del node.keys[mid:], node.vals[mid:]
                sep = right.keys[0]
            else:
                sep = node.keys[mid]
                right = _Node(node.keys[mid + 1 :], [], node.kids[mid + 1 :])
                del node.keys[mid:], node.kids[mid + 1 :]
            self._nodes += 1
            if not path:
                self._root = _Node([sep], [], [node, right])
                self._nodes += 1
                self._height += 1
                return
            parent, i = path.pop()
            parent.keys.insert(i, sep)
            _kids(parent).insert(i + 1, right)
            if len(parent.keys) < self.fanout:
                return
            node = parent

    def delete(self, key: bytes) -> bytes | None:
        """Remove ``key``; return its value, or None (and change nothing) if it was absent."""
        if type(key) is not bytes:
            _check_bytes(key)
        node = self._root
        path: list[tuple[_Node, int]] = []
        while node.kids is not None:
            i = bisect_right(node.keys, key)
            path.append((node, i))
            node = node.kids[i]
        keys = node.keys
        i = bisect_left(keys, key)
        if i == len(keys) or keys[i] != key:
            return None
        self._version += 1
        for parent, _ in path:
            self._drop(parent)
        self._drop(node)
        del keys[i]
        old: bytes = node.vals.pop(i)
        self._len -= 1
        if len(keys) < self._min and path:
            self._rebalance(node, path)
        return old

    def _rebalance(self, node: _Node, path: list[tuple[_Node, int]]) -> None:
        """Refill the underfull ``node`` from a sibling or merge it, cascading up ``path``."""
        low = self._min
        while path:
            parent, i = path.pop()
            leaf = node.kids is None
            extra = 0 if leaf else 1  # an internal node's size is its kids: keys + 1
            if len(node.keys) + extra >= low:
                return
            kids = _kids(parent)
            left = kids[i - 1] if i > 0 else None
            right = kids[i + 1] if i + 1 < len(kids) else None
            if left is not None and len(left.keys) + extra > low:
                self._drop(left)
                if leaf:
                    node.keys.insert(0, left.keys.pop())
                    node.vals.insert(0, left.vals.pop())
                    parent.keys[i - 1] = node.keys[0]
                else:
                    node.keys.insert(0, parent.keys[i - 1])
                    parent.keys[i - 1] = left.keys.pop()
                    _kids(node).insert(0, _kids(left).pop())
                return
            if right is not None and len(right.keys) + extra > low:
                self._drop(right)
                if leaf:
                    node.keys.append(right.keys.pop(0))
                    node.vals.append(right.vals.pop(0))
                    parent.keys[i] = right.keys[0]
                else:
                    node.keys.append(parent.keys[i])
                    parent.keys[i] = right.keys.pop(0)
                    _kids(node).append(_kids(right).pop(0))
                return
            if left is not None:
                a, b, j = left, node, i - 1
            else:
                assert right is not None, "a non-root node has a sibling"
                a, b, j = node, right, i
            self._drop(a)
            self._drop(b)
            if leaf:
                a.keys += b.keys
                a.vals += b.vals
            else:
                a.keys.append(parent.keys[j])
                a.keys += b.keys
                _kids(a).extend(_kids(b))
            del parent.keys[j], kids[j + 1]
            self._nodes -= 1
            node = parent
        root = self._root
        if root.kids is not None and len(root.kids) == 1:
            self._drop(root)
            self._root = root.kids[0]
            self._nodes -= 1
            self._height -= 1

    def scan(
        self, lo: bytes | None = None, hi: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        """Yield ``(key, value)`` in key order for ``lo <= key < hi`` (None: unbounded).

        Raises RuntimeError if the tree changes while the iterator is in use.
        """
        version = self._version
        node = self._root
        stack: list[tuple[list[_Node], int]] = []
        while node.kids is not None:
            i = 0 if lo is None else bisect_right(node.keys, lo)
            stack.append((node.kids, i + 1))
            node = node.kids[i]
        i = 0 if lo is None else bisect_left(node.keys, lo)
        while True:
            keys = node.keys
            end = len(keys) if hi is None else bisect_left(keys, hi)
            yield from zip(keys[i:end], node.vals[i:end], strict=True)
            if end < len(keys) or self._version != version:
                break
            while stack:
                pkids, j = stack[-1]
                if j < len(pkids):
                    stack[-1] = (pkids, j + 1)
                    node = pkids[j]
                    break
                stack.pop()
            else:
                return
            while node.kids is not None:
                stack.append((node.kids, 1))
                node = node.kids[0]
            i = 0
        if self._version != version:
            raise RuntimeError("btree changed during scan: finish or restart the scan")

    def _bulk_load(self, items: Iterable[tuple[bytes, bytes]]) -> None:
        """Replace the whole contents with ``items`` (strictly increasing keys).

        Every old page becomes garbage. Raises ValueError if keys are not strictly increasing.
        """
        keys: list[bytes] = []
        vals: list[bytes] = []
        for k, v in items:
            _check_bytes(k)
            _check_bytes(v, "value")
            if keys and k <= keys[-1]:
                raise ValueError(f"bulk load needs strictly increasing keys, got key={k!r}")
            keys.append(k)
            vals.append(v)
        self._version += 1
        self._drop_all(self._root)
        level = [
            (keys[a], _Node(keys[a:b], vals[a:b], None)) for a, b in self._chunks(len(keys))
        ]
        if not level:
            level = [(b"", _Node([], [], None))]
        self._nodes = len(level)
        self._height = 1
        while len(level) > 1:
            parents = []
            for a, b in self._chunks(len(level)):
                group = level[a:b]
                seps = [first for first, _ in group[1:]]
                parents.append((group[0][0], _Node(seps, [], [n for _, n in group])))
            level = parents
            self._nodes += len(level)
            self._height += 1
        self._root = level[0][1]
        self._len = len(keys)

    def _chunks(self, n: int) -> list[tuple[int, int]]:
        """Split ``range(n)`` into the fewest even runs of at most ``fanout`` items."""
        if n == 0:
            return []
        parts = -(-n // self.fanout)
        return [(n * p // parts, n * (p + 1) // parts) for p in range(parts)]

    def _drop_all(self, node: _Node) -> None:
        """Drop every clean page under ``node`` (dirty nodes have only dropped pages above)."""
        stack = [node]
        while stack:
            n = stack.pop()
            if n.ref is not None:
                self._drop(n)
            if n.kids is not None:
                stack.extend(n.kids)

    def check_invariants(self) -> None:
        """Raise AssertionError unless the tree has a valid B+tree shape (for tests)."""
        count, nodes = 0, 0
        stack: list[tuple[_Node, bytes | None, bytes | None, int, bool]] = [
            (self._root, None, None, 1, True)
        ]
        leaf_depths = set()
        while stack:
            node, lo, hi, depth, is_root = stack.pop()
            nodes += 1
            keys = node.keys
            assert all(a < b for a, b in pairwise(keys)), "keys not sorted"
            if keys:
                assert lo is None or keys[0] >= lo, f"key below bound lo={lo!r}"
                assert hi is None or keys[-1] < hi, f"key above bound hi={hi!r}"
            if node.kids is None:
                assert len(node.vals) == len(keys), "leaf: vals != keys"
                assert len(keys) <= self.fanout, f"leaf overfull: keys={len(keys)}"
                assert is_root or len(keys) >= self._min, f"leaf underfull: keys={len(keys)}"
                count += len(keys)
                leaf_depths.add(depth)
                continue
            kids = node.kids
            assert len(kids) == len(keys) + 1 and not node.vals, "internal: kids != keys + 1"
            assert len(kids) <= self.fanout, f"internal overfull: kids={len(kids)}"
            assert len(kids) >= (2 if is_root else self._min), f"underfull: kids={len(kids)}"
            bounds = [lo, *keys, hi]
            for j, kid in enumerate(kids):
                assert node.ref is None or kid.ref is not None, "clean node with a dirty child"
                stack.append((kid, bounds[j], bounds[j + 1], depth + 1, False))
        assert len(leaf_depths) == 1, f"leaves at different depths: {sorted(leaf_depths)}"
        assert leaf_depths == {self._height}, f"height={self._height} depths={leaf_depths}"
        assert count == self._len, f"len={self._len} counted={count}"
        assert nodes == self._nodes, f"node_count={self._nodes} counted={nodes}"
