"""The shared online checks (`harness.checks.shared`): each on a step sequence that must pass
and one that must fail, written against effects and views only (no protocol records)."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from consensus.effects import Apply, InstallSnapshot, Reply, ServeRead
from harness.checks.shared import CheckSet, SharedInvariants, lease_exclusive
from harness.checks.violation import Violation
from storage.kv import KVStore
from storage.simdisk import SimDisk
from tests.harness.checks.test_invariants import put


@attrs.define
class View:
    node_id: int
    applied_index: int = 0
    serving_until_us: int = -1

    def is_serving(self, now_us: int) -> bool:
        return now_us < self.serving_until_us


class Run:
    """Drives a SharedInvariants like the simulator does; replicas' applied_index follows
    their Apply effects."""

    def __init__(self, nodes: tuple[int, ...] = (0, 1, 2)) -> None:
        self.inv = SharedInvariants(nodes)
        self.views = {n: View(n) for n in nodes}
        self.step_no = 0

    def step(self, node: int, *effects: Any, reads: tuple[Any, ...] = ()) -> Violation | None:
        self.step_no += 1
        view = self.views[node]
        for e in effects:
            if isinstance(e, (Apply, InstallSnapshot)):
                view.applied_index = e.slot
        for strong, key, value in reads:
            self.inv.on_read(node, strong, key, value, self.step_no, self.step_no)
        return self.inv.on_step(node, view, None, list(effects), self.step_no, self.step_no,
                                self.step_no)


def _prop(v: Violation | None) -> str | None:
    return None if v is None else v.property


def test_same_commands_in_order_on_every_node_pass() -> None:
    run = Run()
    for node in (0, 1, 2):
        assert run.step(node, Apply(slot=1, command=put("a", "1"))) is None
        assert run.step(node, Apply(slot=2, command=b"")) is None  # a no-op entry


def test_a_different_command_at_an_applied_slot_is_s2() -> None:
    run = Run()
    assert run.step(0, Apply(slot=1, command=put("a", "1"))) is None
    v = run.step(1, Apply(slot=1, command=put("a", "2")))
    assert v is not None and v.property == "S2" and v.slot == 1 and v.node == 1
    assert "node 0 applied there" in v.message


def test_a_gap_or_a_repeat_in_one_nodes_applies_is_s2() -> None:
    run = Run()
    assert run.step(0, Apply(slot=1, command=put("a", "1"))) is None
    assert _prop(run.step(0, Apply(slot=3, command=put("a", "3")))) == "S2"
    run = Run()
    assert run.step(0, Apply(slot=1, command=put("a", "1"))) is None
    assert _prop(run.step(0, Apply(slot=1, command=put("a", "1")))) == "S2"


def test_recovery_restarts_the_order_at_the_recovered_slot() -> None:
    run = Run()
    assert run.step(0, Apply(slot=1, command=put("a", "1"))) is None
    assert run.step(0, Apply(slot=2, command=put("a", "2"))) is None
    run.inv.on_recover(0, View(0, applied_index=1), 10, 10)
    assert run.step(0, Apply(slot=2, command=put("a", "2"))) is None  # re-applied: fine
    run.inv.on_recover(0, View(0, applied_index=0), 11, 11)
    assert _prop(run.step(0, Apply(slot=2, command=put("a", "2")))) == "S2"


def test_snapshot_only_of_slots_applied_somewhere() -> None:
    run = Run()
    for slot in (1, 2):
        assert run.step(0, Apply(slot=slot, command=put("a", str(slot)))) is None
    assert run.step(1, InstallSnapshot(slot=2, snapshot=b"")) is None
    assert run.step(1, Apply(slot=3, command=put("b", "3"))) is None
    v = run.step(2, InstallSnapshot(slot=5, snapshot=b""))
    assert _prop(v) == "S2" and v is not None and "slot 4 was never applied" in v.message


def test_acknowledging_an_unapplied_write_is_s10() -> None:
    run = Run()
    assert _prop(run.step(0, Reply(client_id=1, request_id=1, slot=1))) == "S10"
    run = Run()
    assert run.step(0, Apply(slot=1, command=put("a", "1")),
                    Reply(client_id=1, request_id=1, slot=1)) is None
    assert run.step(0, Reply(client_id=1, request_id=2, error="not-leader")) is None


def test_strong_read_missing_an_acknowledged_write_is_s8() -> None:
    run = Run()
    assert run.step(0, Apply(slot=1, command=put("a", "1")),
                    Reply(client_id=1, request_id=1, slot=1)) is None
    strong = ServeRead(client_id=2, request_id=1, key=b"a", strong=True)
    assert run.step(0, strong, reads=((True, b"a", b"1"),)) is None
    v = run.step(1, strong, reads=((True, b"a", None),))  # node 1 applied nothing
    assert _prop(v) == "S8" and v is not None and v.slot == 1
    eventual = ServeRead(client_id=2, request_id=2, key=b"a", strong=False)
    assert Run().step(1, eventual, reads=((False, b"a", None),)) is None


def test_read_values_follow_the_applied_log_at_the_readers_slot() -> None:
    run = Run()
    assert run.step(0, Apply(slot=1, command=put("a", "1"))) is None
    assert run.step(0, Apply(slot=2, command=put("a", "2"))) is None
    assert run.step(1, Apply(slot=1, command=put("a", "1"))) is None
    eventual = ServeRead(client_id=2, request_id=1, key=b"a", strong=False)
    assert run.step(1, eventual, reads=((False, "a", "1"),)) is None  # its slot 1: "1"
    v = run.step(1, eventual, reads=((False, b"a", b"2"),))  # a value it cannot have yet
    assert _prop(v) == "S9" and v is not None and v.key == "a"
    assert run.step(2, eventual, reads=((False, b"a", None),)) is None


def test_a_read_beyond_every_applied_slot_is_s9() -> None:
    run = Run()
    run.views[1].applied_index = 4  # a view that claims slots nobody applied
    eventual = ServeRead(client_id=2, request_id=1, key=b"a", strong=False)
    assert _prop(run.step(1, eventual, reads=((False, b"a", None),))) == "S9"


def _checksum(*commands: bytes) -> str:
    kv = KVStore.open(SimDisk(0), "x")
    for slot, command in enumerate(commands, 1):
        kv.apply(slot, command)
    return kv.checksum()


def test_final_state_must_be_the_applied_logs() -> None:
    run = Run()
    a1, a2 = put("a", "1"), put("a", "2")
    assert run.step(0, Apply(slot=1, command=a1), Reply(client_id=1, request_id=1, slot=1)) is None
    assert run.step(0, Apply(slot=2, command=a2)) is None
    inv = run.inv
    assert inv.on_final_state(0, 2, _checksum(a1, a2), 1, 1) is None
    assert inv.on_final_acknowledged(0, 2, 1, 1) is None
    assert _prop(inv.on_final_state(1, 2, _checksum(a1), 1, 1)) == "S10"  # lost a write
    assert _prop(inv.on_final_state(1, 3, _checksum(a1, a2), 1, 1)) == "S10"  # beyond
    assert _prop(inv.on_final_acknowledged(1, 0, 1, 1)) == "S10"  # missing the ack'ed slot


def test_lease_exclusive_on_samples() -> None:
    one = {0: View(0, serving_until_us=100), 1: View(1)}
    assert lease_exclusive(one, {0: 50, 1: 50}, 50, 7) is None
    two = {0: View(0, serving_until_us=100), 1: View(1, serving_until_us=100), 2: None}
    v = lease_exclusive(two, {0: 50, 1: 99, 2: 0}, 50, 7)
    assert v is not None and v.property == "S6" and v.node == 1 and v.step == 7
    assert lease_exclusive(two, {0: 100, 1: 99, 2: 0}, 50, 7) is None  # 0's lease ended


class _Fails:
    """An invariant set that reports a fixed violation from every hook."""

    def __init__(self, prop: str) -> None:
        self.v = Violation(property=prop, message=prop, time_us=0, step=0)
        self.initial: Any = None

    def set_initial(self, initial: Any) -> None:
        self.initial = initial

    def __getattr__(self, name: str) -> Any:
        return lambda *a: self.v


def test_checkset_asks_the_protocols_own_checks_first() -> None:
    own, shared = _Fails("S1"), SharedInvariants()
    checks = CheckSet([own, shared], ["mine", "shared"])
    assert checks.describe() == "shared + mine"
    assert CheckSet([shared], ["shared"]).describe() == "shared only"
    checks.set_initial("cfg")
    assert own.initial == "cfg"
    view = View(0)
    for v in (
        checks.on_step(0, view, None, [], 0, 0, 0),
        checks.on_recover(0, view, 0, 0),
        checks.on_read(0, True, b"a", None, 0, 0),
        checks.on_final_state(0, 0, "", 0, 0),
        checks.on_final_acknowledged(0, 0, 0, 0),
        checks.check_global({0: view}, {0: 0}, 0, 0),
    ):
        assert _prop(v) == "S1"
    alone = CheckSet([shared], ["shared"])
    assert alone.on_step(0, view, None, [Apply(slot=2, command=b"")], 0, 0, 0) is not None


@pytest.mark.parametrize("command", [b"", put("k", "v")])
def test_first_apply_defines_the_slot_even_for_no_ops(command: bytes) -> None:
    run = Run()
    assert run.step(2, Apply(slot=1, command=command)) is None
    assert _prop(run.step(0, Apply(slot=1, command=b"x" + command))) == "S2"


def test_checkset_log_is_the_protocols_own_else_the_applied_log() -> None:
    from harness.checks.invariants import OnlineInvariants

    own, shared = OnlineInvariants((0, 1, 2)), SharedInvariants()
    assert CheckSet([own, shared], ["multipaxos", "shared"]).log is own.log
    alone = CheckSet([shared], ["shared"])
    assert alone.log is shared.log
    run = Run()
    assert run.step(0, Apply(slot=1, command=put("a", "1"))) is None
    # the applied log, as the end-of-run refused-write check reads it
    assert CheckSet([run.inv], ["shared"]).log.chosen == {1: put("a", "1")}
