"""The example protocol (`consensus.example`) on its own: a tiny in-memory group passing
effects, no simulator."""

from __future__ import annotations

from typing import Any

import pytest

from consensus import Timing
from consensus.effects import Apply, Persist, Reply, Send, ServeRead, SetTimer
from consensus.events import ClientRead, ClientWrite, Receive, Tick
from consensus.example import Ack, Append, ExampleReplica, make_replica


def _make(node: int, records: tuple[bytes, ...] = (), applied: int = 0,
          variant: str | None = None) -> ExampleReplica:
    return make_replica(node_id=node, members=(0, 1, 2), timing=Timing(), variant=variant,
                        choose=lambda label, n: 0, records=records, applied_slot=applied)


class Group:
    """Three replicas; sends are queued and delivered on request; WALs kept per node."""

    def __init__(self) -> None:
        self.r = {n: _make(n) for n in range(3)}
        self.wal: dict[int, list[bytes]] = {n: [] for n in range(3)}
        self.queue: list[tuple[int, int, Any]] = []
        self.out: dict[int, list[Any]] = {n: [] for n in range(3)}
        for n in range(3):
            self.step(n, Tick())

    def step(self, node: int, event: Any) -> list[Any]:
        effects = self.r[node].step(event, 0)
        for e in effects:
            if isinstance(e, Persist):
                self.wal[node].extend(e.records)
            elif isinstance(e, Send):
                self.queue.append((node, e.dst, e.msg))
        self.out[node].extend(effects)
        return effects

    def deliver_all(self, drop_to: int | None = None) -> None:
        while self.queue:
            src, dst, msg = self.queue.pop(0)
            if dst != drop_to:
                self.step(dst, Receive(src=src, msg=msg))


def test_write_commits_on_a_majority_and_is_acknowledged() -> None:
    g = Group()
    g.deliver_all()
    effects = g.step(0, ClientWrite(client_id=1, request_id=1, command=b"x"))
    assert isinstance(effects[0], Persist)  # durable before it is shipped
    assert not any(isinstance(e, Reply) for e in effects)  # one copy is not a majority
    g.deliver_all(drop_to=2)  # backup 2 hears nothing: 0 and 1 are a majority
    assert g.r[0].commit_index == 1
    assert Apply(slot=1, command=b"x") in g.out[0]
    assert Reply(client_id=1, request_id=1, slot=1) in g.out[0]
    assert g.r[2].log == []


def test_backup_refuses_writes_and_strong_reads_but_serves_eventual_ones() -> None:
    b = _make(1)
    b.step(Tick(), 0)
    (w,) = b.step(ClientWrite(client_id=1, request_id=1, command=b"x"), 0)
    assert isinstance(w, Reply) and w.error == "not-leader" and w.leader_hint == 0
    (s,) = b.step(ClientRead(client_id=1, request_id=2, key=b"k", strong=True), 0)
    assert isinstance(s, Reply) and s.error == "not-leader"
    (e,) = b.step(ClientRead(client_id=1, request_id=3, key=b"k", strong=False), 0)
    assert isinstance(e, ServeRead) and not e.strong
    assert not b.is_serving(0) and b.serving_window_us() is None


def test_stale_read_variant_lets_backups_serve_strong_reads() -> None:
    b = _make(1, variant="stale-read")
    (s,) = b.step(ClientRead(client_id=1, request_id=2, key=b"k", strong=True), 0)
    assert isinstance(s, ServeRead) and s.strong


def test_unknown_variant_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown variant 'nope'"):
        _make(0, variant="nope")


def test_recovered_leader_serves_nothing_until_its_log_is_applied() -> None:
    g = Group()
    g.deliver_all()
    g.step(0, ClientWrite(client_id=1, request_id=1, command=b"x"))
    g.deliver_all()
    leader = _make(0, records=tuple(g.wal[0]))  # restart: commit index unknown (0)
    assert leader.log == [b"x"] and leader.commit_index == 0
    assert not leader.is_serving(0)
    (r,) = leader.step(ClientRead(client_id=2, request_id=1, key=b"k", strong=True), 0)
    assert isinstance(r, Reply) and r.error == "not-leader"
    effects = leader.step(Tick(), 0)
    assert any(isinstance(e, Send) for e in effects) and isinstance(effects[-1], SetTimer)
    leader.step(Receive(src=1, msg=Ack(match=1)), 0)  # a majority holds entry 1 again
    assert leader.applied_index == 1 and leader.is_serving(0)


def test_backup_replays_a_replaced_suffix_from_its_records() -> None:
    b = _make(1)
    b.step(Receive(src=0, msg=Append(prev_index=0, entries=(b"a", b"b"), commit=0)), 0)
    effects = b.step(Receive(src=0, msg=Append(prev_index=1, entries=(b"c",), commit=2)), 0)
    assert b.log == [b"a", b"c"]
    records = tuple(r for e in effects if isinstance(e, Persist) for r in e.records)
    again = _make(1, records=(*_records(b"a", b"b"), *records))
    assert again.log == [b"a", b"c"]
    assert [e for e in effects if isinstance(e, Apply)] == [
        Apply(slot=1, command=b"a"), Apply(slot=2, command=b"c")
    ]


def _records(*commands: bytes) -> tuple[bytes, ...]:
    return tuple(b"E" + i.to_bytes(8, "big") + c for i, c in enumerate(commands, 1))


def test_append_beyond_the_log_is_answered_with_what_the_backup_has() -> None:
    b = _make(1)
    (ack,) = b.step(Receive(src=0, msg=Append(prev_index=5, entries=(b"z",), commit=6)), 0)
    assert isinstance(ack, Send) and ack.msg == Ack(match=0) and b.commit_index == 0


def test_clone_is_independent_and_fingerprints_follow_the_state() -> None:
    a = _make(0)
    a.step(Tick(), 0)
    c = a.clone()
    assert c.state_fingerprint() == a.state_fingerprint()
    c.step(ClientWrite(client_id=1, request_id=1, command=b"x"), 0)
    assert a.log == [] and c.log == [b"x"]
    assert c.state_fingerprint() != a.state_fingerprint()
    assert c.log_entries() == [(1, 0, b"x")]
