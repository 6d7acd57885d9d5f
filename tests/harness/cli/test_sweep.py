from __future__ import annotations

import json
from pathlib import Path

import pytest

import harness.failures.sweep
from harness.cli import main
from harness.failures.artifact import read_artifact
from tests.harness.failures.fakerun import failing_seeds, fake_run


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness.failures.sweep, "default_run", fake_run)


def test_failures_exit_1_with_summary_and_artifacts(
    fake: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["sweep", "--seeds", "0:30", "-j", "2", "--out", str(tmp_path), "--ops", "9"])
    out, err = capsys.readouterr()
    assert code == 1
    expected = failing_seeds(30)
    assert out.splitlines()[0].startswith("sweep seeds=0:30 (30 seeds) replicas=3 ops=9")
    assert f"seeds run: 30, passed: {30 - len(expected)}, failed: {len(expected)}" in out
    assert "FAILED" in out and "paxlab replay " in out
    assert f"artifact: {tmp_path / f'seed-{expected[0]}'}" in out
    for seed in expected:
        assert read_artifact(tmp_path / f"seed-{seed}").options.ops == 9
    # progress goes to stderr, not stdout, and ends with the final count
    assert "sweep: 30/30 done" in err
    assert "runs/s" in err and "eta" in err
    assert "/30 done" not in out


def test_passing_range_exits_0(fake: None, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    good = next(s for s in range(50) if s not in failing_seeds(50))
    code = main(["sweep", "--seeds", f"{good}:{good + 1}", "-j", "1", "--out", str(tmp_path)])
    out, _ = capsys.readouterr()
    assert code == 0
    assert "PASSED" in out and "failed: 0" in out
    assert list(tmp_path.iterdir()) == []


def test_json_summary(fake: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["sweep", "--seeds", "0:20", "-j", "1", "--out", str(tmp_path), "--json",
                 "--faults", "none", "--variant", "stale-read"])
    out, _ = capsys.readouterr()
    data = json.loads(out)
    assert code == 1
    assert data["run"] == 20 and data["failed"] == len(failing_seeds(20))
    assert data["options"]["faults"] == [] and data["options"]["variant"] == "stale-read"
    assert {s for g in data["groups"] for s in g["seeds"]} == set(failing_seeds(20))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--seeds", "5:3"], "seed range"),
        (["--seeds", "x"], "seed range"),
        (["--seeds", "0:3", "-j", "0"], "jobs=0"),
        (["--seeds", "0:3", "--executor", "spark://h:1"], "unknown executor"),
        (["--seeds", "0:3", "--variant", "nope"], "unknown variant"),
        (["--seeds", "0:3", "--faults", "crash,meteor"], "unknown fault"),
        (["--seeds", "0:3", "--ops", "-1"], "ops"),
        (["--seeds", "0:3", "--replicas", "0"], "replicas"),
        (["--seeds", "0:3", "--bogus"], "unrecognized"),
    ],
)
def test_bad_usage_exits_2_on_one_line(
    fake: None, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        code = main(["sweep", *argv])
        raise SystemExit(code)
    _, err = capsys.readouterr()
    assert info.value.code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_progress_printer_is_rate_limited() -> None:
    import io

    from harness.cli.sweep import ProgressPrinter
    from harness.failures.sweep import SweepProgress

    stream = io.StringIO()
    printer = ProgressPrinter(stream, interval_s=3600.0)
    for done in range(1, 101):
        printer(SweepProgress(done=done, total=100, failed=done // 10, elapsed_s=done / 10,
                              runs_per_s=10.0, eta_s=(100 - done) / 10))
    assert stream.getvalue() == "sweep: 100/100 done, 10.0 runs/s, 10 failed, eta 0s\n"
    every = io.StringIO()
    eager = ProgressPrinter(every, interval_s=0.0)
    eager(SweepProgress(done=1, total=9, failed=0, elapsed_s=1.0, runs_per_s=1.0, eta_s=128.0))
    eager(SweepProgress(done=2, total=9, failed=1, elapsed_s=2.0, runs_per_s=1.0, eta_s=None))
    assert every.getvalue().splitlines() == [
        "sweep: 1/9 done, 1.0 runs/s, 0 failed, eta 2m08s",
        "sweep: 2/9 done, 1.0 runs/s, 1 failed, eta ?",
    ]


def test_interrupt_exits_130_without_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(harness.failures.sweep, "sweep", interrupted)
    assert main(["sweep", "--seeds", "0:3"]) == 130
    err = capsys.readouterr().err
    assert err.strip() == "paxlab sweep: interrupted (artifacts written so far are kept)"
