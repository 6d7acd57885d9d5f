"""`FramedStream`: a trio stream read and written as frames (`harness.net.frame`)."""

from __future__ import annotations

import trio

from harness.net.frame import DEFAULT_MAX_FRAME_BYTES, FrameDecoder, FrameError, encode_frame

_READ_BYTES = 65536


class FramedStream:
    """Frames over one trio stream: ``send`` writes a frame, ``receive`` returns the next one.

    ``receive`` raises `harness.net.frame.FrameError` on a bad frame (or a stream that ends
    inside one) and returns None at a clean end of stream; trio errors (``BrokenResource``,
    ``ClosedResource``) propagate as they are.
    """

    def __init__(
        self, stream: trio.abc.Stream, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    ) -> None:
        self.stream = stream
        self._decoder = FrameDecoder(max_frame_bytes)
        self._ready: list[tuple[int, bytes]] = []
        self._send_lock = trio.Lock()

    async def send(self, kind: int, payload: bytes) -> None:
        await self.send_raw(encode_frame(kind, payload))

    async def send_raw(self, frame: bytes) -> None:
        async with self._send_lock:
            await self.stream.send_all(frame)

    async def receive(self) -> tuple[int, bytes] | None:
        while not self._ready:
            data = await self.stream.receive_some(_READ_BYTES)
            if not data:
                self._decoder.eof()
                return None
            self._ready = self._decoder.feed(data)
        return self._ready.pop(0)

    async def receive_kind(self, kind: int, sender: str) -> bytes | None:
        """The next frame's payload, or None at a clean end of stream: the read loop of every
        connection after its hello (peer, client, admin), which expects one kind of frame.

        Raises:
            FrameError: a bad frame (as `receive`), or ``unexpected-kind`` for a frame of
                another kind (``sender``, e.g. "peer", names who sent it in the message).
        """
        frame = await self.receive()
        if frame is None:
            return None
        got, payload = frame
        if got != kind:
            raise FrameError("unexpected-kind", f"{sender} sent kind={got}")
        return payload

    async def aclose(self) -> None:
        await self.stream.aclose()


async def connect(host: str, port: int, timeout_s: float) -> FramedStream:
    """Open a TCP connection within ``timeout_s``; raises OSError (TimeoutError on timeout)."""
    with trio.move_on_after(timeout_s):
        stream = await trio.open_tcp_stream(host, port)
        return FramedStream(stream)
    raise TimeoutError(f"connect to {host}:{port} timed out after {timeout_s}s")
