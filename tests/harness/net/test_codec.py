"""The wire codec: every consensus message type round-trips to an equal object (parity with
the simulated network, which hands the replica the objects themselves), the tables name every
field, and malformed bytes raise CodecError and nothing else."""

from __future__ import annotations

import contextlib
import random

import attrs
import pytest

from consensus import messages as m
from consensus.ballot import Ballot
from consensus.raft import messages as rm
from harness.net.codec import (
    MESSAGE_FIELDS,
    ClientReply,
    ClientRequest,
    CodecError,
    decode_message,
    decode_reply,
    decode_request,
    encode_message,
    encode_reply,
    encode_request,
)

B = Ballot(7, 2)
E = (m.SlotEntry(slot=3, ballot=B, command=b"cmd"), m.SlotEntry(slot=4, ballot=B, command=b""))
SAMPLES = [
    m.Prepare(ballot=B, from_slot=1),
    m.Promise(ballot=B, from_slot=2, entries=E, commit_index=2, lease_remaining_us=123_456,
              snapshot_slot=1, snapshot=b"snap", config_slot=1, config=b"cfg"),
    m.Promise(ballot=B, from_slot=1, entries=(), commit_index=0, lease_remaining_us=0),
    m.Nack(ballot=B, rejected=Ballot(1, 0)),
    m.Accept(ballot=B, first_slot=5, commands=(b"a", b"", b"c" * 1000), commit_index=4,
             stamp_us=2**40, truncate_to=3),
    m.Accept(ballot=B, first_slot=1, commands=(), commit_index=0, stamp_us=0),
    m.Accepted(ballot=B, first_slot=5, last_slot=7, stamp_us=99, applied_index=4),
    m.Release(ballot=B),
    m.Probe(ballot=B, probe_id=3),
    m.ProbeReply(ballot=B, probe_id=3, hears=True),
    m.ProbeReply(ballot=Ballot.ZERO, probe_id=0, hears=False),
    m.CatchUpRequest(ballot=B, from_slot=9, log_only=True, snapshot_offset=10),
    m.CatchUpReply(ballot=B, snapshot_slot=8, snapshot=b"s" * 50, entries=E, config_slot=2,
                   config=b"c", snapshot_offset=1, snapshot_total=51, snapshot_checksum=77),
    rm.RequestVote(term=4, last_index=9, last_term=3, pre_vote=True),
    rm.RequestVote(term=4, last_index=0, last_term=0),
    rm.RequestVoteResponse(term=4, granted=True, pre_vote=True),
    rm.RequestVoteResponse(term=5, granted=False),
    rm.AppendEntries(term=4, prev_index=9, prev_term=3, entries=((4, b"cmd"), (4, b"")),
                    commit=8, stamp_us=2**40),
    rm.AppendEntries(term=4, prev_index=0, prev_term=0, entries=(), commit=0, stamp_us=0),
    rm.AppendEntriesResponse(term=4, success=True, match_index=11, stamp_us=99),
    rm.InstallSnapshot(term=4, index=20, last_term=3, config=b"cfg", data=b"d" * 70,
                      stamp_us=5),
]


def test_every_message_type_has_a_sample_and_a_complete_field_table() -> None:
    message_types = {*m.Message.__args__, *rm.RaftMessage.__args__}  # type: ignore[attr-defined]
    assert set(MESSAGE_FIELDS) == message_types
    assert {type(s) for s in SAMPLES} == message_types
    for cls, fields in MESSAGE_FIELDS.items():
        assert [name for name, _ in fields] == [f.name for f in attrs.fields(cls)], cls


@pytest.mark.parametrize("msg", SAMPLES, ids=lambda s: type(s).__name__)
def test_every_message_round_trips_to_an_equal_object(msg: object) -> None:
    data = encode_message(msg)
    back = decode_message(data)
    assert type(back) is type(msg)
    assert back == msg
    assert repr(back) == repr(msg)  # what traces print is the same on both sides


@pytest.mark.parametrize("msg", SAMPLES, ids=lambda s: type(s).__name__)
def test_every_cut_or_extended_encoding_is_refused(msg: object) -> None:
    data = encode_message(msg)
    for cut in range(len(data)):
        with pytest.raises(CodecError):
            decode_message(data[:cut])
    with pytest.raises(CodecError):
        decode_message(data + b"\x00")


def test_values_the_message_refuses_are_codec_errors() -> None:
    data = bytearray(encode_message(m.Prepare(ballot=B, from_slot=1)))
    data[-1] = 0  # from_slot=0 breaks the slot validator
    with pytest.raises(CodecError, match="invalid message field"):
        decode_message(bytes(data))
    with pytest.raises(CodecError, match="unknown message tag"):
        decode_message(b"\x7f")
    with pytest.raises(CodecError, match="varint longer"):
        decode_message(b"\xff" * 11)
    with pytest.raises(CodecError, match="not a consensus message"):
        encode_message(object())


def test_random_bytes_never_raise_anything_but_codec_error() -> None:
    rng = random.Random(5)
    valid = [encode_message(s) for s in SAMPLES]
    for i in range(3000):
        if i % 2:
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
        else:
            buf = bytearray(valid[i % len(valid)])
            buf[rng.randrange(len(buf))] = rng.randrange(256)
            data = bytes(buf)
        with contextlib.suppress(CodecError):
            decode_message(data)


def test_client_frames_round_trip() -> None:
    reqs = [
        ClientRequest(client_id=2**61, request_id=5, write=True, command=b"\x01abc"),
        ClientRequest(client_id=1, request_id=1, write=False, key=b"k0", strong=False),
    ]
    for r in reqs:
        assert decode_request(encode_request(r)) == r
    reps = [
        ClientReply(client_id=1, request_id=2, status="ok", value=b"v", applied=False),
        ClientReply(client_id=1, request_id=2, status="error", error="not-leader",
                    leader_hint=0, indeterminate=True),
        ClientReply(client_id=1, request_id=2, status="ok", value=None),
    ]
    for rep in reps:
        assert decode_reply(encode_reply(rep)) == rep
    with pytest.raises(CodecError):
        decode_reply(encode_reply(reps[0]) + b"x")
    with pytest.raises(CodecError):
        decode_request(encode_request(reqs[0])[:-1])
