"""harness.sim.workload: operations, retries, and how outcomes become history events."""

from __future__ import annotations

from collections.abc import Callable

import trio

from consensus.events import ClientRead, ClientWrite
from harness.checks.history import pair_operations
from harness.runtime.chooser import Chooser
from harness.runtime.host import TIMEOUT, ClientOutcome
from harness.sim.workload import Workload, WorkloadOptions
from tests.harness.runtime.test_host import encode

Policy = Callable[[int, ClientWrite | ClientRead], ClientOutcome]


class FakeCluster:
    """Answers requests by a policy; time moves only by requests and sleeps."""

    members = (0, 1, 2)
    log_nodes: tuple[int, ...] = ()

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.time_us = 0
        self.sent: list[tuple[int, ClientWrite | ClientRead]] = []

    def now_us(self) -> int:
        return self.time_us

    async def request(
        self, node: int, event: ClientWrite | ClientRead, timeout_us: int
    ) -> ClientOutcome:
        self.sent.append((node, event))
        outcome = self.policy(node, event)
        self.time_us += timeout_us if outcome.status == "timeout" else 1_000
        await trio.lowlevel.checkpoint()
        return outcome

    async def sleep(self, delay_us: int) -> None:
        self.time_us += delay_us
        await trio.lowlevel.checkpoint()


def _workload(ops: int, seed: int = 1) -> Workload:
    return Workload(
        ops=ops, keys=3, chooser=Chooser(seed), encode=encode, options=WorkloadOptions(),
        clients=3,
    )


def _ok(node: int, event: ClientWrite | ClientRead) -> ClientOutcome:
    return ClientOutcome(status="ok", value=None, applied=True)


def test_values_are_unique_and_history_pairs() -> None:
    workload = _workload(60)
    cluster = FakeCluster(_ok)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            for process in range(3):
                nursery.start_soon(workload.client, cluster, process)

    trio.run(main)
    assert workload.remaining == 0
    events = workload.recorder.events
    ops = pair_operations(events)
    written = [op.value for op in ops if op.f in ("put", "append")]
    written += [op.value[1] for op in ops if op.f == "cas"]
    assert len(written) == len(set(written)) > 10
    assert {op.f for op in ops} == {"put", "get", "cas", "append"}
    assert sum(workload.counts.values()) == 60
    assert all(e.time % 1000 == 0 for e in events)  # nanoseconds from microseconds


def _one_write(policy: Policy, seed: int = 0) -> tuple[Workload, FakeCluster]:
    """Run exactly one operation: a put on k0 (all-zero choices)."""
    workload = Workload(
        ops=1,
        keys=3,
        chooser=Chooser.replaying([], seed=seed),
        encode=encode,
        options=WorkloadOptions(op_timeout_us=2_000_000),
    )
    cluster = FakeCluster(policy)
    trio.run(workload.client, cluster, 0)
    return workload, cluster


def test_refusals_without_doubt_complete_as_fail() -> None:
    refuse = ClientOutcome(status="error", error="not-leader")
    workload, cluster = _one_write(lambda n, e: refuse)
    assert [e.type for e in workload.recorder.events] == ["invoke", "fail"]
    assert len({e.request_id for _, e in cluster.sent}) == 1  # retries reuse the request id
    assert {n for n, _ in cluster.sent} == {0, 1, 2}  # and move round the group


def test_a_timeout_makes_the_outcome_info() -> None:
    answers = [TIMEOUT]

    def policy(node: int, event: ClientWrite | ClientRead) -> ClientOutcome:
        return answers.pop() if answers else ClientOutcome(status="error", error="not-leader")

    workload, _ = _one_write(policy)
    assert [e.type for e in workload.recorder.events] == ["invoke", "info"]


def test_leader_hint_is_followed_and_ok_recorded() -> None:
    def policy(node: int, event: ClientWrite | ClientRead) -> ClientOutcome:
        if node != 2:
            return ClientOutcome(status="error", error="not-leader", leader_hint=2)
        return ClientOutcome(status="ok")

    workload, cluster = _one_write(policy)
    assert [n for n, _ in cluster.sent] == [0, 2]
    assert [e.type for e in workload.recorder.events] == ["invoke", "ok"]
    assert workload.recorder.events[0].value == "c0-1"


def test_cas_mismatch_is_a_fail_and_final_reads_cover_every_key() -> None:
    def policy(node: int, event: ClientWrite | ClientRead) -> ClientOutcome:
        if isinstance(event, ClientRead):
            return ClientOutcome(status="ok", value=b"v")
        return ClientOutcome(status="ok", value=b"other", applied=False)

    workload = Workload(ops=0, keys=3, chooser=Chooser.replaying([2]), encode=encode)
    cluster = FakeCluster(policy)

    async def main() -> None:
        state_cluster = cluster
        await workload.final_reads(state_cluster, 9)

    trio.run(main)
    reads = [e for e in workload.recorder.events if e.type == "ok"]
    assert [(e.key, e.value) for e in reads] == [("k0", "v"), ("k1", "v"), ("k2", "v")]
    assert workload.final_failed == []

    cas = Workload(ops=1, keys=3, chooser=Chooser.replaying([0, 2]), encode=encode)
    trio.run(cas.client, FakeCluster(policy), 0)
    kinds = [(e.f, e.type, e.error) for e in cas.recorder.events]
    assert kinds == [("cas", "invoke", None), ("cas", "fail", "cas-mismatch")]


def test_a_write_refused_for_certain_must_not_be_chosen() -> None:
    refuse = ClientOutcome(status="error", error="not-leader")
    workload, cluster = _one_write(lambda n, e: refuse)
    (command,) = {e.command for _, e in cluster.sent if isinstance(e, ClientWrite)}
    assert list(workload.refused) == [command]
    assert workload.check_refused({1: b"other", 2: b""}, 10, 10) is None
    v = workload.check_refused({1: b"other", 2: command}, 10, 10)
    assert v is not None and v.property == "S8" and v.slot == 2 and "refused" in v.message
    # A write that may have happened (a timeout on the way) is info, never held to it.
    answers = [TIMEOUT]
    doubt, _ = _one_write(lambda n, e: answers.pop() if answers else refuse)
    assert doubt.refused == {}


def test_a_client_may_give_up_after_a_certain_refusal() -> None:
    """``workload.give-up``: with chance 1 the first certain refusal ends the operation."""
    refuse = ClientOutcome(status="error", error="not-leader")
    workload = Workload(
        ops=1, keys=3, chooser=Chooser(0), encode=encode,
        options=WorkloadOptions(give_up_chance=1.0),
    )
    cluster = FakeCluster(lambda n, e: refuse)
    trio.run(workload.client, cluster, 0)
    assert len(cluster.sent) == 1
    assert [e.type for e in workload.recorder.events] == ["invoke", "fail"]
