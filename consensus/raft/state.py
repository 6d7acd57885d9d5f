"""Copying and fingerprinting a Raft node's whole state (for an explicit-state explorer).

`clone_raft` copies every mutable container and shares immutables (ints, bytes, tuples,
frozen configs, the ``choose`` callable). `fingerprint_raft` encodes every attribute that
decides the node's future behaviour as a tuple of ints, bytes, bools, None and tuples,
with dicts and sets sorted, marshalled with version 2: equal states give equal bytes in
every process, whatever the hash seed.

`SHARED` and `COPIED` name every attribute a node has; a test fails when the node gains one
these tuples do not name, so a new field cannot go silently uncopied or unfingerprinted.
"""

from __future__ import annotations

import marshal
from typing import Any, TypeVar

from consensus.raft.log import RaftLog

R = TypeVar("R")

SHARED: frozenset[str] = frozenset((
    "config", "node_id", "_choose", "_flags", "_timing", "_initial_cfg", "term", "voted_for",
    "role", "leader_id", "commit_index", "applied_index", "_members", "_cfg_index", "_cfg_cmd",
    "_grant_until", "_deadline", "_pre", "_own_stamp", "_cq_deadline", "_hb_due", "_target",
    "_first_own", "_now", "_timer_at", "_started", "_recovered",
))
COPIED: frozenset[str] = frozenset((
    "log", "_votes", "_next", "_match", "_stamps", "_heard", "_pending", "_records", "_out",
))


def clone_raft(node: R) -> R:
    """A copy of ``node`` sharing no mutable object with it."""
    r: Any = node
    d = r.__dict__.copy()
    log: RaftLog = r.log
    d["log"] = RaftLog(log.snap_index, log.snap_term, log.snap_config, log.snapshot,
                       list(log.entries))
    for name in ("_votes", "_heard"):
        d[name] = set(d[name])
    for name in ("_next", "_match", "_stamps", "_pending"):
        d[name] = dict(d[name])
    d["_records"] = list(r._records)
    d["_out"] = list(r._out)
    new = object.__new__(type(r))
    new.__dict__ = d
    copy: R = new
    return copy


def fingerprint_raft(r: Any) -> bytes:
    """Canonical bytes of ``r``'s state (see the module doc)."""
    log: RaftLog = r.log
    m, t = r._members, r._target
    parts = (
        r.node_id, r.role.value, r.term, r.voted_for, r.leader_id, r.commit_index,
        r.applied_index,
        (log.snap_index, log.snap_term, log.snap_config, log.snapshot, tuple(log.entries)),
        (m.voters, m.learners), r._cfg_index, r._cfg_cmd,
        r._grant_until, r._deadline, r._pre, tuple(sorted(r._votes)),
        tuple(sorted(r._next.items())), tuple(sorted(r._match.items())),
        tuple(sorted(r._stamps.items())), r._own_stamp, tuple(sorted(r._heard)),
        r._cq_deadline, r._hb_due, tuple(sorted(r._pending.items())),
        None if t is None else (t.voters, t.learners), r._first_own, r._timer_at,
        r._started, r._recovered,
    )
    return marshal.dumps(parts, 2)
