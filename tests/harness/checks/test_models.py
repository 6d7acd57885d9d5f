"""Tests for the sequential models: each function's step, observed results, pruning facts."""

from __future__ import annotations

import pytest

from harness.checks.catalog import get_model
from harness.checks.history import Operation
from harness.checks.models import ABSENT, KVModel, RegisterModel, as_value


def _op(f: str, value: object, key: str | None = None, type: str = "ok") -> Operation:
    return Operation(id=0, process=0, f=f, key=key, type=type, value=value, invoke_index=0,
                     complete_index=1, invoke_time=0, complete_time=1)


def test_register_steps() -> None:
    m = RegisterModel()
    s = m.init()
    assert s is ABSENT and as_value(s) is None
    assert m.step(s, _op("read", None)) is ABSENT
    assert m.step(s, _op("read", 1)) is None
    assert m.step(s, _op("write", 3)) == 3
    assert m.step(3, _op("cas", (3, 4))) == 4
    assert m.step(3, _op("cas", (2, 4))) is None
    assert m.step(s, _op("cas", (None, 1))) == 1


def test_kv_steps() -> None:
    m = KVModel()
    s = m.init()
    assert m.step(s, _op("get", None, "k")) is ABSENT
    assert m.step(s, _op("get", "x", "k")) is None
    assert m.step(s, _op("append", "a", "k")) == "a"
    assert m.step("a", _op("append", "b", "k")) == "ab"
    assert m.step(7, _op("append", "b", "k")) == "7b"
    assert m.step("a", _op("put", "z", "k")) == "z"
    assert m.step("z", _op("cas", ("z", "y"), "k")) == "y"
    assert m.step("z", _op("cas", ("q", "y"), "k")) is None
    assert m.partition(_op("get", None, "k")) == "k"


def test_pruning_facts_match_step() -> None:
    m = KVModel()
    assert m.overwrites(_op("put", "v", "k")) == (True, "v")
    assert m.observes(_op("get", None, "k")) == (True, ABSENT)
    assert m.overwrites(_op("append", "v", "k"))[0] is False
    assert m.observes(_op("append", "v", "k"))[0] is False
    assert m.observes(_op("cas", ("a", "b"), "k")) == (True, "a")
    assert m.overwrites(_op("cas", ("a", "b"), "k")) == (True, "b")


def test_get_model() -> None:
    assert get_model("kv").name == "kv"
    with pytest.raises(ValueError, match="unknown model"):
        get_model("queue")
