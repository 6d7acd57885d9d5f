"""The one read loop of every connection (`FramedStream.receive_kind`) and the one error
policy (`bad_frame_of`): what is counted as a bad frame, what is a peer gone, what is a bug."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from harness.net.codec import CodecError
from harness.net.frame import PEER, REQUEST, FrameError, encode_frame
from harness.net.peers import bad_frame_of
from harness.net.stream import FramedStream


async def _read_all(data: bytes, kind: int) -> list[bytes | None]:
    left, right = trio.testing.memory_stream_pair()
    await left.send_all(data)
    await left.send_eof()
    fs = FramedStream(right)
    got: list[bytes | None] = []
    while (payload := await fs.receive_kind(kind, "peer")) is not None:
        got.append(payload)
    return got


async def test_frames_of_the_expected_kind_are_read_until_a_clean_end() -> None:
    data = encode_frame(PEER, b"one") + encode_frame(PEER, b"") + encode_frame(PEER, b"3")
    assert await _read_all(data, PEER) == [b"one", b"", b"3"]
    assert await _read_all(b"", PEER) == []


async def test_a_frame_of_another_kind_is_an_unexpected_kind_error() -> None:
    """Must fail: the first frame is right, the second of another kind."""
    data = encode_frame(PEER, b"one") + encode_frame(REQUEST, b"x")
    with pytest.raises(FrameError, match="peer sent kind=") as info:
        await _read_all(data, PEER)
    assert info.value.reason == "unexpected-kind"


async def test_a_stream_ending_inside_a_frame_is_truncated() -> None:
    with pytest.raises(FrameError) as info:
        await _read_all(encode_frame(PEER, b"payload")[:-2], PEER)
    assert info.value.reason == "truncated"


def test_bad_frames_are_counted_a_peer_gone_is_nothing_and_anything_else_is_a_bug() -> None:
    bad = FrameError("bad-crc", "x")
    assert bad_frame_of(bad) is bad
    assert bad_frame_of(ExceptionGroup("g", [bad])) is bad
    malformed = bad_frame_of(CodecError("unknown message tag"))
    assert isinstance(malformed, FrameError) and malformed.reason == "malformed"
    for gone in (OSError("reset"), trio.BrokenResourceError(), trio.ClosedResourceError()):
        assert bad_frame_of(gone) is None
    bug = KeyError("x")
    assert bad_frame_of(bug) is bug
