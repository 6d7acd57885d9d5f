"""Durable records: encoding round trips, replay, checkpoints."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus.ballot import Ballot, Entry
from consensus.records import (
    AcceptRecord,
    CheckpointRecord,
    CommitRecord,
    ConfigRecord,
    DurableRecord,
    PromiseRecord,
    SnapshotRecord,
    decode_record,
    encode_record,
    replay,
)

ballots = st.builds(Ballot, st.integers(0, 2**40), st.integers(0, 2**31))
records: st.SearchStrategy[DurableRecord] = st.one_of(
    st.builds(PromiseRecord, ballots),
    st.builds(AcceptRecord, st.integers(1, 2**40), ballots, st.binary(max_size=20)),
    st.builds(CommitRecord, st.integers(0, 2**40)),
    st.builds(SnapshotRecord, st.integers(1, 2**40), st.binary(max_size=20)),
    st.builds(CheckpointRecord, ballots, st.integers(0, 99), st.integers(0, 99),
              st.binary(max_size=20), st.integers(0, 99), st.binary(max_size=9),
              st.lists(st.tuples(st.integers(1, 2**40), ballots, st.binary(max_size=9)),
                       max_size=3).map(tuple)),
)


@given(records)
def test_round_trip(record: DurableRecord) -> None:
    assert decode_record(encode_record(record)) == record


@pytest.mark.parametrize("data", [b"", b"Z123", b"P\x00", b"C" + b"\x00" * 9, b"A\x00\x01"])
def test_bad_records_raise(data: bytes) -> None:
    with pytest.raises(ValueError):
        decode_record(data)


def test_replay_builds_state_and_checkpoint_replaces_it() -> None:
    b1, b2 = Ballot(1, 1), Ballot(2, 3)
    recs: list[DurableRecord] = [
        PromiseRecord(b1),
        AcceptRecord(1, b1, b"x"),
        AcceptRecord(2, b1, b"y"),
        PromiseRecord(b2),
        AcceptRecord(2, b2, b"z"),
        CommitRecord(2),
        SnapshotRecord(1, b"snap"),
    ]
    state = replay(encode_record(r) for r in recs)
    assert state.promised == b2
    assert state.accepted == {2: Entry(b2, b"z")}
    assert state.commit_hint == 2
    assert (state.snapshot_slot, state.snapshot) == (1, b"snap")
    again = replay(encode_record(r) for r in state.checkpoint_records())
    assert again == state
    # a checkpoint discards everything before it
    later = replay(encode_record(r) for r in [*recs, *state.checkpoint_records()])
    assert later == state


def test_promise_never_goes_backwards_in_replay() -> None:
    state = replay(encode_record(r) for r in [PromiseRecord(Ballot(5, 1)),
                                              PromiseRecord(Ballot(3, 2))])
    assert state.promised == Ballot(5, 1)


def test_a_checkpoint_is_one_record_holding_the_whole_state() -> None:
    """A crash inside the checkpoint's fsync keeps it whole or drops it (the WAL's checksum):
    a checkpoint split over records could be torn after its head, forgetting the configuration
    and the accepted entries above the snapshot."""
    b1 = Ballot(1, 1)
    before: list[DurableRecord] = [
        PromiseRecord(b1),
        AcceptRecord(1, b1, b"x"),
        AcceptRecord(2, b1, b"y"),
        SnapshotRecord(1, b"snap"),
        ConfigRecord(1, b"cfg"),
    ]
    state = replay(encode_record(r) for r in before)
    (checkpoint,) = state.checkpoint_records()
    assert replay([encode_record(checkpoint)]) == state
    assert state.config == b"cfg" and state.accepted == {2: Entry(b1, b"y")}
    raw = encode_record(checkpoint)
    for cut in range(1, 1 + 48 + len(b"cfg")):  # short of its header, configuration or entries
        with pytest.raises(ValueError):
            decode_record(raw[:cut])
