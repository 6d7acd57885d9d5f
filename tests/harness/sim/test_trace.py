"""harness.sim.trace: the compact fingerprint records and when lines are built."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import attrs

from consensus.ballot import Ballot
from consensus.effects import Apply, Persist, Reply, Send, ServeRead, SetTimer
from consensus.events import ClientRead, Receive, Tick
from consensus.messages import Accept, Accepted
from harness.sim import simulate
from harness.sim.runspec import RunOptions
from harness.sim.trace import (
    _EFFECT_ENCODERS,
    Trace,
    _render_effects,
    _render_event,
    encode_event,
    summarize,
)

B = Ballot(2, 1)
ACCEPT = Accept(ballot=B, first_slot=3, commands=(b"x",), commit_index=2, stamp_us=77)
EFFECTS = [
    Persist(records=(b"A1", b"A2")),
    Send(dst=2, msg=Accepted(ballot=B, first_slot=3, last_slot=3, stamp_us=77)),
    Apply(slot=3, command=b"x"),
    Reply(client_id=1, request_id=4, slot=3),
    ServeRead(client_id=1, request_id=5, key=b"k", strong=True),
    SetTimer(at_us=900),
]


def _steps(trace: Trace, events: list[tuple[int, int, object]]) -> Trace:
    trace.add("0 options {}")
    for now, node, event in events:
        trace.step(now, node, event, EFFECTS)
    return trace


EVENTS: list[tuple[int, int, object]] = [
    (10, 0, Tick()),
    (20, 1, Receive(src=0, msg=ACCEPT)),
    (30, 2, ClientRead(client_id=1, request_id=5, key=b"k", strong=True)),
]


def test_events_encode_as_class_name_and_fields() -> None:
    assert encode_event(Tick()) == ("Tick",)
    fields = tuple(getattr(ACCEPT, f.name) for f in attrs.fields(Accept))
    assert fields[:5] == (B, 3, (b"x",), 2, 77)
    assert encode_event(Receive(src=0, msg=ACCEPT)) == ("Receive", 0, ("Accept", *fields))


def test_lines_keep_the_readable_format() -> None:
    trace = _steps(Trace(), EVENTS)
    assert trace.lines[0] == "1 0 options {}"
    assert trace.lines[2] == f"3 20 n1 {Receive(src=0, msg=ACCEPT)!r} -> {summarize(EFFECTS)}"
    assert summarize(EFFECTS) == (
        "persist2 send>2 apply3 reply1.4:3 read1.5s timer@900"
    )
    assert trace.steps == 4


def test_fingerprint_ignores_keep_until_and_batching() -> None:
    full = _steps(Trace(), EVENTS * 400).fingerprint()
    assert _steps(Trace(keep=False), EVENTS * 400).fingerprint() == full
    prefix = _steps(Trace(until=2), EVENTS * 400)
    assert prefix.fingerprint() == full and len(prefix.lines) == 2
    # Asking for the fingerprint midway (a flush) does not change the final one.
    midway = Trace()
    _steps(midway, EVENTS * 200)
    midway.fingerprint()
    for now, node, event in EVENTS * 200:
        midway.step(now, node, event, EFFECTS)
    assert midway.fingerprint() == full
    assert Trace(keep=False).lines == [] and not _steps(Trace(keep=False), EVENTS).lines


def test_fingerprint_sees_every_part_of_a_step() -> None:
    base = _steps(Trace(), EVENTS).fingerprint()
    changed_msg = attrs.evolve(ACCEPT, stamp_us=78)
    variants = [
        [(11, 0, Tick()), *EVENTS[1:]],  # time
        [(10, 1, Tick()), *EVENTS[1:]],  # node
        [EVENTS[0], (20, 1, Receive(src=0, msg=changed_msg)), EVENTS[2]],  # message body
        [EVENTS[0], (20, 1, Receive(src=2, msg=ACCEPT)), EVENTS[2]],  # sender
    ]
    prints = {_steps(Trace(), v).fingerprint() for v in variants}
    assert base not in prints and len(prints) == len(variants)
    other = Trace()
    other.add("0 options {}")
    for now, node, event in EVENTS:
        other.step(now, node, event, [*EFFECTS[:-1], SetTimer(at_us=901)])  # an effect
    assert other.fingerprint() != base


class _CheckingTrace(Trace):
    """A trace that also holds the rendered record text to ``repr`` of the encoded record."""

    def __init__(self) -> None:
        super().__init__(keep=False)
        self.kinds: set[str] = set()

    def step(self, true_us: int, node: int, event: Any, effects: Sequence[Any]) -> int:
        encoded = encode_event(event)
        assert _render_event(event) == repr(encoded)
        summary = tuple(_EFFECT_ENCODERS.get(type(e), repr)(e) for e in effects)
        assert (_render_effects(effects) if effects else "()") == repr(summary)
        self.kinds.add(type(event.msg if type(event) is Receive else event).__name__)
        return super().step(true_us, node, event, effects)


class _Plain:
    def __repr__(self) -> str:
        return "plain 'quoted' \"text\""


@attrs.frozen
class _One:
    value: Any


def test_rendered_records_are_the_repr_of_the_encoded_ones() -> None:
    odd_events = [Tick(), _Plain(), _One(None), _One("it's"), _One(b"\x00'\"")]
    odd_effects: list[list[Any]] = [[], [_Plain()], [SetTimer(at_us=1)], EFFECTS]
    checking = _CheckingTrace()
    for event in odd_events:
        for effects in odd_effects:
            checking.step(1, 0, event, effects)
    for seed in range(3):
        simulate(RunOptions(seed=seed, ops=150, replicas=5, clients=10), trace=checking)
    # the run exercised the protocol's messages, not only client requests
    assert {"Accept", "Accepted", "ClientWrite", "Prepare", "Promise"} <= checking.kinds
    # and the hashed text is what hashing the tuples' repr gives
    expected = hashlib.blake2b(digest_size=16)
    trace = Trace(keep=False)
    trace.add("0 it's")
    expected.update(repr((1, "0 it's")).encode() + b"\n")
    for i, (now, node, event) in enumerate(EVENTS, start=2):
        trace.step(now, node, event, EFFECTS)
        summary = tuple(_EFFECT_ENCODERS[type(e)](e) for e in EFFECTS)
        record = (i, now, node, encode_event(event), summary)
        expected.update(repr(record).encode() + b"\n")
    assert trace.fingerprint() == expected.hexdigest()
