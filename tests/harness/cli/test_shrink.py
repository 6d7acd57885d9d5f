from __future__ import annotations

import json
from pathlib import Path

import pytest

import harness.failures.sweep
from harness.cli import main
from harness.failures.artifact import ARTIFACT_FILE, read_artifact, write_artifact
from harness.failures.shrink import trim_zeros
from harness.sim.runspec import RunOptions
from tests.harness.failures.fakerun import failing_seeds, fake_run


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness.failures.sweep, "default_run", fake_run)


def _artifact(tmp_path: Path, seed: int) -> Path:
    folder = tmp_path / f"seed-{seed}"
    write_artifact(folder, fake_run(RunOptions(seed=seed)))
    return folder


def test_shrink_writes_smaller_artifact_that_replays(
    fake: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed = failing_seeds(50)[0]
    folder = _artifact(tmp_path, seed)
    before = read_artifact(folder)
    assert before.violation is not None
    assert main(["shrink", str(folder)]) == 0
    out, _ = capsys.readouterr()
    shrunk_folder = Path(f"{folder}-shrunk")
    after = read_artifact(shrunk_folder)
    assert after.violation is not None
    assert after.violation.property == before.violation.property
    assert after.nonzero_choices < before.nonzero_choices
    kept_before, kept_after = trim_zeros(before.choices), trim_zeros(after.choices)
    assert f"before: {len(kept_before)} choices, {before.nonzero_choices} decisions, " in out
    assert f"after:  {len(kept_after)} choices, {after.nonzero_choices} decisions, " in out
    assert f"artifact: {shrunk_folder}" in out
    # the shrunk artifact replays exactly
    assert main(["replay", str(shrunk_folder)]) == 1
    assert "(matches the artifact)" in capsys.readouterr().out


def test_output_folder_and_budget(
    fake: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _artifact(tmp_path, failing_seeds(50)[1])
    out_folder = tmp_path / "small"
    assert main(["shrink", str(folder), "-o", str(out_folder), "--max-runs", "3"]) == 0
    out, _ = capsys.readouterr()
    assert "runs: 3 (budget spent)" in out
    assert read_artifact(out_folder).violation is not None


def test_passing_artifact_is_bad_input(
    fake: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed = next(s for s in range(50) if s not in failing_seeds(50))
    assert main(["shrink", str(_artifact(tmp_path, seed))]) == 2
    assert "no violation" in capsys.readouterr().err


def test_mismatched_artifact_warns_and_shrinks_current_run(
    fake: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _artifact(tmp_path, failing_seeds(50)[0])
    meta = json.loads((folder / ARTIFACT_FILE).read_text())
    meta["fingerprint"] = "0" * 32
    (folder / ARTIFACT_FILE).write_text(json.dumps(meta))
    assert main(["shrink", str(folder)]) == 0
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "fingerprint mismatch" in warnings[0]
    assert "still fails, shrinking that run" in warnings[0]
    assert read_artifact(f"{folder}-shrunk").violation is not None


def test_artifact_that_no_longer_fails_is_bad_input(
    fake: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _artifact(tmp_path, failing_seeds(50)[0])
    meta = json.loads((folder / ARTIFACT_FILE).read_text())
    meta["choices"] = [0] * len(meta["choices"])  # the all-nominal run passes
    (folder / ARTIFACT_FILE).write_text(json.dumps(meta))
    assert main(["shrink", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "does not reproduce" in err and len(err.strip().splitlines()) == 1
    assert not Path(f"{folder}-shrunk").exists()


def test_missing_artifact_and_bad_budget(
    fake: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["shrink", str(tmp_path / "none")]) == 2
    assert main(["shrink", str(tmp_path), "--max-runs", "-1"]) == 2
    err = capsys.readouterr().err
    assert "not an artifact folder" in err and "max_runs=-1" in err
