"""A seeded randomized driver for a `Group`: delivery order and delay, drops, duplicates,
crashes (rebuilt from the persisted records), partitions, drifting clocks, client traffic.

Every step is checked by the group's `Checker`; a violation raises `group.Violation`.
"""

from __future__ import annotations

import heapq
import random

import attrs

from consensus.events import ClientRead, ClientWrite, Reconfigure, StepDown
from consensus.raft import Role
from tests.consensus.raft.group import Group, Msg


@attrs.frozen
class Faults:
    drop: float = 0.05
    dup: float = 0.03
    chaos: bool = True  # crashes, partitions and reconfigurations at random
    delay_us: tuple[int, int] = (1_000, 30_000)
    reconfigure: bool = False


class Driver:
    """Runs a group for ``duration_us`` of true time from ``seed``."""

    def __init__(self, group: Group, seed: int, faults: Faults = Faults()) -> None:
        self.g = group
        self.rng = random.Random(seed)
        self.faults = faults
        self.now = 0
        self.queue: list[tuple[int, int, str, object]] = []
        self.seq = 0
        self.blocked: set[tuple[int, int]] = set()
        self.request = 0
        self.armed: dict[int, int] = {}

    def push(self, at: int, kind: str, payload: object) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (at, self.seq, kind, payload))

    def _timers(self) -> None:
        g = self.g
        for i, at in g.timer.items():
            if at is not None and g.nodes[i] is not None:
                self.push(max(self.now, g.true_of(i, at)), "timer", (i, at))
                self.armed[i] = at
                g.timer[i] = None

    def _send_out(self) -> None:
        g, f, rng = self.g, self.faults, self.rng
        for m in g.outbox:
            if (m.src, m.dst) in self.blocked or rng.random() < f.drop:
                continue
            copies = 2 if rng.random() < f.dup else 1
            for _ in range(copies):
                self.push(self.now + rng.randint(*f.delay_us), "msg", m)
        g.outbox = []

    def run(self, duration_us: int, fresh: bool = True) -> None:
        """Run until true time ``duration_us``; a violation raises `group.Violation`."""
        g, rng, f = self.g, self.rng, self.faults
        self._timers()
        if fresh:
            self.push(rng.randint(0, 50_000), "client", None)
            if f.chaos:
                self.push(rng.randint(0, 200_000), "chaos", None)
        while self.queue:
            if self.queue[0][0] > duration_us:
                break
            at, _, kind, payload = heapq.heappop(self.queue)
            self.now = at
            if kind == "msg":
                assert isinstance(payload, Msg)
                if (payload.src, payload.dst) not in self.blocked:
                    g.deliver(payload, at)
            elif kind == "timer":
                assert isinstance(payload, tuple)
                node, local_at = payload
                if g.nodes[node] is not None and self.armed.get(node) == local_at:
                    g.tick(node, at)
            elif kind == "client":
                self._client()
                self.push(at + rng.randint(5_000, 40_000), "client", None)
            elif kind == "chaos":
                self._chaos(f)
                self.push(at + rng.randint(50_000, 300_000), "chaos", None)
            elif kind == "restart":
                assert isinstance(payload, int)
                g.start(payload, at)
            self._send_out()
            self._timers()

    def until(self, duration_us: int) -> None:
        """Run on from the current time to ``duration_us`` (events already queued kept)."""
        self.run(duration_us, fresh=False)

    def _client(self) -> None:
        g, rng = self.g, self.rng
        live = [i for i in g.ids if g.nodes[i] is not None]
        if not live:
            return
        leaders = [i for i in live if g.node(i).role is Role.LEADER]
        target = rng.choice(leaders) if leaders and rng.random() < 0.8 else rng.choice(live)
        self.request += 1
        if rng.random() < 0.6:
            ev: ClientWrite | ClientRead = ClientWrite(client_id=1, request_id=self.request,
                                     command=b"w%d" % self.request)
        else:
            ev = ClientRead(client_id=1, request_id=self.request, key=b"k", strong=True)
        g.step(target, ev, self.now)

    def _chaos(self, f: Faults) -> None:
        g, rng = self.g, self.rng
        roll = rng.random()
        live = [i for i in g.ids if g.nodes[i] is not None]
        down = [i for i in g.ids if g.nodes[i] is None]
        if roll < 0.15 and len(down) < (len(g.members) - 1) // 2 and live:
            i = rng.choice(live)
            g.crash(i)
            self.armed.pop(i, None)
            self.push(self.now + rng.randint(100_000, 2_000_000), "restart", i)
        elif roll < 0.30:
            a, b = rng.sample(list(g.ids), 2)
            self.blocked |= {(a, b), (b, a)} if rng.random() < 0.5 else {(a, b)}
        elif roll < 0.50:
            self.blocked = set()
        elif roll < 0.53:
            leaders = [i for i in live if g.node(i).role is Role.LEADER]
            if leaders:
                g.step(leaders[0], StepDown(), self.now)
        elif roll < 0.58 and f.reconfigure:
            leaders = [i for i in live if g.node(i).role is Role.LEADER]
            if leaders:
                voters = tuple(sorted(rng.sample(list(g.ids), rng.randint(1, len(g.ids)))))
                if leaders[0] not in voters:
                    voters = tuple(sorted((*voters, leaders[0])))
                learners = tuple(i for i in g.ids if i not in voters and rng.random() < 0.5)
                g.step(leaders[0], Reconfigure(storage=voters, logs=learners), self.now)
