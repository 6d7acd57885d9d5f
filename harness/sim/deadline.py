"""The liveness deadline: how long a healed group may take to converge, from the work left.

A fixed bound is wrong both ways: too short where the group must copy gigabytes to rebuild a
replica (10 GB over 100 MB/s is 100 s of pure transfer), too long to catch a stall where
there is nothing to do. So once the fault phase is over the simulator allows the sum of:

- ``settle_us``: `SimOptions.liveness_bound_us`, the allowance for the protocol's ordinary
  round trips, retries and catch-up (what the fixed bound used to be);
- ``election_us``: one election in the worst case: the longest election timeout with its
  jitter, twice (a split vote), and a new leader waiting out its predecessor's lease scaled
  by rho (``lease * (1 + rho) / (1 - rho)``), all converted from local to true time at the
  slowest allowed rate;
- ``detector_us``: in a group that heals (spares), the failure detector's
  ``replica_dead_after_us`` before the leader replaces a dead replica;
- ``copy_us``: with link bandwidth on (`harness.sim.links`), the data still to move: the
  longest backlog already queued on any directed link, plus one full snapshot for every
  storage spare that may still have to be rebuilt (``snapshot_bytes``, or the largest real
  snapshot when that is 0), divided by the bandwidth.

`LivenessBound` keeps the parts so a liveness violation can say what it allowed.
"""

from __future__ import annotations

import math
from typing import Any

import attrs

from consensus import Timing
from harness.sim.links import Links, message_bytes

_PPM = 1_000_000


@attrs.frozen(kw_only=True)
class LivenessBound:
    """The parts of one run's liveness deadline (true microseconds); see the module doc."""

    settle_us: int
    election_us: int
    detector_us: int
    copy_us: int

    @property
    def total_us(self) -> int:
        """The whole allowance after healing."""
        return self.settle_us + self.election_us + self.detector_us + self.copy_us

    def describe(self) -> str:
        """One line naming each part, for violation messages and logs."""
        return (
            f"{self.total_us}us (settle {self.settle_us}us, election {self.election_us}us, "
            f"detector {self.detector_us}us, copy {self.copy_us}us)"
        )


def election_us(timing: Timing) -> int:
    """True time one election may take in the worst case (see the module doc)."""
    rho = timing.drift_bound_ppm
    slow = _PPM - rho  # the slowest rate a safe local clock may run at
    timeout_local = 2 * (timing.election_timeout_us + timing.election_jitter_us)
    lease_wait_local = -(-timing.lease_duration_us * (_PPM + rho) // slow)
    return -(-(timeout_local + lease_wait_local) * _PPM // slow)


def copy_us(links: Links | None, now_us: int, snapshot_bytes: int, rebuilds: int) -> int:
    """True time to drain every link's backlog, then copy ``rebuilds`` snapshots of
    ``snapshot_bytes`` each over one link (0 without bandwidth limits)."""
    if links is None:
        return 0
    backlog = max((free - now_us for free in links.free_at_us.values()), default=0)
    total_bytes = rebuilds * snapshot_bytes
    transfer = math.ceil(total_bytes * 1e6 / (links.bandwidth_mb_s * 1e6))  # as Links.depart
    return max(backlog, 0) + transfer


def snapshot_size(links: Links, kv_snapshots: list[bytes]) -> int:
    """What copying one snapshot costs on a link: `message_bytes` of the largest one."""

    class _Carrier:
        def __init__(self, snapshot: bytes) -> None:
            self.snapshot = snapshot

    largest = max(kv_snapshots, key=len, default=b"")
    return message_bytes(_Carrier(largest or b"\0"), links.snapshot_bytes)


def liveness_bound(sim: Any) -> LivenessBound:
    """The deadline's parts for ``sim`` (a `harness.sim.Simulation`) as its liveness phase
    begins."""
    so = sim.so
    group = sim.group
    healing = bool(group.spares or group.log_spares)
    copy = 0
    links = sim.links
    if links is not None:
        snapshots = [
            host.kv.snapshot() for n, host in sorted(sim.hosts.items()) if host.kv is not None
        ]
        copy = copy_us(links, sim.now, snapshot_size(links, snapshots), len(group.spares))
    return LivenessBound(
        settle_us=so.liveness_bound_us,
        election_us=election_us(sim.timing),
        detector_us=group.dead_after_us if healing else 0,
        copy_us=copy,
    )
