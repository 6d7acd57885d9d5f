"""`FaultProxy`: an in-process trio TCP proxy in front of one link, for the real nemesis.

Node ``a`` (the lower id, the dialler) reaches node ``b`` through the proxy; the proxy
forwards bytes both ways and applies the faults currently set for each direction
(`LinkFaults`), without root or iptables:

- ``blocked``: a partition. Existing connections are closed and new ones are closed at once
  (both directions blocked), or, one way only, the bytes of that direction are discarded
  (the receiver later sees a torn frame, counts it and resets the connection).
- ``drop``: discard chunks with probability ``drop``; ``delay_s``: hold each chunk that long
  (order kept); ``truncate``: forward half of a chunk, then close the connection;
  ``corrupt``: flip one byte of a chunk with that probability; ``duplicate``: forward a chunk
  twice with that probability.

Random draws come from a ``random.Random`` the nemesis seeds. The proxy works on TCP chunks,
not frames: a node must survive whatever arrives.
"""

from __future__ import annotations

import contextlib
import logging
import random

import attrs
import trio

log = logging.getLogger(__name__)

_CHUNK = 65536


@attrs.define
class LinkFaults:
    """The faults of one direction of a link (all off by default)."""

    blocked: bool = False
    drop: float = 0.0
    delay_s: float = 0.0
    truncate: bool = False
    corrupt: float = 0.0
    duplicate: float = 0.0

    def clear(self) -> None:
        self.blocked, self.drop, self.delay_s = False, 0.0, 0.0
        self.truncate, self.corrupt, self.duplicate = False, 0.0, 0.0


class FaultProxy:
    """Forwards ``listen`` -> 127.0.0.1:``target_port`` for link (a, b) (see module doc)."""

    def __init__(self, a: int, b: int, target_port: int, rng: random.Random) -> None:
        self.a, self.b = a, b
        self.target_port = target_port
        self.rng = rng
        self.forward = LinkFaults()  # a -> b
        self.backward = LinkFaults()  # b -> a
        self.port = 0
        self._scopes: set[trio.CancelScope] = set()

    def partition(self) -> None:
        """Block both directions and cut every open connection."""
        self.forward.blocked = self.backward.blocked = True
        for scope in list(self._scopes):
            scope.cancel()

    def heal(self) -> None:
        self.forward.clear()
        self.backward.clear()

    async def run(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        """Listen on a free loopback port (``task_status.started(port)``) until cancelled."""
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        task_status.started(self.port)
        await trio.serve_listeners(self._handle, listeners)

    async def _handle(self, down: trio.SocketStream) -> None:
        try:
            if self.forward.blocked and self.backward.blocked:
                return
            try:
                up = await trio.open_tcp_stream("127.0.0.1", self.target_port)
            except OSError:
                return
            scope = trio.CancelScope()
            self._scopes.add(scope)
            try:
                with scope:
                    async with up, trio.open_nursery() as nursery:
                        nursery.start_soon(self._pump, down, up, self.forward, scope)
                        nursery.start_soon(self._pump, up, down, self.backward, scope)
            finally:
                self._scopes.discard(scope)
        finally:
            with trio.CancelScope(shield=True):
                await down.aclose()

    async def _pump(self, src: trio.SocketStream, dst: trio.SocketStream, faults: LinkFaults,
                    scope: trio.CancelScope) -> None:
        tx, rx = trio.open_memory_channel[tuple[float, bytes]](1024)

        async def writer() -> None:
            async for at, data in rx:
                await trio.sleep_until(at)
                await dst.send_all(data)

        rng = self.rng
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(writer)
                while True:
                    data = await src.receive_some(_CHUNK)
                    if not data:
                        break
                    if faults.blocked or (faults.drop and rng.random() < faults.drop):
                        continue
                    if faults.truncate:
                        await tx.send((trio.current_time() + faults.delay_s,
                                       data[: len(data) // 2]))
                        break
                    if faults.corrupt and rng.random() < faults.corrupt:
                        buf = bytearray(data)
                        buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
                        data = bytes(buf)
                    at = trio.current_time() + faults.delay_s
                    await tx.send((at, data))
                    if faults.duplicate and rng.random() < faults.duplicate:
                        await tx.send((at, data))
                tx.close()
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass
        finally:
            scope.cancel()  # one side ended: end the connection (the node sees EOF)
            with contextlib.suppress(Exception):
                tx.close()
