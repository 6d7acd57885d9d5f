"""Crash points inside a host step: where the host asks, and what has happened by then."""

from __future__ import annotations

from typing import Any

import pytest

from consensus.effects import Apply, Persist, Reply, Send
from consensus.events import Tick
from harness.runtime.host import CRASH_POINTS
from storage import BTree, SimDisk
from storage.errors import SimulatedCrash
from tests.harness.runtime.test_host import _host

STEP = [
    Persist(records=(b"a",)),
    Send(dst=1, msg="accept"),
    Apply(slot=1, command=b""),
    Reply(client_id=1, request_id=1, slot=1),
    Reply(client_id=2, request_id=1, error="not-leader"),
]


class Hook:
    """Records every question; crashes at ``at`` (None: never)."""

    def __init__(self, at: str | None) -> None:
        self.at = at
        self.asked: list[tuple[int, str]] = []

    def __call__(self, node: int, point: str) -> bool:
        self.asked.append((node, point))
        return point == self.at


OBSERVED: list[list[Any]] = []


def _run(at: str | None) -> tuple[Any, ...]:
    host, ports, _, _ = _host([[], list(STEP)])
    host.start(0)
    hook = Hook(at)
    host.crash_point = hook
    OBSERVED.clear()
    host.observer = lambda node, replica, event, effects, local: OBSERVED.append(effects)
    crashed = None
    try:
        host.step(Tick(), 1)
    except SimulatedCrash as exc:
        crashed = exc.point
    assert host.wal is not None
    return crashed, hook.asked, ports, host.wal.syncs  # type: ignore[attr-defined]


def test_without_a_hook_nothing_is_asked_and_the_step_completes() -> None:
    host, ports, _, _ = _host([[], list(STEP)])
    host.start(0)
    host.step(Tick(), 1)
    assert len(ports.sent) == 1 and len(ports.answers) == 2


def test_the_host_asks_at_each_point_in_effect_order_and_only_where_it_applies() -> None:
    crashed, asked, ports, _ = _run(None)
    assert crashed is None
    # once after the Persist's appends, once after its fsync, once before the write's reply
    # (the refusal, slot None, acknowledges nothing, so it is no crash point)
    assert asked == [
        (0, "mid-append"), (0, "torn-append"), (0, "fsync-then-send"), (0, "before-reply")
    ]
    assert OBSERVED == [STEP]
    assert len(ports.sent) == 1 and len(ports.answers) == 2


def test_mid_append_crashes_before_the_fsync_and_before_any_send() -> None:
    crashed, _, ports, syncs = _run("mid-append")
    assert crashed == "mid-append" and syncs == 0 and ports.sent == [] and ports.answers == []
    assert OBSERVED == [[]]  # the observer sees what is known done: nothing (not synced)


def test_fsync_then_send_crashes_after_the_fsync_before_the_send() -> None:
    crashed, _, ports, syncs = _run("fsync-then-send")
    assert crashed == "fsync-then-send" and syncs == 1 and ports.sent == []
    assert [STEP[:1]] == OBSERVED


def test_before_reply_crashes_after_the_send_before_the_client_hears() -> None:
    crashed, _, ports, _ = _run("before-reply")
    assert crashed == "before-reply" and len(ports.sent) == 1 and ports.answers == []
    assert [STEP[:3]] == OBSERVED


def test_every_crash_point_is_named_once() -> None:
    assert len(set(CRASH_POINTS)) == len(CRASH_POINTS) == 5


def test_an_armed_disk_crashes_inside_the_operation_it_was_armed_for() -> None:
    disk = SimDisk(0)
    disk.write("f", 0, b"x")
    disk.fsync("f")
    disk.arm_crash(1, "mid-checkpoint")
    disk.write("f", 1, b"y")  # the first operation completes
    with pytest.raises(SimulatedCrash, match="mid-checkpoint"):
        disk.fsync("f")  # the second never happens
    disk.crash(torn=False)
    assert disk.read("f") == b"x"
    disk.arm_crash(0, "p")
    disk.disarm_crash()
    disk.write("f", 1, b"z")  # disarmed: nothing fires
    disk.arm_crash(0, "p")
    disk.crash(torn=False)  # a crash disarms too
    disk.write("f", 1, b"z")
    with pytest.raises(ValueError, match="after_ops"):
        disk.arm_crash(-1, "p")


def test_torn_append_arms_the_disk_inside_the_wal_sync_and_the_tail_may_tear() -> None:
    from storage import WAL

    torn = lost = 0
    for seed in range(40):
        disk = SimDisk(seed)
        wal = WAL.open(disk, "wal")
        wal.append(b"durable")
        wal.sync()
        wal.append(b"x" * 50)
        wal.append(b"y" * 50)
        disk.arm_crash(1, "torn-append")
        with pytest.raises(SimulatedCrash):
            wal.sync()
        disk.crash()
        again = [p for _, p in WAL.open(disk, "wal").records()]
        assert again[0] == b"durable" and again in ([b"durable"], [b"durable", b"x" * 50],
                                                    [b"durable", b"x" * 50, b"y" * 50])
        torn += disk.fault_counts["torn_write"]
        lost += len(again) == 1
    assert torn and lost  # (whole survives when the tear draws 0: rarely)


@pytest.mark.parametrize("after_ops", range(6))
def test_a_crash_inside_a_btree_checkpoint_leaves_the_last_complete_one(after_ops: int) -> None:
    disk = SimDisk(after_ops)
    tree = BTree.open(disk, "t")
    tree.put(b"k", b"old")
    tree.checkpoint(1)
    tree.put(b"k", b"new")
    tree.put(b"k2", b"v")
    disk.arm_crash(after_ops, "mid-checkpoint")
    try:
        tree.checkpoint(2)
        completed = True
    except SimulatedCrash:
        completed = False
    disk.crash()
    again = BTree.open(disk, "t")
    if completed:
        assert again.checkpoint_lsn == 2 and again.get(b"k") == b"new"
    else:
        assert again.checkpoint_lsn == 1 and again.get(b"k") == b"old"
        assert again.get(b"k2") is None
    assert after_ops >= 4 or not completed  # a checkpoint does at least four disk operations


def test_a_bit_flip_aimed_at_the_wal_tail_is_refused_by_recovery_not_dropped() -> None:
    from storage import WAL, CorruptionError

    for seed in range(8):
        disk = SimDisk(seed)
        wal = WAL.open(disk, "wal")
        for i in range(20):
            wal.append(b"record-%d" % i)
        wal.sync()
        assert disk.flip_tail_bit("wal-", 40) == wal.segment_files[-1]
        assert disk.fault_counts["bit_flip"] == 1
        with pytest.raises(CorruptionError):
            WAL.open(disk, "wal")
    assert SimDisk(0).flip_tail_bit("wal-", 40) is None  # no WAL yet: nothing to hit
