"""`PeerLinks`: one TCP connection per pair of nodes, redialled with backoff.

The node with the lower id dials, the higher one accepts; both then use that one connection
in both directions. Each link has a bounded outbox of encoded frames: `PeerLinks.send` never
blocks (the replica's messages are best effort; a full outbox drops the frame, counted in
``dropped``) and a writer task of the live connection drains it. A new connection for a peer
replaces the old one (its tasks are cancelled).

A bad frame from a peer (`harness.net.frame.FrameError`, or a payload the codec refuses) is
reported through ``on_error`` with the peer and resets the connection; the replica never
sees it. A dialled node that answers with another cluster id or node id is refused the same
way.
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Callable
from typing import Any

import trio

from harness.net.codec import CodecError, decode_message, encode_message
from harness.net.frame import (
    DEFAULT_MAX_FRAME_BYTES,
    HELLO,
    PEER,
    REFUSE,
    ROLE_PEER,
    FrameError,
    Hello,
    encode_frame,
)
from harness.net.stream import FramedStream, connect

log = logging.getLogger(__name__)

OUTBOX_FRAMES = 4096
DIAL_TIMEOUT_S = 2.0
HELLO_TIMEOUT_S = 5.0
BACKOFF_MIN_S = 0.02
BACKOFF_MAX_S = 1.0


def first_leaf(exc: BaseException) -> BaseException:
    """The first non-group exception inside ``exc`` (trio nurseries wrap errors in groups)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def bad_frame_of(exc: BaseException) -> FrameError | BaseException | None:
    """Why a connection ended, for the one error policy of every connection (peer, client,
    admin, dialled or accepted): a `FrameError` for a bad frame (a payload the codec refuses
    counts as ``malformed``), to be counted; None for a peer that went away (closed, reset,
    any OSError), nothing to say; any other exception as it is, a bug to log."""
    leaf = first_leaf(exc)
    if isinstance(leaf, FrameError):
        return leaf
    if isinstance(leaf, CodecError):
        return FrameError("malformed", str(leaf))
    if isinstance(leaf, OSError | trio.BrokenResourceError | trio.ClosedResourceError):
        return None
    return leaf


def coalesce(first: bytes, rx: trio.MemoryReceiveChannel[bytes], limit: int = 256) -> bytes:
    """``first`` and up to ``limit`` frames already waiting in ``rx``, as one write (one
    syscall for a burst of frames instead of one each)."""
    parts = [first]
    for _ in range(limit):
        try:
            parts.append(rx.receive_nowait())
        except trio.WouldBlock:
            break
    return parts[0] if len(parts) == 1 else b"".join(parts)


class _Link:
    def __init__(self) -> None:
        self.tx, self.rx = trio.open_memory_channel[bytes](OUTBOX_FRAMES)
        self.scope: trio.CancelScope | None = None
        self.dropped = 0


class PeerLinks:
    """The links of node ``node_id`` to every peer in ``addrs`` (peer id -> host, port).

    Args:
        deliver: ``deliver(src, msg)`` for every decoded consensus message.
        on_error: ``on_error(where, frame_error)`` for every bad frame or refused hello.
    """

    def __init__(
        self,
        cluster_id: str,
        node_id: int,
        addrs: dict[int, tuple[str, int]],
        on_error: Callable[[str, FrameError], None],
        deliver: Callable[[int, Any], None] | None = None,
    ) -> None:
        self.cluster_id = cluster_id
        self.node_id = node_id
        self.addrs = dict(addrs)
        self.on_error = on_error
        self.deliver = deliver
        self.links = {peer: _Link() for peer in sorted(addrs)}
        self._rng = random.Random()

    def send(self, dst: int, msg: Any) -> None:
        """Queue ``msg`` for ``dst`` (dropped, and counted, when its outbox is full)."""
        link = self.links.get(dst)
        if link is None:
            return
        payload = encode_message(msg)
        if len(payload) > DEFAULT_MAX_FRAME_BYTES:
            # the peer would refuse it and reset the link; dropping it is what loss does
            link.dropped += 1
            log.warning("n%d dropped a %s of %d bytes for n%d: over the frame limit",
                        self.node_id, type(msg).__name__, len(payload), dst)
            return
        try:
            link.tx.send_nowait(encode_frame(PEER, payload))
        except trio.WouldBlock:
            link.dropped += 1

    def connected(self) -> list[int]:
        """Peers with a live connection now, sorted."""
        return [p for p, link in self.links.items() if link.scope is not None]

    def dropped(self) -> dict[str, int]:
        """Frames dropped per peer (outbox full or over the frame limit), peers with any."""
        return {f"n{p}": link.dropped for p, link in self.links.items() if link.dropped}

    async def drained(self) -> None:
        """Return once every connected peer's outbox is empty (callers bound the wait)."""
        while any(
            link.scope is not None and link.rx.statistics().current_buffer_used
            for link in self.links.values()
        ):
            await trio.sleep(0.005)

    async def refuse(self, fs: FramedStream, their_cluster: str) -> None:
        """Tell a dialler from another cluster why it is refused (best effort)."""
        reason = f"cluster_id={their_cluster!r} is not {self.cluster_id!r}".encode()
        with trio.move_on_after(1.0):
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                await fs.send(REFUSE, reason)

    async def run(self) -> None:
        """Dial every peer with a higher id, forever (until cancelled)."""
        async with trio.open_nursery() as nursery:
            for peer in self.links:
                if peer > self.node_id:
                    nursery.start_soon(self._dial, peer)

    async def _dial(self, peer: int) -> None:
        host, port = self.addrs[peer]
        where = f"n{peer} at {host}:{port}"
        backoff = BACKOFF_MIN_S
        while True:
            fs: FramedStream | None = None
            try:
                fs = await connect(host, port, DIAL_TIMEOUT_S)
                me = Hello(cluster_id=self.cluster_id, role=ROLE_PEER, node_id=self.node_id)
                await fs.send(HELLO, me.encode())
                with trio.move_on_after(HELLO_TIMEOUT_S):
                    first = await fs.receive()
                    if first is None:
                        raise trio.BrokenResourceError("closed during hello")
                    kind, payload = first
                    if kind == REFUSE:
                        raise FrameError("wrong-cluster", payload.decode(errors="replace"))
                    if kind != HELLO:
                        raise FrameError("bad-hello", f"first frame kind={kind}")
                    them = Hello.decode(payload)
                    if them.cluster_id != self.cluster_id or them.node_id != peer:
                        raise FrameError(
                            "wrong-cluster",
                            f"answered as cluster_id={them.cluster_id!r} node={them.node_id}",
                        )
                    backoff = BACKOFF_MIN_S
                    await self.run_accepted(peer, fs, where)
            except Exception as exc:  # a peer's misbehaviour never ends the dialler
                why = bad_frame_of(exc)
                if isinstance(why, FrameError):
                    self.on_error(where, why)
                elif why is not None:
                    log.exception("n%d link to %s failed", self.node_id, where)
            finally:
                if fs is not None:
                    with trio.CancelScope(shield=True):
                        await fs.aclose()
            await trio.sleep(backoff * (0.5 + self._rng.random()))
            backoff = min(backoff * 2, BACKOFF_MAX_S)

    async def run_accepted(self, peer: int, fs: FramedStream, where: str = "") -> None:
        """Use ``fs`` (hello done) as the link to ``peer`` until it fails or is replaced.

        Raises FrameError or CodecError on a bad frame (the caller counts it and closes).
        """
        link = self.links[peer]
        if link.scope is not None:
            link.scope.cancel()
        error: Exception | None = None
        async with trio.open_nursery() as nursery:
            link.scope = nursery.cancel_scope
            nursery.start_soon(self._writer, link, fs)
            try:
                while (payload := await fs.receive_kind(PEER, "peer")) is not None:
                    msg = decode_message(payload)
                    if self.deliver is not None:
                        self.deliver(peer, msg)
            except (FrameError, CodecError) as exc:
                error = exc  # raised below, outside the nursery, not wrapped in a group
            finally:
                nursery.cancel_scope.cancel()
                if link.scope is nursery.cancel_scope:
                    link.scope = None
        if error is not None:
            raise error

    async def _writer(self, link: _Link, fs: FramedStream) -> None:
        try:
            while True:
                await fs.send_raw(coalesce(await link.rx.receive(), link.rx))
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            await fs.aclose()
