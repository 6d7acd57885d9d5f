"""A sweep sums what its runs exercised and names the probes that never fired."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import harness.failures.sweep
from consensus.probes import PROBES
from harness.cli import main
from harness.failures.sweep import sweep
from harness.sim.runspec import RunOptions
from tests.harness.failures.fakerun import covered_run, fake_run


def test_sweep_sums_coverage_and_lists_never_fired_probes(tmp_path: Path) -> None:
    summary = sweep(RunOptions(ops=10), range(0, 3), jobs=1, out=tmp_path, run=covered_run)
    assert summary.coverage() == {"leader_changes": 0 + 1 + 2, "partitions": {"halves": 3,
                                                                              "ring": 0}}
    assert summary.probes() == {"compaction": 2, "acceptor.nack": 0}
    never = summary.probes_never_fired()
    assert "compaction" not in never and "acceptor.nack" in never
    assert never == [name for name in PROBES if name != "compaction"]
    with_three = sweep(RunOptions(ops=10), range(2, 4), jobs=1, out=tmp_path, run=covered_run)
    assert with_three.probes_never_fired() == [
        name for name in PROBES if name not in ("compaction", "acceptor.nack")
    ]
    data = summary.to_json()
    assert data["coverage"]["leader_changes"] == 3
    assert data["probes_never_fired"] == never
    assert [r["seed"] for r in data["per_run"]] == [0, 1, 2]
    assert data["per_run"][1]["coverage"]["leader_changes"] == 1
    assert data["per_run"][0]["probes"] == {"compaction": 1}  # only probes that fired


def test_runs_without_coverage_print_no_coverage_lines(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(harness.failures.sweep, "default_run", fake_run)
    main(["sweep", "--seeds", "0:3", "-j", "1", "--out", str(tmp_path)])
    assert "coverage:" not in capsys.readouterr().out


def test_real_sweep_reports_coverage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["sweep", "--seeds", "0:2", "-j", "1", "--ops", "150", "--out", str(tmp_path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "coverage: leader changes " in out and re.search(r"info ops \d+ of \d+ \(", out)
    assert "probes never fired (" in out and "client.refused-log-replica" in out
    assert main([*argv, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    per_run = data["per_run"]
    assert [r["seed"] for r in per_run] == [0, 1]
    assert data["coverage"]["leader_changes"] == sum(
        r["coverage"]["leader_changes"] for r in per_run
    ) >= 2
    for r in per_run:
        cov = r["coverage"]
        assert cov["ops_completed"] > 0
        assert r["info_share"] == pytest.approx(cov["info_ops"] / cov["ops_completed"], abs=1e-6)
    total = data["coverage"]
    assert data["info_share"] == pytest.approx(total["info_ops"] / total["ops_completed"],
                                               abs=1e-6)
    fired = {name for r in per_run for name in r["probes"]}
    assert set(data["probes_never_fired"]) == set(PROBES) - fired
    assert data["probes"]["client.refused-not-leader"] == sum(
        r["probes"].get("client.refused-not-leader", 0) for r in per_run
    )
