"""A trio client of a real cluster: put, get (strong or eventual), cas, append.

One `Client` has one operation outstanding at a time (the state machine remembers only the
latest request of each client id, `storage.kv`). Each operation gets a fresh request id and
is sent to the node believed to lead; a refusal naming a leader redirects there, any other
refusal, a timeout or a broken connection moves on to the next node after a short backoff.
Every retry of an operation reuses its request id, so a write applies at most once.

The outcome (`OpResult`) says what is known: ``ok`` (it happened, with this result), ``fail``
(it certainly did not happen: every attempt was refused without ``indeterminate``, or a cas
did not match) or ``info`` (it may or may not have happened: an attempt timed out, a
connection broke after the request was sent, or a node said indeterminate). An info write is
never retried into a different result: the retries all carry the same request id.
"""

from __future__ import annotations

import logging
import secrets

import attrs
import trio

from harness.net.codec import ClientReply, ClientRequest, CodecError, decode_reply, encode_request
from harness.net.config import ClusterConfig
from harness.net.frame import HELLO, REFUSE, REPLY, REQUEST, ROLE_CLIENT, FrameError, Hello
from harness.net.stream import FramedStream, connect
from storage.kv import Command

log = logging.getLogger(__name__)


@attrs.frozen(kw_only=True)
class OpResult:
    """What a client knows about one operation.

    Attributes:
        type: ``"ok"``, ``"fail"`` or ``"info"`` (see the module doc).
        value: ok get: the value read (None = absent); ok append: the new value; cas: the
            value after it (also on a cas mismatch, which is a ``fail``).
        error: why it failed or is unknown (``"cas-mismatch"``, ``"timed-out"``,
            ``"refused:not-leader"``...), None on ok.
        attempts: how many sends it took.
    """

    type: str
    value: bytes | None = None
    error: str | None = None
    attempts: int = 1


def new_client_id() -> int:
    """A random 62-bit client id: distinct clients must never share one (deduplication)."""
    return secrets.randbits(62) | 1


class Client:
    """A client of ``config``'s cluster (see module doc).

    Args:
        client_id: unique per client (default: random).
        attempt_timeout_s: how long one attempt waits for an answer.
        op_timeout_s: by then the operation has ended as fail or info (no attempt starts with
            less than attempt_timeout_s left).
        backoff_s: the pause before trying the next node when no leader is known.
    """

    def __init__(
        self,
        config: ClusterConfig,
        *,
        client_id: int | None = None,
        attempt_timeout_s: float = 1.0,
        op_timeout_s: float = 5.0,
        backoff_s: float = 0.02,
    ) -> None:
        self.config = config
        self.client_id = new_client_id() if client_id is None else client_id
        self.attempt_timeout_s = attempt_timeout_s
        self.op_timeout_s = op_timeout_s
        self.backoff_s = backoff_s
        self.nodes = config.ids
        self.target = self.nodes[0]
        self.request_id = 0
        self._conns: dict[int, FramedStream] = {}

    async def aclose(self) -> None:
        for fs in list(self._conns.values()):
            with trio.CancelScope(shield=True):
                await fs.aclose()
        self._conns.clear()

    # -- operations ---------------------------------------------------------------------------

    def _write(self, op: str, key: bytes, value: bytes, expected: bytes | None = None
               ) -> ClientRequest:
        self.request_id += 1
        command = Command(op=op, key=key, value=value, expected=expected,
                          client_id=self.client_id, request_id=self.request_id).encode()
        return ClientRequest(client_id=self.client_id, request_id=self.request_id, write=True,
                             command=command)

    async def put(self, key: bytes, value: bytes) -> OpResult:
        return await self._run(self._write("put", key, value))

    async def append(self, key: bytes, value: bytes) -> OpResult:
        return await self._run(self._write("append", key, value))

    async def cas(self, key: bytes, expected: bytes | None, new: bytes) -> OpResult:
        """Set ``key`` to ``new`` iff it holds ``expected`` (None: absent); mismatch = fail."""
        result = await self._run(self._write("cas", key, new, expected))
        return result

    async def get(self, key: bytes, *, strong: bool = True) -> OpResult:
        """Read ``key``: strong (from the leaseholder) or eventual (any node, may be stale).

        A read changes nothing, so a read that never got an answer is a ``fail``.
        """
        self.request_id += 1
        req = ClientRequest(client_id=self.client_id, request_id=self.request_id, write=False,
                            key=key, strong=strong)
        return await self._run(req)

    # -- attempts -----------------------------------------------------------------------------

    async def _run(self, req: ClientRequest) -> OpResult:
        deadline = trio.current_time() + self.op_timeout_s
        maybe = False
        last_error = "timed-out"
        attempts = 0
        while True:
            attempts += 1
            left = deadline - trio.current_time()
            reply, sent = await self._attempt(self.target, req, min(self.attempt_timeout_s, left))
            if reply is not None and reply.status == "ok":
                if req.write and not reply.applied:
                    return OpResult(type="fail", value=reply.value, error="cas-mismatch",
                                    attempts=attempts)
                return OpResult(type="ok", value=reply.value, attempts=attempts)
            if reply is None:
                maybe = maybe or (sent and req.write)
                last_error = "timed-out" if sent else "unreachable"
                hint = None
            else:
                maybe = maybe or reply.indeterminate
                last_error = f"refused:{reply.error}"
                hint = reply.leader_hint
            if hint is not None and hint != self.target and hint in self.nodes:
                self.target = hint
            else:
                self.target = self.nodes[(self.nodes.index(self.target) + 1) % len(self.nodes)]
                if trio.current_time() + self.backoff_s < deadline:
                    await trio.sleep(self.backoff_s)
            # An attempt with less than a full attempt's time left would most often time out
            # and turn a certain outcome into a doubtful one: give up instead.
            if deadline - trio.current_time() < min(self.attempt_timeout_s, self.op_timeout_s):
                kind = "info" if maybe else "fail"
                return OpResult(type=kind, error=last_error, attempts=attempts)

    async def _conn(self, node: int, timeout_s: float) -> FramedStream:
        fs = self._conns.get(node)
        if fs is not None:
            return fs
        spec = self.config.node(node)
        fs = await connect(spec.host, spec.port, timeout_s)
        try:
            hello = Hello(cluster_id=self.config.cluster_id, role=ROLE_CLIENT)
            await fs.send(HELLO, hello.encode())
            first = await fs.receive()
            if first is None or first[0] == REFUSE:
                raise FrameError("wrong-cluster", f"node {node} refused the client")
            if first[0] != HELLO:
                raise FrameError("bad-hello", f"node {node} answered kind={first[0]}")
        except BaseException:
            with trio.CancelScope(shield=True):
                await fs.aclose()
            raise
        self._conns[node] = fs
        return fs

    async def _drop(self, node: int) -> None:
        fs = self._conns.pop(node, None)
        if fs is not None:
            with trio.CancelScope(shield=True):
                await fs.aclose()

    async def _attempt(
        self, node: int, req: ClientRequest, timeout_s: float
    ) -> tuple[ClientReply | None, bool]:
        """One send to ``node``; returns (its reply or None, whether the request was sent)."""
        sent = False
        with trio.move_on_after(max(timeout_s, 0.001)):
            try:
                fs = await self._conn(node, timeout_s)
                sent = True  # from here on, the request may reach the node
                await fs.send(REQUEST, encode_request(req))
                while True:
                    frame = await fs.receive()
                    if frame is None:
                        break
                    kind, payload = frame
                    if kind != REPLY:
                        raise FrameError("unexpected-kind", f"node {node} sent kind={kind}")
                    reply = decode_reply(payload)
                    if (reply.client_id, reply.request_id) == (req.client_id, req.request_id):
                        return reply, True
                    # an answer to an earlier attempt that timed out: skip it
            except (OSError, trio.BrokenResourceError, trio.ClosedResourceError):
                pass
            except (FrameError, CodecError) as exc:
                log.warning("client %d: bad frame from node %d: %s", self.client_id, node, exc)
        await self._drop(node)  # a timed-out connection may still carry the late answer
        return None, sent
