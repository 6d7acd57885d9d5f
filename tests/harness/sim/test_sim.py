"""harness.sim with the stand-in replica: determinism, replay, phases, fault handling."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.sim import SimOptions, run
from harness.sim.nemesis import CrashOptions, NemesisOptions
from harness.sim.runspec import RunOptions, RunResult
from storage.errors import DiskIOError
from tests.harness.runtime.test_host import DictKV, MemDisk, MemWAL, StandInReplica, standin_backend

STANDIN = SimOptions(online_invariants=False)
ROOT = Path(__file__).resolve().parents[3]
NO_CRASH = ("partition", "pause", "clock", "loss")


def _run(seed: int, ops: int = 60, faults: tuple[str, ...] = NO_CRASH, **kw: object) -> RunResult:
    options = RunOptions(seed=seed, ops=ops, faults=faults)
    return run(options, backend=standin_backend(), sim_options=STANDIN, **kw)  # type: ignore[arg-type]


def test_fault_free_run_completes_every_op() -> None:
    result = _run(3, ops=40, faults=())
    assert result.verdict == "ok", result.violation
    assert sum(result.ops.values()) == 40
    assert result.ops["info"] == 0
    final_reads = [e for e in result.history if e["process"] == 5]
    assert len(final_reads) == 2 * 5 and all(e["type"] in ("invoke", "ok") for e in final_reads)
    assert result.steps == len(result.trace)
    assert result.trace[0].startswith("1 0 options ")


def test_same_seed_same_fingerprint_different_seed_differs() -> None:
    a, b, c = _run(7), _run(7), _run(8)
    assert a.fingerprint == b.fingerprint and a.trace == b.trace and a.choices == b.choices
    assert a.fingerprint != c.fingerprint


def test_replaying_choices_reproduces_the_run() -> None:
    first = _run(11)
    again = _run(11, replay=first.choices)
    assert again.fingerprint == first.fingerprint
    assert again.history == first.history


def test_all_zero_choices_are_a_valid_nominal_run() -> None:
    result = _run(0, replay=[])
    assert result.verdict == "ok"
    assert not [t for t in result.timeline if t["kind"] == "fault" and t["fault"] != "liveness"]


def test_trace_until_keeps_a_prefix_and_keep_false_keeps_none() -> None:
    full = _run(5)
    prefix = _run(5, trace_until=10)
    none = _run(5, keep_trace=False)
    assert prefix.trace == full.trace[:10]
    assert none.trace == () and none.fingerprint == full.fingerprint


def test_faults_show_in_the_timeline() -> None:
    result = _run(2, ops=200)
    faults = {t["fault"] for t in result.timeline if t["kind"] == "fault"}
    assert "liveness" in faults and len(faults) > 2


def test_crashed_nodes_are_restarted_for_liveness() -> None:
    busy = SimOptions(
        online_invariants=False, nemesis=NemesisOptions(crash=CrashOptions(probability=0.5))
    )
    options = RunOptions(seed=4, ops=100, faults=("crash",))
    result = run(options, backend=standin_backend(), sim_options=busy)
    assert result.verdict == "ok", result.violation
    crashes = [t for t in result.timeline if t.get("fault") == "crash"]
    restarts = [t for t in result.timeline if t.get("fault") == "restart"]
    assert crashes and len(restarts) == len(crashes)


class NeverServes(StandInReplica):
    def is_serving(self, now_us: int) -> bool:
        return False


def test_liveness_violation_when_no_leader_serves() -> None:
    backend = attrs.evolve(
        standin_backend(),
        make_replica=lambda **kw: NeverServes(kw["node_id"], kw["members"], kw["records"]),
    )
    options = RunOptions(seed=4, ops=20, faults=())
    bound = attrs.evolve(STANDIN, liveness_bound_us=1_000_000)
    result = run(options, backend=backend, sim_options=bound)
    assert result.verdict == "violation" and result.violation is not None
    assert result.violation.property == "liveness"
    assert "no serving leader" in result.violation.message
    assert result.violation.time_us >= 1_000_000


_SCRIPT = (
    "from harness.sim.runspec import RunOptions\n"
    "from harness.sim import SimOptions, run\n"
    "from tests.harness.runtime.test_host import standin_backend\n"
    "r = run(RunOptions(seed=9, ops=60, faults=('partition','pause','clock','loss')),\n"
    "        backend=standin_backend(), sim_options=SimOptions(online_invariants=False))\n"
    "print(r.fingerprint)\n"
)


def test_fingerprint_is_the_same_across_processes_and_hash_seeds() -> None:
    prints = []
    for hash_seed in ("1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(ROOT)}
        out = subprocess.run(
            [sys.executable, "-c", _SCRIPT],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        prints.append(out.stdout.strip())
    assert prints[0] == prints[1] == _run(9).fingerprint


@settings(max_examples=10)
@given(choices=st.lists(st.integers(0, 2**20), max_size=400))
def test_any_choice_list_is_a_valid_repeatable_run(choices: list[int]) -> None:
    options = RunOptions(seed=0, ops=20)
    first = run(options, replay=choices, backend=standin_backend(), sim_options=STANDIN)
    again = run(options, replay=choices, backend=standin_backend(), sim_options=STANDIN)
    assert first.fingerprint == again.fingerprint
    assert first.verdict == "ok", first.violation
    assert sum(first.ops.values()) == 20


def test_storage_error_fail_stops_the_node_which_then_restarts() -> None:
    backend = standin_backend()
    syncs = {"n": 0}

    class FailingWAL(MemWAL):
        def sync(self) -> int:
            syncs["n"] += 1
            if syncs["n"] == 25:
                raise DiskIOError("injected fsync failure")
            return super().sync()

    def open_storage(disk: MemDisk) -> tuple[MemWAL, DictKV]:
        return FailingWAL(disk.log), DictKV()

    options = RunOptions(seed=1, ops=60, faults=())
    result = run(
        options, backend=attrs.evolve(backend, open_storage=open_storage), sim_options=STANDIN
    )
    assert result.verdict == "ok", result.violation
    details = [(t["fault"], t["detail"]) for t in result.timeline if t["kind"] == "fault"]
    assert ("crash", "fail-stop on a storage error") in details
    assert ("restart", "restarted") in details
    assert any("fail-stop on DiskIOError" in line for line in result.trace)


def test_runs_without_operations_or_clients_still_end_with_final_reads() -> None:
    """Clients that end at once (ops=0) or none at all (clients=0): the turn still passes
    from task to task until the final reads are done."""
    for clients, ops in ((3, 0), (0, 0), (1, 5)):
        options = RunOptions(seed=2, ops=ops, clients=clients, faults=())
        result = run(options, backend=standin_backend(), sim_options=STANDIN)
        assert result.verdict == "ok", (clients, ops, result.violation)
        assert sum(result.ops.values()) == ops
        final_reads = [e for e in result.history if e["process"] == clients]
        assert len(final_reads) == 2 * options.keys
