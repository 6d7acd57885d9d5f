"""harness.sim.nemesis: faults drawn from the chooser, within budget, all ended by stop()."""

from __future__ import annotations

import attrs

from harness.runtime.chooser import Chooser
from harness.sim.clock import NodeClock
from harness.sim.nemesis import (
    ClockFaultOptions,
    CrashOptions,
    LossOptions,
    Nemesis,
    NemesisOptions,
    PartitionOptions,
    PauseOptions,
    PermanentOptions,
)
from harness.sim.network import Network, NetworkOptions
from harness.sim.runspec import DEFAULT_FAULTS


class FakeCluster:
    """Records what the nemesis does; ends scheduled faults when `advance` passes them."""

    def __init__(self, members: tuple[int, ...], chooser: Chooser, *, unsafe: bool = False):
        self.network = Network(members, NetworkOptions(), chooser)
        self.clocks = {
            n: NodeClock(offset_us=0, drift_ppm=0, bound_ppm=10_000, unsafe=unsafe)
            for n in members
        }
        self.time_us = 0
        self.pending: list[tuple[int, str, int | None]] = []
        self.faults: list[tuple[int, str, list[int], str]] = []
        self.down: set[int] = set()
        self.max_down = 0
        self.fail_restart: set[int] = set()
        self.clock_changes = 0

    def now_us(self) -> int:
        return self.time_us

    def leader(self) -> int | None:
        return 0

    def schedule_after(self, delay_us: int, action: str, node: int | None) -> None:
        self.pending.append((self.time_us + delay_us, action, node))

    def corrupt_wal_tail(self, node: int, within_bytes: int) -> str | None:
        return "wal-0000000000000001.wal"

    def crash(self, node: int) -> None:
        self.down.add(node)
        self.max_down = max(self.max_down, len(self.down))

    def restart(self, node: int) -> bool:
        if node in self.fail_restart:
            return False
        self.down.discard(node)
        return True

    def pause(self, node: int) -> None:
        self.crash(node)

    def fail_permanently(self, node: int) -> None:
        self.crash(node)

    def resume(self, node: int) -> None:
        self.down.discard(node)

    def clock_changed(self, node: int) -> None:
        self.clock_changes += 1

    def record_fault(self, fault: str, nodes: list[int], detail: str) -> None:
        self.faults.append((self.time_us, fault, nodes, detail))

    def step_down(self, node: int) -> None:
        self.faults.append((self.time_us, "told", [node], ""))

    def advance(self, nemesis: Nemesis, until_us: int) -> None:
        while self.time_us < until_us:
            self.time_us += nemesis.options.tick_interval_us
            due = sorted(p for p in self.pending if p[0] <= self.time_us)
            self.pending = [p for p in self.pending if p[0] > self.time_us]
            for _, action, node in due:
                nemesis.end(self, action, node)
            nemesis.tick(self)


BUSY = NemesisOptions(
    faults=DEFAULT_FAULTS,
    partition=PartitionOptions(probability=0.3),
    crash=CrashOptions(probability=0.3),
    pause=PauseOptions(probability=0.3),
    clock=ClockFaultOptions(probability=0.3),
    loss=LossOptions(probability=0.3),
)


def _run(seed: int, members: tuple[int, ...], options: NemesisOptions = BUSY) -> FakeCluster:
    chooser = Chooser(seed)
    cluster = FakeCluster(members, chooser)
    nemesis = Nemesis(members, options, chooser, rho_ppm=10_000)
    cluster.advance(nemesis, 20_000_000)
    nemesis.stop(cluster)
    assert not cluster.down and not nemesis.crashed and not nemesis.paused
    assert cluster.network.description == "healed"
    assert cluster.network.options == options.network
    return cluster


def test_every_fault_kind_happens_and_stop_heals() -> None:
    cluster = _run(1, (0, 1, 2, 3, 4))
    kinds = {f[1] for f in cluster.faults}
    assert {"partition", "crash", "pause", "clock-step", "loss", "heal", "restart"} <= kinds
    assert cluster.clock_changes > 0


def test_down_nodes_never_exceed_budget() -> None:
    for seed in range(5):
        assert _run(seed, (0, 1, 2, 3, 4)).max_down <= 2
        assert _run(seed, (0, 1, 2)).max_down <= 1
    assert _run(0, (0,)).max_down == 0


def test_same_seed_same_schedule_different_seed_differs() -> None:
    assert _run(4, (0, 1, 2)).faults == _run(4, (0, 1, 2)).faults
    assert _run(4, (0, 1, 2)).faults != _run(5, (0, 1, 2)).faults


def test_no_faults_enabled_means_nothing_happens() -> None:
    cluster = _run(3, (0, 1, 2), attrs.evolve(BUSY, faults=()))
    assert cluster.faults == []


def test_disk_faults_on_at_most_f_nodes() -> None:
    for seed in range(20):
        nemesis = Nemesis((0, 1, 2, 3, 4), BUSY, Chooser(seed), rho_ppm=10_000)
        assert len(nemesis.disk_fault_nodes) <= 2
        corrupting = [n for n in range(5) if nemesis.disk_faults(n).bit_flip_probability > 0]
        assert corrupting == list(nemesis.disk_fault_nodes)


def test_safe_clock_faults_stay_within_rho() -> None:
    chooser = Chooser(2)
    cluster = FakeCluster((0, 1, 2), chooser)
    nemesis = Nemesis((0, 1, 2), BUSY, chooser, rho_ppm=10_000)
    cluster.advance(nemesis, 20_000_000)
    assert all(abs(c.drift_ppm) <= 10_000 for c in cluster.clocks.values())
    assert not any("unsafe" in f[3] for f in cluster.faults)


def test_unsafe_clock_faults_step_and_exceed_rho() -> None:
    chooser = Chooser(2)
    cluster = FakeCluster((0, 1, 2), chooser, unsafe=True)
    nemesis = Nemesis((0, 1, 2), BUSY, chooser, rho_ppm=10_000, unsafe_clocks=True)
    cluster.advance(nemesis, 20_000_000)
    assert any("unsafe" in f[3] for f in cluster.faults)


def test_failed_restart_counts_against_budget() -> None:
    chooser = Chooser(7)
    cluster = FakeCluster((0, 1, 2), chooser)
    cluster.fail_restart = {0, 1, 2}
    nemesis = Nemesis((0, 1, 2), BUSY, chooser, rho_ppm=10_000)
    cluster.advance(nemesis, 20_000_000)
    assert len(nemesis.failed) == 1
    assert len(cluster.down) == 1


def _permanent(seed: int, members: tuple[int, ...], *, corrupting: bool = False,
               started_at_us: int | None = None) -> tuple[FakeCluster, Nemesis]:
    faults = ("permanent", "crash", "pause") + (("disk",) if corrupting else ())
    options = attrs.evolve(BUSY, faults=faults, permanent=PermanentOptions(probability=0.3))
    chooser = Chooser(seed)
    cluster = FakeCluster(members, chooser)
    nemesis = Nemesis(members, options, chooser, rho_ppm=10_000)
    if started_at_us is not None:
        cluster.advance(nemesis, started_at_us)
        nemesis.started(len(members), log_replica=True)
    cluster.advance(nemesis, 20_000_000)
    return cluster, nemesis


def test_permanent_failures_stay_within_budget_and_never_restart() -> None:
    struck = 0
    for seed in range(20):
        cluster, nemesis = _permanent(seed, (0, 1, 2))
        assert len(nemesis.dead) <= 1  # max_failures
        assert cluster.max_down <= 1  # an unreplaced permanent failure uses the budget
        struck += len(nemesis.dead)
        nemesis.stop(cluster)
        assert set(nemesis.dead) <= cluster.down  # stop() restarts crashes, not the dead
    assert struck >= 10


def test_permanent_failure_keeps_corrupting_disks_within_budget() -> None:
    for seed in range(20):
        _, nemesis = _permanent(seed, (0, 1, 2), corrupting=True)
        lost = set(nemesis.dead) | set(nemesis.disk_fault_nodes)
        assert len(lost) <= nemesis.budget


def test_no_permanent_failure_once_a_spare_started() -> None:
    for seed in range(10):
        _, nemesis = _permanent(seed, (0, 1, 2, 3, 4), started_at_us=0)
        assert nemesis.dead == []


def test_safe_clocks_jitter_and_step_by_slewing_within_rho_at_every_tick() -> None:
    chooser = Chooser(5)
    cluster = FakeCluster((0, 1, 2), chooser)
    nemesis = Nemesis((0, 1, 2), BUSY, chooser, rho_ppm=10_000)
    readings = {n: c.local_at(0) for n, c in cluster.clocks.items()}
    for t in range(1, 301):
        cluster.advance(nemesis, t * 100_000)
        for n, c in cluster.clocks.items():
            assert abs(c.drift_ppm) <= 10_000
            now = c.local_at(cluster.time_us)
            assert 99_000 <= now - readings[n] <= 101_000  # one tick at rate 1 +- rho
            readings[n] = now
    details = [f[3] for f in cluster.faults if f[1] == "clock-step"]
    assert any(d.startswith("slewing +") for d in details)
    assert any(d.startswith("slewing -") for d in details)
    assert any(d.startswith("jitter") for d in details)
    assert not any("unsafe" in d for d in details)
    assert not nemesis.slewing or all(p[1] == "slew-end" for p in cluster.pending)


def test_a_pending_membership_change_is_struck_by_isolating_the_leader() -> None:
    """With permanent failures on, the nemesis may isolate the leader while the configuration
    change it just proposed is pending; never without permanent failures, never twice at once."""
    struck = 0
    for seed in range(20):
        chooser = Chooser(seed)
        cluster = FakeCluster((0, 1, 2), chooser)
        quiet = NemesisOptions(faults=("permanent",), permanent=PermanentOptions(probability=0))
        nemesis = Nemesis((0, 1, 2), quiet, chooser, rho_ppm=10_000)
        nemesis.membership_changing(cluster)
        for at_us, action, _ in list(cluster.pending):
            assert action == "strike" and at_us <= 3_000
            cluster.time_us = at_us
            nemesis.end(cluster, action, None)
            assert nemesis.partitioned and "isolate" in cluster.faults[-1][3]
            struck += 1
            nemesis.membership_changing(cluster)  # a partition is on: no second strike
            assert len(cluster.pending) == 2  # the strike itself, and its heal
    assert 5 <= struck <= 15  # chance 0.5
    chooser = Chooser(0)
    cluster = FakeCluster((0, 1, 2), chooser)
    nemesis = Nemesis((0, 1, 2), NemesisOptions(faults=DEFAULT_FAULTS), chooser, rho_ppm=10_000)
    for _ in range(20):
        nemesis.membership_changing(cluster)
    assert cluster.pending == []
