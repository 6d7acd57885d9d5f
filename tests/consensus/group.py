"""A tiny in-memory replica group that performs effects (h11's ConnectionPair habit).

No trio, no simulator: Persist appends to a per-node WAL list, Send queues the message, each
node has a local clock the test moves, crash = rebuild the Replica from its WAL. The state
machine is a dict slot -> command (durable at once), so restarts resume after the last apply.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable

import attrs

from consensus import Replica, ReplicaConfig, Role, Timing
from consensus.effects import (
    Apply,
    Effect,
    InstallSnapshot,
    Persist,
    Reply,
    Send,
    ServeRead,
    SetTimer,
)
from consensus.events import ClientRead, ClientWrite, Compact, Event, Receive, Tick

FAST = Timing(
    heartbeat_interval_us=10_000,
    election_timeout_us=100_000,
    election_jitter_us=100_000,
    lease_duration_us=200_000,
    drift_bound_ppm=10_000,
)


def encode_snapshot(commands: dict[int, bytes]) -> bytes:
    return json.dumps([[s, c.hex()] for s, c in sorted(commands.items())]).encode()


def decode_snapshot(data: bytes) -> dict[int, bytes]:
    return {s: bytes.fromhex(c) for s, c in json.loads(data)}


@attrs.define
class Node:
    replica: Replica
    config: ReplicaConfig
    wal: list[bytes] = attrs.Factory(list)
    sm: dict[int, bytes] = attrs.Factory(dict)
    applied_slot: int = 0
    clock_us: int = 0
    timer_us: int | None = None
    alive: bool = True
    replies: list[Reply] = attrs.Factory(list)
    reads: list[ServeRead] = attrs.Factory(list)
    effects: list[Effect] = attrs.Factory(list)


class Group:
    """``n`` storage replicas (ids 1..n) and a network of in-flight (src, dst, msg).

    ``logs`` log replicas follow (ids n+1..), then ``spares`` storage spares and ``log_spares``
    log spares, outside the initial configuration but running (a healing leader may add them).
    ``members`` lists every node id; ``storage`` the initial storage voters.
    """

    def __init__(
        self,
        n: int = 3,
        *,
        timing: Timing = FAST,
        variant: str | None = None,
        seed: int = 0,
        window: int = 64,
        on_apply: Callable[[int, int, bytes], None] | None = None,
        logs: int = 0,
        spares: int = 0,
        log_spares: int = 0,
        replica_dead_after_us: int = 0,
    ) -> None:
        self.storage = tuple(range(1, n + 1))
        ids = iter(range(n + 1, n + logs + spares + log_spares + 1))
        log_ids = tuple(next(ids) for _ in range(logs))
        spare_ids = tuple(next(ids) for _ in range(spares))
        log_spare_ids = tuple(next(ids) for _ in range(log_spares))
        self.members = self.storage + log_ids + spare_ids + log_spare_ids
        self.rng = random.Random(seed)
        self.network: list[tuple[int, int, object]] = []
        self.on_apply = on_apply
        self.nodes: dict[int, Node] = {}
        self.paused: set[int] = set()  # alive, clock running, but handed no events
        for i in self.members:
            cfg = ReplicaConfig(
                node_id=i, members=self.storage, timing=timing, window=window, variant=variant,
                log_members=log_ids, spares=spare_ids, log_spares=log_spare_ids,
                replica_dead_after_us=replica_dead_after_us,
            )
            self.nodes[i] = Node(replica=Replica(cfg, self.choose), config=cfg)
        for i in self.members:
            self.step(i, Tick())

    def choose(self, label: str, n: int) -> int:
        return self.rng.randrange(n)

    def replica(self, i: int) -> Replica:
        return self.nodes[i].replica

    # ------------------------------------------------------------------ effects
    def step(self, i: int, event: Event) -> list[Effect]:
        node = self.nodes[i]
        assert node.alive
        effects = node.replica.step(event, node.clock_us)
        node.effects.extend(effects)
        for e in effects:
            if isinstance(e, Persist):
                if e.checkpoint:
                    node.wal = list(e.records)
                else:
                    node.wal.extend(e.records)
            elif isinstance(e, Send):
                assert e.dst != i
                self.network.append((i, e.dst, e.msg))
            elif isinstance(e, Apply):
                assert e.slot == node.applied_slot + 1, (i, e.slot, node.applied_slot)
                node.sm[e.slot] = e.command
                node.applied_slot = e.slot
                if self.on_apply is not None:
                    self.on_apply(i, e.slot, e.command)
            elif isinstance(e, InstallSnapshot):
                node.sm = decode_snapshot(e.snapshot)
                node.applied_slot = e.slot
            elif isinstance(e, Reply):
                node.replies.append(e)
            elif isinstance(e, ServeRead):
                node.reads.append(e)
            elif isinstance(e, SetTimer):
                node.timer_us = e.at_us
        return effects

    def write(self, i: int, client_id: int, request_id: int, command: bytes) -> list[Effect]:
        ev = ClientWrite(client_id=client_id, request_id=request_id, command=command)
        return self.step(i, ev)

    def read(self, i: int, client_id: int, request_id: int, strong: bool = True) -> list[Effect]:
        ev = ClientRead(client_id=client_id, request_id=request_id, key=b"k", strong=strong)
        return self.step(i, ev)

    def compact(self, i: int) -> list[Effect]:
        node = self.nodes[i]
        snap = encode_snapshot(node.sm)
        return self.step(i, Compact(slot=node.applied_slot, snapshot=snap))

    # ------------------------------------------------------------------ network and time
    def deliver(self, index: int = 0) -> None:
        src, dst, msg = self.network.pop(index)
        if self.nodes[dst].alive and self.nodes[src].alive:
            self.step(dst, Receive(src=src, msg=msg))

    def deliver_all(self, *, drop: Callable[[int, int, object], bool] | None = None,
                    limit: int = 100_000) -> None:
        for _ in range(limit):
            idx = 0
            if self.paused:
                idx = next((k for k, m in enumerate(self.network) if m[1] not in self.paused),
                           -1)
            if idx < 0 or not self.network:
                return
            src, dst, msg = self.network[idx]
            if drop is not None and drop(src, dst, msg):
                self.network.pop(idx)
                continue
            self.deliver(idx)
        raise AssertionError("network did not quiesce")

    def advance(self, us: int) -> None:
        """Move every clock by ``us`` (no ticks)."""
        for node in self.nodes.values():
            node.clock_us += us

    def tick_due(self) -> None:
        for i, node in self.nodes.items():
            due = node.timer_us is not None and node.timer_us <= node.clock_us
            if i not in self.paused and node.alive and due:
                self.step(i, Tick())

    def run(self, duration_us: int, *, drop: Callable[[int, int, object], bool] | None = None
            ) -> None:
        """Deliver everything, then jump to the next timer, until ``duration_us`` passed."""
        end = {i: n.clock_us + duration_us for i, n in self.nodes.items()}
        while True:
            self.deliver_all(drop=drop)
            due = [
                (n.timer_us - n.clock_us, i)
                for i, n in self.nodes.items()
                if n.alive and n.timer_us is not None and i not in self.paused
            ]
            if not due:
                break
            wait, i = min(due)
            wait = max(wait, 0)
            if self.nodes[i].clock_us + wait > end[i]:
                break
            self.advance(wait)
            self.step(i, Tick())
        for i, n in self.nodes.items():
            n.clock_us = max(n.clock_us, end[i])

    def leader(self) -> int | None:
        leaders = [i for i, n in self.nodes.items() if n.alive and n.replica.role is Role.LEADER]
        return leaders[-1] if leaders else None

    def elect(self, max_us: int = 5_000_000) -> int:
        """Run until some replica serves; return its id."""
        for _ in range(max_us // 10_000):
            self.run(10_000)
            for i, n in self.nodes.items():
                if n.alive and n.replica.is_serving(n.clock_us):
                    return i
        raise AssertionError("no leader elected")

    # ------------------------------------------------------------------ faults
    def crash(self, i: int) -> None:
        node = self.nodes[i]
        node.alive = False
        node.timer_us = None
        self.network = [m for m in self.network if m[0] != i and m[1] != i]

    def restart(self, i: int) -> None:
        node = self.nodes[i]
        node.replica = Replica(
            node.config, self.choose, records=list(node.wal), applied_slot=node.applied_slot
        )
        node.alive = True
        self.step(i, Tick())
