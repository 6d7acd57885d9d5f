"""Tests for the search internals: info-op pruning, the superseded-value rule, resumable runs."""

from __future__ import annotations

from typing import Any

from harness.checks._prune import find_superseded_observer, prune_info_ops
from harness.checks._wgl import PartitionSearch
from harness.checks.history import pair_operations
from harness.checks.models import KVModel, RegisterModel
from harness.checks.synth import generate_history
from tests.harness.checks.helpers import h

R = None


def test_prune_drops_info_reads_and_unobserved_writes() -> None:
    ops = pair_operations(h(
        (0, "invoke", "write", R, 1), (0, "info", "write", R, 1),   # observed later: kept
        (1, "invoke", "write", R, 2), (1, "info", "write", R, 2),   # never observed: dropped
        (2, "invoke", "read", R, None), (2, "info", "read", R, None),  # info read: dropped
        (3, "invoke", "cas", R, [2, 3]), (3, "info", "cas", R, [2, 3]),  # writes 3: dropped
        (4, "invoke", "read", R, None), (4, "ok", "read", R, 1),
    ))
    kept, deps = prune_info_ops(ops, RegisterModel())
    assert [op.id for op in kept] == [0, 4]
    assert deps == [[4], None]


def test_prune_cascades_through_info_cas() -> None:
    # cas [5, 6] observes 5 but nobody observes 6: dropping it leaves write 5 unobserved too.
    ops = pair_operations(h(
        (0, "invoke", "write", R, 5), (0, "info", "write", R, 5),
        (1, "invoke", "cas", R, [5, 6]), (1, "info", "cas", R, [5, 6]),
        (2, "invoke", "read", R, None), (2, "ok", "read", R, None),
    ))
    kept, _ = prune_info_ops(ops, RegisterModel())
    assert [op.id for op in kept] == [2]


def test_prune_with_appends_keeps_what_reads_may_show() -> None:
    ops = pair_operations(h(
        (0, "invoke", "append", "k", "x"), (0, "info", "append", "k", "x"),
        (1, "invoke", "append", "k", "y"), (1, "info", "append", "k", "y"),
        (2, "invoke", "put", "k", "p"), (2, "info", "put", "k", "p"),
        (3, "invoke", "get", "k", None), (3, "ok", "get", "k", "px"),
    ))
    kept, deps = prune_info_ops(ops, KVModel())
    assert [op.value for op in kept] == ["x", "p", "px"]
    assert deps == [[3], [3], None]


def test_superseded_observer_found_and_not_on_good_history() -> None:
    stale = pair_operations(h(
        (0, "invoke", "write", R, 1), (0, "ok", "write", R, 1),
        (0, "invoke", "write", R, 2), (0, "ok", "write", R, 2),
        (1, "invoke", "read", R, None), (1, "ok", "read", R, 1),
    ))
    found = find_superseded_observer(stale, RegisterModel())
    assert found is not None and found.id == 2
    concurrent = pair_operations(h(
        (0, "invoke", "write", R, 1), (0, "ok", "write", R, 1),
        (0, "invoke", "write", R, 2), (1, "invoke", "read", R, None),
        (1, "ok", "read", R, 1), (0, "ok", "write", R, 2),
    ))
    assert find_superseded_observer(concurrent, RegisterModel()) is None
    # initial value read after a completed write; a value nobody wrote
    for seen in (None, 9):
        ops = pair_operations(h((0, "invoke", "write", R, 1), (0, "ok", "write", R, 1),
                                (1, "invoke", "read", R, None), (1, "ok", "read", R, seen)))
        assert find_superseded_observer(ops, RegisterModel()) is not None


def test_superseded_rule_never_fires_on_linearizable_histories() -> None:
    for seed in range(5):
        for domain in (3, None):
            events = generate_history(model="register", seed=seed, ops=300, clients=6,
                                      info_rate=0.2, fail_rate=0.1, value_domain=domain)
            assert find_superseded_observer(pair_operations(events), RegisterModel()) is None


def test_search_resumes_across_slices_with_same_result() -> None:
    events = generate_history(model="register", ops=200, clients=5, info_rate=0.1, seed=3,
                              value_domain=4)
    ops = [op for op in pair_operations(events) if op.type != "fail"]
    whole = PartitionSearch(None, ops, RegisterModel())
    assert whole.run(10**7, 10**7) == "ok"
    sliced = PartitionSearch(None, ops, RegisterModel())
    statuses: list[Any] = []
    while not sliced.done:
        statuses.append(sliced.run(7, 10**7))
    assert statuses[-1] == "ok" and len(statuses) > 10
    assert sliced.states_created == whole.states_created


def test_doomed_value_rule_keeps_high_concurrency_tractable() -> None:
    # 30 concurrent clients on one register: exponential for plain WGL, near-linear with the
    # eager-read and doomed-value rules (both compared with the oracle in the fuzz tests).
    events = generate_history(model="register", ops=600, clients=30, info_rate=0.05, seed=5)
    ops = [op for op in pair_operations(events) if op.type != "fail"]
    search = PartitionSearch(None, ops, RegisterModel())
    assert search.run(10**6, 10**6) == "ok"
    assert search.states_created < 5 * len(ops)
    plain = PartitionSearch(None, ops, RegisterModel(), prune_doomed=False)
    assert plain.run(50_000, 10**6) == "running"  # the rule is what makes the difference


def test_blame_names_the_read_that_needs_the_overwritten_value() -> None:
    ops = pair_operations(h(
        (0, "invoke", "write", R, 1), (0, "ok", "write", R, 1),
        (0, "invoke", "write", R, 2), (0, "ok", "write", R, 2),
        (1, "invoke", "read", R, None), (1, "ok", "read", R, 1),
    ))
    search = PartitionSearch(None, ops, RegisterModel())
    assert search.run(1000, 1000) == "violation"
    assert search.failed_op is not None and search.failed_op.f == "read"
