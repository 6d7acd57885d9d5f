"""Symmetry reduction (`harness.explore.symmetry`): which groups are admitted, the
relabelling, and soundness: the orbits reached with the reduction are exactly the orbits
reached without it, and verdicts agree."""

from __future__ import annotations

import logging
from collections import deque

import attrs
import pytest

from consensus.roles import CandidateState, FollowerState, LeaderState
from harness.explore import Bounds, explore
from harness.explore.ghost import Found
from harness.explore.symmetry import (
    CANDIDATE_FIELDS,
    FOLLOWER_FIELDS,
    ID_ATTRS,
    LEADER_FIELDS,
    relabel_mask,
    relabel_replica,
    symmetry_for,
)
from harness.explore.world import World
from harness.sim.runspec import VARIANTS


@pytest.fixture(autouse=True)
def _quiet() -> None:
    logging.getLogger("consensus").setLevel(logging.CRITICAL)


def _reachable(
    bounds: Bounds, limit: int = 200_000, found: set[str] | None = None
) -> list[World]:
    """Every state BFS keeps under ``bounds`` (one per digest), not stopping at violations:
    their properties go into ``found`` (if given) and the search goes on without them."""
    init = World.initial(bounds)
    seen = {init.digest()}
    out = [init]
    queue = deque([init])
    while queue:
        w = queue.popleft()
        for action in w.actions():
            try:
                nxt = w.after(action)
            except Found as exc:
                assert found is not None, exc.violation
                found.add(exc.violation.property)
                continue
            if nxt is None:
                continue
            d = nxt.digest()
            if d not in seen:
                seen.add(d)
                out.append(nxt)
                queue.append(nxt)
                assert len(out) < limit
    return out


def test_group_for_three_replicas_one_candidate() -> None:
    sym = symmetry_for(Bounds(candidates=1))
    assert sym.perms == ((0, 1, 2), (0, 2, 1)) and sym.orbits == ((1, 2),)
    assert sym.inverses == sym.perms  # a swap is its own inverse


@pytest.mark.parametrize(
    "bounds",
    [
        Bounds(),  # every replica may campaign: ballots tell them apart
        Bounds(candidates=2),  # one non-candidate: nothing to swap
        Bounds(candidates=1, symmetry=False),
        Bounds(replicas=4, candidates=1),  # catch-up retries rotate in id order
        Bounds(replicas=5, candidates=2),
        Bounds(candidates=1, log_spares=1),  # healing picks dead voters and spares by id
    ],
)
def test_trivial_group_where_a_permutation_is_not_a_symmetry(bounds: Bounds) -> None:
    sym = symmetry_for(bounds)
    assert sym.trivial and sym.orbits == ()


def test_relabel_mask() -> None:
    assert relabel_mask(0b011, (0, 2, 1)) == 0b101
    assert relabel_mask(0b110, (0, 2, 1)) == 0b110
    assert relabel_mask(0, (1, 0)) == 0


def test_known_fields_are_the_replicas_fields() -> None:
    """A new role-state field must be reviewed for node ids (symmetry doc), and the
    attributes relabelled exist under those names."""
    assert tuple(f.name for f in attrs.fields(FollowerState)) == FOLLOWER_FIELDS
    assert tuple(f.name for f in attrs.fields(CandidateState)) == CANDIDATE_FIELDS
    assert tuple(f.name for f in attrs.fields(LeaderState)) == LEADER_FIELDS
    worlds = _reachable(Bounds(ticks=1, writes=1, reads=0, crashes=0), limit=50_000)
    roles = set()
    for w in worlds:
        for r in w.replicas:
            assert r is not None
            assert set(ID_ATTRS) <= set(vars(r))
            roles.add(r.role.value)
    assert roles == {"follower", "candidate", "leader"}


def test_relabelling_is_a_group_action_on_fingerprints() -> None:
    """Identity changes nothing; a swap applied twice gives the original back; a swap of
    two different replicas' states gives the other's fingerprint in symmetric states."""
    worlds = _reachable(Bounds(candidates=1, ticks=2, writes=1, reads=0, crashes=0))
    swap = (0, 2, 1)
    for w in worlds[:: max(1, len(worlds) // 300)]:
        for r in w.replicas:
            assert r is not None
            fp = r.state_fingerprint()
            assert relabel_replica(r, (0, 1, 2)).state_fingerprint() == fp
            back = relabel_replica(relabel_replica(r, swap), swap)
            assert back.state_fingerprint() == fp
    init = World.initial(Bounds(candidates=1))
    one, two = init.replicas[1], init.replicas[2]
    assert one is not None and two is not None
    assert relabel_replica(one, swap).state_fingerprint() == two.state_fingerprint()


SOUNDNESS = [
    Bounds(candidates=1, ticks=2, writes=0, reads=0, crashes=0),
    Bounds(candidates=1, ticks=2, writes=1, reads=0, crashes=0),
    Bounds(candidates=1, ticks=1, writes=1, reads=0, crashes=1),
    Bounds(candidates=1, ticks=1, writes=1, reads=1, crashes=0, variant="stale-read",
           max_round=1),
]


def _name(b: Bounds) -> str:
    return f"w{b.writes}r{b.reads}c{b.crashes}t{b.ticks}-{b.variant or 'correct'}"


@pytest.mark.parametrize("bounds", SOUNDNESS, ids=_name)
def test_reduction_reaches_exactly_the_orbits_of_the_full_search(bounds: Bounds) -> None:
    """Soundness: canonical digests of every state of the full search == the digests the
    reduced search keeps (each a canonical digest), and the reduction saves states."""
    on = attrs.evolve(bounds, symmetry=True)
    off = attrs.evolve(bounds, symmetry=False)
    sym = symmetry_for(on)
    assert not sym.trivial
    found_full: set[str] = set()
    found_reduced: set[str] = set()
    full = _reachable(off, found=found_full)
    orbits_full = {w.with_symmetry(sym).digest() for w in full}
    reduced = {w.digest() for w in _reachable(on, found=found_reduced)}
    assert orbits_full == reduced
    assert found_full == found_reduced
    assert len(reduced) < len(full)


@pytest.mark.parametrize("variant", [None, *VARIANTS])
def test_same_verdict_with_and_without_reduction(variant: str | None) -> None:
    kw = dict(candidates=1, ticks=1, writes=1, reads=0, crashes=1, variant=variant)
    if variant in ("no-lease-wait", "one-step-swap"):
        kw.update(ticks=2, crashes=0)
    if variant == "stale-read":
        kw.update(reads=1, crashes=0)
    results = [explore(Bounds(symmetry=s, **kw)) for s in (False, True)]  # type: ignore[arg-type]
    props = [None if r.violation is None else r.violation.property for r in results]
    assert props[0] == props[1]
    assert [r.complete for r in results] == [props[0] is None] * 2
    if variant in ("no-persist-promise", "quorum-one", "stale-read"):
        assert props[0] is not None  # a real bug, found with one candidate too
    if not symmetry_for(Bounds(**kw)).trivial and props[0] is None:  # type: ignore[arg-type]
        assert results[1].states < results[0].states


def test_non_candidates_never_tick_or_campaign() -> None:
    worlds = _reachable(Bounds(candidates=1, ticks=2, writes=1, reads=0, crashes=1))
    for w in worlds:
        assert not any(a[0] == "tick" and a[1] != 0 for a in w.actions())
        for r in w.replicas[1:]:
            assert r is not None and r.role.value == "follower"
    assert any(w.replicas[0] is not None and w.replicas[0].role.value == "leader"
               for w in worlds)
