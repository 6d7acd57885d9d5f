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

`shrink_choices` is the generic algorithm over a test function; `shrink_run` drives it with
a run function (`harness.sim.run` by default).
"""

from __future__ import annotations

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


@attrs.frozen(kw_only=True)
class ShrinkOutcome:
    """What `shrink_choices` ended with: the smallest failing list and the runs it took."""

    choices: Choices
    runs: int
    exhausted: bool
    interrupted: bool = False


def shrink_choices(
    initial: Sequence[int],
    test: TestFunction,
    *,
    max_runs: int = 500,
    progress: Progress | None = None,
) -> ShrinkOutcome:
    """Shrink ``initial`` (assumed failing) with at most ``max_runs`` calls of ``test``.

    ``exhausted`` is True when the budget ran out before a pass changed nothing (the result
    still fails; it may just not be minimal). Ctrl-C (KeyboardInterrupt) stops the search
    and returns the smallest failing list found so far with ``interrupted`` True.
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
    interrupted = False
    try:
        while not search.exhausted:
            # Each pass gets a share of what is left, so a long list cannot make deletion eat
            # the whole budget; a pass cut short resumes next round (tried lists cost no run).
            again = False
            for share, body in passes:
                progressed, cut = search.run_pass(share, body)
                again |= progressed or cut
            if not again:
                break
    except KeyboardInterrupt:  # `current` only ever holds a list that failed: keep it
        interrupted = True
    log.info("shrink: %d runs, %d choices left", search.runs, len(search.current))
    return ShrinkOutcome(choices=search.current, runs=search.runs, exhausted=search.exhausted,
                         interrupted=interrupted)


@attrs.frozen(kw_only=True)
class ShrinkResult:
    """A shrunk run: the original and the final (failing, with trace) results, runs used."""

    before: RunResult
    after: RunResult
    runs: int
    exhausted: bool
    interrupted: bool = False


def shrink_run(
    options: RunOptions,
    choices: Sequence[int],
    *,
    prop: str | None = None,
    max_runs: int = 500,
    run: RunFunction = default_run,
    progress: Progress | None = None,
    on_start: Callable[[RunResult], None] | None = None,
) -> ShrinkResult:
    """Shrink the run ``options`` + ``choices`` while it still violates property ``prop``.

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

    def test(candidate: Choices) -> Choices | None:
        result = run(options, replay=candidate, keep_trace=False)
        if result.violation is not None and result.violation.property == target:
            return tuple(result.choices)
        return None

    outcome = shrink_choices(before.choices, test, max_runs=max_runs, progress=progress)
    after = run(options, replay=outcome.choices, keep_trace=True)
    if after.violation is None or after.violation.property != target:  # determinism bug
        raise RuntimeError(
            f"shrunk run no longer fails: property={target} fingerprint={after.fingerprint}"
        )
    return ShrinkResult(before=before, after=after, runs=outcome.runs,
                        exhausted=outcome.exhausted, interrupted=outcome.interrupted)
