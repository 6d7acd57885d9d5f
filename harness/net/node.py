"""`NodeServer`: one real node, a `harness.runtime.host.Host` on a `storage.FileDisk`, over TCP.

The host is the simulator's, unchanged; this module implements its ports for the real world
(the simulator's are in `harness.sim.cluster`): the `Transport` queues frames for the peer
links (`harness.net.peers`), the `ClientPort` answers the client connection that asked, the
`TimerPort` arms a trio timer. Local time is ``time.monotonic_ns() // 1000``.

One task steps the host (`_stepper`): it takes every event waiting in the inbox (peer
messages, client requests, timer ticks, a step-down), steps them one by one, then makes the
WAL durable with one fsync and only then lets the frames and client answers those steps
produced leave. This is the host's group commit stretched over a batch of steps: the rule
"a Persist is durable before any later Send" still holds, because nothing leaves before the
batch's sync (`_GroupCommitWal` turns the host's per-step sync into a mark).

A storage error fail-stops the node (the process exits non-zero). SIGTERM or SIGINT steps a
leader down (its Release frames leave) and exits cleanly; a restart recovers from the data
directory.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import time
from collections.abc import Iterator
from typing import Any

import trio

from consensus.events import ClientRead, ClientWrite, Receive, StepDown, Tick
from harness.checks.shared import serves_at
from harness.net.codec import ClientReply, decode_request, encode_reply
from harness.net.config import ClusterConfig
from harness.net.frame import (
    HELLO,
    REPLY,
    REQUEST,
    ROLE_ADMIN,
    ROLE_CLIENT,
    ROLE_PEER,
    STATUS,
    STATUS_REPLY,
    FrameError,
    Hello,
    encode_frame,
)
from harness.net.peers import PeerLinks, bad_frame_of, coalesce
from harness.net.stream import FramedStream
from harness.runtime import protocols
from harness.runtime.host import ClientOutcome, Host
from harness.runtime.ports import KvLike, WalLike
from storage import WAL, FileDisk, KVStore

log = logging.getLogger(__name__)

INBOX_EVENTS = 10_000
BATCH_EVENTS = 512
HELLO_TIMEOUT_S = 5.0


def now_us() -> int:
    """The node's local clock: monotonic microseconds (never steps back, any origin)."""
    return time.monotonic_ns() // 1000


class NodeDisk(FileDisk):
    """A `FileDisk` as the host wants a disk: the fsync latency it would charge to later
    messages is 0, because a real fsync already took its real time before they leave."""

    last_fsync_latency_us = 0

    def crash(self) -> None:
        """A real process crash is a SIGKILL; in-process there is only `close`."""
        self.close()


class _GroupCommitWal:
    """A WAL whose ``sync`` only marks it dirty; `flush` does the real fsync (and the
    truncation the host asked for, which must wait until the checkpoint record is durable)."""

    def __init__(self, wal: WAL) -> None:
        self.wal = wal
        self.dirty = False
        self._truncate_to = 0

    def append(self, payload: bytes) -> int:
        return self.wal.append(payload)

    def sync(self) -> int:
        self.dirty = True
        return 0

    def records(self, start_lsn: int | None = None) -> Iterator[tuple[int, bytes]]:
        return self.wal.records(start_lsn)

    def truncate_prefix(self, lsn: int) -> None:
        self._truncate_to = max(self._truncate_to, lsn)

    def flush(self) -> None:
        if self.dirty:
            self.wal.sync()
            self.dirty = False
        if self._truncate_to:
            self.wal.truncate_prefix(self._truncate_to)
            self._truncate_to = 0


class NodeServer:
    """One node of ``config``: serves peers, clients and status requests on its port.

    Args:
        config: the cluster.
        node_id: this node.
        peer_addrs: where to dial each peer (default: its configured address); the nemesis
            puts fault proxies there.
    """

    def __init__(
        self,
        config: ClusterConfig,
        node_id: int,
        peer_addrs: dict[int, tuple[str, int]] | None = None,
    ) -> None:
        self.config = config
        self.node_id = node_id
        self.spec = config.node(node_id)
        addrs = {n.id: (n.host, n.port) for n in config.nodes if n.id != node_id}
        addrs.update(peer_addrs or {})
        self.frame_errors: dict[str, int] = {}
        self.peers = PeerLinks(
            config.cluster_id, node_id, addrs, self._on_peer_frame_error, self._deliver
        )
        self.disk: NodeDisk | None = None
        self.host: Host | None = None
        self._wal: _GroupCommitWal | None = None
        self._rng = random.Random(int.from_bytes(os.urandom(8), "big"))
        self._stop = trio.Event()
        self._inbox_tx, self._inbox_rx = trio.open_memory_channel[Any](INBOX_EVENTS)
        self._outgoing: list[tuple[int, Any]] = []
        self._answers: list[tuple[int, int, ClientOutcome]] = []
        self._waiting: dict[tuple[int, int], list[FramedStream]] = {}
        self._timer_at: int | None = None
        self._timer_changed = trio.Event()
        self.steps = 0
        self.started_us = now_us()

    # -- storage and replica --------------------------------------------------------------

    def _open_storage(self, disk: Any) -> tuple[WalLike, KvLike]:
        self._wal = _GroupCommitWal(WAL.open(disk, "wal"))
        return self._wal, KVStore.open(disk, "kv")

    def _make_replica(self, records: Any, applied_slot: int) -> Any:
        """The cluster's protocol's replica (`harness.runtime.protocols`), built or recovered
        from ``records``."""
        rng = self._rng

        def choose(label: str, n: int) -> int:
            return rng.randrange(n)

        spec = protocols.get(self.config.protocol)
        return spec.make_replica(node_id=self.node_id, members=self.config.ids,
                                 timing=self.config.timing, variant=None, choose=choose,
                                 records=records, applied_slot=applied_slot)

    # -- ports ------------------------------------------------------------------------------

    def send(self, src: int, dst: int, msg: Any, extra_delay_us: int) -> None:
        """`Transport`: queued until the batch's fsync (see module doc)."""
        self._outgoing.append((dst, msg))

    def answer(
        self, node: int, client_id: int, request_id: int, outcome: ClientOutcome, extra: int
    ) -> None:
        """`ClientPort`: queued until the batch's fsync."""
        self._answers.append((client_id, request_id, outcome))

    def read_served(self, node: int, strong: bool, key: bytes, value: bytes | None) -> None:
        pass

    def set_timer(self, node: int, at_local_us: int) -> None:
        self._timer_at = at_local_us
        self._timer_changed.set()

    # -- the stepping task --------------------------------------------------------------------

    def _step(self, event: Any) -> None:
        assert self.host is not None
        self.host.step(event, now_us())
        self.steps += 1

    def _flush(self) -> None:
        """Make the batch durable, then release its frames and answers (in that order)."""
        if self._wal is not None:
            self._wal.flush()
        outgoing, self._outgoing = self._outgoing, []
        for dst, msg in outgoing:
            self.peers.send(dst, msg)
        answers, self._answers = self._answers, []
        for client_id, request_id, outcome in answers:
            self._deliver_answer(client_id, request_id, outcome)

    def _deliver_answer(self, client_id: int, request_id: int, outcome: ClientOutcome) -> None:
        streams = self._waiting.pop((client_id, request_id), [])
        frame = encode_frame(REPLY, encode_reply(ClientReply(
            client_id=client_id, request_id=request_id, status=outcome.status,
            value=outcome.value, applied=outcome.applied, error=outcome.error,
            leader_hint=outcome.leader_hint, indeterminate=outcome.indeterminate,
        )))
        for stream in streams:
            self._client_send_nowait(stream, frame)

    def _client_send_nowait(self, stream: FramedStream, frame: bytes) -> None:
        tx = getattr(stream, "outbox", None)
        if tx is not None:
            with contextlib.suppress(
                trio.WouldBlock, trio.ClosedResourceError, trio.BrokenResourceError
            ):
                tx.send_nowait(frame)

    async def _stepper(self) -> None:
        assert self.host is not None
        self.host.start(now_us())
        self._flush()
        rx = self._inbox_rx
        while True:
            event = await rx.receive()
            self._step(event)
            for _ in range(BATCH_EVENTS):
                try:
                    event = rx.receive_nowait()
                except trio.WouldBlock:
                    break
                self._step(event)
            self._flush()

    async def _timer(self) -> None:
        while True:
            at = self._timer_at
            self._timer_changed = trio.Event()
            if at is None:
                await self._timer_changed.wait()
                continue
            with trio.move_on_after(max(at - now_us(), 0) / 1e6):
                await self._timer_changed.wait()
                continue
            if self._timer_at == at:
                self._timer_at = None
                await self._inbox_tx.send(Tick())

    def _deliver(self, src: int, msg: Any) -> None:
        try:
            self._inbox_tx.send_nowait(Receive(src=src, msg=msg))
        except trio.WouldBlock:
            log.warning("n%d inbox full: dropped a message from n%d", self.node_id, src)

    # -- connections ----------------------------------------------------------------------------

    def _on_peer_frame_error(self, where: str, exc: FrameError) -> None:
        self.frame_errors[exc.reason] = self.frame_errors.get(exc.reason, 0) + 1
        log.warning("n%d bad frame from %s: %s; connection reset", self.node_id, where, exc)

    async def _serve_connection(self, stream: trio.SocketStream) -> None:
        try:
            peer = stream.socket.getpeername()
            where = f"{peer[0]}:{peer[1]}"
        except OSError:
            where = "?"
        fs = FramedStream(stream)
        try:
            with trio.move_on_after(HELLO_TIMEOUT_S) as scope:
                first = await fs.receive()
            if scope.cancelled_caught or first is None:
                return
            kind, payload = first
            if kind != HELLO:
                raise FrameError("bad-hello", f"first frame kind={kind}")
            hello = Hello.decode(payload)
            if hello.cluster_id != self.config.cluster_id:
                await self.peers.refuse(fs, hello.cluster_id)
                raise FrameError("wrong-cluster", f"cluster_id={hello.cluster_id!r}")
            me = Hello(cluster_id=self.config.cluster_id, role=ROLE_PEER, node_id=self.node_id)
            if hello.role == ROLE_PEER:
                if hello.node_id not in self.peers.addrs:
                    raise FrameError("bad-hello", f"unknown peer node_id={hello.node_id}")
                await fs.send(HELLO, me.encode())
                await self.peers.run_accepted(hello.node_id, fs, f"n{hello.node_id} from {where}")
            elif hello.role == ROLE_CLIENT:
                await fs.send(HELLO, me.encode())
                await self._serve_client(fs)
            elif hello.role == ROLE_ADMIN:
                await fs.send(HELLO, me.encode())
                await self._serve_admin(fs)
        except Exception as exc:  # nothing a connection does may take the node down
            why = bad_frame_of(exc)
            if isinstance(why, FrameError):
                self._on_peer_frame_error(where, why)
            elif why is not None:
                log.exception("n%d connection from %s failed", self.node_id, where)
        finally:
            with trio.CancelScope(shield=True):
                await stream.aclose()

    async def _serve_client(self, fs: FramedStream) -> None:
        tx, rx = trio.open_memory_channel[bytes](1024)
        fs.outbox = tx  # type: ignore[attr-defined]
        mine: set[tuple[int, int]] = set()
        async with trio.open_nursery() as nursery:

            async def writer() -> None:
                async for frame in rx:
                    await fs.send_raw(coalesce(frame, rx))

            nursery.start_soon(writer)
            try:
                while (payload := await fs.receive_kind(REQUEST, "client")) is not None:
                    req = decode_request(payload)
                    ids = (req.client_id, req.request_id)
                    self._waiting.setdefault(ids, []).append(fs)
                    mine.add(ids)
                    if req.write:
                        event: Any = ClientWrite(
                            client_id=req.client_id, request_id=req.request_id,
                            command=req.command,
                        )
                    else:
                        event = ClientRead(client_id=req.client_id, request_id=req.request_id,
                                           key=req.key, strong=req.strong)
                    await self._inbox_tx.send(event)
            finally:
                tx.close()
                nursery.cancel_scope.cancel()
                for ids in mine:  # requests never answered: forget this connection
                    waiting = self._waiting.get(ids)
                    if waiting is not None and fs in waiting:
                        waiting.remove(fs)
                        if not waiting:
                            del self._waiting[ids]

    async def _serve_admin(self, fs: FramedStream) -> None:
        while await fs.receive_kind(STATUS, "admin") is not None:
            await fs.send(STATUS_REPLY, json.dumps(self.status()).encode())

    def status(self) -> dict[str, Any]:
        """What ``paxlab cluster status`` shows: role, ballot, commit index, lease, counters."""
        r = None if self.host is None else self.host.replica
        now = now_us()
        out: dict[str, Any] = {"node": self.node_id, "pid": os.getpid(), "steps": self.steps,
                               "frame_errors": dict(sorted(self.frame_errors.items())),
                               "peers_connected": self.peers.connected(),
                               "dropped_frames": self.peers.dropped()}
        if r is None:
            out["role"] = "down"
            return out
        lease = r.lease_until_us
        promised = getattr(r, "promised", None)  # Multi-Paxos's; Raft shows its term
        if promised is None:
            out["term"] = r.term
        else:
            lb = r.leader_ballot
            out["ballot"] = None if lb is None else [lb.round, lb.node]
            out["promised"] = [promised.round, promised.node]
        out.update({
            "role": r.role.value,
            "commit_index": r.commit_index,
            "applied_index": r.applied_index,
            "lease_remaining_ms": None if lease is None else max(0, lease - now) // 1000,
            "serving": serves_at(r, now),
        })
        return out

    # -- running ------------------------------------------------------------------------------

    async def bind(self) -> list[trio.SocketListener]:
        """Listen on the node's port; raises OSError (port in use) before anything is written."""
        return await trio.open_tcp_listeners(self.spec.port, host=self.spec.host)

    async def run(
        self,
        listeners: list[trio.SocketListener] | None = None,
        *,
        task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Serve until cancelled or asked to stop (`request_stop`).

        The port is bound before anything is written to the data directory. Raises OSError if
        the port cannot be bound (the caller reports it), storage.StorageError if recovery or
        a later write fails (the node fail-stops).
        """
        if listeners is None:
            listeners = await self.bind()
        self.disk = NodeDisk(self.spec.data_dir / "storage")
        self.host = Host(
            self.node_id,
            self.disk,
            make_replica=self._make_replica,
            open_storage=self._open_storage,
            transport=self,
            clients=self,
            timers=self,
            checkpoint_every=self.config.checkpoint_every,
        )
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._stepper)
                nursery.start_soon(self._timer)
                nursery.start_soon(self.peers.run)
                nursery.start_soon(
                    trio.serve_listeners, self._serve_connection, listeners
                )
                task_status.started(self.spec.port)
                await self._stop.wait()
                await self._step_down()
                nursery.cancel_scope.cancel()
        finally:
            self.disk.close()
            for listener in listeners:
                await listener.aclose()

    def request_stop(self) -> None:
        """Step down (if leader) and stop serving; `run` then returns."""
        self._stop.set()

    async def _step_down(self) -> None:
        """Let a leader release its lease: step StepDown, and give its frames time to leave."""
        if self.host is None or self.host.replica is None:
            return
        log.info("n%d stopping: role=%s, a leader steps down and releases its lease",
                 self.node_id, self.host.replica.role.value)
        try:
            self._inbox_tx.send_nowait(StepDown())
        except trio.WouldBlock:
            return
        with trio.move_on_after(0.5):
            while self._inbox_rx.statistics().current_buffer_used:
                await trio.sleep(0.005)
            await self.peers.drained()
