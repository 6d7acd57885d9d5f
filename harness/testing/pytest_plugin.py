"""pytest plugin: fixtures to run simulated clusters and explicit schedules from tests.

Registered by the entry point ``[project.entry-points.pytest11] paxlab =
"harness.testing.pytest_plugin"`` (or ``pytest -p harness.testing.pytest_plugin``). Fixtures:

- ``paxlab_run(options, choices=None, *, check=True) -> RunResult``: one simulated run
  (`harness.sim.run`) replaying ``choices``. With ``check`` a violation writes an artifact
  folder and fails the test with the property, the artifact and ``paxlab replay DIR``;
  hypothesis then shrinks the choice list and reports the minimal one.
- ``paxlab_schedule(bounds, actions, *, check=True) -> Violation | None``: run explicit
  explorer actions over the sans-I/O replicas (`harness.explore`); a violation writes an
  explore artifact and fails the test likewise.
- ``paxlab_cluster(**bounds) -> World``: the initial explorer state of a small cluster, to
  step by hand (`World.actions()`, `World.after(action)`).

The fixtures are session-scoped factories (no per-test state), so hypothesis may call them
once per example. Option ``--paxlab-artifacts DIR``: where failure artifacts go (default:
pytest's tmp dir).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from harness.checks.violation import Violation
from harness.explore.bounds import Bounds
from harness.explore.search import ExploreResult, replay_schedule
from harness.explore.world import Action, World
from harness.failures.artifact import describe_violation, write_artifact
from harness.failures.explore_artifact import write_explore_artifact
from harness.sim.runspec import RunOptions, RunResult


class PaxlabViolation(AssertionError):
    """A simulated run or schedule violated a property; the message names the artifact."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("paxlab")
    group.addoption(
        "--paxlab-artifacts",
        default=None,
        help="folder for failure artifacts of paxlab fixtures (default: pytest tmp dir)",
    )


def _artifact_root(request: pytest.FixtureRequest, factory: pytest.TempPathFactory) -> Path:
    opt = request.config.getoption("--paxlab-artifacts", default=None)
    return Path(opt) if opt else factory.mktemp("paxlab")


@pytest.fixture(scope="session")
def paxlab_run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., RunResult]:
    """Run one simulation; see the module docstring."""
    from harness.sim import run  # imported late: trio and the simulator load only if used

    counter = [0]

    def go(
        options: RunOptions, choices: Sequence[int] | None = None, *, check: bool = True,
        **kwargs: Any,
    ) -> RunResult:
        result = run(options, replay=None if choices is None else list(choices), **kwargs)
        if check and result.violation is not None:
            counter[0] += 1
            folder = _artifact_root(request, tmp_path_factory) / f"run-{counter[0]}"
            write_artifact(folder, result)
            raise PaxlabViolation(
                f"{describe_violation(result.violation)}; artifact {folder}; "
                f"replay with: paxlab replay {folder}"
            )
        return result

    return go


@pytest.fixture(scope="session")
def paxlab_schedule(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., Violation | None]:
    """Run explicit explorer actions; see the module docstring."""
    counter = [0]

    def go(bounds: Bounds, actions: Sequence[Action], *, check: bool = True) -> Violation | None:
        world, violation = replay_schedule(bounds, list(actions))
        if check and violation is not None:
            counter[0] += 1
            folder = _artifact_root(request, tmp_path_factory) / f"schedule-{counter[0]}"
            times = [0] * len(actions)
            result = ExploreResult(
                bounds=bounds, strategy="schedule", violation=violation,
                schedule=tuple(zip((tuple(a) for a in actions), times, strict=True)),
                states=0, transitions=0, max_depth=len(actions), complete=False,
                elapsed_s=0.0, peak_rss_kb=0,
            )
            write_explore_artifact(folder, result)
            raise PaxlabViolation(
                f"{describe_violation(violation)}; schedule of {len(actions)} steps in "
                f"{folder}/artifact.json; state before: {world.describe()}"
            )
        return violation

    return go


@pytest.fixture(scope="session")
def paxlab_cluster() -> Callable[..., World]:
    """Build the initial explorer state of a cluster from `Bounds` keyword arguments."""

    def build(**bounds: Any) -> World:
        return World.initial(Bounds(**bounds))

    return build
