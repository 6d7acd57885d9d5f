"""`KVStore`: the replicated key-value state machine of a storage replica, over a `BTree`.

Commands arrive as encoded bytes with their LSN (the consensus slot number) and are applied
strictly in LSN order, exactly once:

- an LSN at or below `KVStore.applied_lsn` changes nothing (idempotent redelivery);
- an LSN beyond ``applied_lsn + 1`` is a gap and raises ValueError;
- ``b""`` is a no-op (a gap filler of the protocol) that only advances ``applied_lsn``;
- a command whose ``(client_id, request_id)`` was already applied is not applied again and
  gets the result of its first application (a retried write applies at most once). Only the
  latest request of each client is remembered: clients have one request outstanding.

Durability: `KVStore.checkpoint` writes a B-tree checkpoint at ``applied_lsn`` holding the
contents, the dedup table and the checksum. After a crash, `KVStore.open` loads the last
checkpoint and the caller re-applies its log from ``applied_lsn + 1``; `recover` does exactly
that for a `storage.wal.WAL` whose payloads are encoded commands::

    kv = recover(disk, "kv", WAL.open(disk, "wal"))   # = open + replay from applied_lsn + 1

A log record failing its checksum raises `storage.CorruptionError` from the WAL and is never
applied.
"""

from __future__ import annotations

import hashlib
import logging
import struct
from collections.abc import Iterator

import crc32c

from storage._kv_command import OPS as OPS
from storage._kv_command import Command as Command
from storage._kv_command import Result as Result
from storage.btree import BTree
from storage.disk import Disk
from storage.wal import WAL

log = logging.getLogger(__name__)

RECENT_RESULTS = 1024
_MASK = (1 << 128) - 1
_NOOP = Result(ok=True, value=None)
_UNKNOWN = Result(ok=True, value=None)
_UNDECODABLE = Result(ok=False, value=None)
_LEN = struct.Struct("<I")
_SESSION = struct.Struct("<QQBi")
_META_MAGIC = b"PXKM"
_SNAP_MAGIC = b"PXKS"
_SNAP_HEAD = struct.Struct("<4sqQ")
_ENTRY = struct.Struct("<II")


def entry_digest(key: bytes, value: bytes) -> int:
    """Return the 128-bit digest of one entry; the store's checksum is their sum mod 2**128."""
    h = hashlib.blake2b(_LEN.pack(len(key)), digest_size=16)
    h.update(key)
    h.update(value)
    return int.from_bytes(h.digest(), "little")


class KVStore:
    """The key-value state machine; create with `KVStore.open`.

    Attributes:
        applied_lsn: the LSN of the last applied command (0: none).
    """

    def __init__(self, tree: BTree) -> None:
        """Internal: use `KVStore.open`."""
        self._tree = tree
        self.applied_lsn = tree.checkpoint_lsn
        self._sum = 0
        self._sessions: dict[int, tuple[int, Result]] = {}
        self._recent: list[tuple[int, Result] | None] = [None] * RECENT_RESULTS
        if tree.checkpoint_lsn or tree.meta:
            self._sum, self._sessions = _decode_meta(tree.meta)

    @classmethod
    def open(cls, disk: Disk, name: str = "kv", *, fanout: int = 64) -> KVStore:
        """Load the last checkpoint of store ``name`` on ``disk`` (empty, LSN 0, if none).

        Raises `storage.CorruptionError` if the checkpoint is damaged.
        """
        return cls(BTree.open(disk, name, fanout=fanout))

    def __len__(self) -> int:
        return len(self._tree)

    def get(self, key: bytes) -> bytes | None:
        """Return the value of ``key``, or None if absent."""
        return self._tree.get(key)

    def scan(
        self, lo: bytes | None = None, hi: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        """Yield ``(key, value)`` in key order for ``lo <= key < hi`` (None: unbounded)."""
        return self._tree.scan(lo, hi)

    def checksum(self) -> str:
        """Return a hex digest of the contents (keys and values only), in O(1).

        Equal contents give equal digests whatever the order of changes that built them.
        """
        return f"{self._sum:032x}"

    def recompute_checksum(self) -> str:
        """Return the digest recomputed from every entry (O(n), for scrubbing and tests)."""
        total = sum(entry_digest(k, v) for k, v in self._tree.scan()) & _MASK
        return f"{total:032x}"

    def apply(self, lsn: int, command: bytes) -> Result:
        """Apply the command at ``lsn`` (see the module docstring) and return its result.

        Returns the cached result for an LSN already applied if it is among the last
        `RECENT_RESULTS`, else ``Result(ok=True, value=None)``. A command that does not
        decode is rejected deterministically: ``Result(ok=False, value=None)``, nothing
        changes but ``applied_lsn``. Raises ValueError on a gap (``lsn > applied_lsn + 1``).
        """
        applied = self.applied_lsn
        if lsn <= applied:
            cached = self._recent[lsn % RECENT_RESULTS]
            return cached[1] if cached is not None and cached[0] == lsn else _UNKNOWN
        if lsn != applied + 1:
            raise ValueError(
                f"apply needs the next LSN: lsn={lsn} applied_lsn={applied}; apply the gap first"
            )
        if not command:
            result = _NOOP
        else:
            try:
                cmd = Command.decode(command)
            except (ValueError, TypeError) as exc:
                log.warning("kv: rejecting undecodable command at lsn=%d: %s", lsn, exc)
                result = _UNDECODABLE
            else:
                result = self._apply_once(cmd)
        self.applied_lsn = lsn
        self._recent[lsn % RECENT_RESULTS] = (lsn, result)
        return result

    def _apply_once(self, cmd: Command) -> Result:
        rid = cmd.request_id
        if rid:
            last = self._sessions.get(cmd.client_id)
            if last is not None and rid <= last[0]:
                return last[1] if rid == last[0] else _UNKNOWN
        result = self._execute(cmd)
        if rid:
            self._sessions[cmd.client_id] = (rid, result)
        return result

    def _execute(self, cmd: Command) -> Result:
        tree, key, op = self._tree, cmd.key, cmd.op
        if op == "put":
            self._set(key, cmd.value, tree.put(key, cmd.value))
            return _NOOP
        if op == "delete":
            old = tree.delete(key)
            if old is not None:
                self._sum = (self._sum - entry_digest(key, old)) & _MASK
            return _NOOP
        current = tree.get(key)
        if op == "append":
            new = cmd.value if current is None else current + cmd.value
            tree.put(key, new)
            self._set(key, new, current)
            return Result(ok=True, value=new)
        if current != cmd.expected:  # cas
            return Result(ok=False, value=current)
        tree.put(key, cmd.value)
        self._set(key, cmd.value, current)
        return Result(ok=True, value=cmd.value)

    def _set(self, key: bytes, value: bytes, old: bytes | None) -> None:
        total = self._sum + entry_digest(key, value)
        if old is not None:
            total -= entry_digest(key, old)
        self._sum = total & _MASK

    def checkpoint(self) -> None:
        """Make the state at `applied_lsn` durable (a B-tree checkpoint; see `BTree`)."""
        self._tree.checkpoint(self.applied_lsn, _encode_meta(self._sum, self._sessions))

    @property
    def checkpoint_lsn(self) -> int:
        """The LSN of the last durable checkpoint (0: none)."""
        return self._tree.checkpoint_lsn

    def snapshot(self) -> bytes:
        """Return the whole state at `applied_lsn` (contents and dedup table) as bytes."""
        parts = [_SNAP_HEAD.pack(_SNAP_MAGIC, self.applied_lsn, len(self._tree))]
        for k, v in self._tree.scan():
            parts += (_ENTRY.pack(len(k), len(v)), k, v)
        parts.append(_encode_meta(self._sum, self._sessions))
        data = b"".join(parts)
        return data + _LEN.pack(crc32c.crc32c(data))

    def install_snapshot(self, snapshot: bytes, lsn: int) -> None:
        """Replace the whole state with ``snapshot`` (from `snapshot` at ``lsn``), in memory.

        Call `checkpoint` to make it durable. Raises ValueError, changing nothing, if the
        snapshot is damaged, was taken at another LSN, or ``lsn < applied_lsn``.
        """
        if lsn < self.applied_lsn:
            raise ValueError(
                f"snapshot would go back: lsn={lsn} applied_lsn={self.applied_lsn}"
            )
        items, total, sessions = _decode_snapshot(snapshot, lsn)
        self._tree.replace_all(items)
        self._sum, self._sessions = total, sessions
        self._recent = [None] * RECENT_RESULTS
        self.applied_lsn = lsn


def recover(disk: Disk, name: str, wal: WAL) -> KVStore:
    """Return the store ``name`` as of ``wal``'s last record: last checkpoint + replay.

    ``wal`` payloads are encoded commands and its LSNs are the store's. Raises ValueError
    if the WAL no longer holds the records after the checkpoint, and
    `storage.CorruptionError` if a record fails its checksum (it is never applied).
    """
    kv = KVStore.open(disk, name)
    replayed = 0
    for lsn, payload in wal.records(kv.applied_lsn + 1):
        kv.apply(lsn, payload)
        replayed += 1
    log.info("kv %s: recovered checkpoint_lsn=%d replayed=%d", name, kv.checkpoint_lsn, replayed)
    return kv


def _encode_meta(total: int, sessions: dict[int, tuple[int, Result]]) -> bytes:
    parts = [_META_MAGIC, total.to_bytes(16, "little"), _LEN.pack(len(sessions))]
    for client_id in sorted(sessions):
        rid, res = sessions[client_id]
        value = res.value
        parts.append(_SESSION.pack(client_id, rid, res.ok, -1 if value is None else len(value)))
        if value is not None:
            parts.append(value)
    return b"".join(parts)


def _decode_meta(data: bytes, at: int = 0) -> tuple[int, dict[int, tuple[int, Result]]]:
    """Return ``(checksum, sessions)``; ValueError if malformed or not ending with ``data``."""
    try:
        if data[at : at + 4] != _META_MAGIC:
            raise ValueError(f"kv meta has wrong magic: magic={data[at : at + 4]!r}")
        total = int.from_bytes(data[at + 4 : at + 20], "little")
        (n,) = _LEN.unpack_from(data, at + 20)
        at += 24
        sessions: dict[int, tuple[int, Result]] = {}
        for _ in range(n):
            client_id, rid, ok, size = _SESSION.unpack_from(data, at)
            at += _SESSION.size
            value = None if size < 0 else data[at : at + size]
            at += max(size, 0)
            sessions[client_id] = (rid, Result(ok=bool(ok), value=value))
    except struct.error as exc:
        raise ValueError(f"kv meta is truncated: {exc}") from None
    if at != len(data):
        raise ValueError(f"kv meta has trailing bytes: end={at} size_bytes={len(data)}")
    return total, sessions


def _decode_snapshot(
    data: bytes, lsn: int
) -> tuple[list[tuple[bytes, bytes]], int, dict[int, tuple[int, Result]]]:
    if len(data) < _SNAP_HEAD.size + _LEN.size:
        raise ValueError(f"snapshot too short: size_bytes={len(data)}")
    (crc,) = _LEN.unpack_from(data, len(data) - _LEN.size)
    body = data[: -_LEN.size]
    if crc32c.crc32c(body) != crc:
        raise ValueError(f"snapshot fails its checksum: stored={crc:#x}")
    magic, snap_lsn, count = _SNAP_HEAD.unpack_from(body, 0)
    if magic != _SNAP_MAGIC or snap_lsn != lsn:
        raise ValueError(
            f"snapshot is not for this lsn: magic={magic!r} snapshot_lsn={snap_lsn} lsn={lsn}"
        )
    at = _SNAP_HEAD.size
    items = []
    try:
        for _ in range(count):
            klen, vlen = _ENTRY.unpack_from(body, at)
            at += _ENTRY.size
            items.append((body[at : at + klen], body[at + klen : at + klen + vlen]))
            at += klen + vlen
    except struct.error:
        raise ValueError(f"snapshot entries are truncated: count={count}") from None
    total, sessions = _decode_meta(body, at)
    if (sum(entry_digest(k, v) for k, v in items) & _MASK) != total:
        raise ValueError("snapshot contents do not match its checksum")
    return items, total, sessions
