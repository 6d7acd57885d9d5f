"""``--protocol`` on run, sweep, replay, shrink, report and explore: the protocol is run,
recorded in artifacts, read back; bad names and mismatches are one line and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest

from harness.cli import main
from harness.cli.run import replay_command
from harness.failures.artifact import read_artifact
from harness.runtime import protocols
from harness.sim.runspec import RunOptions


def _one_line_error(capsys: pytest.CaptureFixture[str], needle: str) -> None:
    err = capsys.readouterr().err
    assert needle in err, err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_run_example_passes_with_shared_checks_only(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--protocol", "example", "--seed", "0", "--ops", "100"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("paxlab run: protocol=example seed=0")
    assert "faults=partition,crash,pause,clock,loss" in out  # the protocol's defaults
    assert "checks: shared only" in out and "verdict: PASSED" in out


def test_run_multipaxos_says_which_checks_ran(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--seed", "0", "--ops", "20", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["protocol"] == "multipaxos" and "protocol" not in data["options"]
    assert data["checks"].startswith("shared + multipaxos (S1, S3")
    assert main(["run", "--protocol", "example", "--ops", "20", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["checks"] == "shared only"


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--protocol", "zab"], "unknown protocol 'zab'"),
        (["--protocol", "example", "--faults", "disk"], "does not tolerate fault disk"),
        (["--protocol", "example", "--variant", "quorum-one"], "unknown variant 'quorum-one'"),
        (["--protocol", "example", "--scenario", "replica-loss"], "Multi-Paxos only"),
        (["--protocol", "example", "--trace-ndjson", "x.ndjson"], "for Multi-Paxos and Raft"),
    ],
)
def test_run_bad_protocol_usage_exits_2(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", *argv]) == 2
    _one_line_error(capsys, needle)


def _without_raft(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> protocols.ProtocolSpec:
        raise protocols.ProtocolUnavailable(
            "protocol raft is not available: the package consensus.raft is not in this tree")

    monkeypatch.delitem(protocols.PROTOCOLS, "raft", raising=False)
    monkeypatch.setitem(protocols._LAZY, "raft", missing)


@pytest.mark.parametrize("command", [["run"], ["sweep", "--seeds", "0:1"], ["explore"]])
def test_an_unavailable_protocol_is_one_line_exit_2(
    command: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _without_raft(monkeypatch)
    assert main([*command, "--protocol", "raft"]) == 2
    _one_line_error(capsys, "protocol raft is not available")


def test_replay_command_names_the_protocol() -> None:
    assert "--protocol example" in replay_command(RunOptions(protocol="example"))
    assert "--protocol" not in replay_command(RunOptions())


def test_sweep_example_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["sweep", "--protocol", "example", "--seeds", "0:3", "--ops", "60", "-j", "1",
            "--out", str(tmp_path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("sweep protocol=example seeds=0:3")
    assert "checks: shared only" in out and "failed: 0" in out
    assert "probes: none declared by protocol example" in out  # not "24 never fired"


@pytest.fixture(scope="module")
def example_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A failing example-protocol run (stale-read), found by a sweep and written as an
    artifact."""
    out = tmp_path_factory.mktemp("sweep")
    argv = ["sweep", "--protocol", "example", "--variant", "stale-read", "--seeds", "0:1",
            "-j", "1", "--out", str(out)]
    assert main(argv) == 1
    (folder,) = [p.parent for p in out.rglob("artifact.json")]
    return folder


def test_artifact_records_the_protocol(example_artifact: Path) -> None:
    meta = json.loads((example_artifact / "artifact.json").read_text())
    assert meta["protocol"] == "example" and meta["options"]["protocol"] == "example"
    assert read_artifact(example_artifact).options.protocol == "example"


def test_replay_reads_the_protocol_from_the_artifact(
    example_artifact: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(example_artifact)]) == 1
    out = capsys.readouterr().out
    assert "protocol=example" in out and "REPRODUCED S8" in out
    assert main(["replay", str(example_artifact), "--protocol", "example"]) == 1
    assert "REPRODUCED S8" in capsys.readouterr().out
    assert main(["replay", str(example_artifact), "--protocol", "multipaxos"]) == 2
    _one_line_error(capsys, "recorded with protocol example, not --protocol multipaxos")
    assert main(["replay", str(example_artifact), "--protocol", "zab"]) == 2
    _one_line_error(capsys, "unknown protocol 'zab'")


def test_shrink_and_report_keep_the_protocol(
    example_artifact: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shrunk = tmp_path / "shrunk"
    argv = ["shrink", str(example_artifact), "-o", str(shrunk), "--max-runs", "4"]
    assert main(argv) == 0
    assert "protocol=example" in capsys.readouterr().out
    assert read_artifact(shrunk).options.protocol == "example"
    assert main(["shrink", str(example_artifact), "--protocol", "raft", "-o",
                 str(tmp_path / "x")]) == 2
    capsys.readouterr()
    html = tmp_path / "r.html"
    assert main(["report", str(example_artifact), "-o", str(html)]) == 0
    assert html.exists()
    assert main(["report", str(example_artifact), "-o", str(html), "--protocol",
                 "multipaxos"]) == 2
    _one_line_error(capsys, "recorded with protocol example")


def test_an_artifact_without_a_protocol_is_multipaxos(
    example_artifact: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "old"
    folder.mkdir()
    for f in example_artifact.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    meta = json.loads((folder / "artifact.json").read_text())
    del meta["protocol"]
    del meta["options"]["protocol"]
    meta["options"]["faults"] = ["crash"]
    meta["options"]["variant"] = None
    (folder / "artifact.json").write_text(json.dumps(meta))
    assert read_artifact(folder).options.protocol == "multipaxos"
    meta["protocol"] = "example"
    meta["options"]["protocol"] = "multipaxos"
    (folder / "artifact.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="field 'protocol' disagrees with options"):
        read_artifact(folder)


def test_explore_example_passes_and_its_variant_fails(
    capsys: pytest.CaptureFixture[str],
) -> None:
    small = ["explore", "--protocol", "example", "--crashes", "0", "--reads", "0"]
    assert main(small) == 0
    out = capsys.readouterr().out
    assert out.startswith("explore protocol=example") and out.rstrip().endswith("PASSED")
    assert main(["explore", "--protocol", "example", "--variant", "stale-read",
                 "--crashes", "0", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == "violation" and data["violation"]["property"] == "S8"
    assert data["schedule"] and data["protocol"] == "example"


def test_explore_incomplete_when_capped(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", "--protocol", "example", "--max-states", "20"]) == 3
    assert "INCOMPLETE" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--max-round", "3"], "--max-round is for the Multi-Paxos explorer only"),
        (["--strategy", "dfs"], "--strategy is for the Multi-Paxos explorer only"),
        (["--step-downs", "1"], "--step-downs is for the Multi-Paxos explorer only"),
        (["-j", "2"], "--jobs is for the Multi-Paxos explorer only"),
        (["--variant", "quorum-one"], "unknown variant 'quorum-one' of protocol example"),
        (["--writes", "-1"], "writes"),
    ],
)
def test_explore_bad_usage_for_another_protocol(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["explore", "--protocol", "example", *argv]) == 2
    _one_line_error(capsys, needle)


def test_explore_refuses_a_protocol_its_spec_says_it_cannot_search(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = attrs.evolve(protocols.get("example"), name="noexplore", explorer=False)
    monkeypatch.setitem(protocols.PROTOCOLS, "noexplore", spec)
    assert main(["explore", "--protocol", "noexplore"]) == 2
    _one_line_error(capsys, "the explorer does not support it")


def test_sweep_repeat_command_names_the_protocol() -> None:
    from harness.failures.sweep import run_command

    assert run_command(RunOptions(seed=4, protocol="example")) == (
        "paxlab run --seed 4 --protocol example")  # its default faults: no --faults
    assert run_command(RunOptions(seed=4)) == "paxlab run --seed 4"
    assert "--faults crash" in run_command(RunOptions(seed=4, protocol="example",
                                                      faults=("crash",)))


def test_run_raft_seed_0_passes_with_its_checks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--protocol", "raft", "--seed", "0"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("paxlab run: protocol=raft seed=0")
    assert "checks: shared + raft (S3, S4, S16, S17, S18)" in out and "verdict: PASSED" in out


def test_explore_raft_with_the_generic_explorer(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["explore", "--protocol", "raft", "--writes", "0", "--reads", "0", "--crashes", "0"]
    assert main(argv) == 0
    assert capsys.readouterr().out.rstrip().endswith("PASSED")


def test_a_replica_that_raises_is_one_line_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from consensus.example import make_replica

    def broken(**kw: object) -> object:
        replica = make_replica(**kw)
        if kw["node_id"] == 1:
            def step(event: object, now_us: int) -> list[object]:
                raise ValueError("replica bug\nsecond line")

            replica.step = step  # type: ignore[method-assign]
        return replica

    spec = attrs.evolve(protocols.get("example"), name="raises", make_replica=broken)
    monkeypatch.setitem(protocols.PROTOCOLS, "raises", spec)
    assert main(["run", "--protocol", "raises", "--ops", "5"]) == 1
    _one_line_error(capsys, "the run raised ValueError: replica bug (a bug in protocol raises")


def test_explore_raft_defaults_are_its_own_and_a_flag_overrides_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["explore", "--protocol", "raft", "--max-states", "30", "--json"]) == 3
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == "incomplete"  # capped: never a pass
    assert data["bounds"] == {"replicas": 3, "writes": 1, "reads": 1, "crashes": 0, "ticks": 2,
                              "drops": 0, "dups": 0, "inflight": 3, "depth": None}
    assert main(["explore", "--protocol", "raft", "--crashes", "1", "--max-states", "30",
                 "--json"]) == 3
    bounds = json.loads(capsys.readouterr().out)["bounds"]
    assert bounds["crashes"] == 1 and bounds["writes"] == 1 and bounds["reads"] == 1
    # the example protocol keeps the explorer's own defaults (a crash among them)
    assert main(["explore", "--protocol", "example", "--max-states", "30", "--json"]) == 3
    assert json.loads(capsys.readouterr().out)["bounds"]["crashes"] == 1


def test_explore_raft_small_config_is_exhaustive(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", "--protocol", "raft", "--ticks", "1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == "ok" and data["ends"] > 0
    assert data["states"] == 16_585 and data["transitions"] == 44_367


@pytest.mark.slow
def test_explore_raft_default_config_is_exhaustive(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", "--protocol", "raft"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("explore protocol=raft variant=None strategy=bfs replicas=3 "
                          "writes=1 reads=1 crashes=0 ticks=2")
    assert "states=177532 transitions=491352 max_depth=25 path_ends=3531" in out
    assert out.rstrip().endswith("PASSED")
