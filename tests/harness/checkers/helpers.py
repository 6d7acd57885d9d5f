"""Test helpers: compact history building and a brute-force linearizability oracle."""

from __future__ import annotations

from typing import Any

from harness.checkers.models import Model
from harness.history import HistoryEvent, Operation


def h(*lines: tuple[Any, ...]) -> list[HistoryEvent]:
    """Build events from ``(process, type, f, key, value)`` tuples; time = position."""
    return [
        HistoryEvent(process=p, type=t, f=f, key=k, value=v, time=i)
        for i, (p, t, f, k, v) in enumerate(lines)
    ]


def brute_force_linearizable(ops: list[Operation], model: Model) -> bool:
    """Straight from the definition, no memo, no pruning: for tiny histories only.

    Some order of all ok ops plus any subset of info ops, respecting real time, that the model
    accepts, searched per partition.
    """
    parts: dict[Any, list[Operation]] = {}
    for op in ops:
        if op.type != "fail":
            parts.setdefault(model.partition(op), []).append(op)
    return all(_place(part, frozenset(), model.init(), model) for part in parts.values())


def _place(ops: list[Operation], placed: frozenset[int], state: Any, model: Model) -> bool:
    pending_ok = [o for o in ops if o.type == "ok" and o.id not in placed]
    if not pending_ok:
        return True
    for op in ops:
        if op.id in placed:
            continue
        # every unplaced ok op that completed before op was invoked must come first
        if any(o.complete_index is not None and o.complete_index < op.invoke_index
               for o in pending_ok if o.id != op.id):
            continue
        new_state = model.step(state, op)
        if new_state is not None and _place(ops, placed | {op.id}, new_state, model):
            return True
    return False


def assert_valid_prefix(prefix: tuple[Operation, ...], model: Model) -> None:
    """The reported prefix is itself a linearization: real-time order and model accept it."""
    state = model.init()
    for n, op in enumerate(prefix):
        state = model.step(state, op)
        assert state is not None, (n, op)
        for later in prefix[n + 1:]:
            assert later.complete_index is None or later.type == "info" or \
                later.complete_index > op.invoke_index
