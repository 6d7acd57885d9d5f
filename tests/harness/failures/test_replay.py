from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest

import harness.failures.sweep
from harness.cli import main
from harness.failures.artifact import ARTIFACT_FILE, source_hash, write_artifact
from harness.sim.runspec import RunOptions
from tests.harness.failures.fakerun import failing_seeds, fake_run


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness.failures.sweep, "default_run", fake_run)


def _artifact(tmp_path: Path, failing: bool = True) -> Path:
    bad = failing_seeds(50)
    seed = bad[0] if failing else next(s for s in range(50) if s not in bad)
    folder = tmp_path / f"seed-{seed}"
    write_artifact(folder, fake_run(RunOptions(seed=seed, ops=11)))
    return folder


def test_replay_reproduces_violation_exit_1(
    fake: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _artifact(tmp_path)
    expected = fake_run(RunOptions(seed=int(folder.name[5:]), ops=11))
    assert expected.violation is not None
    assert main(["replay", str(folder)]) == 1
    out, _ = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].startswith(f"replay {folder}: seed={expected.options.seed} ")
    assert "ops=11" in lines[0]
    assert f"verdict: violation {expected.violation.property}: " in out
    assert f"fingerprint: {expected.fingerprint} (matches the artifact)" in out
    assert f"REPRODUCED {expected.violation.property}" in out
    assert "draw=" not in out  # no trace unless asked


def test_replay_of_passing_artifact_exit_0(
    fake: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(_artifact(tmp_path, failing=False))]) == 0
    out, _ = capsys.readouterr()
    assert "verdict: ok" in out and "PASSED" in out


def test_trace_and_until(fake: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _artifact(tmp_path)
    assert main(["replay", str(folder), "--trace"]) == 1
    out, _ = capsys.readouterr()
    full = [line for line in out.splitlines() if "draw=" in line]
    assert full and full[0].startswith("1 ")
    assert main(["replay", str(folder), "--until", "2"]) == 1
    out, _ = capsys.readouterr()
    part = [line for line in out.splitlines() if "draw=" in line]
    assert part == full[:2]
    assert "(matches the artifact)" in out  # the run still went to its end


def test_fingerprint_mismatch_is_not_reproduced(
    fake: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _artifact(tmp_path)
    meta = json.loads((folder / ARTIFACT_FILE).read_text())
    meta["fingerprint"] = "f" * 32
    (folder / ARTIFACT_FILE).write_text(json.dumps(meta))
    assert main(["replay", str(folder)]) == 1
    out, err = capsys.readouterr()
    assert "fingerprint mismatch: artifact=" + "f" * 32 in err
    assert "a determinism bug" in err  # same code and versions
    assert len(err.strip().splitlines()) == 1
    assert "NOT REPRODUCED: fingerprint: artifact=" + "f" * 32 in out
    assert "\nREPRODUCED" not in out and "PASSED" not in out


def test_changed_choices_do_not_match(
    fake: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _artifact(tmp_path)
    meta = json.loads((folder / ARTIFACT_FILE).read_text())
    meta["choices"] = [0] * len(meta["choices"])
    (folder / ARTIFACT_FILE).write_text(json.dumps(meta))
    assert main(["replay", str(folder)]) == 1
    assert "fingerprint mismatch" in capsys.readouterr().err


@pytest.mark.parametrize("case", ["missing", "corrupt", "until0"])
def test_bad_input_exit_2(
    fake: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    folder = _artifact(tmp_path)
    argv = ["replay", str(folder)]
    if case == "missing":
        argv = ["replay", str(tmp_path / "nothing")]
    elif case == "corrupt":
        (folder / ARTIFACT_FILE).write_text("{")
    else:
        argv += ["--until", "0"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    if case == "corrupt":
        assert "artifact.json:1: bad JSON" in err


def test_unsafe_label_is_shown(
    fake: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed = failing_seeds(50)[0]
    result = fake_run(RunOptions(seed=seed, unsafe_clocks=True))
    assert result.unsafe
    write_artifact(tmp_path, attrs.evolve(result))
    assert main(["replay", str(tmp_path)]) == 1
    assert "UNSAFE" in capsys.readouterr().out


def test_mismatch_names_changed_code(
    fake: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _artifact(tmp_path)
    meta = json.loads((folder / ARTIFACT_FILE).read_text())
    meta["fingerprint"] = "f" * 32
    meta["versions"]["paxlab_source"] = "0123456789abcdef"
    (folder / ARTIFACT_FILE).write_text(json.dumps(meta))
    assert main(["replay", str(folder)]) == 1
    err = capsys.readouterr().err
    expected = f"(paxlab_source 0123456789abcdef -> {source_hash()})"
    assert f"the code changed since the artifact {expected}" in err


@pytest.mark.parametrize("field, value, needle", [
    ("property", "S99", "property: artifact=S99 replay="),
    ("step", 1, "step: artifact=1 replay="),
    ("node", 7, "node: artifact=7 replay="),
])
def test_edited_violation_is_not_reproduced(
    fake: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], field: str, value: object,
    needle: str,
) -> None:
    """Same choices, same fingerprint, but the artifact records another property or place."""
    folder = _artifact(tmp_path)
    meta = json.loads((folder / ARTIFACT_FILE).read_text())
    meta["violation"][field] = value
    (folder / ARTIFACT_FILE).write_text(json.dumps(meta))
    assert main(["replay", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "(matches the artifact)" in out
    assert "NOT REPRODUCED: " in out and needle in out and "\nREPRODUCED" not in out


def test_artifact_of_a_violation_replaying_clean_is_not_reproduced(
    fake: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A passing run's artifact edited to claim a violation: the replay must not pass."""
    folder = _artifact(tmp_path, failing=False)
    meta = json.loads((folder / ARTIFACT_FILE).read_text())
    meta["violation"] = {"property": "S8", "message": "m", "time_us": 1, "step": 1}
    (folder / ARTIFACT_FILE).write_text(json.dumps(meta))
    assert main(["replay", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "NOT REPRODUCED: the artifact records S8, the replay violated nothing" in out
    assert "PASSED" not in out


@pytest.mark.parametrize("edit", [
    lambda m: m.update(seed="3"),
    lambda m: m["options"].update(seed="3"),
    lambda m: (m.update(seed="3"), m["options"].update(seed="3")),  # the run raised on it
    lambda m: m["options"].update(keys="5"),
    lambda m: m["violation"].update(step="x"),
    lambda m: m["violation"].update(extra=1),
    lambda m: m.update(violation=[1]),
    lambda m: m["options"].update(faults="crash"),
])
def test_ill_typed_artifact_is_bad_input(
    fake: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: object
) -> None:
    folder = _artifact(tmp_path)
    meta = json.loads((folder / ARTIFACT_FILE).read_text())
    edit(meta)  # type: ignore[operator]
    (folder / ARTIFACT_FILE).write_text(json.dumps(meta))
    assert main(["replay", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("paxlab replay: error: ") and err.count("\n") == 1
