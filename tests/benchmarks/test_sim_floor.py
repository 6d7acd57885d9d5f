"""benchmarks.sim_floor at a tiny size, so it cannot rot (full size: python -m
benchmarks.sim_floor)."""

from __future__ import annotations

import re

import pytest

from benchmarks import sim_floor as bench


def test_the_floor_runs_the_protocol_and_prints_its_rate(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bench.main(["--ops", "40"])
    out = capsys.readouterr().out
    acked = int(re.search(r"(\d+) writes acknowledged", out).group(1))  # type: ignore[union-attr]
    delivered = int(re.search(r"([\d,]+) messages delivered", out).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert 30 <= acked <= 40  # a few may be refused before the first election settles
    assert delivered >= 4 * acked  # each write: an Accept and an Accepted per follower
    assert re.search(r"floor: [\d,]+ delivered messages per wall second", out)
    bench.main(["--ops", "40"])
    again = capsys.readouterr().out
    assert re.findall(r"result hash: (\w+)", again) == re.findall(r"result hash: (\w+)", out)
    assert len(re.findall(r"result hash: (\w+)", out)) == 1


def test_bad_sizes_are_usage_errors() -> None:
    with pytest.raises(SystemExit) as exc:
        bench.main(["--ops", "0"])
    assert exc.value.code == 2
