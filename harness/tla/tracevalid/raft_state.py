"""The Raft validator's per-node abstract state (`RaftNode`) and its line readers.

A node's log is held as ``(term, value)`` pairs after its snapshot point; values are the
trace's names (`harness.tla.tracevalid.raft_writer.raft_value`), configurations
``"cfg:<voters>|<learners>"``.
"""

from __future__ import annotations

from typing import Any

import attrs

from harness.tla.tracevalid.verdict import TraceInputError

Members = tuple[tuple[int, ...], tuple[int, ...]]
"""A configuration: (voters, learners)."""


def parse_cfg(value: str) -> Members:
    """The configuration named ``"cfg:<voters>|<learners>"``."""
    try:
        voters, learners = value[len("cfg:"):].split("|")
        ids = [tuple(int(x) for x in part.split(",") if x) for part in (voters, learners)]
    except ValueError:
        raise TraceInputError(f"bad configuration value={value!r}") from None
    return ids[0], ids[1]


def quorum(ids: set[int] | list[int], voters: tuple[int, ...]) -> bool:
    return 2 * len(set(ids) & set(voters)) > len(voters)


@attrs.define
class RaftNode:
    up: bool = False
    term: int = 0
    vote: int | None = None
    role: str = "follower"
    log: list[tuple[int, str]] = attrs.Factory(list)
    snap: int = 0
    snap_term: int = 0
    snap_cfg: Members = ((), ())
    commit: int = 0
    sent: int = 0

    def last(self) -> int:
        return self.snap + len(self.log)

    def term_at(self, i: int) -> int | None:
        if i == self.snap:
            return self.snap_term
        if i < self.snap or i > self.last():
            return None
        return self.log[i - self.snap - 1][0]

    def config(self, upto: int | None = None) -> Members:
        """The last configuration in the log up to ``upto`` (default: all of it)."""
        end = len(self.log) if upto is None else max(0, min(upto - self.snap, len(self.log)))
        for k in range(end - 1, -1, -1):
            if self.log[k][1].startswith("cfg:"):
                return parse_cfg(self.log[k][1])
        return self.snap_cfg

    def cfg_index(self) -> int:
        for k in range(len(self.log) - 1, -1, -1):
            if self.log[k][1].startswith("cfg:"):
                return self.snap + 1 + k
        return self.snap


def entries(value: Any) -> list[tuple[int, int, str]]:
    if not isinstance(value, list):
        raise TraceInputError(f"entries must be a list, got entries={value!r}")
    out = []
    for e in value:
        if not (isinstance(e, list) and len(e) == 3 and all(isinstance(x, int) for x in e[:2])
                and isinstance(e[2], str)):
            raise TraceInputError(f"an entry is [index, term, value], got entry={e!r}")
        out.append((e[0], e[1], e[2]))
    return out
