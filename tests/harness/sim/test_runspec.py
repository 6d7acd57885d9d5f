"""Run options validate on construction and round-trip through JSON."""

from __future__ import annotations

import pytest

from harness.checks.violation import Violation
from harness.sim.runspec import DEFAULT_FAULTS, RunOptions


def test_defaults_use_every_fault() -> None:
    assert RunOptions().faults == DEFAULT_FAULTS


def test_json_round_trip() -> None:
    opts = RunOptions(seed=3, replicas=5, ops=10, faults=("crash", "loss"), variant="quorum-one")
    assert RunOptions.from_json(opts.to_json()) == opts


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"replicas": 0}, "replicas must be >= 1"),
        ({"ops": -1}, "ops must be >= 0"),
        ({"clients": -2}, "clients must be >= 0"),
        ({"faults": ("crash", "meteor")}, "unknown fault 'meteor'"),
        ({"variant": "nope"}, "unknown variant 'nope'"),
    ],
)
def test_bad_options_name_the_problem(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RunOptions(**kwargs)  # type: ignore[arg-type]


def test_from_json_rejects_unknown_fields() -> None:
    with pytest.raises(ValueError, match="unknown run option"):
        RunOptions.from_json({"seed": 1, "colour": "blue"})


def test_violation_signature_ignores_values() -> None:
    a = Violation(property="S1", message="S1: slot 4 has two values", time_us=5, step=9, slot=4)
    b = Violation(property="S1", message="S1: slot 7 has two values", time_us=8, step=2, slot=7)
    c = Violation(property="S8", message="S8: not linearizable", time_us=8, step=2, key="k1")
    assert a.signature == b.signature
    assert a.signature != c.signature
