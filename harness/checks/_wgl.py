"""The per-partition Wing-Gong-Lowe search, resumable in slices (used by `linearizability`).

Entries are indices into parallel lists (a doubly linked list with two sentinels), so lifting
an op out and putting it back are a few list stores. The search is an explicit stack, so it
can stop after any number of steps and resume exactly where it was.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from harness.checks._prune import DoomTables, doom_tables, prune_info_ops
from harness.checks.history import Operation
from harness.checks.models import Model


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
        # Doomed-state pruning (see `DoomTables`); None when the partition does not allow it.
        # Built at the first backtrack: most partitions never backtrack and need no tables.
        self.doom: DoomTables | None = None
        self._doom_later = prune_doomed
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
        """If the op that could not be placed was held back by the doomed-state rule, blame
        the earliest op that still had to observe the state instead: that is the op whose
        result is impossible (e.g. the stale read), and the one a reader wants to see."""
        doom = self.doom
        if doom is None or self.failed_op is None:
            return
        state, lin = self._failed_at
        new_state = self.model.step(state, self.failed_op)
        if new_state is None or new_state == state:
            return
        waiting = [
            op for j, op in enumerate(self.ops)
            if doom.observed[j] is not None and doom.observed[j] == state
            and not lin & self.bits[j] and op is not self.failed_op
        ]
        feeders = [j for j in range(len(self.ops)) if state in doom.feeds[j]
                   and not lin & self.bits[j]]
        if waiting and not feeders:
            self.failed_op = min(waiting, key=lambda op: op.invoke_index)

    def _build_doom(self) -> DoomTables | None:
        """Build the doomed-state tables now, accounting for the ops already placed."""
        self._doom_later = False
        self.doom = doom_tables(self.ops, self.model)
        if self.doom is not None:
            for frame in self.stack:
                self.doom.place(self.entry_op[frame[0]], -1)
        return self.doom

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
        doom = self.doom
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
                        if doom is not None and doom.doomed(i, new_state):
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
                            if doom is not None:
                                doom.place(i, -1)
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
            if self._doom_later:
                doom = self._build_doom()
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
            if doom is not None:
                doom.place(i, +1)
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
