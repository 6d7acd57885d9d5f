"""Sound pruning for the linearizability search (used by `_wgl` and `linearizability`).

Everything here relies only on the facts a `Model` declares (`overwrites`, `observes`,
`appends`); a model that declares nothing gets no pruning. Each rule states why it is sound.
"""

from __future__ import annotations

import bisect
from typing import Any

import attrs

from harness.checks.history import Operation
from harness.checks.models import ABSENT, Model


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


@attrs.define
class DoomTables:
    """Bookkeeping for the doomed-state rule, updated as ops are placed and taken back.

    A configuration is a dead end if a pending ok op must observe a state ``t`` that nothing
    can bring back: no pending op overwrites with a value that appends of the partition's
    values can extend to ``t`` (or that is ``t``), and the current state cannot be extended
    to ``t`` either. Such ``t`` are kept in ``unfed``; each placement checks them.

    Attributes (lists per local op index): ``observed``: the state an ok op must observe, or
    None; ``feeds``: the observed states an op's overwrite may lead to; ``readers_left`` /
    ``feeders_left``: per observed state, pending ok observers / pending ops feeding it;
    ``suffixes``: the partition's append values; ``unfed``: observed states with pending
    observers and no pending feeders (insertion ordered).
    """

    observed: list[Any]
    feeds: list[tuple[Any, ...]]
    readers_left: dict[Any, int]
    feeders_left: dict[Any, int]
    suffixes: frozenset[str]
    unfed: dict[Any, None] = attrs.field(factory=dict)
    _reach: dict[tuple[Any, Any], bool] = attrs.field(factory=dict)

    def doomed(self, i: int, new_state: Any) -> bool:
        """Whether placing op ``i``, leaving ``new_state``, strands a pending observer."""
        observed = self.observed[i]
        for t in self.unfed:
            if not self._reaches(new_state, t) and self.readers_left[t] - (observed == t) > 0:
                return True
        for t in self.feeds[i]:  # states whose last feeder is op i
            if self.feeders_left[t] == 1 and t not in self.unfed and \
                    self.readers_left[t] - (observed == t) > 0 and \
                    not self._reaches(new_state, t):
                return True
        return False

    def _reaches(self, start: Any, t: Any) -> bool:
        key = (start, t)
        found = self._reach.get(key)
        if found is None:
            found = self._reach[key] = _leads_to(start, t, self.suffixes)
        return found

    def place(self, i: int, delta: int) -> None:
        """Account op ``i`` as placed (``delta=-1``) or taken back (``delta=+1``)."""
        observed = self.observed[i]
        if observed is not None:
            self.readers_left[observed] += delta
            self._refresh(observed)
        for t in self.feeds[i]:
            self.feeders_left[t] += delta
            self._refresh(t)

    def _refresh(self, t: Any) -> None:
        if self.readers_left[t] > 0 and self.feeders_left[t] == 0:
            self.unfed[t] = None
        else:
            self.unfed.pop(t, None)


def doom_tables(ops: list[Operation], model: Model) -> DoomTables | None:
    """Build `DoomTables` for a partition, or None when the rule does not apply (some op
    neither observes, overwrites nor appends)."""
    facts = [(model.observes(op), model.overwrites(op), model.appends(op)) for op in ops]
    if not all(o[0] or w[0] or a[0] for o, w, a in facts):
        return None
    suffixes = frozenset(str(a[1]) for _, _, a in facts if a[0])
    observed: list[Any] = [None] * len(ops)
    readers_left: dict[Any, int] = {}
    for i, (op, (o, _, _)) in enumerate(zip(ops, facts, strict=True)):
        if o[0] and op.type == "ok":
            observed[i] = o[1]
            readers_left[o[1]] = readers_left.get(o[1], 0) + 1
    targets = list(readers_left)
    feeds: list[tuple[Any, ...]] = []
    feeders_left: dict[Any, int] = dict.fromkeys(targets, 0)
    for _, w, _ in facts:
        fed: tuple[Any, ...] = ()
        if w[0]:
            fed = tuple(s for s in targets if _leads_to(w[1], s, suffixes))
        for s in fed:
            feeders_left[s] += 1
        feeds.append(fed)
    tables = DoomTables(observed, feeds, readers_left, feeders_left, suffixes)
    for t in targets:
        tables._refresh(t)
    return tables


def _leads_to(start: Any, state: Any, suffixes: frozenset[str]) -> bool:
    """Whether appends of values in ``suffixes`` can take ``start`` (a state an overwrite
    leaves, or the current state) to ``state``."""
    if start == state:
        return True
    if not suffixes or not isinstance(state, str):
        return False
    if start is ABSENT:
        return _composable(state, suffixes)
    head = str(start)
    return state.startswith(head) and _composable(state[len(head):], suffixes)


def _composable(text: str, suffixes: frozenset[str]) -> bool:
    """Whether ``text`` is a concatenation of one or more values in ``suffixes``."""
    if not text:
        return "" in suffixes
    reachable = [True] + [False] * len(text)  # reachable[k]: text[:k] is a concatenation
    lengths = sorted({len(x) for x in suffixes if x})
    for end in range(1, len(text) + 1):
        for n in lengths:
            if n > end:
                break
            if reachable[end - n] and text[end - n:end] in suffixes:
                reachable[end] = True
                break
    return reachable[len(text)]
