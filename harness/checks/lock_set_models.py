"""Models of a lock and of a grow-only set, as Jepsen's mutex and set workloads use them.

`MutexModel` is Knossos's ``mutex``: ``acquire`` succeeds only when the lock is free,
``release`` only when it is held; who holds it is not tracked (Jepsen gives a crashed
client's successor a fresh process id, so holders cannot be matched to processes). A failed
acquire or release (``:type :fail``, e.g. ``:error :not-held``) did not happen.

`SetModel` is Knossos's ``set``: ``add`` inserts its value, ``read`` returns the whole set
(an EDN ``#{...}`` or a JSON list, compared as a set).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from harness.checks.history import MUTEX_FUNCTIONS, SET_FUNCTIONS, Operation, show_value
from harness.checks.models import NIL_READS, Model


class MutexModel(Model):
    """One lock per key (Jepsen's single lock has key null); the state is "held" (True) or
    "free" (False), and it starts free.

    Checked: no two acquires succeed without a release between them; no release succeeds
    on a free lock. Not checked: that the releaser is the holder.
    """

    name = "mutex"
    functions = MUTEX_FUNCTIONS

    def init(self) -> Hashable:
        return False

    def step(self, state: Any, op: Operation) -> Hashable | None:
        if op.f == "acquire":
            return None if state else True
        return False if state else None  # release

    # A mutex is a register of held/free whose ops are both compare-and-sets: acquire
    # observes free and leaves held, release observes held and leaves free.
    def overwrites(self, op: Operation) -> tuple[bool, Any]:
        return True, op.f == "acquire"

    def observes(self, op: Operation) -> tuple[bool, Any]:
        return True, op.f == "release"


class SetModel(Model):
    """A set per key: ``add`` v, ``read`` -> every element added so far, exactly.

    ``initial``: the starting elements (default none). ``nil_read``: an ok read of null is
    impossible (``"absent"``, the default: a set read returns a set) or unknown and dropped.
    """

    name = "set"
    functions = SET_FUNCTIONS
    options = ("initial", "nil_read")

    def __init__(self, *, initial: Any = None, nil_read: str = "absent") -> None:
        if nil_read not in NIL_READS:
            raise ValueError(f"unknown nil_read; choose from {', '.join(NIL_READS)}, "
                             f"got nil_read={nil_read!r}")
        if initial is not None and not isinstance(initial, tuple | frozenset):
            raise ValueError(f"set initial value must be a set or list, got "
                             f"initial={show_value(initial)}")
        self.initial: frozenset[Any] = frozenset(initial or ())
        self.nil_read = nil_read

    def init(self) -> Hashable:
        return self.initial

    def invalid(self, op: Operation) -> str | None:
        if op.f == "read" and op.type == "ok" and op.value is not None and \
                not isinstance(op.value, tuple | frozenset):
            return f"a set read returns a set or list, got value={show_value(op.value)}"
        return None

    def vacuous(self, op: Operation) -> bool:
        return self.nil_read == "unknown" and op.f == "read" and op.value is None

    def step(self, state: Any, op: Operation) -> Hashable | None:
        if op.f == "add":
            added: Hashable = state | {op.value}
            return added
        if op.value is None:
            return None
        seen: Hashable | None = state if frozenset(op.value) == state else None
        return seen

    def observes(self, op: Operation) -> tuple[bool, Any]:
        if op.f == "read" and op.value is not None:
            return True, frozenset(op.value)
        return False, None
