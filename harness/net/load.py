"""Drive a real cluster with K clients, record the history, measure latency.

The operation mix is the simulator's (`harness.sim.workload`): put, strong get, cas, append
and eventual get over keys ``k0..k{keys-1}``, written values unique per write (``c3-17``),
eventual reads counted but kept out of the checked history. Draws come from a
``random.Random`` seeded per client from ``seed`` (the op mix repeats; the cluster's timing
does not). Keys on the wire carry a per-run tag (`LoadRun.wire_key`). History times are
nanoseconds since the run started (`time.monotonic_ns`); order is the order events were
recorded, in one trio thread, so "completed before invoked" is real.

Latency (microseconds, an `hdrh` histogram) is measured for every ok operation, writes alone
in ``write_latency``. `final_reads` appends one strong read of every key to the same history,
which is how durability is checked: an acknowledged write lost after a restart makes a final
read non-linearizable.
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from typing import Any

import attrs
import trio
from hdrh.histogram import HdrHistogram

from harness.checks.history import HistoryRecorder
from harness.net.client import Client, OpResult
from harness.net.config import ClusterConfig

log = logging.getLogger(__name__)

OPS: tuple[str, ...] = ("put", "get", "cas", "append", "get-eventual")
_WEIGHTS = (35, 25, 10, 25, 5)
_WRITES = frozenset(("put", "cas", "append"))


def new_histogram() -> HdrHistogram:
    """Microseconds, 1 us to 10 min, 3 significant digits."""
    return HdrHistogram(1, 600_000_000, 3)


def percentiles_ms(h: HdrHistogram) -> dict[str, float]:
    """p50, p99, p99.9 and max of ``h`` (recorded in us), in milliseconds."""
    if h.get_total_count() == 0:
        return {"p50": 0.0, "p99": 0.0, "p99.9": 0.0, "max": 0.0}
    return {
        "p50": h.get_value_at_percentile(50.0) / 1000,
        "p99": h.get_value_at_percentile(99.0) / 1000,
        "p99.9": h.get_value_at_percentile(99.9) / 1000,
        "max": h.get_max_value() / 1000,
    }


@attrs.define
class LoadRun:
    """One load run's options and what it recorded.

    ``weights``: relative odds of each of `OPS` (the default mixes all five; ``(1, 0, 0, 0,
    0)`` is puts only).

    ``acked_at`` lists (seconds since start) of every ok write, for throughput over time and
    the unavailability window of a fault.
    """

    ops: int
    clients: int
    keys: int = 5
    duration_s: float = 0.0
    seed: int = 0
    attempt_timeout_s: float = 1.0
    op_timeout_s: float = 5.0
    weights: tuple[int, ...] = _WEIGHTS
    recorder: HistoryRecorder = attrs.field(factory=HistoryRecorder)
    latency: HdrHistogram = attrs.field(factory=new_histogram)
    write_latency: HdrHistogram = attrs.field(factory=new_histogram)
    counts: dict[str, int] = attrs.field(factory=lambda: {"ok": 0, "fail": 0, "info": 0})
    acked_at: list[float] = attrs.field(factory=list)
    started_ns: int = attrs.field(factory=time.monotonic_ns)
    elapsed_s: float = 0.0
    _remaining: int = 0

    run_tag: str = attrs.field(factory=lambda: secrets.token_hex(4))
    # The fault log so far, shared with the session's nemesis: an interrupted run keeps it.
    nemesis_events: list[dict[str, Any]] = attrs.field(factory=list)
    started_wall: str = ""  # ISO 8601 UTC wall time of the load's start ("" before it)

    def wire_key(self, key: str) -> bytes:
        """The key on the wire: the history's key under this run's tag, so every run starts
        from absent keys even on a cluster that served earlier runs."""
        return f"{self.run_tag}/{key}".encode()

    def now_ns(self) -> int:
        return time.monotonic_ns() - self.started_ns

    async def run(self, config: ClusterConfig, started_ns: int | None = None) -> None:
        """Run the clients until ``ops`` operations are done or ``duration_s`` (if > 0) passed.

        ``started_ns`` (a `time.monotonic_ns` value, default now) is the origin of the
        history's times; a session passes the one it also gives the nemesis, so fault times
        and operation times share one axis.
        """
        self._remaining = self.ops
        self.started_ns = time.monotonic_ns() if started_ns is None else started_ns
        deadline = trio.current_time() + (self.duration_s or 1e9)
        try:
            async with trio.open_nursery() as nursery:
                for p in range(self.clients):
                    nursery.start_soon(self._client, config, p, deadline)
        finally:  # an interrupted run's figures count up to the interrupt
            self.elapsed_s = self.now_ns() / 1e9

    def _client_of(self, config: ClusterConfig) -> Client:
        return Client(config, attempt_timeout_s=self.attempt_timeout_s,
                      op_timeout_s=self.op_timeout_s)

    async def _client(self, config: ClusterConfig, process: int, deadline: float) -> None:
        rng = random.Random(self.seed * 1_000_003 + process)
        client = self._client_of(config)
        seen: dict[str, str | None] = {}
        seq = 0
        try:
            while self._remaining > 0 and trio.current_time() < deadline:
                self._remaining -= 1
                seq += 1
                op = rng.choices(OPS, self.weights)[0]
                key = f"k{rng.randrange(self.keys)}"
                await self._one(client, process, op, key, f"c{process}-{seq}", seen)
        finally:
            await client.aclose()

    async def _one(self, client: Client, process: int, op: str, key: str, value: str,
                   seen: dict[str, str | None]) -> None:
        bkey = self.wire_key(key)
        rec = self.recorder
        started = time.monotonic_ns()
        if op == "get-eventual":
            result = await client.get(bkey, strong=False)
            self.counts[result.type] += 1
            return
        hist_value: Any
        if op == "get":
            rec.invoke(process, "get", key, None, time=self.now_ns())
            result = await client.get(bkey)
        elif op == "cas":
            expected = seen.get(key)
            hist_value = (expected, value)
            rec.invoke(process, "cas", key, hist_value, time=self.now_ns())
            result = await client.cas(bkey, None if expected is None else expected.encode(),
                                      value.encode())
        elif op == "append":
            value += ";"
            rec.invoke(process, "append", key, value, time=self.now_ns())
            result = await client.append(bkey, value.encode())
        else:
            rec.invoke(process, "put", key, value, time=self.now_ns())
            result = await client.put(bkey, value.encode())
        now = self.now_ns()
        self._record(process, op, result, now)
        if result.type == "ok":
            us = max(1, (time.monotonic_ns() - started) // 1000)
            self.latency.record_value(us)
            if op in _WRITES:
                self.write_latency.record_value(us)
                self.acked_at.append(now / 1e9)
            if op == "get" or op == "append":
                seen[key] = None if result.value is None else result.value.decode()
            elif op in ("put", "cas"):
                seen[key] = value
        elif op == "cas" and result.error == "cas-mismatch":
            seen[key] = None if result.value is None else result.value.decode()

    def _record(self, process: int, op: str, result: OpResult, now: int) -> None:
        self.counts[result.type] += 1
        if op == "get":
            value = None if result.value is None else result.value.decode()
            if result.type == "ok":
                self.recorder.complete(process, "ok", value, time=now)
            else:  # a read that got no answer changed nothing
                self.recorder.complete(process, "fail", time=now, error=result.error)
            return
        self.recorder.complete(process, result.type, time=now, error=result.error)

    async def final_reads(self, config: ClusterConfig, timeout_s: float = 10.0) -> list[str]:
        """Strongly read every key once (process id ``clients``); returns keys never read."""
        client = Client(config, attempt_timeout_s=1.0, op_timeout_s=timeout_s)
        process = self.clients
        failed: list[str] = []
        try:
            for i in range(self.keys):
                key = f"k{i}"
                self.recorder.invoke(process, "get", key, None, time=self.now_ns())
                result = await client.get(self.wire_key(key))
                now = self.now_ns()
                if result.type == "ok":
                    value = None if result.value is None else result.value.decode()
                    self.recorder.complete(process, "ok", value, time=now)
                else:
                    failed.append(key)
                    self.recorder.complete(process, "fail", time=now, error=result.error)
        finally:
            await client.aclose()
        return failed

    def summary(self) -> dict[str, Any]:
        """Counts, throughput (acknowledged writes per second) and latency percentiles (ms)."""
        elapsed = max(self.elapsed_s, 1e-9)
        return {
            "ops": sum(self.counts.values()),
            "counts": dict(self.counts),
            "elapsed_s": round(self.elapsed_s, 3),
            "acked_writes": len(self.acked_at),
            "acked_writes_per_s": round(len(self.acked_at) / elapsed, 1),
            "ops_per_s": round(sum(self.counts.values()) / elapsed, 1),
            "latency_ms": percentiles_ms(self.latency),
            "write_latency_ms": percentiles_ms(self.write_latency),
        }


def unavailability_ms(acked_at: list[float], fault_s: float) -> float:
    """The longest gap between acknowledged writes that spans ``fault_s`` (seconds since
    start), in ms: how long clients saw no write succeed around a fault."""
    before = [t for t in acked_at if t <= fault_s]
    after = [t for t in acked_at if t > fault_s]
    if not after:
        return float("inf")
    start = before[-1] if before else 0.0
    return round((after[0] - start) * 1000, 1)
