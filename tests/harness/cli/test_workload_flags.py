"""``--hot-key`` (run and sweep) and the info share in run output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main


def test_hot_key_run_puts_twenty_clients_on_one_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--seed", "4", "--ops", "150", "--hot-key", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["options"]["keys"], data["options"]["clients"]) == (1, 20)
    ops = data["ops"]
    assert data["info_share"] == pytest.approx(ops["info"] / sum(ops.values()), abs=1e-6)
    assert main(["run", "--seed", "4", "--ops", "50", "--hot-key", "--clients", "30"]) == 0
    out = capsys.readouterr().out
    assert "clients=30 keys=1" in out and "info share" in out


def test_hot_key_clashing_with_keys_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--hot-key", "--keys", "3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--hot-key" in err and "keys=3" in err
    assert main(["sweep", "--hot-key", "--keys", "2", "--seeds", "0:1"]) == 2


def test_hot_key_sweep(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["sweep", "--seeds", "0:2", "-j", "1", "--ops", "60", "--hot-key", "--json",
                 "--out", str(tmp_path)])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (data["options"]["keys"], data["options"]["clients"]) == (1, 20)


def test_default_counts_without_hot_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--seed", "1", "--ops", "20", "--faults", "none", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["options"]["keys"], data["options"]["clients"]) == (5, 5)
