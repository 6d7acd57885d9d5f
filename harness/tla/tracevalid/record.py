"""Run a simulation with the NDJSON trace writer attached (`run_traced`).

The protocol decides the writer: Multi-Paxos runs get `NdjsonTraceWriter` (``tla/Paxlab.tla``'s
actions), Raft runs `RaftTraceWriter` (``tla/Raft.tla``'s). The writer is a passive observer:
it wraps the hosts' step observer and the simulator's
crash and recovery notices, so a traced run is the same run (same fingerprint) as an
untraced one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, TextIO

from harness.runtime.host import Backend, default_backend
from harness.sim import SimOptions, Simulation, run
from harness.sim.runspec import RunOptions, RunResult
from harness.tla.tracevalid.raft_writer import RaftTraceWriter
from harness.tla.tracevalid.writer import NdjsonTraceWriter


class TraceWriter(Protocol):
    """What `attach` drives: both protocols' writers."""

    def observe(self, node: int, replica: Any, event: Any, effects: Sequence[Any],
                true_us: int, local_us: int) -> None: ...

    def crashed(self, node: int, true_us: int) -> None: ...

    def recovered(self, node: int, replica: Any, true_us: int, local_us: int) -> None: ...


def attach(sim: Simulation, writer: TraceWriter) -> None:
    """Make ``writer`` see every replica step, crash and recovery of ``sim`` (before it runs)."""
    def observe(n: int, replica: Any, event: Any, effects: list[Any], local: int) -> None:
        writer.observe(n, replica, event, effects, sim.now, local)

    sim.add_step_listener(observe)
    checks = sim.checks
    down, recovered = checks.down, checks.recovered

    def on_down(node: int) -> None:
        down(node)
        writer.crashed(node, sim.now)

    def on_recovered(node: int, replica: Any) -> None:
        recovered(node, replica)
        writer.recovered(node, replica, sim.now, sim.local_now(node))

    checks.down = on_down  # type: ignore[method-assign]
    checks.recovered = on_recovered  # type: ignore[method-assign]


def run_traced(
    options: RunOptions,
    out: TextIO,
    *,
    replay: Sequence[int] | None = None,
    backend: Backend | None = None,
    sim_options: SimOptions | None = None,
) -> RunResult:
    """Run ``options`` and check it, as `harness.sim.run` does (same result, same
    fingerprint; no trace lines kept), writing the NDJSON trace to ``out``."""
    backend = backend or default_backend(protocol=options.protocol)
    timing = backend.timing

    def prepare(sim: Simulation) -> None:
        writer: TraceWriter
        if options.protocol == "raft":
            group = sim.group  # nodes outside the initial configuration wait to be added
            initial = (*group.members, *group.log_members)
            writer = RaftTraceWriter(
                out, group.members, learners=group.log_members,
                extra=[n for n in sim.members if n not in initial], options=options.to_json(),
            )
            attach(sim, writer)
            return
        writer = NdjsonTraceWriter(
            out, sim.members, lease_us=timing.lease_duration_us,
            drift_ppm=timing.drift_bound_ppm, options=options.to_json(),
        )
        attach(sim, writer)

    return run(
        options, replay=replay, keep_trace=False, backend=backend, sim_options=sim_options,
        prepare=prepare,
    )


def run_to_file(options: RunOptions, path: str | Path) -> RunResult:
    """`run_traced` writing the trace to the file ``path`` (created or replaced).

    Raises OSError if the file cannot be written.
    """
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        return run_traced(options, out)
