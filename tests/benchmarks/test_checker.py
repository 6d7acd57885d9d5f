"""The checker benchmark at small sizes, so it cannot rot (full sizes: benchmarks/checker.py)."""

from __future__ import annotations

import pytest

from benchmarks import checker


def test_quick_benchmark_runs_and_gets_expected_verdicts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert checker.main(["--quick"]) == 0
    out = capsys.readouterr().out.splitlines()
    corpus = checker.corpus_cases()
    assert len(out) == len(checker.CASES) + len(corpus) + 4
    assert out[-1].startswith("result hash: ")
    synthetic = out[1:len(checker.CASES) + 1]
    assert sum("violation" in line for line in synthetic) == 4
    lines = [line for line in out if line.startswith("corpus ") and "total" not in line]
    assert len(lines) == len(corpus) and not any("expected" in line for line in lines)
    assert out[-2].startswith(f"corpus total {len(corpus)} cases")
    assert any(line.startswith("edn read 1000 kv ops") and "linearizable" in line
               for line in out)
