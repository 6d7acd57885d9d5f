"""Sequential specifications for the linearizability checker: `Model` and the built-in ones.

A model says what one operation does to a state and whether the result the client observed
is possible. The checker splits a history into partitions (`Model.partition`, by default the
key) and checks each against its own copy of the model, so a model's state is the state of
one partition: for ``kv`` the value of one key, for ``register`` the register's value.

Write your own by subclassing `Model`; states must be hashable, compare by value and never be
None (None is the checker's "impossible"). Absent values are `ABSENT`.

Conventions differ between sources (docs/histories.md): ``initial`` is the value every
register or key starts with (default null, i.e. `ABSENT`; Knossos's tests start registers at
0, Porcupine's kv model every key at ``""``), and ``nil_read`` says what an ok read of null
means: ``"absent"`` (default: the value was absent) or ``"unknown"`` (Knossos: the client
does not know what it read, so the read constrains nothing and is dropped).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable
from typing import Any, ClassVar

from harness.checks.history import KV_FUNCTIONS, REGISTER_FUNCTIONS, Operation

NIL_READS: tuple[str, ...] = ("absent", "unknown")


class _Absent:
    """The state of a register or key that has never been written (reads observe null)."""

    _instance: ClassVar[_Absent | None] = None

    def __new__(cls) -> _Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "absent"

    def __hash__(self) -> int:
        return 0x5EED

    def __eq__(self, other: object) -> bool:
        return other is self

    def __reduce__(self) -> str:
        return "ABSENT"


ABSENT = _Absent()


def as_state(value: Any) -> Hashable:
    """Map an observed or written history value to a state (null -> `ABSENT`)."""
    return ABSENT if value is None else value


def as_value(state: Any) -> Any:
    """Inverse of `as_state`, for reports."""
    return None if state is ABSENT else state


class Model(ABC):
    """A sequential object the history is checked against.

    Subclasses set ``name`` and ``functions`` (the ``f`` values they accept) and implement
    `init` and `step`. `overwrites` and `observes` are optional facts that let the checker
    prune indeterminate (info) operations soundly, and `appends` likewise; the defaults claim
    nothing. They must agree with `step`: when every op of a partition observes, overwrites or
    appends, an info op is no longer placed once every op that could observe its effect is
    (it could then only block reads, so "never happened" explains at least as much).
    """

    name: ClassVar[str] = "model"
    functions: ClassVar[tuple[str, ...]] = ()
    # The constructor options this model takes (names of keyword arguments).
    options: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def init(self) -> Hashable:
        """Return the initial state of one partition."""

    @abstractmethod
    def step(self, state: Any, op: Operation) -> Hashable | None:
        """Return the state after ``op``, or None if its observed result is impossible here.

        Called for ok ops and info ops (an info op that takes effect must have succeeded:
        a cas that did not match is the same as "never happened"). An ok cas with
        ``op.observed`` set failed on that value: it is a read of it (`cas_step`).
        """

    def invalid(self, op: Operation) -> str | None:
        """Return why ``op``'s value makes no sense for this model, or None if it is fine
        (the checker refuses the history, naming the line)."""
        return None

    def vacuous(self, op: Operation) -> bool:
        """Whether ``op`` constrains nothing and changes nothing (e.g. a read whose result
        is unknown): it fits anywhere, so the checker drops it before searching."""
        return False

    def partition(self, op: Operation) -> Hashable:
        """Return the partition ``op`` belongs to (partitions are checked independently)."""
        return op.key

    def overwrites(self, op: Operation) -> tuple[bool, Any]:
        """Return (True, state) if ``op``, whenever it takes effect, leaves exactly ``state``."""
        return False, None

    def observes(self, op: Operation) -> tuple[bool, Any]:
        """Return (True, state) if ``op`` can take effect only when the state is ``state``
        (and then leaves it unchanged, unless it also overwrites)."""
        return False, None

    def appends(self, op: Operation) -> tuple[bool, Any]:
        """Return (True, suffix) if ``op`` always takes a state ``s`` to ``str(s) + suffix``
        (`ABSENT` to ``str(suffix)``), so every later state contains ``suffix``."""
        return False, None


def cas_step(state: Any, op: Operation) -> Hashable | None:
    """A cas: the new value if the state is the expected one; or, for a cas that failed and
    saw ``op.observed``, the state unchanged if it is that value (and not the expected one,
    which would have matched)."""
    expected, new = op.value
    if op.observed is not None:
        seen = as_state(op.observed[0])
        unchanged: Hashable | None = state if state == seen != as_state(expected) else None
        return unchanged
    return as_state(new) if as_state(expected) == state else None


def cas_overwrites(op: Operation) -> tuple[bool, Any]:
    """A cas that took effect leaves its new value; one that failed leaves nothing new."""
    if op.observed is not None:
        return False, None
    return True, as_state(op.value[1])


def cas_observes(op: Operation) -> tuple[bool, Any]:
    """A cas takes effect only on its expected value; a failed one only on what it saw."""
    if op.observed is not None:
        return True, as_state(op.observed[0])
    return True, as_state(op.value[0])


class _ValueModel(Model):
    """Shared options of the one-value-per-partition models (register, kv)."""

    options = ("initial", "nil_read")
    read_function: ClassVar[str] = "read"

    def __init__(self, *, initial: Any = None, nil_read: str = "absent") -> None:
        if nil_read not in NIL_READS:
            raise ValueError(f"unknown nil_read; choose from {', '.join(NIL_READS)}, "
                             f"got nil_read={nil_read!r}")
        self.initial = as_state(initial)
        self.nil_read = nil_read

    def init(self) -> Hashable:
        return self.initial

    def vacuous(self, op: Operation) -> bool:
        return self.nil_read == "unknown" and op.f == self.read_function and op.value is None

    def invalid(self, op: Operation) -> str | None:
        # The file reader checks these too; ops split from Jepsen independent tuples or built
        # in code reach the model without that check.
        if op.f == "cas" and not (isinstance(op.value, tuple) and len(op.value) == 2):
            return f"cas value must be [expected, new], got value={op.value!r}"
        if op.f == "append" and not isinstance(op.value, str):
            return f"append value must be a string, got value={op.value!r}"
        return None


class RegisterModel(_ValueModel):
    """One register per key (Jepsen's single register has key null): read, write, cas
    ``[expected, new]``.

    The initial value is ``initial`` (default null, `ABSENT`); a cas with expected null
    succeeds on an absent register.
    """

    name = "register"
    functions = REGISTER_FUNCTIONS

    def step(self, state: Any, op: Operation) -> Hashable | None:
        f = op.f
        if f == "read":
            same: Hashable | None = state if as_state(op.value) == state else None
            return same
        if f == "write":
            return as_state(op.value)
        return cas_step(state, op)

    def overwrites(self, op: Operation) -> tuple[bool, Any]:
        if op.f == "write":
            return True, as_state(op.value)
        if op.f == "cas":
            return cas_overwrites(op)
        return False, None

    def observes(self, op: Operation) -> tuple[bool, Any]:
        if op.f == "read":
            return True, as_state(op.value)
        if op.f == "cas":
            return cas_observes(op)
        return False, None


class KVModel(_ValueModel):
    """A key-value map, one partition per key: get, put, append, cas ``[expected, new]``.

    Every key starts at ``initial`` (default null: a get of an absent key reads null).
    Append concatenates strings (appending to an absent key stores the value; a non-string
    stored value is converted with ``str`` first).
    """

    name = "kv"
    functions = KV_FUNCTIONS
    read_function = "get"

    def step(self, state: Any, op: Operation) -> Hashable | None:
        f = op.f
        if f == "get":
            same: Hashable | None = state if as_state(op.value) == state else None
            return same
        if f == "put":
            return as_state(op.value)
        if f == "append":
            if state is ABSENT:
                return str(op.value)
            return f"{state}{op.value}"
        return cas_step(state, op)

    def overwrites(self, op: Operation) -> tuple[bool, Any]:
        if op.f == "put":
            return True, as_state(op.value)
        if op.f == "cas":
            return cas_overwrites(op)
        return False, None

    def observes(self, op: Operation) -> tuple[bool, Any]:
        if op.f == "get":
            return True, as_state(op.value)
        if op.f == "cas":
            return cas_observes(op)
        return False, None

    def appends(self, op: Operation) -> tuple[bool, Any]:
        if op.f == "append":
            return True, op.value
        return False, None
