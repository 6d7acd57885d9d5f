"""Ctrl-C and a closed stdout, on real processes: one line, the shell's exit code, never a
traceback (`harness.cli.main` handles both for every command)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cli import main

ROOT = Path(__file__).resolve().parents[3]


def _start(*argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "harness", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)


def _finish(proc: subprocess.Popen[str]) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("argv, first", [
    (["explore"], "explore strategy=bfs"),  # the default search takes ~50 s
    (["run", "--ops", "200000"], "paxlab run: seed=0"),  # a run of minutes
])
def test_sigint_mid_work_is_one_line_and_130(argv: list[str], first: str) -> None:
    proc = _start(*argv)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith(first)  # the work has begun
        proc.send_signal(signal.SIGINT)
    finally:
        out, err = _finish(proc)
    assert proc.returncode == 130
    assert err.strip().splitlines()[-1] == f"paxlab {argv[0]}: interrupted"
    assert "Traceback" not in err and "PASSED" not in out


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "history.jsonl"
    os.mkfifo(path)
    yield path


def test_sigint_in_check_history_while_it_reads(fifo: Path) -> None:
    """Reading a FIFO nobody writes blocks for ever: only Ctrl-C ends it."""
    proc = _start("check-history", str(fifo), "--model", "register")
    fd = None
    try:
        # opening the FIFO for writing returns once the command has opened it to read
        fd = os.open(fifo, os.O_WRONLY)
        proc.send_signal(signal.SIGINT)
    finally:
        out, err = _finish(proc)
        if fd is not None:
            os.close(fd)
    assert proc.returncode == 130, err
    assert err.strip() == "paxlab check-history: interrupted" and out == ""


def test_closed_stdout_is_not_a_traceback() -> None:
    """``paxlab run | head -1``: the reader leaves after the first line."""
    proc = _start("run", "--ops", "100")
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("paxlab run: seed=0")
        proc.stdout.close()  # the verdict lines come later, into a closed pipe
        assert proc.stderr is not None
        err = proc.stderr.read()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 141 and "Traceback" not in err and "BrokenPipe" not in err


def test_interrupt_in_process_for_every_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The shared mechanism: a KeyboardInterrupt (or a trio group holding one) from any
    command is one line and 130."""
    import harness.cli.explore
    import harness.cli.run

    def ki(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    def ki_group(*args: object, **kwargs: object) -> None:
        raise BaseExceptionGroup("nursery", [KeyboardInterrupt(), AssertionError()])

    monkeypatch.setattr(harness.cli.explore, "explore", ki)
    assert main(["explore"]) == 130
    assert capsys.readouterr().err == "paxlab explore: interrupted\n"
    monkeypatch.setattr("harness.sim.run", ki_group)
    assert main(["run"]) == 130
    assert capsys.readouterr().err == "paxlab run: interrupted\n"


def test_an_error_raised_while_ctrl_c_unwinds_a_run_is_still_an_interrupt(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C in the middle of a step may leave half-done state that raises something else
    on the way out (with the KeyboardInterrupt as its context): that is 130, not a bug."""
    import harness.sim
    from harness.cli import main

    def broken_by_ctrl_c(*args: object, **kw: object) -> None:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise ExceptionGroup("trio", [AssertionError("half-done step")]) from None

    monkeypatch.setattr(harness.sim, "run", broken_by_ctrl_c, raising=False)
    assert main(["run", "--ops", "10"]) == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == "paxlab run: interrupted"
