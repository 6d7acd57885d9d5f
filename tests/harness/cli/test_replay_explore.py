"""`paxlab replay` runs an explore artifact through the simulator's host loop."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main


def test_replay_of_an_explore_trace_reproduces_its_violation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "ex"
    assert main(["explore", "--variant", "quorum-one", "--out", str(folder)]) == 1
    capsys.readouterr()
    assert main(["replay", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "explore schedule" in out
    assert "REPRODUCED S4" in out


def test_replay_of_a_broken_explore_artifact_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "ex"
    folder.mkdir()
    (folder / "artifact.json").write_text('{"format": "paxlab-artifact", "kind": "explore"}')
    assert main(["replay", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("paxlab replay: error:") and err.count("\n") == 1
