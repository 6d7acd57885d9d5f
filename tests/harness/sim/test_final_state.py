"""End-of-run safety: every converged replica's state machine equals the chosen log's at its
applied slot and holds every acknowledged write (S10); replicas that end with different
contents are a safety violation (S2 or S10), never reported as liveness."""

from __future__ import annotations

from typing import Any

import attrs

from consensus.effects import Reply
from harness.runtime.host import default_backend
from harness.sim import SimOptions, run
from harness.sim.runspec import RunOptions
from tests.harness.checks.test_invariants import B1, Run, put
from tests.harness.runtime.test_host import standin_backend


class ForgetfulKV:
    """A state machine that silently turns every write from ``slot`` on into a no-op (a lost
    page: it still reports them applied)."""

    def __init__(self, inner: Any, slot: int) -> None:
        self._inner = inner
        self._slot = slot

    def apply(self, lsn: int, command: bytes) -> Any:
        return self._inner.apply(lsn, b"" if lsn >= self._slot else command)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _forgetful_backend(real: bool, node: int = 2, slot: int = 5) -> Any:
    """A backend whose node ``node`` loses the writes from ``slot`` on from its state machine."""
    base = default_backend() if real else standin_backend()

    def make_disk(n: int, faults: Any, chooser: Any) -> Any:
        disk = base.make_disk(n, faults, chooser)
        disk.test_node = n
        return disk

    def open_storage(disk: Any) -> Any:
        wal, kv = base.open_storage(disk)
        return wal, (ForgetfulKV(kv, slot) if disk.test_node == node else kv)

    return attrs.evolve(base, make_disk=make_disk, open_storage=open_storage)


def test_a_correct_run_passes_the_final_checks() -> None:
    result = run(RunOptions(seed=3, ops=60, faults=()), keep_trace=False)
    assert result.verdict == "ok", result.violation


def test_a_state_machine_that_lost_a_write_is_s10() -> None:
    # The Apply effect is right (online S2 holds); only the final state shows the loss.
    result = run(RunOptions(seed=3, ops=60, faults=()), keep_trace=False,
                 backend=_forgetful_backend(real=True))
    assert result.violation is not None, "a lost write passed"
    assert result.violation.property == "S10", result.violation
    assert result.violation.node == 2


def test_different_final_contents_without_online_checks_are_s2_not_liveness() -> None:
    result = run(RunOptions(seed=3, ops=60, faults=()), keep_trace=False,
                 backend=_forgetful_backend(real=False),
                 sim_options=SimOptions(online_invariants=False))
    assert result.violation is not None, "diverged replicas passed"
    assert result.violation.property == "S2", result.violation
    assert "different state" in result.violation.message


def test_a_node_missing_an_acknowledged_write_at_the_end_is_s10() -> None:
    run_ = Run()
    inv = run_.inv
    run_.choose(1, B1, put("k", "a"))
    run_.choose(2, B1, put("k", "b"))
    run_.replicas[1].commit_index = 2
    assert run_.step(1, Reply(client_id=1, request_id=1, slot=2)) is None
    assert inv.on_final_acknowledged(3, 2, 9, 9) is None
    v = inv.on_final_acknowledged(3, 1, 9, 9)
    assert v is not None and v.property == "S10" and v.slot == 2 and v.node == 3



def test_a_late_copy_of_a_finished_write_acknowledged_after_convergence_is_no_violation() -> None:
    """Seed 944 with adversarial timing: a held copy of a client's write reaches the leader
    after the group converged; it is proposed and acknowledged again (the state machine
    deduplicates it) while a follower has not learnt that commit yet. The follower lags; it
    lost nothing (what it held at convergence was checked then)."""
    faults = ("partition", "crash", "pause", "clock", "disk", "loss", "adversarial")
    result = run(RunOptions(seed=944, faults=faults), keep_trace=False)
    assert result.violation is None, result.violation
