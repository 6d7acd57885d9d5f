"""`simulate` and `run`: build a `Simulation`, run it under trio, check and report it."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import trio

from consensus import probes
from harness.runtime.chooser import Chooser
from harness.runtime.host import Backend, default_backend
from harness.sim.coverage import run_coverage
from harness.sim.determinism import MockClock, deterministic_scheduling
from harness.sim.options import SimOptions
from harness.sim.runspec import RunOptions, RunResult
from harness.sim.simulation import Simulation
from harness.sim.trace import Trace


def simulate(
    options: RunOptions,
    *,
    replay: Sequence[int] | None = None,
    replay_labels: Sequence[str] | None = None,
    trace: Trace | None = None,
    backend: Backend | None = None,
    sim_options: SimOptions | None = None,
    prepare: Callable[[Simulation], None] | None = None,
) -> Simulation:
    """Run one simulation to its end and return it (unchecked history; see `run`).

    ``prepare`` is called with the built simulation before it runs, to attach passive
    observers (the NDJSON trace writer); it must not change what the run does.
    """
    if backend is None:
        backend = default_backend(protocol=options.protocol)
    elif backend.protocol != options.protocol:
        raise ValueError(
            f"the backend runs protocol {backend.protocol}, the options say {options.protocol}"
        )
    chooser = Chooser(options.seed, replay=replay, replay_labels=replay_labels)
    trace = trace or Trace()
    trace.add(f"0 options {options.to_json()!r}")
    sim = Simulation(
        options,
        chooser,
        backend=backend,
        sim_options=sim_options or SimOptions(),
        trace=trace,
    )
    if prepare is not None:
        prepare(sim)
    probes.reset()  # the counters are per process: this run's alone from here
    with deterministic_scheduling(options.seed):
        try:
            trio.run(sim.main, clock=MockClock(autojump_threshold=0))
        except BaseExceptionGroup as group:
            # Ctrl-C reaches whichever task runs the loop, and the nursery reports it with
            # what it broke on the way; callers stop on a plain KeyboardInterrupt.
            if group.subgroup(KeyboardInterrupt) is not None:
                raise KeyboardInterrupt from None
            raise
    sim.probe_counts = probes.counts()
    return sim


def run(
    options: RunOptions,
    *,
    replay: Sequence[int] | None = None,
    replay_labels: Sequence[str] | None = None,
    keep_trace: bool = True,
    trace_until: int | None = None,
    backend: Backend | None = None,
    sim_options: SimOptions | None = None,
    prepare: Callable[[Simulation], None] | None = None,
) -> RunResult:
    """Run one simulation and check it; see the module docstring.

    ``replay``: a choice list to repeat (`RunResult.choices`) instead of drawing from the seed;
    ``replay_labels``: their labels (`RunResult.labels`), to replay per label (`Chooser`).
    ``keep_trace``: keep the trace lines in the result (the fingerprint is always computed).
    ``trace_until``: keep only the first that many lines. ``backend``: the replica and storage
    to run (default: ``options.protocol``'s replica on `storage`, `default_backend`; one
    given must run that protocol); ``sim_options``: simulator settings;
    ``prepare``: see `simulate`.
    """
    wall_start = time.perf_counter()  # wall time is reported, never simulated
    trace = Trace(keep=keep_trace, until=trace_until)
    sim = simulate(
        options, replay=replay, replay_labels=replay_labels, trace=trace, backend=backend,
        sim_options=sim_options, prepare=prepare,
    )
    violation = sim.final_check()
    verdict = "violation" if violation is not None else "unknown" if sim.undecided else "ok"
    probe_counts = sim.probe_counts
    return RunResult(
        options=options,
        verdict=verdict,
        violation=violation,
        unknown="; ".join(sim.undecided) or None,
        ops=dict(sim.workload.counts),
        sim_time_s=sim.now / 1e6,
        wall_time_s=time.perf_counter() - wall_start,
        fingerprint=trace.fingerprint(),
        steps=trace.steps,
        choices=tuple(sim.chooser.choices),
        history=tuple(e.to_json() for e in sim.workload.recorder.events),
        trace=tuple(trace.lines),
        unsafe=options.unsafe_clocks,
        timeline=tuple(sim.checks.timeline),
        labels=tuple(sim.chooser.labels),
        coverage=run_coverage(sim, probe_counts),
        probes=probe_counts,
        crash_points=dict(sorted(sim.nemesis.crash_point_counts.items())),
    )
