"""Symmetry reduction: states that differ only by a permutation of interchangeable node ids
are one state to the explorer.

Permuting replica ids is not a symmetry of this protocol in general. What breaks it, found by
reading `consensus` (each item names the code):

1. ballots are (round, node id) and break ties by id (`consensus.ballot`), so two nodes
   that may both campaign behave differently;
2. catch-up retries rotate through the peers in id order (`consensus.catch_up.
   CatchUpMixin._request_catch_up`): a node asks the peer after the last one it tried;
3. a candidate behind a log replica's truncation asks the first storage peer by id
   (`Replica._check_phase1`);
4. the healing plan replaces the lowest-id dead storage voter and adds the lowest-id free
   spare (`consensus.healing.plan_healing`), and `consensus.quorum.next_change` adds and
   removes voters in id order;
5. vote and probe bitmasks give each node the bit of its rank in the sorted universe
   (`AcceptorCore._bit`): harmless, they are relabelled with the ids.

So the interchangeable nodes are those that never own a ballot: the storage replicas beyond
``Bounds.candidates``. Item 2 is then handled by keeping only the permutations that map every
node's peer list, read as a cycle in id order, onto the cycle of its image (with 3 replicas
every permutation of the non-candidates does; with 4 or more nodes none but the identity
does, so the reduction is a no-op there until catch-up stops depending on id order). Items 3
and 4 only act when membership is explored, so with spares the group is the identity alone.

The canonical fingerprint of a state is the least, over the group, of the fingerprint of
the relabelled state: every id-bearing field is relabelled consistently (each replica's id,
role state: promise sets, vote and probe masks, per-peer stamps, applied slots and last
heard times; in-flight messages' sources and destinations; clients' target nodes; the
ghost's per-node promises). Ballots keep their node ids: only candidates own ballots, and
the group fixes them. Durable logs, state machines and message bodies carry no id of a
non-candidate (no configuration entries without membership), so they move with their node.
"""

from __future__ import annotations

import itertools
from typing import Any

import attrs

from harness.explore.bounds import Bounds
from harness.explore.clone import copy_replica

Perm = tuple[int, ...]
"""A permutation of node ids: ``perm[x]`` is the image of node ``x``."""


@attrs.frozen
class Symmetry:
    """The group of id permutations the explorer identifies states by.

    ``perms[0]`` is the identity; ``inverses[k]`` is the inverse of ``perms[k]``;
    ``orbits`` the sets of interchangeable nodes (empty: no reduction).
    """

    perms: tuple[Perm, ...]
    inverses: tuple[Perm, ...]
    orbits: tuple[tuple[int, ...], ...]

    @property
    def trivial(self) -> bool:
        """True iff the group is the identity alone (fingerprints are the plain ones)."""
        return len(self.perms) == 1

    def to_json(self) -> dict[str, Any]:
        return {"orbits": [list(o) for o in self.orbits], "group_order": len(self.perms)}


_CACHE: dict[Bounds, Symmetry] = {}


def symmetry_for(bounds: Bounds) -> Symmetry:
    """Return the symmetry group the explorer may use under ``bounds`` (see module doc)."""
    sym = _CACHE.get(bounds)
    if sym is None:
        sym = _CACHE[bounds] = _build(bounds)
    return sym


def _build(bounds: Bounds) -> Symmetry:
    n = bounds.nodes
    identity = tuple(range(n))
    free = tuple(range(bounds.n_candidates, bounds.replicas))
    if not bounds.symmetry or bounds.membership or len(free) < 2:
        return Symmetry(perms=(identity,), inverses=(identity,), orbits=())
    perms = [identity]
    for images in itertools.permutations(free):
        perm = list(identity)
        for src, dst in zip(free, images, strict=True):
            perm[src] = dst
        p = tuple(perm)
        if p != identity and _keeps_peer_cycles(p):
            perms.append(p)
    orbits = (free,) if len(perms) > 1 else ()
    inverses = tuple(_inverse(p) for p in perms)
    return Symmetry(perms=tuple(perms), inverses=inverses, orbits=orbits)


def _inverse(p: Perm) -> Perm:
    inv = [0] * len(p)
    for x, y in enumerate(p):
        inv[y] = x
    return tuple(inv)


def _keeps_peer_cycles(p: Perm) -> bool:
    """True iff for every node x, p maps x's peers in cyclic id order onto p(x)'s peers in
    cyclic id order (the catch-up retry order, item 2 of the module doc)."""
    n = len(p)
    for x in range(n):
        mine = [p[u] for u in range(n) if u != x]
        theirs = [u for u in range(n) if u != p[x]]
        if not mine:
            continue
        start = mine.index(theirs[0])
        if mine[start:] + mine[:start] != theirs:
            return False
    return True


# ---- relabelling a replica's fingerprint ----------------------------------------------

FOLLOWER_FIELDS = ("timeout_us", "deadline_us", "probe_id", "not_hearing")
CANDIDATE_FIELDS = ("ballot", "deadline_us", "from_slot", "promises", "asked")
LEADER_FIELDS = (
    "ballot", "next_slot", "recovery_slot", "elected_us", "quorum_since_us",
    "lease_wait_until_us", "next_heartbeat_us", "own_stamp_us", "quorum_stamp_us", "votes",
    "stamps", "pending", "queue", "reads", "first_own_slot", "target", "applied", "heard_us",
)
ID_ATTRS = ("node_id", "_peers", "_catch_up_target", "_fstate", "_cstate", "_lstate")
"""The replica attributes holding node ids besides ballots (which name candidates only,
fixed by the group) and ``_bit`` (a node's rank in the universe, the same map for every
relabelling of it): the role states' masks (``not_hearing``, ``asked``, ``votes``) and
per-node keys (``promises``, ``stamps``, ``applied``, ``heard_us``). The role states' fields
are listed above so a test fails when one is added; top-level attributes are reviewed in
the module doc, and the soundness test compares reduced and full searches."""


def relabel_mask(mask: int, p: Perm) -> int:
    """The bitmask ``mask`` (bit x = node x) with each node x moved to p[x]."""
    out = 0
    x = 0
    while mask:
        if mask & 1:
            out |= 1 << p[x]
        mask >>= 1
        x += 1
    return out


def relabel_replica(r: Any, p: Perm) -> Any:
    """A copy of replica ``r`` with every node id x replaced by p[x] (the replica p(r)
    would be in the permuted state). ``config`` keeps the old ``node_id``: only the
    fingerprint of the copy is used, which does not read it."""
    c = copy_replica(r)
    c.node_id = p[r.node_id]
    c._peers = tuple(sorted(p[x] for x in r._peers))
    c._catch_up_target = r._catch_up_target if r._catch_up_target < 0 else p[r._catch_up_target]
    fs, cs, ls = c._fstate, c._cstate, c._lstate
    if fs is not None:
        fs.not_hearing = relabel_mask(fs.not_hearing, p)
    if cs is not None:
        cs.promises = {p[n]: m for n, m in cs.promises.items()}
        cs.asked = relabel_mask(cs.asked, p)
    if ls is not None:
        ls.votes = {s: relabel_mask(m, p) for s, m in ls.votes.items()}
        ls.stamps = {p[n]: t for n, t in ls.stamps.items()}
        ls.applied = {p[n]: a for n, a in ls.applied.items()}
        ls.heard_us = {p[n]: t for n, t in ls.heard_us.items()}
    return c


def replica_fingerprint(r: Any, p: Perm) -> bytes:
    """``state_fingerprint()`` of the replica relabelled by ``p`` (`relabel_replica`)."""
    fp: bytes = relabel_replica(r, p).state_fingerprint()
    return fp


def relabelled_fingerprints(r: Any, sym: Symmetry) -> tuple[bytes, ...]:
    """``r``'s fingerprint under each of ``sym``'s permutations but the identity, in order
    (empty for the trivial group): what `world_fingerprint` reads from ``sfps``."""
    return tuple(replica_fingerprint(r, p) for p in sym.perms[1:])


def relabel_ops(ops: list[tuple[str, int]], p: Perm) -> list[tuple[str, int]]:
    """Client ops ``(status, node)`` with their node relabelled (-1: none)."""
    return [(s, n if n < 0 else p[n]) for s, n in ops]


def relabel_msg_keys(
    keys: list[tuple[tuple[int, int, str], int]], p: Perm
) -> list[tuple[tuple[int, int, str], int]]:
    """In-flight ``((dst, src, repr), count)`` relabelled, in canonical (sorted) order."""
    return sorted(((p[d], p[s], r), c) for (d, s, r), c in keys)


def world_fingerprint(w: Any) -> bytes:
    """Canonical bytes of `harness.explore.world.World` ``w``: equal states give equal
    bytes in any process; under ``w.sym``, the least over the group's relabellings, so
    states that differ by a permutation of interchangeable nodes give equal bytes.

    Uses the caches the world keeps (``rfps``, ``sfps``: each replica's fingerprint, plain
    and relabelled by each non-identity permutation; ``fpc``: the bytes of the in-flight
    messages and of the history, valid while the world holds those very objects, which
    are replaced, never changed in place, by a transition)."""
    now = str(w.now_us).encode()
    msgs, history, ops, used = w.msgs, w.history, w.ops, w.used
    # (msgs, bytes, history, bytes, ops, used, bytes, bytes): none is ever changed in place
    cache = w.fpc
    if cache is not None and cache[0] is msgs:
        mbytes = cache[1]
    else:
        mbytes = repr([(k, c) for k, (_, c) in msgs.items()]).encode()
    if cache is not None and cache[2] is history:
        hbytes = cache[3]
    else:
        hbytes = repr([(e.process, e.type, e.value) for e in history]).encode()
    if cache is not None and cache[4] is ops and cache[5] is used:
        obytes, ubytes = cache[6], cache[7]
    else:
        obytes, ubytes = repr(ops).encode(), repr(sorted(used.items())).encode()
    w.fpc = (msgs, mbytes, history, hbytes, ops, used, obytes, ubytes)
    parts: list[bytes] = [now]
    for n, fp in enumerate(w.rfps):
        parts.append(fp)
        parts.append(w.wal_digests[n])
        parts.append(w.kfps[n])
    parts.append(mbytes)
    parts += (obytes, ubytes, hbytes, w.ghost.fingerprint())
    best = b"\x00".join(parts)
    sym = w.sym
    keys = [(k, c) for k, (_, c) in msgs.items()] if not sym.trivial else []
    for k in range(1, len(sym.perms)):
        p, inv = sym.perms[k], sym.inverses[k]
        parts = [now]
        for y in range(len(w.rfps)):
            x = inv[y]
            parts += (w.sfps[x][k - 1], w.wal_digests[x], w.kfps[x])
        parts.append(repr(relabel_msg_keys(keys, p)).encode())
        parts.append(repr(relabel_ops(ops, p)).encode())
        parts += (ubytes, hbytes, w.ghost.fingerprint(p))
        fp = b"\x00".join(parts)
        if fp < best:
            best = fp
    return best
