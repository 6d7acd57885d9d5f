"""Coverage probes: cheap counters at the protocol's rare paths (FoundationDB's ``TEST``).

``probe(name)`` adds one to a process-wide counter. Nothing in `consensus` reads the counters,
so a probe never changes what a replica does (determinism and fingerprints are untouched), and
it costs one dict update: fine on a hot path, and no I/O. The harness resets the counters
before a simulated run and copies them into the run's result; a sweep sums them and lists the
probes that never fired, which names the rare paths its seeds did not exercise.

Every name is declared in `PROBES` with what it means: an undeclared name raises KeyError at
once, and the never-fired list is complete. A test checks that each declared probe is placed
in the code. Counters are per process (one simulated run at a time per process; the explorer
steps replicas too, and only adds to them).
"""

from __future__ import annotations

PROBES: dict[str, str] = {
    "phase1.gap-filled": "a new leader filled a slot no promise held with a no-op",
    "phase1.value-adopted": "a new leader re-proposed a value accepted under an older ballot",
    "phase1.higher-ballot-won": "two promises held different entries for a slot; the higher won",
    "phase1.snapshot-adopted": "a new leader installed a snapshot carried by a promise",
    "phase1.retried": "phase 1 did not finish in time: a higher round",
    "leader.lease-wait": "a new leader waited out a lease its predecessor may still hold",
    "leader.tick-without-lease": "a leader ticked while its lease had run out (it still led)",
    "leader.check-quorum-step-down": "a leader stepped down: no quorum heard for a timeout",
    "leader.writes-in-doubt": "a leader left with proposed writes answered indeterminate",
    "leader.healing-planned": "a leader planned to replace a replica it no longer hears",
    "membership.change-proposed": "a leader proposed a configuration change",
    "membership.spare-started": "a leader started a spare node (log or storage replica)",
    "follower.gray-check": "a follower timed out and asked its peers if they hear a leader",
    "acceptor.nack": "an acceptor refused a prepare or accept of a stale ballot",
    "acceptor.lease-released": "an acceptor released a lease on a leader's request",
    "acceptor.commit-gap": "a follower could not advance its commit index (gap or old ballot)",
    "catch-up.requested": "a replica asked a peer for chosen entries",
    "catch-up.served": "a replica answered a catch-up request with entries or a snapshot",
    "catch-up.snapshot-chunk": "a replica streamed a chunk of a large snapshot",
    "catch-up.snapshot-installed": "a lagging replica installed a snapshot from a peer",
    "catch-up.entries-applied": "a lagging replica took chosen entries from a catch-up reply",
    "compaction": "a replica compacted its log behind a snapshot",
    "client.refused-not-leader": "a client request reached a replica that does not lead",
    "client.refused-log-replica": "a read reached a log replica, which refused it (S13)",
}

_counts: dict[str, int] = dict.fromkeys(PROBES, 0)


def probe(name: str) -> None:
    """Count one pass through the rare path ``name`` (a key of `PROBES`; else KeyError)."""
    _counts[name] += 1


def reset() -> None:
    """Set every counter to 0 (the harness calls it before a run)."""
    for name in _counts:
        _counts[name] = 0


def counts() -> dict[str, int]:
    """A copy of every counter, declared order, zeros included."""
    return dict(_counts)


def never_fired(totals: dict[str, int]) -> list[str]:
    """The declared probes that ``totals`` (summed counts) shows at 0 or lacks, in order."""
    return [name for name in PROBES if not totals.get(name)]
