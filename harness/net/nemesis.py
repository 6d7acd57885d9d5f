"""The real nemesis: faults on node processes and links while a load runs.

`RealNemesis` starts a `LocalCluster` whose peer links all go through `FaultProxy` instances
(node i dials node j > i at the proxy of link (i, j)), then, until stopped, waits a while and
injects one fault drawn from the enabled kinds (`KINDS`; every enabled kind once, in a drawn
order, before any repeats), holds it, heals it:

- ``kill``: SIGKILL a node process, restart it after 0.3-1.0 s (it recovers from its disk);
- ``pause``: SIGSTOP a node for 1.5-2x the lease, then SIGCONT (a paused leader's lease runs
  out while it cannot tell);
- ``partition``: cut every link of one node (both directions), heal after 1-2 s;
- ``net``: one link misbehaves for about a second: drop, delay, one-way, truncate, corrupt
  or duplicate (`harness.net.proxy`).

Every draw comes from ``random.Random(seed)``; every fault is logged with wall time (ISO 8601
UTC) and seconds since the run started (``t_s``, the monotonic clock, from the origin the
session also gives the load's history: `RealNemesis.set_origin`), at start and at end
(`events`; `write_nemesis_log` writes them as JSON lines, ``nemesis.jsonl``). The cluster's own
timing is real, so a seed repeats the faults drawn, not the run.
"""

from __future__ import annotations

import datetime
import json
import logging
import random
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import trio

from harness.net.config import ClusterConfig
from harness.net.local import LocalCluster
from harness.net.proxy import FaultProxy

log = logging.getLogger(__name__)

KINDS: tuple[str, ...] = ("kill", "pause", "partition", "net")
NET_FAULTS: tuple[str, ...] = ("drop", "delay", "one-way", "truncate", "corrupt", "duplicate")


PHASES: tuple[str, ...] = ("start", "end")
EVENT_FIELDS: tuple[str, ...] = ("wall", "t_s", "phase", "fault", "nodes", "detail")
"""The fields of one logged fault event, in the order they are written."""


def write_nemesis_log(path: str | Path, events: Iterable[dict[str, Any]]) -> None:
    """Write fault events (see `RealNemesis.events`) as JSON lines, one compact object each."""
    with Path(path).open("w", encoding="utf-8") as fh:
        for event in events:
            fh.write(json.dumps({k: event[k] for k in EVENT_FIELDS}) + "\n")


def parse_kinds(text: str) -> tuple[str, ...]:
    """``"kill,pause"`` -> ("kill", "pause"); raises ValueError naming an unknown kind."""
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    for k in kinds:
        if k not in KINDS:
            raise ValueError(f"unknown nemesis fault {k!r}; choose from {', '.join(KINDS)}")
    return kinds


class RealNemesis:
    """Proxies, processes and faults of one run (see module doc).

    Args:
        config: the cluster (its nodes must not be running yet).
        kinds: the fault kinds enabled (empty: no faults, proxies only).
        seed: seeds every draw.
        interval_s: pause between faults is drawn from [interval_s/2, interval_s].
    """

    def __init__(self, config: ClusterConfig, kinds: tuple[str, ...], seed: int,
                 interval_s: float = 1.5) -> None:
        self.config = config
        self.kinds = kinds
        self.rng = random.Random(seed)
        self.interval_s = interval_s
        self.proxies: dict[tuple[int, int], FaultProxy] = {}
        self.cluster: LocalCluster | None = None
        self.events: list[dict[str, Any]] = []
        self.started = time.monotonic()
        self.lease_s = config.timing.lease_duration_us / 1e6

    async def start(self, nursery: trio.Nursery) -> LocalCluster:
        """Start the proxies (in ``nursery``) and every node behind them."""
        ids = self.config.ids
        peer_addrs: dict[int, dict[int, tuple[str, int]]] = {n: {} for n in ids}
        for i in ids:
            for j in ids:
                if i < j:
                    proxy = FaultProxy(i, j, self.config.node(j).port,
                                       random.Random(self.rng.getrandbits(64)))
                    port = await nursery.start(proxy.run)
                    self.proxies[i, j] = proxy
                    peer_addrs[i][j] = ("127.0.0.1", port)
        self.cluster = LocalCluster(self.config, peer_addrs)
        self.cluster.start_all()
        self.started = time.monotonic()
        return self.cluster

    def set_origin(self, origin_s: float) -> None:
        """Measure ``t_s`` from ``origin_s`` (a `time.monotonic` value): the load's start."""
        self.started = origin_s

    def _log(self, phase: str, fault: str, nodes: list[int], detail: str = "") -> None:
        wall = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
        event = {"wall": wall, "t_s": round(time.monotonic() - self.started, 3),
                 "phase": phase, "fault": fault, "nodes": nodes, "detail": detail}
        self.events.append(event)
        log.info("nemesis %s %s nodes=%s %s", phase, fault, nodes, detail)

    async def run(self, stop: trio.Event) -> None:
        """Inject faults until ``stop`` is set; every fault is healed before returning."""
        if not self.kinds:
            await stop.wait()
            return
        # each enabled kind once (in a drawn order) before any repeats
        first_round: list[str] = []
        while not stop.is_set():
            with trio.move_on_after(self.rng.uniform(self.interval_s / 2, self.interval_s)):
                await stop.wait()
            if stop.is_set():
                break
            if not first_round:
                first_round = list(self.kinds)
                self.rng.shuffle(first_round)
                first_round += [
                    self.kinds[self.rng.randrange(len(self.kinds))] for _ in range(1000)
                ]
            kind = first_round.pop(0)
            with trio.CancelScope(shield=True):
                await getattr(self, f"_{kind}")()

    def _node(self) -> int:
        ids = self.config.ids
        return ids[self.rng.randrange(len(ids))]

    async def _kill(self) -> None:
        assert self.cluster is not None
        node = self._node()
        down_s = self.rng.uniform(0.3, 1.0)
        self._log("start", "kill", [node], f"SIGKILL, restart after {down_s:.2f}s")
        self.cluster.kill(node)
        await trio.sleep(down_s)
        self.cluster.start(node)
        self._log("end", "kill", [node], "restarted")

    async def _pause(self) -> None:
        assert self.cluster is not None
        node = self._node()
        hold_s = self.lease_s * self.rng.uniform(1.5, 2.0)
        self._log("start", "pause", [node], f"SIGSTOP for {hold_s:.2f}s")
        self.cluster.pause(node)
        await trio.sleep(hold_s)
        self.cluster.resume(node)
        self._log("end", "pause", [node], "SIGCONT")

    async def _partition(self) -> None:
        node = self._node()
        hold_s = self.rng.uniform(1.0, 2.0)
        links = [p for (a, b), p in self.proxies.items() if node in (a, b)]
        self._log("start", "partition", [node], f"isolated for {hold_s:.2f}s")
        for p in links:
            p.partition()
        await trio.sleep(hold_s)
        for p in links:
            p.heal()
        self._log("end", "partition", [node], "healed")

    async def _net(self) -> None:
        if not self.proxies:
            return
        keys = sorted(self.proxies)
        a, b = keys[self.rng.randrange(len(keys))]
        proxy = self.proxies[a, b]
        fault = NET_FAULTS[self.rng.randrange(len(NET_FAULTS))]
        forward = self.rng.random() < 0.5
        faults = proxy.forward if forward else proxy.backward
        src, dst = (a, b) if forward else (b, a)
        hold_s = self.rng.uniform(0.5, 1.5)
        if fault == "drop":
            faults.drop = 0.3
        elif fault == "delay":
            faults.delay_s = self.rng.uniform(0.02, 0.2)
        elif fault == "one-way":
            faults.blocked = True
        elif fault == "truncate":
            faults.truncate = True
        elif fault == "corrupt":
            faults.corrupt = 0.2
        else:
            faults.duplicate = 0.3
        self._log("start", "net", [src, dst], f"{fault} n{src}->n{dst} for {hold_s:.2f}s")
        await trio.sleep(hold_s)
        proxy.heal()
        self._log("end", "net", [src, dst], f"{fault} healed")

    def heal_all(self) -> None:
        """Resume every node, heal every link, restart every node that is not running."""
        assert self.cluster is not None
        for n in self.config.ids:
            self.cluster.resume(n)
        for p in self.proxies.values():
            p.heal()
        running = set(self.cluster.running())
        for n in self.config.ids:
            if n not in running:
                self.cluster.start(n)
        self._log("end", "heal", list(self.config.ids), "all resumed, healed, running")
