"""Durable records: round trips, replay semantics, malformed input."""

from __future__ import annotations

import pytest

from consensus.raft.log import Members, RaftLog, decode_config, encode_config
from consensus.raft.records import (
    encode_checkpoint,
    encode_entry,
    encode_hard,
    encode_truncate,
    replay,
)


def test_replay_applies_hard_state_entries_and_truncation() -> None:
    state = replay([
        encode_hard(1, None), encode_entry(1, 1, b"a"), encode_entry(2, 1, b"b"),
        encode_entry(3, 1, b"c"), encode_hard(2, 0), encode_truncate(3),
        encode_entry(2, 2, b"B"),
    ])
    assert (state.term, state.voted_for) == (2, 0)
    assert list(state.log.items()) == [(1, 1, b"a"), (2, 2, b"B")]


def test_a_checkpoint_carries_the_snapshot_point_and_its_configuration() -> None:
    cfg = encode_config(Members((0, 1), (2,)))
    log = RaftLog(entries=[(1, b"a"), (2, b"B")])
    log.compact(1, 1, cfg, b"S")
    state = replay([encode_entry(1, 1, b"junk"), encode_checkpoint(2, 0, log)])
    assert list(state.log.items()) == [(2, 2, b"B")]
    assert (state.log.snap_index, state.log.snap_term, state.log.snapshot) == (1, 1, b"S")
    assert decode_config(state.log.snap_config) == Members((0, 1), (2,))


def test_checkpoint_records_rebuild_the_state_and_reset_what_came_before() -> None:
    state = replay([encode_hard(3, 1), encode_entry(1, 2, b"x"), encode_entry(2, 3, b"y")])
    again = replay([encode_entry(1, 1, b"junk"), *state.checkpoint_records()])
    assert again == state
    assert len(state.checkpoint_records()) == 1  # one record: a torn write keeps all or none
    empty = replay([encode_entry(1, 1, b"old"), encode_checkpoint(4, None, RaftLog())])
    assert (empty.term, empty.voted_for, empty.log.last_index) == (4, None, 0)


def test_records_kept_from_before_a_checkpoint_are_superseded_by_it() -> None:
    """The WAL keeps a segment that straddles a checkpoint: entries whose predecessors were
    dropped come first, then the checkpoint, then newer entries."""
    log = RaftLog(entries=[(1, bytes([i])) for i in range(1, 91)])
    log.compact(90, 1, b"cfg", b"S")
    state = replay([encode_entry(79, 1, b"old"), encode_entry(80, 1, b"old"),
                    encode_checkpoint(2, 1, log), encode_entry(91, 2, b"new")])
    assert (state.term, state.log.snap_index, state.log.last_index) == (2, 90, 91)
    # without a checkpoint after them, such entries are a gap: refused, never guessed at
    with pytest.raises(ValueError, match="gap"):
        replay([encode_entry(79, 1, b"old"), encode_entry(80, 1, b"old")])


@pytest.mark.parametrize("cut", [1, 5, 30, 45, 60])
def test_a_cut_checkpoint_record_is_refused(cut: int) -> None:
    log = replay([encode_entry(1, 1, b"x" * 20), encode_entry(2, 1, b"y" * 20)]).log
    log.compact(1, 1, b"cfg", b"data")
    data = encode_checkpoint(2, 1, log)
    assert replay([data]).log == log
    with pytest.raises(ValueError):
        replay([data[:-cut]])
    with pytest.raises(ValueError):
        replay([data + b"!"])


def test_compacting_at_a_disagreeing_term_replaces_the_log() -> None:
    log = RaftLog(entries=[(1, b"a"), (1, b"b")])
    log.compact(1, 5, b"", b"S")
    assert list(log.items()) == [] and log.last_index == 1


@pytest.mark.parametrize("bad", [
    b"", b"Z123", b"H\x00", b"E\x00\x00", b"X" + b"\x00" * 9, b"S\x00",
    encode_entry(5, 1, b"gap"),
    b"K\x00", b"S" + b"\x00" * 20,
])
def test_malformed_records_raise_value_error(bad: bytes) -> None:
    with pytest.raises(ValueError):
        replay([bad])


def test_config_commands_round_trip_and_reject_garbage() -> None:
    m = Members((1, 4, 7), (9,))
    assert decode_config(encode_config(m)) == m
    for bad in (b"plain", encode_config(m)[:-1]):
        with pytest.raises(ValueError):
            decode_config(bad)


def test_replay_starts_at_the_last_checkpoint_whatever_is_left_before_it() -> None:
    """A WAL drops whole segments only: the segment holding a checkpoint may start with entry
    records whose predecessors are gone. Those must not be replayed (they leave a gap)."""
    state = replay([encode_hard(3, 1), encode_entry(1, 2, b"x"), encode_entry(2, 3, b"y")])
    leftover = [encode_entry(29, 3, b"z"), encode_entry(30, 3, b"w")]  # 1..28 truncated away
    again = replay([*leftover, *state.checkpoint_records(), encode_entry(3, 3, b"v")])
    assert list(again.log.items()) == [(1, 2, b"x"), (2, 3, b"y"), (3, 3, b"v")]
    with pytest.raises(ValueError, match="gap"):
        replay(leftover)  # without a checkpoint after them, such records are refused
