"""The chooser: the one source of every random decision in a run.

A run draws all its randomness here, each draw under a label (``"net.drop"``,
``"nemesis.crash.node"``). In *seeded* mode each label has its own stream, derived from the
root seed by blake2b (never Python's ``hash()``), so adding a decision under a new label
leaves every other stream as it was. Every draw is recorded, so the list of choices is a
complete description of the run: a *replaying* chooser returns those values in order and the
run repeats bit for bit.

Choice 0 is always the nominal path (deliver, no fault, shortest delay, first candidate).
A replayed list that runs out continues with 0s, and a value too large for its draw is
clamped. So any list of ints is a valid run, and shrinking a list (deleting entries, lowering
values) moves the run toward fewer faults: this is what `paxlab shrink` and hypothesis do.

A replay can also be given per label (``replay_labels``, the label of each entry): then the
n-th draw under a label gets the n-th recorded value *of that label*, whatever was drawn under
other labels before it. The run repeats exactly the same when nothing changed, and when a
shrinker zeroes every network delay, the fault decisions still meet the draws they were made
for instead of sliding onto other decisions. `paxlab shrink` relies on this.

Example::

    c = Chooser(seed=7)
    if c.chance("net.drop", 0.01):   # True (recorded 1) means: drop the message
        ...
    delay_us = 500 + c.choose("net.delay", 1000)   # 0 means: the base delay
    again = Chooser.replaying(c.choices)           # same answers, in the same order
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence


def derive_seed(seed: int, label: str) -> int:
    """Return a 64-bit seed for the sub-stream ``label`` of root ``seed`` (stable everywhere)."""
    digest = hashlib.blake2b(f"{seed}\x00{label}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class Chooser:
    """Records (seeded mode) or replays (replay mode) the choices of one run.

    Attributes:
        seed: the root seed (kept in replay mode too, for reports).
        choices: every value returned so far, in order.
        labels: the label of each entry of ``choices`` (same length), for traces and reports.
    """

    def __init__(
        self,
        seed: int,
        *,
        replay: Sequence[int] | None = None,
        replay_labels: Sequence[str] | None = None,
    ) -> None:
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise TypeError(f"seed must be an int, got seed={seed!r}")
        self.seed = seed
        self.choices: list[int] = []
        self.labels: list[str] = []
        self._replay: list[int] | None = None if replay is None else [int(v) for v in replay]
        # Per-label replay: label -> its recorded values, reversed (the next one is last).
        self._by_label: dict[str, list[int]] | None = None
        if replay_labels is not None:
            if replay is None or len(replay_labels) != len(replay):
                raise ValueError(
                    "replay_labels needs replay of the same length, got "
                    f"labels={len(replay_labels)} choices={0 if replay is None else len(replay)}"
                )
            by_label: dict[str, list[int]] = {}
            for label, value in zip(replay_labels, self._replay or (), strict=True):
                by_label.setdefault(label, []).append(value)
            for values in by_label.values():
                values.reverse()
            self._by_label = by_label
        self._streams: dict[str, random.Random] = {}
        # label -> the stream's bound getrandbits / random (the hot path skips _stream).
        self._bits: dict[str, Callable[[int], int]] = {}
        self._floats: dict[str, Callable[[], float]] = {}

    @classmethod
    def replaying(cls, choices: Sequence[int], *, seed: int = 0) -> Chooser:
        """Return a chooser that answers with ``choices`` in order, then with 0s."""
        if any(v < 0 for v in choices):
            raise ValueError("choices must be non-negative integers")
        return cls(seed, replay=choices)

    @property
    def replaying_mode(self) -> bool:
        """Whether this chooser replays a given list instead of drawing from the seed."""
        return self._replay is not None

    def _stream(self, label: str) -> random.Random:
        stream = self._streams.get(label)
        if stream is None:
            stream = random.Random(derive_seed(self.seed, label))
            self._streams[label] = stream
        return stream

    def _replayed(self, label: str) -> int:
        """The next replayed value for a draw under ``label`` (0 once the list runs out)."""
        by_label = self._by_label
        if by_label is not None:
            values = by_label.get(label)
            return values.pop() if values else 0
        assert self._replay is not None
        i = len(self.choices)
        return self._replay[i] if i < len(self._replay) else 0

    def _record(self, label: str, value: int) -> int:
        self.choices.append(value)
        self.labels.append(label)
        return value

    def choose(self, label: str, n: int) -> int:
        """Return an int in ``[0, n)``; 0 is the nominal choice.

        Seeded mode draws uniformly: the same value as ``random.Random.randrange(n)`` on the
        label's stream (rejection sampling over ``getrandbits``, inlined for speed).
        ``n == 1`` returns 0 and records nothing (there is no decision), so lists stay
        short; ``n < 1`` raises ValueError.
        """
        if n <= 1:
            if n < 1:
                raise ValueError(f"choose needs n >= 1, got n={n} for label={label!r}")
            return 0
        if self._replay is not None:
            return self._record(label, min(self._replayed(label), n - 1))
        bits = self._bits.get(label)
        if bits is None:
            bits = self._bits[label] = self._stream(label).getrandbits
        k = n.bit_length()
        value = bits(k)
        while value >= n:
            value = bits(k)
        self.choices.append(value)
        self.labels.append(label)
        return value

    def chance(self, label: str, p: float) -> bool:
        """Return True (recorded as 1: the fault happens) with probability ``p``.

        ``p <= 0`` returns False and records nothing; False is the nominal path.
        """
        if p <= 0.0:
            return False
        if self._replay is not None:
            return bool(self._record(label, 1 if self._replayed(label) else 0))
        draw = self._floats.get(label)
        if draw is None:
            draw = self._floats[label] = self._stream(label).random
        hit = draw() < p
        self.choices.append(1 if hit else 0)
        self.labels.append(label)
        return hit
