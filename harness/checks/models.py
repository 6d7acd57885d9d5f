"""Sequential specifications for the linearizability checker: `Model` and the built-in ones.

A model says what one operation does to a state and whether the result the client observed
is possible. The checker splits a history into partitions (`Model.partition`, by default the
key) and checks each against its own copy of the model, so a model's state is the state of
one partition: for ``kv`` the value of one key, for ``register`` the register's value.

Write your own by subclassing `Model`; states must be hashable, compare by value and never be
None (None is the checker's "impossible"). Absent values are `ABSENT`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable
from typing import Any, ClassVar

from harness.checks.history import KV_FUNCTIONS, REGISTER_FUNCTIONS, Operation


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


class RegisterModel(Model):
    """One register (history ops have key null): read, write, cas ``[expected, new]``.

    The initial value is null (`ABSENT`); a cas with expected null succeeds on it.
    """

    name = "register"
    functions = REGISTER_FUNCTIONS

    def init(self) -> Hashable:
        return ABSENT

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


class KVModel(Model):
    """A key-value map, one partition per key: get, put, append, cas ``[expected, new]``.

    A get of an absent key reads null. Append concatenates strings (appending to an absent key
    stores the value; a non-string stored value is converted with ``str`` first).
    """

    name = "kv"
    functions = KV_FUNCTIONS

    def init(self) -> Hashable:
        return ABSENT

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


MODELS: dict[str, type[Model]] = {"register": RegisterModel, "kv": KVModel}


def get_model(name: str) -> Model:
    """Return a fresh built-in model by name; raises ValueError for an unknown name."""
    try:
        return MODELS[name]()
    except KeyError:
        raise ValueError(
            f"unknown model; choose from {', '.join(MODELS)}, got model={name!r}"
        ) from None
