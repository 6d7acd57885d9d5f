"""Shrinking: make a failing choice list smaller while the same property still fails.

Any list of non-negative ints is a valid run (`harness.runtime.chooser`: a short list continues with
0s, a large value is clamped, 0 is the nominal path), so a smaller list is a run with fewer
departures from nominal: fewer faults, fewer delays. The search:

1. cut the list short (binary search for the shortest failing prefix: cheap, log2 runs);
2. delete chunks (ddmin over complements: halves, then quarters, ... down to single
   entries; after a success, stay at the same granularity);
3. zero chunks the same way (cheap way to remove many departures at once);
4. lower each remaining non-zero entry: try 0, then a binary search for the smallest value
   that still fails (repeated halving of the gap);

repeated until a pass changes nothing or the run budget is spent. After every failing
candidate the list is replaced by what the run actually consumed (`RunResult.choices`, the
run stops at its first violation) with trailing zeros trimmed, and a candidate is only
accepted if that is strictly smaller in shortlex order (length, then values), so the search
always terminates and every accepted list still fails.

A simulator run records the label of every choice (`RunResult.labels`) and is replayed per
label (`harness.runtime.chooser`): the n-th draw under a label takes the n-th recorded value
of that label. `shrink_run` therefore shrinks each label's list on its own (`shrink_labelled`:
first every label zeroed whole, then the passes above on one label at a time, labels with
the most departures first), so that removing every network delay does not slide the fault
decisions onto other draws. A decision that matters is a non-zero choice left at the end.

Before the choice list, `shrink_run` shrinks the run's options: fewer operations, clients,
keys and fault kinds (`shrink_options`), each candidate run with the current choice list and
kept if the same property still fails. A failure that needs 1,000 operations to show is rare;
one that needs five is easy to read, and every later run of the search is that much faster.

`shrink_choices` is the generic algorithm over a test function; `shrink_run` drives it with
a run function (`harness.sim.run` by default).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence

import attrs

from harness.failures.sweep import RunFunction, default_run
from harness.sim.runspec import RunOptions, RunResult

log = logging.getLogger(__name__)

Choices = tuple[int, ...]
# A test takes a candidate list; returns the (normalised) list the failing run consumed,
# or None if the candidate does not fail the property.
TestFunction = Callable[[Choices], Choices | None]
# Called after every run with the runs so far and the current (smallest failing) list.
Progress = Callable[[int, Choices], None]


def trim_zeros(choices: Sequence[int]) -> Choices:
    """Return ``choices`` without trailing zeros (they replay exactly like absent entries)."""
    end = len(choices)
    while end and choices[end - 1] == 0:
        end -= 1
    return tuple(choices[:end])


def _key(choices: Choices) -> tuple[int, Choices]:
    return (len(choices), choices)


class _Search:
    """State of one shrink: the current list, the run budget and a memo of tried lists."""

    def __init__(
        self, initial: Choices, test: TestFunction, max_runs: int, progress: Progress | None
    ) -> None:
        self.current = trim_zeros(initial)
        self._progress = progress
        self.runs = 0
        self._test = test
        self.max_runs = max_runs
        self.cap = max_runs  # a pass's share of the budget (see shrink_choices)
        self._tried: set[Choices] = set()

    @property
    def exhausted(self) -> bool:
        """The current pass may run no more (its share or the whole budget is spent)."""
        return self.runs >= min(self.cap, self.max_runs)

    def run_pass(self, share: float, body: Callable[[_Search], bool]) -> tuple[bool, bool]:
        """Run ``body`` on ``share`` of the remaining budget; return (progressed, was cut)."""
        remaining = self.max_runs - self.runs
        self.cap = self.runs + max(1, int(remaining * share))
        progressed = body(self)
        cut = self.exhausted
        self.cap = self.max_runs
        return progressed, cut

    def attempt(self, candidate: Sequence[int]) -> bool:
        """Run ``candidate``; adopt its normalised form if it fails and is smaller."""
        candidate = trim_zeros(candidate)
        if _key(candidate) >= _key(self.current) or candidate in self._tried or self.exhausted:
            return False
        self._tried.add(candidate)
        self.runs += 1
        consumed = self._test(candidate)
        adopted = consumed is not None and _key(trim_zeros(consumed)) < _key(self.current)
        if consumed is not None and adopted:
            self.current = trim_zeros(consumed)
        if self._progress is not None:
            self._progress(self.runs, self.current)
        return adopted


def _chunk_pass(search: _Search, edit: Callable[[Choices, int, int], Choices]) -> bool:
    """ddmin over chunks: apply ``edit(list, start, stop)`` to each chunk, big to small."""
    progressed = False
    size = len(search.current) // 2
    sizes = {1, 2}  # always try pairs too: halving 7 gives 3 then 1
    while size > 2:
        sizes.add(size)
        size //= 2
    for size in sorted(sizes, reverse=True):
        start = 0
        while start < len(search.current) and not search.exhausted:
            candidate = edit(search.current, start, start + size)
            if search.attempt(candidate):
                progressed = True  # retry the same place: the list moved under it
            else:
                start += size
    return progressed


def _truncate_pass(search: _Search) -> bool:
    """Binary search the shortest prefix that still fails (the rest replays as nominal 0s);
    about log2(len) runs, so it goes first."""
    progressed = False
    low, high = 0, len(search.current)  # the empty list is assumed to pass
    while high - low > 1 and not search.exhausted:
        middle = (low + high) // 2
        if search.attempt(search.current[:middle]):
            progressed = True
            high = min(middle, len(search.current))
        else:
            low = middle
    return progressed


def _delete(choices: Choices, start: int, stop: int) -> Choices:
    return choices[:start] + choices[stop:]


def _zero(choices: Choices, start: int, stop: int) -> Choices:
    if not any(choices[start:stop]):
        return choices  # nothing to lower: rejected as not smaller without a run
    return choices[:start] + (0,) * (len(choices[start:stop])) + choices[stop:]


def _replace(choices: Choices, index: int, value: int) -> Choices:
    return (*choices[:index], value, *choices[index + 1:])


def _lower_pass(search: _Search) -> bool:
    """Lower each non-zero entry, last first: to 0, else binary search the smallest failing
    value (``low`` is known to pass, ``high`` to fail)."""
    progressed = False
    index = len(search.current) - 1
    while index >= 0 and not search.exhausted:
        if index >= len(search.current) or search.current[index] == 0:
            index -= 1
            continue
        low, high = -1, search.current[index]
        while high - low > 1 and not search.exhausted:
            middle = 0 if low < 0 else (low + high) // 2
            if search.attempt(_replace(search.current, index, middle)):
                progressed = True
                high = middle
            else:
                low = middle
            if index >= len(search.current) or search.current[index] != high:
                break  # the run consumed a different list: its entries moved, go on
        index -= 1
    return progressed


Labelled = tuple[tuple[str, Choices], ...]
"""A choice list per label, sorted by label, each without trailing zeros (empty ones left out)."""
# Runs a labelled candidate; returns the labelled choices the failing run consumed, or None.
LabelledTest = Callable[[Labelled], Labelled | None]


def labelled(choices: Sequence[int], labels: Sequence[str]) -> Labelled:
    """Group ``choices`` by their ``labels`` (order within a label kept), canonically."""
    groups: dict[str, list[int]] = {}
    for label, value in zip(labels, choices, strict=True):
        groups.setdefault(label, []).append(value)
    items = ((label, trim_zeros(values)) for label, values in sorted(groups.items()))
    return tuple((label, values) for label, values in items if values)


def flatten(groups: Labelled) -> tuple[Choices, tuple[str, ...]]:
    """The (choices, labels) lists that replay ``groups`` per label."""
    choices: list[int] = []
    labels: list[str] = []
    for label, values in groups:
        choices.extend(values)
        labels.extend([label] * len(values))
    return tuple(choices), tuple(labels)


def decisions(groups: Labelled) -> int:
    """Non-zero choices: the departures from the nominal run that are left."""
    return sum(1 for _, values in groups for v in values if v)


def _labelled_key(groups: Labelled) -> tuple[int, int, Labelled]:
    return (decisions(groups), sum(len(v) for _, v in groups), groups)


def shrink_labelled(
    initial: Labelled,
    test: LabelledTest,
    *,
    max_runs: int = 500,
    progress: Progress | None = None,
) -> tuple[Labelled, int, bool]:
    """Shrink a failing labelled choice list with at most ``max_runs`` calls of ``test``.

    Returns the smallest failing labelled list, the runs used and whether the budget ran out
    first. Smaller means fewer non-zero choices, then fewer choices, then lower values, so
    the search terminates and every adopted list failed.
    """
    current = initial
    runs = 0
    tried: set[Labelled] = set()

    def report() -> None:
        if progress is not None:
            progress(runs, flatten(current)[0])

    def attempt(candidate: Labelled) -> bool:
        nonlocal current, runs
        if runs >= max_runs or candidate in tried:
            return False
        if _labelled_key(candidate) >= _labelled_key(current):
            return False
        tried.add(candidate)
        runs += 1
        consumed = test(candidate)
        adopted = consumed is not None and _labelled_key(consumed) < _labelled_key(current)
        if consumed is not None and adopted:
            current = consumed
        report()
        return adopted

    def replaced(label: str, values: Choices) -> Labelled:
        items = dict(current)
        items[label] = trim_zeros(values)
        return tuple((k, v) for k, v in sorted(items.items()) if v)

    while runs < max_runs:
        before = current
        by_weight = sorted(current, key=lambda item: (-decisions((item,)), item[0]))
        for label, _ in by_weight:  # a label zeroed whole: one run removes many departures
            attempt(replaced(label, ()))
        for label, _ in sorted(current, key=lambda item: (-decisions((item,)), item[0])):
            values = dict(current).get(label, ())
            if not any(values):
                continue

            def test_label(candidate: Choices, label: str = label) -> Choices | None:
                return dict(current).get(label, ()) if attempt(replaced(label, candidate)) \
                    else None

            share = max(1, (max_runs - runs) // max(1, len(current)))
            shrink_choices(values, test_label, max_runs=share)
            if runs >= max_runs:
                break
        if current == before:
            break
    return current, runs, runs >= max_runs


@attrs.frozen(kw_only=True)
class ShrinkOutcome:
    """What `shrink_choices` ended with: the smallest failing list and the runs it took."""

    choices: Choices
    runs: int
    exhausted: bool


def shrink_choices(
    initial: Sequence[int],
    test: TestFunction,
    *,
    max_runs: int = 500,
    progress: Progress | None = None,
) -> ShrinkOutcome:
    """Shrink ``initial`` (assumed failing) with at most ``max_runs`` calls of ``test``.

    ``exhausted`` is True when the budget ran out before a pass changed nothing (the result
    still fails; it may just not be minimal).
    """
    if max_runs < 0:
        raise ValueError(f"max_runs must be >= 0, got max_runs={max_runs}")
    search = _Search(tuple(initial), test, max_runs, progress)
    passes: tuple[tuple[float, Callable[[_Search], bool]], ...] = (
        (1 / 4, _truncate_pass),
        (1 / 3, lambda s: _chunk_pass(s, _delete)),
        (1 / 2, lambda s: _chunk_pass(s, _zero)),
        (1.0, _lower_pass),
    )
    while not search.exhausted:
        # Each pass gets a share of what is left, so a long list cannot make deletion eat
        # the whole budget; a pass cut short resumes next round (tried lists cost no run).
        again = False
        for share, body in passes:
            progressed, cut = search.run_pass(share, body)
            again |= progressed or cut
        if not again:
            break
    log.info("shrink: %d runs, %d choices left", search.runs, len(search.current))
    return ShrinkOutcome(choices=search.current, runs=search.runs, exhausted=search.exhausted)


# A test of options: runs them with the given labelled choices (None: drawn from the seed);
# returns the labelled choices the failing run consumed, or None if it does not fail.
OptionsTest = Callable[[RunOptions, Labelled | None], Labelled | None]


NEARBY_SEEDS = 20
"""Seeds tried (the run's own, then the next ones) for a fresh run with a much smaller
workload; the shrunk run may so come from another seed. What is kept is the property."""

_WORKLOAD_COUNTS: tuple[tuple[str, Callable[[RunOptions, int], RunOptions]], ...] = (
    ("ops", lambda o, v: attrs.evolve(o, ops=v)),
    ("clients", lambda o, v: attrs.evolve(o, clients=v)),
    ("keys", lambda o, v: attrs.evolve(o, keys=v)),
)


def shrink_options(
    options: RunOptions, choices: Labelled, test: OptionsTest, *, max_runs: int = 100
) -> tuple[RunOptions, Labelled, int]:
    """Shrink the fault set and the workload of a failing run.

    In order: the fault kinds (all at once, then one at a time); fresh runs with a twentieth
    and a fifth of the operations from the run's seed and the `NEARBY_SEEDS` after it; then
    operations, clients and keys (each the smallest failing count found by trying 1, then a
    binary search: a count need not fail monotonically, so the result always failed but may
    not be the least such count). A candidate is run with the current choices, and if that
    passes, once more with choices drawn afresh from the seed (``test(candidate, None)``):
    smaller options make the old choices meet other draws, and a fresh small run often fails
    the same way.
    Returns the smallest failing options, the choices their run consumed, and the runs used
    (at most ``max_runs``).
    """
    runs = 0

    def attempt(candidate: RunOptions, *, fresh_only: bool = False) -> bool:
        nonlocal options, choices, runs
        if candidate == options:
            return False
        for replay in ((None,) if fresh_only else (choices, None)):
            if runs >= max_runs:
                return False
            runs += 1
            consumed = test(candidate, replay)
            if consumed is not None:
                options, choices = candidate, consumed
                return True
        return False

    if options.faults and not attempt(_without_faults(options, options.faults)):
        for fault in options.faults:
            if fault in options.faults:
                attempt(_without_faults(options, (fault,)))
    # A much smaller workload seldom fails with choices drawn for a long run, but a fresh
    # short run from a nearby seed often fails the same way; every later run is then cheap.
    found = False
    for ops in sorted({max(1, options.ops // 20), max(1, options.ops // 5)}):
        for offset in range(NEARBY_SEEDS if ops < options.ops else 0):
            if found or runs >= max_runs:
                break
            found = attempt(attrs.evolve(options, ops=ops, seed=options.seed + offset),
                            fresh_only=True)
    for name, count in _WORKLOAD_COUNTS:
        low, high = 1, getattr(options, name)
        if high <= low or attempt(count(options, low)):
            continue
        while high - low > 1 and runs < max_runs:
            middle = (low + high) // 2
            if attempt(count(options, middle)):
                high = middle
            else:
                low = middle
    return options, choices, runs


def _without_faults(options: RunOptions, faults: Sequence[str]) -> RunOptions:
    kept = tuple(f for f in options.faults if f not in faults)
    try:
        return attrs.evolve(options, faults=kept)
    except ValueError:
        return options  # the variant needs that fault (one-step-swap needs permanent)


@attrs.frozen(kw_only=True)
class ShrinkResult:
    """A shrunk run: the original and the final (failing, with trace) results, runs used."""

    before: RunResult
    after: RunResult
    runs: int
    exhausted: bool
    interrupted: bool = False

    @property
    def options_changed(self) -> bool:
        """True if the shrunk run has a smaller workload or fewer fault kinds."""
        return self.after.options != self.before.options


def shrink_run(
    options: RunOptions,
    choices: Sequence[int],
    *,
    prop: str | None = None,
    max_runs: int = 500,
    run: RunFunction = default_run,
    progress: Progress | None = None,
    on_start: Callable[[RunResult], None] | None = None,
    options_too: bool = True,
) -> ShrinkResult:
    """Shrink the run ``options`` + ``choices`` while it still violates property ``prop``.

    With ``options_too`` the options are shrunk first (`shrink_options`, a fifth of the run
    budget at most), then the choice list with what is left of the budget.
    ``prop`` None means the property the given run violates. The original run is replayed
    first (one run, not counted in ``max_runs``; ``on_start`` is called with it, e.g. to
    compare its fingerprint before the long search), and once more at the end with the
    trace kept, so ``after`` is complete for an artifact. Ctrl-C during the search ends it
    with the smallest failing run found so far (``interrupted``); during the first or the
    last run it propagates.

    Raises:
        ValueError: the given run does not violate ``prop`` (nothing to shrink).
    """
    before = run(options, replay=tuple(choices), keep_trace=True)
    if before.violation is None or (prop is not None and before.violation.property != prop):
        got = None if before.violation is None else before.violation.property
        raise ValueError(f"run does not fail as required: property={prop} got={got}")
    target = before.violation.property
    if on_start is not None:
        on_start(before)

    def run_labelled(candidate: RunOptions, groups: Labelled | None, keep: bool) -> RunResult:
        if groups is None:
            return run(candidate, keep_trace=keep)
        choices, labels = flatten(groups)
        return run(candidate, replay=choices, replay_labels=labels, keep_trace=keep)

    def size(candidate: RunOptions, groups: Labelled) -> tuple[object, ...]:
        return (_labelled_key(groups), candidate.ops, candidate.clients, candidate.keys,
                len(candidate.faults))

    groups = labelled(before.choices, before.labels)
    # The smallest failing run seen by any test, so Ctrl-C keeps it whatever the phase.
    best: list[tuple[tuple[object, ...], RunOptions, Labelled]] = [
        (size(options, groups), options, groups)]

    calls = [0]

    def test_options(candidate: RunOptions, groups: Labelled | None) -> Labelled | None:
        calls[0] += 1
        result = run_labelled(candidate, groups, False)
        if result.violation is not None and result.violation.property == target:
            consumed = labelled(result.choices, result.labels)
            key = size(candidate, consumed)
            if key < best[0][0]:
                best[0] = (key, candidate, consumed)
            return consumed
        return None

    used = 0
    exhausted = False
    interrupted = False

    def progress_from(base: int) -> Progress:
        def report(runs: int, current: Choices) -> None:
            if progress is not None:
                progress(base + runs, current)
        return report

    # Options and choices take turns: fewer departures can let a smaller workload fail, and a
    # smaller workload makes the next choice pass cheaper. Each round must shrink something.
    try:
        while used < max_runs:
            start = (options, groups)
            if options_too:
                options, groups, runs = shrink_options(
                    options, groups, test_options, max_runs=max(1, (max_runs - used) // 5)
                )
                used += runs
                progress_from(used)(0, flatten(groups)[0])
            groups, runs, exhausted = shrink_labelled(
                groups, functools.partial(test_options, options),
                max_runs=max_runs - used, progress=progress_from(used),
            )
            used += runs
            if (options, groups) == start or exhausted:
                break
    except KeyboardInterrupt:  # Ctrl-C: stop, keep the smallest failing run seen
        interrupted = True
        _, options, groups = best[0]
        used = calls[0]
    exhausted = exhausted or used >= max_runs
    after = run_labelled(options, groups, True)
    if after.violation is None or after.violation.property != target:  # determinism bug
        raise RuntimeError(
            f"shrunk run no longer fails: property={target} fingerprint={after.fingerprint}"
        )
    return ShrinkResult(before=before, after=after, runs=used, exhausted=exhausted,
                        interrupted=interrupted)
