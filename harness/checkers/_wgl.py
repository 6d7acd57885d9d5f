"""The per-partition Wing-Gong-Lowe search, resumable in slices (used by `linearizability`).

Entries are indices into parallel lists (a doubly linked list with two sentinels), so lifting
an op out and putting it back are a few list stores. The search is an explicit stack, so it
can stop after any number of steps and resume exactly where it was.
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable
from typing import Any

from harness.checkers.models import ABSENT, Model
from harness.history import Operation


def prune_info_ops(ops: list[Operation], model: Model) -> tuple[list[Operation], list[Any]]:
    """Drop info ops that can soundly be taken as "never happened"; return (ops, dep lists).

    Dropped: info ops that only observe (reads: they change nothing). When every op of the
    partition observes, overwrites or appends (see `Model`), also info ops that write
    something no op observes, repeated to a fixed point. For each kept op the second list
    holds None or, for a kept info writer, the ids of the ops whose observed state may show
    its effect: once all of those are linearized the search never places it.

    Why that is sound: if a linearization places info op X after every op that could observe
    its effect, then until the next overwrite only appends follow X and nobody observes the
    state, so removing X leaves a linearization too (and info ops may never happen).
    """
    facts = {op.id: (model.overwrites(op), model.observes(op), model.appends(op)) for op in ops}
    kept = [op for op in ops if not (op.type == "info" and facts[op.id][1][0]
                                     and not facts[op.id][0][0])]
    if not all(w[0] or o[0] or a[0] for w, o, a in facts.values()):
        return kept, [None] * len(kept)
    with_appends = any(facts[op.id][2][0] for op in kept)
    observers: dict[Any, list[int]] = {}
    for op in kept:
        seen, state = facts[op.id][1]
        if seen:
            observers.setdefault(state, []).append(op.id)
    deps: dict[int, set[int]] = {}
    for op in kept:
        (writes, written), _, (appends, suffix) = facts[op.id]
        if op.type == "info" and (writes or appends):
            if with_appends:
                who = [i for state, ids in observers.items()
                       if _may_show(state, written, suffix, appends) for i in ids]
            else:
                who = observers.get(written, [])
            deps[op.id] = {i for i in who if i != op.id}
    # Drop writers nobody can observe; an info cas dropped stops observing: cascade.
    listed_by: dict[int, list[int]] = {}
    for writer, observed_by in deps.items():
        for i in sorted(observed_by):
            listed_by.setdefault(i, []).append(writer)
    work = [w for w, observed_by in deps.items() if not observed_by]
    dropped: set[int] = set()
    while work:
        gone = work.pop()
        if gone in dropped:
            continue
        dropped.add(gone)
        for writer in listed_by.get(gone, []):
            if writer not in dropped:
                deps[writer].discard(gone)
                if not deps[writer]:
                    work.append(writer)
    kept = [op for op in kept if op.id not in dropped]
    return kept, [sorted(deps[op.id]) if op.id in deps else None for op in kept]


def _may_show(observed: Any, written: Any, suffix: Any, appends: bool) -> bool:
    """Whether an observed state may show the effect of a write, or of an append of suffix,
    in a partition with appends (states after a write of w start with str(w))."""
    if appends:
        return isinstance(observed, str) and str(suffix) in observed
    if observed == written:
        return True
    if not isinstance(observed, str):
        return False
    return written is ABSENT or observed.startswith(str(written))


def find_superseded_observer(ops: list[Operation], model: Model) -> Operation | None:
    """Return an ok op that observes a value every writer of which was surely overwritten.

    A quick, sound test for stale reads and lost writes (no search): if for every op X that
    writes ``u`` (or for the initial state, if it is ``u``) some ok op W writing another
    value was invoked after X completed and completed before R was invoked, then R cannot
    observe ``u``. Only for partitions where every op observes or overwrites. Returns the
    offending op with the earliest invocation, or None.
    """
    facts = {op.id: (model.overwrites(op), model.observes(op)) for op in ops}
    if not all(w[0] or o[0] for w, o in facts.values()):
        return None
    never = 1 << 62  # later than any history position
    ok_writes = sorted(
        (op.invoke_index, op.complete_index, facts[op.id][0][1])
        for op in ops if op.type == "ok" and facts[op.id][0][0] and op.complete_index is not None
    )
    invoked = [w[0] for w in ok_writes]
    # Suffix summaries over ok writes by invocation: the earliest completion (and its value),
    # and the earliest completion of a write of any other value.
    first: list[tuple[int, Any]] = [(never, None)] * (len(ok_writes) + 1)
    other: list[int] = [never] * (len(ok_writes) + 1)
    for k in range(len(ok_writes) - 1, -1, -1):
        _, completed, value = ok_writes[k]
        assert completed is not None
        best, best_value = first[k + 1]
        if completed < best:
            first[k] = (completed, value)
            other[k] = best if best_value != value else other[k + 1]
        else:
            first[k] = (best, best_value)
            other[k] = min(other[k + 1], completed) if value != best_value else other[k + 1]

    def superseded_by(after: int, value: Any) -> int:
        # earliest completion of an ok write of another value invoked after position `after`
        k = bisect.bisect_right(invoked, after)
        best, best_value = first[k]
        return best if best_value != value else other[k]

    writers: dict[Any, list[Operation]] = {}
    for op in ops:
        writes, written = facts[op.id][0]
        if writes:
            writers.setdefault(written, []).append(op)
    cache: dict[Any, int] = {}
    initial = model.init()
    for op in sorted(ops, key=lambda o: o.invoke_index):
        seen, value = facts[op.id][1]
        if op.type != "ok" or not seen:
            continue
        if value not in cache:
            bound = superseded_by(-1, value) if value == initial else -1
            for writer in writers.get(value, []):
                if writer.type != "ok" or writer.complete_index is None:
                    bound = never
                    break
                bound = max(bound, superseded_by(writer.complete_index, value))
            cache[value] = bound  # -1: nothing ever writes it
        if cache[value] < op.invoke_index:
            return op
    return None


class PartitionSearch:
    """WGL search over one partition's ops; `run` advances it by a bounded number of steps.

    Attributes:
        key: the partition.
        done: True once a verdict is known (or the search was released).
        memo: configurations (linearized bitset, state) explored; emptied by `release`.
        best_prefix: longest linearizable prefix seen where an op could not be placed.
        failed_op: the op that could not be placed after ``best_prefix``.
    """

    def __init__(
        self, key: Hashable, ops: list[Operation], model: Model, *, prune_doomed: bool = True
    ) -> None:
        self.key = key
        self.model = model
        kept, deps = prune_info_ops(ops, model)
        self.ops = kept
        self.op_count = len(kept)
        local = {op.id: i for i, op in enumerate(kept)}
        self.bits = [1 << i for i in range(len(kept))]
        self.required = [op.type == "ok" for op in kept]
        # Required pure reads: placing one as soon as it fits is never worse than later (it
        # changes nothing, and every op that had to precede it already is placed), so when
        # it fails nothing else needs trying from that configuration.
        self.eager = [
            op.type == "ok" and model.observes(op)[0] and not model.overwrites(op)[0]
            and not model.appends(op)[0]
            for op in kept
        ]
        self.dep_masks: list[int | None] = [
            None if d is None else sum(1 << local[j] for j in d) for d in deps
        ]
        # Doomed-value pruning (partitions whose ops only observe or overwrite): leaving a
        # state that a pending required op still has to observe, when no pending op can
        # write it again, is a dead end. Per op: the state it must observe / it writes.
        self.pure = prune_doomed and all(
            model.observes(op)[0] or model.overwrites(op)[0] for op in kept
        ) and not any(model.appends(op)[0] for op in kept)
        self.observed_key: list[Any] = [None] * len(kept)
        self.written_key: list[Any] = [None] * len(kept)
        self.readers_left: dict[Any, int] = {}
        self.writers_left: dict[Any, int] = {}
        if self.pure:
            for i, op in enumerate(kept):
                seen, observed = model.observes(op)
                if seen and op.type == "ok":
                    self.observed_key[i] = observed
                    self.readers_left[observed] = self.readers_left.get(observed, 0) + 1
                writes, written = model.overwrites(op)
                if writes:
                    self.written_key[i] = written
                    self.writers_left[written] = self.writers_left.get(written, 0) + 1
        # Entries: (history position, is_return, local op index), sorted by position.
        raw = []
        for i, op in enumerate(kept):
            raw.append((op.invoke_index, 0, i))
            if op.type == "ok":
                if op.complete_index is None:
                    raise ValueError(f"ok op has no completion, op={op.id}")
                raw.append((op.complete_index, 1, i))
        raw.sort()
        n = len(raw)
        self.head = n
        self.tail = n + 1
        self.entry_op = [r[2] for r in raw] + [-1, -1]
        self.is_call = [r[1] == 0 for r in raw] + [False, False]
        self.match = [-1] * (n + 2)
        call_of: dict[int, int] = {}
        for e, (_, is_ret, i) in enumerate(raw):
            if is_ret:
                self.match[call_of[i]] = e
            else:
                call_of[i] = e
        if n:
            self.next = [*range(1, n), self.tail, 0, -1]
            self.prev = [self.head, *range(0, n - 1), -1, n - 1]
        else:
            self.next = [self.tail, -1]
            self.prev = [-1, self.head]
        self.entry = self.next[self.head]
        self.state: Any = model.init()
        self.linearized = 0
        self.remaining = sum(self.required)
        self.stack: list[tuple[int, Any, bool]] = []
        self.memo: set[tuple[int, Any]] = set()
        self.states_created = 0
        self.failed_op: Operation | None = None
        self._best_depth = -1
        # Entries of the best prefix; positions below _low are unchanged since it was taken,
        # so a new best copies only the part of the stack that changed.
        self._best_entries: list[int] = []
        self._low = 0
        self._failed_at: tuple[Any, int] = (None, 0)
        self.done = self.remaining == 0

    @property
    def best_prefix(self) -> list[Operation]:
        """The longest linearizable prefix seen where an op could not be placed (in order)."""
        return [self.ops[self.entry_op[e]] for e in self._best_entries]

    def _blame_reader(self) -> None:
        """If the op that could not be placed was held back by the doomed-value rule, blame
        the earliest op that still had to observe the state instead: that is the op whose
        result is impossible (e.g. the stale read), and the one a reader wants to see."""
        if not self.pure or self.failed_op is None:
            return
        state, lin = self._failed_at
        i = self.ops.index(self.failed_op)
        new_state = self.model.step(state, self.failed_op)
        if new_state is None or new_state == state:
            return
        waiting = [
            op for j, op in enumerate(self.ops)
            if self.observed_key[j] is not None and self.observed_key[j] == state
            and not lin & self.bits[j] and j != i
        ]
        rewriters = [
            j for j in range(len(self.ops))
            if self.written_key[j] is not None and self.written_key[j] == state
            and not lin & self.bits[j]
        ]
        if waiting and not rewriters:
            self.failed_op = min(waiting, key=lambda op: op.invoke_index)

    def release(self) -> None:
        """Free the memory of a finished or abandoned search."""
        self.memo = set()
        self.stack = []
        self.done = True

    def run(self, max_steps: int, max_memo: int) -> str:
        """Advance up to ``max_steps`` steps; keep the memo at most ``max_memo`` entries.

        Returns ``"ok"`` (linearizable), ``"violation"``, ``"memory"`` (the memo would pass
        ``max_memo``) or ``"running"`` (call again).
        """
        if self.remaining == 0:
            self.done = True
            return "ok"
        nxt, prv, is_call, entry_op, match = (
            self.next, self.prev, self.is_call, self.entry_op, self.match
        )
        ops, bits, required, dep_masks = self.ops, self.bits, self.required, self.dep_masks
        step, memo, stack, head = self.model.step, self.memo, self.stack, self.head
        eager, fail_here = self.eager, self.tail
        pure, observed_key, written_key = self.pure, self.observed_key, self.written_key
        readers_left, writers_left = self.readers_left, self.writers_left
        entry, state, lin, remaining = self.entry, self.state, self.linearized, self.remaining
        status = "running"
        low, best = self._low, self._best_entries
        for _ in range(max_steps):
            if is_call[entry]:
                i = entry_op[entry]
                deps = dep_masks[i]
                if deps is None or lin & deps != deps:
                    new_state = step(state, ops[i])
                    # An info op that changes nothing is never worth placing: leaving it out
                    # keeps every option open (it need not happen and blocks nothing).
                    if new_state is not None and (required[i] or new_state != state):
                        if pure and new_state != state:
                            gone = readers_left.get(state, 0)
                            if observed_key[i] is not None and observed_key[i] == state:
                                gone -= 1
                            if gone > 0 and writers_left.get(state, 0) == 0:
                                entry = nxt[entry]  # someone must still observe `state`
                                continue
                        config = (lin | bits[i], new_state)
                        if config in memo:
                            if eager[i]:  # it failed from here, so this configuration fails
                                entry = fail_here
                                continue
                        else:
                            if len(memo) >= max_memo:
                                status = "memory"
                                break
                            memo.add(config)
                            self.states_created += 1
                            stack.append((entry, state, eager[i]))
                            if pure:
                                if observed_key[i] is not None:
                                    readers_left[observed_key[i]] -= 1
                                if written_key[i] is not None:
                                    writers_left[written_key[i]] -= 1
                            lin, state = config
                            # lift the call entry and its return entry out of the list
                            p, n = prv[entry], nxt[entry]
                            nxt[p], prv[n] = n, p
                            r = match[entry]
                            if r >= 0:
                                p, n = prv[r], nxt[r]
                                nxt[p], prv[n] = n, p
                            if required[i]:
                                remaining -= 1
                                if remaining == 0:
                                    status = "ok"
                                    break
                            entry = nxt[head]
                            continue
                entry = nxt[entry]
                continue
            # A return entry (or the tail): its op had to be linearized already. Backtrack.
            depth = len(stack)
            if depth > self._best_depth and entry_op[entry] >= 0:
                self._best_depth = depth
                del best[low:]
                best.extend(frame[0] for frame in stack[low:])
                low = depth
                self.failed_op = ops[entry_op[entry]]
                self._failed_at = (state, lin)
            if not stack:
                status = "violation"
                break
            entry, state, was_eager = stack.pop()
            if depth - 1 < low:
                low = depth - 1
            i = entry_op[entry]
            lin &= ~bits[i]
            if pure:
                if observed_key[i] is not None:
                    readers_left[observed_key[i]] += 1
                if written_key[i] is not None:
                    writers_left[written_key[i]] += 1
            r = match[entry]
            if r >= 0:
                nxt[prv[r]] = r
                prv[nxt[r]] = r
            nxt[prv[entry]] = entry
            prv[nxt[entry]] = entry
            if required[i]:
                remaining += 1
            entry = fail_here if was_eager else nxt[entry]
        self.entry, self.state, self.linearized, self.remaining = entry, state, lin, remaining
        self._low = low
        if status == "violation":
            self._blame_reader()
        if status in ("ok", "violation"):
            self.done = True
        return status
