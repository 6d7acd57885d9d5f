"""Tests for the linearizability checker: hand-made histories, oracle cross-check, budgets."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.checks.history import HistoryError, HistoryEvent, Operation, pair_operations
from harness.checks.linearizability import check_linearizability
from harness.checks.models import KVModel, RegisterModel
from harness.checks.synth import generate_history
from tests.harness.checks.helpers import assert_valid_prefix, brute_force_linearizable, h

R = None  # the register's key


def verdict(events: list[HistoryEvent], model: str, **kw: Any) -> str:
    return check_linearizability(events, model, **kw).verdict


# --- register -------------------------------------------------------------------------------

def test_register_sequential_ok_and_stale_read() -> None:
    good = [(0, "invoke", "write", R, 1), (0, "ok", "write", R, 1),
            (1, "invoke", "read", R, None), (1, "ok", "read", R, 1)]
    assert verdict(h(*good), "register") == "linearizable"
    stale = [(0, "invoke", "write", R, 2), (0, "ok", "write", R, 2),
             (1, "invoke", "read", R, None), (1, "ok", "read", R, 1)]
    result = check_linearizability(h(*good, *stale), "register")
    assert result.verdict == "violation"
    assert result.failed_op is not None and result.failed_op.value == 1
    assert result.failed_op.invoke_index == 6
    assert [op.f for op in result.prefix][-1] == "write"


def test_register_concurrent_writes_either_order() -> None:
    for seen in (1, 2):
        events = h((0, "invoke", "write", R, 1), (1, "invoke", "write", R, 2),
                   (0, "ok", "write", R, 1), (1, "ok", "write", R, 2),
                   (2, "invoke", "read", R, None), (2, "ok", "read", R, seen))
        assert verdict(events, "register") == "linearizable"
    events = h((0, "invoke", "write", R, 1), (1, "invoke", "write", R, 2),
               (0, "ok", "write", R, 1), (1, "ok", "write", R, 2),
               (2, "invoke", "read", R, None), (2, "ok", "read", R, 1),
               (2, "invoke", "read", R, None), (2, "ok", "read", R, 2))
    assert verdict(events, "register") == "violation"


def test_register_read_concurrent_with_write_sees_old_or_new() -> None:
    for seen in (None, 5):
        events = h((0, "invoke", "write", R, 5), (1, "invoke", "read", R, None),
                   (1, "ok", "read", R, seen), (0, "ok", "write", R, 5))
        assert verdict(events, "register") == "linearizable"


def test_register_info_write_may_happen_later_or_never() -> None:
    base = [(0, "invoke", "write", R, 1), (0, "ok", "write", R, 1),
            (1, "invoke", "write", R, 2), (1, "info", "write", R, 2)]
    # takes effect long after its info completion
    later = h(*base, (2, "invoke", "read", R, None), (2, "ok", "read", R, 1),
              (2, "invoke", "read", R, None), (2, "ok", "read", R, 2))
    assert verdict(later, "register") == "linearizable"
    never = h(*base, (2, "invoke", "read", R, None), (2, "ok", "read", R, 1))
    assert verdict(never, "register") == "linearizable"
    # once it is seen it cannot be undone without another write
    flip = h(*base, (2, "invoke", "read", R, None), (2, "ok", "read", R, 2),
             (2, "invoke", "read", R, None), (2, "ok", "read", R, 1))
    assert verdict(flip, "register") == "violation"
    # an info write cannot take effect before it was invoked
    early = h((2, "invoke", "read", R, None), (2, "ok", "read", R, 2), *base)
    assert verdict(early, "register") == "violation"


def test_register_fail_did_not_happen_and_cas() -> None:
    failed = h((0, "invoke", "write", R, 3), (0, "fail", "write", R, 3),
               (1, "invoke", "read", R, None), (1, "ok", "read", R, 3))
    assert verdict(failed, "register") == "violation"
    cas = h((0, "invoke", "write", R, 1), (0, "ok", "write", R, 1),
            (0, "invoke", "cas", R, [1, 2]), (0, "ok", "cas", R, [1, 2]),
            (1, "invoke", "read", R, None), (1, "ok", "read", R, 2))
    assert verdict(cas, "register") == "linearizable"
    bad_cas = h((0, "invoke", "write", R, 1), (0, "ok", "write", R, 1),
                (0, "invoke", "cas", R, [2, 3]), (0, "ok", "cas", R, [2, 3]))
    assert verdict(bad_cas, "register") == "violation"
    info_cas = h((0, "invoke", "write", R, 1), (0, "ok", "write", R, 1),
                 (0, "invoke", "cas", R, [1, 2]), (0, "info", "cas", R, [1, 2]),
                 (1, "invoke", "read", R, None), (1, "ok", "read", R, 2),
                 (1, "invoke", "cas", R, [2, 4]), (1, "ok", "cas", R, [2, 4]))
    assert verdict(info_cas, "register") == "linearizable"


def test_unfinished_invoke_counts_as_info() -> None:
    events = h((0, "invoke", "write", R, 7), (1, "invoke", "read", R, None),
               (1, "ok", "read", R, 7))
    assert verdict(events, "register") == "linearizable"


# --- kv -------------------------------------------------------------------------------------

def test_kv_append_orders() -> None:
    base = [(0, "invoke", "append", "k", "a"), (1, "invoke", "append", "k", "b"),
            (0, "ok", "append", "k", "a"), (1, "ok", "append", "k", "b")]
    for seen, expected in (("ab", "linearizable"), ("ba", "linearizable"),
                           ("a", "violation"), ("abb", "violation")):
        events = h(*base, (2, "invoke", "get", "k", None), (2, "ok", "get", "k", seen))
        assert verdict(events, "kv") == expected, seen


def test_kv_absent_keys_cas_and_independent_keys() -> None:
    events = h((0, "invoke", "get", "a", None), (0, "ok", "get", "a", None),
               (0, "invoke", "cas", "a", [None, "x"]), (0, "ok", "cas", "a", [None, "x"]),
               (1, "invoke", "put", "b", "y"), (1, "ok", "put", "b", "y"),
               (1, "invoke", "get", "a", None), (1, "ok", "get", "a", "x"),
               (0, "invoke", "get", "b", None), (0, "ok", "get", "b", "y"))
    assert verdict(events, "kv") == "linearizable"
    bad = [*events, *h((2, "invoke", "get", "c", None), (2, "ok", "get", "c", "ghost"))]
    result = check_linearizability(bad, "kv")
    assert (result.verdict, result.key) == ("violation", "c")
    assert result.failed_op is not None and result.failed_op.value == "ghost"


def test_model_must_accept_functions() -> None:
    events = h((0, "invoke", "get", "a", None), (0, "ok", "get", "a", None))
    with pytest.raises(HistoryError, match="not accepted by model register"):
        check_linearizability(events, "register")


# --- oracle cross-check -----------------------------------------------------------------------

def _random_history(rng: random.Random, model: str, n_events: int) -> list[HistoryEvent]:
    """A random well-paired history with tiny value domains (both verdicts are common)."""
    funcs = ["read", "write", "cas"] if model == "register" else ["get", "put", "append", "cas"]
    keys = [None] if model == "register" else ["x", "y"]
    values: list[Any] = [1, 2, 3] if model == "register" else ["a", "b", "ab"]
    open_ops: dict[int, tuple[str, Any, Any]] = {}
    rows: list[tuple[Any, ...]] = []
    next_process = 3
    processes = [0, 1, 2]
    for _ in range(n_events):
        slot = rng.randrange(len(processes))
        p = processes[slot]
        if p in open_ops:
            f, key, value = open_ops.pop(p)
            kind = rng.choice(["ok", "ok", "ok", "fail", "info"])
            if f in ("read", "get"):
                value = rng.choice([None, *values]) if kind == "ok" else None
            rows.append((p, kind, f, key, value))
            if kind == "info":
                processes[slot] = next_process
                next_process += 1
        else:
            f = rng.choice(funcs)
            key = rng.choice(keys)
            if f in ("read", "get"):
                value = None
            elif f == "cas":
                value = [rng.choice([None, *values]), rng.choice(values)]
            else:
                value = rng.choice(values)
            open_ops[p] = (f, key, value)
            rows.append((p, "invoke", f, key, value))
    return h(*rows)


@pytest.mark.parametrize("model", ["register", "kv"])
def test_agrees_with_brute_force_on_random_histories(model: str) -> None:
    rng = random.Random(20261126)
    the_model = RegisterModel() if model == "register" else KVModel()
    counts = {"linearizable": 0, "violation": 0}
    for _ in range(1500):
        events = _random_history(rng, model, rng.randrange(2, 15))
        expected = brute_force_linearizable(pair_operations(events), the_model)
        got = check_linearizability(events, the_model).verdict
        assert got == ("linearizable" if expected else "violation"), events
        counts[got] += 1
    assert min(counts.values()) > 200, counts  # both verdicts well exercised


def test_agrees_with_brute_force_on_mutated_synthetic_histories() -> None:
    # More concurrency than the random histories above (up to 6 clients, one key, few
    # values): a generated linearizable history, half the time with one read's value changed.
    rng = random.Random(7)
    counts = {"linearizable": 0, "violation": 0}
    for _ in range(300):
        model = rng.choice(["register", "kv"])
        the_model = RegisterModel() if model == "register" else KVModel()
        events = generate_history(
            model=model, ops=rng.randrange(6, 20), clients=rng.randrange(2, 7), keys=1,
            seed=rng.randrange(10**9), info_rate=rng.choice([0.0, 0.1, 0.3]),
            fail_rate=rng.choice([0.0, 0.1]), value_domain=rng.choice([None, 2, 3]),
        )
        reads = [i for i, e in enumerate(events) if e.type == "ok" and e.f in ("read", "get")]
        if reads and rng.random() < 0.5:
            i = rng.choice(reads)
            seen = [e.value for e in events if isinstance(e.value, str | int)]
            events[i] = attrs.evolve(events[i], value=rng.choice([None, *seen]))
        expected = brute_force_linearizable(pair_operations(events), the_model)
        got = check_linearizability(events, the_model).verdict
        assert got == ("linearizable" if expected else "violation"), events
        counts[got] += 1
    assert min(counts.values()) > 40, counts


@given(st.integers(0, 2**32), st.sampled_from(["register", "kv"]), st.integers(2, 16))
def test_agrees_with_brute_force_hypothesis(seed: int, model: str, n_events: int) -> None:
    events = _random_history(random.Random(seed), model, n_events)
    the_model = RegisterModel() if model == "register" else KVModel()
    expected = brute_force_linearizable(pair_operations(events), the_model)
    result = check_linearizability(events, the_model)
    assert result.verdict == ("linearizable" if expected else "violation")
    if result.verdict == "violation":
        assert result.failed_op is not None
        assert result.failed_op not in result.prefix
        assert_valid_prefix(result.prefix, the_model)



# --- budgets ----------------------------------------------------------------------------------

class NoFactsKV(KVModel):
    """The kv model without pruning facts: plain WGL, exponential in concurrent info ops."""

    def overwrites(self, op: Operation) -> tuple[bool, Any]:
        return False, None

    def observes(self, op: Operation) -> tuple[bool, Any]:
        return False, None

    def appends(self, op: Operation) -> tuple[bool, Any]:
        return False, None


def _hard_key(key: str, n_info: int) -> list[tuple[Any, ...]]:
    """Many concurrent info appends, then a read that shows them all but is still impossible
    (it ends with a suffix nobody appended): without pruning facts the search must try every
    order and subset of the appends."""
    tokens = [f"<{i}>" for i in range(n_info)]
    rows: list[tuple[Any, ...]] = [(100 + i, "invoke", "append", key, t)
                                   for i, t in enumerate(tokens)]
    rows += [(100 + i, "info", "append", key, t) for i, t in enumerate(tokens)]
    rows += [(99, "invoke", "get", key, None), (99, "ok", "get", key, "".join(tokens) + "!")]
    return rows


def test_pruning_facts_decide_the_hard_key_at_once() -> None:
    result = check_linearizability(h(*_hard_key("h", 40)), "kv", timeout_s=5)
    assert result.verdict == "violation"
    assert result.states <= 41  # one dive, then the doomed-state rule ends it


def test_info_appends_never_observed_are_pruned() -> None:
    rows: list[tuple[Any, ...]] = [(100 + i, "invoke", "append", "k", f"<{i}>")
                                   for i in range(30)]
    rows += [(100 + i, "info", "append", "k", f"<{i}>") for i in range(30)]
    rows += [(99, "invoke", "get", "k", None), (99, "ok", "get", "k", "<3><7>"),
             (99, "invoke", "get", "k", None), (99, "ok", "get", "k", "<3><7>!")]
    result = check_linearizability(h(*rows), "kv", timeout_s=5)
    assert result.verdict == "violation"
    assert result.ops_checked == 4  # only <3>, <7> and the two gets are searched
    assert [op.value for op in result.prefix] == ["<3>", "<7>", "<3><7>"]


def test_tiny_max_states_gives_unknown() -> None:
    result = check_linearizability(h(*_hard_key("h", 12)), NoFactsKV(), max_states=50)
    assert result.verdict == "unknown"
    assert result.reason is not None and "max_states=50" in result.reason
    assert result.unknown_keys == ("h",)


def test_timeout_gives_unknown_quickly() -> None:
    started = time.monotonic()
    result = check_linearizability(h(*_hard_key("h", 40)), NoFactsKV(), timeout_s=0.3,
                                   slice_steps=2000)
    assert result.verdict == "unknown"
    assert result.reason is not None and "timeout" in result.reason
    assert time.monotonic() - started < 3.0


def test_hard_key_does_not_hide_violation_in_another() -> None:
    rows = _hard_key("a-hard", 40)
    rows += [(1, "invoke", "append", "z", "x"), (1, "ok", "append", "z", "x"),
             (1, "invoke", "get", "z", None), (1, "ok", "get", "z", "y")]
    started = time.monotonic()
    result = check_linearizability(h(*rows), NoFactsKV(), timeout_s=30, slice_steps=2000)
    assert (result.verdict, result.key) == ("violation", "z")
    assert time.monotonic() - started < 3.0


def test_accepts_events_operations_and_dicts() -> None:
    events = h((0, "invoke", "put", "k", "v"), (0, "ok", "put", "k", "v"),
               (1, "invoke", "get", "k", None), (1, "ok", "get", "k", "w"))
    for form in (events, pair_operations(events), [e.to_json() for e in events]):
        assert check_linearizability(form, "kv").verdict == "violation"
    with pytest.raises(TypeError):
        check_linearizability([1, 2], "kv")  # type: ignore[arg-type]


def test_result_does_not_depend_on_hash_seed() -> None:
    # Sets and dicts of string states must never decide the search order (determinism).
    script = (
        "import json\n"
        "from harness.checks.linearizability import check_linearizability\n"
        "from harness.checks.synth import generate_history, inject_lost_write\n"
        "h = inject_lost_write(generate_history(model='kv', ops=400, clients=8, keys=2,\n"
        "                      info_rate=0.2, seed=11), 11)\n"
        "r = check_linearizability(h, 'kv').to_json()\n"
        "r.pop('elapsed_s')\n"
        "print(json.dumps(r, sort_keys=True))\n"
    )
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                              text=True, check=True)
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert json.loads(outputs[0])["verdict"] == "violation"
