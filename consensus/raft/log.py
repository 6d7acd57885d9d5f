"""The in-memory Raft log (entries after a snapshot point) and membership configurations.

A configuration travels through the log as a command starting with `CONFIG_MAGIC` (four 0xff
bytes, which no `storage.kv.Command` encoding starts with); the host is given it as a no-op
``Apply(command=b"")``. Per the Raft thesis a configuration takes effect on a node **when the
entry is appended** to its log, not when it is committed: `RaftLog.config` is the latest one
in the log (or in the snapshot), and truncating the entry reverts to the one before.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import attrs

CONFIG_MAGIC = b"\xff\xff\xff\xffraftcfg"
_COUNTS = struct.Struct(">HH")
_ID = struct.Struct(">I")


@attrs.frozen
class Members:
    """A configuration: ``voters`` (count in quorums, may lead) and ``learners`` (neither)."""

    voters: tuple[int, ...]
    learners: tuple[int, ...] = ()

    @property
    def quorum(self) -> int:
        """A majority of the voters."""
        return len(self.voters) // 2 + 1

    def is_quorum(self, ids: set[int] | frozenset[int]) -> bool:
        """True iff ``ids`` hold a majority of the voters."""
        return sum(1 for v in self.voters if v in ids) >= self.quorum

    @property
    def nodes(self) -> tuple[int, ...]:
        """Voters and learners, sorted."""
        return tuple(sorted(self.voters + self.learners))


def is_config(command: bytes) -> bool:
    """True iff ``command`` is a configuration entry."""
    return command.startswith(CONFIG_MAGIC)


def encode_config(m: Members) -> bytes:
    """The log command carrying ``m``."""
    parts = [CONFIG_MAGIC, _COUNTS.pack(len(m.voters), len(m.learners))]
    parts.extend(_ID.pack(i) for i in m.voters + m.learners)
    return b"".join(parts)


def decode_config(command: bytes) -> Members:
    """The configuration in ``command``; ValueError if `encode_config` did not write it."""
    if not is_config(command):
        raise ValueError(f"not a raft configuration command: prefix={command[:11]!r}")
    body = command[len(CONFIG_MAGIC):]
    if len(body) < _COUNTS.size:
        raise ValueError(f"configuration command too short: len={len(command)}")
    nv, nl = _COUNTS.unpack_from(body)
    if len(body) != _COUNTS.size + _ID.size * (nv + nl):
        raise ValueError(f"configuration command has wrong length: len={len(body)}")
    ids = [_ID.unpack_from(body, _COUNTS.size + _ID.size * k)[0] for k in range(nv + nl)]
    return Members(tuple(ids[:nv]), tuple(ids[nv:]))


@attrs.define
class RaftLog:
    """Entries ``snap_index + 1 .. last_index`` as ``(term, command)``, after a snapshot point.

    ``snap_config`` is the configuration command in force at ``snap_index`` (the initial one
    before any snapshot); ``snapshot`` the state machine bytes there (b"" for none).
    """

    snap_index: int = 0
    snap_term: int = 0
    snap_config: bytes = b""
    snapshot: bytes = b""
    entries: list[tuple[int, bytes]] = attrs.Factory(list)

    @property
    def last_index(self) -> int:
        return self.snap_index + len(self.entries)

    @property
    def last_term(self) -> int:
        return self.entries[-1][0] if self.entries else self.snap_term

    def term_at(self, index: int) -> int | None:
        """The term of the entry at ``index`` (the snapshot point included); None if unknown."""
        if index == self.snap_index:
            return self.snap_term
        if index < self.snap_index or index > self.last_index:
            return None
        return self.entries[index - self.snap_index - 1][0]

    def entry(self, index: int) -> tuple[int, bytes]:
        """``(term, command)`` at ``index`` (must be held)."""
        return self.entries[index - self.snap_index - 1]

    def slice(self, lo: int, hi: int) -> tuple[tuple[int, bytes], ...]:
        """Entries ``lo .. hi`` inclusive (all held)."""
        base = self.snap_index + 1
        return tuple(self.entries[lo - base: hi - base + 1])

    def append(self, term: int, command: bytes) -> int:
        self.entries.append((term, command))
        return self.last_index

    def truncate_from(self, index: int) -> None:
        """Drop every entry >= ``index``."""
        if index <= self.last_index:
            del self.entries[max(0, index - self.snap_index - 1):]

    def compact(self, index: int, term: int, config: bytes, snapshot: bytes) -> None:
        """Make ``index`` (term ``term``) the snapshot point; keep later entries only if the
        log agrees on ``index``'s term (else the whole log is replaced)."""
        if self.term_at(index) == term and index <= self.last_index:
            del self.entries[: index - self.snap_index]
        else:
            self.entries = []
        self.snap_index, self.snap_term = index, term
        self.snap_config, self.snapshot = config, snapshot

    def config_at_end(self, initial: bytes) -> tuple[int, bytes]:
        """``(index, command)`` of the latest configuration in the log or snapshot."""
        for k in range(len(self.entries) - 1, -1, -1):
            command = self.entries[k][1]
            if is_config(command):
                return self.snap_index + 1 + k, command
        return self.snap_index, self.snap_config or initial

    def config_before(self, index: int, initial: bytes) -> bytes:
        """The configuration command in force at ``index`` (entries <= index)."""
        last = min(index, self.last_index) - self.snap_index
        for k in range(last - 1, -1, -1):
            command = self.entries[k][1]
            if is_config(command):
                return command
        return self.snap_config or initial

    def items(self) -> Iterator[tuple[int, int, bytes]]:
        """``(index, term, command)`` for every held entry."""
        for k, (term, command) in enumerate(self.entries):
            yield self.snap_index + 1 + k, term, command
