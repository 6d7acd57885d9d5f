from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.failures.shrink import (
    Labelled,
    decisions,
    flatten,
    labelled,
    shrink_choices,
    shrink_labelled,
    shrink_options,
    shrink_run,
    trim_zeros,
)
from harness.sim import run
from harness.sim.runspec import RunOptions
from tests.harness.failures.fakerun import failing_seeds, fake_run


def three_before_five(choices: Sequence[int]) -> bool:
    try:
        return 5 in choices[choices.index(3) + 1:]
    except ValueError:
        return False


class Recorder:
    """A shrink test function over a predicate, recording every candidate it was given."""

    def __init__(self, predicate: Callable[[Sequence[int]], bool]) -> None:
        self.predicate = predicate
        self.calls: list[tuple[int, ...]] = []

    def __call__(self, candidate: tuple[int, ...]) -> tuple[int, ...] | None:
        self.calls.append(candidate)
        return candidate if self.predicate(candidate) else None


@given(
    prefix=st.lists(st.integers(0, 20), max_size=30),
    middle=st.lists(st.integers(0, 20), max_size=30),
    suffix=st.lists(st.integers(0, 20), max_size=30),
)
def test_three_before_five_shrinks_to_minimal(
    prefix: list[int], middle: list[int], suffix: list[int]
) -> None:
    initial = [*prefix, 3, *middle, 5, *suffix]
    test = Recorder(three_before_five)
    outcome = shrink_choices(initial, test, max_runs=10_000)
    assert outcome.choices == (3, 5)
    assert not outcome.exhausted
    assert outcome.runs == len(test.calls)
    assert len(set(test.calls)) == len(test.calls)  # memo


def test_lowering_finds_smallest_failing_value() -> None:
    outcome = shrink_choices([0, 900, 0, 0], Recorder(lambda c: any(v >= 37 for v in c)))
    assert outcome.choices == (37,)


def test_budget_is_respected() -> None:
    initial = [*range(1, 200), 3, 5]
    test = Recorder(three_before_five)
    outcome = shrink_choices(initial, test, max_runs=7)
    assert outcome.runs == 7 == len(test.calls)
    assert outcome.exhausted
    assert three_before_five(outcome.choices)
    assert len(outcome.choices) < len(initial)


def test_zero_budget_keeps_input_trimmed() -> None:
    outcome = shrink_choices([3, 5, 0, 0], Recorder(three_before_five), max_runs=0)
    assert outcome.choices == (3, 5) and outcome.runs == 0


def test_a_longer_consumed_list_is_not_adopted() -> None:
    # every candidate "fails" but the run claims it consumed more than the current list
    def test(candidate: tuple[int, ...]) -> tuple[int, ...] | None:
        return (*candidate, 1, 1, 1, 1, 1, 1, 1, 1)

    outcome = shrink_choices([4, 4, 4], test, max_runs=100)
    assert outcome.choices == (4, 4, 4)


def test_trim_zeros() -> None:
    assert trim_zeros([0, 1, 0, 0]) == (0, 1)
    assert trim_zeros([0, 0]) == ()
    assert trim_zeros([]) == ()


@pytest.mark.parametrize("seed", failing_seeds(60)[:4])
def test_shrink_run_on_fake_simulator(seed: int) -> None:
    options = RunOptions(seed=seed)
    original = fake_run(options)
    assert original.violation is not None
    result = shrink_run(options, original.choices, run=fake_run, max_runs=300)
    assert result.before.fingerprint == original.fingerprint
    assert result.after.violation is not None
    assert result.after.violation.property == original.violation.property
    expected = (7, 7) if original.violation.property == "S1" else (0, 7, 7)
    assert trim_zeros(result.after.choices) == expected
    assert result.after.trace  # kept for the artifact
    assert result.after.steps <= original.steps


def test_shrink_run_refuses_a_passing_run() -> None:
    seed = next(s for s in range(50) if s not in failing_seeds(50))
    options = RunOptions(seed=seed)
    with pytest.raises(ValueError, match="does not fail"):
        shrink_run(options, fake_run(options).choices, run=fake_run)


def test_shrink_run_refuses_other_property() -> None:
    seed = failing_seeds(50)[0]
    options = RunOptions(seed=seed)
    with pytest.raises(ValueError, match="property=S99"):
        shrink_run(options, fake_run(options).choices, run=fake_run, prop="S99")


@given(
    initial=st.lists(st.integers(0, 50), min_size=1, max_size=40),
    budget=st.integers(0, 200),
    data=st.data(),
)
def test_result_always_fails_and_is_never_larger(
    initial: list[int], budget: int, data: st.DataObject
) -> None:
    threshold = data.draw(st.integers(0, sum(initial)))
    positions = data.draw(st.integers(1, 4))

    def predicate(choices: Sequence[int]) -> bool:  # fails iff enough weight in the first n
        return sum(choices[: positions * 4]) >= threshold

    if not predicate(initial):
        return
    test = Recorder(predicate)
    outcome = shrink_choices(initial, test, max_runs=budget)
    assert predicate(outcome.choices)
    assert outcome.runs == len(test.calls) <= budget
    trimmed = trim_zeros(initial)
    assert (len(outcome.choices), outcome.choices) <= (len(trimmed), trimmed)
    assert outcome.exhausted == (outcome.runs >= budget)


# -- per-label shrinking and options ----------------------------------------------------------

def _groups(**lists: list[int]) -> Labelled:
    return tuple((label, tuple(values)) for label, values in sorted(lists.items()))


def test_labelled_groups_and_flattens_canonically() -> None:
    groups = labelled([0, 5, 0, 2, 0], ["b", "a", "a", "b", "b"])
    assert groups == (("a", (5,)), ("b", (0, 2)))
    assert flatten(groups) == ((5, 0, 2), ("a", "b", "b"))
    assert decisions(groups) == 2
    assert labelled([0, 0], ["x", "y"]) == ()


def test_shrink_labelled_removes_a_noisy_label_whole_and_keeps_what_matters() -> None:
    noise = list(range(1, 60))
    initial = _groups(delay=noise, crash=[0, 0, 4, 0], op=[1, 2])

    def fails(groups: Labelled) -> Labelled | None:  # needs crash >= 3 somewhere
        return groups if any(v >= 3 for v in dict(groups).get("crash", ())) else None

    final, runs, exhausted = shrink_labelled(initial, fails, max_runs=500)
    assert final == _groups(crash=[3])
    assert not exhausted and runs < 100


@given(initial=st.dictionaries(st.sampled_from("abc"), st.lists(st.integers(0, 9), max_size=12)),
       budget=st.integers(0, 80), data=st.data())
def test_shrink_labelled_result_always_fails_and_is_never_larger(
    initial: dict[str, list[int]], budget: int, data: st.DataObject
) -> None:
    pairs = [(v, k) for k, vs in sorted(initial.items()) for v in vs]
    start = labelled([v for v, _ in pairs], [k for _, k in pairs])
    threshold = data.draw(st.integers(0, max(0, decisions(start))))

    def fails(groups: Labelled) -> Labelled | None:
        return groups if decisions(groups) >= threshold else None

    if fails(start) is None:
        return
    calls = []

    def counted(groups: Labelled) -> Labelled | None:
        calls.append(groups)
        return fails(groups)

    final, runs, _ = shrink_labelled(start, counted, max_runs=budget)
    assert fails(final) is not None
    assert runs == len(calls) <= budget
    assert decisions(final) <= decisions(start)
    assert len(set(calls)) == len(calls)  # never the same candidate twice


def test_shrink_options_finds_the_smallest_failing_workload_and_faults() -> None:
    seen: list[tuple[RunOptions, Labelled | None]] = []

    def needs(options: RunOptions, groups: Labelled | None) -> Labelled | None:
        seen.append((options, groups))
        ok = options.ops >= 7 and options.clients >= 2 and "pause" in options.faults
        return (groups or ()) if ok else None

    start = RunOptions(ops=1000, clients=5, keys=5, faults=("crash", "pause", "loss"))
    options, _, runs = shrink_options(start, (), needs, max_runs=200)
    assert (options.ops, options.clients, options.keys, options.faults) == (7, 2, 1, ("pause",))
    assert runs == len(seen) <= 200
    assert any(groups is None for _, groups in seen)  # a fresh draw was tried too


def test_shrink_options_keeps_its_budget() -> None:
    def never(options: RunOptions, groups: Labelled | None) -> Labelled | None:
        return None

    options, _, runs = shrink_options(RunOptions(), (), never, max_runs=9)
    assert runs == 9 and options == RunOptions()


def test_shrink_run_shrinks_the_options_of_a_real_failure() -> None:
    seed = next(s for s in range(200)
                if run(RunOptions(seed=s, ops=60, variant="stale-read")).violation)
    options = RunOptions(seed=seed, ops=60, variant="stale-read")
    before = run(options)
    result = shrink_run(options, before.choices, max_runs=120)
    after = result.after
    assert after.violation is not None and after.violation.property == "S8"
    assert result.options_changed
    assert len(after.options.faults) < len(options.faults) or after.options.ops < options.ops
    assert sum(1 for v in after.choices if v) < sum(1 for v in before.choices if v) / 4
    again = run(after.options, replay=after.choices, replay_labels=after.labels)
    assert again.fingerprint == after.fingerprint


def test_shrink_options_tries_fresh_short_runs_from_nearby_seeds() -> None:
    def short_run_of_seed_7(options: RunOptions, groups: Labelled | None) -> Labelled | None:
        if options.seed == 7 and groups is None and options.ops <= 60:
            return (("x", (1,)),)  # only a fresh short run of seed 7 fails
        return (groups or ()) if options.ops >= 900 else None

    start = RunOptions(seed=0, ops=1000, faults=())
    options, groups, _ = shrink_options(start, (("x", (5,)),), short_run_of_seed_7,
                                        max_runs=200)
    assert (options.seed, groups) == (7, (("x", (1,)),))
    assert options.ops == 1  # and from there the workload shrank further
