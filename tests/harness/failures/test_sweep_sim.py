"""The sweep -> artifact -> replay -> shrink -> report pipeline on the real simulator.

For each broken variant, sweep seeds in batches until one fails (the first failing seeds
move when the simulator changes, so none are listed here), then check that its artifact
replays to the same fingerprint and violation, and that shrinking keeps the property while
making the run smaller.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.failures.artifact import read_artifact
from harness.failures.report import build_report, render_report
from harness.failures.shrink import shrink_run
from harness.failures.sweep import SweepSummary, sweep
from harness.sim import run
from harness.sim.runspec import RunOptions

EXPECTED = {
    "quorum-one": {"S4", "S1"},
    "no-persist-promise": {"S3", "S15"},  # S15: an accept above the promise it lost
    "no-lease-wait": {"S6"},
    "stale-read": {"S8"},
}
OPS = 100
BATCH = 20
MAX_SEEDS = 200


_FOUND: dict[str, tuple[SweepSummary, Path]] = {}


def first_failure(variant: str, out: Path) -> tuple[SweepSummary, Path]:
    """Sweep ``variant`` in batches until a seed fails; return that batch's summary and the
    lowest failing seed's artifact folder (cached per variant for this test module)."""
    if variant in _FOUND:
        return _FOUND[variant]
    options = RunOptions(ops=OPS, variant=variant)
    for start in range(0, MAX_SEEDS, BATCH):
        summary = sweep(options, range(start, start + BATCH), jobs=2, out=out)
        failing = [o.seed for o in summary.outcomes if o.verdict == "violation"]
        if failing:
            _FOUND[variant] = (summary, out / f"seed-{failing[0]}")
            return _FOUND[variant]
    raise AssertionError(f"no failing seed for variant={variant} in 0:{MAX_SEEDS}")


@pytest.mark.parametrize("variant", sorted(EXPECTED))
def test_variant_pipeline(variant: str, tmp_path: Path) -> None:
    summary, folder = first_failure(variant, tmp_path)
    assert all(o.verdict != "error" and not o.replay_mismatch for o in summary.outcomes)
    artifact = read_artifact(folder)
    assert artifact.violation is not None
    assert artifact.violation.property in EXPECTED[variant]
    assert artifact.trace and len(artifact.trace) == artifact.steps
    # replay: same fingerprint, same violation
    again = run(artifact.options, replay=artifact.choices)
    assert again.fingerprint == artifact.fingerprint
    assert again.violation == artifact.violation
    # shrink: same property, smaller run
    shrunk = shrink_run(artifact.options, artifact.choices, max_runs=40)
    assert shrunk.before.fingerprint == artifact.fingerprint
    after = shrunk.after
    assert after.violation is not None
    assert after.violation.property == artifact.violation.property
    nonzero_before = sum(1 for v in artifact.choices if v)
    nonzero_after = sum(1 for v in after.choices if v)
    assert nonzero_after < nonzero_before or after.steps < artifact.steps
    # the shrunk run replays per label, with its own (possibly smaller) options
    again = run(after.options, replay=after.choices, replay_labels=after.labels)
    assert again.fingerprint == after.fingerprint


def test_sweep_groups_real_failures(tmp_path: Path) -> None:
    summary = sweep(RunOptions(ops=40, variant="quorum-one"), range(0, 6), jobs=2, out=tmp_path)
    failed = [o for o in summary.outcomes if o.failed]
    assert failed and not any(o.verdict == "error" for o in summary.outcomes)
    assert sorted(s for g in summary.groups for s in g.seeds) == [o.seed for o in failed]
    for group in summary.groups:
        assert group.artifact is not None
        assert read_artifact(group.artifact).violation.signature == group.signature  # type: ignore[union-attr]


def test_default_options_pass_a_few_seeds(tmp_path: Path) -> None:
    summary = sweep(RunOptions(ops=60), range(0, 4), jobs=2, out=tmp_path)
    assert summary.failed == 0, [o.violation for o in summary.outcomes if o.failed]
    assert len({o.fingerprint for o in summary.outcomes}) == 4


def test_report_on_real_s8_artifact(tmp_path: Path) -> None:
    _, folder = first_failure("stale-read", tmp_path)
    artifact = read_artifact(folder)
    data = build_report(artifact)
    assert data.replay_note is None  # the replay matched
    assert data.timeline  # the simulator fills it
    page = render_report(data)
    assert "Faults" in page and "Leaders and leases" in page and "serving" in page
    assert data.linearizability is not None  # S8: the checker ran on the history


_DASK_SCRIPT = """
import json, sys
import distributed
from harness.cli import main

if __name__ == "__main__":
    with distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        address = cluster.scheduler_address.removeprefix("tcp://")
        sys.exit(main(sys.argv[1:] + ["--executor", f"dask://{address}"]))
"""


def test_dask_sweep_matches_inline_sweep(tmp_path: Path) -> None:
    """Real runs on a dask cluster (two threads per worker: runs must not overlap in a
    process) give the same outcomes as in this process. The cluster is started by a fresh
    interpreter, as a user would: there dask's worker folder (which holds a ``storage``
    directory) comes first on the workers' sys.path and must not shadow paxlab's package."""
    script = tmp_path / "dask_sweep.py"
    script.write_text(_DASK_SCRIPT)
    argv = ["sweep", "--seeds", "0:8", "--ops", "40", "--variant", "stale-read", "--json",
            "--out", str(tmp_path / "a")]
    done = subprocess.run([sys.executable, str(script), *argv], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    remote = json.loads(done.stdout.strip().splitlines()[-1])
    inline = sweep(RunOptions(ops=40, variant="stale-read"), range(0, 8), jobs=1,
                   out=tmp_path / "b")
    assert remote["run"] == 8 and remote["failed"] == inline.failed
    assert [f["seed"] for f in remote["failures"]] == [o.seed for o in inline.outcomes
                                                        if o.failed]
    assert all(f["verdict"] == "violation" for f in remote["failures"])
    for failure in remote["failures"]:
        artifact = read_artifact(failure["artifact"])
        assert artifact.fingerprint == inline.outcomes[failure["seed"]].fingerprint


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(EXPECTED))
def test_variant_pipeline_default_ops(variant: str, tmp_path: Path) -> None:
    """As `test_variant_pipeline` with default-size runs (1,000 ops) and a real budget."""
    options = RunOptions(variant=variant)
    folder = None
    for start in range(0, MAX_SEEDS, BATCH):
        summary = sweep(options, range(start, start + BATCH), jobs=2, out=tmp_path)
        assert not any(o.verdict == "error" or o.replay_mismatch for o in summary.outcomes)
        failing = [o.seed for o in summary.outcomes if o.verdict == "violation"]
        if failing:
            folder = tmp_path / f"seed-{failing[0]}"
            break
    assert folder is not None, f"no failing seed for variant={variant} in 0:{MAX_SEEDS}"
    artifact = read_artifact(folder)
    assert artifact.violation is not None
    assert artifact.violation.property in EXPECTED[variant]
    assert run(artifact.options, replay=artifact.choices).fingerprint == artifact.fingerprint
    shrunk = shrink_run(artifact.options, artifact.choices, max_runs=300)
    after = shrunk.after
    assert after.violation is not None
    assert after.violation.property == artifact.violation.property
    assert (sum(1 for v in after.choices if v) < artifact.nonzero_choices
            or after.steps < artifact.steps)
