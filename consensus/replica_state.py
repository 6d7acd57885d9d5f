"""Copying and fingerprinting a replica's whole state, for the explorer (hot paths both).

`clone_replica` is a hand-written copy: every mutable container and mutable attrs instance is
copied explicitly, immutables (ints, bytes, ballots, frozen messages, the config, the
``choose`` callable) are shared. `fingerprint` encodes the state that decides a replica's
future behaviour as canonical bytes.

Both must know every attribute: `SHARED` and `COPIED` list a replica's attributes,
`*_FIELDS` the fields of the role states, in their attrs order. Tests fail when a class
gains a field these tuples do not name, so a new field cannot go silently uncopied or
unfingerprinted.

The fingerprint layout (a mirror such as a relabelling explorer can rebuild it): a tuple of
ints, bytes, bools, None and tuples only, encoded with `marshal` version 2 (no object
references, so the bytes depend on values alone, never on identity or ``hash()``); a ballot
is ``(round, node)``, a role state the tuple of its fields in ``*_FIELDS`` order, a dict the
tuple of its items in insertion order, a list a tuple.
"""

from __future__ import annotations

import marshal
from typing import Any, TypeVar

from consensus.ballot import Ballot
from consensus.records import DurableState
from consensus.roles import CandidateState, FollowerState, LeaderState, Role
from consensus.snapshot_stream import Assembly

R = TypeVar("R")
"""A `consensus.replica.Replica` (this module takes it structurally, so that the replica
imports this module and never the other way round)."""

SHARED: frozenset[str] = frozenset((
    "config", "node_id", "_choose", "_flags", "_timing", "_is_log", "_log_kind", "_recovered",
    "_promised", "_max_round", "role", "leader_ballot", "commit_index", "applied_index",
    "_last_heard_us", "_grant_until_us", "_grant_ballot", "_earlier_grants_until_us",
    "_catch_up_from", "_catch_up_retry_us", "_catch_up_target", "_now", "_initial", "_peers",
    "_peers_key", "_timer_us", "_started", "_lease_us", "_cfg_gen", "_current", "_pending_gen",
    "_pending_commit", "_pending",
))
"""Replica attributes holding immutable values (shared by a clone)."""

COPIED: frozenset[str] = frozenset((
    "_bit", "_durable", "_out", "_pending_records", "_cfg_slots", "_cfg_memo", "_mask_memo",
    "_assembly", "_fstate", "_cstate", "_lstate",
))
"""Replica attributes holding mutable values (copied by a clone)."""

DURABLE_FIELDS = (
    "promised", "accepted", "commit_hint", "snapshot_slot", "snapshot", "config_slot", "config"
)
ASSEMBLY_FIELDS = ("slot", "total", "data", "source")
FOLLOWER_FIELDS = ("timeout_us", "deadline_us", "probe_id", "not_hearing")
CANDIDATE_FIELDS = ("ballot", "deadline_us", "from_slot", "promises", "asked")
LEADER_FIELDS = (
    "ballot", "next_slot", "recovery_slot", "elected_us", "quorum_since_us",
    "lease_wait_until_us", "next_heartbeat_us", "own_stamp_us", "quorum_stamp_us", "votes",
    "stamps", "pending", "queue", "reads", "first_own_slot", "target", "applied", "heard_us",
)
PROMISE_FIELDS = (
    "ballot", "from_slot", "entries", "commit_index", "lease_remaining_us", "snapshot_slot",
    "snapshot", "config_slot", "config",
)
CLIENT_WRITE_FIELDS = ("client_id", "request_id", "command")
CLIENT_READ_FIELDS = ("client_id", "request_id", "key", "strong")

_FOLLOWER, _CANDIDATE = Role.FOLLOWER, Role.CANDIDATE  # role codes 0, 1; 2 is the leader


# ---------------------------------------------------------------------- clone
def clone_replica(replica: R) -> R:
    """Return a copy of ``replica`` that shares no mutable object with it (see module doc)."""
    r: Any = replica
    new = object.__new__(type(r))
    d = r.__dict__.copy()
    d["_bit"] = dict(r._bit)
    d["_durable"] = _copy_durable(r._durable)
    d["_out"] = list(r._out)
    d["_pending_records"] = list(r._pending_records)
    d["_cfg_slots"] = list(r._cfg_slots)
    d["_cfg_memo"] = dict(r._cfg_memo)
    d["_mask_memo"] = dict(r._mask_memo)
    asm = r._assembly
    if asm is not None:
        d["_assembly"] = Assembly(asm.slot, asm.total, bytearray(asm.data), asm.source)
    fs = r._fstate
    if fs is not None:
        d["_fstate"] = FollowerState(fs.timeout_us, fs.deadline_us, fs.probe_id, fs.not_hearing)
    cs = r._cstate
    if cs is not None:
        d["_cstate"] = CandidateState(
            cs.ballot, cs.deadline_us, cs.from_slot, dict(cs.promises), cs.asked
        )
    ls = r._lstate
    if ls is not None:
        d["_lstate"] = LeaderState(
            ls.ballot, ls.next_slot, ls.recovery_slot, ls.elected_us, ls.quorum_since_us,
            ls.lease_wait_until_us, ls.next_heartbeat_us, ls.own_stamp_us, ls.quorum_stamp_us,
            dict(ls.votes), dict(ls.stamps), dict(ls.pending), list(ls.queue), list(ls.reads),
            ls.first_own_slot, ls.target, dict(ls.applied), dict(ls.heard_us),
        )
    new.__dict__ = d
    copy: R = new
    return copy


def _copy_durable(s: DurableState) -> DurableState:
    return DurableState(
        s.promised, dict(s.accepted), s.commit_hint, s.snapshot_slot, s.snapshot, s.config_slot,
        s.config,
    )


# ---------------------------------------------------------------------- fingerprint
def fingerprint(r: Any) -> bytes:
    """Canonical bytes of ``r``'s state (the layout in the module doc; equal states give
    equal bytes in every process)."""
    d = r._durable
    acc = d.accepted
    asm = r._assembly
    fs, cs, ls = r._fstate, r._cstate, r._lstate
    role = r.role
    p, dp, lb, gb = r._promised, d.promised, r.leader_ballot, r._grant_ballot
    entries = []
    for s in sorted(acc):
        e = acc[s]
        b = e.ballot
        entries.append((s, b.round, b.node, e.command))
    parts = (
        r.node_id,
        0 if role is _FOLLOWER else (1 if role is _CANDIDATE else 2),
        (p.round, p.node),
        (dp.round, dp.node),
        tuple(entries),
        d.commit_hint,
        d.snapshot_slot,
        d.snapshot,
        d.config_slot,
        d.config,
        r.commit_index,
        r.applied_index,
        None if lb is None else (lb.round, lb.node),
        r._max_round,
        r._last_heard_us,
        r._grant_until_us,
        None if gb is None else (gb.round, gb.node),
        r._earlier_grants_until_us,
        r._timer_us,
        (r._catch_up_from, r._catch_up_target, r._catch_up_retry_us),
        None if asm is None else (asm.slot, asm.total, bytes(asm.data), asm.source),
        None if fs is None else (fs.timeout_us, fs.deadline_us, fs.probe_id, fs.not_hearing),
        None if cs is None else _candidate_parts(cs),
        None if ls is None else _leader_parts(ls),
    )
    return marshal.dumps(parts, 2)


def _ballot(b: Ballot | None) -> tuple[int, int] | None:
    return None if b is None else (b.round, b.node)


def _candidate_parts(cs: CandidateState) -> tuple[Any, ...]:
    promises = tuple([(n, _promise_parts(p)) for n, p in cs.promises.items()])
    return (_ballot(cs.ballot), cs.deadline_us, cs.from_slot, promises, cs.asked)


def _promise_parts(p: Any) -> tuple[Any, ...]:
    entries = tuple([(e.slot, e.ballot.round, e.ballot.node, e.command) for e in p.entries])
    return (
        _ballot(p.ballot), p.from_slot, entries, p.commit_index, p.lease_remaining_us,
        p.snapshot_slot, p.snapshot, p.config_slot, p.config,
    )


def _leader_parts(ls: LeaderState) -> tuple[Any, ...]:
    target = ls.target
    return (
        _ballot(ls.ballot), ls.next_slot, ls.recovery_slot, ls.elected_us, ls.quorum_since_us,
        ls.lease_wait_until_us, ls.next_heartbeat_us, ls.own_stamp_us, ls.quorum_stamp_us,
        tuple(ls.votes.items()),
        tuple(ls.stamps.items()),
        tuple(ls.pending.items()),
        tuple([(w.client_id, w.request_id, w.command) for w in ls.queue]),
        tuple([(i, c.client_id, c.request_id, c.key, c.strong) for i, c in ls.reads]),
        ls.first_own_slot,
        None if target is None else (target.storage, target.logs),
        tuple(ls.applied.items()),
        tuple(ls.heard_us.items()),
    )
