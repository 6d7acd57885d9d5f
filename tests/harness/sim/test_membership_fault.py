"""The ``membership`` fault (Raft only): extra nodes run outside the configuration and the
nemesis asks leaders for one-server changes at drawn times, most often right after an
election. The correct Raft passes it; ``single-server-change-bug`` (a new leader proposes a
change before an entry of its own term is committed: the 2015 bug) fails it with S17, found
by the simulator on its own."""

from __future__ import annotations

import pytest

from harness.cli import main
from harness.runtime.backend import GroupSpec
from harness.sim import run
from harness.sim.runspec import RunOptions

MIX = ("membership", "churn", "partition", "loss", "pause")
CAUGHT_SEED = 164  # fails S17 with MIX, 4 replicas (docs/raft.md)


def _raft(seed: int, variant: str | None = None, faults: tuple[str, ...] = MIX,
          **kw: int) -> RunOptions:
    return RunOptions(seed=seed, protocol="raft", variant=variant, faults=faults, replicas=4,
                      **kw)


def test_multipaxos_refuses_membership(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="protocol multipaxos does not tolerate fault "
                                         "membership"):
        RunOptions(faults=("membership",))
    assert main(["run", "--faults", "membership", "--ops", "10"]) == 2
    err = capsys.readouterr().err
    assert "does not tolerate fault membership" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_outside_nodes_run_from_the_start_outside_the_configuration() -> None:
    group = GroupSpec.for_run(4, False, 0, outside=1)
    assert group.members == (0, 1, 2, 3) and group.outside == (4,)
    assert group.nodes == (0, 1, 2, 3, 4) and group.running == (0, 1, 2, 3, 4)
    assert group.initial.storage == (0, 1, 2, 3)
    assert group.replica_kwargs() == {}  # the replica learns only the voters
    plain = GroupSpec.for_run(3, False, 0)
    assert plain.outside == () and plain.running == plain.members


@pytest.mark.parametrize("seed", [0, 1])
def test_correct_raft_passes_and_changes_its_membership(seed: int) -> None:
    result = run(_raft(seed), keep_trace=False)
    assert result.verdict == "ok", result.violation
    cov = result.coverage
    assert cov["reconfigure_requests"] >= 5
    assert cov["config_changes_proposed"] >= cov["config_changes_committed"] >= 2
    asked = [e["detail"] for e in result.timeline
             if e["kind"] == "fault" and e["fault"] == "membership"]
    assert any("to add node 4" in d for d in asked)
    assert any("to remove node" in d for d in asked)


def test_membership_alone_changes_a_quiet_group_and_it_converges() -> None:
    result = run(_raft(0, faults=("membership",), ops=300), keep_trace=False)
    assert result.verdict == "ok", result.violation
    assert result.coverage["config_changes_committed"] >= 1


def test_membership_is_deterministic_and_replays() -> None:
    options = _raft(5, ops=300)
    first = run(options, keep_trace=False)
    again = run(options, keep_trace=False)
    assert first.fingerprint == again.fingerprint and first.coverage == again.coverage
    replayed = run(options, replay=first.choices, replay_labels=first.labels, keep_trace=False)
    assert replayed.fingerprint == first.fingerprint
    assert any(label.startswith("nemesis.membership") for label in first.labels)
    plain = run(RunOptions(seed=5, protocol="raft", faults=("churn",), replicas=4, ops=300),
                keep_trace=False)
    assert not any(label.startswith("nemesis.membership") for label in plain.labels)
    assert plain.coverage["reconfigure_requests"] == 0


def test_single_server_change_bug_is_caught_with_s17() -> None:
    result = run(_raft(CAUGHT_SEED, "single-server-change-bug"), keep_trace=False)
    assert result.violation is not None and result.violation.property == "S17"
    assert "without the committed entry" in result.violation.message
    replayed = run(_raft(CAUGHT_SEED, "single-server-change-bug"), replay=result.choices,
                   replay_labels=result.labels, keep_trace=False)
    assert replayed.violation == result.violation
    assert replayed.fingerprint == result.fingerprint
    correct = run(_raft(CAUGHT_SEED), keep_trace=False)
    assert correct.verdict == "ok", correct.violation


@pytest.mark.slow
def test_correct_raft_passes_many_seeds_of_membership() -> None:
    for seed in range(60):
        result = run(_raft(seed), keep_trace=False)
        assert result.verdict == "ok", (seed, result.violation)


def test_sweep_says_how_many_changes_it_asked_for(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["sweep", "--protocol", "raft", "--replicas", "4", "--faults", "membership",
            "--ops", "200", "--seeds", "0:2", "-j", "1"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "membership changes asked " in out and "committed " in out
    assert main(["sweep", "--protocol", "raft", "--faults", "churn", "--ops", "100",
                 "--seeds", "0:1", "-j", "1"]) == 0
    assert "membership changes asked" not in capsys.readouterr().out
