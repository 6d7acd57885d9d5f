"""``explore(executor="dask://...")``: partitions as actors on a local Dask cluster of two
worker processes (127.0.0.1 only, closed by the context manager) report what one process
reports, count for count, and the same violation and trace."""

from __future__ import annotations

import logging

import pytest

from harness.explore import Bounds, BoundsError, explore

logging.getLogger("consensus").setLevel(logging.CRITICAL)

PASSING = Bounds(ticks=1)  # 14,090 states
BROKEN = Bounds(variant="stale-read", crashes=0, max_round=1, ticks=2)  # S8


def test_dask_cluster_reports_what_one_process_reports() -> None:
    import distributed  # the dask extra (installed with the dev setup)

    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None, worker_dashboard_address=None,
    ) as cluster:
        executor = "dask://" + cluster.scheduler_address.removeprefix("tcp://")
        results = [(explore(b), explore(b, executor=executor)) for b in (PASSING, BROKEN)]
    for one, dask in results:
        assert dask.parallel is not None and dask.parallel["partitions"] == 2
        assert dask.parallel["executor"] == executor
        assert (dask.states, dask.transitions, dask.max_depth, dask.verdict, dask.refused,
                dask.ends) == (one.states, one.transitions, one.max_depth, one.verdict,
                               one.refused, one.ends)
        assert dask.violation == one.violation and dask.schedule == one.schedule
        assert all(w["expanded"] > 0 for w in dask.parallel["workers"])
    assert results[0][0].verdict == "ok" and results[1][0].verdict == "violation"


def test_unreachable_dask_scheduler_is_a_bounds_error() -> None:
    from harness.explore.drivers import DaskDriver

    with pytest.raises(BoundsError, match="cannot reach dask scheduler"):
        DaskDriver(PASSING, "tcp://127.0.0.1:9", timeout_s=1.0)
