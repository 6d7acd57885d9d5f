"""The chooser: seeded streams are stable, replay repeats answers, 0 is the nominal path."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.runtime.chooser import Chooser, derive_seed


def _draw(c: Chooser) -> list[object]:
    return [
        c.choose("a", 10),
        c.chance("drop", 0.5),
        c.choose("b", 1000),
        c.chance("drop", 0.5),
        c.choose("a", 3),
    ]


def test_same_seed_same_answers() -> None:
    assert _draw(Chooser(42)) == _draw(Chooser(42))


def test_different_seeds_differ() -> None:
    answers = {tuple(_draw(Chooser(seed))) for seed in range(20)}
    assert len(answers) > 10


def test_derive_seed_is_stable_across_processes() -> None:
    # blake2b, not hash(): this value must never change, or old artifacts stop replaying.
    assert derive_seed(1, "net.drop") == derive_seed(1, "net.drop")
    assert derive_seed(1, "net.drop") != derive_seed(2, "net.drop")
    assert derive_seed(1, "net.drop") != derive_seed(1, "net.delay")


def test_streams_are_independent_per_label() -> None:
    a = Chooser(5)
    b = Chooser(5)
    b.choose("other", 100)  # an extra draw under another label...
    # ...leaves the stream of "x" as it was.
    assert [a.choose("x", 1000) for _ in range(5)] == [b.choose("x", 1000) for _ in range(5)]


def test_replay_repeats_and_records() -> None:
    original = Chooser(9)
    answers = _draw(original)
    again = Chooser.replaying(original.choices)
    assert _draw(again) == answers
    assert again.choices == original.choices
    assert again.labels == original.labels


def test_replay_runs_out_into_nominal_and_clamps() -> None:
    c = Chooser.replaying([7, 5])
    assert c.choose("x", 3) == 2  # clamped to n - 1
    assert c.chance("y", 0.1) is True  # any non-zero value means the fault happens
    assert c.choose("z", 100) == 0  # list exhausted: nominal path
    assert c.chance("w", 0.9) is False
    assert c.choices == [2, 1, 0, 0]


def test_trivial_draws_record_nothing() -> None:
    c = Chooser(1)
    assert c.choose("only", 1) == 0
    assert c.chance("never", 0.0) is False
    assert c.choices == []


@pytest.mark.parametrize("bad", [0, -3])
def test_choose_rejects_empty_range(bad: int) -> None:
    with pytest.raises(ValueError, match="n >= 1"):
        Chooser(0).choose("x", bad)


def test_seed_must_be_int() -> None:
    with pytest.raises(TypeError, match="seed must be an int"):
        Chooser("7")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-negative"):
        Chooser.replaying([1, -1])


@given(st.lists(st.integers(min_value=0, max_value=50), max_size=30), st.integers(1, 60))
def test_any_list_is_a_valid_run(choices: list[int], n: int) -> None:
    c = Chooser.replaying(choices)
    for _ in range(len(choices) + 3):
        assert 0 <= c.choose("x", n) < n


@given(seed=st.integers(0, 2**32), sizes=st.lists(st.integers(2, 2**40), min_size=1, max_size=30))
def test_seeded_draws_are_randrange_on_the_label_stream(seed: int, sizes: list[int]) -> None:
    """The inlined draw must stay exactly `random.Random.randrange`, or old seeds change."""
    import random

    c = Chooser(seed)
    reference = random.Random(derive_seed(seed, "x"))
    assert [c.choose("x", n) for n in sizes] == [reference.randrange(n) for n in sizes]
    floats = random.Random(derive_seed(seed, "p"))
    assert [c.chance("p", 0.3) for _ in sizes] == [floats.random() < 0.3 for _ in sizes]


def _draws(chooser: Chooser) -> list[tuple[str, int]]:
    """A fixed program of draws under three labels, interleaved."""
    out = []
    for i in range(30):
        label = ("net.delay", "nemesis.crash", "workload.op")[i % 3]
        out.append((label, chooser.choose(label, 50)))
    return out


def test_replay_per_label_repeats_a_seeded_run() -> None:
    seeded = Chooser(seed=11)
    first = _draws(seeded)
    again = Chooser(11, replay=seeded.choices, replay_labels=seeded.labels)
    assert _draws(again) == first


def test_replay_per_label_keeps_other_labels_in_place() -> None:
    seeded = Chooser(seed=3)
    first = _draws(seeded)
    # zero every net.delay and drop half of them: the other labels' draws keep their values
    pairs = [(label, v) for label, v in zip(seeded.labels, seeded.choices, strict=True)
             if label != "net.delay"] + [("net.delay", 0)] * 5
    again = Chooser(3, replay=[v for _, v in pairs], replay_labels=[lab for lab, _ in pairs])
    second = _draws(again)
    assert [d for d in second if d[0] != "net.delay"] == [d for d in first if d[0] != "net.delay"]
    assert all(v == 0 for label, v in second if label == "net.delay")
    # positional replay of the same list would have slid the values onto other draws
    positional = _draws(Chooser(3, replay=[v for _, v in pairs]))
    assert positional != second


def test_replay_labels_must_match_the_choices() -> None:
    with pytest.raises(ValueError, match="replay_labels needs replay of the same length"):
        Chooser(0, replay=[1, 2], replay_labels=["a"])
    with pytest.raises(ValueError, match="replay_labels needs replay"):
        Chooser(0, replay_labels=["a"])
