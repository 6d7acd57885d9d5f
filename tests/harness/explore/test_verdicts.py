"""``paxlab explore`` never calls a search PASSED that a bound cut short, and its bounds
bound what they say."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from harness.cli import main
from harness.explore import Bounds, BoundsError, explore
from harness.explore.bounds import MAX_CLIENT_OPS, default_inflight


def test_default_inflight_scales_with_replicas() -> None:
    assert Bounds().inflight == 3  # the documented default configuration is unchanged
    assert Bounds(replicas=5).inflight == default_inflight(5) == 6
    assert Bounds(replicas=5, inflight=2).inflight == 2
    assert Bounds.from_json(Bounds(replicas=5).to_json()) == Bounds(replicas=5)


def test_every_path_cut_is_not_passed(capsys: pytest.CaptureFixture[str]) -> None:
    """5 replicas with 3 messages in flight: no election fits, nothing beyond depth 2."""
    code = main(["explore", "--replicas", "5", "--variant", "stale-read", "--inflight", "3"])
    out = capsys.readouterr().out
    assert code == 3
    assert "PASSED" not in out and "complete=False" in out
    assert "INCOMPLETE" in out and "every path was cut by a bound" in out
    assert "--inflight" in out
    refused = next(line for line in out.splitlines() if line.startswith("refused:"))
    assert "path_ends=0" in refused and "inflight=0" not in refused


def test_cut_short_in_the_library() -> None:
    result = explore(Bounds(replicas=5, inflight=3, writes=0, reads=0))
    assert result.exhausted and result.cut_short and not result.complete
    assert result.refused["inflight"] > 0 and result.ends == 0
    assert result.verdict == "unknown"
    assert result.to_json()["verdict"] == "unknown"


def test_some_refusals_but_paths_that_end_is_passed(capsys: pytest.CaptureFixture[str]) -> None:
    """The documented under-approximation: inflight refuses some interleavings, others run
    to their end; that is a complete search (the counts are printed)."""
    assert main(["explore", "--ticks", "1", "--writes", "0", "--reads", "0",
                 "--crashes", "0", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == "ok" and data["complete"] and data["ends"] > 0
    assert data["refused"]["inflight"] > 0 and not data["cut_short"]


def test_depth_cutting_every_path_is_incomplete(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["explore", "--ticks", "-1", "--depth", "6", "--writes", "0", "--reads", "0",
                 "--crashes", "0"])
    out = capsys.readouterr().out
    assert code == 3 and "PASSED" not in out and "--depth" in out


def test_max_states_is_not_passed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", "--max-states", "50"]) == 3
    out = capsys.readouterr().out
    assert "stopped at --max-states 50" in out and "PASSED" not in out


@pytest.mark.parametrize("walks", ["0", "-1"])
def test_random_without_walks_is_refused(walks: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", "--strategy", "random", "--walks", walks]) == 2
    err = capsys.readouterr().err
    assert f"walks={walks}" in err and err.count("\n") == 1
    with pytest.raises(BoundsError):
        explore(Bounds(), strategy="random", walks=int(walks))


def test_random_walks_never_pass(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["explore", "--strategy", "random", "--walks", "5", "--writes", "0",
                 "--reads", "0"])
    assert code == 3 and "random walks cover some paths only" in capsys.readouterr().out


@pytest.mark.parametrize("flag, value", [("--writes", "10000"), ("--replicas", "40"),
                                         ("--spares", "9")])
def test_oversized_bounds_refused(
    flag: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["explore", flag, value, "--max-states", "2000"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_max_states_bounds_time_with_the_most_clients() -> None:
    """The most client ops allowed: 2,000 states take seconds, not minutes."""
    started = time.perf_counter()
    result = explore(Bounds(writes=MAX_CLIENT_OPS - 1, reads=1), max_states=2000)
    assert result.states == 2000 and result.stopped_at_max_states
    assert time.perf_counter() - started < 30


def test_out_checked_before_the_search(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for out in (blocker, blocker / "sub"):
        started = time.perf_counter()
        assert main(["explore", "--out", str(out)]) == 2
        assert time.perf_counter() - started < 5  # the default search takes ~50 s
        err = capsys.readouterr().err
        assert err.startswith("paxlab explore: error: --out") and err.count("\n") == 1
