"""Synthetic client histories from a reference linearizable store, and faults that break them.

`generate_history` runs concurrent clients against an in-memory store: every operation takes
effect at one instant between its invocation and its completion, so the history is
linearizable by construction. Indeterminate (info) operations take effect at any later time
(even after their info completion is recorded) or never; the process then continues under a
fresh id, as Jepsen's do. Seeded and deterministic (a private ``random.Random(seed)``).

Values are unique by default (register: ints, kv: ``"v<n>"`` for put/cas and ``",a<n>"`` for
append), which is what the injectors need to make a violation certain:

- `inject_stale_read`: an ok read returns ``u``, the value left by an ok write W0, although
  another ok write W was invoked after W0 completed and completed before the read began.
- `inject_lost_write`: an acknowledged put/write W vanishes: every read of its value returns
  the value written before it (or null) instead, and one such read began after W completed.

Either way the state would have to be ``u`` after a later write replaced it, and only W0
ever produces ``u``, so no linearization exists.
"""

from __future__ import annotations

import heapq
import random
from typing import Any

import attrs

from harness.checks.history import HistoryEvent, Operation, pair_operations

_OVERWRITERS = frozenset({"put", "write", "cas"})
_READS = frozenset({"get", "read"})


@attrs.define
class _Pending:
    process: int
    f: str
    key: str | None
    value: Any
    outcome: str = "info"  # ok / fail / info, decided at invocation (cas may turn ok into fail)
    result: Any = None


def generate_history(
    *,
    model: str = "kv",
    ops: int = 1000,
    clients: int = 5,
    keys: int = 10,
    seed: int = 0,
    info_rate: float = 0.0,
    fail_rate: float = 0.0,
    value_domain: int | None = None,
    op_duration_ns: int = 1_000_000,
) -> list[HistoryEvent]:
    """Return a linearizable history of ``ops`` operations by ``clients`` concurrent clients.

    ``model`` is ``"kv"`` (get/put/append/cas over keys ``k0..k<keys-1>``) or ``"register"``
    (read/write/cas, key null; ``keys`` ignored). ``info_rate``/``fail_rate``: probability an
    op ends indeterminate / failed (a failed op has no effect; a cas whose expected value
    does not match also fails). ``value_domain``: None for unique values, else values are
    drawn from that many (harder to check; the injectors then may refuse). Op duration is
    uniform in [2, 2 * op_duration_ns] ns.
    """
    if model not in ("kv", "register"):
        raise ValueError(f"unknown model; choose from kv, register, got model={model!r}")
    if clients < 1 or ops < 0 or (model == "kv" and keys < 1):
        raise ValueError(f"need clients >= 1, ops >= 0, keys >= 1, got clients={clients} "
                         f"ops={ops} keys={keys}")
    rng = random.Random(seed)
    store: dict[str | None, Any] = {}
    events: list[HistoryEvent] = []
    queue: list[tuple[int, int, str, int, _Pending | None]] = []
    pending: dict[int, _Pending] = {}
    process_of = list(range(clients))
    seq = 0
    counter = 0
    issued = 0

    def fresh(kind: str) -> Any:
        nonlocal counter
        counter += 1
        n = counter if value_domain is None else rng.randrange(value_domain)
        if model == "register":
            return n
        return f",a{n}" if kind == "append" else f"v{n}"

    def push(at_ns: int, kind: str, client: int, op: _Pending | None = None) -> None:
        nonlocal seq
        seq += 1  # unique, so heap order never compares ops
        heapq.heappush(queue, (at_ns, seq, kind, client, op))

    for client in range(clients):
        push(rng.randrange(op_duration_ns), "invoke", client)
    while queue:
        now, _, kind, client, target = heapq.heappop(queue)
        if kind == "invoke":
            if issued >= ops:
                continue
            issued += 1
            op = _new_op(rng, model, keys, process_of[client], store, fresh)
            pending[client] = op
            events.append(HistoryEvent(process=op.process, type="invoke", f=op.f, key=op.key,
                                       value=None if op.f in _READS else op.value, time=now))
            roll = rng.random()
            op.outcome = "info" if roll < info_rate else (
                "fail" if roll < info_rate + fail_rate else "ok")
            effect_at = now + 1 + rng.randrange(op_duration_ns)
            done_at = effect_at + 1 + rng.randrange(op_duration_ns)
            if op.outcome == "ok" or (op.outcome == "info" and rng.random() < 0.5):
                if op.outcome == "info":
                    effect_at = now + 1 + rng.randrange(3 * op_duration_ns)
                push(effect_at, "effect", client, op)
            push(done_at, "complete", client)
        elif kind == "effect":
            assert target is not None
            _apply(target, store)
        else:
            op = pending.pop(client)
            if op.outcome == "info":
                events.append(HistoryEvent(process=op.process, type="info", f=op.f, key=op.key,
                                           value=None if op.f in _READS else op.value,
                                           time=now, error="timed-out"))
                process_of[client] += clients
            else:
                value = op.result if op.f in _READS else op.value
                events.append(HistoryEvent(process=op.process, type=op.outcome, f=op.f,
                                           key=op.key, value=value, time=now))
            push(now + rng.randrange(op_duration_ns // 4 + 1), "invoke", client)
    return events


def _new_op(rng: random.Random, model: str, keys: int, process: int,
            store: dict[str | None, Any], fresh: Any) -> _Pending:
    key = None if model == "register" else f"k{rng.randrange(keys)}"
    roll = rng.random()
    if roll < 0.5:
        return _Pending(process, "read" if model == "register" else "get", key, None)
    if roll < 0.8 or (model == "register" and roll < 0.9):
        f = "write" if model == "register" else "put"
        return _Pending(process, f, key, fresh(f))
    if roll < 0.9:
        return _Pending(process, "append", key, fresh("append"))
    expected = store.get(key) if rng.random() < 0.6 else fresh("cas")
    return _Pending(process, "cas", key, (expected, fresh("cas")))


def _apply(op: _Pending, store: dict[str | None, Any]) -> None:
    """Apply an op at its linearization point; a mismatched cas becomes a failure."""
    current = store.get(op.key)
    if op.f in _READS:
        op.result = current
    elif op.f in ("put", "write"):
        store[op.key] = op.value
    elif op.f == "append":
        store[op.key] = op.value if current is None else f"{current}{op.value}"
    elif current == op.value[0]:
        store[op.key] = op.value[1]
    elif op.outcome == "ok":
        op.outcome = "fail"


def _overwriters_by_value(ops: list[Operation], key: str | None) -> dict[Any, int]:
    counts: dict[Any, int] = {}
    for op in ops:
        if op.key == key and op.type != "fail" and op.f in _OVERWRITERS:
            v = op.value[1] if op.f == "cas" else op.value
            counts[v] = counts.get(v, 0) + 1
    return counts


def _written(op: Operation) -> Any:
    return op.value[1] if op.f == "cas" else op.value


def _set_read(events: list[HistoryEvent], read: Operation, value: Any) -> None:
    assert read.complete_index is not None
    events[read.complete_index] = attrs.evolve(events[read.complete_index], value=value)


def inject_stale_read(events: list[HistoryEvent], seed: int = 0) -> list[HistoryEvent]:
    """Return a copy of ``events`` where one ok read returns a value already overwritten.

    Raises ValueError if the history has no read with two ok writes completed before it.
    """
    rng = random.Random(seed)
    ops = pair_operations(events)
    choices: list[tuple[Operation, Any]] = []
    counts_by_key: dict[str | None, dict[Any, int]] = {}
    for read in ops:
        if read.type != "ok" or read.f not in _READS:
            continue
        if read.key not in counts_by_key:
            counts_by_key[read.key] = _overwriters_by_value(ops, read.key)
        counts = counts_by_key[read.key]
        before = [w for w in ops if w.key == read.key and w.type == "ok" and
                  w.f in _OVERWRITERS and w.complete_index is not None and
                  w.complete_index < read.invoke_index]
        if not before:
            continue
        last_invoke = max(w.invoke_index for w in before)
        stale = [_written(w) for w in before
                 if w.complete_index is not None and w.complete_index < last_invoke]
        if None not in counts:
            stale.append(None)
        for u in stale:
            if u != read.value and counts.get(u, 0) <= 1:
                choices.append((read, u))
    if not choices:
        raise ValueError("no read follows two completed writes; cannot inject a stale read")
    read, u = choices[rng.randrange(len(choices))]
    out = list(events)
    _set_read(out, read, u)
    return out


def inject_lost_write(events: list[HistoryEvent], seed: int = 0) -> list[HistoryEvent]:
    """Return a copy of ``events`` where one acknowledged put/write is lost to later reads.

    Raises ValueError if no ok put/write with a unique value is read after it completed.
    """
    rng = random.Random(seed)
    ops = pair_operations(events)
    choices: list[tuple[Operation, Any, list[Operation]]] = []
    for w in ops:
        if w.type != "ok" or w.f not in ("put", "write") or w.complete_index is None:
            continue
        counts = _overwriters_by_value(ops, w.key)
        if counts.get(w.value, 0) != 1:
            continue
        readers = [r for r in ops if r.key == w.key and r.type == "ok" and r.f in _READS
                   and r.value == w.value]
        if not any(r.invoke_index > w.complete_index for r in readers):
            continue
        earlier = [p for p in ops if p.key == w.key and p.type == "ok" and p.f in _OVERWRITERS
                   and p.complete_index is not None and p.complete_index < w.invoke_index
                   and counts.get(_written(p), 0) == 1 and _written(p) != w.value]
        if earlier:
            u = _written(max(earlier, key=lambda p: p.complete_index or 0))
        elif None not in counts:
            u = None
        else:
            continue
        choices.append((w, u, readers))
    if not choices:
        raise ValueError("no acknowledged write is read after it completed; cannot lose one")
    _, u, readers = choices[rng.randrange(len(choices))]
    out = list(events)
    for r in readers:
        _set_read(out, r, u)
    return out
