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
        self.records: dict[bytes, tuple[bytes, int]] = {}
        self.frontier: list[tuple[int, bytes, World]] = [(0, self.root, init)] if index == 0 else []
        self.depth = 0
        self.cpu_s = 0.0
        self.expanded = 0
        self.shipped_in = 0
        self.shipped_out = 0
        self._replicas: dict[tuple[int, bytes], Replica] = {}
        self._next: list[tuple[int, bytes, World, bytes]] = []  # adopted, not yet ranked
        self._reset_level()

    def _reset_level(self) -> None:
        self._cand: list[tuple[int, bytes, World, bytes]] = []  # (ckey, digest, world, parent)
        self._to: list[list[int]] = [[] for _ in range(self.parts)]  # candidate ids per owner
        self._best: dict[bytes, int] = {}
        self._own_answers = b""

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
        seen: set[bytes] = set()
        cand, to = self._cand, self._to
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
                seen.add(d)
                to[o].append(len(cand))
                cand.append((base | aidx, d, nxt, digest))
                if len(cand) % FREEZE_EVERY == 0:
                    gc.freeze()
            if violation is not None:
                break
            if not moved:
                ends += 1
        claims: dict[int, tuple[bytes, bytes]] = {}
        for o in range(parts):
            if o != me and to[o]:
                ids = to[o]
                claims[o] = (b"".join([cand[i][1] for i in ids]),
                             array("q", [cand[i][0] for i in ids]).tobytes())
        self.cpu_s += time.process_time() - started
        return {"claims": claims, "violation": violation, "transitions": transitions,
                "refused": refused, "ends": ends}

    def resolve(
        self, claims: list[tuple[bytes, bytes] | None], cutoff: int | None
    ) -> dict[str, Any]:
        """As owner: ``claims[w]`` are claimant w's (None: this partition's own). Marks the
        new states visited; a state claimed more than once goes to the least claim key.
        Returns ``answers[w]`` (one byte per claim of w: 1 won, 0 lost; None for our own,
        kept here),
        ``new`` (states added) and ``below`` (those whose claim key is below ``cutoff``)."""
        started = time.process_time()
        visited, me = self.visited, self.index
        decoded: list[tuple[list[bytes], array[int]]] = []
        best: dict[bytes, int] = {}
        for w, payload in enumerate(claims):
            if w == me:
                ids = self._to[me]
                ds = [self._cand[i][1] for i in ids]
                cks = array("q", [self._cand[i][0] for i in ids])
            elif payload is None:
                ds, cks = [], array("q")
            else:
                blob, keys = payload
                ds = [blob[i:i + DIGEST] for i in range(0, len(blob), DIGEST)]
                cks = array("q")
                cks.frombytes(keys)
            decoded.append((ds, cks))
            for d, ck in zip(ds, cks, strict=True):
                if d in visited:
                    continue
                b = best.get(d)
                if b is None or ck < b:
                    best[d] = ck
        answers: list[bytes | None] = []
        for w, (ds, cks) in enumerate(decoded):
            won = bytes([best.get(d) == ck for d, ck in zip(ds, cks, strict=True)])
            if w == me:
                self._own_answers = won
                answers.append(None)
            else:
                answers.append(won)
        visited.update(best)
        self._best = best
        below = len(best) if cutoff is None else sum(1 for ck in best.values() if ck < cutoff)
        self.cpu_s += time.process_time() - started
        return {"answers": answers, "new": len(best), "below": below}

    def winner_keys(self) -> bytes:
        """The claim keys of the states this owner added in the last `resolve`, sorted."""
        return array("q", sorted(self._best.values())).tobytes()

    def adopt(self, answers: list[bytes | None]) -> bytes:
        """As claimant: keep the candidates whose claims won (``answers[o]`` from owner o;
        None: our own) as the next level, record their parents. Returns their claim keys,
        sorted, for `rank`."""
        started = time.process_time()
        cand, me = self._cand, self.index
        won = bytearray(len(cand))
        for o, ids in enumerate(self._to):
            ans = self._own_answers if o == me else answers[o]
            assert ans is not None and len(ans) == len(ids)
            for i, ok in zip(ids, ans, strict=True):
                if ok:
                    won[i] = 1
        kept = list(itertools.compress(cand, won))  # expansion order: claim keys ascending
        self.records.update({d: (parent, ck & ACTION_MASK) for ck, d, _, parent in kept})
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
        ranks: Any = range(len(kept))
        if others:
            bl = bisect.bisect_left
            ranks = [i + bl(others, c[0]) for i, c in enumerate(kept)]
        self.frontier = list(zip(ranks, [c[1] for c in kept], [c[2] for c in kept],
                                 strict=True))
        self._next = []
        self.depth += 1
        gc.freeze()
        self.cpu_s += time.process_time() - started
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
        return self.records.get(digest)

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
        """Work and memory of this partition: CPU seconds in its methods, states expanded,
        states shipped in/out, digests owned, bytes of its visited set and parent records
        (containers plus the digest objects they alone hold), peak RSS."""
        visited_b = sys.getsizeof(self.visited) + len(self.visited) * sys.getsizeof(self.root)
        rec = self.records
        records_b = sys.getsizeof(rec) + len(rec) * (
            sys.getsizeof(self.root) + sys.getsizeof((self.root, 0)))
        return {
            "partition": self.index, "cpu_s": round(self.cpu_s, 3), "expanded": self.expanded,
            "shipped_in": self.shipped_in, "shipped_out": self.shipped_out,
            "owned": len(self.visited), "records": len(rec),
            "visited_bytes": visited_b, "records_bytes": records_b,
            "peak_rss_kb": peak_rss_kb(),
        }

    def close(self) -> None:
        """Drop everything (a Dask actor outlives the search otherwise)."""
        self.frontier, self.records, self.visited = [], {}, set()
        self._reset_level()
        gc.unfreeze()
