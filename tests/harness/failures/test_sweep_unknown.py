"""An "unknown" run verdict is its own outcome in a sweep: neither passed nor failed."""

from __future__ import annotations

from pathlib import Path

from harness.failures.sweep import run_seed, sweep
from harness.sim.runspec import RunOptions
from tests.harness.failures.fakerun import failing_seeds, undecided_run

OPTIONS = RunOptions(ops=20, clients=2)


def _expected(seeds: range) -> tuple[set[int], set[int]]:
    bad = set(failing_seeds(len(seeds), seeds.start))
    unknown = {s for s in seeds if s not in bad and s % 3 == 0}
    return bad, unknown


def test_run_seed_keeps_unknown_verdict_and_reason() -> None:
    _, unknown = _expected(range(0, 30))
    outcome = run_seed(RunOptions(seed=min(unknown)), undecided_run)
    assert outcome.verdict == "unknown"
    assert outcome.undecided and not outcome.passed and not outcome.failed
    assert outcome.unknown == "S8 unknown: timeout (fake)"


def test_sweep_counts_unknown_apart(tmp_path: Path) -> None:
    seeds = range(0, 30)
    bad, unknown = _expected(seeds)
    assert bad and unknown  # the fake gives all three outcomes in this range
    summary = sweep(OPTIONS, seeds, jobs=1, out=tmp_path, run=undecided_run)
    assert summary.failed == len(bad)
    assert summary.unknown == len(unknown)
    assert summary.passed == len(seeds) - len(bad) - len(unknown)
    data = summary.to_json()
    assert (data["passed"], data["failed"], data["unknown"]) == (
        summary.passed, summary.failed, summary.unknown
    )
    assert {u["seed"] for u in data["unknowns"]} == unknown
    assert all(u["unknown"] == "S8 unknown: timeout (fake)" for u in data["unknowns"])
    # no artifact for an unknown seed (no violation to replay), one per failure
    assert {p.name for p in tmp_path.iterdir()} == {f"seed-{s}" for s in bad}
