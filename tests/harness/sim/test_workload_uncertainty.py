"""harness.sim.workload: client crashes mid-operation, failed cas observations, log-replica reads,
and (in the simulator) that a log replica serving a read is caught (S13)."""

from __future__ import annotations

import logging

import pytest
import trio

import consensus.replica
from consensus.effects import ServeRead
from consensus.events import ClientRead, ClientWrite
from harness.checks.history import pair_operations
from harness.runtime.chooser import Chooser
from harness.runtime.host import TIMEOUT, ClientOutcome
from harness.sim import SimOptions, run, simulate
from harness.sim.runspec import RunOptions
from harness.sim.workload import Workload
from tests.harness.runtime.test_host import encode
from tests.harness.sim.test_workload import FakeCluster


def test_a_client_crash_mid_write_is_info_and_the_client_returns_as_a_new_process() -> None:
    # think, op=put, key=k0, crash=yes, crash.after=0 | think, op=put, key=k0, crash=no
    workload = Workload(
        ops=2, keys=3, chooser=Chooser.replaying([0, 0, 0, 1, 0, 0, 0, 0, 0]), encode=encode,
        clients=4,
    )
    cluster = FakeCluster(lambda n, e: TIMEOUT if len(cluster.sent) == 1 else
                          ClientOutcome(status="ok", applied=True))
    trio.run(workload.client, cluster, 1)
    events = workload.recorder.events
    assert [(e.process, e.type, e.error) for e in events] == [
        (1, "invoke", None), (1, "info", "client-crashed"), (6, "invoke", None), (6, "ok", None),
    ]
    assert workload.crashes == 1
    assert [e.client_id for _, e in cluster.sent] == [2, 7]  # a new client id after the crash
    assert events[2].value == "c6-1"  # values stay unique
    assert [op.type for op in pair_operations(events)] == ["info", "ok"]


def test_no_crash_drawn_means_the_nominal_path() -> None:
    workload = Workload(ops=1, keys=3, chooser=Chooser.replaying([]), encode=encode)
    cluster = FakeCluster(lambda n, e: ClientOutcome(status="ok", applied=True))
    trio.run(workload.client, cluster, 0)
    assert [e.type for e in workload.recorder.events] == ["invoke", "ok"]
    assert workload.crashes == 0


def test_a_failed_cas_records_what_it_observed() -> None:
    def policy(node: int, event: ClientWrite | ClientRead) -> ClientOutcome:
        return ClientOutcome(status="ok", value=b"other", applied=False)

    workload = Workload(ops=1, keys=3, chooser=Chooser.replaying([0, 2]), encode=encode)
    trio.run(workload.client, FakeCluster(policy), 0)
    done = workload.recorder.events[1]
    assert (done.type, done.error, done.observed) == ("fail", "cas-mismatch", ("other",))
    (op,) = pair_operations(workload.recorder.events)
    assert op.type == "ok" and op.observed == ("other",)  # checked as a read of "other"


def test_eventual_reads_try_log_replicas_which_must_refuse() -> None:
    def policy(node: int, event: ClientWrite | ClientRead) -> ClientOutcome:
        if node == 3:
            return ClientOutcome(status="error", error="log-replica")
        return ClientOutcome(status="ok", value=b"v")

    # think, op=get-eventual, key, log-read=yes (one log node: no node draw), crash=no
    workload = Workload(ops=1, keys=3, chooser=Chooser.replaying([0, 4, 0, 1]), encode=encode)
    cluster = FakeCluster(policy)
    cluster.log_nodes = (3,)
    trio.run(workload.client, cluster, 0)
    assert [n for n, _ in cluster.sent] == [3, 0]
    assert workload.log_reads == {"sent": 1, "refused": 1}
    assert workload.counts == {"ok": 1, "fail": 0, "info": 0}


def test_default_runs_have_a_real_share_of_info_ops() -> None:
    info = total = crashed = 0
    for seed in range(3):
        result = run(RunOptions(seed=seed, ops=300), keep_trace=False)
        assert result.verdict == "ok", result.violation
        info += result.ops["info"]
        total += sum(result.ops.values())
        crashed += sum(1 for e in result.history if e.get("error") == "client-crashed")
    assert crashed > 0
    assert info / total > 0.01, (info, total)


def test_log_replicas_refuse_reads_in_the_simulator() -> None:
    sim = simulate(RunOptions(seed=1, ops=200, faults=()), sim_options=SimOptions(log_replicas=1))
    assert sim.final_check() is None
    assert sim.workload.log_reads["sent"] > 5
    assert sim.workload.log_reads["refused"] == sim.workload.log_reads["sent"]


def test_a_log_replica_serving_a_read_is_an_s13_violation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Planted bug: log replicas answer eventual reads; the online S13 check must catch it."""
    original = consensus.replica.Replica._on_client_read

    def serve_anywhere(self: consensus.replica.Replica, ev: ClientRead) -> None:
        if self._is_log and not ev.strong:
            self._out.append(ServeRead(client_id=ev.client_id, request_id=ev.request_id,
                                       key=ev.key, strong=ev.strong))
            return
        original(self, ev)

    monkeypatch.setitem(consensus.replica._EVENT_HANDLERS, ClientRead, serve_anywhere)
    logging.getLogger("storage").setLevel(logging.CRITICAL)
    result = run(RunOptions(seed=1, ops=200, faults=()), keep_trace=False,
                 sim_options=SimOptions(log_replicas=1))
    assert result.violation is not None
    assert result.violation.property == "S13"
    assert "emitted ServeRead" in result.violation.message
