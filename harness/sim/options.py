"""`SimOptions`: the simulator's settings beyond `harness.sim.runspec.RunOptions`."""

from __future__ import annotations

import attrs

from harness.sim.clock import ClockOptions
from harness.sim.nemesis import NemesisOptions
from harness.sim.workload import LINEARIZABILITY_TIMEOUT_S, WorkloadOptions


@attrs.frozen(kw_only=True)
class SimOptions:
    """Simulator settings beyond `RunOptions` (defaults are the standard run).

    Attributes:
        client_delay_min_us, client_delay_jitter_us: one-way client <-> node delay.
        checkpoint_every: applied slots between KV checkpoints and log compaction.
        liveness_bound_us: after healing, the time allowed to settle beyond the work left
            (elections, detection, copying: `harness.sim.deadline`).
        liveness_check_us: how often convergence is checked.
        fault_phase_max_us: clients start no new operation after this true time.
        failstop_restart_us: a node that fail-stopped on a storage error restarts after this.
        online_invariants: check `harness.checks.invariants` after every step.
        check_history: check the history for linearizability (S8) at the end.
        linearizability_timeout_s: the wall-clock budget of that check; when it runs out
            the run's verdict is "unknown" (never a pass), so this is machine-dependent.
        max_steps: a run taking more steps is a liveness failure (a livelock guard).
        replica_dead_after_us: with spares (the ``permanent`` fault), how long a leader hears
            nothing from a storage replica before it replaces it.
        log_replicas: log replicas in the initial configuration (beside ``replicas``).
        bandwidth_mb_s: per directed link (`harness.sim.links`); 0 = packets have no size.
        snapshot_bytes: with a bandwidth, what a message carrying a snapshot is charged
            (0 = its real size).
        buggify: draw the engine's sizes and intervals small and odd per run
            (`harness.sim.buggify`; only for a backend that takes them). Off, or choice 0,
            they are the defaults (``checkpoint_every`` above, the storage's and replica's).
    """

    nemesis: NemesisOptions = attrs.field(factory=NemesisOptions)
    workload: WorkloadOptions = attrs.field(factory=WorkloadOptions)
    clock: ClockOptions = attrs.field(factory=ClockOptions)
    client_delay_min_us: int = 100
    client_delay_jitter_us: int = 200
    checkpoint_every: int = 256
    liveness_bound_us: int = 10_000_000
    liveness_check_us: int = 50_000
    fault_phase_max_us: int = 120_000_000
    failstop_restart_us: int = 200_000
    online_invariants: bool = True
    check_history: bool = True
    linearizability_timeout_s: float = attrs.field(
        default=LINEARIZABILITY_TIMEOUT_S, validator=attrs.validators.ge(0)
    )
    max_steps: int = 5_000_000
    replica_dead_after_us: int = 1_000_000
    log_replicas: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    bandwidth_mb_s: float = attrs.field(default=0.0, validator=attrs.validators.ge(0))
    snapshot_bytes: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    buggify: bool = True
