"""The checker benchmark at small sizes, so it cannot rot (full sizes: benchmarks/checker.py)."""

from __future__ import annotations

import pytest

from benchmarks import checker


def test_quick_benchmark_runs_and_gets_expected_verdicts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert checker.main(["--quick"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(checker.CASES) + 2
    assert out[-1].startswith("result hash: ")
    assert sum("violation" in line for line in out[1:-1]) == 4
