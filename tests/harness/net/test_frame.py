"""Frames: round trips, and every kind of bad input refused with its reason."""

from __future__ import annotations

import struct

import crc32c
import pytest

from harness.net.frame import (
    HEADER,
    HELLO,
    PEER,
    ROLE_CLIENT,
    ROLE_PEER,
    VERSION,
    FrameDecoder,
    FrameError,
    Hello,
    encode_frame,
)


def test_frames_round_trip_even_fed_one_byte_at_a_time() -> None:
    frames = [(PEER, b"abc"), (HELLO, b""), (PEER, bytes(range(256)) * 10)]
    data = b"".join(encode_frame(k, p) for k, p in frames)
    whole = FrameDecoder().feed(data)
    assert whole == frames
    dec = FrameDecoder()
    got: list[tuple[int, bytes]] = []
    for i in range(len(data)):
        got += dec.feed(data[i : i + 1])
    assert got == frames
    assert dec.buffered_bytes == 0
    dec.eof()  # nothing partial: a clean end


def _reason(data: bytes, max_frame_bytes: int = 1024) -> str:
    dec = FrameDecoder(max_frame_bytes)
    with pytest.raises(FrameError) as info:
        dec.feed(data)
        dec.eof()
    # poisoned: any later call fails the same way
    with pytest.raises(FrameError):
        dec.feed(encode_frame(PEER, b"fine"))
    return info.value.reason


def test_bad_version_is_refused() -> None:
    frame = bytearray(encode_frame(PEER, b"x"))
    frame[0] = VERSION + 1
    assert _reason(bytes(frame)) == "bad-version"


def test_unknown_kind_is_refused() -> None:
    frame = bytearray(encode_frame(PEER, b"x"))
    frame[1] = 200
    assert _reason(bytes(frame)) == "bad-kind"


def test_oversized_length_is_refused_before_the_payload_arrives() -> None:
    head = struct.pack(">BBII", VERSION, PEER, 1 << 31, 0)
    assert _reason(head, max_frame_bytes=1024) == "oversized"
    assert _reason(encode_frame(PEER, b"y" * 1025), max_frame_bytes=1024) == "oversized"


@pytest.mark.parametrize("at", [2, 5, 6, 9, HEADER.size, HEADER.size + 3])
def test_any_flipped_bit_is_refused(at: int) -> None:
    frame = bytearray(encode_frame(PEER, b"payload"))
    frame[at] ^= 0x10
    reason = _reason(bytes(frame), max_frame_bytes=1 << 30)
    if 2 <= at < 6:  # the length: longer waits for bytes that never come, shorter fails the CRC
        assert reason in ("bad-crc", "truncated")
    else:
        assert reason == "bad-crc"


def test_truncated_frame_is_refused_at_end_of_stream() -> None:
    frame = encode_frame(PEER, b"payload")
    assert _reason(frame[:-2]) == "truncated"
    assert _reason(frame[:3]) == "truncated"


def test_crc_covers_header_and_payload() -> None:
    frame = encode_frame(PEER, b"abc")
    version, kind, length, crc = HEADER.unpack_from(frame, 0)
    assert (version, kind, length) == (VERSION, PEER, 3)
    assert crc == crc32c.crc32c(b"abc", crc32c.crc32c(frame[:6]))


def test_hello_round_trips_and_garbage_is_bad_hello() -> None:
    h = Hello(cluster_id="c-1", role=ROLE_PEER, node_id=2)
    assert Hello.decode(h.encode()) == h
    assert Hello.decode(Hello(cluster_id="x", role=ROLE_CLIENT).encode()).role == ROLE_CLIENT
    for bad in (b"", b"\xff" * 12, h.encode() + b"!", Hello(cluster_id="c", role=9).encode()):
        with pytest.raises(FrameError) as info:
            Hello.decode(bad)
        assert info.value.reason == "bad-hello"
