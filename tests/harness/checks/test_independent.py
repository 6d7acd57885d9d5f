"""Tests for Jepsen independent histories: split per key, and spotting them."""

from __future__ import annotations

import pytest

from harness.checks.history import HistoryError, HistoryEvent
from harness.checks.independent import independent_hint, split_independent
from harness.checks.linearizability import check_linearizability
from tests.harness.checks.helpers import h

INDEPENDENT = h(
    (0, "invoke", "write", None, [0, 1]), (1, "invoke", "write", None, [1, 2]),
    (0, "ok", "write", None, [0, 1]), (1, "ok", "write", None, [1, 2]),
    (2, "invoke", "read", None, [0, None]), (2, "ok", "read", None, [0, 1]),
    (3, "invoke", "cas", None, [1, [2, 5]]), (3, "fail", "cas", None, None),
    (4, "invoke", "read", None, [1, None]), (4, "ok", "read", None, [1, 2]),
)


def test_split_gives_one_register_per_key() -> None:
    split = split_independent(INDEPENDENT)
    assert [(e.key, e.value) for e in split[:2]] == [("0", 1), ("1", 2)]
    assert (split[6].key, split[6].value) == ("1", (2, 5))
    assert (split[7].key, split[7].value) == ("1", None)  # null completion keeps its key
    assert check_linearizability(split, "register").verdict == "linearizable"
    # read as one register holding tuples, the same history is a false violation
    assert check_linearizability(INDEPENDENT, "register").verdict == "violation"


def test_split_still_finds_a_violation_per_key() -> None:
    bad = INDEPENDENT[:4] + h((2, "invoke", "read", None, [0, None]),
                              (2, "ok", "read", None, [0, 2]))
    result = check_linearizability(split_independent(bad), "register")
    assert result.verdict == "violation" and result.key == "0"


def test_split_refuses_values_that_are_not_pairs() -> None:
    with pytest.raises(HistoryError, match=r"event 0: --independent: value must be"):
        split_independent(h((0, "invoke", "write", None, 3)), source="f")
    keyed = [HistoryEvent(process=0, type="invoke", f="put", key="k", value=["a", 1])]
    with pytest.raises(HistoryError, match="already has key"):
        split_independent(keyed)


def test_hint_spots_independent_histories_only() -> None:
    hint = independent_hint(INDEPENDENT)
    assert hint is not None and hint.f == "read"
    plain = h((0, "invoke", "write", None, 3), (0, "ok", "write", None, 3),
              (1, "invoke", "read", None, None), (1, "ok", "read", None, 3))
    assert independent_hint(plain) is None
    cas_only = h((0, "invoke", "cas", None, [1, None]), (0, "ok", "cas", None, [1, None]))
    assert independent_hint(cas_only) is None
