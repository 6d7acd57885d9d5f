"""Other protocols through the simulator: the example protocol passes, its broken variant
and planted bugs are caught by the shared checks, and run options carry the protocol."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs
import pytest

from consensus.effects import Apply, Reply
from consensus.events import ClientWrite
from consensus.example import ExampleReplica
from consensus.example import make_replica as make_example
from harness.runtime import protocols
from harness.runtime.backend import default_backend
from harness.sim import run
from harness.sim.runspec import DEFAULT_FAULTS, RunOptions

EXAMPLE_FAULTS = ("partition", "crash", "pause", "clock", "loss")


@pytest.mark.parametrize("seed", [0, 1])
def test_example_protocol_passes_under_faults(seed: int) -> None:
    result = run(RunOptions(seed=seed, ops=300, protocol="example"), keep_trace=False)
    assert result.verdict == "ok", result.violation
    assert result.options.faults == EXAMPLE_FAULTS
    assert result.ops["ok"] > 100  # it did serve: a pass that checked something


def test_example_run_is_deterministic() -> None:
    options = RunOptions(seed=4, ops=150, protocol="example")
    a, b = run(options, keep_trace=False), run(options, keep_trace=False)
    assert a.fingerprint == b.fingerprint and a.choices == b.choices


def test_stale_read_variant_is_caught() -> None:
    result = run(RunOptions(seed=0, protocol="example", variant="stale-read"), keep_trace=False)
    assert result.violation is not None and result.violation.property == "S8"


class _NoOpOnNode2(ExampleReplica):
    """Planted bug: node 2 applies every slot as a no-op (its state machine diverges)."""

    def step(self, event: Any, now_us: int) -> list[Any]:
        effects = super().step(event, now_us)
        if self.node_id != 2:
            return effects
        return [Apply(slot=e.slot, command=b"") if type(e) is Apply else e for e in effects]


class _AckAtAppend(ExampleReplica):
    """Planted bug: the leader acknowledges a write as soon as it appended it."""

    def step(self, event: Any, now_us: int) -> list[Any]:
        effects = super().step(event, now_us)
        if type(event) is ClientWrite and self.role.value == "leader":
            effects.append(Reply(client_id=event.client_id, request_id=event.request_id,
                                 slot=len(self.log)))
        return effects


def _as(cls: type) -> Any:
    def make(**kw: Any) -> ExampleReplica:
        replica = make_example(**kw)
        replica.__class__ = cls
        return replica

    return make


@pytest.fixture
def planted(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    base = protocols.get("example")
    for name, cls in (("example-noop", _NoOpOnNode2), ("example-ack", _AckAtAppend)):
        monkeypatch.setitem(protocols.PROTOCOLS, name, attrs.evolve(
            base, name=name, make_replica=_as(cls)))
    yield


@pytest.mark.usefixtures("planted")
@pytest.mark.parametrize(("protocol", "prop"), [("example-noop", "S2"), ("example-ack", "S10")])
def test_shared_checks_catch_planted_bugs(protocol: str, prop: str) -> None:
    result = run(RunOptions(seed=0, ops=100, faults=(), protocol=protocol), keep_trace=False)
    assert result.violation is not None and result.violation.property == prop


def test_multipaxos_runs_its_own_checks_and_the_shared_ones() -> None:
    from harness.sim.runner import simulate

    sim = simulate(RunOptions(seed=0, ops=20))
    assert sim.checks.invariants is not None
    assert sim.checks.invariants.describe().startswith("shared + multipaxos")
    sim = simulate(RunOptions(seed=0, ops=20, protocol="example"))
    assert sim.checks.invariants is not None
    assert sim.checks.invariants.describe() == "shared only"


def test_options_carry_the_protocol_and_its_defaults() -> None:
    mp = RunOptions()
    assert mp.protocol == "multipaxos" and mp.faults == DEFAULT_FAULTS
    assert "protocol" not in mp.to_json()  # the trace's options line is as it always was
    assert "protocol=" not in mp.describe()
    ex = RunOptions(protocol="example", seed=2)
    assert ex.to_json()["protocol"] == "example" and ex.describe().startswith("protocol=example")
    assert RunOptions.from_json(ex.to_json()) == ex
    assert RunOptions.from_json(mp.to_json()) == mp  # no protocol field: multipaxos


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"protocol": "example", "faults": ("disk",)}, "does not tolerate fault disk"),
        ({"protocol": "example", "variant": "quorum-one"},
         "unknown variant 'quorum-one' of protocol example"),
        ({"variant": "stale-read", "protocol": "zab"}, "unknown protocol 'zab'"),
        ({"protocol": 3}, "protocol must be a name"),
    ],
)
def test_bad_protocol_options_name_the_problem(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        RunOptions(**kwargs)


def test_a_backend_of_another_protocol_is_refused() -> None:
    with pytest.raises(ValueError, match="backend runs protocol multipaxos"):
        run(RunOptions(protocol="example", ops=5), backend=default_backend())
