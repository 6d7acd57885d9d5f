"""pytest plugin: fixtures to run simulated clusters and explicit schedules from tests.

Registered by the entry point ``[project.entry-points.pytest11] paxlab =
"harness.testing.pytest_plugin"`` (or ``pytest -p harness.testing.pytest_plugin``). Fixtures:

- ``paxlab_run(options, choices=None, *, check=True) -> RunResult``: one simulated run
  (`harness.sim.run`) replaying ``choices``. Options left at the default protocol run
  ``--paxlab-protocol NAME``'s instead (faults outside its assumptions dropped), so one
  property test covers every protocol. With ``check`` a violation writes an artifact
  folder and fails the test with the property, the artifact and ``paxlab replay DIR``;
  hypothesis then shrinks the choice list and reports the minimal one. An "unknown" verdict
  (a check could not decide) fails it too, with `PaxlabUndecided`: it is never a pass.
- ``paxlab_schedule(bounds, actions, *, check=True) -> Violation | None``: run explicit
  explorer actions over the sans-I/O replicas (`harness.explore`); a violation writes an
  explore artifact and fails the test likewise.
- ``paxlab_protocol -> str``: the ``--paxlab-protocol`` name (default ``multipaxos``),
  checked against the registry (`harness.runtime.protocols`) when first used.
- ``paxlab_cluster(**bounds) -> World``: the initial explorer state of a small cluster, to
  step by hand (`World.actions()`, `World.after(action)`).

The fixtures are session-scoped factories (no per-test state), so hypothesis may call them
once per example. Option ``--paxlab-artifacts DIR``: where failure artifacts go (default:
pytest's tmp dir). Each test keeps one artifact per fixture, ``DIR/<test>/run`` or
``DIR/<test>/schedule``, overwritten by every failing example: hypothesis runs the shrunk
example last, so what stays is the shrunk failure, not one folder per example tried.
``--paxlab-keep-first`` also keeps the first failure seen, in ``.../run-first``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest

from harness.checks.violation import Violation
from harness.explore.bounds import Bounds
from harness.explore.search import ExploreResult, replay_schedule
from harness.explore.world import Action, World
from harness.failures.artifact import describe_violation, write_artifact
from harness.failures.explore_artifact import write_explore_artifact
from harness.runtime import protocols
from harness.sim.runspec import RunOptions, RunResult


class PaxlabViolation(AssertionError):
    """A simulated run or schedule violated a property; the message names the artifact."""


class PaxlabUndecided(AssertionError):
    """A simulated run found no violation, but a check could not decide (not a pass)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("paxlab")
    group.addoption(
        "--paxlab-artifacts",
        default=None,
        help="folder for failure artifacts of paxlab fixtures (default: pytest tmp dir)",
    )


    group.addoption(
        "--paxlab-protocol",
        default="multipaxos",
        help="protocol paxlab_run uses for options that leave it at the default "
             "(multipaxos, raft, example)",
    )
    group.addoption(
        "--paxlab-keep-first",
        action="store_true",
        help="also keep the first failing example of each test, beside the shrunk one",
    )


_current_test = ["session"]  # the node id of the test being run (fixtures are session-wide)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _current_test[0] = item.nodeid


def _artifact_folders(
    request: pytest.FixtureRequest, factory: pytest.TempPathFactory, roots: dict[str, Path],
    kind: str,
) -> list[Path]:
    """Where this test's failure of ``kind`` goes: the shrunk one (overwritten by each
    failing example), and the first one when asked for and not yet written."""
    if "root" not in roots:
        opt = request.config.getoption("--paxlab-artifacts", default=None)
        roots["root"] = Path(opt) if opt else factory.mktemp("paxlab")
    test = re.sub(r"[^A-Za-z0-9_.-]+", "_", _current_test[0]).strip("_") or "session"
    folder = roots["root"] / test / kind
    folders = [folder]
    first = folder.with_name(f"{kind}-first")
    if request.config.getoption("--paxlab-keep-first", default=False) and not first.exists():
        folders.append(first)
    return folders


@pytest.fixture(scope="session")
def paxlab_protocol(request: pytest.FixtureRequest) -> str:
    """The protocol named by ``--paxlab-protocol`` (a usage error if it cannot run here)."""
    name = str(request.config.getoption("--paxlab-protocol", default="multipaxos"))
    try:
        return protocols.get(name).name
    except protocols.ProtocolUnavailable as exc:
        raise pytest.UsageError(f"--paxlab-protocol: {exc}") from None


def for_protocol(options: RunOptions, protocol: str) -> RunOptions:
    """``options`` to run under ``protocol``: unchanged when they name a protocol already;
    else moved to it, without the faults outside its assumptions."""
    if options.protocol != protocols.DEFAULT or protocol == protocols.DEFAULT:
        return options
    spec = protocols.get(protocol)
    faults = tuple(f for f in options.faults if f in spec.faults)
    return attrs.evolve(options, protocol=protocol, faults=faults)


@pytest.fixture(scope="session")
def paxlab_run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
    paxlab_protocol: str,
) -> Callable[..., RunResult]:
    """Run one simulation; see the module docstring."""
    from harness.sim import run  # imported late: trio and the simulator load only if used

    roots: dict[str, Path] = {}

    def go(
        options: RunOptions, choices: Sequence[int] | None = None, *, check: bool = True,
        **kwargs: Any,
    ) -> RunResult:
        options = for_protocol(options, paxlab_protocol)
        result = run(options, replay=None if choices is None else list(choices), **kwargs)
        if check and result.violation is not None:
            folders = _artifact_folders(request, tmp_path_factory, roots, "run")
            for folder in folders:
                write_artifact(folder, result)
            folder = folders[0]
            raise PaxlabViolation(
                f"{describe_violation(result.violation)}; artifact {folder}; "
                f"replay with: paxlab replay {folder}"
            )
        if check and result.verdict == "unknown":
            raise PaxlabUndecided(f"run seed={options.seed} undecided: {result.unknown}")
        return result

    return go


@pytest.fixture(scope="session")
def paxlab_schedule(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., Violation | None]:
    """Run explicit explorer actions; see the module docstring."""
    roots: dict[str, Path] = {}

    def go(bounds: Bounds, actions: Sequence[Action], *, check: bool = True) -> Violation | None:
        world, violation = replay_schedule(bounds, list(actions))
        if check and violation is not None:
            folders = _artifact_folders(request, tmp_path_factory, roots, "schedule")
            folder = folders[0]
            times = [0] * len(actions)
            result = ExploreResult(
                bounds=bounds, strategy="schedule", violation=violation,
                schedule=tuple(zip((tuple(a) for a in actions), times, strict=True)),
                states=0, transitions=0, max_depth=len(actions), complete=False,
                elapsed_s=0.0, peak_rss_kb=0,
            )
            for target in folders:
                write_explore_artifact(target, result)
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
