"""KV state machine: command encoding, semantics, idempotence, dedup, checksum, snapshots."""

from __future__ import annotations

import random

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage import SimDisk
from storage.kv import Command, KVStore, Result, _fields, _parse, command_key


def kv() -> KVStore:
    return KVStore.open(SimDisk(), fanout=4)


def run(store: KVStore, *cmds: Command) -> list[Result]:
    return [store.apply(store.applied_lsn + 1, c.encode()) for c in cmds]


COMMANDS = st.builds(
    lambda op, key, value, expected, client, request: Command(
        op=op,
        key=key,
        value=b"" if op == "delete" else value,
        expected=expected if op == "cas" else None,
        client_id=client,
        request_id=request,
    ),
    st.sampled_from(["put", "delete", "cas", "append"]),
    st.binary(max_size=4),
    st.binary(max_size=8),
    st.none() | st.binary(max_size=3),
    st.integers(0, 2**64 - 1),
    st.integers(0, 2**64 - 1),
)


@given(COMMANDS)
def test_command_round_trips_and_encoding_is_deterministic(cmd: Command) -> None:
    data = cmd.encode()
    assert Command.decode(data) == cmd
    assert Command.decode(data).encode() == data


@given(COMMANDS, st.data())
def test_damaged_command_bytes_raise_value_error_or_decode_validly(
    cmd: Command, data: st.DataObject
) -> None:
    raw = bytearray(cmd.encode())
    cut = data.draw(st.integers(0, len(raw) - 1))
    with pytest.raises(ValueError):
        Command.decode(bytes(raw[:cut]))
    with pytest.raises(ValueError):
        Command.decode(bytes(raw) + b"x")
    raw[0] = data.draw(st.sampled_from([0, 5, 0x7F, 0x85]))
    with pytest.raises(ValueError):
        Command.decode(bytes(raw))


def test_command_rejects_bad_fields() -> None:
    with pytest.raises(ValueError, match="op"):
        Command(op="incr", key=b"k")
    with pytest.raises(ValueError, match="only cas takes expected"):
        Command(op="put", key=b"k", expected=b"x")
    with pytest.raises(ValueError, match="delete takes no value"):
        Command(op="delete", key=b"k", value=b"x")
    with pytest.raises(ValueError, match="client_id"):
        Command(op="put", key=b"k", client_id=-1)
    with pytest.raises(TypeError, match="key"):
        Command(op="put", key="k")  # type: ignore[arg-type]
    assert len(Command(op="put", key=b"k", value=b"v").encode()) == 25 + 2


def test_put_delete_append_semantics() -> None:
    s = kv()
    assert run(s, Command(op="put", key=b"a", value=b"1")) == [Result(ok=True, value=None)]
    assert s.get(b"a") == b"1"
    assert run(s, Command(op="append", key=b"a", value=b"23")) == [Result(True, b"123")]
    assert run(s, Command(op="append", key=b"n", value=b"x")) == [Result(True, b"x")]
    assert run(s, Command(op="delete", key=b"a")) == [Result(True, None)]
    assert run(s, Command(op="delete", key=b"a")) == [Result(True, None)]
    assert s.get(b"a") is None
    assert list(s.scan()) == [(b"n", b"x")]
    assert s.applied_lsn == 5


def test_cas_semantics() -> None:
    s = kv()
    absent = Command(op="cas", key=b"k", value=b"v1", expected=None)
    assert run(s, absent) == [Result(True, b"v1")]  # None expects "absent"
    assert run(s, absent) == [Result(False, b"v1")]
    assert run(s, Command(op="cas", key=b"k", value=b"v2", expected=b"v0")) == [
        Result(False, b"v1")
    ]
    assert s.get(b"k") == b"v1"
    assert run(s, Command(op="cas", key=b"k", value=b"v2", expected=b"v1")) == [
        Result(True, b"v2")
    ]
    assert run(s, Command(op="cas", key=b"q", value=b"x", expected=b"")) == [Result(False, None)]
    assert s.get(b"q") is None


def test_noop_and_undecodable_only_advance_applied_lsn() -> None:
    s = kv()
    run(s, Command(op="put", key=b"a", value=b"1"))
    before = s.checksum()
    assert s.apply(2, b"") == Result(ok=True, value=None)
    assert s.apply(3, b"\x09garbage") == Result(ok=False, value=None)
    assert (s.applied_lsn, s.checksum(), list(s.scan())) == (3, before, [(b"a", b"1")])


def test_reapplying_old_lsn_changes_nothing_and_returns_cached_result() -> None:
    s = kv()
    put = Command(op="append", key=b"a", value=b"x").encode()
    assert s.apply(1, put) == Result(True, b"x")
    assert s.apply(1, put) == Result(True, b"x")
    assert s.apply(1, Command(op="put", key=b"z", value=b"").encode()) == Result(True, b"x")
    assert s.get(b"a") == b"x" and s.get(b"z") is None
    for lsn in range(2, 1100):
        s.apply(lsn, b"")
    assert s.apply(1, put) == Result(ok=True, value=None)  # no longer cached
    assert s.get(b"a") == b"x"


def test_gap_raises() -> None:
    s = kv()
    with pytest.raises(ValueError, match="lsn=2 applied_lsn=0"):
        s.apply(2, b"")
    assert s.applied_lsn == 0


def test_retried_request_applies_at_most_once() -> None:
    s = kv()
    first = Command(op="append", key=b"a", value=b"x", client_id=7, request_id=1)
    assert run(s, first, first) == [Result(True, b"x"), Result(True, b"x")]
    assert s.get(b"a") == b"x"
    other = Command(op="append", key=b"a", value=b"y", client_id=8, request_id=1)
    second = Command(op="append", key=b"a", value=b"z", client_id=7, request_id=2)
    assert run(s, other, second, first) == [
        Result(True, b"xy"),
        Result(True, b"xyz"),
        Result(True, None),  # older than the client's latest: not applied, result unknown
    ]
    no_dedup = Command(op="append", key=b"a", value=b"!", client_id=7, request_id=0)
    run(s, no_dedup, no_dedup)
    assert s.get(b"a") == b"xyz!!"


def test_checksum_is_order_independent_and_content_sensitive() -> None:
    items = [(b"k%d" % i, b"v%d" % i) for i in range(200)]
    a, b = kv(), kv()
    run(a, *(Command(op="put", key=k, value=v) for k, v in items))
    shuffled = items[:]
    random.Random(3).shuffle(shuffled)
    run(b, Command(op="put", key=b"gone", value=b"x"))
    run(b, *(Command(op="put", key=k, value=b"old") for k, _ in shuffled[:50]))
    run(b, *(Command(op="put", key=k, value=v) for k, v in shuffled))
    run(b, Command(op="delete", key=b"gone"))
    assert a.checksum() == b.checksum() == a.recompute_checksum()
    run(b, Command(op="put", key=b"k1", value=b"v2"))
    assert a.checksum() != b.checksum()
    run(b, Command(op="put", key=b"k1", value=b"v1"))
    assert a.checksum() == b.checksum()
    run(b, Command(op="put", key=b"k1v", value=b""))  # key/value boundary matters
    assert a.checksum() != b.checksum() == b.recompute_checksum()
    assert kv().checksum() == "0" * 32


def test_snapshot_round_trip_includes_dedup_table() -> None:
    src = kv()
    for i in range(300):
        run(src, Command(op="put", key=b"%03d" % i, value=b"x" * (i % 7), client_id=i % 5,
                         request_id=i // 5 + 1))
    snap = src.snapshot()
    dst = kv()
    run(dst, Command(op="put", key=b"stale", value=b"s"))
    dst.install_snapshot(snap, src.applied_lsn)
    assert list(dst.scan()) == list(src.scan())
    assert dst.checksum() == src.checksum() == dst.recompute_checksum()
    assert dst.applied_lsn == src.applied_lsn == 300
    retry = Command(op="put", key=b"299", value=b"again", client_id=4, request_id=60)
    assert dst.apply(301, retry.encode()) == Result(True, None)
    assert dst.get(b"299") == src.get(b"299")  # deduplicated on the new replica too
    dst.checkpoint()
    assert dst.snapshot() != snap  # applied_lsn moved on


def test_install_snapshot_rejects_damage_and_wrong_lsn() -> None:
    src = kv()
    run(src, Command(op="put", key=b"a", value=b"1"))
    snap = src.snapshot()
    dst = kv()
    run(dst, Command(op="put", key=b"mine", value=b"m"))
    with pytest.raises(ValueError, match="not for this lsn"):
        dst.install_snapshot(snap, 2)
    damaged = bytearray(snap)
    damaged[20] ^= 1
    with pytest.raises(ValueError, match="checksum"):
        dst.install_snapshot(bytes(damaged), 1)
    run(dst, Command(op="put", key=b"more", value=b"m"))
    with pytest.raises(ValueError, match="go back"):
        dst.install_snapshot(snap, 1)
    assert dict(dst.scan()) == {b"mine": b"m", b"more": b"m"}


def test_checkpoint_and_reopen_keeps_state_dedup_and_checksum() -> None:
    disk = SimDisk()
    s = KVStore.open(disk)
    retried = Command(op="append", key=b"a", value=b"x", client_id=1, request_id=9)
    run(s, retried, Command(op="put", key=b"b", value=b"2"))
    s.checkpoint()
    run(s, Command(op="put", key=b"lost", value=b""))
    disk.crash()
    again = KVStore.open(disk)
    assert (again.applied_lsn, again.checkpoint_lsn) == (2, 2)
    assert again.checksum() == again.recompute_checksum()
    assert again.get(b"lost") is None
    assert again.apply(3, retried.encode()) == Result(True, b"x")
    assert again.get(b"a") == b"x"


def _decoded_or_error(data: bytes) -> tuple[int, bytes, bytes, bytes | None, int, int] | str:
    try:
        cmd = Command.decode(data)
    except ValueError:
        return "error"
    return _fields(cmd)


@given(COMMANDS, st.data())
def test_fast_parse_agrees_with_command_decode(cmd: Command, data: st.DataObject) -> None:
    raw = bytearray(cmd.encode())
    assert _parse(bytes(raw)) == _fields(cmd)
    # damage: cut, extend, change the op code or a length field
    i = data.draw(st.integers(0, len(raw) - 1))
    raw[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw) + 2))
    damaged = bytes(raw[:cut]) + b"x" * max(0, cut - len(raw))
    want = _decoded_or_error(damaged)
    got = _parse(damaged)
    assert (got if got is not None else "error") == want


@given(COMMANDS)
def test_command_key_is_the_decoded_key(cmd: Command) -> None:
    data = cmd.encode()
    assert command_key(data) == cmd.key
    with pytest.raises(ValueError):
        command_key(data[:-1])


def test_fast_parse_rejects_what_command_rules_forbid() -> None:
    put = Command(op="put", key=b"k", value=b"v").encode()
    with_expected = bytes([1 | 0x80]) + put[1:25] + b"\x00\x00\x00\x00" + put[25:]
    delete_with_value = bytes([2]) + put[1:]
    for data in (with_expected, delete_with_value, b"\x05" + put[1:], put[:24]):
        assert _parse(data) is None
        assert _decoded_or_error(data) == "error"


@given(st.lists(COMMANDS, max_size=40), st.integers(0, 40))
def test_incremental_checksum_matches_recomputed_through_snapshot_and_reopen(
    cmds: list[Command], split: int
) -> None:
    disk = SimDisk()
    s = KVStore.open(disk, fanout=4)
    keyed = [attrs.evolve(c, key=c.key[:1]) for c in cmds]  # few keys: many overwrites
    run(s, *keyed[:split])
    s.checkpoint()
    again = KVStore.open(disk, fanout=4)  # no digests cached: computed on demand
    copy = kv()
    copy.install_snapshot(s.snapshot(), s.applied_lsn)
    for store in (s, again, copy):
        run(store, *keyed[split:])
        assert store.checksum() == store.recompute_checksum()
    assert s.checksum() == again.checksum() == copy.checksum()


@given(st.lists(st.lists(COMMANDS.map(lambda c: attrs.evolve(c, client_id=c.client_id % 3)),
                         max_size=6), max_size=5))
def test_checkpoint_meta_reuses_only_unchanged_sessions(batches: list[list[Command]]) -> None:
    # A store keeps each session's encoding between checkpoints; every checkpoint's meta must
    # still be exactly the fresh encoding of the checksum and the dedup table at that moment,
    # and reopening from it must give that table back.
    from storage.kv import _decode_meta, _encode_meta

    disk = SimDisk()
    s = KVStore.open(disk, fanout=4)
    for batch in batches:
        run(s, *batch)
        s.checkpoint()
        assert s._tree.meta == _encode_meta(s._sum, s._sessions)
        assert _decode_meta(s._tree.meta) == (s._sum, s._sessions)
    again = KVStore.open(disk, fanout=4)
    assert again._sessions == s._sessions and again.checksum() == s.checksum()
