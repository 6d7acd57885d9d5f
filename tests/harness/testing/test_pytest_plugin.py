"""The pytest plugin's fixtures in a scratch pytest (pytester); it loads by entry point."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

_PASSING = '''
from harness.sim.runspec import RunOptions

def test_nominal_run(paxlab_run):
    result = paxlab_run(RunOptions(seed=3, ops=8, clients=2, keys=2, faults=()))
    assert result.verdict == "ok"

def test_cluster(paxlab_cluster):
    world = paxlab_cluster(ticks=1, writes=0, reads=0, crashes=0)
    assert ("tick", 0) in world.actions()
'''

_FAILING = '''
import logging
from hypothesis import given, settings
from harness.testing import strategies as pst
from harness.explore import Bounds

logging.getLogger("consensus").setLevel(logging.CRITICAL)
NPP = Bounds(variant="no-persist-promise", ticks=1, writes=0, reads=0, crashes=1, inflight=3)

@settings(max_examples=300, derandomize=True, deadline=None)
@given(pst.schedules(NPP, max_steps=12))
def test_promises_survive_restart(paxlab_schedule, actions):
    paxlab_schedule(NPP, actions)
'''


def test_fixtures_pass_on_nominal_runs(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(_PASSING)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


_UNDECIDED = '''
import harness.sim.workload
from harness.checks.linearizability import LinearizabilityResult
from harness.sim.runspec import RunOptions

def test_undecided_run(paxlab_run, monkeypatch):
    def undecided(history, model, **kw):
        return LinearizabilityResult(verdict="unknown", reason="timeout after timeout_s=0")
    monkeypatch.setattr(harness.sim.workload, "check_linearizability", undecided)
    paxlab_run(RunOptions(seed=3, ops=8, clients=2, keys=2, faults=()))
'''


def test_undecided_run_fails_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(_UNDECIDED)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*PaxlabUndecided: run seed=3 undecided: S8 unknown*"])


def test_failing_schedule_shrinks_and_names_artifact(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(_FAILING)
    out = pytester.path / "artifacts"
    result = pytester.runpytest(
        "-p", "no:cacheprovider", f"--paxlab-artifacts={out}"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*PaxlabViolation: S3:*artifact.json*"])
    # One folder for the test, holding only the shrunk failure (hypothesis tried many).
    (test_folder,) = out.iterdir()
    assert test_folder.name.endswith("test_promises_survive_restart")
    assert [p.name for p in test_folder.iterdir()] == ["schedule"]
    from harness.failures.explore_replay import replay_explore

    outcome = replay_explore(test_folder / "schedule")
    assert outcome.violation is not None and outcome.violation.property == "S3"
    # The message hypothesis printed last names that folder.
    result.stdout.fnmatch_lines([f"*{test_folder / 'schedule'}/artifact.json*"])


def test_keep_first_also_keeps_the_first_failure(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(_FAILING)
    out = pytester.path / "artifacts"
    result = pytester.runpytest(
        "-p", "no:cacheprovider", f"--paxlab-artifacts={out}", "--paxlab-keep-first"
    )
    result.assert_outcomes(failed=1)
    (test_folder,) = out.iterdir()
    assert sorted(p.name for p in test_folder.iterdir()) == ["schedule", "schedule-first"]
    first = (test_folder / "schedule-first" / "artifact.json").read_text()
    shrunk = (test_folder / "schedule" / "artifact.json").read_text()
    assert len(shrunk) <= len(first)
