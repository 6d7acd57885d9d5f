"""``paxlab run``: bad usage exits 2 with one line; options parse; output formats."""

from __future__ import annotations

import json

import pytest

from harness.cli import main
from harness.cli.run import parse_faults, replay_command
from harness.sim.runspec import RunOptions


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--faults", "partition,meteor"], "unknown fault 'meteor'"),
        (["--variant", "nope"], "unknown variant 'nope'"),
        (["--ops", "-1"], "ops must be >= 0"),
        (["--clients", "-2"], "clients must be >= 0"),
        (["--keys", "-3"], "keys must be >= 1"),
        (["--keys", "0"], "keys must be >= 1"),  # no key: nothing to run, nothing checked
        (["--replicas", "0"], "replicas must be >= 1"),
        (["--scenario", "replica-loss", "--bandwidth-mb-s", "nan"], "bandwidth_mb_s=nan"),
        (["--scenario", "replica-loss", "--bandwidth-mb-s", "inf"], "bandwidth_mb_s=inf"),
        (["--scenario", "replica-loss", "--partition-s", "nan"], "partition_s=nan"),
        # found by the fuzz test: healing would add a 4th log replica to 3 storage replicas
        (["--scenario", "replica-loss", "--log-replicas", "3"], "log_replicas must be <"),
    ],
)
def test_bad_values_exit_2_with_one_line(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", *argv]) == 2
    err = capsys.readouterr().err
    assert needle in err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("argv", [["--bogus"], ["--seed", "x"], ["--ops"]])
def test_bad_flags_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", *argv])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_parse_faults() -> None:
    assert parse_faults("none") == ()
    assert parse_faults("") == ()
    assert parse_faults("crash, disk") == ("crash", "disk")


def test_replay_command_repeats_every_option() -> None:
    options = RunOptions(
        seed=5,
        replicas=5,
        ops=7,
        clients=2,
        keys=3,
        faults=("crash",),
        unsafe_clocks=True,
        variant="stale-read",
    )
    assert replay_command(options) == (
        "paxlab run --seed 5 --replicas 5 --ops 7 --clients 2 --keys 3 --faults crash "
        "--unsafe-clocks --variant stale-read"
    )
    assert "--faults none" in replay_command(RunOptions(faults=()))


def test_scenario_json_has_a_verdict_and_a_structured_violation(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["run", "--scenario", "replica-loss", "--data-mb", "1", "--json"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == "ok" and data["violation"] is None
    assert main([*argv, "--variant", "one-step-swap"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == "violation"
    v = data["violation"]
    assert v["property"] == "S12" and isinstance(v["step"], int) and v["node"] is not None
