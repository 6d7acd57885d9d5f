"""``paxlab explore``: exit codes, JSON output, the artifact, bad bounds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.cli import main
from harness.failures.explore_artifact import read_explore_artifact
from harness.failures.explore_replay import replay_explore

SMALL = ["--ticks", "1", "--writes", "0", "--reads", "0", "--inflight", "3"]


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--crashes", "-1"], "crashes=-1"),
        (["--ticks", "-1"], "give --ticks or --depth"),
        (["--variant", "nope"], "unknown variant"),
        (["--strategy", "sideways"], "unknown strategy"),
        (["--candidates", "0"], "candidates=0"),
        (["--candidates", "4"], "candidates=4"),
        (["--log-spares", "-1"], "log_spares=-1"),
        (["--kills", "-1"], "kills=-1"),
    ],
)
def test_bad_bounds_exit_2_one_line(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["explore", *argv]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1


def test_correct_protocol_passes_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", *SMALL, "--crashes", "0", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == "ok" and data["complete"] is True
    assert data["states"] > 10 and data["transitions"] >= data["states"] - 1
    assert {"max_depth", "states_per_s", "peak_rss_kb"} <= set(data)


def test_variant_violation_writes_replayable_artifact(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "art"
    code = main(["explore", *SMALL, "--variant", "no-persist-promise", "--out", str(out)])
    assert code == 1
    text = capsys.readouterr().out
    assert "VIOLATION S3:" in text and str(out) in text
    meta = json.loads((out / "artifact.json").read_text())
    assert meta["kind"] == "explore" and meta["violation"]["property"] == "S3"
    bounds, actions, violation = read_explore_artifact(out)
    assert bounds.variant == "no-persist-promise" and len(actions) == 5
    assert violation is not None
    outcome = replay_explore(out)
    assert outcome.violation is not None and outcome.violation.property == "S3"


def test_dfs_and_random_find_it_too(tmp_path: Path) -> None:
    for strategy in ("dfs", "random"):
        code = main(["explore", *SMALL, "--variant", "no-persist-promise", "--strategy",
                     strategy, "--walks", "2000", "--out", str(tmp_path / strategy), "--json"])
        assert code == 1


def test_same_counts_under_different_hash_seeds() -> None:
    import os
    import subprocess
    import sys

    argv = [sys.executable, "-m", "harness", "explore", *SMALL, "--crashes", "1", "--json"]
    counts = []
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        data = json.loads(done.stdout)
        counts.append((data["states"], data["transitions"], data["max_depth"]))
    assert counts[0] == counts[1]


def test_symmetry_flag_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    base = [*SMALL, "--crashes", "0", "--candidates", "1", "--json"]
    counts = {}
    for flag in ("--symmetry", "--no-symmetry"):
        assert main(["explore", *base, flag]) == 0
        data = json.loads(capsys.readouterr().out)
        on = flag == "--symmetry"
        assert data["symmetry"]["enabled"] is on and data["bounds"]["symmetry"] is on
        assert data["symmetry"]["group_order"] == (2 if on else 1)
        assert data["symmetry"]["orbits"] == ([[1, 2]] if on else [])
        counts[flag] = data["states"]
    assert counts["--symmetry"] < counts["--no-symmetry"]


def test_one_step_swap_cli_finds_s12(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "swap"
    argv = ["explore", "--variant", "one-step-swap", "--reads", "0", "--crashes", "0",
            "--out", str(out), "--json"]
    assert main(argv) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["violation"]["property"] == "S12"
    assert data["bounds"]["log_spares"] == 1 and data["bounds"]["dead_after_us"] == 50_000
    outcome = replay_explore(out)
    assert outcome.violation is not None and outcome.violation.property == "S12"


def test_progress_lines_carry_elapsed_time_and_rate(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.explore import search

    monkeypatch.setattr(search, "FREEZE_EVERY", 500)
    monkeypatch.setattr(search, "PROGRESS_EVERY", 1_000)
    assert main(["explore", "--crashes", "0", "--reads", "0", "--max-states", "3000"]) == 3
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("... ")]
    assert [x.split()[1] for x in lines] == ["states=1000", "states=2000", "states=3000"]
    assert all(re.search(r" elapsed=\d+\.\ds states_per_s=[\d,]+$", x) for x in lines)
