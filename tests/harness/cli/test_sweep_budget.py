"""``paxlab sweep``: N seeds means 0..N-1, useful workers only, budgets (``--time``,
``--max-failures``) and Ctrl-C that print the summary so far and keep the artifacts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import harness.failures.sweep
from harness.cli import main
from harness.failures.sweep import useful_jobs
from harness.sim.runspec import RunOptions, RunResult
from tests.harness.failures.fakerun import failing_seeds, fake_run


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness.failures.sweep, "default_run", fake_run)


def test_n_alone_is_seeds_0_to_n_minus_1(
    fake: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["sweep", "--seeds", "5", "-j", "1", "--out", str(tmp_path), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert data["seeds"] == "0:5" and data["run"] == 5


def test_workers_capped_at_seeds_and_cores(
    fake: None, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert useful_jobs(10_000, 100, cores=2) == 2
    assert useful_jobs(10_000, 3, cores=64) == 3
    assert useful_jobs(None, 100, cores=8) == 8 and useful_jobs(1, 100, cores=8) == 1
    started: list[int] = []
    real = harness.failures.sweep._run_local

    def spy(all_options: Sequence[RunOptions], run: Any, jobs: int) -> Any:
        started.append(jobs)
        return real(all_options, run, 1)

    monkeypatch.setattr(harness.failures.sweep, "_run_local", spy)
    main(["sweep", "--seeds", "0:4", "-j", "10000", "--out", str(tmp_path)])
    assert started == [min(4, os.cpu_count() or 1)]
    header = capsys.readouterr().out.splitlines()[0]
    assert f"jobs={started[0]} (capped from 10000: 4 seeds," in header


def test_max_failures_stops_and_keeps_artifacts(
    fake: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first_bad = failing_seeds(60)[0]
    code = main(["sweep", "--seeds", "0:60", "-j", "1", "--max-failures", "1",
                 "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 1
    assert "STOPPED (--max-failures distinct failure signatures found): " in out
    assert f"{first_bad + 1} of 60 seeds ran" in out
    assert (tmp_path / f"seed-{first_bad}" / "artifact.json").exists()
    assert f"replay:   paxlab replay {tmp_path}/seed-{first_bad}" in out


def test_time_budget_stops_with_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def slow_run(options: RunOptions, **kw: Any) -> RunResult:
        time.sleep(0.05)
        return fake_run(options, **kw)

    monkeypatch.setattr(harness.failures.sweep, "default_run", slow_run)
    code = main(["sweep", "--seeds", "0:200", "-j", "1", "--time", "0.2", "--json",
                 "--out", str(tmp_path)])
    data = json.loads(capsys.readouterr().out)
    assert data["stopped"] == "time" and 1 <= data["run"] < 20
    assert code == (1 if data["failed"] else 0)


def test_ctrl_c_prints_the_summary_so_far(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = failing_seeds(60)
    stop_at = bad[1] + 1

    def interrupted_run(options: RunOptions, **kw: Any) -> RunResult:
        if options.seed == stop_at:
            raise KeyboardInterrupt
        return fake_run(options, **kw)

    monkeypatch.setattr(harness.failures.sweep, "default_run", interrupted_run)
    code = main(["sweep", "--seeds", "0:60", "-j", "1", "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 130
    assert f"STOPPED (interrupted by Ctrl-C): {stop_at} of 60 seeds ran" in out
    assert err.strip() == "paxlab sweep: interrupted (artifacts written so far are kept)"
    assert {p.name for p in tmp_path.iterdir()} == {f"seed-{s}" for s in bad[:2]}


@pytest.mark.parametrize("argv, needle", [
    (["--time", "0"], "time="), (["--time", "nan"], "time="), (["--time", "-1"], "time="),
    (["--max-failures", "0"], "max_failures=0"), (["--seeds", "0"], "seeds='0'"),
    (["--executor", "ray://x"], "unknown executor"),
])
def test_bad_budgets_are_one_line(
    fake: None, argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sweep", *argv]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1


def test_out_is_checked_before_any_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[int] = []

    def counting_run(options: RunOptions, **kw: Any) -> RunResult:
        ran.append(options.seed)
        return fake_run(options, **kw)

    monkeypatch.setattr(harness.failures.sweep, "default_run", counting_run)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for out in (blocker, blocker / "sub"):
        assert main(["sweep", "--seeds", "0:30", "-j", "1", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("paxlab sweep: error: --out") and err.count("\n") == 1
    assert ran == []


def test_sigint_to_a_real_sweep_process(tmp_path: Path) -> None:
    """A real process, a real SIGINT: exit 130, the summary so far, no traceback."""
    argv = [sys.executable, "-m", "harness", "sweep", "--seeds", "0:400", "-j", "1",
            "--ops", "200", "--out", str(tmp_path / "art")]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[3])
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # the first progress line: a seed has finished
        assert line.startswith("sweep: "), line
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert "Traceback" not in err and "STOPPED (interrupted by Ctrl-C)" in out
    assert "paxlab sweep: interrupted" in err
