"""The floor under the simulator's message rate: protocol and storage with no harness at all.

    python -m benchmarks.sim_floor [--ops N] [--replicas N] [--clients N]

Three `harness.runtime.host.Host`s (the real `consensus.Replica`, WAL and KV store on a `SimDisk`
without faults, exactly what the simulator runs) driven by a plain loop: a heap of
deliveries (500 us per link, nothing lost), timers at true time, clients that write ``put``
commands to the leader, one outstanding each. No trio, no nemesis, no online invariants, no
trace, no history. What it measures is what any simulator of this protocol must spend per
delivered message before checking anything, so `benchmarks.sim`'s message rate can never
exceed it. (It showed the old target of 50,000 delivered messages per second per core out of
reach of this code on this interpreter, whatever the harness does; the simulator's targets
are now CPU per default run and seeds per minute of the main job, `benchmarks.sim --compare`.)
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import itertools
import logging
import time
from typing import Any

from consensus.events import ClientWrite, Receive, Tick
from harness.runtime.chooser import Chooser
from harness.runtime.host import ClientOutcome, Host, default_backend

LINK_US = 500


class _Loop:
    """Transport, timers and clients for `Host`s, over one heap ordered by true time."""

    def __init__(self, replicas: int, clients: int, ops: int) -> None:
        backend = default_backend()
        chooser = Chooser(0)
        members = tuple(range(replicas))
        self.now = 0
        self.heap: list[tuple[int, int, str, Any]] = []
        self.seq = itertools.count()
        self.timer_gen = dict.fromkeys(members, 0)
        self.delivered = 0
        self.acked = 0
        self.answered = 0
        self.ops_left = ops
        self.leader = 0
        self.req = dict.fromkeys(range(1, clients + 1), 0)
        self.hosts = {
            n: Host(
                n,
                backend.make_disk(n, None, chooser),
                make_replica=backend.replica_factory(n, members, None, chooser),
                open_storage=backend.open_storage,
                transport=self,
                clients=self,
                timers=self,
            )
            for n in members
        }
        self.encode = backend.encode

    def _push(self, at: int, kind: str, payload: Any) -> None:
        heapq.heappush(self.heap, (at, next(self.seq), kind, payload))

    # ports
    def send(self, src: int, dst: int, msg: Any, extra_delay_us: int) -> None:
        self._push(self.now + LINK_US + extra_delay_us, "msg", (src, dst, msg))

    def set_timer(self, node: int, at_local_us: int) -> None:
        self.timer_gen[node] += 1
        self._push(at_local_us, "timer", (node, self.timer_gen[node]))

    def answer(
        self, node: int, client_id: int, request_id: int, outcome: ClientOutcome,
        extra_delay_us: int,
    ) -> None:
        self.answered += 1
        if outcome.status == "ok":
            self.acked += 1
            delay = LINK_US
        else:
            if outcome.leader_hint is not None:
                self.leader = outcome.leader_hint
            delay = 10_000
        self._push(self.now + extra_delay_us + delay, "client", client_id)

    def read_served(self, node: int, strong: bool, key: bytes, value: bytes | None) -> None:
        pass

    def start_replica(self, node: int, log_replica: bool) -> None:
        raise AssertionError("no spares here")

    # the loop
    def run(self) -> None:
        for host in self.hosts.values():
            host.start(0)
        for client in self.req:
            self._push(1_000_000, "client", client)
        while self.heap and (self.ops_left or self.answered < sum(self.req.values())):
            self.now, _, kind, payload = heapq.heappop(self.heap)
            if kind == "msg":
                src, dst, msg = payload
                self.delivered += 1
                self.hosts[dst].step(Receive(src=src, msg=msg), self.now)
            elif kind == "timer":
                node, gen = payload
                if gen == self.timer_gen[node]:
                    self.hosts[node].step(Tick(), self.now)
            elif self.ops_left:
                client = payload
                self.ops_left -= 1
                self.req[client] += 1
                rid = self.req[client]
                command = self.encode(op="put", key=b"k%d" % (rid % 10), value=b"v%d" % rid,
                                      client_id=client, request_id=rid)
                write = ClientWrite(client_id=client, request_id=rid, command=command)
                self.hosts[self.leader].step(write, self.now)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sim_floor")
    parser.add_argument("--ops", type=int, default=5_000)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--clients", type=int, default=5)
    args = parser.parse_args(argv)
    for name in ("ops", "replicas", "clients"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    logging.getLogger("consensus").setLevel(logging.CRITICAL)
    loop = _Loop(args.replicas, args.clients, args.ops)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    loop.run()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    print(f"{args.replicas} replicas, {args.clients} clients: {loop.acked} writes acknowledged, "
          f"{loop.delivered:,} messages delivered, simulated {loop.now / 1e6:.2f} s")
    print(f"floor: {loop.delivered / wall:,.0f} delivered messages per wall second, "
          f"{loop.delivered / cpu:,.0f} per CPU second ({1e6 * cpu / loop.delivered:.1f} us "
          f"CPU per message)")
    result = f"{loop.delivered},{loop.acked},{loop.now}".encode()
    print(f"result hash: {hashlib.blake2b(result, digest_size=8).hexdigest()}")


if __name__ == "__main__":
    main()
