"""One partition of a level-synchronous breadth-first search (``paxlab explore -j N``).

A search with K partitions (worker processes or Dask actors, `harness.explore.levels`
drives them) keeps each state where it was first reached and moves only fingerprints:

- the *owner* of a state is fixed by its digest (`owner_of`); the owner's ``visited`` set
  holds the 16-byte digests (`World.digest`, 128 bits) of the states it owns, and nothing
  else about them;
- each partition expands its share of the current level (``frontier``, in rank order) and
  sends every successor's digest with a *claim key* to the digest's owner: ``ckey = rank <<
  16 | action index``, where ``rank`` is the parent's position in the level in the order a
  one-process breadth-first search would have met it;
- the owner answers which claims are new, and for a state claimed several times picks the
  least claim key: exactly the first discovery of one process (`harness.explore.search`);
- the winning claimant keeps the successor `World` it already built (no state is pickled)
  and records ``digest -> (parent digest, action index)``, so a violation's trace is
  rebuilt by replaying action indices from the initial state: the trace one process finds.

States cross partitions only when the levels' sizes drift apart (`take` / `give`): then
just the excess is pickled, without the step memo, and its replicas are interned.
"""

from __future__ import annotations

import bisect
import gc
import itertools
import pickle
import resource
import sys
import time
from array import array
from typing import Any

from consensus import Replica
from harness.explore.bounds import Bounds
from harness.explore.ghost import Found
from harness.explore.world import World

ACTION_BITS = 16
"""Low bits of a claim key holding the action index (a state has far fewer actions)."""
ACTION_MASK = (1 << ACTION_BITS) - 1
FREEZE_EVERY = 2_000
"""New candidate states between `gc.freeze` calls (as in the one-process search)."""
DIGEST = 16
"""Bytes per fingerprint (`World.digest`: blake2b, 128 bits)."""

_REFUSED = ("inflight", "max_round", "depth")
_SLOTS = tuple(s for s in World.__slots__ if s not in ("steps", "sym"))


def owner_of(digest: bytes, parts: int) -> int:
    """The partition owning the state with ``digest`` (a uniform hash of the state; its
    first byte is enough for up to `harness.explore.drivers.MAX_JOBS` partitions)."""
    return digest[0] % parts


def peak_rss_kb() -> int:
    """This process's peak resident memory: ``VmHWM`` where Linux gives it (``ru_maxrss``
    of a spawned worker starts at its parent's peak, which fork copies and exec keeps)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class Partition:
    """Partition ``index`` of ``parts`` for ``bounds``: its share of the visited set (by
    owner), of the current level (by first discovery), and the parent records it won.

    Every method takes and returns plain ints, bytes, lists and dicts, so a worker process
    or a Dask actor serves it unchanged."""

    def __init__(self, bounds: Bounds, index: int, parts: int) -> None:
        self.bounds = bounds
        self.index = index
        self.parts = parts
        init = World.initial(bounds)
        self._steps = init.steps
        self._sym = init.sym
        self.root = init.digest()
        self.visited: set[bytes] = set()
        if owner_of(self.root, parts) == index:
            self.visited.add(self.root)
        self._records: list[tuple[list[bytes], list[bytes], array[int]]] = []
        """Per level: the digests this partition won, their parents' digests and the action
        indices that reached them (parallel, in expansion order); looked up only to rebuild
        a trace, so indexed then (`record`)."""
        self._index: dict[bytes, tuple[bytes, int]] | None = None
        self.frontier: list[tuple[int, bytes, World]] = [(0, self.root, init)] if index == 0 else []
        self.depth = 0
        self.cpu_s = 0.0
        self.level_cpu: list[float] = []
        """CPU seconds in this partition's methods per level (rebalancing and expansion to
        numbering), so the coordinator can sum each level's slowest partition."""
        self._cpu_mark = 0.0
        self.expanded = 0
        self.shipped_in = 0
        self.shipped_out = 0
        self._replicas: dict[tuple[int, bytes], Replica] = {}
        self._next: list[tuple[int, bytes, World, bytes]] = []  # adopted, not yet ranked
        self._reset_level()

    def _reset_level(self) -> None:
        self._cand: list[tuple[int, bytes, World, bytes]] = []  # (ckey, digest, world, parent)
        self._seen: dict[bytes, int] = {}  # digest -> its candidate's index
        self._ds: list[list[bytes]] = [[] for _ in range(self.parts)]  # claims per owner
        self._cks: list[list[int]] = [[] for _ in range(self.parts)]
        self._best: dict[bytes, int] = {}

    # ---- one level ----------------------------------------------------------------------

    def size(self) -> int:
        return len(self.frontier)

    def expand(self) -> dict[str, Any]:
        """Expand the frontier in rank order; stop at the first violation (later states of
        this partition cannot come first). Returns the claims per owner (``claims[o]`` =
        ``(digests, ckeys)`` as bytes; this partition's own kept here), the tallies and
        ``violation``: ``(ckey, parent digest)`` of the first `Found`, or None."""
        started = time.process_time()
        self._reset_level()
        bounds, depth, parts, me = self.bounds, self.depth, self.parts, self.index
        limit = bounds.depth
        visited = self.visited
        seen, cand, ds_by, cks_by = self._seen, self._cand, self._ds, self._cks
        refused = dict.fromkeys(_REFUSED, 0)
        transitions = ends = 0
        violation: tuple[int, bytes] | None = None
        for rank, digest, world in self.frontier:
            self.expanded += 1
            actions = world.actions()
            if limit is not None and depth >= limit:
                if actions:
                    refused["depth"] += len(actions)
                else:
                    ends += 1
                continue
            moved = False
            base = rank << ACTION_BITS
            for aidx, action in enumerate(actions):
                transitions += 1
                try:
                    nxt = world.successor(action, depth + 1)
                except Found:
                    violation = (base | aidx, digest)
                    break
                if isinstance(nxt, str):
                    if nxt != "dominated":
                        refused[nxt] += 1
                        moved = True
                    continue
                moved = True
                d = nxt.digest()
                if d in seen:
                    continue
                o = d[0] % parts  # owner_of
                if o == me and d in visited:
                    continue
                ck = base | aidx
                seen[d] = len(cand)
                ds_by[o].append(d)
                cks_by[o].append(ck)
                cand.append((ck, d, nxt, digest))
                if len(cand) % FREEZE_EVERY == 0:
                    gc.freeze()
            if violation is not None:
                break
            if not moved:
                ends += 1
        claims = {o: (b"".join(ds_by[o]), array("q", cks_by[o]).tobytes())
                  for o in range(parts) if o != me and ds_by[o]}
        self.cpu_s += time.process_time() - started
        return {"claims": claims, "violation": violation, "transitions": transitions,
                "refused": refused, "ends": ends}

    def resolve(
        self, claims: list[tuple[bytes, bytes] | None], cutoff: int | None
    ) -> dict[str, Any]:
        """As owner: ``claims[w]`` are claimant w's (None: none, or this partition's own,
        kept here). Marks the new states visited; a state claimed more than once goes to
        the least claim key. Returns ``old[w]``: the digests w claimed that were visited
        already (bytes; None for our own: the expansion skipped those); ``contested``: the
        winning claim key of each digest claimed more than once, as ``(digests, ckeys)``
        bytes (claim keys are unique over the partitions, so a claimant that finds its own
        key there won); ``new`` (states added) and ``below`` (those whose claim key is
        below ``cutoff``). Every other claim won."""
        started = time.process_time()
        visited, me = self.visited, self.index
        best = dict(zip(self._ds[me], self._cks[me], strict=True))  # distinct, not visited
        contested: set[bytes] = set()
        old: list[bytes | None] = []
        for w, payload in enumerate(claims):
            if w == me or payload is None:
                old.append(None)
                continue
            blob, keys = payload
            cks = array("q")
            cks.frombytes(keys)
            lost: list[bytes] = []
            get = best.get
            for i, ck in zip(range(0, len(blob), DIGEST), cks, strict=True):
                d = blob[i:i + DIGEST]
                b = get(d)
                if b is None:
                    if d in visited:
                        lost.append(d)
                    else:
                        best[d] = ck
                else:
                    contested.add(d)
                    if ck < b:
                        best[d] = ck
            old.append(b"".join(lost))
        visited.update(best)
        self._best = best
        won = sorted(contested)
        below = len(best) if cutoff is None else sum(1 for ck in best.values() if ck < cutoff)
        self.cpu_s += time.process_time() - started
        return {"old": old, "contested": (b"".join(won),
                                          array("q", [best[d] for d in won]).tobytes()),
                "new": len(best), "below": below}

    def winner_keys(self) -> bytes:
        """The claim keys of the states this owner added in the last `resolve`, sorted."""
        return array("q", sorted(self._best.values())).tobytes()

    def adopt(self, old: list[bytes | None], contested: list[tuple[bytes, bytes]]) -> bytes:
        """As claimant: keep the candidates whose claims won as the next level and record
        their parents. ``old[o]``: owner o's answer of claims already visited (None: ours,
        none); ``contested[o]``: owner o's contested digests and winning claim keys. Returns
        the kept claim keys, sorted, for `rank`."""
        started = time.process_time()
        cand, seen = self._cand, self._seen
        won = bytearray(b"\x01") * len(cand)
        for blob in old:
            if blob:
                for i in range(0, len(blob), DIGEST):
                    won[seen[blob[i:i + DIGEST]]] = 0
        for blob, keys in contested:
            if blob:
                cks = array("q")
                cks.frombytes(keys)
                for i, ck in zip(range(0, len(blob), DIGEST), cks, strict=True):
                    at = seen.get(blob[i:i + DIGEST])
                    if at is not None and cand[at][0] != ck:
                        won[at] = 0
        kept = list(itertools.compress(cand, won))  # expansion order: claim keys ascending
        self._records.append(([c[1] for c in kept], [c[3] for c in kept],
                              array("H", [c[0] & ACTION_MASK for c in kept])))
        self._index = None
        self._next = kept
        self._reset_level()
        self.cpu_s += time.process_time() - started
        return array("q", [c[0] for c in kept]).tobytes()

    def rank(self, keys: list[bytes]) -> int:
        """Number the next level by the global order of claim keys (``keys[w]``: partition
        w's, sorted) and make it the frontier. Returns its size here."""
        started = time.process_time()
        blobs = [blob for p, blob in enumerate(keys) if p != self.index and blob]
        others = array("q")
        for blob in blobs:
            others.frombytes(blob)
        if len(blobs) > 1:
            others = array("q", sorted(others))
        kept = self._next
        if others:
            bl = bisect.bisect_left
            self.frontier = [(i + bl(others, c[0]), c[1], c[2]) for i, c in enumerate(kept)]
        else:
            self.frontier = [(i, c[1], c[2]) for i, c in enumerate(kept)]
        self._next = []
        self.depth += 1
        gc.freeze()
        self.cpu_s += time.process_time() - started
        self.level_cpu.append(self.cpu_s - self._cpu_mark)
        self._cpu_mark = self.cpu_s
        return len(self.frontier)

    def tally_until(self, cutoff: int) -> dict[str, Any]:
        """The tallies of this level's expansion up to claim key ``cutoff`` (included), as a
        one-process search that stops there counts them (the state at ``cutoff`` is not
        finished, so it is not a path end)."""
        stop_rank, stop_aidx = cutoff >> ACTION_BITS, cutoff & ACTION_MASK
        limit, depth = self.bounds.depth, self.depth
        refused = dict.fromkeys(_REFUSED, 0)
        transitions = ends = 0
        for rank, _, world in self.frontier:
            if rank > stop_rank:
                break
            actions = world.actions()
            if limit is not None and depth >= limit:
                if actions:
                    refused["depth"] += len(actions)
                else:
                    ends += 1
                continue
            moved = False
            for aidx, action in enumerate(actions):
                if rank == stop_rank and aidx > stop_aidx:
                    break
                transitions += 1
                if rank == stop_rank and aidx == stop_aidx:
                    break
                try:
                    nxt = world.successor(action, depth + 1)
                except Found:
                    raise RuntimeError(f"violation before the stop point: rank={rank} "
                                       f"action={aidx} cutoff={cutoff}") from None
                if isinstance(nxt, str):
                    if nxt != "dominated":
                        refused[nxt] += 1
                        moved = True
                    continue
                moved = True
            if not moved and rank != stop_rank:
                ends += 1
        return {"transitions": transitions, "refused": refused, "ends": ends}

    def record(self, digest: bytes) -> tuple[bytes, int] | None:
        """``(parent digest, action index)`` of a state this partition won, else None."""
        if self._index is None:
            self._index = {d: (parent, aidx) for ds, parents, aidxs in self._records
                           for d, parent, aidx in zip(ds, parents, aidxs, strict=True)}
        return self._index.get(digest)

    # ---- moving states between partitions -----------------------------------------------

    def take(self, n: int) -> bytes:
        """Remove ``n`` states from the frontier, spread over its ranks, and return them
        pickled (the step memo and symmetry group stay behind)."""
        started = time.process_time()
        n = min(n, len(self.frontier))
        stride = len(self.frontier) / n if n else 1.0
        picked = {int(i * stride) for i in range(n)}
        out = [(r, d, tuple(getattr(w, s) for s in _SLOTS))
               for i, (r, d, w) in enumerate(self.frontier) if i in picked]
        self.frontier = [e for i, e in enumerate(self.frontier) if i not in picked]
        self.shipped_out += len(out)
        blob = pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL)
        self.cpu_s += time.process_time() - started
        return blob

    def give(self, blob: bytes) -> int:
        """Merge states from `take` into the frontier (rank order). Returns its size."""
        started = time.process_time()
        gc.disable()
        try:
            got = pickle.loads(blob)
        finally:
            gc.enable()
        interned = self._replicas
        for r, d, values in got:
            w = object.__new__(World)
            for s, v in zip(_SLOTS, values, strict=True):
                setattr(w, s, v)
            w.steps, w.sym = self._steps, self._sym
            for n, rep in enumerate(w.replicas):
                if rep is not None:
                    w.replicas[n] = interned.setdefault((n, w.rfps[n]), rep)
            self.frontier.append((r, d, w))
        self.frontier.sort(key=lambda e: e[0])
        self.shipped_in += len(got)
        gc.freeze()
        self.cpu_s += time.process_time() - started
        return len(self.frontier)

    # ---- figures ------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Work and memory of this partition: CPU seconds in its methods (in all, and per
        level: the last entry is the level a stop left unfinished, if any), states expanded,
        states shipped in/out, digests owned, bytes of its visited set and parent records
        (containers plus the digest objects they alone hold), peak RSS."""
        visited_b = sys.getsizeof(self.visited) + len(self.visited) * sys.getsizeof(self.root)
        records = sum(len(ds) for ds, _, _ in self._records)
        records_b = sys.getsizeof(self._records) + records * sys.getsizeof(self.root) + sum(
            sys.getsizeof(ds) + sys.getsizeof(parents) + sys.getsizeof(aidxs)
            for ds, parents, aidxs in self._records)
        return {
            "partition": self.index, "cpu_s": round(self.cpu_s, 3), "expanded": self.expanded,
            "level_cpu_s": [round(t, 4) for t in self.level_cpu]
            + ([round(tail, 4)] if (tail := self.cpu_s - self._cpu_mark) > 0 else []),
            "shipped_in": self.shipped_in, "shipped_out": self.shipped_out,
            "owned": len(self.visited), "records": records,
            "visited_bytes": visited_b, "records_bytes": records_b,
            "peak_rss_kb": peak_rss_kb(),
        }

    def close(self) -> None:
        """Drop everything (a Dask actor outlives the search otherwise)."""
        self.frontier, self._records, self._index, self.visited = [], [], None, set()
        self._reset_level()
        gc.unfreeze()
