"""Test helpers: compact history building and a brute-force linearizability oracle."""

from __future__ import annotations

from typing import Any

from harness.checks.history import HistoryEvent, Operation
from harness.checks.models import Model


def h(*lines: tuple[Any, ...]) -> list[HistoryEvent]:
    """Build events from ``(process, type, f, key, value)`` tuples; time = position."""
    return [
        HistoryEvent(process=p, type=t, f=f, key=k, value=v, time=i)
        for i, (p, t, f, k, v) in enumerate(lines)
    ]


def brute_force_linearizable(ops: list[Operation], model: Model) -> bool:
    """Straight from the definition, with no pruning (only a memo of configurations tried):
    some order of all ok ops plus any subset of info ops, respecting real time, that the model
    accepts, searched per partition. For small histories only."""
    parts: dict[Any, list[Operation]] = {}
    for op in ops:
        if op.type != "fail":
            parts.setdefault(model.partition(op), []).append(op)
    return all(_linearizable(part, model) for part in parts.values())


def _linearizable(ops: list[Operation], model: Model) -> bool:
    must = frozenset(i for i, op in enumerate(ops) if op.type == "ok")
    failed: set[tuple[frozenset[int], Any]] = set()

    def place(placed: frozenset[int], state: Any) -> bool:
        if must <= placed:
            return True
        if (placed, state) in failed:
            return False
        pending_ok = [j for j in must if j not in placed]
        for i, op in enumerate(ops):
            if i in placed:
                continue
            # every unplaced ok op that completed before op was invoked must come first
            if any(ops[j].complete_index is not None
                   and ops[j].complete_index < op.invoke_index  # type: ignore[operator]
                   for j in pending_ok if j != i):
                continue
            new_state = model.step(state, op)
            if new_state is not None and place(placed | {i}, new_state):
                return True
        failed.add((placed, state))
        return False

    return place(frozenset(), model.init())


def assert_valid_prefix(prefix: tuple[Operation, ...], model: Model) -> None:
    """The reported prefix is itself a linearization: real-time order and model accept it."""
    state = model.init()
    for n, op in enumerate(prefix):
        state = model.step(state, op)
        assert state is not None, (n, op)
        for later in prefix[n + 1:]:
            assert later.complete_index is None or later.type == "info" or \
                later.complete_index > op.invoke_index
