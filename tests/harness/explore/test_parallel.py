"""``explore(jobs=N)``: partitions in worker processes report exactly what one process
reports (states, transitions, depth, refused, path ends, verdict, violation and trace),
on passing configurations, on planted bugs, and where ``max_states`` stops inside a level.

Most comparisons run the partitions in this process (`_InProcess`: the same `Partition`
and `LevelSearch` code, without pipes), so many partition counts stay cheap; a few run the
real ``spawn`` workers."""

from __future__ import annotations

import logging
import multiprocessing
from typing import Any

import pytest

from harness.cli import main
from harness.explore import Bounds, BoundsError, ExploreResult, explore
from harness.explore.drivers import ProcessDriver, parse_executor
from harness.explore.levels import (
    ExploreWorkerError,
    Interrupted,
    LevelSearch,
    collision_probability,
    critical_path,
)
from harness.explore.partition import Partition

logging.getLogger("consensus").setLevel(logging.CRITICAL)

PASSING = Bounds(ticks=1)  # 14,090 states, complete, no violation
BROKEN = Bounds(variant="stale-read", crashes=0, max_round=1, ticks=2)
SMALL = Bounds(writes=0, reads=0, crashes=0)
SMALL_ARGS = ["--writes", "0", "--reads", "0", "--crashes", "0"]


class _InProcess:
    """The driver protocol over partitions in this process (one call after the other)."""

    def __init__(self, bounds: Bounds, parts: int) -> None:
        self.parts = parts
        self.partitions = [Partition(bounds, k, parts) for k in range(parts)]

    def call(self, method: str, args: list[tuple[Any, ...]]) -> list[Any]:
        return [getattr(p, method)(*a) for p, a in zip(self.partitions, args, strict=True)]

    def call_one(self, part: int, method: str, args: tuple[Any, ...]) -> Any:
        return getattr(self.partitions[part], method)(*args)

    def close(self) -> None:
        for p in self.partitions:
            p.close()


def _observable(r: ExploreResult) -> tuple[Any, ...]:
    return (r.states, r.transitions, r.max_depth, r.verdict, dict(r.refused), r.ends,
            r.exhausted, r.stopped_at_max_states, r.violation, r.schedule)


def _in_process(bounds: Bounds, parts: int, max_states: int | None = None) -> tuple[Any, ...]:
    driver = _InProcess(bounds, parts)
    search = LevelSearch(bounds, driver, max_states, None)
    violation, schedule, states, transitions, depth, exhausted = search.run()
    driver.close()
    return (states, transitions, depth,
            "violation" if violation is not None else "ok" if exhausted else "unknown",
            dict(search.refused), search.ends, exhausted, search.stopped, violation, schedule)


@pytest.mark.parametrize(("bounds", "max_states", "verdict"), [
    (SMALL, None, "ok"),
    (Bounds(ticks=1, depth=6), None, "ok"),  # the depth bound refuses at the last level
    (Bounds(candidates=1, ticks=1), None, "ok"),  # symmetry reduction on
    (BROKEN, None, "violation"),  # S8
    (Bounds(variant="quorum-one"), None, "violation"),  # S4
    (Bounds(variant="no-persist-promise"), None, "violation"),  # S3
    (Bounds(candidates=1, variant="stale-read"), None, "violation"),  # S8, symmetry on
    (Bounds(variant="one-step-swap", writes=0, reads=0, crashes=0), None, "ok"),  # spares
    (Bounds(writes=0, reads=0, crashes=0, step_downs=1), None, "ok"),  # planned handovers
    (SMALL, 1, "unknown"), (SMALL, 2, "unknown"), (SMALL, 7, "unknown"),
    (SMALL, 2_500, "unknown"),
    (BROKEN, 1_000, "unknown"),  # max-states before the violation
])
def test_partitions_report_what_one_process_reports(
    bounds: Bounds, max_states: int | None, verdict: str
) -> None:
    one = _observable(explore(bounds, max_states=max_states))
    assert one[3] == verdict
    for parts in (2, 3):
        assert _in_process(bounds, parts, max_states) == one, parts


def test_violation_found_by_two_workers_is_the_shortest_one_process_finds() -> None:
    one = explore(BROKEN)
    two = explore(BROKEN, jobs=2)
    assert one.violation is not None and one.violation.property == "S8"
    assert _observable(two) == _observable(one)
    assert two.parallel is not None and two.parallel["partitions"] == 2
    # the trace is a path of the one-process search, action by action, with its times
    assert [a for a, _ in two.schedule] == [a for a, _ in one.schedule]


def test_two_workers_count_a_complete_search_like_one_process() -> None:
    one = explore(PASSING)
    levels: list[tuple[int, list[int]]] = []
    two = explore(PASSING, jobs=2, level_progress=lambda s, t, d, sizes: levels.append(
        (d, sizes)))
    assert _observable(two) == _observable(one) and one.verdict == "ok"
    assert [d for d, _ in levels] == list(range(1, one.max_depth + 2))
    assert levels[-1][1] == [0, 0]
    par = two.parallel
    assert par is not None
    workers = par["workers"]
    assert sum(w["owned"] for w in workers) == one.states
    assert sum(w["records"] for w in workers) == one.states - 1  # every state but the root
    assert sum(w["expanded"] for w in workers) == one.states
    assert all(w["expanded"] > one.states // 4 for w in workers)  # both did a share
    assert par["collision_probability"] == collision_probability(one.states)
    # every level's slowest partition: at least the busiest one's total, at most the sum
    cpu = [w["cpu_s"] for w in workers]
    assert max(cpu) - 0.01 <= par["critical_path_cpu_s"] <= sum(cpu) + 0.01
    assert not multiprocessing.active_children()


def test_max_states_inside_a_level_stops_where_one_process_stops() -> None:
    for cap in (3_000, 5_001):
        assert _observable(explore(PASSING, max_states=cap, jobs=2)) == _observable(
            explore(PASSING, max_states=cap))


def test_ctrl_c_keeps_the_counts_of_finished_levels_and_stops_the_workers() -> None:
    seen: list[int] = []

    def progress(states: int, transitions: int, depth: int, sizes: list[int]) -> None:
        seen.append(states)
        if depth == 5:
            raise KeyboardInterrupt

    with pytest.raises(Interrupted) as info:
        explore(PASSING, jobs=2, level_progress=progress)
    assert info.value.states == seen[-1] and info.value.depth == 5
    assert info.value.transitions > 0
    assert not multiprocessing.active_children()


def test_cli_ctrl_c_exits_130_with_the_counts(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    import harness.cli.explore as cli_explore

    def printer() -> Any:
        def progress(states: int, transitions: int, depth: int, sizes: list[int]) -> None:
            raise KeyboardInterrupt
        return progress

    monkeypatch.setattr(cli_explore, "_level_printer", printer)
    code = main(["explore", "-j", "2", "--ticks", "1"])
    err = capsys.readouterr().err
    assert code == 130
    assert "interrupted: states=5 transitions=6 depth=1" in err


def test_cli_reports_a_dead_worker_in_one_line_without_verdict(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def dies(self: LevelSearch) -> Any:
        raise ExploreWorkerError("explore worker 1 died (exit code -9)\nmore")

    monkeypatch.setattr(LevelSearch, "run", dies)
    assert main(["explore", "-j", "2", *SMALL_ARGS]) == 3
    err = capsys.readouterr().err
    assert err == "paxlab explore: search failed: explore worker 1 died (exit code -9)\n"
    assert not multiprocessing.active_children()


def test_cli_prints_the_partitions_and_the_collision_bound(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["explore", "-j", "2", *SMALL_ARGS]) == 0
    out = capsys.readouterr()
    assert "states=4147 transitions=10089 max_depth=26" in out.out
    assert "PASSED" in out.out and "parallel: partitions=2" in out.out
    assert " critical_path_cpu_s=" in out.out
    assert "collision probability <= " in out.out
    assert "... level=1 states=4 transitions=3 frontier=" in out.err


@pytest.mark.parametrize("argv", [
    ["-j", "0"], ["-j", "65"], ["-j", "2", "--strategy", "dfs"],
    ["--executor", "local"], ["--executor", "dask://nohost"],
])
def test_bad_parallel_options_are_usage_errors(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["explore", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("paxlab explore: error:")


def test_parse_executor() -> None:
    assert parse_executor("dask://127.0.0.1:8786") == "tcp://127.0.0.1:8786"
    for bad in ("dask://", "dask://h:", "dask://h:x", "tcp://h:1", "local"):
        with pytest.raises(BoundsError):
            parse_executor(bad)


def test_a_failing_worker_is_an_error_and_every_worker_is_joined() -> None:
    driver = ProcessDriver(SMALL, 2)
    try:
        assert driver.call("size", [(), ()]) == [1, 0]
        with pytest.raises(ExploreWorkerError, match="no_such_method"):
            driver.call("no_such_method", [(), ()])
    finally:
        driver.close()
    assert not multiprocessing.active_children()


class _Answers(_InProcess):
    """`_InProcess`, noting the owners' answers: claims of states visited before, and
    states claimed by more than one partition in a level."""

    def __init__(self, bounds: Bounds, parts: int) -> None:
        super().__init__(bounds, parts)
        self.old = self.contested = 0

    def call(self, method: str, args: list[tuple[Any, ...]]) -> list[Any]:
        out = super().call(method, args)
        if method == "resolve":
            self.old += sum(len(blob) // 16 for r in out for blob in r["old"] if blob)
            self.contested += sum(len(r["contested"][0]) // 16 for r in out)
        return out


def test_claims_of_old_and_contested_states_lose_as_in_one_process() -> None:
    """A state another partition claims too goes to the least claim key, and a claim of a
    state visited in an earlier level loses (duplicated messages reach a state again a
    level later): both happen in this search (else the test says nothing), and the counts
    are still those of one process."""
    bounds = Bounds(writes=0, reads=0, crashes=0, dups=1)  # 17,077 states
    one = _observable(explore(bounds))
    for parts in (2,):
        driver = _Answers(bounds, parts)
        search = LevelSearch(bounds, driver, None, None)
        violation, schedule, states, transitions, depth, exhausted = search.run()
        assert driver.old > 0 and driver.contested > 0
        assert (states, transitions, depth, "ok" if exhausted else "?", dict(search.refused),
                search.ends, exhausted, search.stopped, violation, schedule) == one


def test_critical_path_sums_each_levels_slowest_partition() -> None:
    assert critical_path([[1.0, 2.0, 0.5], [1.5, 1.0]]) == 1.5 + 2.0 + 0.5
    assert critical_path([[1.0, 1.0], [1.0, 1.0]]) == 2.0  # not the sum of all, 4.0
    assert critical_path([]) == 0.0


def test_collision_probability() -> None:
    assert collision_probability(1) == 0.0
    assert collision_probability(2, bits=1) == 0.5  # one pair, two values
    p = collision_probability(754_892)
    assert 8e-28 < p < 9e-28  # ~ n^2 / 2^129
    assert collision_probability(10**6, bits=64) > 2e-8  # 64 bits: ~2.7e-8


@pytest.mark.slow
def test_default_configuration_in_two_workers_gives_the_documented_counts() -> None:
    two = explore(Bounds(), jobs=2)
    assert (two.states, two.transitions, two.max_depth, two.verdict) == (
        754_892, 2_140_503, 33, "ok")
    assert two.parallel is not None
    expanded = [w["expanded"] for w in two.parallel["workers"]]
    assert sum(expanded) == two.states and min(expanded) > 0.45 * two.states


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["stale-read", "no-lease-wait", "one-step-swap"])
def test_default_bounds_variants_in_two_workers_match_one_process(variant: str) -> None:
    one = explore(Bounds(variant=variant))
    two = explore(Bounds(variant=variant), jobs=2)
    assert one.verdict == "violation" and _observable(two) == _observable(one)
