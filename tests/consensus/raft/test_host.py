"""RaftReplica on the real host: `harness.runtime.host.Host` over the storage engine's WAL and
KV store on simulated disks, with `consensus.raft.make_replica` as the backend's factory.

A small hand-run world (messages delivered at once, timers fired by the test) shows that the
Event/Effect contract holds end to end: writes applied and answered, strong reads served by
the leaseholder only, KV checkpoints compacting the WAL, a lagging node caught up through a
snapshot, and a crashed node rebuilt from its disk.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from consensus.events import ClientRead, ClientWrite, Receive, Tick
from consensus.raft import RaftReplica, Role, make_replica
from harness.runtime.backend import default_backend
from harness.runtime.chooser import Chooser
from harness.runtime.host import ClientOutcome, Host
from tests.consensus.raft.group import TIMING


class World:
    """Three hosts; ``blocked`` nodes neither send nor receive."""

    def __init__(self, checkpoint_every: int = 0) -> None:
        self.backend = default_backend(TIMING)
        self.chooser = Chooser(5)
        self.queue: list[tuple[int, int, Any]] = []
        self.timers: dict[int, int] = {}
        self.answers: list[tuple[int, int, ClientOutcome]] = []
        self.blocked: set[int] = set()
        self.now = 0
        self.disks = {i: self.backend.make_disk(i, None, self.chooser) for i in range(3)}
        self.hosts = {i: self._host(i, checkpoint_every) for i in range(3)}
        for h in self.hosts.values():
            h.start(0)

    def _host(self, i: int, checkpoint_every: int) -> Host:
        world = self

        class Ports:
            def send(self, src: int, dst: int, msg: Any, extra_delay_us: int) -> None:
                world.queue.append((src, dst, msg))

            def answer(self, node: int, client_id: int, request_id: int,
                       outcome: ClientOutcome, extra_delay_us: int) -> None:
                world.answers.append((node, request_id, outcome))

            def read_served(self, node: int, strong: bool, key: bytes,
                            value: bytes | None) -> None:
                pass

            def set_timer(self, node: int, at_local_us: int) -> None:
                world.timers[node] = at_local_us

        def factory(records: Sequence[bytes], applied_slot: int) -> RaftReplica:
            # the keywords harness.runtime.backend's make_replica gets (window: ignored)
            return make_replica(node_id=i, members=(0, 1, 2), timing=TIMING, variant=None,
                                choose=self.chooser.choose, records=records,
                                applied_slot=applied_slot, window=64)

        ports = Ports()
        return Host(i, self.disks[i], make_replica=factory,
                    open_storage=self.backend.open_storage, transport=ports, clients=ports,
                    timers=ports, checkpoint_every=checkpoint_every)

    def deliver(self) -> None:
        for _ in range(10_000):
            if not self.queue:
                return
            src, dst, msg = self.queue.pop(0)
            if src in self.blocked or dst in self.blocked or self.hosts[dst].replica is None:
                continue
            self.hosts[dst].step(Receive(src=src, msg=msg), self.now)

    def advance(self, us: int) -> None:
        """Move time on by ``us``, firing due timers (in node order) and delivering."""
        end = self.now + us
        while True:
            due = sorted((at, i) for i, at in self.timers.items()
                         if at <= end and i not in self.blocked)
            if not due:
                break
            at, i = due[0]
            self.now = max(self.now, at)
            del self.timers[i]
            self.hosts[i].step(Tick(), self.now)
            self.deliver()
        self.now = end

    def leader(self) -> int:
        (lead,) = [i for i, h in self.hosts.items()
                   if h.replica is not None and h.replica.role is Role.LEADER
                   and i not in self.blocked]
        return int(lead)

    def write(self, node: int, request_id: int, key: bytes, value: bytes) -> None:
        command = self.backend.encode(op="put", key=key, value=value, client_id=1,
                                      request_id=request_id)
        self.hosts[node].step(ClientWrite(client_id=1, request_id=request_id,
                                          command=command), self.now)
        self.deliver()


def test_writes_reads_compaction_snapshot_catch_up_and_restart_on_the_real_host() -> None:
    w = World(checkpoint_every=4)
    w.advance(3_000_000)
    lead = w.leader()
    lagging = next(i for i in range(3) if i != lead)
    w.blocked = {lagging}
    for k in range(1, 13):
        w.write(lead, k, b"k%d" % (k % 3), b"v%d" % k)
    assert [o.status for _, rid, o in w.answers if rid >= 1] == ["ok"] * 12
    assert w.hosts[lead].replica.snapshot_index >= 8
    w.blocked = set()
    w.advance(200_000)  # heartbeats: the lagging node needs the snapshot, then the rest
    kv = {i: w.hosts[i].kv for i in range(3)}
    assert kv[lagging].checksum() == kv[lead].checksum()  # type: ignore[union-attr]
    assert kv[lagging].get(b"k0") == b"v12"  # type: ignore[union-attr]

    w.hosts[lead].step(ClientRead(client_id=2, request_id=100, key=b"k1", strong=True), w.now)
    w.hosts[lagging].step(ClientRead(client_id=2, request_id=101, key=b"k1", strong=True), w.now)
    by_id = {rid: o for _, rid, o in w.answers}
    assert by_id[100] == ClientOutcome(status="ok", value=b"v10")
    assert by_id[101].status == "error" and by_id[101].error == "not-leader"

    term = w.hosts[lagging].replica.term
    w.hosts[lagging].stop()
    w.disks[lagging].crash()
    w.hosts[lagging].start(w.now)
    back = w.hosts[lagging].replica
    assert back.term == term and back.applied_index == w.hosts[lagging].kv.applied_lsn  # type: ignore[union-attr]
    w.write(lead, 13, b"k0", b"after")
    w.advance(200_000)
    assert w.hosts[lagging].kv.get(b"k0") == b"after"  # type: ignore[union-attr]
    assert w.hosts[lagging].kv.checksum() == w.hosts[lead].kv.checksum()  # type: ignore[union-attr]
