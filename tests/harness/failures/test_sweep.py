from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from harness.failures.artifact import read_artifact
from harness.failures.sweep import (
    SweepError,
    SweepProgress,
    parse_executor,
    parse_seed_range,
    run_command,
    run_seed,
    sweep,
)
from harness.sim.runspec import RunOptions
from tests.harness.failures.fakerun import failing_seeds, fake_run, raising_run, unstable_run

OPTIONS = RunOptions(ops=20, clients=2)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0:10", range(0, 10)), ("5:6", range(5, 6)), ("7", range(0, 7)), ("1", range(0, 1))],
)
def test_parse_seed_range(text: str, expected: range) -> None:
    assert parse_seed_range(text) == expected


@pytest.mark.parametrize("text", ["5:3", "3:3", "-1:4", "a:b", "1:2:3", "", "1:", "0", "-3"])
def test_parse_seed_range_rejects(text: str) -> None:
    with pytest.raises(SweepError, match="seed range"):
        parse_seed_range(text)


def test_parse_executor() -> None:
    assert parse_executor("local") is None
    assert parse_executor("dask://127.0.0.1:8786") == "tcp://127.0.0.1:8786"
    for bad in ["ray://x:1", "dask://", "dask://host", "dask://host:port", "threads"]:
        with pytest.raises(SweepError, match="executor"):
            parse_executor(bad)


def test_run_command_lists_only_non_defaults() -> None:
    assert run_command(RunOptions(seed=4)) == "paxlab run --seed 4"
    command = run_command(
        RunOptions(seed=4, ops=50, faults=("crash", "loss"), variant="stale-read",
                   unsafe_clocks=True)
    )
    assert command == (
        "paxlab run --seed 4 --ops 50 --faults crash,loss --unsafe-clocks --variant stale-read"
    )
    assert "--faults none" in run_command(RunOptions(faults=()))


def test_run_seed_compact_for_pass_full_for_failure() -> None:
    bad = failing_seeds(40)
    good = [s for s in range(40) if s not in bad]
    passing = run_seed(RunOptions(seed=good[0]), fake_run)
    assert passing.verdict == "ok" and passing.result is None and not passing.failed
    failing = run_seed(RunOptions(seed=bad[0]), fake_run)
    assert failing.failed and failing.violation is not None
    assert failing.result is not None and failing.result.trace  # replayed with the trace
    assert failing.result.fingerprint == failing.fingerprint
    assert not failing.replay_mismatch


def test_sweep_finds_every_failing_seed_and_groups_them(tmp_path: Path) -> None:
    seeds = range(0, 40)
    expected_failures = failing_seeds(40)
    assert expected_failures  # the fake fails often enough for the test to mean something
    events: list[SweepProgress] = []
    summary = sweep(OPTIONS, seeds, jobs=1, out=tmp_path, run=fake_run, progress=events.append)
    assert [o.seed for o in summary.outcomes] == list(seeds)
    assert [o.seed for o in summary.outcomes if o.failed] == expected_failures
    assert summary.failed == len(expected_failures)
    assert summary.passed == 40 - len(expected_failures)
    # grouping: every failing seed in exactly one group, all of one signature
    grouped = sorted(s for g in summary.groups for s in g.seeds)
    assert grouped == expected_failures
    for group in summary.groups:
        for seed in group.seeds:
            violation = fake_run(attrs.evolve(OPTIONS, seed=seed)).violation
            assert violation is not None and violation.signature == group.signature
        assert group.artifact == str(tmp_path / f"seed-{min(group.seeds)}")
        assert group.replay_command == f"paxlab replay {group.artifact}"
    assert len({g.signature for g in summary.groups}) == len(summary.groups) >= 2
    # an artifact per failure, replaying to the same fingerprint
    for outcome in summary.outcomes:
        folder = tmp_path / f"seed-{outcome.seed}"
        assert folder.exists() == outcome.failed
        if outcome.failed:
            artifact = read_artifact(folder)
            assert artifact.options.seed == outcome.seed and artifact.options.ops == 20
            assert artifact.fingerprint == outcome.fingerprint
            assert artifact.trace
            assert fake_run(artifact.options, replay=artifact.choices).fingerprint == (
                artifact.fingerprint
            )
    # progress once per seed, monotone, ends at total
    assert [e.done for e in events] == list(range(1, 41))
    assert events[-1].failed == len(expected_failures)
    assert all(e.total == 40 for e in events)
    data = summary.to_json()
    assert data["failed"] == len(expected_failures) and data["seeds"] == "0:40"
    assert [f["seed"] for f in data["failures"]] == expected_failures


def test_process_pool_gives_same_outcomes_as_inline(tmp_path: Path) -> None:
    inline = sweep(OPTIONS, range(10, 30), jobs=1, out=tmp_path / "a", run=fake_run)
    pooled = sweep(OPTIONS, range(10, 30), jobs=2, out=tmp_path / "b", run=fake_run)
    assert [(o.seed, o.verdict, o.fingerprint, o.violation) for o in inline.outcomes] == [
        (o.seed, o.verdict, o.fingerprint, o.violation) for o in pooled.outcomes
    ]
    assert [g.seeds for g in inline.groups] == [g.seeds for g in pooled.groups]


def test_no_out_writes_no_artifacts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    summary = sweep(OPTIONS, range(0, 20), jobs=1, out=None, run=fake_run)
    assert summary.failed and list(tmp_path.iterdir()) == []
    assert all(g.artifact is None for g in summary.groups)
    assert all(g.replay_command.startswith("paxlab run --seed ") for g in summary.groups)


def test_a_raising_run_is_an_error_outcome_not_a_crash(tmp_path: Path) -> None:
    summary = sweep(OPTIONS, range(0, 12), jobs=1, out=tmp_path, run=raising_run)
    errors = [o for o in summary.outcomes if o.verdict == "error"]
    assert [o.seed for o in errors] == [0, 5, 10]
    assert all(o.error == f"RuntimeError: boom at seed {o.seed}" for o in errors)
    group = next(g for g in summary.groups if g.signature == "error:RuntimeError")
    assert group.seeds == (0, 5, 10) and group.artifact is None
    assert len(summary.outcomes) == 12


def test_replay_mismatch_is_reported(tmp_path: Path) -> None:
    summary = sweep(OPTIONS, range(0, 20), jobs=1, out=tmp_path, run=unstable_run)
    failed = [o for o in summary.outcomes if o.failed]
    assert failed and all(o.replay_mismatch for o in failed)
    assert not any(o.replay_mismatch for o in summary.outcomes if not o.failed)


def test_bad_jobs_and_executor_raise() -> None:
    with pytest.raises(SweepError, match="jobs=0"):
        sweep(OPTIONS, range(3), jobs=0, run=fake_run)
    with pytest.raises(SweepError, match="executor"):
        sweep(OPTIONS, range(3), executor="spark://x:1", run=fake_run)


def test_dask_executor_on_local_cluster(tmp_path: Path) -> None:
    import distributed
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        address = cluster.scheduler_address.removeprefix("tcp://")
        summary = sweep(
            OPTIONS, range(0, 12), executor=f"dask://{address}", out=tmp_path, run=fake_run
        )
    assert [o.seed for o in summary.outcomes if o.failed] == failing_seeds(12)
    for seed in failing_seeds(12):
        assert read_artifact(tmp_path / f"seed-{seed}").options.seed == seed


def test_unreachable_dask_scheduler_is_a_sweep_error() -> None:
    with pytest.raises(SweepError, match="cannot reach dask scheduler"):
        sweep(
            OPTIONS, range(2), executor="dask://127.0.0.1:9", run=fake_run,
            connect_timeout_s=1.0,
        )
