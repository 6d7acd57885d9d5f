"""The randomized driver: the safety properties hold on many seeds (3 and 5 nodes, drifting
clocks, drops, duplicates, crashes, partitions, compaction, membership changes), and the
checkers do catch a broken lease rule."""

from __future__ import annotations

import pytest

from consensus.raft import RaftReplica
from tests.consensus.raft.driver import Driver, Faults
from tests.consensus.raft.group import Group, Violation


def drifts(seed: int, n: int) -> dict[int, int]:
    return {i: (seed * 7919 * (i + 1)) % 20_001 - 10_000 for i in range(n)}


def run(seed: int, n: int, reconfigure: bool, duration_us: int = 10_000_000,
        variant: str | None = None) -> Group:
    members = tuple(range(n)) if not reconfigure else (0, 1, 2)
    extra = tuple(range(3, n)) if reconfigure else ()
    g = Group(members, extra=extra, seed=seed, compact_every=7, drift_ppm=drifts(seed, n),
              variant=variant)
    Driver(g, seed, Faults(reconfigure=reconfigure)).run(duration_us)
    return g


@pytest.mark.parametrize("seed", range(12))
def test_three_nodes_stay_safe_and_make_progress(seed: int) -> None:
    g = run(seed, 3, False)
    assert max(len(sm) for sm in g.sm.values()) > 20
    assert any(r.slot for _, r in g.replies)
    assert g.checker.serves


@pytest.mark.parametrize("seed", range(8))
def test_five_nodes_stay_safe(seed: int) -> None:
    g = run(seed, 5, False)
    assert max(len(sm) for sm in g.sm.values()) > 20


@pytest.mark.parametrize("seed", range(8))
def test_membership_changes_stay_safe(seed: int) -> None:
    run(seed, 5, True)


@pytest.mark.parametrize("variant", ["no-prevote", "no-check-quorum"])
def test_liveness_variants_stay_safe(variant: str) -> None:
    for seed in range(4):
        run(seed, 3, False, variant=variant)


def test_driver_catches_nodes_that_vote_against_a_lease(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RaftReplica, "_in_lease", lambda self: False)
    caught = []
    for seed in range(12):
        try:
            run(seed, 3, False, duration_us=20_000_000)
        except Violation as exc:
            caught.append(str(exc))
    assert caught and all("lease exclusivity" in c for c in caught)


@pytest.mark.slow
@pytest.mark.parametrize("n,reconfigure", [(3, False), (5, False), (5, True)])
def test_campaign(n: int, reconfigure: bool) -> None:
    for seed in range(100, 200):
        run(seed, n, reconfigure, duration_us=30_000_000)
