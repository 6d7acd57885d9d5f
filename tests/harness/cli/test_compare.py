"""``paxlab compare``: same seeds, same tables; bad input; exit codes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

import harness.failures.compare
from harness.cli import main
from tests.harness.failures.test_compare import fake_run

ROOT = Path(__file__).resolve().parents[3]


def test_same_seeds_print_the_same_tables_in_one_or_two_workers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["compare", "--scenario", "leader-crash,gray-failure", "--protocols",
            "multipaxos,raft", "--seeds", "0:3"]
    outs = []
    for jobs in ("1", "2", "1"):
        code = main([*argv, "-j", jobs])
        out, err = capsys.readouterr()
        assert code == 0, err
        outs.append(out)
    assert outs[0] == outs[1] == outs[2]
    lines = outs[0].splitlines()
    assert lines[0].startswith("scenario leader-crash (seeds 0:3)")
    assert any(line.strip().startswith("multipaxos") for line in lines)
    assert any(line.strip().startswith("raft") for line in lines)
    assert "compare: 12/12 runs" in err


def test_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["compare", "--scenario", "clock-drift", "--protocols", "example",
                 "--seeds", "0:2", "--json"])
    out, _ = capsys.readouterr()
    assert code == 0
    data = json.loads(out)
    row = data["tables"][0]["protocols"][0]
    assert row["protocol"] == "example" and row["runs"] == 2 and row["violations"] == 0
    assert data["interrupted"] is False


@pytest.mark.parametrize("argv, words", [
    (["--scenario", "meteor"], "unknown scenario"),
    (["--scenario", "leader-crash", "--protocols", "zab"], "unknown protocol"),
    (["--scenario", "leader-crash", "--seeds", "5:2"], "seed range"),
    (["--scenario", "leader-crash", "--seeds", "x"], "seed range"),
    (["--scenario", "leader-crash", "-j", "0"], "must be >= 1"),
    (["--scenario", "leader-crash", "--protocols", "raft,raft"], "more than once"),
    (["--scenario", "leader-crash", "--protocols", "raft:fast"], "unknown variant 'fast'"),
])
def test_bad_input_is_one_line_exit_2(
    argv: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        code = main(["compare", *argv])
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code  # type: ignore[assignment]
    out, err = capsys.readouterr()
    assert code == 2
    assert words in err and len(err.strip().splitlines()) == 1 and out == ""


def test_a_violation_exits_1_with_its_repeat_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(harness.failures.compare, "run_scenario", fake_run)
    code = main(["compare", "--scenario", "leader-crash", "--protocols", "multipaxos",
                 "--seeds", "0:2", "-j", "1"])
    out, _ = capsys.readouterr()
    assert code == 0 and "first failure" not in out

    def failing(protocol: str, scenario: str, seed: int) -> object:
        return attrs.evolve(fake_run("bad", scenario, seed), protocol=protocol)

    monkeypatch.setattr(harness.failures.compare, "run_scenario", failing)
    code = main(["compare", "--scenario", "leader-crash", "--protocols", "multipaxos",
                 "--seeds", "0:6", "-j", "1"])
    out, _ = capsys.readouterr()
    assert code == 1
    assert "first failure seed 3: S8" in out and "--seeds 3:4" in out


def test_ctrl_c_prints_the_table_so_far_and_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupting(protocol: str, scenario: str, seed: int) -> object:
        if seed == 2:
            raise KeyboardInterrupt
        return fake_run(protocol, scenario, seed)

    monkeypatch.setattr(harness.failures.compare, "run_scenario", interrupting)
    code = main(["compare", "--scenario", "leader-crash,clock-drift", "--protocols",
                 "multipaxos", "--seeds", "0:5", "-j", "1"])
    out, err = capsys.readouterr()
    assert code == 130
    assert "scenario leader-crash" in out and "interrupted" in out
    assert "clock-drift" not in out and "interrupted" in err


def test_sigint_with_workers_prints_the_table_so_far_and_exits_130() -> None:
    """A real Ctrl-C (SIGINT to the command, two workers running seeds)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "compare", "--scenario", "clock-drift",
         "--protocols", "multipaxos", "--seeds", "0:400", "-j", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # even from a job
    )
    try:
        assert proc.stderr is not None
        assert proc.stderr.readline().startswith("compare: scenarios=clock-drift")
        assert " runs, " in proc.stderr.readline()  # seeds have finished
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert out.startswith("scenario clock-drift (seeds 0:400)")
    assert "interrupted: the rows hold the seeds that finished" in out
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("paxlab compare: interrupted")
