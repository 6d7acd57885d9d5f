"""Linearizability checker (S8): Wing-Gong-Lowe search, split per key, memoised, budgeted.

Checked: there is a total order of the ok operations (plus any subset of the info operations)
that respects real time (A before B if A completed before B was invoked, by history position)
and that the `Model` accepts. ``fail`` ops did not happen and are dropped; ``info`` ops (and
invokes never completed) may take effect at any point after their invocation, or never. Ops
the model calls vacuous (`Model.vacuous`: a read of nil when nil reads mean "unknown") fit
anywhere and are dropped too; an op the model calls invalid is refused (HistoryError).

A cas that failed and recorded the value it found (``observed``) is checked as a read of that
value (`harness.checks.history`).

Not checked: anything across partitions (each key is its own object, which is sound and
complete for linearizability because it is local, Herlihy & Wing's P-compositionality), or
the values of failed and indeterminate reads.

The search per partition is Lowe's improved WGL: a doubly linked list of call and return
entries in history order; at each call entry try to linearize that op (lift its entries out);
reaching a return entry means an op had to be placed already, so backtrack. A configuration
(linearized set as a bitset int, model state) is explored at most once (the memo). Partitions
are searched side by side in round-robin slices of ``slice_steps`` steps, so the first
violation in any partition ends the search early and a hard partition cannot hide it.

Pruning, each sound (it never turns a linearizable history into a violation; the tests
compare with a brute-force oracle): info reads are dropped (they change nothing); an info
write no op could observe is dropped, and one whose observers are all placed is no longer
tried (`Model.overwrites`/`observes`/`appends`); an info op whose step leaves the state as it
was is never placed; a pure read that fits is placed at once and, if that fails, nothing else
is tried from there (partial-order reduction); a configuration in which a pending ok op must
observe a state that nothing pending can bring back (no overwrite leading to it, and the
current state does not extend to it by appends) is a dead end (`_prune.DoomTables`; this
keeps 30 concurrent clients on one key near-linear).

Before searching, a partition is scanned for a read of a value every writer of which was
surely overwritten before the read began (stale reads, lost writes): that is a violation
without search, and a bounded search only supplies the prefix for the report.

Budgets: ``timeout_s`` (wall clock, checked between slices, so overshoot is one slice, tens
of ms; the checker is not simulated code) and ``max_states`` (memo entries alive across all
partitions; a partition whose slice would pass the bound is abandoned as unknown and its memo
freed, the others go on). An unknown verdict therefore depends on the machine's speed.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Hashable, Sequence
from typing import Any

import attrs

from harness.checks._prune import find_superseded_observer
from harness.checks._wgl import PartitionSearch
from harness.checks.catalog import get_model
from harness.checks.history import (
    HistoryError,
    HistoryEvent,
    Operation,
    pair_operations,
    show_value,
    thaw,
)
from harness.checks.models import Model

log = logging.getLogger(__name__)

VERDICTS: tuple[str, ...] = ("linearizable", "violation", "unknown")
DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MAX_STATES = 1_000_000  # about 200 MB of memo at 500 ops per key
DEFAULT_SLICE_STEPS = 20_000
PREFIX_SEARCH_STEPS = 200_000


@attrs.frozen(kw_only=True)
class LinearizabilityResult:
    """The verdict of one check.

    Attributes:
        verdict: ``"linearizable"``, ``"violation"`` or ``"unknown"`` (a budget ran out).
        key: the failing partition (violation), or the first undecided one (unknown).
        prefix: on violation, the longest linearizable prefix found for ``key`` in
            linearization order (it may include info ops).
        failed_op: on violation, the op that cannot be placed after that prefix (it had to
            take effect before the next op could, but the model refuses it).
        reason: on unknown, which budget ran out (``"timeout ..."`` or ``"max_states ..."``).
        unknown_keys: partitions left undecided (sorted by str).
        partitions: number of partitions in the history.
        ops_checked: ok and info ops searched (after pruning), summed over partitions.
        states: memo entries created (configurations explored), summed over partitions.
        elapsed_s: wall-clock seconds the check took.
    """

    verdict: str
    key: Hashable = None
    prefix: tuple[Operation, ...] = ()
    failed_op: Operation | None = None
    reason: str | None = None
    unknown_keys: tuple[Hashable, ...] = ()
    partitions: int = 0
    ops_checked: int = 0
    states: int = 0
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.verdict == "linearizable"

    def summary(self) -> str:
        """One line: the verdict and, for a violation or unknown, where and why."""
        if self.verdict == "violation" and self.failed_op is not None:
            return (
                f"violation: key={self.key!r} cannot place {describe_op(self.failed_op)} "
                f"after a linearizable prefix of {len(self.prefix)} ops"
            )
        if self.verdict == "unknown":
            return f"unknown: {self.reason} (undecided keys: {len(self.unknown_keys)})"
        return (
            f"linearizable: {self.partitions} keys, {self.ops_checked} ops, "
            f"{self.states} states, {self.elapsed_s:.3f}s"
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict; ops are given as their `Operation` fields."""
        return {
            "verdict": self.verdict,
            "key": self.key,
            "prefix": [_op_json(op) for op in self.prefix],
            "failed_op": None if self.failed_op is None else _op_json(self.failed_op),
            "reason": self.reason,
            "unknown_keys": [str(k) for k in self.unknown_keys],
            "partitions": self.partitions,
            "ops_checked": self.ops_checked,
            "states": self.states,
            "elapsed_s": round(self.elapsed_s, 6),
        }


def _op_json(op: Operation) -> dict[str, Any]:
    d = attrs.asdict(op, recurse=False)
    d["value"] = thaw(op.value)
    return d


def describe_op(op: Operation) -> str:
    """Short human text for an op, e.g. ``p3 get('k') -> 'v1' [ok]``."""
    key = "" if op.key is None else repr(op.key)
    if op.f in ("get", "read"):
        text = f"{op.f}({key}) -> {_show(op.value)}"
    elif op.f == "cas":
        expected, new = op.value
        text = f"cas({key + ', ' if key else ''}{_show(expected)} -> {_show(new)})"
        if op.observed is not None:
            text += f" failed, saw {_show(op.observed[0])}"
    elif op.value is None:
        text = f"{op.f}({key})"
    else:
        text = f"{op.f}({key + ', ' if key else ''}{_show(op.value)})"
    return f"p{op.process} {text} [{op.type}]"


def _show(value: Any) -> str:
    """repr for scalars (as before), EDN-like deterministic text for collections."""
    return show_value(value) if isinstance(value, tuple | frozenset | dict) else repr(value)


def _sort_key(key: Hashable) -> tuple[bool, str]:
    return (key is not None, str(key))


def check_linearizability(
    history: Sequence[HistoryEvent] | Sequence[Operation] | Sequence[dict[str, Any]],
    model: Model | str,
    *,
    timeout_s: float | None = DEFAULT_TIMEOUT_S,
    max_states: int = DEFAULT_MAX_STATES,
    slice_steps: int = DEFAULT_SLICE_STEPS,
) -> LinearizabilityResult:
    """Check a history against ``model``: events, ops from `pair_operations`, or event dicts.

    ``timeout_s`` None means no time limit (``max_states`` still bounds memory). Returns a
    `LinearizabilityResult`; never raises for a non-linearizable history. Raises HistoryError
    if pairing fails or an op's ``f`` is not one the model accepts (naming its line).
    """
    if max_states < 1 or slice_steps < 1:
        raise ValueError(f"budgets must be >= 1, got max_states={max_states} "
                         f"slice_steps={slice_steps}")
    started = time.monotonic()
    deadline = None if timeout_s is None else started + timeout_s
    the_model = get_model(model) if isinstance(model, str) else model
    ops = _as_operations(history)
    by_key: dict[Hashable, list[Operation]] = {}
    for op in ops:
        where = f"line {op.invoke_line}" if op.invoke_line is not None else f"op {op.id}"
        if op.f not in the_model.functions:
            raise HistoryError(
                f"{where}: f not accepted by model {the_model.name}; choose from "
                f"{', '.join(the_model.functions)}, got f={op.f}"
            )
        problem = the_model.invalid(op)
        if problem is not None:
            raise HistoryError(f"{where}: {problem}")
        if op.type != "fail" and not the_model.vacuous(op):
            by_key.setdefault(the_model.partition(op), []).append(op)
    searches = [PartitionSearch(k, by_key[k], the_model) for k in sorted(by_key, key=_sort_key)]
    active = deque(s for s in searches if not s.done)
    unknown: list[PartitionSearch] = []
    live_states = 0
    reason: str | None = None

    def finish(verdict: str, **fields: Any) -> LinearizabilityResult:
        elapsed = time.monotonic() - started
        result = LinearizabilityResult(
            verdict=verdict,
            partitions=len(searches),
            ops_checked=sum(s.op_count for s in searches),
            states=sum(s.states_created for s in searches),
            elapsed_s=elapsed,
            **fields,
        )
        log.info("linearizability %s", result.summary())
        return result

    for search in searches:
        stale = find_superseded_observer(search.ops, the_model)
        if stale is not None:  # certainly a violation, no search needed to decide
            prefix, failed = _explain(search, the_model, max_states, stale)
            return finish("violation", key=search.key, prefix=prefix, failed_op=failed)
    while active:
        if deadline is not None and time.monotonic() > deadline:
            reason = f"timeout after timeout_s={timeout_s}"
            unknown.extend(active)
            break
        search = active.popleft()
        live_states -= len(search.memo)
        budget = max_states - live_states
        status = search.run(slice_steps, budget)
        if status == "violation":
            prefix, failed = _explain(search, the_model, max_states, None)
            return finish("violation", key=search.key, prefix=prefix, failed_op=failed)
        if status == "memory":
            reason = f"max_states={max_states} memo entries reached"
            log.info("linearizability: key=%r abandoned, %s", search.key, reason)
            unknown.append(search)
            search.release()
        elif status == "running":
            live_states += len(search.memo)
            active.append(search)
        else:
            search.release()
    if unknown:
        keys = tuple(sorted((s.key for s in unknown), key=_sort_key))
        return finish("unknown", key=keys[0], reason=reason, unknown_keys=keys)
    return finish("linearizable")


def _explain(
    search: PartitionSearch, model: Model, max_states: int, stale: Operation | None
) -> tuple[tuple[Operation, ...], Operation | None]:
    """Return (prefix, op that cannot be placed) to report for a partition that violates.

    The doomed-value rule stops the search early, so its prefix can be short; a bounded
    search without it usually finds the classic longest prefix. ``stale``: the op the
    superseded-value rule found, reported if the searches cannot name one.
    """
    plain = PartitionSearch(search.key, search.ops, model, prune_doomed=False)
    if plain.run(PREFIX_SEARCH_STEPS, max_states) == "violation" and plain.failed_op:
        return tuple(plain.best_prefix), plain.failed_op
    plain.release()
    if not search.done:
        search.run(PREFIX_SEARCH_STEPS, max_states)
    prefix = max(search.best_prefix, plain.best_prefix, key=len)
    return tuple(prefix), stale or search.failed_op


def _as_operations(history: Sequence[Any]) -> list[Operation]:
    if not history:
        return []
    if all(isinstance(item, Operation) for item in history):
        return list(history)
    if all(isinstance(item, HistoryEvent) for item in history):
        return pair_operations(history)
    if all(isinstance(item, dict) for item in history):
        return pair_operations(
            [HistoryEvent.from_json(d, line=i) for i, d in enumerate(history, start=1)]
        )
    raise TypeError("history must be all HistoryEvent, all Operation or all dicts "
                    "(HistoryEvent.to_json form)")
