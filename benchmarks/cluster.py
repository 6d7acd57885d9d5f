"""A real 3-node cluster on loopback: acknowledged writes per second and write latency, with
and without a leader kill.

    python -m benchmarks.cluster [--quick] [--clients 16] [--duration S] [--protocol raft]

Three node processes (`harness.net`, fsync on: every batch of steps is made durable with one
fsync before its messages leave), 16 clients writing ``put``s over 16 keys through the trio
client library, one outstanding request each. Two phases, each on a fresh cluster:

1. no faults: acknowledged writes/s, write latency p50/p99/p99.9/max;
2. the leader is SIGKILLed halfway (restarted 1 s later): the same figures, and the
   unavailability window, the longest gap between acknowledged writes spanning the kill
   (compare with election timeout + jitter + the lease the new leader waits out).

Each phase's history is checked for linearizability. Prints the figures and a result hash (of
the options and verdicts; the figures depend on the machine).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import trio

from harness.checks.linearizability import check_linearizability
from harness.net import procs
from harness.net.config import WIRE_PROTOCOLS, ClusterConfig
from harness.net.load import LoadRun, unavailability_ms
from harness.net.local import LocalCluster, init_cluster

PUTS_ONLY = (1, 0, 0, 0, 0)


async def _kill_leader_at(config: ClusterConfig, cluster: LocalCluster, run: LoadRun,
                          at_s: float, box: dict[str, Any]) -> None:
    await trio.sleep(at_s)
    leader = await procs.wait_serving(config, 5.0)
    if leader is None:
        return
    box["killed_at_s"] = run.now_ns() / 1e9
    box["leader"] = leader
    procs.signal_node(config, leader, signal.SIGKILL)
    await trio.sleep(1.0)
    cluster.start(leader)


async def _phase(config: ClusterConfig, cluster: LocalCluster, run: LoadRun, kill: bool
                 ) -> dict[str, Any]:
    box: dict[str, Any] = {}
    async with trio.open_nursery() as nursery:
        if kill:
            nursery.start_soon(_kill_leader_at, config, cluster, run, run.duration_s / 2, box)
        await run.run(config)
    return box


def phase(folder: Path, clients: int, duration_s: float, kill: bool,
          protocol: str = "multipaxos") -> dict[str, Any]:
    config = init_cluster(folder, 3, protocol=protocol)
    with LocalCluster(config) as cluster:
        cluster.start_all()
        if trio.run(procs.wait_serving, config, 30.0) is None:
            raise SystemExit("benchmarks.cluster: no leader within 30 s")
        run = LoadRun(ops=10**9, clients=clients, keys=16, duration_s=duration_s,
                      weights=PUTS_ONLY, attempt_timeout_s=1.0, op_timeout_s=10.0)
        box = trio.run(_phase, config, cluster, run, kill)
    verdict = check_linearizability(run.recorder.events, "kv", timeout_s=60).verdict
    s = run.summary()
    out = {
        "kill": kill,
        "acked_writes_per_s": s["acked_writes_per_s"],
        "write_latency_ms": s["write_latency_ms"],
        "counts": s["counts"],
        "verdict": verdict,
    }
    if kill and "killed_at_s" in box:
        out["unavailability_ms"] = unavailability_ms(run.acked_at, box["killed_at_s"])
        t = config.timing
        out["election_plus_lease_ms"] = (
            t.election_timeout_us, t.election_timeout_us + t.election_jitter_us,
            t.lease_duration_us,
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 s phases")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    parser.add_argument("--protocol", choices=WIRE_PROTOCOLS, default="multipaxos",
                        help="what the nodes run (default multipaxos)")
    args = parser.parse_args()
    duration = 3.0 if args.quick else args.duration
    results = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="paxlab-bench-") as tmp:
        for kill in (False, True):
            r = phase(Path(tmp) / ("kill" if kill else "steady"), args.clients, duration, kill,
                      args.protocol)
            results.append(r)
            lat = r["write_latency_ms"]
            line = (f"{'leader kill' if kill else 'no faults'}: {r['acked_writes_per_s']} "
                    f"acknowledged writes/s, write latency ms p50 {lat['p50']} p99 {lat['p99']} "
                    f"p99.9 {lat['p99.9']} max {lat['max']}, {r['verdict']}")
            if "unavailability_ms" in r:
                e_min, e_max, lease = r["election_plus_lease_ms"]
                line += (f", unavailability {r['unavailability_ms']} ms (election timeout "
                         f"{e_min // 1000}-{e_max // 1000} ms + lease {lease // 1000} ms)")
            print(line)
    digest = hashlib.blake2b(
        json.dumps([args.clients, duration, [r["verdict"] for r in results]]
                   + ([args.protocol] if args.protocol != "multipaxos" else [])).encode(),
        digest_size=8,
    ).hexdigest()
    print(f"wall {time.monotonic() - started:.1f}s result hash {digest}")


if __name__ == "__main__":
    main()
