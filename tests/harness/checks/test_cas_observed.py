"""A cas that failed and recorded the value it found is checked as a read of that value."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from harness.checks.history import (
    HistoryError,
    HistoryEvent,
    HistoryRecorder,
    pair_operations,
)
from harness.checks.history_files import parse_history_lines
from harness.checks.linearizability import check_linearizability, describe_op
from harness.checks.models import ABSENT, KVModel, RegisterModel
from tests.harness.checks.helpers import brute_force_linearizable


def _events(*rows: tuple[Any, ...]) -> list[HistoryEvent]:
    """``(process, type, f, key, value[, observed])`` rows; observed given as ``(v,)``."""
    return [
        HistoryEvent(process=r[0], type=r[1], f=r[2], key=r[3], value=r[4], time=i,
                     observed=r[5] if len(r) > 5 else None)
        for i, r in enumerate(rows)
    ]


def test_json_round_trip_and_pairing() -> None:
    rec = HistoryRecorder()
    rec.invoke(0, "cas", "k", ("a", "b"), time=1)
    rec.complete(0, "fail", time=2, error="cas-mismatch", observed=(None,))
    line = json.dumps(rec.events[1].to_json())
    assert '"observed": null' in line
    back = parse_history_lines([json.dumps(rec.events[0].to_json()), line])
    assert back == rec.events
    (op,) = pair_operations(back)
    assert op.type == "ok" and op.observed == (None,) and op.value == ("a", "b")
    assert "failed, saw None" in describe_op(op)
    # without observed, a failed cas stays failed (and the JSON has no observed field)
    plain = _events((0, "invoke", "cas", "k", ["a", "b"]), (0, "fail", "cas", "k", ["a", "b"]))
    assert "observed" not in plain[1].to_json()
    assert pair_operations(plain)[0].type == "fail"


def test_observed_only_on_a_failed_cas() -> None:
    lines = ['{"process": 0, "type": "invoke", "f": "put", "key": "k", "value": "v"}',
             '{"process": 0, "type": "ok", "f": "put", "key": "k", "value": "v", "observed": 1}']
    with pytest.raises(HistoryError, match=":2: observed is only for the fail completion"):
        parse_history_lines(lines)


@pytest.mark.parametrize("model", [KVModel(), RegisterModel()])
def test_model_step(model: Any) -> None:
    ops = pair_operations(_events(
        (0, "invoke", "cas", None, ["a", "b"]), (0, "fail", "cas", None, ["a", "b"], ("z",)),
    ))
    op = ops[0]
    assert model.step("z", op) == "z"  # saw z: unchanged
    assert model.step("a", op) is None  # the expected value would have matched
    assert model.step("q", op) is None  # it saw z, not q
    assert model.step(ABSENT, op) is None
    assert model.overwrites(op) == (False, None)
    assert model.observes(op) == (True, "z")


def _check(*rows: tuple[Any, ...]) -> str:
    return check_linearizability(_events(*rows), "kv").verdict


def test_failed_cas_sees_current_value_passes() -> None:
    assert _check(
        (0, "invoke", "put", "k", "v1"), (0, "ok", "put", "k", "v1"),
        (1, "invoke", "cas", "k", ["v0", "v2"]), (1, "fail", "cas", "k", ["v0", "v2"], ("v1",)),
    ) == "linearizable"
    # concurrent with a put: it may have seen either value
    assert _check(
        (0, "invoke", "put", "k", "v1"), (0, "ok", "put", "k", "v1"),
        (0, "invoke", "put", "k", "v2"),
        (1, "invoke", "cas", "k", ["v0", "v3"]), (1, "fail", "cas", "k", ["v0", "v3"], ("v1",)),
        (0, "ok", "put", "k", "v2"),
    ) == "linearizable"
    # absent key, observed as null
    assert _check(
        (1, "invoke", "cas", "k", ["v0", "v3"]), (1, "fail", "cas", "k", ["v0", "v3"], (None,)),
    ) == "linearizable"


def test_failed_cas_seeing_a_stale_value_is_a_violation() -> None:
    stale = (
        (0, "invoke", "put", "k", "v1"), (0, "ok", "put", "k", "v1"),
        (0, "invoke", "put", "k", "v2"), (0, "ok", "put", "k", "v2"),
        (1, "invoke", "cas", "k", ["v0", "v3"]), (1, "fail", "cas", "k", ["v0", "v3"], ("v1",)),
    )
    result = check_linearizability(_events(*stale), "kv")
    assert result.verdict == "violation" and result.key == "k"
    assert result.failed_op is not None and result.failed_op.observed == ("v1",)
    # the same history without the observation is linearizable: the check comes from it
    blind = [*stale[:5], (1, "fail", "cas", "k", ["v0", "v3"])]
    assert _check(*blind) == "linearizable"


def test_failed_cas_seeing_its_expected_value_is_a_violation() -> None:
    assert _check(
        (0, "invoke", "put", "k", "v1"), (0, "ok", "put", "k", "v1"),
        (1, "invoke", "cas", "k", ["v1", "v2"]), (1, "fail", "cas", "k", ["v1", "v2"], ("v1",)),
    ) == "violation"


def test_failed_cas_seeing_a_value_never_written_is_a_violation() -> None:
    assert _check(
        (0, "invoke", "put", "k", "v1"), (0, "ok", "put", "k", "v1"),
        (1, "invoke", "cas", "k", ["v0", "v2"]), (1, "fail", "cas", "k", ["v0", "v2"], ("v9",)),
    ) == "violation"


def _random(rng: random.Random, model: str, n: int) -> list[HistoryEvent]:
    """Random paired histories in which a failed cas often carries a random observed value."""
    funcs = ["read", "write", "cas", "cas"] if model == "register" else ["get", "put", "cas", "cas"]
    values: list[Any] = ["a", "b", "c"]
    key = None if model == "register" else "x"
    open_ops: dict[int, tuple[str, Any]] = {}
    rows: list[tuple[Any, ...]] = []
    for _ in range(n):
        p = rng.randrange(3)
        if p in open_ops:
            f, value = open_ops.pop(p)
            kind = rng.choice(["ok", "ok", "fail", "fail"])
            if f in ("read", "get"):
                read = rng.choice([None, *values]) if kind == "ok" else None
                rows.append((p, kind, f, key, read))
            elif f == "cas" and kind == "fail" and rng.random() < 0.8:
                rows.append((p, kind, f, key, value, (rng.choice([None, *values]),)))
            else:
                rows.append((p, kind, f, key, value))
        else:
            f = rng.choice(funcs)
            value: Any = None
            if f == "cas":
                value = [rng.choice([None, *values]), rng.choice(values)]
            elif f not in ("read", "get"):
                value = rng.choice(values)
            open_ops[p] = (f, value)
            rows.append((p, "invoke", f, key, value))
    return _events(*rows)


@pytest.mark.parametrize("model", ["register", "kv"])
def test_agrees_with_brute_force(model: str) -> None:
    rng = random.Random(4242)
    the_model = RegisterModel() if model == "register" else KVModel()
    counts = {"linearizable": 0, "violation": 0}
    observed = 0
    for _ in range(800):
        events = _random(rng, model, rng.randrange(2, 14))
        ops = pair_operations(events)
        observed += sum(op.observed is not None for op in ops)
        expected = brute_force_linearizable(ops, the_model)
        got = check_linearizability(events, the_model).verdict
        assert got == ("linearizable" if expected else "violation"), events
        counts[got] += 1
    assert min(counts.values()) > 150 and observed > 300, (counts, observed)
