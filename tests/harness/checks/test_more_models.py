"""Tests for the mutex, set and multi-register models and the model conventions (initial
value, nil reads): unit steps, histories that must pass and must fail, and agreement with
the brute-force oracle on random small histories (which also checks the pruning facts)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from harness.checks.catalog import MODELS, get_model
from harness.checks.edn import FrozenMap
from harness.checks.history import HistoryEvent, Operation, pair_operations
from harness.checks.linearizability import check_linearizability
from harness.checks.lock_set_models import MutexModel, SetModel
from harness.checks.models import ABSENT, Model
from harness.checks.multiregister import MultiRegisterModel
from tests.harness.checks.helpers import brute_force_linearizable, h


def _op(f: str, value: object, type: str = "ok") -> Operation:
    return Operation(id=0, process=0, f=f, key=None, type=type, value=value, invoke_index=0,
                     complete_index=1, invoke_time=0, complete_time=1)


def _verdict(events: list[HistoryEvent], model: Model) -> str:
    return check_linearizability(events, model, timeout_s=None).verdict


def test_mutex_steps_and_facts_agree() -> None:
    m = MutexModel()
    assert m.init() is False
    assert m.step(False, _op("acquire", None)) is True
    assert m.step(True, _op("acquire", None)) is None
    assert m.step(True, _op("release", None)) is False
    assert m.step(False, _op("release", None)) is None
    for f in ("acquire", "release"):
        seen, before = m.observes(_op(f, None))
        writes, after = m.overwrites(_op(f, None))
        assert seen and writes and m.step(before, _op(f, None)) == after


def test_mutex_histories() -> None:
    good = h((0, "invoke", "acquire", None, None), (0, "ok", "acquire", None, None),
             (1, "invoke", "acquire", None, None), (0, "invoke", "release", None, None),
             (0, "ok", "release", None, None), (1, "ok", "acquire", None, None),
             (2, "invoke", "release", None, None), (2, "fail", "release", None, None))
    assert _verdict(good, MutexModel()) == "linearizable"
    double = h((0, "invoke", "acquire", None, None), (0, "ok", "acquire", None, None),
               (1, "invoke", "acquire", None, None), (1, "ok", "acquire", None, None))
    assert _verdict(double, MutexModel()) == "violation"
    free_release = h((0, "invoke", "release", None, None), (0, "ok", "release", None, None))
    assert _verdict(free_release, MutexModel()) == "violation"
    # a crashed release may have freed the lock for the next acquire
    crashed = h((0, "invoke", "acquire", None, None), (0, "ok", "acquire", None, None),
                (0, "invoke", "release", None, None), (0, "info", "release", None, None),
                (1, "invoke", "acquire", None, None), (1, "ok", "acquire", None, None))
    assert _verdict(crashed, MutexModel()) == "linearizable"


def test_set_histories() -> None:
    good = h((0, "invoke", "add", None, 1), (1, "invoke", "read", None, None),
             (0, "ok", "add", None, 1), (1, "ok", "read", None, frozenset()),
             (1, "invoke", "read", None, None), (1, "ok", "read", None, [1]))
    assert _verdict(good, SetModel()) == "linearizable"
    lost = h((0, "invoke", "add", None, 1), (0, "ok", "add", None, 1),
             (1, "invoke", "read", None, None), (1, "ok", "read", None, frozenset()))
    assert _verdict(lost, SetModel()) == "violation"
    assert _verdict(lost, SetModel(initial=(1,))) == "violation"
    phantom = h((1, "invoke", "read", None, None), (1, "ok", "read", None, [5]))
    assert _verdict(phantom, SetModel()) == "violation"
    assert _verdict(phantom, SetModel(initial=(5,))) == "linearizable"
    nil = h((1, "invoke", "read", None, None), (1, "ok", "read", None, None))
    assert _verdict(nil, SetModel()) == "violation"
    assert _verdict(nil, SetModel(nil_read="unknown")) == "linearizable"


def test_set_refuses_a_read_that_is_not_a_set() -> None:
    assert SetModel().invalid(_op("read", 3)) is not None
    assert SetModel().invalid(_op("read", (3,))) is None


def _txn(*micro: tuple[str, str, Any]) -> tuple[tuple[str, str, Any], ...]:
    return tuple(micro)


def test_multi_register_histories() -> None:
    m = MultiRegisterModel(initial=FrozenMap({"x": 0, "y": 0}))
    write_both = _txn(("write", "x", 1), ("write", "y", 1))
    torn = h((0, "invoke", "txn", None, write_both), (0, "ok", "txn", None, write_both),
             (1, "invoke", "txn", None, _txn(("read", "x", None), ("read", "y", None))),
             (1, "ok", "txn", None, _txn(("read", "x", 1), ("read", "y", 0))))
    assert _verdict(torn, m) == "violation"
    whole = torn[:3] + h((1, "ok", "txn", None, _txn(("read", "x", 1), ("read", "y", 1))))
    assert _verdict(whole, m) == "linearizable"
    # a read of nil is the absent value by default, unknown under Knossos's convention
    nil = h((1, "invoke", "txn", None, _txn(("read", "x", None))),
            (1, "ok", "txn", None, _txn(("read", "x", None))))
    assert _verdict(nil, m) == "violation"
    assert _verdict(nil, MultiRegisterModel()) == "linearizable"
    assert _verdict(nil, MultiRegisterModel(initial=FrozenMap({"x": 0}),
                                            nil_read="unknown")) == "linearizable"


def test_multi_register_info_txn_reads_are_unknown() -> None:
    m = MultiRegisterModel(initial=FrozenMap({"x": 0}))
    txn = _txn(("read", "x", None), ("write", "x", 4))
    events = h((0, "invoke", "txn", None, txn), (0, "info", "txn", None, txn),
               (1, "invoke", "txn", None, _txn(("read", "x", None))),
               (1, "ok", "txn", None, _txn(("read", "x", 4))))
    assert _verdict(events, m) == "linearizable"


def test_register_and_kv_conventions() -> None:
    zero_read = h((0, "invoke", "read", None, None), (0, "ok", "read", None, 0))
    assert _verdict(zero_read, get_model("register")) == "violation"
    assert _verdict(zero_read, get_model("register", initial=0)) == "linearizable"
    nil_read = h((0, "invoke", "write", None, 2), (0, "ok", "write", None, 2),
                 (1, "invoke", "read", None, None), (1, "ok", "read", None, None))
    assert _verdict(nil_read, get_model("register")) == "violation"
    assert _verdict(nil_read, get_model("register", nil_read="unknown")) == "linearizable"
    empty_get = h((0, "invoke", "get", "k", None), (0, "ok", "get", "k", ""),
                  (0, "invoke", "append", "k", "a"), (0, "ok", "append", "k", "a"),
                  (0, "invoke", "get", "k", None), (0, "ok", "get", "k", "a"))
    assert _verdict(empty_get, get_model("kv")) == "violation"
    assert _verdict(empty_get, get_model("kv", initial="")) == "linearizable"
    assert get_model("kv", initial="").init() == "" and get_model("kv").init() is ABSENT


def test_catalog_refuses_options_a_model_does_not_take() -> None:
    assert set(MODELS) == {"register", "kv", "mutex", "set", "multi-register"}
    with pytest.raises(ValueError, match="model mutex does not take initial"):
        get_model("mutex", initial=True)
    with pytest.raises(ValueError, match="unknown nil_read"):
        get_model("register", nil_read="maybe")
    with pytest.raises(ValueError, match="must be a map"):
        get_model("multi-register", initial=3)
    assert get_model("mutex", initial=None, nil_read=None).name == "mutex"


# --- random small histories against the brute-force oracle --------------------------------

def _random_history(rng: random.Random, make_op: Any, n_ops: int) -> list[HistoryEvent]:
    events: list[HistoryEvent] = []
    open_ops: dict[int, tuple[str, Any]] = {}
    started = 0
    while started < n_ops or open_ops:
        idle = [p for p in range(3) if p not in open_ops]
        if started < n_ops and idle and (not open_ops or rng.random() < 0.5):
            p = rng.choice(idle)
            f, value = make_op(rng)
            open_ops[p] = (f, value)
            events.append(HistoryEvent(process=p, type="invoke", f=f, value=value))
            started += 1
            continue
        p = rng.choice(sorted(open_ops))
        f, value = open_ops.pop(p)
        kind = rng.choices(["ok", "info", "fail"], [6, 1, 1])[0]
        if (kind == "ok" and value is None) or f in ("read", "txn"):
            value = make_op(rng, result_for=(f, value))
        events.append(HistoryEvent(process=p, type=kind, f=f, value=value))
    return events


def _mutex_op(rng: random.Random, result_for: Any = None) -> tuple[str, Any] | Any:
    if result_for is not None:
        return None
    return rng.choice(["acquire", "release"]), None


def _set_op(rng: random.Random, result_for: Any = None) -> tuple[str, Any] | Any:
    if result_for is not None:
        return frozenset(v for v in range(3) if rng.random() < 0.5)
    return ("add", rng.randrange(3)) if rng.random() < 0.6 else ("read", None)


def _txn_op(rng: random.Random, result_for: Any = None) -> tuple[str, Any] | Any:
    if result_for is not None:
        return tuple((f, k, rng.randrange(2) if f == "read" else v)
                     for f, k, v in result_for[1])
    micro = tuple((rng.choice(["read", "write"]), rng.choice(["x", "y"]), rng.randrange(2))
                  for _ in range(rng.randint(1, 2)))
    return "txn", tuple((f, k, None if f == "read" else v) for f, k, v in micro)


@pytest.mark.parametrize(
    ("model", "make_op"),
    [(MutexModel(), _mutex_op), (SetModel(), _set_op),
     (MultiRegisterModel(initial=FrozenMap({"x": 0, "y": 0})), _txn_op)],
    ids=["mutex", "set", "multi-register"],
)
def test_agrees_with_brute_force_oracle(model: Model, make_op: Any) -> None:
    rng = random.Random(7)
    verdicts = {"linearizable": 0, "violation": 0}
    for _ in range(150):
        events = _random_history(rng, make_op, rng.randint(2, 7))
        ops = pair_operations(events)
        expected = brute_force_linearizable(ops, model)
        got = _verdict(events, model)
        assert got == ("linearizable" if expected else "violation"), events
        verdicts[got] += 1
    assert min(verdicts.values()) >= 10, verdicts  # both outcomes exercised
