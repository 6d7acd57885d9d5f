"""Knossos's ``multi-register``: transactions of reads and writes over named registers.

An op is ``:f :txn`` with ``:value [[:read :x nil] [:write :y 2] ...]``; the ok completion
carries the same list with the reads filled in. The whole transaction takes effect at one
point. Transactions span registers, so the history is one partition (no split per key).

Options: ``initial``, a map from register to starting value (Knossos's tests use
``{:x 0 :y 0}``; registers not in it start absent); ``nil_read``: a read of null in an ok
transaction means the register was absent (``"absent"``, default) or that the value is
unknown (``"unknown"``, Knossos: "nil reads are always legal"). Reads in an indeterminate
(info) transaction are always unknown: the client never saw them.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from harness.checks.edn import FrozenMap
from harness.checks.history import TXN_FUNCTIONS, Operation, show_value
from harness.checks.models import ABSENT, NIL_READS, Model, as_state


class MultiRegisterModel(Model):
    """Registers by name, read and written in transactions (see the module docstring)."""

    name = "multi-register"
    functions = TXN_FUNCTIONS
    options = ("initial", "nil_read")

    def __init__(self, *, initial: Any = None, nil_read: str = "absent") -> None:
        if nil_read not in NIL_READS:
            raise ValueError(f"unknown nil_read; choose from {', '.join(NIL_READS)}, "
                             f"got nil_read={nil_read!r}")
        if initial is not None and not isinstance(initial, dict):
            raise ValueError("multi-register initial value must be a map such as "
                             f"'{{:x 0 :y 0}}', got initial={show_value(initial)}")
        self.initial = FrozenMap((k, as_state(v)) for k, v in (initial or {}).items()
                                 if v is not None)
        self.nil_read = nil_read

    def init(self) -> Hashable:
        return self.initial

    def partition(self, op: Operation) -> Hashable:
        return None

    def vacuous(self, op: Operation) -> bool:
        if op.type == "info" or self.nil_read == "unknown":
            return all(f == "read" and v is None for f, _, v in op.value)
        return False

    def step(self, state: Any, op: Operation) -> Hashable | None:
        unknown_reads = op.type == "info" or self.nil_read == "unknown"
        changed: dict[Any, Any] | None = None
        for f, register, value in op.value:
            current = state.get(register, ABSENT) if changed is None else \
                changed.get(register, ABSENT)
            if f == "read":
                if value is None and unknown_reads:
                    continue
                if as_state(value) != current:
                    return None
            else:
                if changed is None:
                    changed = dict(state)
                if value is None:
                    changed.pop(register, None)
                else:
                    changed[register] = value
        return state if changed is None else FrozenMap(changed)
