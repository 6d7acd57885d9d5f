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

from storage._kv_command import _HAS_EXPECTED, _HEAD
from storage._kv_command import _LEN as _EXPECTED_LEN
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
# Op codes as `Command.encode` writes them (OPS order, from 1).
_PUT, _DELETE, _CAS, _APPEND = 1, 2, 3, 4
_CAS_EXPECTED = _CAS | _HAS_EXPECTED
_HEAD_BYTES = _HEAD.size


def entry_digest(key: bytes, value: bytes) -> int:
    """Return the 128-bit digest of one entry; the store's checksum is their sum mod 2**128."""
    h = hashlib.blake2b(_LEN.pack(len(key)), digest_size=16)
    h.update(key)
    h.update(value)
    return int.from_bytes(h.digest(), "little")


_Fields = tuple[int, bytes, bytes, bytes | None, int, int]
"""A decoded command: (op code 1..4, key, value, expected, client_id, request_id)."""


def _parse(data: bytes) -> _Fields | None:
    """Decode ``data`` as `Command.decode` would, without building a `Command`.

    Returns None instead of raising whenever ``data`` is not a valid command (the caller
    then runs `Command.decode`, which raises the precise error): every rule `Command.decode`
    checks is checked here too, so a non-None answer is exactly its fields. The hot path of
    `KVStore.apply`, where every replica and the checkers decode every command.
    """
    size = len(data)
    if size < _HEAD_BYTES:
        return None
    code, client_id, request_id, key_len, value_len = _HEAD.unpack_from(data, 0)
    at = _HEAD_BYTES
    if code == _CAS_EXPECTED:
        if size < at + 4:
            return None
        (expected_len,) = _EXPECTED_LEN.unpack_from(data, at)
        at += 4
        end = at + key_len + value_len + expected_len
        code = _CAS
    elif _PUT <= code <= _APPEND:  # no expected: only cas may carry one
        expected_len = -1
        end = at + key_len + value_len
        if code == _DELETE and value_len:
            return None
    else:
        return None
    if end != size:
        return None
    value_at = at + key_len
    expected = None if expected_len < 0 else data[value_at + value_len : end]
    key = data[at:value_at]
    value = data[value_at : value_at + value_len]
    return code, key, value, expected, client_id, request_id


def command_key(command: bytes) -> bytes:
    """Return the key of the encoded ``command`` (what ``Command.decode(command).key`` gives).

    Raises ValueError if ``command`` does not decode, as `Command.decode` does. For checkers
    that follow keys through the log: no `Command` is built for a valid command.
    """
    fields = _parse(command) if type(command) is bytes else None
    return Command.decode(command).key if fields is None else fields[1]


def _fields(cmd: Command) -> _Fields:
    return OPS.index(cmd.op) + 1, cmd.key, cmd.value, cmd.expected, cmd.client_id, cmd.request_id


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
        # key -> (its value, entry_digest) as last set here: the digest to subtract when the
        # entry is overwritten (checked against the old value, so a stale entry is harmless).
        self._digests: dict[bytes, tuple[bytes, int]] = {}
        self._meta_cache: _MetaCache = {}  # see `_encode_meta`
        if tree.checkpoint_lsn or tree.meta:
            self._sum, self._sessions = _decode_meta(tree.meta)

    @classmethod
    def open(
        cls, disk: Disk, name: str = "kv", *, fanout: int = 64, min_compact_bytes: int = 1 << 20
    ) -> KVStore:
        """Load the last checkpoint of store ``name`` on ``disk`` (empty, LSN 0, if none).
        ``fanout`` and ``min_compact_bytes`` are the B-tree's (`storage.BTree.open`).

        Raises `storage.CorruptionError` if the checkpoint is damaged.
        """
        return cls(BTree.open(disk, name, fanout=fanout, min_compact_bytes=min_compact_bytes))

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
            fields = _parse(command) if type(command) is bytes else None
            if fields is None:
                try:
                    fields = _fields(Command.decode(command))
                except (ValueError, TypeError) as exc:
                    log.warning("kv: rejecting undecodable command at lsn=%d: %s", lsn, exc)
                    fields = None
            result = _UNDECODABLE if fields is None else self._apply_once(*fields)
        self.applied_lsn = lsn
        self._recent[lsn % RECENT_RESULTS] = (lsn, result)
        return result

    def _apply_once(
        self, code: int, key: bytes, value: bytes, expected: bytes | None, client: int, rid: int
    ) -> Result:
        if rid:
            last = self._sessions.get(client)
            if last is not None and rid <= last[0]:
                return last[1] if rid == last[0] else _UNKNOWN
        result = self._execute(code, key, value, expected)
        if rid:
            self._sessions[client] = (rid, result)
        return result

    def _execute(self, code: int, key: bytes, value: bytes, expected: bytes | None) -> Result:
        tree = self._tree
        if code == _PUT:
            self._set(key, value, tree.put(key, value))
            return _NOOP
        if code == _DELETE:
            old = tree.delete(key)
            if old is not None:
                self._sum = (self._sum - self._digest(key, old)) & _MASK
                self._digests.pop(key, None)
            return _NOOP
        current = tree.get(key)
        if code == _APPEND:
            new = value if current is None else current + value
            tree.put(key, new)
            self._set(key, new, current)
            return Result(ok=True, value=new)
        if current != expected:  # cas
            return Result(ok=False, value=current)
        tree.put(key, value)
        self._set(key, value, current)
        return Result(ok=True, value=value)

    def _digest(self, key: bytes, value: bytes) -> int:
        """`entry_digest` of the entry ``key: value``, from the cache when it holds it."""
        cached = self._digests.get(key)
        if cached is not None and cached[0] == value:
            return cached[1]
        return entry_digest(key, value)

    def _set(self, key: bytes, value: bytes, old: bytes | None) -> None:
        digest = entry_digest(key, value)
        total = self._sum + digest
        if old is not None:
            total -= self._digest(key, old)
        self._sum = total & _MASK
        self._digests[key] = (value, digest)

    def checkpoint(self) -> None:
        """Make the state at `applied_lsn` durable (a B-tree checkpoint; see `BTree`)."""
        self._tree.checkpoint(self.applied_lsn, _encode_meta(self._sum, self._sessions,
                                                             self._meta_cache))

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
        self._digests = {}
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


_MetaCache = dict[int, tuple[tuple[int, Result], bytes]]
"""client id -> (its session tuple, that session's encoding), kept by a store between
checkpoints: a checkpoint re-encodes only the sessions that changed since the last one."""


def _encode_meta(
    total: int, sessions: dict[int, tuple[int, Result]], cache: _MetaCache | None = None
) -> bytes:
    """Encode the checksum and the dedup table. ``cache`` holds earlier encodings: one is
    reused only for the very same session tuple (sessions are replaced, never changed, so
    that is the same session), never by equal-looking values."""
    parts = [_META_MAGIC, total.to_bytes(16, "little"), _LEN.pack(len(sessions))]
    for client_id in sorted(sessions):
        session = sessions[client_id]
        if cache is not None:
            hit = cache.get(client_id)
            if hit is not None and hit[0] is session:
                parts.append(hit[1])
                continue
        rid, res = session
        value = res.value
        encoded = _SESSION.pack(client_id, rid, res.ok, -1 if value is None else len(value))
        if value is not None:
            encoded += value
        if cache is not None:
            cache[client_id] = (session, encoded)
        parts.append(encoded)
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
