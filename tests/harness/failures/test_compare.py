"""`harness.failures.compare`: figures, tables, interruption (fake runs: no simulator)."""

from __future__ import annotations

import pytest

from harness.failures.compare import compare, figures, format_table, percentile
from harness.sim.scenario_runs import ScenarioRun


def fake_run(protocol: str, scenario: str, seed: int) -> ScenarioRun:
    """Deterministic figures from the seed; protocol ``bad`` fails seeds 3 and 5."""
    verdict = "violation" if protocol == "bad" and seed in (3, 5) else "ok"
    return ScenarioRun(
        protocol=protocol, scenario=scenario, seed=seed, verdict=verdict,
        fault_at_us=2_000_000, unavailable_us=seed * 1000,
        write_latencies_us=(seed, seed + 10), acked_writes=4, messages=8, elections=1 + seed % 2,
        prop="S8" if verdict == "violation" else None,
        message="S8: not linearizable" if verdict == "violation" else None,
    )


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([5], 0.99) == 5
    values = list(range(1, 101))
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.99) == 99
    assert percentile(list(reversed(values)), 1.0) == 100
    assert percentile([1, 2], 0.5) == 1


def test_figures_sum_up_in_seed_order() -> None:
    runs = [fake_run("bad", "leader-crash", s) for s in (5, 0, 3, 1)]
    f = figures("bad", runs)
    assert f.runs == 4 and f.measured == 4
    assert f.unavailable_p50_us == 1000 and f.unavailable_max_us == 5000
    assert f.violations == 2 and f.first_failure is not None and f.first_failure.seed == 3
    assert f.acked_writes == 16 and f.messages_per_write == 32 / 16
    assert f.write_p50_us == 5 and f.write_p99_us == 15  # of 0 1 3 5 10 11 13 15
    assert f.elections_per_run == (2 + 1 + 2 + 2) / 4  # seeds 5, 0, 3, 1


def test_errors_are_failures_without_figures() -> None:
    runs = [fake_run("p", "leader-crash", 0),
            ScenarioRun(protocol="p", scenario="leader-crash", seed=1, verdict="error",
                        message="ValueError: boom")]
    f = figures("p", runs)
    assert f.errors == 1 and f.runs == 2 and f.measured == 1 and f.elections_per_run == 1.0
    text = format_table(compare(["leader-crash"], ["p"], range(1), run=fake_run)[0][0])
    assert "violations" in text
    table = compare(["leader-crash"], ["p"], range(2), run=lambda p, s, n: runs[n])[0][0]
    out = format_table(table)
    assert table.failed
    assert "first failure seed 1: error: ValueError: boom" in out
    assert "repeat: paxlab compare --scenario leader-crash --protocols p --seeds 1:2" in out


def test_table_names_the_first_violation_and_its_command() -> None:
    tables, interrupted = compare(["gray-failure"], ["good", "bad"], range(6), run=fake_run)
    assert not interrupted and len(tables) == 1
    table = tables[0]
    assert table.failed and not table.undecided
    text = format_table(table)
    assert text.splitlines()[0].startswith("scenario gray-failure (seeds 0:6)")
    assert "bad: first failure seed 3: S8: not linearizable" in text and "S8: S8" not in text
    assert "paxlab compare --scenario gray-failure --protocols bad --seeds 3:4" in text
    assert "good: first failure" not in text
    assert [r.protocol for r in table.rows] == ["good", "bad"]
    good = compare(["gray-failure"], ["good"], range(6), run=fake_run)[0][0]
    assert not good.failed


def test_ctrl_c_keeps_the_tables_so_far() -> None:
    calls: list[int] = []

    def interrupting(protocol: str, scenario: str, seed: int) -> ScenarioRun:
        calls.append(seed)
        if scenario == "gray-failure" and seed == 2:
            raise KeyboardInterrupt
        return fake_run(protocol, scenario, seed)

    shown: list[str] = []
    tables, interrupted = compare(
        ["leader-crash", "gray-failure", "clock-drift"], ["good"], range(4), run=interrupting,
        on_table=lambda t: shown.append(t.scenario),
    )
    assert interrupted
    assert [t.scenario for t in tables] == shown == ["leader-crash", "gray-failure"]
    assert tables[0].complete and not tables[1].complete
    assert tables[1].rows[0].runs == 2
    assert "interrupted" in format_table(tables[1])


def test_unknown_scenario_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        compare(["meteor"], ["good"], range(1), run=fake_run)
