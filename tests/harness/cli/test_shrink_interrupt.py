"""``paxlab shrink``: Ctrl-C keeps the smallest failing run found so far; ``-o`` is checked
before any run."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import harness.failures.sweep
from harness.cli import main
from harness.failures.artifact import read_artifact, write_artifact
from harness.sim.runspec import RunOptions, RunResult
from tests.harness.failures.fakerun import failing_seeds, fake_run


def test_ctrl_c_writes_the_smallest_so_far(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = failing_seeds(50)[0]
    folder = tmp_path / "a"
    before = fake_run(RunOptions(seed=seed))
    write_artifact(folder, before)
    calls = [0]

    def interrupted_after_some(options: RunOptions, **kw: Any) -> RunResult:
        calls[0] += 1
        if calls[0] == 8:  # the first replay, six search runs, Ctrl-C in the 7th
            raise KeyboardInterrupt
        return fake_run(options, **kw)

    monkeypatch.setattr(harness.failures.sweep, "default_run", interrupted_after_some)
    assert main(["shrink", str(folder), "-o", str(tmp_path / "out")]) == 130
    out, err = capsys.readouterr()
    assert "interrupted: the smallest found so far" in out
    assert err.startswith("paxlab shrink: interrupted after 7 runs") and "Traceback" not in err
    after = read_artifact(tmp_path / "out")
    assert before.violation is not None and after.violation is not None
    assert after.violation.property == before.violation.property
    assert len(after.choices) <= len(before.choices)
    replayed = fake_run(after.options, replay=after.choices)
    assert replayed.fingerprint == after.fingerprint


def test_out_checked_before_any_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = failing_seeds(50)[0]
    folder = tmp_path / "a"
    write_artifact(folder, fake_run(RunOptions(seed=seed)))
    ran: list[int] = []

    def counting(options: RunOptions, **kw: Any) -> RunResult:
        ran.append(1)
        return fake_run(options, **kw)

    monkeypatch.setattr(harness.failures.sweep, "default_run", counting)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for out in (blocker, blocker / "sub"):
        assert main(["shrink", str(folder), "-o", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("paxlab shrink: error: -o") and err.count("\n") == 1
    assert ran == []


_WITH_SLOW_RUN = (
    "import sys\n"
    "import harness.failures.sweep as sweep\n"
    "from tests.harness.failures.fakerun import slow_fake_run\n"
    "sweep.default_run = slow_fake_run\n"
    "from harness.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def test_sigint_to_a_real_shrink_process(tmp_path: Path) -> None:
    """A real process, a real SIGINT after the search started (runs of 200 ms each: the
    shrink takes about 4 s)."""
    seed = failing_seeds(50)[0]
    folder = tmp_path / "a"
    write_artifact(folder, fake_run(RunOptions(seed=seed)))
    out = tmp_path / "shrunk"
    argv = [sys.executable, "-c", _WITH_SLOW_RUN, "shrink", str(folder), "-o", str(out),
            "--max-runs", "100000"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[3])
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # the first progress line (about a second in)
        assert line.startswith("shrink: "), line
        proc.send_signal(signal.SIGINT)
        stdout, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "paxlab shrink: interrupted after" in err
    assert "\nafter:  " in stdout
    artifact = read_artifact(out)
    original = read_artifact(folder)
    assert artifact.violation is not None and original.violation is not None
    assert artifact.violation.property == original.violation.property
    assert fake_run(artifact.options, replay=artifact.choices).fingerprint == artifact.fingerprint
