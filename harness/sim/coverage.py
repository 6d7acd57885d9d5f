"""What one simulated run exercised, and how a sweep sums it: the harness measuring itself.

A verdict of "passed" says little if the run never partitioned the network, never changed
leader or never left an operation in doubt. `run_coverage` counts, from a finished
`harness.sim.Simulation`, the faults and events of the run; `consensus.probes` counts the
protocol's rare paths (gap fills, lease waits, catch-ups, ...). Both go into the
`harness.sim.runspec.RunResult` (``coverage`` and ``probes``); a sweep adds them up with
`add_counts` and lists the probes that never fired.

Coverage keys (all present in every run, so sums line up):

- ``leader_changes``: a replica became leader; ``step_downs``: a leader stopped leading.
- ``partitions``: by shape (``halves``, ``isolate``, ``isolate-leader``, ``ring``, ``bridge``,
  ``one-way``); ``lossy_periods``: the network dropped and duplicated packets for a while.
- ``crashes``: node crashes by the nemesis; ``fail_stops``: a node stopped on a storage error;
  ``permanent_failures``; ``pauses``; ``clock_steps``.
- ``stale_leader_lease_ticks``: ticks at which a leader still believed it led while its lease
  had run out (probe ``leader.tick-without-lease``).
- ``ops_completed``: client operations completed (eventual reads included; `info_share`
  divides by it); ``info_ops``: those that ended in doubt; ``client_crashes``; ``cas_observed``:
  failed cas checked as reads; ``log_reads_sent`` / ``log_reads_refused``.
- ``catch_ups``: catch-up replies that brought chosen entries; ``snapshot_installs``: a
  replica installed a snapshot (from a peer, or a new leader from a promise).
- ``log_replicas_added``, ``storage_replicas_added``: spares a healing leader started.
- ``disk_faults``: injected disk faults by kind (`storage.simdisk.FAULT_KINDS` but ``crash``).
- ``adversarial_periods``, ``replays`` (batches of old messages sent again), ``handovers``
  (leaders told to step down) and ``strikes`` (a leader isolated while its membership change
  was pending): the targeted faults of the ``adversarial`` and ``permanent`` kinds.
- ``reconfigure_requests``: one-server changes the ``membership`` fault asked a leader for;
  ``config_changes_proposed`` / ``config_changes_committed``: configuration entries leaders
  appended, and those that committed (`harness.sim.membership`; 0 without that fault).

This module imports nothing heavy: sweeps load it without the simulator.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PARTITION_SHAPES: tuple[str, ...] = (
    "halves", "isolate", "isolate-leader", "ring", "bridge", "one-way"
)
DISK_FAULTS: tuple[str, ...] = (
    "bit_flip", "latent_read_error", "misdirected_write", "slow_fsync", "fsync_failure",
    "torn_write",
)


_TARGETED = {
    "adversarial": "adversarial_periods", "replay": "replays", "step-down": "handovers",
    "strike": "strikes", "membership": "reconfigure_requests",
}


def empty_coverage() -> dict[str, Any]:
    """A coverage record with every key at zero."""
    return {
        "leader_changes": 0,
        "step_downs": 0,
        "partitions": dict.fromkeys(PARTITION_SHAPES, 0),
        "lossy_periods": 0,
        "crashes": 0,
        "fail_stops": 0,
        "permanent_failures": 0,
        "pauses": 0,
        "clock_steps": 0,
        "stale_leader_lease_ticks": 0,
        "ops_completed": 0,
        "info_ops": 0,
        "client_crashes": 0,
        "cas_observed": 0,
        "log_reads_sent": 0,
        "log_reads_refused": 0,
        "catch_ups": 0,
        "snapshot_installs": 0,
        "log_replicas_added": 0,
        "storage_replicas_added": 0,
        "disk_faults": dict.fromkeys(DISK_FAULTS, 0),
        "adversarial_periods": 0,
        "replays": 0,
        "handovers": 0,
        "strikes": 0,
        "reconfigure_requests": 0,
        "config_changes_proposed": 0,
        "config_changes_committed": 0,
    }


def run_coverage(sim: Any, probes: Mapping[str, int]) -> dict[str, Any]:
    """Count what the finished simulation ``sim`` exercised (see the module docstring).

    ``probes``: the run's `consensus.probes` counts. Reads only the timeline, the workload,
    the disks and the probes: nothing that could change the run.
    """
    cov = empty_coverage()
    for event in sim.checks.timeline:
        kind = event["kind"]
        if kind == "leader":
            if event["event"] == "elected":
                cov["leader_changes"] += 1
            elif event["event"] == "stepped-down":
                cov["step_downs"] += 1
            continue
        if kind != "fault":
            continue
        fault, detail = event["fault"], event["detail"]
        if fault == "partition":
            shape = detail.split(" ", 1)[0]
            cov["partitions"][shape] = cov["partitions"].get(shape, 0) + 1
        elif fault == "crash":
            cov["fail_stops" if detail.startswith("fail-stop") else "crashes"] += 1
        elif fault == "loss":
            cov["lossy_periods"] += 1
        elif fault == "pause":
            cov["pauses"] += 1
        elif fault == "clock-step":
            cov["clock_steps"] += 1
        elif fault == "permanent":
            cov["permanent_failures"] += 1
        elif fault in _TARGETED:
            cov[_TARGETED[fault]] += 1
        elif fault == "start":
            cov["log_replicas_added" if "log replica" in detail else "storage_replicas_added"] += 1
    changes = getattr(sim, "config_changes", None)
    if changes is not None:
        cov["config_changes_proposed"] = changes.proposed
        cov["config_changes_committed"] = changes.committed
    workload = sim.workload
    cov["ops_completed"] = sum(workload.counts.values())
    cov["info_ops"] = workload.counts.get("info", 0)
    cov["client_crashes"] = workload.crashes
    cov["cas_observed"] = sum(1 for e in workload.recorder.events if e.observed is not None)
    cov["log_reads_sent"] = workload.log_reads["sent"]
    cov["log_reads_refused"] = workload.log_reads["refused"]
    cov["stale_leader_lease_ticks"] = probes.get("leader.tick-without-lease", 0)
    cov["catch_ups"] = probes.get("catch-up.entries-applied", 0)
    cov["snapshot_installs"] = (
        probes.get("catch-up.snapshot-installed", 0) + probes.get("phase1.snapshot-adopted", 0)
    )
    for n in sorted(sim.hosts):
        counts = getattr(sim.hosts[n].disk, "fault_counts", None)
        if counts:
            for fault in DISK_FAULTS:
                cov["disk_faults"][fault] += counts.get(fault, 0)
    return cov


def info_share(coverage: Mapping[str, Any]) -> float:
    """The share of completed operations that ended in doubt (0.0 when there were none)."""
    done = coverage.get("ops_completed", 0)
    return float(coverage.get("info_ops", 0)) / done if done else 0.0


def add_counts(total: dict[str, Any], part: Mapping[str, Any]) -> dict[str, Any]:
    """Add ``part`` into ``total`` in place (ints add, nested dicts add key by key); returns
    ``total``."""
    for key, value in part.items():
        if isinstance(value, Mapping):
            add_counts(total.setdefault(key, {}), value)
        else:
            total[key] = total.get(key, 0) + value
    return total
