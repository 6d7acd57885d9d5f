"""The protocol registry (`harness.runtime.protocols`) and the interface helpers of
`harness.runtime.ports`."""

from __future__ import annotations

import importlib.util
from typing import Any

import attrs
import pytest

from consensus import Replica, Timing
from consensus.example import ExampleReplica
from harness.checks.invariants import OnlineInvariants
from harness.checks.shared import SharedInvariants
from harness.runtime import protocols
from harness.runtime.backend import default_backend
from harness.runtime.chooser import Chooser
from harness.runtime.ports import leadership_rank, serving_window


def test_names_list_every_protocol_default_first() -> None:
    names = protocols.names()
    assert names[0] == "multipaxos"
    assert {"multipaxos", "example", "raft"} <= set(names)


def test_unknown_protocol_is_one_line_naming_the_choices() -> None:
    with pytest.raises(protocols.ProtocolUnavailable) as info:
        protocols.get("zab")
    text = str(info.value)
    assert "unknown protocol 'zab'" in text and "multipaxos" in text and "\n" not in text
    assert isinstance(info.value, ValueError)


def test_raft_without_its_package_is_listed_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(protocols.PROTOCOLS, "raft", raising=False)
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec",
        lambda name, *a: None if name == "consensus.raft" else real(name, *a),
    )
    with pytest.raises(protocols.ProtocolUnavailable, match=r"consensus\.raft is not in this tree"):
        protocols.get("raft")
    assert "raft" not in protocols.PROTOCOLS  # tried again next time, not cached as missing
    lines = protocols.describe()
    assert any(line.startswith("raft: unavailable (") for line in lines)
    assert any(line.startswith("example: ") and "checks: shared only" in line for line in lines)


def test_a_lazily_registered_package_that_fails_to_import_is_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken() -> protocols.ProtocolSpec:
        raise protocols.ProtocolUnavailable("protocol ghost is not available: boom")

    monkeypatch.setitem(protocols._LAZY, "ghost", broken)
    with pytest.raises(protocols.ProtocolUnavailable, match="boom"):
        protocols.get("ghost")


def test_register_adds_a_protocol(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = attrs.evolve(protocols.get("example"), name="mine")
    monkeypatch.setitem(protocols.PROTOCOLS, "mine", spec)
    assert protocols.get("mine") is spec and "mine" in protocols.names()
    protocols.register(attrs.evolve(spec, summary="again"))
    assert protocols.get("mine").summary == "again"


def test_specs_name_their_invariants() -> None:
    mp, ex = protocols.get("multipaxos"), protocols.get("example")
    checks = mp.make_checks((0, 1, 2))
    assert isinstance(checks.parts[0], OnlineInvariants)
    assert isinstance(checks.parts[1], SharedInvariants)
    assert checks.describe().startswith("shared + multipaxos")
    assert mp.checks_label() == checks.describe()
    only = ex.make_checks((0, 1, 2))
    assert [type(p) for p in only.parts] == [SharedInvariants]
    assert only.describe() == ex.checks_label() == "shared only"
    assert "disk" not in ex.faults and "disk" not in ex.default_faults
    assert ex.variants == ("stale-read",) and mp.explorer and ex.explorer
    raft = protocols.get("raft")  # in this tree since the raft branch was merged
    assert raft.variants == protocols.RAFT_VARIANTS and raft.explorer
    assert "permanent" not in raft.faults and "disk" in raft.default_faults
    assert "churn" in raft.faults and "churn" not in raft.default_faults + mp.faults
    assert raft.checks_label() == "shared + raft (S3, S4, S16, S17, S18)"


@pytest.mark.parametrize(("name", "cls"), [("multipaxos", Replica), ("example", ExampleReplica)])
def test_default_backend_builds_the_protocols_replica(name: str, cls: type) -> None:
    backend = default_backend(Timing(), protocol=name)
    assert backend.protocol == name
    make = backend.replica_factory(1, (0, 1, 2), None, Chooser(0), knobs={"window": 8})
    replica = make([], 0)
    assert isinstance(replica, cls) and replica.node_id == 1
    assert replica.role.value == "follower" and replica.commit_index == 0


def test_default_backend_refuses_an_unknown_protocol() -> None:
    with pytest.raises(protocols.ProtocolUnavailable):
        default_backend(protocol="zab")


@attrs.define
class _Leased:
    until: int | None
    serving: bool = True
    term: int = 3

    @property
    def lease_until_us(self) -> int | None:
        return self.until

    def is_serving(self, now_us: int) -> bool:
        return self.serving


class _Windowed(_Leased):
    def serving_window_us(self) -> tuple[int, int] | None:
        return (5, 6)


def test_serving_window_prefers_the_replicas_own_then_its_lease() -> None:
    assert serving_window(_Windowed(until=100), 50) == (5, 6)
    assert serving_window(_Leased(until=100), 50) == (50, 100)
    assert serving_window(_Leased(until=40), 50) is None  # lease already over
    assert serving_window(_Leased(until=100, serving=False), 50) is None
    assert serving_window(_Leased(until=None), 50) == (50, 1 << 62)  # serves with no lease


def test_leadership_rank_is_the_ballot_when_there_is_one() -> None:
    assert leadership_rank(_Leased(until=None)) == 3

    class WithBallot:
        leader_ballot: Any = (2, 1)
        term = 9

    assert leadership_rank(WithBallot()) == (2, 1)
