"""Client histories: the events clients record, reading and writing them, pairing them into ops.

A history is a sequence of operation events in real-time order: each
client process *invokes* an operation, then completes it with ``ok`` (it happened, with this
result), ``fail`` (it certainly did not happen) or ``info`` (unknown: it may take effect at
any time after its invocation, or never). A process has at most one operation open; after an
``info`` the process may invoke again (Jepsen instead moves on to a fresh process id; both
are accepted).

A ``fail`` completion of a cas may carry ``observed``: the value the key (or register) held
when the cas did not match (``{"type": "fail", "f": "cas", ..., "observed": "v7"}``). Such a
cas did not change anything, but it saw the value: it is checked like a read of it (and the
observed value must differ from the expected one). Pairing makes it an ``ok`` op with
`Operation.observed` set, which the models treat as that read.

Order is the order of the events in the file or list, not their ``time`` field: checkers take
"A completed before B was invoked" from positions, and ``time`` (nanoseconds) is for display.

Files are JSON lines (``write_history`` writes them) or Jepsen EDN, such as
``{:process 0, :type :invoke, :f :read, :value nil}`` one per line or a whole-file vector
(see `harness.checks.edn`); ``read_history`` detects the format per file. Events of the
Jepsen nemesis (``:process :nemesis``) and other non-client processes are skipped. The
formats and conventions are described in docs/histories.md.

Example::

    rec = HistoryRecorder()
    rec.invoke(0, "put", "k", "v1", time=10)
    rec.complete(0, "ok", "v1", time=25)
    write_history(path, rec.events)  # harness.checks.history_files
    ops = pair_operations(read_history(path))
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import attrs

from harness.checks.edn import FrozenMap

log = logging.getLogger(__name__)

TYPES: tuple[str, ...] = ("invoke", "ok", "fail", "info")
KV_FUNCTIONS: tuple[str, ...] = ("get", "put", "append", "cas")
REGISTER_FUNCTIONS: tuple[str, ...] = ("read", "write", "cas")
MUTEX_FUNCTIONS: tuple[str, ...] = ("acquire", "release")
SET_FUNCTIONS: tuple[str, ...] = ("add", "read")
TXN_FUNCTIONS: tuple[str, ...] = ("txn",)
FUNCTIONS: tuple[str, ...] = ("get", "put", "append", "cas", "read", "write", "acquire",
                              "release", "add", "txn")
# Functions whose ok completion carries the value read (the invoke carries null).
READ_FUNCTIONS: frozenset[str] = frozenset({"get", "read"})
# Functions whose ok completion carries the whole result (a transaction with its reads
# filled in); an indeterminate one keeps the invoke's value (its reads unknown).
RESULT_FUNCTIONS: frozenset[str] = READ_FUNCTIONS | set(TXN_FUNCTIONS)
MAX_VALUE_DEPTH = 100


class HistoryError(ValueError):
    """A history breaks the format; the message starts with ``file:line:`` (or ``event N``)."""


def freeze(value: Any, depth: int = 0) -> Any:
    """Lists become tuples, dicts `FrozenMap`, sets frozensets (recursively), so events and
    model states are hashable. Raises ValueError past `MAX_VALUE_DEPTH` levels of nesting."""
    if depth > MAX_VALUE_DEPTH:
        raise ValueError(f"value nested deeper than {MAX_VALUE_DEPTH} levels")
    if isinstance(value, list | tuple):
        return tuple(freeze(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return FrozenMap((freeze(k, depth + 1), freeze(v, depth + 1)) for k, v in value.items())
    if isinstance(value, set | frozenset):
        return frozenset(freeze(v, depth + 1) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Inverse of `freeze` for JSON: tuples and sets become lists (sets sorted by repr, so
    the output never depends on hash order), maps dicts with string keys."""
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    if isinstance(value, frozenset):
        return sorted((thaw(v) for v in value), key=repr)
    if isinstance(value, dict):
        return {k if isinstance(k, str) else show_value(k): thaw(v) for k, v in value.items()}
    return value


def show_value(value: Any) -> str:
    """Short deterministic text for a history value (sets sorted, maps in file order)."""
    if isinstance(value, frozenset):
        return "#{" + " ".join(sorted(show_value(v) for v in value)) + "}"
    if isinstance(value, tuple):
        return "[" + " ".join(show_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{show_value(k)} {show_value(v)}" for k, v in value.items()) + "}"
    return "nil" if value is None else repr(value)


def _check_process(instance: Any, attribute: attrs.Attribute[int], value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"process must be an int, got process={value!r}")


def _check_type(instance: Any, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in TYPES:
        raise ValueError(f"unknown type; choose from {', '.join(TYPES)}, got type={value!r}")


def _check_f(instance: Any, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in FUNCTIONS:
        raise ValueError(f"unknown f; choose from {', '.join(FUNCTIONS)}, got f={value!r}")


def _check_key(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"key must be a string or null, got key={value!r}")


def _to_observed(value: Any) -> tuple[Any] | None:
    if value is None:
        return None
    if not (isinstance(value, tuple | list) and len(value) == 1):
        raise ValueError(f"observed must be a 1-tuple (value,) or None, got observed={value!r}")
    return (freeze(value[0]),)


def _check_time(instance: Any, attribute: attrs.Attribute[int], value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"time must be an int (nanoseconds), got time={value!r}")


@attrs.frozen(kw_only=True)
class HistoryEvent:
    """One line of a history.

    Attributes:
        process: client process id.
        type: ``"invoke"``, ``"ok"``, ``"fail"`` or ``"info"``.
        f: ``get``/``put``/``append``/``cas`` (kv) or ``read``/``write``/``cas`` (register).
        key: the key (kv) or None (register).
        value: the value written (put/append/write), the value read (get/read on ok; None =
            absent; None on invoke), or ``(expected, new)`` for cas. Lists are stored as tuples.
        time: true (simulated) time in nanoseconds; display only, order is list position.
        error: why an op failed or is indeterminate (e.g. ``"timed-out"``), or None.
        observed: on the ``fail`` completion of a cas, ``(value,)``: the value it found
            instead of the expected one (``(None,)``: absent); None when not known. Written
            as the JSON field ``observed`` (the bare value), present only when known.
        line: the 1-based file line it was read from, or None; not compared, not written.
    """

    process: int = attrs.field(validator=_check_process)
    type: str = attrs.field(validator=_check_type)
    f: str = attrs.field(validator=_check_f)
    key: str | None = attrs.field(default=None, validator=_check_key)
    value: Any = attrs.field(default=None, converter=freeze)
    time: int = attrs.field(default=0, validator=_check_time)
    error: str | None = None
    observed: tuple[Any] | None = attrs.field(default=None, converter=_to_observed)
    line: int | None = attrs.field(default=None, eq=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        """Return the JSON-lines dict (``error`` only when set); `from_json` inverts it."""
        d: dict[str, Any] = {
            "process": self.process,
            "type": self.type,
            "f": self.f,
            "key": self.key,
            "value": thaw(self.value),
            "time": self.time,
        }
        if self.error is not None:
            d["error"] = self.error
        if self.observed is not None:
            d["observed"] = thaw(self.observed[0])
        return d

    @classmethod
    def from_json(cls, data: dict[str, Any], *, line: int | None = None) -> HistoryEvent:
        """Build an event from a JSON dict; missing ``time`` becomes ``line`` (or 0).

        Other fields (Jepsen's ``index``, ``node``...) are ignored; an integer key becomes
        its decimal string. Raises ValueError on a missing or bad field.
        """
        for name in ("process", "type", "f"):
            if name not in data:
                raise ValueError(f"missing field {name!r}")
        error = data.get("error")
        key: Any = data.get("key")
        if isinstance(key, int) and not isinstance(key, bool):
            key = str(key)  # Jepsen histories often use integer keys
        return cls(
            process=data["process"],
            type=data["type"],
            f=data["f"],
            key=key,
            value=data.get("value"),
            time=data["time"] if data.get("time") is not None else (line or 0),
            error=None if error is None else str(error),
            observed=(data["observed"],) if "observed" in data else None,
            line=line,
        )


@attrs.frozen(kw_only=True)
class Operation:
    """An invocation paired with its completion (what checkers work on).

    Attributes:
        id: position in `pair_operations`'s result (invocation order).
        process, f, key: as in the events.
        type: ``"ok"``, ``"fail"`` or ``"info"`` (an invoke never completed is ``"info"``; a
            cas that failed with an ``observed`` value is ``"ok"``: it observed that value).
        value: the value written or ``(expected, new)`` (from the invoke), or for an ok
            get/read the value read (from the completion; None = absent).
        invoke_index: position of the invoke event in the history.
        complete_index: position of the completion event, or None if there was none.
        invoke_time, complete_time: nanoseconds; complete_time None if no completion.
            An info op's completion does not bound it: it may take effect later.
        error: the completion's error, or None.
        observed: for a cas that failed on another value, ``(value,)``: it took effect as a
            read of that value (see the module docstring); else None.
    """

    id: int
    process: int
    f: str
    key: str | None
    type: str
    value: Any
    invoke_index: int
    complete_index: int | None
    invoke_time: int
    complete_time: int | None
    error: str | None = None
    invoke_line: int | None = attrs.field(default=None, eq=False, repr=False)
    observed: tuple[Any] | None = None


def _where(source: str, event: HistoryEvent, index: int) -> str:
    return f"{source}:{event.line}" if event.line is not None else f"{source}: event {index}"


def pair_operations(
    events: Sequence[HistoryEvent], *, source: str = "<history>"
) -> list[Operation]:
    """Pair each invoke with the next completion of the same process, in invocation order.

    An invoke with no completion becomes an info op. Raises HistoryError (naming
    ``source`` and the event's line or position) for a completion with no open invoke, an
    invoke while the process already has one open, or a completion whose f or key differs
    from its invoke's.
    """
    open_by_process: dict[int, int] = {}
    slots: list[tuple[int, HistoryEvent, int | None, HistoryEvent | None]] = []
    for index, event in enumerate(events):
        if event.type == "invoke":
            if event.process in open_by_process:
                raise HistoryError(
                    f"{_where(source, event, index)}: invoke while process already has an open "
                    f"operation, process={event.process}"
                )
            open_by_process[event.process] = len(slots)
            slots.append((index, event, None, None))
            continue
        slot = open_by_process.pop(event.process, None)
        if slot is None:
            raise HistoryError(
                f"{_where(source, event, index)}: completion with no open invoke, "
                f"process={event.process} type={event.type}"
            )
        inv_index, invoke, _, _ = slots[slot]
        if event.f != invoke.f or event.key != invoke.key:
            raise HistoryError(
                f"{_where(source, event, index)}: completion differs from its invoke, "
                f"f={event.f} key={event.key!r} invoke_f={invoke.f} invoke_key={invoke.key!r}"
            )
        slots[slot] = (inv_index, invoke, index, event)
    ops: list[Operation] = []
    for op_id, (inv_index, invoke, comp_index, comp) in enumerate(slots):
        op_type = "info" if comp is None else comp.type
        observed = None
        if comp is not None and comp.observed is not None and comp.type == "fail":
            op_type, observed = "ok", comp.observed  # a failed cas that saw a value: a read
        value = invoke.value
        if comp is not None and invoke.f in READ_FUNCTIONS:
            value = comp.value if comp.type == "ok" else None
        elif comp is not None and invoke.f in RESULT_FUNCTIONS and comp.type == "ok":
            value = comp.value
        ops.append(
            Operation(
                id=op_id,
                process=invoke.process,
                f=invoke.f,
                key=invoke.key,
                type=op_type,
                value=value,
                invoke_index=inv_index,
                complete_index=comp_index,
                invoke_time=invoke.time,
                complete_time=None if comp is None else comp.time,
                error=None if comp is None else comp.error,
                invoke_line=invoke.line,
                observed=observed,
            )
        )
    return ops


class HistoryRecorder:
    """Collects a history as clients run, refusing events that would break pairing.

    ``invoke`` opens an operation for a process, ``complete`` closes it with ok/fail/info.
    The recorder copies the invoke's f and key into the completion. Raises HistoryError on
    misuse (a second open op for a process, a completion with nothing open).
    """

    def __init__(self) -> None:
        self.events: list[HistoryEvent] = []
        self._open: dict[int, HistoryEvent] = {}

    def invoke(self, process: int, f: str, key: str | None, value: Any, *, time: int) -> None:
        """Record an invocation at ``time`` ns (value: written value, (expected, new), or None)."""
        if process in self._open:
            raise HistoryError(
                f"recorder: invoke while process already has an open operation, process={process}"
            )
        event = HistoryEvent(process=process, type="invoke", f=f, key=key, value=value, time=time)
        self._open[process] = event
        self.events.append(event)

    def complete(
        self, process: int, type: str, value: Any = None, *, time: int, error: str | None = None,
        observed: tuple[Any] | None = None,
    ) -> None:
        """Record the completion (``ok``/``fail``/``info``) of ``process``'s open operation.

        ``value`` is what a get/read returned on ok; for other functions None means "same as
        the invoke's value". ``observed``: for a failed cas, ``(value it found,)``.
        """
        invoke = self._open.pop(process, None)
        if invoke is None or type == "invoke":
            raise HistoryError(
                f"recorder: completion with no open invoke, process={process} type={type}"
            )
        if invoke.f not in READ_FUNCTIONS and value is None:
            value = invoke.value
        self.events.append(
            HistoryEvent(
                process=process, type=type, f=invoke.f, key=invoke.key, value=value, time=time,
                error=error, observed=observed,
            )
        )

    def open_processes(self) -> list[int]:
        """Processes with an operation still open (they count as info when checked), sorted."""
        return sorted(self._open)
